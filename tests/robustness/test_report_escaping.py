"""Text from the result cannot inject markup: Markdown (and the HTML a GitHub job summary
renders inside it) escapes every field from the result; JUnit XML escapes it and drops the
characters XML cannot hold. Plain text next to it reads exactly as before."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from _hostile_results import check, result

from auditor.compare import compare_results
from auditor.render.junit import render_junit
from auditor.render.markdown import escape_md, render_comparison, render_markdown
from auditor.result import Finding, GateVerdict, InputFile, Measurement

# Under 80 characters: a name of this length is shown whole (long names are cut, elsewhere).
EVIL = "<img src=x onerror=alert(1)> & [a](http://e.x) **b** _i_ `c` ~~s~~ a|b"
ESCAPED = (
    "&lt;img src=x onerror=alert(1)&gt; &amp; \\[a\\](http://e.x) \\*\\*b\\*\\* "
    "\\_i\\_ \\`c\\` \\~\\~s\\~\\~ a\\|b"
)
# Raw markup that must not survive anywhere in the Markdown.
RAW = ("<img", "[a](", "**b**", "_i_", "`c`", "~~s~~", "a|b", " & ")


def hostile():
    finding = Finding("missing", "high", f"{EVIL} is missing\nline two", (EVIL, "plain_col"))
    data = check(
        "data.missing_values",
        status="fail",
        title=f"Missing {EVIL}",
        summary=f"Column {EVIL}\r\nhas missing values.",
        findings=(finding,),
    )
    odd_id = check("data.x|<b>`y`</b>", title="Odd id", summary="An id that is not a plain id.")
    holdout = check(
        "performance.holdout_metrics",
        title="Holdout metrics",
        measurements=(Measurement("roc_auc", 0.8, 0.7, 0.9, True),),
    )
    return result(
        data,
        odd_id,
        holdout,
        target=EVIL,
        created_at=EVIL,
        version=f"0.1 {EVIL}",
        gate=GateVerdict(False, (f"data.missing_values failed: {EVIL}",)),
        inputs=(InputFile("test", f"{EVIL}.csv", 10, 2, None),),
        manifest={"seed": EVIL},
    )


@pytest.fixture(scope="module")
def markdown() -> str:
    return render_markdown(hostile())


def test_no_raw_markup_from_the_result_survives_in_markdown(markdown):
    for raw in RAW:
        assert raw not in markdown, raw
    assert "\r" not in markdown
    assert "line two" in markdown


@pytest.mark.parametrize(
    "where",
    ["# auditor: FAIL", "- data.missing\\_values failed: ", "| Column ", "<sub>auditor 0.1 "],
)
def test_each_field_is_escaped_where_it_appears(markdown, where):
    line = next(line for line in markdown.split("\n") if where in line)
    assert ESCAPED in line


def test_every_result_field_in_the_footer_is_escaped(markdown):
    footer = next(line for line in markdown.split("\n") if line.startswith("<sub>"))
    # version, created_at, seed and the file name: four escaped copies, no raw one.
    assert footer.count(ESCAPED) == 4
    assert footer.endswith("</sub>")


def test_table_rows_keep_their_cells_and_stay_on_one_line(markdown):
    rows = [line for line in markdown.split("\n") if line.startswith("|")]
    for row in rows:
        cells = re.split(r"(?<!\\)\|", row)
        assert len(cells) in {5, 6}, row  # 3 or 4 cells between the outer pipes
    finding_row = next(row for row in rows if "line two" in row)
    assert "is missing line two" in finding_row


def test_a_plain_check_id_is_code_and_an_odd_one_is_escaped_text(markdown):
    assert "| `data.missing_values` |" in markdown
    assert "`data.x" not in markdown
    assert "data.x\\|&lt;b&gt;\\`y\\`&lt;/b&gt;" in markdown


def test_plain_text_reads_as_before():
    plain = result(
        check(summary="No column is missing more than 5% of its values."),
        target="default",
        gate=GateVerdict(False, ("ROC AUC 0.771 < 0.80",)),
    )
    text = render_markdown(plain)
    assert text.startswith("# auditor: PASS — model predicting default\n")
    assert (
        "| ✓ PASS | `data.missing_values` | No column is missing more than 5% of its values. |"
        in text
    )
    assert "- ROC AUC 0.771 &lt; 0.80" in text
    assert (
        "<sub>auditor 0.1.0 · 2025-01-01T00:00:00Z · seed 0 · test test.csv, model model.skops</sub>"
        in text
    )
    assert escape_md("plain words, 5% and 0.8") == "plain words, 5% and 0.8"


def test_the_comparison_escapes_what_comes_from_the_results():
    reference = hostile()
    candidate = hostile()
    text = render_comparison(compare_results(reference, candidate), reference, candidate)
    for raw in RAW:
        assert raw not in text, raw
    assert f"Reference: ? on {ESCAPED}.csv ({ESCAPED});" in text


# --- JUnit ----------------------------------------------------------------------------------

CONTROL = "bell\x07 nul\x00 esc\x1b vt\x0b ff\x0c lone\ud800 end"


def test_junit_escapes_markup_and_drops_characters_xml_cannot_hold():
    finding = Finding("missing", "high", f"{CONTROL} <b>&</b>", (CONTROL,))
    res = result(
        check(
            f"data.{CONTROL}",
            status="fail",
            summary=f"{CONTROL} ]]> <x/>",
            findings=(finding,),
        ),
        target=f"<{CONTROL}>",
        gate=GateVerdict(False, (f"gate {CONTROL}",)),
    )
    xml = render_junit(res)
    xml.encode("utf-8")  # no unpaired surrogate left
    root = ET.fromstring(xml)  # well-formed
    case = root.find("testsuite/testcase")
    cleaned = "bell nul esc vt ff lone end"
    assert case.get("name") == f"data.{cleaned}"
    failure = case.find("failure")
    assert failure.get("message") == f"{cleaned} ]]> <x/>"
    assert failure.text.splitlines()[1] == f"[high] {cleaned} <b>&</b>"
    assert root.find("testsuite").get("name") == f"auditor audit of <{cleaned}>"
    for char in "\x07\x00\x1b\x0b\x0c\ufffd":
        assert char not in xml


def test_junit_keeps_ordinary_text_tabs_and_newlines():
    res = result(check(status="fail", summary="a\tb & c", findings=(Finding("x", "low", "m"),)))
    root = ET.fromstring(render_junit(res))
    failure = root.find("testsuite/testcase/failure")
    assert failure.get("message") == "a\tb & c"
    assert failure.text == "a\tb & c\n[low] m"
