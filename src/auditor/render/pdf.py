"""The PDF report: weasyprint on the same HTML, with the print stylesheet and no network."""

from __future__ import annotations

from auditor.render.html import render_html
from auditor.result import AuditResult


def render_pdf(result: AuditResult) -> bytes:
    """Render ``result`` as PDF bytes."""
    return print_html(render_html(result))


def print_html(html: str) -> bytes:
    """Print the report's HTML to PDF bytes with its print stylesheet.

    The URL fetcher only accepts ``data:`` URIs (the inline figures): the report cannot make
    weasyprint read a local file or reach the network, whatever text the data contains.
    """
    import weasyprint

    fetcher = weasyprint.URLFetcher(allowed_protocols=("data",))
    return weasyprint.HTML(string=html, url_fetcher=fetcher, base_url=None).write_pdf()
