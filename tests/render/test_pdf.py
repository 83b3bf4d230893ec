"""The PDF report: rendered from audit.json alone, paginated, and unable to fetch anything.

weasyprint follows ``<img src>``, ``<link href>`` and CSS ``url()`` references through its
URL fetcher. The report gives it a fetcher that only accepts ``data:`` URIs; these tests
check that policy with a real local HTTP server and a real local file, and check that the
probes notice a fetch when the policy is absent.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

import auditor
from _system_tools import require_program
from auditor.cli.app import app
from auditor.render.pdf import render_pdf

pytestmark = pytest.mark.slow

runner = CliRunner()


def pdf_text(path: Path, *, layout: bool = True) -> str:
    completed = subprocess.run(
        [
            require_program("pdftotext", "poppler-utils"),
            *(["-layout"] if layout else []),
            str(path),
            "-",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return completed.stdout


@pytest.fixture(scope="module")
def loans_pdf(loans_audit, tmp_path_factory) -> Path:
    """``auditor render`` turns the loans audit's audit.json into a PDF."""
    assert loans_audit.exit_code == 0, loans_audit.stdout + loans_audit.stderr
    target = tmp_path_factory.mktemp("pdf") / "x.pdf"
    rendered = runner.invoke(
        app,
        ["render", str(loans_audit.out_dir / "audit.json"), "--format", "pdf", "-o", str(target)],
    )
    assert rendered.exit_code == 0, rendered.output
    assert f"Wrote {target}" in rendered.stdout
    return target


def test_rendered_file_is_a_pdf(loans_pdf):
    data = loans_pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")


def test_pdf_text_has_target_metric_and_page_numbers(loans_pdf):
    text = pdf_text(loans_pdf)
    assert "default" in text
    assert "ROC AUC" in text
    assert "Page 1 of" in text


def test_pdf_keeps_the_inline_figures(loans_pdf):
    """data: URIs are the one protocol the fetcher allows: the figures must survive."""
    listing = subprocess.run(
        [require_program("pdfimages", "poppler-utils"), "-list", str(loans_pdf)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    images = [line for line in listing.splitlines()[2:] if line.split()[2] == "image"]
    assert len(images) >= 2


def page_texts(path: Path) -> list[str]:
    """The text of each page in reading order (pdftotext separates pages with form feeds)."""
    return pdf_text(path, layout=False).split("\f")[:-1]


def test_first_page_answers_whether_the_model_ships(loans_pdf):
    cover = " ".join(page_texts(loans_pdf)[0].split())
    for expected in (
        "CAN THIS MODEL SHIP?",
        "Review before shipping",
        "The quality gate passed, but 1 warning needs a decision",
        "ROC AUC (lower end of its 95% interval) at least 0.7",
        "0.784",
        "[0.755, 0.813]",
        "BEST BASELINE (LOGISTIC",
        "0.795",
        "What needs a decision",
        "Comparison with baseline models",
        "What to do:",
        "Weakest slice",
        "'credit_score",
        "(591 test rows, 39.4%)",
        "What the audit ran on",
        "loans_test.csv",
        "88ff5b50ac2a",
        "Seed 0",
    ):
        assert expected in cover, expected


def test_contents_then_sections_in_order_with_footer_on_every_page(loans_pdf):
    pages = page_texts(loans_pdf)
    assert 8 <= len(pages) <= 20
    assert "Contents" in pages[1]
    assert "How to read this report" in pages[1]
    assert re.search(r"Data quality, page 3\b", pages[1])
    body = "\n" + "\n".join(pages[2:])
    headings = [
        "Data quality",
        "Leakage",
        "Performance",
        "Baselines",
        "Failure slices",
        "Group metrics",
        "Explanations",
        "Inputs and reproducibility",
    ]
    starts = [body.find(f"\n{title}\n") for title in headings]
    assert -1 not in starts, dict(zip(headings, starts, strict=True))
    assert starts == sorted(starts), dict(zip(headings, starts, strict=True))
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in text
        assert "Model audit · loan_model.skops 2b03913a · target default · test data" in text


def boxes_on_pages(document, tags: set[str]) -> dict[tuple[int, str], set[int]]:
    """For each element with one of ``tags``, the pages its layout boxes landed on."""
    pages: dict[tuple[int, str], set[int]] = {}

    def walk(box, page: int) -> None:
        if getattr(box, "element_tag", None) in tags:
            pages.setdefault((id(box.element), box.element_tag), set()).add(page)
        for child in getattr(box, "children", None) or ():
            walk(child, page)

    for number, page in enumerate(document.pages):
        walk(page._page_box, number)
    return pages


KEEP_WHOLE = {"figure", "table", "li", "tr"}


def past_right_margin(document) -> list[tuple[int, str, str]]:
    """Cells, images and paragraphs whose box ends beyond the page's content area."""
    found = []

    def walk(box, page: int, right: float) -> None:
        tag = getattr(box, "element_tag", None)
        if (
            tag in {"td", "th", "img", "p", "li"}
            and box.position_x + box.margin_width() > right + 0.5
        ):
            found.append((page, box.element_tag, (box.element.text or "").strip()))
        for child in getattr(box, "children", None) or ():
            walk(child, page, right)

    for number, page in enumerate(document.pages, start=1):
        box = page._page_box
        walk(box, number, box.content_box_x() + box.width)
    return found


@pytest.fixture(scope="module")
def loans_layout(loans_audit):
    """weasyprint's laid-out pages of the loans report (boxes with positions and pages)."""
    from auditor.render.html import render_html
    from auditor.render.pdf import load_weasyprint
    from auditor.result import read_result

    weasyprint = load_weasyprint()
    result = read_result(loans_audit.out_dir / "audit.json")
    fetcher = weasyprint.URLFetcher(allowed_protocols=("data",))
    return weasyprint.HTML(string=render_html(result), url_fetcher=fetcher).render()


def test_no_figure_table_or_finding_is_cut_across_pages(loans_layout):
    placed = boxes_on_pages(loans_layout, KEEP_WHOLE)
    assert len({tag for _, tag in placed}) == len(KEEP_WHOLE)
    assert {key: pages for key, pages in placed.items() if len(pages) > 1} == {}


def test_nothing_runs_off_the_right_edge_of_the_page(loans_layout):
    assert past_right_margin(loans_layout) == []


def test_layout_probes_see_a_cut_table_and_a_cell_off_the_page():
    """Controls: a 200-row table cannot fit one page, and a nowrap cell cannot fit its width."""
    from auditor.render.pdf import load_weasyprint

    weasyprint = load_weasyprint()

    rows = "".join(f"<tr><td>{i}</td></tr>" for i in range(200))
    document = weasyprint.HTML(string=f"<table>{rows}</table>").render()
    placed = boxes_on_pages(document, {"table"})
    assert [len(pages) for pages in placed.values()] == [len(document.pages)]
    assert len(document.pages) > 1
    wide = f"<table><tr><td style='white-space: nowrap'>{'wide ' * 200}</td></tr></table>"
    assert past_right_margin(weasyprint.HTML(string=wide).render())


# --- no fetching ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_result(binary_split, binary_model):
    train, test = binary_split
    return auditor.audit(train=train, test=test, target="y", model=binary_model)


def hostile_html(base_url: str, local_css: Path) -> str:
    return f"""<!DOCTYPE html><html><head>
<link rel="stylesheet" href="{base_url}/remote.css">
<link rel="stylesheet" href="{local_css.as_uri()}">
<style>@import url("{base_url}/imported.css");</style>
</head><body><p>BODY-TEXT</p>
<img src="{base_url}/x.png" alt="remote">
<img src="{local_css.as_uri()}" alt="local">
</body></html>"""


@pytest.fixture
def local_css(tmp_path) -> Path:
    path = tmp_path / "local.css"
    path.write_text('body::before { content: "READ-FROM-DISK"; }', encoding="utf-8")
    return path


def test_report_pdf_fetches_no_url_and_reads_no_file(
    small_result, http_server, local_css, tmp_path, monkeypatch
):
    base_url, requests = http_server
    monkeypatch.setattr(
        "auditor.render.pdf.render_html",
        lambda result, template_dir=None: hostile_html(base_url, local_css),
    )
    target = tmp_path / "hostile.pdf"
    target.write_bytes(render_pdf(small_result))
    text = pdf_text(target)
    assert "BODY-TEXT" in text
    assert requests == []
    assert "FETCHED-OVER-HTTP" not in text
    assert "READ-FROM-DISK" not in text


def test_probes_see_fetches_when_weasyprint_is_allowed_everything(http_server, local_css, tmp_path):
    """Control: without the report's fetcher the same HTML does reach the server and disk."""
    from auditor.render.pdf import load_weasyprint

    weasyprint = load_weasyprint()

    base_url, requests = http_server
    target = tmp_path / "permissive.pdf"
    weasyprint.HTML(string=hostile_html(base_url, local_css)).write_pdf(target)
    text = pdf_text(target)
    assert "/remote.css" in requests
    assert "FETCHED-OVER-HTTP" in text
    assert "READ-FROM-DISK" in text


def test_markup_in_result_text_is_not_fetched(small_result, http_server, tmp_path):
    base_url, requests = http_server
    img = f'<img src="{base_url}/x.png">'
    checks = tuple(
        dataclasses.replace(c, summary=f"{img} {c.summary}") for c in small_result.checks
    )
    hostile = dataclasses.replace(small_result, checks=checks)
    target = tmp_path / "escaped.pdf"
    target.write_bytes(render_pdf(hostile))
    assert requests == []
    assert img in pdf_text(target).replace("\n", " ")


def test_html_and_pdf_together_draw_the_figures_once(small_result, tmp_path, monkeypatch):
    """The PDF prints the same HTML the html format writes; no figure is drawn twice."""
    import auditor.render.figures as figures
    from auditor.render import write_reports

    drawn = []
    real = figures.curve_png
    monkeypatch.setattr(figures, "curve_png", lambda curve: drawn.append(curve) or real(curve))
    written = write_reports(small_result, tmp_path, ["pdf", "html", "json"])
    assert [p.name for p in written] == ["report.pdf", "report.html", "audit.json"]
    curves = [curve.key for check in small_result.checks for curve in check.curves]
    assert len(curves) >= 2
    assert sorted(curve.key for curve in drawn) == sorted(curves)
    assert "Predicting" in pdf_text(tmp_path / "report.pdf")
