"""Renderers: every format is drawn from an AuditResult alone (no data, no model)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from auditor.errors import InputError, RenderError
from auditor.io.atomic import write_set_atomic
from auditor.render.templates import check_templates, checked_template_dir
from auditor.result import AuditResult

REPORT_NAMES = {
    "html": "report.html",
    "pdf": "report.pdf",
    "json": "audit.json",
    "junit": "junit.xml",
    "md": "summary.md",
    # The model card's Markdown; its Model Card Toolkit JSON is written beside it.
    "card": "model_card.md",
}


def ensure_renderable(formats: Sequence[str], template_dir: str | Path | None = None) -> None:
    """Raise InputError now if a wanted format cannot be rendered on this machine, or the
    templates of ``template_dir`` cannot render a report.

    Called before an audit runs, so a missing system library or a typo in a template costs
    a second, not the audit.
    """
    if "pdf" in formats:
        from auditor.render.pdf import load_weasyprint

        load_weasyprint()
    if template_dir is not None:
        check_templates(checked_template_dir(template_dir))


def render_format(result: AuditResult, fmt: str, template_dir: Path | None = None) -> str | bytes:
    """Render ``result`` in one single-file format: ``html``, ``pdf``, ``json``, ``junit`` or
    ``md``; HTML and PDF with the templates of ``template_dir`` before the built-in ones."""
    if fmt == "json":
        return result.to_json()
    if fmt == "html":
        from auditor.render.html import render_html

        return render_html(result, template_dir)
    if fmt == "pdf":
        from auditor.render.pdf import render_pdf

        return render_pdf(result, template_dir)
    if fmt == "junit":
        from auditor.render.junit import render_junit

        return render_junit(result)
    if fmt == "md":
        from auditor.render.markdown import render_markdown

        return render_markdown(result)
    raise InputError(f"format {fmt!r} is not one of {', '.join(REPORT_NAMES)}.")


def render_files(
    result: AuditResult, fmt: str, template_dir: Path | None = None
) -> dict[str, str | bytes]:
    """The files of one format, name -> content: one file, or the model card's two."""
    if fmt == "card":
        from auditor.render.card import render_card

        return render_card(result)
    return {REPORT_NAMES[fmt]: render_format(result, fmt, template_dir)}


def write_reports(
    result: AuditResult,
    out_dir: str | Path,
    formats: Sequence[str] = ("html", "json"),
    template_dir: str | Path | None = None,
) -> list[Path]:
    """Render every format, then write the set into ``out_dir`` as one transaction.

    HTML and PDF use the templates of ``template_dir`` (a branded report) before the
    built-in ones. A renderer that crashes does not cost the others: audit.json (from which
    any report can be re-created with ``auditor render``) and every format that rendered
    are written, then RenderError names the formats that failed.
    """
    templates = None if template_dir is None else checked_template_dir(template_dir)
    wanted = list(dict.fromkeys(formats))
    rendered: dict[str, dict[str, str | bytes]] = {}
    failures: dict[str, BaseException] = {}
    # The PDF prints the HTML report: draw its figures once when both are written.
    for fmt in sorted(
        wanted,
        key=lambda f: ("json", "html", "pdf").index(f) if f in ("json", "html", "pdf") else 3,
    ):
        try:
            if fmt == "pdf":
                from auditor.render.pdf import print_html

                html = rendered.get("html", {}).get(REPORT_NAMES["html"])
                rendered["pdf"] = {
                    REPORT_NAMES["pdf"]: print_html(
                        html if isinstance(html, str) else render_format(result, "html", templates)
                    )
                }
            else:
                rendered[fmt] = render_files(result, fmt, templates)
        except Exception as exc:  # noqa: BLE001 - one renderer's crash must not lose the audit
            failures[fmt] = exc
    written = write_set_atomic(
        Path(out_dir),
        {name: data for fmt in wanted if fmt in rendered for name, data in rendered[fmt].items()},
    )
    if failures:
        raise RenderError(written, failures)
    return written
