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
    return np.clip(center - half, 0.0, 1.0), np.clip(center + half, 0.0, 1.0)


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
