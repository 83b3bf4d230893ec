"""The report in a notebook: ``AuditResult._repr_html_`` is the static report in a sandboxed
frame that neither restyles the notebook nor is restyled by it."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from browser import Browser

from _system_tools import require_program
from auditor.render.html import render_html
from auditor.render.notebook import FRAME_HEIGHT_PX
from auditor.result import AuditResult, read_result

# A notebook's own look, which the report must neither change nor take on.
NOTEBOOK_CSS = "body { font-family: serif; } h1 { color: rgb(1, 2, 3); }"


class _Frames(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.frames: list[dict[str, str | None]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "iframe":
            self.frames.append(dict(attrs))


@pytest.fixture(scope="module")
def loans_result(loans_audit) -> AuditResult:
    assert loans_audit.exit_code in (0, 1), loans_audit.stdout + loans_audit.stderr
    return read_result(loans_audit.out_dir / "audit.json")


def test_repr_html_is_the_static_report_in_a_sandboxed_frame(loans_result):
    shown = loans_result._repr_html_()
    parsed = _Frames()
    parsed.feed(shown)
    (frame,) = parsed.frames
    # HTMLParser unescapes attribute values: srcdoc is the report, byte for byte.
    assert frame["srcdoc"] == render_html(loans_result)
    # An empty sandbox: no script, no forms, no navigation of the notebook.
    assert "sandbox" in frame
    assert not frame["sandbox"]
    assert frame["height"] == str(FRAME_HEIGHT_PX)
    assert "script" not in parsed.tags
    assert parsed.tags[:2] == ["div", "p"]
    assert f"auditor: {loans_result.verdict.upper()}" in shown


def test_text_form_is_one_line_not_the_whole_result(loans_result):
    """Notebooks store the text form beside the HTML; the dataclass repr is the whole result."""
    printed: list[str] = []
    # IPython's pretty printer calls _repr_pretty_ with itself; only its text() is used.
    loans_result._repr_pretty_(
        type("Printer", (), {"text": lambda _, s: printed.append(s)})(), False
    )
    assert "".join(printed) == (
        f"AuditResult(verdict={loans_result.verdict!r}, target='default', "
        f"checks={len(loans_result.checks)}, gate passed={loans_result.gate.passed})"
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_program("chromium", "chromium")
    with Browser() as opened:
        yield opened


@pytest.mark.slow
def test_repr_html_loads_in_chromium_without_errors_or_restyling(loans_result, browser, tmp_path):
    page_path = tmp_path / "notebook.html"
    page_path.write_text(
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><style>{NOTEBOOK_CSS}</style>"
        f"</head><body><h1>Cell 3</h1><div class='output'>{loans_result._repr_html_()}</div>"
        "</body></html>",
        encoding="utf-8",
    )
    page = browser.load(page_path, width=1100, height=900)
    assert page.console_errors == []
    assert page.exceptions == []
    assert page.log_entries == []
    assert [url for url in page.requests if url != page.url and not url.startswith("data:")] == []
    # The report's stylesheet stays in its frame: the notebook's heading keeps its colour
    # and font, and the frame holds the report at its full width.
    assert page.evaluate("getComputedStyle(document.querySelector('h1')).color") == ("rgb(1, 2, 3)")
    assert page.evaluate("getComputedStyle(document.body).fontFamily") == "serif"
    box = page.evaluate(
        "(() => { const r = document.querySelector('iframe').getBoundingClientRect();"
        " return [Math.round(r.width), Math.round(r.height)]; })()"
    )
    assert box[0] > 1000
    assert box[1] >= FRAME_HEIGHT_PX
