"""Legitimate but awkward inputs finish the audit; the user's model is held to a file's rules.

Each case once crashed a check into an ``error`` result or the whole audit into exit 3.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

import auditor
from auditor.errors import InputError


def statuses(result) -> dict[str, str]:
    return {c.id: c.status for c in result.checks}


class _Wrapped:
    """A fitted model whose outputs a test replaces: the user's own code, run as is."""

    def __init__(self, model, predict=None, predict_proba=None):
        self._model = model
        self.classes_ = model.classes_
        self.feature_names_in_ = model.feature_names_in_
        self._predict = predict
        self._predict_proba = predict_proba

    def predict(self, X):
        return self._predict(X) if self._predict else self._model.predict(X)

    def predict_proba(self, X):
        return self._predict_proba(X) if self._predict_proba else self._model.predict_proba(X)


def _raise_runtime(X):
    raise RuntimeError("the feature store is down")


@pytest.mark.parametrize(
    ("predict", "predict_proba", "match"),
    [
        (_raise_runtime, None, r"failed to predict .*RuntimeError: the feature store is down"),
        (None, lambda X: np.tile([3.0, -2.0], (len(X), 1)), r"returned 3 on row 0; probabilities"),
        (None, lambda X: np.full((len(X), 2), np.nan), r"returned nan on row 0; probabilities"),
        (None, lambda X: np.full((len(X), 2), 0.7), r"sum to 1.4 on row 0"),
        (None, lambda X: np.full((len(X), 3), 1 / 3), r"predict_proba returned shape"),
        (
            lambda X: np.full(len(X), "maybe"),
            None,
            r"labels 'maybe' that are not among the classes",
        ),
        (lambda X: np.zeros(5), None, r"predictions of shape \(5,\)"),
    ],
    ids=["raises", "outside_0_1", "nan", "sum", "shape", "unknown_label", "short"],
)
def test_a_model_output_a_predictions_file_could_not_hold_is_an_input_error(
    predict, predict_proba, match, binary_split, binary_model
):
    train, test = binary_split
    model = _Wrapped(binary_model, predict, predict_proba)
    with pytest.raises(InputError, match=match):
        auditor.audit(test=test, target="y", model=model, select=["data.missing_values"])


def test_the_same_wrapper_with_honest_outputs_audits(binary_split, binary_model):
    _, test = binary_split
    result = auditor.audit(
        test=test, target="y", model=_Wrapped(binary_model), select=["performance"]
    )
    assert statuses(result)["performance.holdout_metrics"] == "pass"


def test_a_train_column_the_test_data_lacks_is_named_not_crashed_on(binary_split, binary_model):
    train, test = binary_split
    result = auditor.audit(
        train=train.assign(note=np.where(train["y"] == 1, "a", "b")),
        test=test,
        target="y",
        model=binary_model,
        select=["data"],
    )
    assert "error" not in statuses(result).values()
    inferred = result.manifest["columns"]["inferred"]
    assert inferred["note"] == "missing from the test data; not compared between splits"
    assert "note" not in result.manifest["columns"]["features"]


def test_nested_parquet_columns_are_read_as_text(binary_split, binary_model, tmp_path):
    train, test = binary_split
    for name, frame in (("train", train), ("test", test)):
        nested = frame.assign(
            tags=[[int(v > 0), 2] for v in frame["x0"]],
            meta=[{"k": int(v > 1)} for v in frame["x1"]],
        )
        nested.to_parquet(tmp_path / f"{name}.parquet")
    result = auditor.audit(
        train=tmp_path / "train.parquet",
        test=tmp_path / "test.parquet",
        target="y",
        model=binary_model,
        select=["data", "leakage", "slices"],
    )
    assert "error" not in statuses(result).values()
    assert any("'tags', 'meta' hold lists or records" in note for note in result.manifest["notes"])


def test_flat_parquet_columns_get_no_note(binary_split, binary_model, tmp_path):
    train, test = binary_split
    test.to_parquet(tmp_path / "test.parquet")
    result = auditor.audit(
        test=tmp_path / "test.parquet",
        target="y",
        model=binary_model,
        select=["data.missing_values"],
    )
    assert not any("lists or records" in note for note in result.manifest["notes"])


# numpy warns on the overflow, as it does outside the tests, where warnings are not errors.
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_values_at_the_float_limit_skip_the_explanation_with_the_reason(binary_split):
    from sklearn.linear_model import LogisticRegression

    train, test = binary_split
    features = ["x0", "x1", "x2", "x3"]
    model = LogisticRegression().fit(train[features], train["y"])
    extreme = test.copy()
    extreme.loc[:5, "x0"] = 1e308
    extreme.loc[6:10, "x0"] = -1e308
    result = auditor.audit(
        train=train[[*features, "y"]],
        test=extreme[[*features, "y"]],
        target="y",
        model=model,
        select=["explain", "data"],
    )
    explain = next(c for c in result.checks if c.id == "explain.feature_importance")
    assert explain.status == "skipped"
    assert "floating-point limit" in explain.skip_reason
    assert "error" not in statuses(result).values()


def test_ordinary_values_are_explained(binary_split):
    from sklearn.linear_model import LogisticRegression

    train, test = binary_split
    features = ["x0", "x1", "x2", "x3"]
    model = LogisticRegression().fit(train[features], train["y"])
    result = auditor.audit(
        train=train[[*features, "y"]],
        test=test[[*features, "y"]],
        target="y",
        model=model,
        select=["explain"],
    )
    assert statuses(result)["explain.feature_importance"] in ("pass", "warn")


@pytest.mark.parametrize("text_side", ["test", "predictions"])
def test_int_ids_join_str_ids_of_the_other_file(text_side, binary_split, binary_model):
    _, test = binary_split
    test = test.assign(row_id=np.arange(len(test)) + 1000)
    features = test.drop(columns=["y", "row_id"])
    predictions = pd.DataFrame(
        {
            "row_id": test["row_id"],
            "prediction": binary_model.predict(features),
            "proba_1": binary_model.predict_proba(features)[:, 1],
        }
    ).iloc[::-1]
    if text_side == "test":
        test = test.assign(row_id=test["row_id"].astype(str))
    else:
        predictions = predictions.assign(row_id=predictions["row_id"].astype(str))
    joined = auditor.audit(
        test=test,
        target="y",
        predictions=predictions,
        id_column="row_id",
        select=["performance.holdout_metrics"],
    )
    direct = auditor.audit(
        test=test.drop(columns="row_id"),
        target="y",
        model=binary_model,
        select=["performance.holdout_metrics"],
    )
    assert joined.checks[0].measurements == direct.checks[0].measurements


def test_a_test_column_the_train_data_lacks_is_named_not_crashed_on(binary_split, binary_model):
    train, test = binary_split
    result = auditor.audit(
        train=train,
        test=test.assign(batch=np.where(test["y"] == 1, None, "b")),
        target="y",
        model=binary_model,
        select=["data"],
    )
    assert "error" not in statuses(result).values()
    inferred = result.manifest["columns"]["inferred"]
    assert inferred["batch"] == "missing from the train data; not compared between splits"


def test_library_warnings_stay_off_the_cli_stderr(binary_split, tmp_path):
    """numpy warns (overflow) on values at the float limit; the CLI prints nothing of it.

    A child process, because the test suite turns warnings into errors.
    """
    import subprocess
    import sys

    import skops.io
    from sklearn.linear_model import LogisticRegression

    train, test = binary_split
    features = ["x0", "x1", "x2", "x3"]
    skops.io.dump(LogisticRegression().fit(train[features], train["y"]), tmp_path / "m.skops")
    extreme = test[[*features, "y"]].copy()
    extreme.loc[:5, "x0"] = 1e308
    extreme.to_csv(tmp_path / "test.csv", index=False)
    completed = subprocess.run(
        [sys.executable, "-m", "auditor", "audit", "--test", "test.csv", "--target", "y"]
        + ["--model", "m.skops", "--format", "json", "--select", "explain", "--select", "data"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"},
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    assert "Verdict:" in completed.stdout
