"""The Markdown summary: escaped table cells, verdict, gate reasons, headline metric."""

from __future__ import annotations

import re

import pytest

from auditor.render.markdown import escape_md, render_markdown
from auditor.result import (
    AuditResult,
    CheckResult,
    Finding,
    GateVerdict,
    InputFile,
    Measurement,
)

NASTY = [
    "a|b",
    "pipe at end|",
    "|leading pipe",
    "back`tick`s",
    "<script>alert(1)</script>",
    "line\nbreak",
    "crlf\r\nbreak",
    "cr\ronly",
    "trailing backslash\\",
    "backslash before pipe\\|x",
    "**bold** _it_ [link](http://x) # h",
]


def unescaped_pipes(line: str) -> int:
    """Pipes not preceded by an odd number of backslashes (GFM cell separators)."""
    count = 0
    for match in re.finditer(r"(\\*)\|", line):
        if len(match.group(1)) % 2 == 0:
            count += 1
    return count


def make_result(gate: GateVerdict | None) -> AuditResult:
    holdout = CheckResult(
        id="performance.holdout_metrics",
        category="performance",
        title="Holdout metrics",
        status="pass",
        summary="ROC AUC 0.812 [0.771, 0.846] on 600 rows | ok",
        measurements=(
            Measurement("roc_auc", 0.8123, 0.7712, 0.8456, True),
            Measurement("log_loss", 0.51, None, None, False),
        ),
    )
    data_checks = tuple(
        CheckResult(
            id="data.missing_values",
            category="data",
            title="Missing values",
            status="warn",
            summary=f"Column {text} has missing values.",
            findings=(
                Finding("missing", "medium", f"{text} is 40% missing", (text, "plain")),
                Finding("missing", "high", text, (text,)),
            ),
        )
        for text in NASTY
    )
    return AuditResult(
        tool={"name": "auditor", "version": "0.0.0"},
        created_at="2024-05-06T07:08:09Z",
        task="binary",
        target="y|<b>`t`\nz",
        verdict="fail",
        checks=(holdout, *data_checks),
        inputs=(InputFile("test", "test|x.csv", 10, 3, None),),
        gate=gate,
        manifest={"seed": 0},
    )


GATE = GateVerdict(False, ("ROC AUC 0.771 < 0.80 | column `x`\n<script>", "A check failed."))


@pytest.fixture(scope="module")
def text() -> str:
    return render_markdown(make_result(GATE))


def tables(text: str) -> list[list[str]]:
    """Consecutive runs of lines that start with '|'."""
    found, current = [], []
    for line in text.split("\n"):
        if line.startswith("|"):
            current.append(line)
        elif current:
            found.append(current)
            current = []
    if current:
        found.append(current)
    return found


def test_every_table_row_has_as_many_cell_separators_as_its_header(text):
    found = tables(text)
    assert len(found) == 3  # metrics, checks, findings
    for table in found:
        header = unescaped_pipes(table[0])
        assert set(table[1]) <= set("|-:")
        assert unescaped_pipes(table[1]) == header
        for row in table[1:]:
            assert unescaped_pipes(row) == header, row
            assert row.endswith("|")


def test_each_row_stays_on_one_line(text):
    found = tables(text)
    check_rows = found[1][2:]
    finding_rows = found[2][2:]
    assert len(check_rows) == 1 + len(NASTY)
    assert len(finding_rows) == 2 * len(NASTY)
    assert "\r" not in text


def test_no_raw_markup_survives(text):
    assert "<script" not in text
    assert "</script" not in text
    assert "<b>" not in text
    assert "&lt;script&gt;" in text
    for line in text.split("\n"):
        # every backtick is either escaped or part of a `check.id` code span
        stripped = re.sub(r"`[a-z_]+\.[a-z_]+`", "", line)
        assert unescaped_backticks(stripped) == 0, line


def unescaped_backticks(line: str) -> int:
    return sum(len(m.group(1)) % 2 == 0 for m in re.finditer(r"(\\*)`", line))


@pytest.mark.parametrize("raw", NASTY)
def test_escape_md_is_one_line_without_unescaped_specials(raw):
    escaped = escape_md(raw)
    assert "\n" not in escaped
    assert "\r" not in escaped
    assert unescaped_pipes(escaped) == 0
    assert unescaped_backticks(escaped) == 0
    assert "<" not in escaped
    assert ">" not in escaped


def test_summary_has_verdict_gate_reasons_and_headline_metric_with_interval(text):
    lines = text.split("\n")
    assert lines[0].startswith("# auditor: FAIL")
    assert "**Gate: FAILED** (2 reasons)" in text
    reason_lines = [line for line in lines if line.startswith("- ")]
    assert len(reason_lines) == 2
    assert "ROC AUC 0.771 &lt; 0.80 \\| column \\`x\\`" in reason_lines[0]
    assert reason_lines[1] == "- A check failed."
    assert "| ROC AUC | 0.812 | [0.771, 0.846] |" in lines
    assert "| Log loss | 0.510 | — |" in lines
    metric_rows = [line for line in tables(text)[0][2:]]
    assert metric_rows[0].startswith("| ROC AUC |")  # the primary metric comes first


def test_passed_gate_and_no_gate():
    passed = render_markdown(make_result(GateVerdict(True)))
    assert "**Gate: passed.**" in passed
    none = render_markdown(make_result(None))
    assert "Gate" not in none


def test_real_audit_summary(binary_split, binary_model):
    import auditor

    train, test = binary_split
    result = auditor.audit(
        train=train,
        test=test,
        target="y",
        model=binary_model,
        select=["data.missing_values", "performance.holdout_metrics"],
    )
    text = render_markdown(result)
    assert text.startswith(f"# auditor: {result.verdict.upper()}")
    roc = result.check("performance.holdout_metrics").measurement("roc_auc")
    row = next(line for line in text.split("\n") if line.startswith("| ROC AUC |"))
    assert f"{roc.value:.3f}" in row
    assert f"[{roc.ci_low:.3f}, {roc.ci_high:.3f}]" in row
    for table in tables(text):
        header = unescaped_pipes(table[0])
        assert all(unescaped_pipes(row) == header for row in table)
