"""Renderers: every format is drawn from an AuditResult alone (no data, no model)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from auditor.errors import InputError
from auditor.io.atomic import write_atomic
from auditor.result import AuditResult

REPORT_NAMES = {
    "html": "report.html",
    "pdf": "report.pdf",
    "json": "audit.json",
    "junit": "junit.xml",
    "md": "summary.md",
}


def ensure_renderable(formats: Sequence[str]) -> None:
    """Raise InputError now if a wanted format cannot be rendered on this machine.

    Called before an audit runs, so a missing system library costs a second, not the audit.
    """
    if "pdf" in formats:
        from auditor.render.pdf import load_weasyprint

        load_weasyprint()


def render_format(result: AuditResult, fmt: str) -> str | bytes:
    """Render ``result`` in one format: ``html``, ``pdf``, ``json``, ``junit`` or ``md``."""
    if fmt == "json":
        return result.to_json()
    if fmt == "html":
        from auditor.render.html import render_html

        return render_html(result)
    if fmt == "pdf":
        from auditor.render.pdf import render_pdf

        return render_pdf(result)
    if fmt == "junit":
        from auditor.render.junit import render_junit

        return render_junit(result)
    if fmt == "md":
        from auditor.render.markdown import render_markdown

        return render_markdown(result)
    raise InputError(f"format {fmt!r} is not one of {', '.join(REPORT_NAMES)}.")


def write_reports(result: AuditResult, out_dir: Path, formats: Sequence[str]) -> list[Path]:
    """Render every format first, then write each file atomically into ``out_dir``.

    Rendering everything before writing means a failure leaves no partial set of reports.
    """
    wanted = list(dict.fromkeys(formats))
    rendered = {fmt: render_format(result, fmt) for fmt in wanted if fmt != "pdf"}
    if "pdf" in wanted:
        # The PDF prints the HTML report: draw its figures once when both are written.
        from auditor.render.pdf import print_html

        rendered["pdf"] = print_html(rendered.get("html") or render_format(result, "html"))
    return [write_atomic(Path(out_dir) / REPORT_NAMES[fmt], rendered[fmt]) for fmt in wanted]
