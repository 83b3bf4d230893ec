"""Every check measures on the audit's one set of folds, refits and resamples.

``[evaluation]`` settings are audit-wide, so the model is refitted once per fold whatever
the checks that read the folds, and a metric of the test rows is bootstrapped once: it
carries the same interval in every check and in the headline.
"""

from __future__ import annotations

import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from tests._factories_evaluation import linear_model, split

import auditor
from auditor import keys
from auditor.errors import InputError
from auditor.spec import EvaluationSettings

FIT_CALLS: list[int] = []


class CountingClassifier(ClassifierMixin, BaseEstimator):
    """A logistic regression on the numeric columns that records each fit."""

    def __init__(self, C: float = 1.0):
        self.C = C

    def fit(self, X, y):
        FIT_CALLS.append(len(X))
        self.model_ = LogisticRegression(C=self.C).fit(X[["x0", "x1", "x2", "x3"]], y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(X[["x0", "x1", "x2", "x3"]])

    def predict_proba(self, X):
        return self.model_.predict_proba(X[["x0", "x1", "x2", "x3"]])


EVALUATION_CHECKS = [
    "performance.cross_validation",
    "performance.overfit",
    "performance.holdout_metrics",
    "baseline.comparison",
]


@pytest.mark.parametrize("folds", [5, 3])
def test_the_model_is_refitted_once_per_fold_whatever_reads_the_folds(folds):
    train, test = split("binary", 31)
    model = CountingClassifier().fit(train.drop(columns="y"), train["y"])
    FIT_CALLS.clear()
    result = auditor.audit(
        train=train,
        test=test,
        target="y",
        model=model,
        select=EVALUATION_CHECKS,
        evaluation={"folds": folds},
    )
    assert len(FIT_CALLS) == folds
    assert all(result.check(c).status in ("pass", "warn") for c in EVALUATION_CHECKS)
    assert result.check("performance.cross_validation").measurement("n_folds").value == folds
    assert result.manifest["spec"]["evaluation"]["folds"] == folds


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_a_metric_has_one_interval_everywhere_in_the_report(task):
    train, test = split(task, 32)
    model = linear_model(task).fit(train.drop(columns="y"), train["y"])
    result = auditor.audit(
        train=train, test=test, target="y", model=model, select=EVALUATION_CHECKS
    )
    head = result.headline
    metric = head["metric"]
    holdout = result.check(keys.HOLDOUT).measurement(metric)
    overfit = result.check(keys.OVERFIT).measurement("holdout_score")
    versus_baselines = result.check(keys.BASELINE).measurement(keys.MODEL_SCORE.key)
    expected = (holdout.value, holdout.ci_low, holdout.ci_high)
    assert holdout.ci_low < holdout.value < holdout.ci_high
    for measured in (overfit, versus_baselines):
        assert (measured.value, measured.ci_low, measured.ci_high) == expected
    assert (head["value"], head["ci_low"], head["ci_high"]) == expected


def test_the_bootstrap_resamples_and_their_seed_are_settings():
    train, test = split("binary", 33)
    model = linear_model("binary").fit(train.drop(columns="y"), train["y"])

    def interval(**evaluation):
        result = auditor.audit(
            train=train,
            test=test,
            target="y",
            model=model,
            select=["performance.holdout_metrics"],
            evaluation=evaluation,
        )
        m = result.check(keys.HOLDOUT).measurement("roc_auc")
        return m.ci_low, m.ci_high

    default = interval()
    assert interval(seed=0, bootstrap_resamples=1000) == default
    assert interval(seed=1) != default
    assert interval(bootstrap_resamples=200) != default
    low, high = interval(bootstrap_resamples=5000)
    assert low == pytest.approx(default[0], abs=0.01)
    assert high == pytest.approx(default[1], abs=0.01)


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        (EvaluationSettings(folds=1), r"evaluation= folds = 1 must be an integer from 2"),
        (
            EvaluationSettings(bootstrap_resamples=0),
            r"evaluation= bootstrap_resamples = 0 must be an integer from 100",
        ),
        (EvaluationSettings(seed=-3), r"evaluation= seed = -3 must be an integer"),
    ],
)
def test_settings_given_as_an_object_are_validated_too(settings, match):
    train, test = split("binary", 34)
    model = linear_model("binary").fit(train.drop(columns="y"), train["y"])
    with pytest.raises(InputError, match=match):
        auditor.audit(train=train, test=test, target="y", model=model, evaluation=settings)
