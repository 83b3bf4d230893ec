"""Intervals that hold at the boundary and at small n, and one p-value format everywhere."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import auditor
from auditor.evaluation import HoldoutScore
from auditor.render.formatting import prose
from auditor.stats.intervals import weighted_proportion_interval, wilson_interval
from auditor.stats.pvalues import p_equals, p_value


@pytest.mark.parametrize(("k", "n"), [(54, 54), (0, 30), (27, 30), (970, 1000), (1, 100)])
def test_wilson_matches_scipy(k, n):
    expected = stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
    low, high = wilson_interval(k, n)
    assert float(low) == pytest.approx(expected.low, abs=1e-12)
    assert float(high) == pytest.approx(expected.high, abs=1e-12)


def test_all_right_is_not_certainty():
    p, low, high, n_eff = weighted_proportion_interval(np.ones(54))
    assert (p, high, n_eff) == (1.0, 1.0, 54.0)
    assert low == pytest.approx(0.9336, abs=1e-4)


def test_unequal_weights_widen_the_interval_by_the_effective_size():
    right = np.r_[np.ones(80), np.zeros(20)]
    _, low_plain, high_plain, _ = weighted_proportion_interval(right)
    weights = np.random.default_rng(0).lognormal(0.0, 1.0, size=100)
    p, low, high, n_eff = weighted_proportion_interval(right, weights)
    assert p == pytest.approx(np.average(right, weights=weights))
    assert n_eff == pytest.approx(weights.sum() ** 2 / (weights**2).sum())
    assert n_eff < 100
    assert high - low > high_plain - low_plain


def test_a_collapsed_bootstrap_gives_no_interval_and_says_why():
    collapsed = HoldoutScore(1.0, np.ones(1000))
    assert collapsed.interval() == (None, None)
    assert "every bootstrap resample gives 1.000" in collapsed.caveat()
    spread = HoldoutScore(0.8, np.random.default_rng(0).normal(0.8, 0.02, 1000), rows=500)
    assert spread.interval()[0] < 0.8 < spread.interval()[1]
    assert spread.caveat() is None
    small = HoldoutScore(0.8, np.random.default_rng(0).normal(0.8, 0.05, 1000), rows=20)
    assert "rough range" in small.caveat()


def _perfect_case(n_test: int, noise: float):
    rng = np.random.default_rng(7)
    x = rng.normal(size=n_test + 200)
    y = (x > 0).astype(int)
    # noise = 0: a perfect score; otherwise labels flip with that probability.
    flip = rng.random(x.size) < noise
    frame = pd.DataFrame({"x": x, "y": np.where(flip, 1 - y, y)})
    predictions = pd.DataFrame({"prediction": y[200:], "proba_1": 1 / (1 + np.exp(-8 * x[200:]))})
    return frame.iloc[200:].reset_index(drop=True), predictions


def test_a_perfect_score_on_54_rows_gets_an_honest_interval():
    test, predictions = _perfect_case(54, 0.0)
    result = auditor.audit(
        test=test, target="y", predictions=predictions, select=["performance.holdout_metrics"]
    )
    check = result.check("performance.holdout_metrics")
    accuracy = check.measurement("accuracy")
    assert accuracy.value == 1.0
    assert accuracy.ci_low == pytest.approx(0.9336, abs=1e-4)
    assert accuracy.ci_high == 1.0
    auc = check.measurement("roc_auc")
    assert (auc.ci_low, auc.ci_high) == (None, None)
    notes = [f for f in check.findings if f.code == "interval_caveat"]
    assert any("ROC AUC" in f.message and "no interval is given" in f.message for f in notes)
    assert "no interval" in check.summary


def test_an_ordinary_score_gets_intervals_and_no_caveat():
    test, predictions = _perfect_case(800, 0.15)
    result = auditor.audit(
        test=test, target="y", predictions=predictions, select=["performance.holdout_metrics"]
    )
    check = result.check("performance.holdout_metrics")
    assert not [f for f in check.findings if f.code == "interval_caveat"]
    for m in check.measurements:
        if m.key != "n_test_rows":
            assert m.ci_low < m.value < m.ci_high, m.key
    accuracy = check.measurement("accuracy")
    k = round(accuracy.value * 800)
    expected = stats.binomtest(k, 800).proportion_ci(0.95, method="wilson")
    assert (accuracy.ci_low, accuracy.ci_high) == pytest.approx((expected.low, expected.high))


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.00999, "p = 0.010"), (2e-05, "p < 0.001"), (0.0, "p < 0.001"), (0.5, "p = 0.500")],
)
def test_one_p_value_format(value, text):
    assert p_equals("p", value) == text
    assert prose(f"p = {value}") == text
    assert p_value(float("nan")) == "—"


def test_zeros_read_without_a_sign_in_sentences():
    assert prose("difference -0.000 [-0.0004, +0.000]") == "difference 0.000 [-0.0004, 0.000]"


def test_check_messages_write_p_values_in_the_one_format():
    rng = np.random.default_rng(3)
    train = pd.DataFrame({"a": rng.normal(size=2000), "y": rng.integers(0, 2, 2000)})
    test = pd.DataFrame({"a": rng.normal(1.0, 1.0, size=2000), "y": rng.integers(0, 2, 2000)})
    result = auditor.audit(test=test, train=train, target="y", select=["data.feature_drift"])
    messages = [f.message for f in result.check("data.feature_drift").findings]
    assert any("p < 0.001" in m for m in messages)
    assert not any("e-" in m for m in messages)


def test_weighted_rounding_does_not_pass_for_an_interval():
    # Weighted sums leave replicates 1e-16 apart where the metric cannot move at all.
    noisy = HoldoutScore(0.5, 0.5 + np.random.default_rng(0).normal(0, 1e-16, 1000))
    assert noisy.interval() == (None, None)
    assert "every bootstrap resample gives 0.500" in noisy.caveat()


def test_a_share_of_no_row_says_so():
    nothing_predicted = HoldoutScore(0.0, np.zeros(1000), trials=0.0)
    assert nothing_predicted.interval() == (None, None)
    assert "share of no row" in nothing_predicted.caveat()
