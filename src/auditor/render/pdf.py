"""The PDF report: weasyprint on the same HTML, with the print stylesheet and no network."""

from __future__ import annotations

from auditor.render.html import render_html
from auditor.result import AuditResult


def render_pdf(result: AuditResult) -> bytes:
    """Render ``result`` as PDF bytes.

    The URL fetcher only accepts ``data:`` URIs (the inline figures): the report cannot make
    weasyprint read a local file or reach the network, whatever text the data contains.
    """
    import weasyprint

    fetcher = weasyprint.URLFetcher(allowed_protocols=("data",))
    document = weasyprint.HTML(string=render_html(result), url_fetcher=fetcher, base_url=None)
    return document.write_pdf()
