"""``performance.cross_validation``: fold means and t intervals, failures, fold layout."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.base import clone
from sklearn.model_selection import cross_validate

from _factories_evaluation import (
    FailsOnFewRows,
    FailsWithoutSentinel,
    context,
    fitted,
    linear_model,
    run,
    split,
)
from auditor.errors import InputError
from auditor.evaluation import cv_folds
from auditor.spec import EvaluationSettings

CHECK_ID = "performance.cross_validation"
BINARY_KEYS = [
    "roc_auc",
    "average_precision",
    "log_loss",
    "brier_score",
    "accuracy",
    "balanced_accuracy",
    "f1",
    "precision",
    "recall",
    "matthews_corrcoef",
]


@pytest.fixture(scope="module")
def binary():
    train, test = split("binary", 20)
    model = fitted(linear_model("binary"), train)
    ctx = context(train, test, model)
    return train, model, ctx, run(ctx, CHECK_ID)


def test_clean_model_passes_with_every_metric_and_the_fold_count(binary):
    _, _, _, result = binary
    assert result.status == "pass"
    assert [m.key for m in result.measurements] == [*BINARY_KEYS, "n_folds", "n_failed_fits"]
    assert result.measurement("n_folds").value == 5
    assert result.measurement("n_failed_fits").value == 0
    assert result.findings == ()
    assert "from 5-fold stratified cross-validation on the 600 training rows" in result.summary
    assert result.summary.startswith("ROC AUC ")


def test_means_and_t_intervals_equal_sklearn_on_the_same_folds(binary):
    train, model, ctx, result = binary
    folds = cv_folds(ctx)
    scores = cross_validate(
        clone(model),
        train.drop(columns="y"),
        train["y"],
        cv=list(zip(folds.train, folds.valid, strict=True)),
        scoring=["roc_auc", "neg_log_loss"],
    )
    for key, values in (
        ("roc_auc", scores["test_roc_auc"]),
        ("log_loss", -scores["test_neg_log_loss"]),
    ):
        m = result.measurement(key)
        low, high = stats.t.interval(0.95, 4, loc=values.mean(), scale=stats.sem(values))
        assert m.value == pytest.approx(values.mean(), abs=1e-12)
        assert (m.ci_low, m.ci_high) == pytest.approx((low, high), abs=1e-12)
    assert result.measurement("log_loss").greater_is_better is False


def test_tables_and_figure_describe_each_fold(binary):
    _, _, _, result = binary
    summary, per_fold = result.tables
    assert [row[0] for row in summary.rows][:2] == ["ROC AUC", "Average precision"]
    assert per_fold.columns == (
        "fold",
        "fitting rows",
        "validation rows",
        "ROC AUC",
        "Average precision",
        "Log loss",
        "Brier score",
    )
    assert [row[1] + row[2] for row in per_fold.rows] == [600] * 5
    (curve,) = result.curves
    assert curve.kind == "scatter"
    assert curve.x_tick_labels == ("1", "2", "3", "4", "5")
    auc = result.measurement("roc_auc")
    folds, mean = curve.series
    assert np.mean(folds.y) == pytest.approx(auc.value)
    # The folds' mean is drawn across them with its t interval as a band.
    assert mean.y == pytest.approx((auc.value, auc.value))
    assert mean.y_low + mean.y_high == pytest.approx((auc.ci_low,) * 2 + (auc.ci_high,) * 2)
    assert curve.y_label == "ROC AUC (higher is better)"


def test_failed_fits_are_findings_and_warn():
    train, test = split("binary", 21)
    model = fitted(FailsWithoutSentinel(sentinel=float(train["x0"].iloc[0])), train)
    result = run(context(train, test, model), CHECK_ID)
    assert result.status == "warn"
    (finding,) = result.findings
    assert finding.code == "fit_failed"
    assert finding.severity == "medium"
    assert finding.evidence == {
        "error": "ValueError: planted failure: the sentinel row is missing",
        "failed_fits": 1,
        "fits": 5,
    }
    assert result.measurement("n_failed_fits").value == 1
    assert "over 4 folds" in result.summary
    assert "1 of 5 fits failed" in result.summary
    assert result.tables[1].columns[-1] == "error"


def test_every_fit_failing_is_an_error_naming_a_misconfigured_model():
    train, test = split("binary", 22)
    result = run(context(train, test, fitted(FailsOnFewRows(min_rows=500), train)), CHECK_ID)
    assert result.status == "error"
    assert "very likely misconfigured" in result.summary
    assert result.error["type"] == "AllFitsFailedError"


def test_repeats_multiply_the_folds():
    train, test = split("regression", 23)
    ctx = context(
        train,
        test,
        fitted(linear_model("regression"), train),
        evaluation=EvaluationSettings(folds=3, repeats=2),
    )
    result = run(ctx, CHECK_ID)
    assert result.measurement("n_folds").value == 6
    assert "3-fold shuffled cross-validation, repeated 2 times" in result.summary
    assert [s.name for s in result.curves[0].series] == [
        "repeat 1",
        "repeat 2",
        "mean of the folds, 95% t interval",
    ]
    assert result.tables[1].columns[:2] == ("fold", "repeat")
    assert [m.key for m in result.measurements][:3] == [
        "r2",
        "mean_absolute_error",
        "root_mean_squared_error",
    ]


def test_without_training_data_the_test_rows_are_cross_validated():
    train, test = split("multiclass", 24)
    ctx = context(None, test, fitted(linear_model("multiclass"), train))
    result = run(ctx, CHECK_ID)
    assert result.status == "pass"
    assert "on the 400 test rows (no training data was given)" in result.summary
    assert result.measurement("roc_auc_ovr") is not None


@pytest.mark.parametrize(
    ("params", "match"),
    [
        pytest.param(
            {"n_splits": 10},
            r"'n_splits' is now audit-wide: write folds = 10 under \[evaluation\]",
            id="moved_to_evaluation",
        ),
        pytest.param({"confidence": 95}, "Write 0.95 for 95%", id="percent"),
    ],
)
def test_invalid_parameters_are_input_errors(params, match):
    from auditor.registry import build_params, load_registry

    with pytest.raises(InputError, match=match):
        build_params(load_registry()[CHECK_ID], params)
