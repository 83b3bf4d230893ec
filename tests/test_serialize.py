"""The audit result's JSON form: exact round-trip, no NaN, deterministic, no absolute paths."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import auditor
from auditor.errors import InputError
from auditor.result import (
    AuditResult,
    CheckResult,
    Finding,
    Measurement,
    Table,
    read_result,
    result_from_dict,
)


def _refuse_constant(name: str):
    raise AssertionError(f"the JSON holds {name}, which is not valid JSON")


def strict_loads(text: str):
    """json.loads that fails on NaN, Infinity and -Infinity."""
    return json.loads(text, parse_constant=_refuse_constant)


@pytest.fixture(scope="module")
def binary_result(binary_split, binary_model):
    train, test = binary_split
    return auditor.audit(train=train, test=test, target="y", model=binary_model)


def _wrap(*checks: CheckResult) -> AuditResult:
    return AuditResult(
        tool={"name": "auditor", "version": "0"},
        created_at="2025-01-01T00:00:00Z",
        task="binary",
        target="y",
        verdict="pass",
        checks=checks,
        inputs=(),
        gate=None,
        manifest={},
    )


def test_audit_result_round_trips_exactly(binary_result):
    text = binary_result.to_json()
    rebuilt = result_from_dict(strict_loads(text))
    assert rebuilt.to_json() == text
    assert rebuilt == result_from_dict(strict_loads(text))
    assert [c.id for c in rebuilt.checks] == [c.id for c in binary_result.checks]


def test_read_result_reads_what_to_json_wrote(binary_result, tmp_path):
    path = tmp_path / "audit.json"
    path.write_text(binary_result.to_json(), encoding="utf-8")
    assert read_result(path).to_json() == binary_result.to_json()


def test_bin_counts_round_trip_and_results_written_before_them_still_read(binary_result):
    data = strict_loads(binary_result.to_json())
    (reliability,) = (
        cv for c in data["checks"] for cv in c["curves"] if cv["key"] == "reliability"
    )
    counts = reliability["series"][0]["counts"]
    assert (
        sum(counts)
        == binary_result.check("performance.holdout_metrics").measurement("n_test_rows").value
    )
    assert all(isinstance(n, int) for n in counts)
    for check in data["checks"]:
        for curve in check["curves"]:
            for series in curve["series"]:
                del series["counts"]
    rebuilt = result_from_dict(data)
    assert all(s.counts is None for c in rebuilt.checks for cv in c.curves for s in cv.series)


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(float("nan"), id="nan"),
        pytest.param(float("inf"), id="inf"),
        pytest.param(-float("inf"), id="minus_inf"),
        pytest.param(np.float64("nan"), id="numpy_float64_nan"),
        pytest.param(np.float32("inf"), id="numpy_float32_inf"),
    ],
)
def test_non_finite_numbers_become_null(bad):
    check = CheckResult(
        id="performance.holdout_metrics",
        category="performance",
        title="t",
        status="pass",
        summary="s",
        findings=(Finding("code", "low", "m", ("x",), {"p_value": bad}),),
        measurements=(Measurement("roc_auc", bad, bad, 0.9),),
        tables=(Table("t", "t", ("a", "b"), (("row", bad),)),),
    )
    text = _wrap(check).to_json()
    data = strict_loads(text)
    (out,) = data["checks"]
    assert out["measurements"][0] == {
        "key": "roc_auc",
        "value": None,
        "ci_low": None,
        "ci_high": 0.9,
        "greater_is_better": None,
        "note": None,
    }
    assert out["findings"][0]["evidence"] == {"p_value": None}
    assert out["tables"][0]["rows"] == [["row", None]]
    assert result_from_dict(data).to_json() == text


def test_numpy_scalars_stay_numbers():
    check = CheckResult(
        id="data.missing_values",
        category="data",
        title="t",
        status="pass",
        summary="s",
        measurements=(Measurement("n_rows", np.int64(3), np.float32(0.5)),),
    )
    (out,) = strict_loads(_wrap(check).to_json())["checks"]
    assert out["measurements"][0]["value"] == 3
    assert isinstance(out["measurements"][0]["value"], int)
    assert out["measurements"][0]["ci_low"] == 0.5


def _without_durations(result: AuditResult) -> dict:
    data = result.to_dict()
    assert set(data["manifest"].pop("durations")) == {
        "load_data_s",
        "load_model_s",
        "predict_s",
        "checks_s",
        "total_s",
    }
    for check in data["checks"]:
        assert math.isfinite(check.pop("duration_s"))
    return data


def test_same_inputs_and_source_date_epoch_give_identical_json(
    binary_split, binary_model, monkeypatch
):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    train, test = binary_split
    first, second = (
        auditor.audit(train=train, test=test, target="y", model=binary_model, seed=3)
        for _ in range(2)
    )
    assert first.created_at == "2023-11-14T22:13:20Z"
    assert _without_durations(first) == _without_durations(second)


def test_read_result_refuses_another_schema_version(binary_result, tmp_path):
    data = binary_result.to_dict()
    data["schema_version"] = 2
    path = tmp_path / "newer.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InputError, match=r"'newer\.json' has schema_version 2; .*reads version 1"):
        read_result(path)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        pytest.param("{not json", r"'audit\.json' is not valid JSON", id="invalid_json"),
        pytest.param(b"\xff\xfe\x00", r"'audit\.json' is not valid JSON", id="not_utf8"),
        pytest.param('{"checks": []}', r"has no schema_version", id="no_schema_version"),
    ],
)
def test_read_result_rejects_files_that_are_not_results(content, match, tmp_path):
    path = tmp_path / "audit.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=match):
        read_result(path)


@pytest.mark.parametrize("missing", ["inputs", "checks", "manifest"])
def test_read_result_rejects_an_incomplete_result(missing, binary_result, tmp_path):
    data = binary_result.to_dict()
    del data[missing]
    path = tmp_path / "audit.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(
        InputError, match=rf"'audit\.json' is not a complete auditor result: .*{missing}"
    ):
        read_result(path)


def test_read_result_on_a_missing_file_names_it(tmp_path):
    with pytest.raises(InputError, match=r"'gone\.json' does not exist"):
        read_result(tmp_path / "gone.json")


def test_no_absolute_path_in_the_json_of_an_audit_from_files(loans, loans_audit):
    text = (loans_audit.out_dir / "audit.json").read_text(encoding="utf-8")
    for fragment in (str(loans_audit.out_dir.parent), str(loans["train"].parent), "/work", "/tmp"):
        assert fragment not in text
    audit = strict_loads(text)
    assert {i["file_name"] for i in audit["inputs"]} == {
        "loans_train.csv",
        "loans_test.csv",
        "loan_model.skops",
    }
    assert audit["manifest"]["spec"]["train"] == "loans_train.csv"


def test_no_absolute_path_when_a_check_crashes(binary_split, binary_model, monkeypatch):
    # A crash records where it happened: file names and line numbers, never full paths.
    import dataclasses

    from auditor.registry import load_registry

    registry = load_registry()
    spec = registry["data.missing_values"]

    def crash(ctx, params):
        raise RuntimeError("boom")

    monkeypatch.setitem(registry, spec.id, dataclasses.replace(spec, func=crash))
    train, test = binary_split
    result = auditor.audit(train=train, test=test, target="y", model=binary_model)
    check = result.check("data.missing_values")
    assert check.status == "error"
    assert "test_serialize.py" in check.error["where"]
    assert "/" not in check.error["where"]
