"""Closed-form confidence intervals: Wilson for proportions, Student t for fold means."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def wilson_interval(
    successes: np.ndarray | float, trials: np.ndarray | float, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion, elementwise.

    Unlike the normal (Wald) interval it stays inside [0, 1] and keeps close to its nominal
    coverage for small counts and proportions near 0 or 1, which is what the sparse bins of
    a reliability diagram need.

    References
    ----------
    Wilson, E. B. (1927). Probable inference, the law of succession, and statistical
    inference. JASA 22(158), 209-212.
    """
    from scipy import stats

    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    z = stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denominator = 1 + z**2 / n
        center = (p + z**2 / (2 * n)) / denominator
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denominator
    # At k = 0 and k = n the bounds are exactly 0 and 1; rounding (k from a weighted share
    # times an effective size) would leave 1 - 1e-16, an interval that misses a true 1.
    tolerance = 1e-9 * n
    low = np.where(k <= tolerance, 0.0, np.clip(center - half, 0.0, 1.0))
    high = np.where(k >= n - tolerance, 1.0, np.clip(center + half, 0.0, 1.0))
    return low, high


def effective_sample_size(weights: np.ndarray | None, n: int | None = None) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2: ``n`` when there are no weights.

    Unequal weights carry less information than as many equal ones; intervals and minimum
    counts read this size instead of the number of rows.
    """
    if weights is None:
        if n is None:
            raise ValueError("effective_sample_size needs weights or n")
        return float(n)
    w = np.asarray(weights, dtype=float)
    squares = float(np.dot(w, w))
    return float(w.sum()) ** 2 / squares if squares > 0 else 0.0


def weighted_proportion_interval(
    indicator: np.ndarray, weights: np.ndarray | None = None, confidence: float = 0.95
) -> tuple[float, float, float, float]:
    """A proportion of rows (weighted when ``weights`` is given) and its Wilson interval.

    Returns ``(p, low, high, n_effective)``. With weights, ``p`` is the weighted share and
    the interval is Wilson's on Kish's effective sample size, the usual design-effect
    correction for survey proportions (Kish, 1965). Without weights it is the plain Wilson
    interval on the row count. NaNs throughout when there is no row (or no weight).
    """
    x = np.asarray(indicator, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    total = float(w.sum())
    if x.size == 0 or total <= 0:
        return float("nan"), float("nan"), float("nan"), 0.0
    p = float(np.dot(w, x)) / total
    n_eff = effective_sample_size(weights, x.size)
    low, high = wilson_interval(p * n_eff, n_eff, confidence)
    return p, float(low), float(high), n_eff


@dataclass(frozen=True, slots=True)
class MeanInterval:
    """Mean of a few values (one per fold) with its sample SD and Student t interval."""

    mean: float
    std: float
    n: int
    ci_low: float | None
    ci_high: float | None


def t_interval(values: np.ndarray, confidence: float = 0.95) -> MeanInterval:
    """Mean, sample SD (ddof=1) and the t interval ``mean ± t(n-1) * SD / sqrt(n)``.

    NaN values (a metric undefined on a fold) are left out. With fewer than two values no
    interval is given.

    Notes
    -----
    Applied to cross-validation folds this interval is optimistic: folds share training
    rows, so their scores are positively correlated and the true variance of the mean is
    larger than SD²/n (Bengio & Grandvalet, 2004). It describes the spread of the folds,
    not a guaranteed coverage; see ``corrected_resampled_t_test`` for a corrected variant.
    """
    from scipy import stats

    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return MeanInterval(float("nan"), float("nan"), 0, None, None)
    mean = float(x.mean())
    if n < 2:
        return MeanInterval(mean, float("nan"), 1, None, None)
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * std / np.sqrt(n)
    return MeanInterval(mean, std, n, mean - half, mean + half)
