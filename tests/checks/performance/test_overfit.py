"""``performance.overfit``: training vs validation and cross-validation vs holdout gaps."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier

from _factories_evaluation import context, fitted, linear_model, run, split
from auditor.evaluation import fold_scores, model_cv
from auditor.metrics import METRICS_BY_KEY
from auditor.stats.paired import corrected_resampled_t_test

CHECK_ID = "performance.overfit"


def numeric(frame):
    return frame.drop(columns="colour")


@pytest.fixture(scope="module")
def forest():
    """A random forest: training AUC 1.0, validation about 0.72 (a normal, large gap)."""
    train, test = split("binary", 30)
    model = fitted(RandomForestClassifier(n_estimators=50, random_state=0), numeric(train))
    return context(numeric(train), numeric(test), model)


def test_a_linear_model_passes():
    train, test = split("binary", 32)
    result = run(context(train, test, fitted(linear_model("binary"), train)), CHECK_ID)
    assert result.status == "pass"
    assert result.findings == ()
    assert [m.key for m in result.measurements] == [
        "train_score",
        "validation_score",
        "train_validation_gap",
        "holdout_score",
        "cv_holdout_gap",
    ]
    assert result.curves[0].x_tick_labels == (
        "Fitting rows (in-sample)",
        "Validation folds",
        "Holdout (test rows)",
    )


def test_the_training_gap_of_a_flexible_model_is_information(forest):
    # A forest fits its training rows perfectly by design; when cross-validation and the
    # holdout agree, nothing about the release decision follows from that.
    result = run(forest, CHECK_ID)
    assert result.status == "pass"
    (finding,) = result.findings
    assert (finding.code, finding.severity) == ("train_gap", "low")
    assert "this gap is information" in finding.message
    assert finding.evidence["optimistic"] == 1.0
    assert finding.evidence["gap"] == pytest.approx(
        result.measurement("train_validation_gap").value
    )


def test_the_gap_is_the_mean_fold_gap_with_the_corrected_standard_error(forest):
    result = run(forest, CHECK_ID)
    cv = model_cv(forest)
    auc = (METRICS_BY_KEY["roc_auc"],)
    gaps = fold_scores(forest, cv, auc, part="train")[:, 0] - fold_scores(forest, cv, auc)[:, 0]
    expected = corrected_resampled_t_test(gaps, n_train=480, n_test=120)
    gap = result.measurement("train_validation_gap")
    assert gap.value == pytest.approx(gaps.mean(), abs=1e-12)
    assert (gap.ci_low, gap.ci_high) == pytest.approx((expected.ci_low, expected.ci_high))
    assert result.findings[0].evidence["std_error"] == pytest.approx(expected.std_error)


def test_tolerance_boundary(forest):
    gap = run(forest, CHECK_ID).measurement("train_validation_gap").value
    assert run(forest, CHECK_ID, max_gap=gap + 1e-6).findings == ()
    assert [f.code for f in run(forest, CHECK_ID, max_gap=gap - 1e-6).findings] == ["train_gap"]


def test_a_gap_within_noise_is_a_low_finding(forest):
    result = run(forest, CHECK_ID, min_standard_errors=1000.0)
    assert result.status == "pass"
    assert [f.code for f in result.findings] == ["train_gap_within_noise"]


def test_memorising_noise_is_named_but_left_to_the_unseen_scores():
    train, test = split("binary", 31, signal=0.0)
    model = fitted(DecisionTreeClassifier(random_state=0), numeric(train))
    result = run(context(numeric(train), numeric(test), model), CHECK_ID)
    # Cross-validation and the holdout agree (both near chance): the baselines judge that.
    assert result.status == "pass"
    assert [f.code for f in result.findings] == ["memorises_training_rows"]
    assert result.measurement("train_score").value == 1.0


def test_a_holdout_far_below_cross_validation_fails():
    train, test = split("binary", 32)
    shifted = test.copy()
    flip = shifted["colour"] != "red"  # the relation between features and label changes
    shifted.loc[flip, "y"] = 1 - shifted.loc[flip, "y"]
    result = run(context(train, shifted, fitted(linear_model("binary"), train)), CHECK_ID)
    assert result.status == "fail"
    (finding,) = result.findings
    assert finding.code == "holdout_below_cv"
    gap = result.measurement("cv_holdout_gap")
    assert gap.value == pytest.approx(
        result.measurement("validation_score").value - result.measurement("holdout_score").value
    )
    assert gap.ci_low > 0.05


def test_error_metrics_use_a_relative_tolerance():
    train, test = split("binary", 32)
    result = run(
        context(train, test, fitted(linear_model("binary"), train)), CHECK_ID, metric="log_loss"
    )
    gap_row = result.tables[0].rows[0]
    assert gap_row[0] == "training vs validation"
    assert gap_row[5] == pytest.approx(0.25 * result.measurement("train_score").value)
    assert result.measurement("train_score").greater_is_better is False
    # Positive gap: the fitting rows look better, i.e. have the lower loss.
    assert result.measurement("train_validation_gap").value == pytest.approx(
        result.measurement("validation_score").value - result.measurement("train_score").value
    )


def test_regression_compares_r2():
    train, test = split("regression", 33)
    result = run(context(train, test, fitted(linear_model("regression"), train)), CHECK_ID)
    assert result.status == "pass"
    assert result.summary.startswith("R²: ")


def test_without_training_data_there_is_no_holdout_comparison():
    train, test = split("binary", 34)
    result = run(context(None, test, fitted(linear_model("binary"), train)), CHECK_ID)
    assert result.measurement("cv_holdout_gap") is None
    assert "cross-validation ran on the test rows" in result.summary
    assert len(result.tables[0].rows) == 1


def test_an_inapplicable_metric_is_reported_with_the_valid_ones():
    train, test = split("regression", 35)
    result = run(
        context(train, test, fitted(linear_model("regression"), train)), CHECK_ID, metric="roc_auc"
    )
    assert result.status == "error"
    assert (
        "metric 'roc_auc' does not apply to this regression model; use one of r2,"
        in (result.error["message"])
    )


def test_fold_table_holds_both_scores():
    train, test = split("binary", 36)
    result = run(context(train, test, fitted(linear_model("binary"), train)), CHECK_ID)
    folds = result.tables[1]
    gaps = np.array([row[3] for row in folds.rows])
    assert gaps.mean() == pytest.approx(result.measurement("train_validation_gap").value)
