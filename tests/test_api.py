"""The Python API: ``auditor.audit(...)`` on frames, estimators, predictions and paths."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import auditor
from auditor.errors import InputError
from auditor.result import AuditResult

FAILING_GATE = {"metrics": {"roc_auc": {"min": 0.999}}}


def roc_auc(result: AuditResult) -> float:
    return result.check("performance.holdout_metrics").measurement("roc_auc").value


@pytest.fixture(scope="module")
def pandas_result(binary_split, binary_model) -> AuditResult:
    train, test = binary_split
    return auditor.audit(train=train, test=test, target="y", model=binary_model)


def test_pandas_frames_and_estimator(pandas_result, binary_split, binary_model):
    _, test = binary_split
    assert isinstance(pandas_result, AuditResult)
    assert pandas_result.task == "binary"
    assert pandas_result.target == "y"
    assert {f.role: f.file_name for f in pandas_result.inputs} == {
        "train": "<train DataFrame>",
        "test": "<test DataFrame>",
    }
    assert pandas_result.manifest["model_features"] == ["x0", "x1", "x2", "x3", "colour"]
    from sklearn.metrics import roc_auc_score

    expected = roc_auc_score(test["y"], binary_model.predict_proba(test.drop(columns="y"))[:, 1])
    assert roc_auc(pandas_result) == pytest.approx(expected)


def test_passing_gate_gives_exit_code_0(pandas_result):
    assert pandas_result.gate is not None
    assert pandas_result.gate.passed is True
    assert pandas_result.exit_code == 0


def test_unmet_metric_threshold_gives_exit_code_1(binary_split, binary_model):
    train, test = binary_split
    result = auditor.audit(
        train=train, test=test, target="y", model=binary_model, gate=FAILING_GATE
    )
    assert result.gate.passed is False
    assert result.exit_code == 1
    assert any("0.999" in reason for reason in result.gate.reasons)


def test_polars_frames_give_the_same_audit(pandas_result, binary_split, binary_model):
    pl = pytest.importorskip("polars")
    train, test = binary_split
    result = auditor.audit(
        train=pl.from_pandas(train), test=pl.from_pandas(test), target="y", model=binary_model
    )
    assert result.exit_code == 0
    assert roc_auc(result) == pytest.approx(roc_auc(pandas_result))
    assert {f.role: f.file_name for f in result.inputs} == {
        "train": "<train DataFrame>",
        "test": "<test DataFrame>",
    }


def test_paths_as_str_and_path(loans):
    from_paths = auditor.audit(
        train=loans["train"],
        test=str(loans["test"]),
        model=loans["model"],
        target="default",
        id_column="application_id",
        select=["data.missing_values", "performance.holdout_metrics"],
    )
    assert from_paths.task == "binary"
    assert {f.role: f.file_name for f in from_paths.inputs} == {
        "train": "loans_train.csv",
        "test": "loans_test.csv",
        "model": "loan_model.skops",
    }
    assert from_paths.manifest["model_features"][:2] == ["age", "income"]
    assert from_paths.exit_code == 0


def test_predictions_dataframe(binary_split, binary_model, pandas_result):
    _, test = binary_split
    features = test.drop(columns="y")
    predictions = pd.DataFrame(
        {
            "prediction": binary_model.predict(features),
            "proba_1": binary_model.predict_proba(features)[:, 1],
        }
    )
    result = auditor.audit(test=test, target="y", predictions=predictions)
    assert result.check("performance.holdout_metrics").status in {"pass", "warn"}
    assert roc_auc(result) == pytest.approx(roc_auc(pandas_result))
    assert result.manifest["model"] is None


def test_write_creates_the_requested_files(pandas_result, tmp_path):
    out_dir = tmp_path / "reports"
    written = auditor.write_reports(pandas_result, out_dir, ["json", "html"])
    assert written == [out_dir / "audit.json", out_dir / "report.html"]
    assert sorted(p.name for p in out_dir.iterdir()) == ["audit.json", "report.html"]
    assert json.loads((out_dir / "audit.json").read_text(encoding="utf-8"))["target"] == "y"
    assert (out_dir / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert auditor.read_result(out_dir / "audit.json").to_json() == pandas_result.to_json()


def test_unknown_target_is_an_input_error_not_a_key_error(binary_split, binary_model):
    train, test = binary_split
    with pytest.raises(InputError, match=r"--target 'label' is not a column.*'x0'"):
        auditor.audit(train=train, test=test, target="label", model=binary_model)


def test_unknown_gate_metric_is_an_input_error(binary_split, binary_model):
    train, test = binary_split
    with pytest.raises(InputError, match="did you mean 'roc_auc'"):
        auditor.audit(
            train=train,
            test=test,
            target="y",
            model=binary_model,
            gate={"metrics": {"roc_auk": {"min": 0.5}}},
        )


def test_object_without_predict_is_an_input_error(binary_split):
    _, test = binary_split
    with pytest.raises(InputError, match="predict method"):
        auditor.audit(test=test, target="y", model=np.zeros(3))
