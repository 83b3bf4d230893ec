"""Long names are cut before layout: a 10,000-character column name, slice condition, group
label or category value is shown as its first 79 characters and an ellipsis in HTML tables,
figure tick labels and Markdown, whole in audit.json and in the HTML tooltip. A normal name is
shown as it is."""

from __future__ import annotations

import re
import time

import matplotlib
import pytest
from _hostile_results import SLICE_COLUMNS, check, result

from auditor.render.figures import curve_figure
from auditor.render.html import render_html
from auditor.render.markdown import render_markdown
from auditor.result import Curve, Finding, Series, Table

matplotlib.use("Agg", force=True)
from matplotlib import pyplot as plt  # noqa: E402

LONG = "x" * 10_000
LONG_VALUE = "v" * 5_000
SHOWN = "x" * 79 + "…"
NORMAL = "annual_income"


def long_result():
    missing = check(
        status="fail",
        summary=f"1 column is missing more than 5% of its values: '{LONG}'.",
        findings=(
            Finding("missing", "high", f"'{LONG}' is 7% missing", (LONG, NORMAL)),
            Finding("missing", "medium", f"'{NORMAL}' is 6% missing", (NORMAL,)),
        ),
        tables=(
            Table(
                "missing_by_column",
                "Missing values by column",
                ("column", "missing_share"),
                ((LONG, 0.07), (NORMAL, 0.06)),
            ),
        ),
    )
    slice_row = (1, f"{LONG} >= 3 and region == '{LONG_VALUE}'", 80, 0.05, 0.3, 0.1, 3.0)
    slices = check(
        "slices.weak_segments",
        status="warn",
        title="Weak segments",
        summary="1 slice has an error rate above the rest.",
        tables=(
            Table(
                "weak_slices",
                "Weak slices",
                SLICE_COLUMNS,
                ((*slice_row, None, None, 1e-4, 1e-3, "medium"),),
            ),
            Table("tested_slices", "Tested", SLICE_COLUMNS, ()),
        ),
    )
    groups = check(
        "fairness.group_metrics",
        title="Group metrics",
        tables=(
            Table("group_metrics_0", "By group", ("group", "rows"), ((LONG_VALUE, 40), ("f", 60))),
        ),
    )
    shap = Curve(
        "shap_summary",
        "SHAP values",
        "scatter",
        "SHAP value",
        "Feature",
        (Series("high value", (0.1, -0.2), (0.0, 1.0)),),
        "c",
        y_tick_labels=(LONG, NORMAL),
    )
    explain = check("explain.feature_importance", title="Feature importance", curves=(shap,))
    return result(
        missing,
        slices,
        groups,
        explain,
        manifest={"columns": {"inferred": {LONG: "identifier (unique)"}, "sensitive": [LONG]}},
    )


@pytest.fixture(scope="module")
def html() -> str:
    return render_html(long_result())


def without_tooltips(html: str) -> str:
    return re.sub(r' title="[^"]*"', "", html)


def test_html_shows_long_names_cut_with_the_whole_name_in_a_tooltip(html):
    assert f'<span title="{LONG}">{SHOWN}</span>' in html
    # The 10,000 characters appear only in tooltips: tables, findings, sentences are cut.
    visible = without_tooltips(html)
    assert "x" * 81 not in visible
    assert "v" * 81 not in visible
    assert f"&#39;{SHOWN}&#39; is 7% missing" in visible  # a name inside a message is cut as well
    assert "v" * 79 + "…" in visible  # a category value inside a slice condition and a group


def test_html_shows_normal_names_whole_and_without_tooltip(html):
    assert f"<code>{NORMAL}</code>" in html
    # Beside the long names in its column the cell is "text long" (a wider column).
    assert f'<td class="text long">{NORMAL}</td>' in html
    assert f'title="{NORMAL}"' not in html


def test_figure_tick_labels_are_cut_and_normal_ones_kept():
    curve = long_result().check("explain.feature_importance").curves[0]
    fig = curve_figure(curve)
    try:
        labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    finally:
        plt.close(fig)
    assert labels == ["x" * 29 + "…", NORMAL]


def test_markdown_cuts_long_names_and_keeps_normal_ones():
    text = render_markdown(long_result())
    assert "x" * 81 not in text
    assert "x" * 79 + "…" in text
    assert f"| high | `data.missing_values` | {'x' * 79}…, annual\\_income |" in text
    assert (
        "| medium | `data.missing_values` | annual\\_income | 'annual\\_income' is 6% missing |"
        in text
    )


def test_the_json_keeps_every_name_whole():
    text = long_result().to_json()
    assert text.count(LONG) >= 5


def past_right_margin(document) -> list[tuple[int, str, str]]:
    """Cells, images, paragraphs and code whose box ends beyond the page's content area."""
    found = []

    def walk(box, page: int, right: float) -> None:
        tag = getattr(box, "element_tag", None)
        if (
            tag in {"td", "th", "img", "p", "li", "code", "h1"}
            and box.position_x + box.margin_width() > right + 0.5
        ):
            found.append((page, tag, (box.element.text or "")[:40]))
        for child in getattr(box, "children", None) or ():
            walk(child, page, right)

    for number, page in enumerate(document.pages, start=1):
        walk(page._page_box, number, page._page_box.content_box_x() + page._page_box.width)
    return found


@pytest.mark.slow
def test_the_pdf_of_long_names_prints_in_seconds_within_the_margins(html):
    from auditor.render.pdf import load_weasyprint

    weasyprint = load_weasyprint()
    started = time.perf_counter()
    fetcher = weasyprint.URLFetcher(allowed_protocols=("data",))
    document = weasyprint.HTML(string=html, url_fetcher=fetcher).render()
    pdf = document.write_pdf()
    # It took more than 5 minutes before names were cut; this report prints in a second or two.
    assert time.perf_counter() - started < 60
    assert pdf.startswith(b"%PDF")
    assert past_right_margin(document) == []
