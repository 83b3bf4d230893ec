"""auditor: audit a trained machine-learning model before it ships.

>>> import auditor
>>> auditor.__version__
'0.1.0'
"""

from auditor._version import __version__

__all__ = ["AuditResult", "__version__", "audit", "read_result", "write_reports"]


def __getattr__(name: str):
    # Lazy so that `import auditor` (and the CLI's --help) stays instant.
    if name == "audit":
        from auditor.api import audit

        return audit
    if name == "write_reports":
        from auditor.render import write_reports

        return write_reports
    if name in {"AuditResult", "read_result"}:
        from auditor import result

        return getattr(result, name)
    raise AttributeError(f"module 'auditor' has no attribute {name!r}")
