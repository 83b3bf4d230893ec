"""The statistics of the slice search: the scan score, its pruning bound, tests and intervals.

Every function here is vectorised over numpy arrays and free of pandas; the search
(``auditor.slices.search``) and the confirmation use them, and the tests compare them with
direct likelihood computations and with scipy.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import special, stats

from auditor.stats.intervals import wilson_interval

# z of a two-sided 95% interval: every interval of the slice report is a 95% interval.
Z95 = float(stats.norm.ppf(0.975))


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, and 0 where den is 0 (an empty side of a split has no rate)."""
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den > 0)
    return out


def slice_statistic(n, k, N: float, E: float) -> np.ndarray:
    """Return the one-sided log-likelihood ratio T of slices with ``n`` rows and ``k`` errors.

    Parameters
    ----------
    n, k : array_like
        Rows and errors (0/1 outcomes equal to 1) inside each slice.
    N, E : float
        Rows and errors of the whole search set.

    Returns
    -------
    ndarray of float
        ``T = G(n, k)`` when the slice's error rate ``k / n`` exceeds the rate
        ``(E - k) / (N - n)`` of its complement, else 0; ``G`` is the log-likelihood ratio of
        two Bernoulli rates (slice, complement) against one common rate.

    Notes
    -----
    ``T`` is the generalised likelihood-ratio statistic of the Bernoulli scan statistic
    (Kulldorff, 1997) and equals ``N`` times the mutual information, in nats, between slice
    membership and the error. For a fixed slice ``2 T`` is asymptotically chi-squared with one
    degree of freedom. ``0 log 0 = 0``.

    References
    ----------
    M. Kulldorff, "A spatial scan statistic", Communications in Statistics - Theory and
    Methods 26(6), 1997.
    """
    n = np.asarray(n, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    N = float(N)
    E = float(E)
    n_out = N - n
    k_out = E - k
    p1 = _ratio(k, n)
    p0 = _ratio(k_out, n_out)
    p = E / N if N > 0 else 0.0
    xlogy = special.xlogy
    g = (
        xlogy(k, p1)
        + xlogy(n - k, 1.0 - p1)
        + xlogy(k_out, p0)
        + xlogy(n_out - k_out, 1.0 - p0)
        - (xlogy(E, p) + xlogy(N - E, 1.0 - p))
    )
    return np.where(p1 > p0, np.maximum(g, 0.0), 0.0)


def slice_bound(k, N: float, E: float, min_rows: int) -> np.ndarray:
    """Return an upper bound of ``T`` over every sub-slice of slices holding ``k`` errors.

    Parameters
    ----------
    k : array_like
        Errors inside each slice.
    N, E : float
        Rows and errors of the whole search set.
    min_rows : int
        The smallest slice the search scores (sigma).

    Returns
    -------
    ndarray of float
        ``T(max(min_rows, k), k)``: the statistic of the purest sub-slice that still has
        ``min_rows`` rows.

    Notes
    -----
    For fixed ``(N, E)``, ``T`` does not decrease with ``k`` at fixed ``n`` and does not
    increase with ``n`` at fixed ``k``. A sub-slice has at most the errors of its parent and
    at least ``min_rows`` rows, so its ``T`` is at most the returned bound (the tests check
    this on random lattices).
    """
    k = np.asarray(k, dtype=np.float64)
    return slice_statistic(np.maximum(float(min_rows), k), k, N, E)


def log_lattice_sizes(domain_sizes, max_level: int) -> np.ndarray:
    """Return ``log M_L`` for L = 0..max_level: the log number of slices with L conditions.

    ``M_L`` is the elementary symmetric polynomial ``e_L`` of the feature domain sizes: a
    slice with L conditions picks L distinct features and one item of each. Levels with no
    slice get ``+inf``.
    """
    poly = np.zeros(max_level + 1)
    poly[0] = 1.0
    for d in domain_sizes:
        poly[1:] = poly[1:] + float(d) * poly[:-1]
    out = np.full(max_level + 1, np.inf)
    np.log(poly, out=out, where=poly > 0)
    return out


def effective_range_count(n_bins: int) -> float:
    """Return the effective number of distinct contiguous ranges over ``n_bins`` ordered bins.

    Ranges of width ``w`` are counted once per ``w`` bins of position, ``(b - w + 1) / w``,
    summed over widths: neighbouring ranges of the same width share most of their rows, so
    their statistics are nearly equal. It prices the search over ranges of one numeric
    feature: 179 for 50 bins instead of the 1,275 ranges.
    """
    if n_bins <= 0:
        return 0.0
    w = np.arange(1, n_bins + 1, dtype=np.float64)
    return float(((n_bins - w + 1) / w).sum())


def fisher_greater(k1: int, n1: int, k0: int, n0: int) -> float:
    """One-sided Fisher exact p-value that the slice rate k1/n1 exceeds the rest k0/n0."""
    table = [[int(k1), int(n1 - k1)], [int(k0), int(n0 - k0)]]
    return float(stats.fisher_exact(table, alternative="greater").pvalue)


class Moments(NamedTuple):
    """Mean, variance (ddof=1) and number of rows of a set of values: what every mean test
    and interval below reads, from the rows (``moments``) or from their sums
    (``moments_of_sums``)."""

    mean: float
    var: float
    n: float


def moments(values: np.ndarray, weights: np.ndarray | None = None) -> Moments:
    """The moments of ``values``; with sample weights, the weighted mean, the weighted
    variance scaled to Kish's effective size and that size, so every interval and test
    below reads weighted rows as fewer, equal ones."""
    if weights is None:
        n = float(values.size)
        return Moments(
            float(values.mean()) if n else math.nan,
            float(values.var(ddof=1)) if n > 1 else math.nan,
            n,
        )
    total = float(weights.sum())
    if total <= 0:
        return Moments(math.nan, math.nan, 0.0)
    mean = float(np.dot(weights, values)) / total
    n_eff = total**2 / float(np.dot(weights, weights))
    spread = float(np.dot(weights, (values - mean) ** 2)) / total
    return Moments(mean, spread * n_eff / (n_eff - 1) if n_eff > 1 else math.nan, n_eff)


def moments_of_sums(n: float, total: float, squares: float, shift: float = 0.0) -> Moments:
    """The moments of ``n`` values from ``total = sum(x - shift)`` and
    ``squares = sum((x - shift)**2)``: sums that merge across partitions. A shift near the
    mean keeps the variance free of cancellation."""
    if n <= 0:
        return Moments(math.nan, math.nan, 0.0)
    var = max(squares - total * total / n, 0.0) / (n - 1) if n > 1 else math.nan
    return Moments(shift + total / n, var, float(n))


def welch_greater(inside: Moments, outside: Moments) -> float:
    """One-sided Welch t-test p-value that the mean inside exceeds the mean outside."""
    m1, var1, n1 = inside
    m0, var0, n0 = outside
    if not (n1 > 1 and n0 > 1):
        return 1.0
    v1, v0 = var1 / n1, var0 / n0
    if v1 + v0 == 0:
        return 0.0 if m1 > m0 else 1.0
    df = (v1 + v0) ** 2 / (v1 * v1 / (n1 - 1) + v0 * v0 / (n0 - 1))
    return float(stats.t.sf((m1 - m0) / math.sqrt(v1 + v0), df))


def permutation_greater(
    inside: np.ndarray, outside: np.ndarray, rng: np.random.Generator, n_resamples: int = 9999
) -> float:
    """Monte-Carlo permutation p-value that the mean of ``inside`` exceeds the pooled mean.

    Each resample draws ``len(inside)`` rows from the pooled rows (with replacement, which
    slightly widens the null distribution and so errs on the conservative side) and
    compares their mean with the observed one; ``p = (1 + #{mean_b >= observed}) / (B + 1)``.
    """
    pooled = np.concatenate([inside, outside])
    observed = inside.mean()
    count = 0
    chunk = max(1, 2_000_000 // max(inside.size, 1))
    done = 0
    while done < n_resamples:
        size = min(chunk, n_resamples - done)
        draws = pooled[rng.integers(0, pooled.size, size=(size, inside.size))].mean(axis=1)
        count += int(np.count_nonzero(draws >= observed - 1e-12 * abs(observed)))
        done += size
    return (1 + count) / (n_resamples + 1)


def katz_interval(
    k1: float, n1: float, k0: float, n0: float, z: float = Z95
) -> tuple[float, float]:
    """Katz log interval of the risk ratio ``(k1/n1) / (k0/n0)``; NaN when a side has no event."""
    if min(k1, k0) <= 0 or min(n1, n0) <= 0:
        return (math.nan, math.nan)
    log_rr = math.log((k1 / n1) / (k0 / n0))
    se = math.sqrt(max(1 / k1 - 1 / n1 + 1 / k0 - 1 / n0, 0.0))
    return (math.exp(log_rr - z * se), math.exp(log_rr + z * se))


def newcombe_interval(
    k1: float, n1: float, k0: float, n0: float, confidence: float = 0.95
) -> tuple[float, float]:
    """Newcombe hybrid score interval (method 10) of the difference ``k1/n1 - k0/n0``."""
    if n1 <= 0 or n0 <= 0:
        return (math.nan, math.nan)
    p1, p0 = k1 / n1, k0 / n0
    l1, u1 = (float(v) for v in wilson_interval(k1, n1, confidence))
    l0, u0 = (float(v) for v in wilson_interval(k0, n0, confidence))
    d = p1 - p0
    return (
        d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2),
        d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2),
    )


def mean_interval(m: Moments, z: float = Z95) -> tuple[float, float]:
    """Student t interval of a mean (``z`` sets the confidence, 1.96 for 95%)."""
    mean, var, n = m
    if not n > 1:
        return (math.nan, math.nan)
    confidence = 2 * stats.norm.cdf(z) - 1
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * math.sqrt(var) / math.sqrt(n)
    return (mean - half, mean + half)


def mean_ratio_interval(inside: Moments, outside: Moments, z: float = Z95) -> tuple[float, float]:
    """Delta-method log interval of the ratio of two means (positive losses)."""
    m1, var1, n1 = inside
    m0, var0, n0 = outside
    if not (n1 > 1 and n0 > 1) or m1 <= 0 or m0 <= 0:
        return (math.nan, math.nan)
    se = math.sqrt(var1 / (n1 * m1 * m1) + var0 / (n0 * m0 * m0))
    log_ratio = math.log(m1 / m0)
    return (math.exp(log_ratio - z * se), math.exp(log_ratio + z * se))


def welch_difference_interval(
    inside: Moments, outside: Moments, z: float = Z95
) -> tuple[float, float]:
    """Welch (Satterthwaite) interval of the difference of two means."""
    m1, var1, n1 = inside
    m0, var0, n0 = outside
    if not (n1 > 1 and n0 > 1):
        return (math.nan, math.nan)
    v1, v0 = var1 / n1, var0 / n0
    d = m1 - m0
    if v1 + v0 == 0:
        return (d, d)
    df = (v1 + v0) ** 2 / (v1 * v1 / (n1 - 1) + v0 * v0 / (n0 - 1))
    confidence = 2 * stats.norm.cdf(z) - 1
    half = stats.t.ppf(0.5 + confidence / 2, df) * math.sqrt(v1 + v0)
    return (d - half, d + half)
