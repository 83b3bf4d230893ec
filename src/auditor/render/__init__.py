"""Renderers: every format is drawn from an AuditResult alone (no data, no model)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from auditor.errors import InputError, RenderError
from auditor.io.atomic import write_set_atomic
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


def write_reports(
    result: AuditResult, out_dir: str | Path, formats: Sequence[str] = ("html", "json")
) -> list[Path]:
    """Render every format, then write the set into ``out_dir`` as one transaction.

    A renderer that crashes does not cost the others: audit.json (from which any report can
    be re-created with ``auditor render``) and every format that rendered are written, then
    RenderError names the formats that failed.
    """
    wanted = list(dict.fromkeys(formats))
    rendered: dict[str, str | bytes] = {}
    failures: dict[str, BaseException] = {}
    # The PDF prints the HTML report: draw its figures once when both are written.
    for fmt in sorted(
        wanted,
        key=lambda f: ("json", "html", "pdf").index(f) if f in ("json", "html", "pdf") else 3,
    ):
        try:
            if fmt == "pdf":
                from auditor.render.pdf import print_html

                html = rendered.get("html")
                rendered["pdf"] = print_html(
                    html if isinstance(html, str) else render_format(result, "html")
                )
            else:
                rendered[fmt] = render_format(result, fmt)
        except Exception as exc:  # noqa: BLE001 - one renderer's crash must not lose the audit
            failures[fmt] = exc
    written = write_set_atomic(
        Path(out_dir), {REPORT_NAMES[fmt]: rendered[fmt] for fmt in wanted if fmt in rendered}
    )
    if failures:
        raise RenderError(written, failures)
    return written
