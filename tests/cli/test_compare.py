"""``auditor compare``: exit 0 when the candidate is no worse, 1 when it is, 2 on bad input
or on audits of different data; improvements, each side's own verdicts, the Markdown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditor.cli.app import app
from auditor.metrics import METRICS_BY_KEY

runner = CliRunner()


def invoke(*args: str | Path):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def audit_data(binary_split, binary_model) -> dict:
    import auditor

    train, test = binary_split
    result = auditor.audit(
        train=train,
        test=test,
        target="y",
        model=binary_model,
        select=["data.missing_values", "performance.holdout_metrics"],
    )
    return json.loads(result.to_json())


def write(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def edited(data: dict, edit) -> dict:
    copy = json.loads(json.dumps(data))
    edit(copy)
    return copy


def check_of(data: dict, check_id: str) -> dict:
    return next(c for c in data["checks"] if c["id"] == check_id)


def shift_metric(data: dict, key: str, by: float) -> None:
    holdout = check_of(data, "performance.holdout_metrics")
    measurement = next(m for m in holdout["measurements"] if m["key"] == key)
    measurement["value"] += by


def lower_roc_auc(data: dict, by: float = 0.05) -> None:
    shift_metric(data, "roc_auc", -by)


def table_row(output: str, first_cell: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(f"| {first_cell} |"))


def assert_bad_input(result, *needles: str) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def test_an_audit_compared_with_itself_is_no_regression(tmp_path, audit_data):
    path = write(tmp_path / "audit.json", audit_data)
    result = invoke("compare", path, path)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("**auditor compare: no change beyond tolerance.**\n")
    assert table_row(result.stdout, "ROC AUC").endswith("| 0.0000 | 0.010 | within tolerance |")


def test_lower_roc_auc_exits_1_and_names_the_metric(tmp_path, audit_data):
    ref = write(tmp_path / "ref.json", audit_data)
    cand = write(tmp_path / "cand.json", edited(audit_data, lower_roc_auc))
    result = invoke("compare", ref, cand)
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith("**auditor compare: WORSE.** Worse: ROC AUC.\n")
    assert table_row(result.stdout, "ROC AUC").endswith("| -0.0500 | 0.010 | worse |")


def test_a_drop_within_tolerance_passes(tmp_path, audit_data):
    ref = write(tmp_path / "ref.json", audit_data)
    cand = write(tmp_path / "cand.json", edited(audit_data, lambda d: lower_roc_auc(d, 0.005)))
    assert invoke("compare", ref, cand).exit_code == 0
    assert invoke("compare", ref, cand, "--max-drop", "0.001").exit_code == 1


def test_a_check_whose_status_got_worse_is_reported(tmp_path, audit_data):
    def fail_missing_values(data: dict) -> None:
        check = check_of(data, "data.missing_values")
        assert check["status"] == "pass"
        check["status"] = "fail"
        data["verdict"] = "fail"

    ref = write(tmp_path / "ref.json", audit_data)
    cand = write(tmp_path / "cand.json", edited(audit_data, fail_missing_values))
    result = invoke("compare", ref, cand)
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith("**auditor compare: WORSE.** Worse: `data.missing_values`.")
    assert "| `data.missing_values` | pass | fail | — | — | worse |" in result.stdout


def test_improvements_are_listed_beside_regressions(tmp_path, audit_data):
    def mixed(data: dict) -> None:
        lower_roc_auc(data)
        shift_metric(data, "log_loss", -0.1)
        shift_metric(data, "balanced_accuracy", 0.05)

    ref = write(tmp_path / "ref.json", audit_data)
    cand = write(tmp_path / "cand.json", edited(audit_data, mixed))
    result = invoke("compare", ref, cand)
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith(
        "**auditor compare: WORSE.** Worse: ROC AUC; better: Log loss, Balanced accuracy."
    )
    assert table_row(result.stdout, "Log loss").endswith("| better |")
    assert table_row(result.stdout, "Balanced accuracy").endswith("| +0.0500 | 0.010 | better |")


def test_a_candidate_that_only_improves_is_better_and_passes(tmp_path, audit_data):
    def fail_missing_values(data: dict) -> None:
        check_of(data, "data.missing_values")["status"] = "fail"

    ref = write(tmp_path / "ref.json", edited(audit_data, fail_missing_values))
    cand = write(
        tmp_path / "cand.json", edited(audit_data, lambda d: shift_metric(d, "roc_auc", 0.03))
    )
    result = invoke("compare", ref, cand)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        "**auditor compare: BETTER.** Better: ROC AUC, `data.missing_values`."
    )
    assert "| `data.missing_values` | fail | pass | — | — | better |" in result.stdout


def test_a_check_the_candidate_skipped_is_not_an_improvement(tmp_path, audit_data):
    def warn_missing_values(data: dict) -> None:
        check_of(data, "data.missing_values")["status"] = "warn"

    def skip_missing_values(data: dict) -> None:
        check_of(data, "data.missing_values").update(status="skipped", skip_reason="not asked")

    ref = write(tmp_path / "ref.json", edited(audit_data, warn_missing_values))
    cand = write(tmp_path / "cand.json", edited(audit_data, skip_missing_values))
    result = invoke("compare", ref, cand)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("**auditor compare: no change beyond tolerance.**\n")
    assert "| `data.missing_values` | warn | skipped | — | — | not run |" in result.stdout


def other_test_data(data: dict) -> None:
    test = next(i for i in data["inputs"] if i["role"] == "test")
    test["sha256"] = "f" * 64


def test_audits_of_different_test_data_are_refused_with_the_reason(tmp_path, audit_data):
    ref = write(tmp_path / "ref.json", audit_data)
    cand = write(
        tmp_path / "cand.json", edited(audit_data, lambda d: (other_test_data(d), lower_roc_auc(d)))
    )
    out = tmp_path / "comment.md"
    result = invoke("compare", ref, cand, "--markdown", out)
    assert_bad_input(result, "different test data", "ffffffffffff", "--allow-different-data")
    assert "WORSE" not in result.output
    assert not out.exists()


def test_different_test_data_are_compared_when_allowed_and_said(tmp_path, audit_data):
    ref = write(tmp_path / "ref.json", audit_data)
    cand = write(
        tmp_path / "cand.json", edited(audit_data, lambda d: (other_test_data(d), lower_roc_auc(d)))
    )
    result = invoke("compare", ref, cand, "--allow-different-data")
    assert result.exit_code == 1, result.output
    verdict = result.stdout.splitlines()[0]
    assert verdict.startswith("**auditor compare: WORSE.** Worse: ROC AUC.")
    assert "not comparable: different test data" in verdict


def test_a_side_that_failed_its_own_gate_or_leakage_checks_is_named(tmp_path, audit_data):
    def failed_gate_and_leak(data: dict) -> None:
        leak = json.loads(json.dumps(check_of(data, "data.missing_values")))
        leak.update(id="leakage.target", category="leakage", status="fail")
        data["checks"].append(leak)
        data["gate"] = {"passed": False, "reasons": ["leakage.target failed: ..."]}

    ref = write(tmp_path / "ref.json", edited(audit_data, failed_gate_and_leak))
    cand = write(tmp_path / "cand.json", audit_data)
    result = invoke("compare", ref, cand)
    verdict = result.stdout.splitlines()[0]
    assert verdict.endswith(
        "The reference failed its own gate. The reference's leakage checks failed: its "
        "metrics may be inflated."
    )
    assert "| Own gate | FAILED (1 reason) | passed | — | — | — |" in result.stdout
    assert "| Failed leakage checks | `leakage.target` | none | — | — | — |" in result.stdout


@pytest.mark.parametrize("option", ["--max-drop", "--max-relative-increase"])
@pytest.mark.parametrize("value", ["5", "-0.1"])
def test_out_of_range_tolerance_exits_2_with_one_error_line(tmp_path, audit_data, option, value):
    path = write(tmp_path / "audit.json", audit_data)
    out = tmp_path / "summary.md"
    result = invoke("compare", path, path, option, value, "-o", out)
    assert_bad_input(result, option)
    assert result.stdout.strip() == ""
    assert not out.exists()


def test_audits_of_different_targets_exit_2(tmp_path, audit_data):
    def retarget(data: dict) -> None:
        data["target"] = "other_label"

    ref = write(tmp_path / "ref.json", audit_data)
    cand = write(tmp_path / "cand.json", edited(audit_data, retarget))
    result = invoke("compare", ref, cand)
    assert_bad_input(result, "other_label")
    assert result.stdout.strip() == ""


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda d: d["manifest"]["columns"].update(weight="w"), "different weight columns"),
        (lambda d: d["manifest"].update(positive_class=0), "different positive classes"),
    ],
)
def test_the_same_rows_weighed_or_scored_otherwise_are_refused(tmp_path, audit_data, edit, reason):
    ref = write(tmp_path / "ref.json", audit_data)
    cand = write(tmp_path / "cand.json", edited(audit_data, lambda d: (edit(d), lower_roc_auc(d))))
    assert_bad_input(invoke("compare", ref, cand), reason)


def test_output_writes_the_markdown(tmp_path, audit_data):
    ref = write(tmp_path / "ref.json", audit_data)
    cand = write(tmp_path / "cand.json", edited(audit_data, lower_roc_auc))
    out = tmp_path / "summary.md"
    result = invoke("compare", ref, cand, "-o", out)
    assert result.exit_code == 1, result.output
    written = out.read_text(encoding="utf-8")
    assert written.strip() == result.stdout.strip()


def test_the_markdown_is_one_table_and_a_verdict_line(tmp_path, audit_data):
    """Rendered as GitHub would (tables on): a verdict paragraph, the audits, one table."""
    from markdown_it import MarkdownIt

    def odd_check(status: str):
        def edit(data: dict) -> None:
            check = json.loads(json.dumps(check_of(data, "data.missing_values")))
            check.update(id="data.x|<b>`y`</b>", status=status)
            data["checks"].append(check)

        return edit

    ref = write(tmp_path / "ref.json", edited(audit_data, odd_check("pass")))
    cand = write(
        tmp_path / "cand.json",
        edited(audit_data, lambda d: (odd_check("fail")(d), lower_roc_auc(d))),
    )
    out = tmp_path / "comment.md"
    assert invoke("compare", ref, cand, "--markdown", out).exit_code == 1
    html = MarkdownIt("commonmark").enable("table").render(out.read_text(encoding="utf-8"))
    assert html.count("<table>") == 1
    assert html.startswith("<p><strong>auditor compare: WORSE.</strong> Worse: ROC AUC, data.x")
    header = html.split("<tbody>")[0]
    for name in ("What", "Reference", "Candidate", "Delta", "Tolerance", "Change"):
        assert f">{name}</th>" in header
    body = html.split("<tbody>")[1]
    metrics = [
        m
        for m in check_of(audit_data, "performance.holdout_metrics")["measurements"]
        if m["key"] in METRICS_BY_KEY and m["value"] is not None
    ]
    # A row per metric, the changed check, the own gates, failed leakage checks, findings.
    assert body.count("<tr>") == len(metrics) + 4
    assert "<td>ROC AUC</td>" in body
    assert "<td>worse</td>" in body
    assert "<b>" not in html
    assert "<td>data.x|&lt;b&gt;`y`&lt;/b&gt;</td>" in body
