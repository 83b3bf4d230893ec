"""``auditor compare``: exit 0 when the candidate is no worse, 1 when it is, 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditor.cli.app import app

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


def lower_roc_auc(data: dict, by: float = 0.05) -> None:
    holdout = check_of(data, "performance.holdout_metrics")
    roc = next(m for m in holdout["measurements"] if m["key"] == "roc_auc")
    roc["value"] -= by


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
    assert "no regression" in result.stdout
    assert "WORSE" not in result.stdout


def test_lower_roc_auc_exits_1_and_names_the_metric(tmp_path, audit_data):
    ref = write(tmp_path / "ref.json", audit_data)
    cand = write(tmp_path / "cand.json", edited(audit_data, lower_roc_auc))
    result = invoke("compare", ref, cand)
    assert result.exit_code == 1, result.output
    assert "WORSE" in result.stdout
    regressed = [line for line in result.stdout.splitlines() if "went from" in line]
    assert any("ROC AUC" in line for line in regressed), result.stdout
    delta_row = next(line for line in result.stdout.splitlines() if line.startswith("| ROC AUC"))
    assert "-0.0500" in delta_row


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
    assert "data.missing\\_values went from pass to fail" in result.stdout


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


def test_output_writes_the_markdown(tmp_path, audit_data):
    ref = write(tmp_path / "ref.json", audit_data)
    cand = write(tmp_path / "cand.json", edited(audit_data, lower_roc_auc))
    out = tmp_path / "summary.md"
    result = invoke("compare", ref, cand, "-o", out)
    assert result.exit_code == 1, result.output
    written = out.read_text(encoding="utf-8")
    assert written.startswith("# auditor compare: WORSE")
    assert "| Metric | Reference | Candidate | Delta | Tolerance |" in written
    assert "ROC AUC went from" in written
    assert written.strip() == result.stdout.strip()
