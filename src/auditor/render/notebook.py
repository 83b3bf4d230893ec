"""The report inside a notebook: ``AuditResult._repr_html_``.

The notebook shows the same static HTML report as ``report.html`` (no JavaScript, no
widget), inside an ``<iframe srcdoc>``: the report's stylesheet cannot restyle the notebook,
the notebook's cannot restyle the report, and the report keeps its own strict
Content-Security-Policy. The frame has a fixed height, given as attributes that
sanitisers keep, and scrolls (sizing it to its content would need script). A line of plain HTML above the frame gives the verdict where a frontend
strips frames (a notebook opened untrusted, a static viewer).
"""

from __future__ import annotations

from html import escape

from auditor.render.html import render_html
from auditor.result import AuditResult

# Tall enough for the report's first screen (verdict, headline metrics, what needs a decision).
FRAME_HEIGHT_PX = 720


def notebook_html(result: AuditResult) -> str:
    """The report as one ``<iframe srcdoc>`` with a plain verdict line above it."""
    gate = ""
    if result.gate is not None:
        gate = "; the gate passed" if result.gate.passed else "; the gate FAILED"
    summary = (
        f"auditor: {result.verdict.upper()}{gate} ({len(result.checks)} checks, target "
        f"{result.target}). auditor.write_reports(result, 'reports') saves report.html."
    )
    return (
        f'<div class="auditor-report"><p>{escape(summary)}</p>'
        f'<iframe title="{escape(f"Model audit: {result.target}")}" sandbox '
        f'width="100%" height="{FRAME_HEIGHT_PX}" style="border: 1px solid #d1d9e0" '
        f'srcdoc="{escape(render_html(result), quote=True)}"></iframe></div>'
    )
