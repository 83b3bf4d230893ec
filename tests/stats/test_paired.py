"""The corrected resampled t-test, t intervals and Wilson intervals against hand and scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from auditor.stats.intervals import t_interval, wilson_interval
from auditor.stats.paired import corrected_resampled_t_test

DIFFERENCES = np.array([0.021, 0.008, 0.030, -0.004, 0.015])


def test_corrected_t_test_equals_a_hand_computation():
    # J = 5 folds of 800 fitting and 200 validation rows.
    mean = (0.021 + 0.008 + 0.030 - 0.004 + 0.015) / 5
    variance = sum((d - mean) ** 2 for d in DIFFERENCES) / 4
    corrected_se = np.sqrt((1 / 5 + 200 / 800) * variance)
    t = mean / corrected_se
    result = corrected_resampled_t_test(DIFFERENCES, n_train=800, n_test=200)
    assert result.mean == pytest.approx(0.014, abs=1e-15)
    assert result.std_error == pytest.approx(corrected_se, rel=1e-12)
    assert result.statistic == pytest.approx(t, rel=1e-12)
    assert result.df == 4
    assert result.p_value == pytest.approx(1 - stats.t.cdf(t, 4), rel=1e-10)
    half = stats.t.ppf(0.975, 4) * corrected_se
    assert (result.ci_low, result.ci_high) == pytest.approx((mean - half, mean + half))


def test_the_correction_is_what_makes_it_more_conservative_than_the_paired_t_test():
    naive = stats.ttest_1samp(DIFFERENCES, 0.0, alternative="greater")
    corrected = corrected_resampled_t_test(DIFFERENCES, n_train=800, n_test=200)
    # Variance factor 1/5 + 1/4 instead of 1/5: the statistic shrinks by sqrt(0.2 / 0.45).
    assert corrected.statistic == pytest.approx(naive.statistic * np.sqrt(0.2 / 0.45))
    assert corrected.p_value > naive.pvalue


@pytest.mark.parametrize(
    ("alternative", "expected"),
    [
        pytest.param("greater", lambda t: stats.t.sf(t, 4), id="greater"),
        pytest.param("less", lambda t: stats.t.cdf(t, 4), id="less"),
        pytest.param("two-sided", lambda t: 2 * stats.t.sf(abs(t), 4), id="two_sided"),
    ],
)
def test_alternatives(alternative, expected):
    result = corrected_resampled_t_test(
        DIFFERENCES, n_train=800, n_test=200, alternative=alternative
    )
    assert result.p_value == pytest.approx(expected(result.statistic), rel=1e-12)


@pytest.mark.parametrize(
    ("differences", "statistic", "p_value"),
    [
        pytest.param([0.01] * 5, np.inf, 0.0, id="all_equal_positive"),
        pytest.param([-0.01] * 5, -np.inf, 1.0, id="all_equal_negative"),
        pytest.param([0.0] * 5, 0.0, 0.5, id="all_zero"),
    ],
)
def test_constant_differences(differences, statistic, p_value):
    result = corrected_resampled_t_test(differences, n_train=4, n_test=1)
    assert (result.statistic, result.p_value) == (statistic, p_value)


def test_undefined_folds_are_left_out_and_two_are_needed():
    with_nan = np.r_[DIFFERENCES, np.nan]
    assert corrected_resampled_t_test(with_nan, n_train=800, n_test=200).df == 4
    with pytest.raises(ValueError, match="at least 2 folds, got 1"):
        corrected_resampled_t_test([0.1, np.nan], n_train=8, n_test=2)


def test_t_interval_equals_scipy():
    values = np.array([0.81, 0.78, 0.84, 0.80, 0.79, np.nan])
    finite = values[:5]
    result = t_interval(values, 0.9)
    low, high = stats.t.interval(0.9, 4, loc=finite.mean(), scale=stats.sem(finite))
    assert (result.mean, result.std, result.n) == pytest.approx(
        (finite.mean(), finite.std(ddof=1), 5)
    )
    assert (result.ci_low, result.ci_high) == pytest.approx((low, high), rel=1e-12)
    single = t_interval(np.array([0.5]))
    assert (single.n, single.ci_low, single.ci_high) == (1, None, None)


@pytest.mark.parametrize(
    ("successes", "trials"),
    [(0, 10), (1, 10), (5, 10), (10, 10), (3, 150), (75, 150), (149, 150), (420, 1000)],
)
@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_wilson_interval_equals_scipy(successes, trials, confidence):
    expected = stats.binomtest(successes, trials).proportion_ci(
        confidence_level=confidence, method="wilson"
    )
    low, high = wilson_interval(successes, trials, confidence)
    assert (float(low), float(high)) == pytest.approx((expected.low, expected.high), abs=1e-12)


def test_wilson_interval_is_elementwise():
    low, high = wilson_interval(np.array([0, 5]), np.array([10, 10]))
    assert low.shape == high.shape == (2,)
    assert low[0] == 0.0
    assert 0 < high[0] < 0.35
