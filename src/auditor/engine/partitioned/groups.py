"""Quartile groups of a numeric sensitive column on every row.

Quantiles do not merge, but rows per value and per float bin do (``partials.NumberSpread``,
counted in a pass before the main one). A column of at most ``MAX_NUMERIC_LEVELS`` distinct
values (years, small counts) gets the exact quantiles of every row from its value counts;
any other gets them from its rows per float bin, each cut moved to the floor of the bin
holding it, so that its groups are unions of float bins. The main pass then counts each
group's rows by comparing values with the cuts (``partials.cut_groups``).
"""

from __future__ import annotations

import numpy as np

from auditor.engine.partitioned.partials import NumberSpread, float_bin_floor, float_bins


def quantile_edges(spread: NumberSpread, quantiles: tuple[float, ...]) -> np.ndarray:
    """The group edges (increasing, distinct: ``np.unique`` of the cut values) of the
    column's finite values at ``quantiles``, which run from 0 to 1 as the in-memory check's
    do: exactly its ``np.quantile`` edges from the value counts, else ``snapped_edges``."""
    if spread.values is None:
        return snapped_edges(spread, quantiles)
    counts = spread.values[np.isfinite(spread.values.index.to_numpy(dtype=float))]
    counts = counts.sort_index()
    values = counts.index.to_numpy(dtype=float)
    through = np.cumsum(counts.to_numpy(dtype=np.int64))
    edges = []
    for q in quantiles:
        h = (through[-1] - 1) * q
        low, high = values[np.searchsorted(through, [np.floor(h), np.ceil(h)], side="right")]
        # numpy's own interpolation between the two order statistics around h.
        edges.append(float(np.quantile(np.array([low, high]), h - np.floor(h))))
    return np.unique(edges)


def snapped_edges(spread: NumberSpread, quantiles: tuple[float, ...]) -> np.ndarray:
    """The edges of ``quantile_edges`` from rows per float bin: the lowest and highest
    value, and each inner quantile moved to the floor of the float bin holding the order
    statistic above it (rank ``ceil(h)``, ``h = (n - 1) q``).

    Rows of that bin below the exact quantile change sides: the cut is within one bin's
    width (1/256 of its magnitude) below the exact one. There is no such row, and the groups
    are the exact quantile's, when the quantile equals the bin's smallest value (tied values,
    whole numbers below 256) or when the order statistics around it lie in different bins.
    A cut in the lowest value's bin is dropped (it would leave no row below it): exactly
    what ``np.unique`` does with a quantile equal to the lowest value.
    """
    histogram = spread.histogram.sort_index()
    codes = histogram.index.to_numpy(dtype=np.int64)
    through = np.cumsum(histogram.to_numpy(dtype=np.int64))
    lowest = float_bins(np.array([spread.low]))[0]
    cuts = []
    for q in quantiles:
        if 0 < q < 1:  # the lowest and highest values are edges of their own
            code = codes[np.searchsorted(through, np.ceil((through[-1] - 1) * q), side="right")]
            if code > lowest:
                cuts.append(code)
    inner = float_bin_floor(np.array(cuts, dtype=np.int64))
    return np.unique(np.concatenate([[spread.low], inner, [spread.high]]))
