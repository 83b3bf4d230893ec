"""Seeded, vectorized bootstrap of many metrics at once.

Resamples are drawn as count weights in chunks (B_chunk x n), so every metric sees the same
resamples (their intervals are paired) and memory stays bounded on large test sets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np

WeightedStatistic = Callable[[np.ndarray], np.ndarray]

# Cells of one weight chunk; 4M float64 cells is 32 MB per temporary matrix.
_CHUNK_CELLS = 4_000_000


def resample_weights(n: int, n_resamples: int, rng: np.random.Generator):
    """Yield (chunk, n) arrays of bootstrap counts; each row sums to n."""
    chunk = max(1, min(n_resamples, _CHUNK_CELLS // max(n, 1)))
    done = 0
    while done < n_resamples:
        size = min(chunk, n_resamples - done)
        draws = rng.integers(0, n, size=(size, n))
        draws += (np.arange(size) * n)[:, None]  # in place: no second (size, n) temporary
        yield np.bincount(draws.ravel(), minlength=size * n).reshape(size, n).astype(np.float64)
        done += size


def bootstrap_statistics(
    statistics: Mapping[str, WeightedStatistic],
    n: int,
    *,
    n_resamples: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Evaluate every weighted statistic on the same ``n_resamples`` bootstrap resamples."""
    return statistics_on(statistics, resample_weights(n, n_resamples, rng))


def statistics_on(
    statistics: Mapping[str, WeightedStatistic], chunks: Iterable[np.ndarray]
) -> dict[str, np.ndarray]:
    """Every weighted statistic on each chunk of resample weights, concatenated."""
    collected: dict[str, list[np.ndarray]] = {key: [] for key in statistics}
    for weights in chunks:
        for key, statistic in statistics.items():
            collected[key].append(statistic(weights))
    return {key: np.concatenate(parts) for key, parts in collected.items()}


def percentile_interval(
    replicates: np.ndarray, level: float = 0.95
) -> tuple[float | None, float | None]:
    """Percentile interval of bootstrap replicates; None when too many replicates are undefined.

    Replicates are undefined (NaN) when a resample lacks a class, for example; more than
    5% undefined means the interval would not describe the metric, so none is reported.
    """
    finite = replicates[np.isfinite(replicates)]
    if finite.size < 0.95 * replicates.size or finite.size < 2:
        return None, None
    alpha = (1 - level) / 2
    low, high = np.quantile(finite, [alpha, 1 - alpha])
    return float(low), float(high)
