"""Per-partition partial results and their merge: plain numpy, no Dask.

Each partial is a sufficient statistic of its rows that merges exactly with another by
addition (counts, sums, histograms, Poisson bootstrap sums) or by Chan's formula (means
and centred squares): the merged result does not depend on how the rows are partitioned.

Scores are binned on the logit scale, ``FINE_BINS`` bins over logit in [-18, 18] for the
point estimates (probabilities 1.5e-8 .. 1 - 1.5e-8; beyond, the end bins) and
``COARSE_BINS`` for the bootstrap replicates. ROC AUC and average precision of binned scores
treat two rows in one bin as tied; the error bound of the point estimate is computed from
the histograms (``auc_binning_bound``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd

from auditor.engine.kinds import as_float
from auditor.engine.partitioned.hashing import poisson_weights
from auditor.engine.placeholder_codes import PLACEHOLDER_CODES

FINE_BINS = 1 << 16
COARSE_BINS = 1 << 10
LOGIT_LIMIT = 18.0
_EPS = 1e-15  # auditor.metrics clips probabilities so for the log loss
_CHUNK_ROWS = 16_384  # rows per block of bootstrap weights: 200 x 16,384 uint8 is 3 MB


def score_bins(p: np.ndarray, n_bins: int) -> np.ndarray:
    """The logit-scale bin of each probability, 0 .. n_bins - 1."""
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        logit = np.log(p) - np.log1p(-p)
    logit = np.clip(np.nan_to_num(logit, nan=0.0), -LOGIT_LIMIT, LOGIT_LIMIT)
    bins = ((logit + LOGIT_LIMIT) * (n_bins / (2 * LOGIT_LIMIT))).astype(np.int64)
    return np.minimum(bins, n_bins - 1)


def bin_scores(n_bins: int) -> np.ndarray:
    """A representative probability per bin (its middle on the logit scale), increasing."""
    middle = (np.arange(n_bins) + 0.5) * (2 * LOGIT_LIMIT / n_bins) - LOGIT_LIMIT
    return 1 / (1 + np.exp(-middle))


def _replicate_sums(
    W: np.ndarray, cells: np.ndarray, n_cells: int, values: np.ndarray | None = None
) -> np.ndarray:
    """(B, n_cells) sums of each replicate's weights per cell; ``W`` is (rows, B).

    ``cells`` is (rows,) or (rows, m): m cells per row, each adding the row's weight times
    its entry of ``values`` (same shape; by default 1). Float32 products cost less than
    half of float64's: counts are exact below 2**24 per block, other sums within 1e-6 of
    the magnitudes they add, far below the bootstrap's own spread.
    """
    from scipy import sparse

    rows = W.shape[0]
    cells = cells.reshape(rows, -1)
    data = np.ones(cells.shape, dtype=np.float32) if values is None else values
    onehot = sparse.csr_matrix(
        (
            np.asarray(data, dtype=np.float32).ravel(),
            (cells.ravel(), np.repeat(np.arange(rows), cells.shape[1])),
        ),
        shape=(n_cells, rows),
    )
    return np.asarray(onehot @ W.astype(np.float32), dtype=np.float64).T


def fieldwise_sum(a: Any, b: Any) -> Any:
    """Two partials of one dataclass whose every field is a count or a sum, added field by
    field: how a partial of counts merges."""
    return type(a)(*(getattr(a, f.name) + getattr(b, f.name) for f in fields(a)))


@dataclass
class BinaryPartial:
    """Counts of (true class, predicted class, score bin), exact loss sums, and their
    Poisson bootstrap replicates. Classes are codes 0/1 in the audit's class order; the
    score is the probability of class ``positive``."""

    fine: np.ndarray  # (4 * FINE_BINS,) int64: cell (2*y + pred) * FINE_BINS + bin
    coarse: np.ndarray  # (B, 4 * COARSE_BINS) float64
    sums: np.ndarray  # (2,) brier, log loss
    sums_rep: np.ndarray  # (B, 2)

    __add__ = fieldwise_sum


def binary_partial(
    y: np.ndarray,
    y_pred: np.ndarray,
    score: np.ndarray,
    positive: int,
    hashes: np.ndarray,
    n_replicates: int,
) -> BinaryPartial:
    """The partial of one partition: ``y``/``y_pred`` class codes (0/1), ``score`` the
    probability of class ``positive``."""
    truth = (y == positive).astype(np.float64)
    p_true = np.where(y == positive, score, 1 - score)
    per_row = np.column_stack(
        [(score - truth) ** 2, -np.log(np.clip(p_true, _EPS, 1 - _EPS))]
    )  # binary probabilities sum to 1: the clip-then-normalise of auditor.metrics is this
    cell = (2 * y + y_pred).astype(np.int64)
    fine = np.bincount(cell * FINE_BINS + score_bins(score, FINE_BINS), minlength=4 * FINE_BINS)
    coarse_cell = cell * COARSE_BINS + score_bins(score, COARSE_BINS)
    coarse = np.zeros((n_replicates, 4 * COARSE_BINS))
    sums_rep = np.zeros((n_replicates, 2))
    for start in range(0, y.size, _CHUNK_ROWS):
        part = slice(start, start + _CHUNK_ROWS)
        W = poisson_weights(hashes[part], n_replicates)
        coarse += _replicate_sums(W, coarse_cell[part], 4 * COARSE_BINS)
        sums_rep += (per_row[part].T @ W.astype(np.float64)).T
    return BinaryPartial(fine.astype(np.int64), coarse, per_row.sum(axis=0), sums_rep)


@dataclass
class RegressionPartial:
    """Row 0: all rows; rows 1..B: the Poisson bootstrap replicates. Per row of weights:
    total weight, mean and centred sum of squares of y (merged by Chan's formula), and the
    sums of squared, absolute and absolute percentage errors; ``zero_targets`` counts y == 0."""

    n: np.ndarray
    mean: np.ndarray
    m2: np.ndarray
    sums: np.ndarray  # (B + 1, 3): squared, absolute, absolute percentage error
    zero_targets: int = 0

    def __add__(self, other: RegressionPartial) -> RegressionPartial:
        n = self.n + other.n
        with np.errstate(invalid="ignore", divide="ignore"):
            delta = other.mean - self.mean
            share = np.where(n > 0, other.n / np.where(n > 0, n, 1), 0.0)
            mean = self.mean + delta * share
            m2 = self.m2 + other.m2 + delta**2 * self.n * share
        return RegressionPartial(
            n, mean, m2, self.sums + other.sums, self.zero_targets + other.zero_targets
        )


# Per group of a sensitive column (regression), the sums its metrics need, in this order.
RESIDUAL_SUMS = ("rows", "residual", "absolute_error", "squared_error")


def regression_partial(
    y: np.ndarray,
    y_pred: np.ndarray,
    hashes: np.ndarray,
    n_replicates: int,
    groups: dict[str, pd.Series] | None = None,
) -> tuple[RegressionPartial, dict[str, dict | None]]:
    """The partial of one partition, and per sensitive column of ``groups`` (a group key
    per row) each group's ``RESIDUAL_SUMS``, a (1 + n_replicates, 4) array: over its rows,
    then over each Poisson replicate (None past ``MAX_GROUPS`` groups). Both from the same
    Poisson weights: drawing them is most of the cost."""
    error = y - y_pred
    per_row = np.column_stack(
        [error**2, np.abs(error), np.abs(error) / np.maximum(np.abs(y), np.finfo(float).eps)]
    )
    residuals = np.column_stack([np.ones_like(error), error, np.abs(error), error**2])
    keyed = {column: _group_codes(keys) for column, keys in (groups or {}).items()}
    replicated = {
        column: np.zeros((n_replicates, len(found[1]) * len(RESIDUAL_SUMS)))
        for column, found in keyed.items()
        if found is not None
    }
    total = None
    for start in range(0, y.size, _CHUNK_ROWS):
        part = slice(start, start + _CHUNK_ROWS)
        poisson = poisson_weights(hashes[part], n_replicates)
        W = np.vstack([np.ones((1, y[part].size)), poisson.T]).astype(np.float64)
        yc = y[part]
        centre = float(yc.mean()) if yc.size else 0.0
        n = W.sum(axis=1)
        s1 = W @ (yc - centre)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_c = np.where(n > 0, s1 / np.where(n > 0, n, 1), 0.0)
        m2 = W @ (yc - centre) ** 2 - n * mean_c**2
        chunk = RegressionPartial(n, mean_c + centre, np.maximum(m2, 0.0), W @ per_row[part])
        total = chunk if total is None else total + chunk
        for column, sums in replicated.items():
            codes = keyed[column][0][part]
            cells = codes[:, None] * len(RESIDUAL_SUMS) + np.arange(len(RESIDUAL_SUMS))
            sums += _replicate_sums(poisson, cells, sums.shape[1], residuals[part])
    if total is None:
        zeros = np.zeros(n_replicates + 1)
        total = RegressionPartial(
            zeros, zeros.copy(), zeros.copy(), np.zeros((n_replicates + 1, 3))
        )
    total.zero_targets = int(np.count_nonzero(y == 0))
    sums_by_group: dict[str, dict | None] = {column: None for column in keyed}
    for column, sums in replicated.items():
        codes, keys = keyed[column]
        width = len(RESIDUAL_SUMS)
        # The point sums in float64 on every row, exactly; the replicates' above.
        point = np.stack(
            [
                np.bincount(codes, weights=residuals[:, j], minlength=len(keys))
                for j in range(width)
            ],
            axis=1,
        )
        reps = sums.reshape(n_replicates, len(keys), width)
        sums_by_group[column] = {
            key: np.vstack([point[i], reps[:, i]]) for i, key in enumerate(keys) if point[i, 0] > 0
        }
    return total, sums_by_group


def _group_codes(keys: pd.Series) -> tuple[np.ndarray, list] | None:
    """A code per row (0: missing) and the key of each code (None: missing); None past
    ``MAX_GROUPS`` values."""
    codes, uniques = pd.factorize(keys, use_na_sentinel=True)
    if len(uniques) > MAX_GROUPS:
        return None
    found = [None, *(u.item() if hasattr(u, "item") else u for u in np.asarray(uniques, object))]
    return codes.astype(np.int64) + 1, found


MAX_LEVELS = 10_000  # distinct values of a text column counted exactly; more: not counted
# A numeric column is counted while each row group holds at most this many distinct values
# (flags, codes, small counts): continuous columns would cost a value_counts each.
MAX_NUMERIC_LEVELS = 64


@dataclass
class Profile:
    """Rows and missing cells per column of one split, and the value counts of its columns
    but dates (None for a column of more than ``MAX_LEVELS`` values)."""

    rows: int = 0
    missing: dict[str, int] = field(default_factory=dict)
    dtypes: dict[str, str] = field(default_factory=dict)
    digest: int = 0  # the sum of the row hashes mod 2**64: the content, in any row order
    levels: dict[str, pd.Series | None] = field(default_factory=dict)
    numeric: dict[str, NumericCounts] = field(default_factory=dict)
    # Per numeric column: rows per float bin (``float_bins``) of its finite values.
    histograms: dict[str, pd.Series] = field(default_factory=dict)

    def __add__(self, other: Profile) -> Profile:
        missing = dict(self.missing)
        for column, count in other.missing.items():
            missing[column] = missing.get(column, 0) + count
        levels = dict(self.levels)
        for column, counts in other.levels.items():
            levels[column] = (
                counts if column not in levels else merge_level_counts(levels[column], counts)
            )
        return Profile(
            self.rows + other.rows,
            missing,
            {**other.dtypes, **self.dtypes, **_widened(self.dtypes, other.dtypes)},
            (self.digest + other.digest) % (1 << 64),
            levels,
            {
                c: self.numeric[c] + other.numeric[c]
                if c in self.numeric and c in other.numeric
                else self.numeric.get(c) or other.numeric[c]
                for c in self.numeric.keys() | other.numeric.keys()
            },
            {
                c: merge_histograms(self.histograms.get(c), other.histograms.get(c))
                for c in self.histograms.keys() | other.histograms.keys()
            },
        )


# A float bin is 1/256 of a binade: sign, exponent and the top 8 bits of the mantissa.
FLOAT_BIN_SHIFT = np.uint64(44)


def histogram_quantile_bins(keys: np.ndarray, rows: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """The bins holding ``np.quantile(values, levels)`` of every row of a histogram.

    ``keys`` are increasing bin codes, ``rows`` each bin's rows. For each level the bin of
    the order statistic numpy's linear interpolation starts from (0-based
    ``floor((n - 1) * level)``): the exact quantile lies in that bin, or, interpolated
    towards the next order statistic, in a later bin at most as far as that one.
    """
    cum = np.cumsum(rows)
    position = np.floor((cum[-1] - 1) * np.asarray(levels, dtype=float))
    return keys[np.searchsorted(cum, position, side="right")]


def counted_quantile(values: np.ndarray, rows: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """``np.quantile`` (linear interpolation) of ``values`` (increasing, distinct) repeated
    ``rows`` times each, from the counts alone; to float rounding, numpy's own."""
    cum = np.cumsum(rows)
    n = int(cum[-1])
    position = (n - 1) * np.asarray(levels, dtype=float)
    below = np.floor(position)
    t = position - below
    low = values[np.searchsorted(cum, below, side="right")]
    high = values[np.searchsorted(cum, np.minimum(below + 1, n - 1), side="right")]
    # numpy's linear interpolation, computed from the nearer end as numpy does
    return np.where(t >= 0.5, high - (high - low) * (1 - t), low + (high - low) * t)


def float_bins(values: np.ndarray) -> np.ndarray:
    """The bin of each float (int64, increasing with the value): its top 20 bits in an
    order-preserving code, so a bin holds the values from ``m * 2**e`` to
    ``(m + 1/256) * 2**e`` (relative width at most 1/256); -0.0 is 0.0."""
    bits = (np.asarray(values, dtype=np.float64) + 0.0).view(np.uint64)
    negative = (bits >> np.uint64(63)).astype(bool)
    ordered = np.where(negative, ~bits, bits | np.uint64(1 << 63))
    return (ordered >> FLOAT_BIN_SHIFT).astype(np.int64)


def float_bin_values(keys: np.ndarray) -> np.ndarray:
    """Each float bin's value nearest zero: its values with the mantissa cut to 8 bits
    (``float_bins``' inverse), so ``|value|`` is at most 1/256 below any of the bin's."""
    ordered = np.asarray(keys, dtype=np.int64).astype(np.uint64) << FLOAT_BIN_SHIFT
    positive = (ordered >> np.uint64(63)).astype(bool)
    bits = np.where(positive, ordered ^ np.uint64(1 << 63), ~ordered)
    # A negative bin's code ends in 44 one bits once inverted: cut them to zeros.
    bits = (bits >> FLOAT_BIN_SHIFT) << FLOAT_BIN_SHIFT
    return bits.view(np.float64)


def float_histogram(series: pd.Series) -> pd.Series:
    """Rows per float bin of a numeric column's finite values (int64 index and counts)."""
    values = as_float(series)
    counts = pd.Series(float_bins(values[np.isfinite(values)])).value_counts(sort=False)
    return counts.astype(np.int64)


def merge_histograms(a: pd.Series | None, b: pd.Series | None) -> pd.Series:
    if a is None or b is None:
        return a if b is None else b
    return a.add(b, fill_value=0).astype(np.int64)


def float_bin_floor(keys: np.ndarray) -> np.ndarray:
    """The smallest float of each float bin: ``x >= float_bin_floor(c)`` exactly when
    ``float_bins(x) >= c``, so a cut there splits the rows between whole bins."""
    keys = np.asarray(keys, dtype=np.int64)
    positive = keys >= float_bins(np.zeros(1))[0]
    # A negative bin's values lie above the largest value (the one nearest zero) of the bin
    # below it, which float_bin_values gives.
    below = np.nextafter(float_bin_values(np.where(positive, keys, keys - 1)), np.inf)
    return np.where(positive, float_bin_values(keys), below)


# A numeric sensitive column spread over more float bins than this is cut on the sample (a
# realistic column spans a few thousand: 256 per power of two of its range).
MAX_SPREAD_BINS = 1 << 16


@dataclass
class NumberSpread:
    """A numeric sensitive column's labelled test rows, counted before the main pass so that
    its quartile cuts are known there: rows per float bin of the finite values (None past
    ``MAX_SPREAD_BINS``), the lowest and highest finite value, and rows per non-missing
    value (None past ``MAX_NUMERIC_LEVELS`` values: a column of at most 10 values is
    grouped by value, on the sample; one of a few dozen is cut at its exact quartiles)."""

    histogram: pd.Series | None
    low: float
    high: float
    values: pd.Series | None

    def __add__(self, other: NumberSpread) -> NumberSpread:
        histogram = None
        if self.histogram is not None and other.histogram is not None:
            histogram = merge_histograms(self.histogram, other.histogram)
            if len(histogram) > MAX_SPREAD_BINS:
                histogram = None
        values = None
        if self.values is not None and other.values is not None:
            values = merge_histograms(self.values, other.values)
            if len(values) > MAX_NUMERIC_LEVELS:
                values = None
        return NumberSpread(histogram, min(self.low, other.low), max(self.high, other.high), values)


def number_spread(series: pd.Series) -> NumberSpread:
    values = as_float(series)
    finite = values[np.isfinite(values)]
    histogram = float_histogram(series)
    counts = None
    # Every occupied bin holds a distinct value: past the cap, no need to count values.
    if len(histogram) <= MAX_NUMERIC_LEVELS:
        counts = pd.Series(values[~np.isnan(values)]).value_counts(sort=False)
        counts = counts.astype(np.int64) if len(counts) <= MAX_NUMERIC_LEVELS else None
    return NumberSpread(
        histogram if len(histogram) <= MAX_SPREAD_BINS else None,
        float(finite.min()) if finite.size else math.inf,
        float(finite.max()) if finite.size else -math.inf,
        counts,
    )


def cut_groups(series: pd.Series, cuts: np.ndarray) -> pd.Series:
    """The group of each row of a numeric column cut at the values ``cuts`` (increasing):
    0 below the first, i from the i-th on; missing for a value that is not finite (the
    in-memory check's missing group)."""
    values = as_float(series)
    finite = np.isfinite(values)
    group = np.searchsorted(cuts, np.where(finite, values, 0.0), side="right")
    return pd.Series(pd.array(group, dtype="Int64")).mask(~finite)


_OPS = {">=": np.greater_equal, ">": np.greater, "<=": np.less_equal, "<": np.less}


_CODES = np.array(PLACEHOLDER_CODES, dtype=np.float64)


@dataclass
class NumericCounts:
    """A numeric column's finite values, their range, negatives and infinities, the values
    violating each declared domain (``(op, bound)``, in the plan's order), the rows holding
    its maximum and the rows of each placeholder code (``PLACEHOLDER_CODES``)."""

    finite: int = 0
    low: float = math.inf
    high: float = -math.inf
    negative: int = 0
    infinite: int = 0
    violations: tuple[int, ...] = ()
    at_high: int = 0
    codes: tuple[int, ...] = (0,) * len(PLACEHOLDER_CODES)

    def __add__(self, other: NumericCounts) -> NumericCounts:
        at_high = (self.at_high if self.high >= other.high else 0) + (
            other.at_high if other.high >= self.high else 0
        )
        return NumericCounts(
            self.finite + other.finite,
            min(self.low, other.low),
            max(self.high, other.high),
            self.negative + other.negative,
            self.infinite + other.infinite,
            tuple(a + b for a, b in zip(self.violations, other.violations, strict=True)),
            at_high,
            tuple(a + b for a, b in zip(self.codes, other.codes, strict=True)),
        )


def numeric_counts(series: pd.Series, domains: tuple[tuple[str, float], ...]) -> NumericCounts:
    values = as_float(series)
    finite = values[np.isfinite(values)]
    with np.errstate(invalid="ignore"):
        violations = tuple(
            int(
                (
                    ~np.isnan(values) & ~_OPS[op](np.where(np.isnan(values), bound, values), bound)
                ).sum()
            )
            for op, bound in domains
        )
    high = float(finite.max()) if finite.size else -math.inf
    # Codes are whole numbers: a continuous column leaves few values to look up.
    whole = finite[finite == np.rint(finite)]
    hits = whole[np.isin(whole, _CODES)]
    codes = np.bincount(np.searchsorted(_CODES, hits), minlength=_CODES.size)
    return NumericCounts(
        int(finite.size),
        float(finite.min()) if finite.size else math.inf,
        high,
        int((finite < 0).sum()),
        int(np.isinf(values).sum()),
        violations,
        int((finite == high).sum()),
        tuple(int(c) for c in codes),
    )


@dataclass(frozen=True)
class TailQuery:
    """What ``data.out_of_range``'s robust rules ask of one numeric column's finite values,
    once the main pass has given its quantiles: the rows in each closed range ``[lo, hi]``;
    the rows per value in each range of ``valued``; the ``lowest`` smallest distinct
    values at or above zero; the ``largest`` and ``smallest`` values (as many as asked,
    repeats included) leaving out the values of ``exclude`` (placeholder codes)."""

    ranges: tuple[tuple[float, float], ...] = ()
    valued: tuple[tuple[float, float], ...] = ()
    lowest: int = 0
    largest: int = 0
    smallest: int = 0
    exclude: tuple[float, ...] = ()


@dataclass
class TailCounts:
    """A ``TailQuery``'s answer on some rows; merged exactly: counts add, value counts add
    (None once past ``MAX_COUNTED_VALUES`` values), the lowest distinct values and the
    extreme values of two partitions keep those of their union."""

    query: TailQuery
    ranges: np.ndarray
    valued: list[pd.Series | None]
    lowest: np.ndarray
    largest: np.ndarray  # decreasing
    smallest: np.ndarray  # increasing

    def __add__(self, other: TailCounts) -> TailCounts:
        both = np.concatenate
        return TailCounts(
            self.query,
            self.ranges + other.ranges,
            [
                merge_level_counts(a, b, MAX_COUNTED_VALUES)
                for a, b in zip(self.valued, other.valued, strict=True)
            ],
            np.union1d(self.lowest, other.lowest)[: self.query.lowest],
            -np.sort(-both([self.largest, other.largest]))[: self.query.largest],
            np.sort(both([self.smallest, other.smallest]))[: self.query.smallest],
        )


def tail_counts(series: pd.Series, query: TailQuery) -> TailCounts:
    """One partition's ``TailCounts`` of a numeric column."""
    values = as_float(series)
    finite = values[np.isfinite(values)]
    kept = finite[~np.isin(finite, query.exclude)] if query.exclude else finite

    def rows_per_value(lo: float, hi: float) -> pd.Series | None:
        inside = finite[(finite >= lo) & (finite <= hi)]
        return _rows_per_value(pd.Series(inside), MAX_COUNTED_VALUES)

    def extreme(m: int, sign: float) -> np.ndarray:
        if m >= kept.size:
            return np.sort(sign * kept) * sign
        # The m values nearest the end, by a partial sort (O(n)), then sorted.
        return np.sort(np.partition(sign * kept, m - 1)[:m]) * sign

    lowest = np.unique(finite[finite >= 0])[: query.lowest] if query.lowest else np.empty(0)
    return TailCounts(
        query,
        np.array([int(((finite >= lo) & (finite <= hi)).sum()) for lo, hi in query.ranges]),
        [rows_per_value(lo, hi) for lo, hi in query.valued],
        lowest,
        extreme(query.largest, -1.0) if query.largest else np.empty(0),
        extreme(query.smallest, 1.0) if query.smallest else np.empty(0),
    )


def level_counts(series: pd.Series) -> pd.Series | None:
    """Rows per non-missing value (object index, in no particular order), or None past
    ``MAX_LEVELS`` values (``MAX_NUMERIC_LEVELS`` for a numeric column; decided on the first
    rows alone when they hold that many)."""
    cap = MAX_NUMERIC_LEVELS if is_number_column(series) else MAX_LEVELS
    if series.iloc[: 2 * cap].nunique(dropna=True) > cap:
        return None  # a continuous column: not counted, at the cost of a look at its head
    return _rows_per_value(series, cap)


def _rows_per_value(series: pd.Series, cap: int) -> pd.Series | None:
    """Rows per non-missing value (object index, in no particular order), or None past
    ``cap`` values."""
    counts = series.value_counts(dropna=True, sort=False)
    counts = counts[counts.to_numpy() > 0]  # categories absent from the rows
    if len(counts) > cap:
        return None
    return pd.Series(
        counts.to_numpy(dtype=np.int64), index=pd.Index(counts.index.astype(object), dtype=object)
    )


def merge_level_counts(
    a: pd.Series | None, b: pd.Series | None, cap: int = MAX_LEVELS
) -> pd.Series | None:
    """The counts of two partitions' values, exactly; None once past ``cap`` values."""
    if a is None or b is None:
        return None
    merged = pd.concat([a, b]).groupby(level=0, sort=False).sum()
    return None if len(merged) > cap else merged


# data.constant_columns counts every value of a column near-constant on its screen that the
# main pass did not count (continuous numbers, text past MAX_LEVELS). Its values other than
# the top one are at most a few % of the rows, so their number grows with the rows, not with
# a category's cap; past this many (16 MB a column) the column reads the sample.
MAX_COUNTED_VALUES = 1_000_000


@dataclass
class ValueRows:
    """One split's exact counts for ``data.constant_columns``: per column ``counted``, the
    rows per non-missing value (None past ``MAX_COUNTED_VALUES``); per column ``asked``,
    the rows holding each of the values asked about (the top value of a column that another
    split's screen found near-constant), in the order asked."""

    counted: dict[str, pd.Series | None] = field(default_factory=dict)
    asked: dict[str, pd.Series] = field(default_factory=dict)

    def __add__(self, other: ValueRows) -> ValueRows:
        return ValueRows(
            {
                c: merge_level_counts(self.counted[c], other.counted[c], MAX_COUNTED_VALUES)
                for c in self.counted
            },
            {c: self.asked[c] + other.asked[c] for c in self.asked},
        )


def value_rows(frame: pd.DataFrame, counted: tuple[str, ...], asked: dict[str, tuple]) -> ValueRows:
    """The ``ValueRows`` of one partition. A value asked about is matched with ``==``, as
    the in-memory check counts a value's share of the other split."""
    return ValueRows(
        {c: _rows_per_value(frame[c], MAX_COUNTED_VALUES) for c in counted},
        {
            c: pd.Series(
                [int((frame[c] == value).sum()) for value in values],
                index=pd.Index(list(values), dtype=object),
                dtype=np.int64,
            )
            for c, values in asked.items()
        },
    )


def _counts_levels(series: pd.Series) -> bool:
    """Every column but dates (numbers of few distinct values are counted too)."""
    return not pd.api.types.is_datetime64_any_dtype(series.dtype)


def _widened(a: dict[str, str], b: dict[str, str]) -> dict[str, str]:
    """Columns read as integers in one partition and as decimals in another: decimals, as
    pandas reads the whole dataset (a missing value in one row group makes it float)."""
    out = {}
    for column in a.keys() & b.keys():
        kinds = {a[column][:1].lower(), b[column][:1].lower()}
        if a[column] != b[column] and "f" in kinds and kinds <= {"f", "i", "u"}:
            out[column] = a[column] if a[column][:1].lower() == "f" else b[column]
    return out


def is_number_column(series: pd.Series) -> bool:
    dtype = series.dtype
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def profile_partial(
    frame: pd.DataFrame,
    hashes: np.ndarray,
    domains: dict[str, tuple[tuple[str, float], ...]] | None = None,
    *,
    histograms: bool = False,
) -> Profile:
    """The profile of one partition; ``domains``: per column, the declared domains whose
    violations to count (``data.out_of_range``); ``histograms``: count each numeric
    column's rows per float bin (``data.feature_drift``)."""
    domains = domains or {}
    counts = frame.isna().sum()
    return Profile(
        len(frame),
        {str(c): int(v) for c, v in counts.items()},
        {str(c): str(t) for c, t in frame.dtypes.items()},
        int(hashes.sum(dtype=np.uint64)) if hashes.size else 0,
        {str(c): level_counts(frame[c]) for c in frame.columns if _counts_levels(frame[c])},
        {
            str(c): numeric_counts(frame[c], domains.get(str(c), ()))
            for c in frame.columns
            if is_number_column(frame[c]) or str(c) in domains
        },
        {
            str(c): float_histogram(frame[c])
            for c in frame.columns
            if histograms and is_number_column(frame[c])
        },
    )


@dataclass
class MulticlassPartial:
    """K classes: counts of (true class, predicted class), per class a histogram of its
    probability among its own rows and among the others (one-vs-rest ROC AUC), the exact
    log-loss sum, and the Poisson bootstrap replicates of each (coarse bins); and, for
    ``performance.calibration``'s ECE interval, the replicates' weights per (whether the top
    label is right, coarse bin of the top-label confidence)."""

    confusion: np.ndarray  # (K * K,) int64
    ovr: np.ndarray  # (K, 2, FINE_BINS) int64: [class c, (other, own), bin]
    log_loss: float
    confusion_rep: np.ndarray  # (B, K * K)
    ovr_rep: np.ndarray  # (B, K * 2 * COARSE_BINS)
    log_loss_rep: np.ndarray  # (B,)
    # (B, 2 * COARSE_BINS): [(top label wrong, right), coarse bin]; (B, 0) without
    # probabilities
    top_label_rep: np.ndarray

    __add__ = fieldwise_sum


def top_label(y: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The multiclass calibration score and outcome of each row: the top-label confidence
    (largest probability) and whether the top label is the true class."""
    top = np.argmax(proba, axis=1)
    return proba[np.arange(y.size), top], y == top


def multiclass_partial(
    y: np.ndarray,
    y_pred: np.ndarray,
    proba: np.ndarray | None,
    hashes: np.ndarray,
    n_replicates: int,
) -> MulticlassPartial:
    """``y``/``y_pred`` class codes; ``proba`` (rows, K) in class order, or None."""
    k = (
        proba.shape[1]
        if proba is not None
        else int(max(y.max(initial=0), y_pred.max(initial=0)) + 1)
    )
    k = max(k, 2)
    pair = (y * k + y_pred).astype(np.int64)
    confusion = np.bincount(pair, minlength=k * k)
    ovr = np.zeros((k, 2, FINE_BINS), dtype=np.int64)
    ovr_cells = []
    per_row = np.zeros(y.size)
    top_cells = None
    if proba is not None:
        for c in range(k):
            own = (y == c).astype(np.int64)
            fine_bins = score_bins(proba[:, c], FINE_BINS)
            ovr[c] = np.bincount(own * FINE_BINS + fine_bins, minlength=2 * FINE_BINS).reshape(
                2, FINE_BINS
            )
            ovr_cells.append((c * 2 + own) * COARSE_BINS + score_bins(proba[:, c], COARSE_BINS))
        clipped = np.clip(proba, _EPS, 1 - _EPS)
        clipped = clipped / clipped.sum(axis=1, keepdims=True)
        per_row = -np.log(clipped[np.arange(y.size), y])
        confidence, right = top_label(y, proba)
        top_cells = right * COARSE_BINS + score_bins(confidence, COARSE_BINS)
    confusion_rep = np.zeros((n_replicates, k * k))
    ovr_rep = np.zeros((n_replicates, k * 2 * COARSE_BINS))
    log_loss_rep = np.zeros(n_replicates)
    top_label_rep = np.zeros((n_replicates, 0 if top_cells is None else 2 * COARSE_BINS))
    for start in range(0, y.size, _CHUNK_ROWS):
        part = slice(start, start + _CHUNK_ROWS)
        W = poisson_weights(hashes[part], n_replicates)
        confusion_rep += _replicate_sums(W, pair[part], k * k)
        for cells in ovr_cells:
            ovr_rep += _replicate_sums(W, cells[part], k * 2 * COARSE_BINS)
        if top_cells is not None:
            top_label_rep += _replicate_sums(W, top_cells[part], 2 * COARSE_BINS)
        log_loss_rep += per_row[part] @ W.astype(np.float64)
    return MulticlassPartial(
        confusion.astype(np.int64),
        ovr,
        float(per_row.sum()),
        confusion_rep,
        ovr_rep,
        log_loss_rep,
        top_label_rep,
    )


MAX_GROUPS = 1_000  # values of a sensitive column whose cells are counted; more: not counted


def group_cells(keys: pd.Series, y: np.ndarray, y_pred: np.ndarray, k: int) -> dict | None:
    """Per group key of a sensitive column (None: missing), the rows of each (true class,
    predicted class) cell, ``y * k + y_pred``, as a (k * k,) int64 array; None past
    ``MAX_GROUPS`` values."""
    found = _group_codes(keys)
    if found is None:
        return None
    codes, keys_of = found
    cell = y.astype(np.int64) * k + y_pred.astype(np.int64)
    counts = np.bincount(codes * k * k + cell, minlength=len(keys_of) * k * k).reshape(
        len(keys_of), k * k
    )
    return {key: row for key, row in zip(keys_of, counts, strict=True) if row.any()}


def merge_group_cells(a: dict | None, b: dict | None) -> dict | None:
    """The cells (or residual sums) of two partitions' groups, summed; None once past
    ``MAX_GROUPS`` values."""
    if a is None or b is None:
        return None
    merged = dict(a)
    for key, row in b.items():
        merged[key] = merged[key] + row if key in merged else row
    return None if len(merged) > MAX_GROUPS else merged


@dataclass
class CalibrationCells:
    """``performance.calibration`` on every row: per logit bin (``FINE_BINS``) of the
    calibration score (binary: the positive class's probability; multiclass: the top-label
    confidence), its rows, the sums of its scores and outcomes (whether the row is positive;
    whether the top label is right), its lowest and highest score, and the sum of its
    squared scores (under perfect calibration a bin's outcome sum has variance
    ``sum s(1 - s)``, the null of the ECE's p-value). Bins of every row's quantile edges,
    snapped to these bins, are unions of them: every statistic of the check is a sum over
    them."""

    rows: np.ndarray  # (FINE_BINS,) int64
    scores: np.ndarray  # (FINE_BINS,) float64: sum of the scores
    squares: np.ndarray  # (FINE_BINS,) float64: sum of the squared scores
    outcomes: np.ndarray  # (FINE_BINS,) float64: sum of the outcomes (0/1)
    low: np.ndarray  # (FINE_BINS,) float64: lowest score (inf where empty)
    high: np.ndarray  # (FINE_BINS,) float64: highest score (-inf where empty)

    def __add__(self, other: CalibrationCells) -> CalibrationCells:
        return CalibrationCells(
            self.rows + other.rows,
            self.scores + other.scores,
            self.squares + other.squares,
            self.outcomes + other.outcomes,
            np.minimum(self.low, other.low),
            np.maximum(self.high, other.high),
        )


def calibration_cells(score: np.ndarray, outcome: np.ndarray) -> CalibrationCells:
    """The calibration cells of one partition's scores and 0/1 outcomes."""
    score = np.asarray(score, dtype=np.float64)
    fine = score_bins(score, FINE_BINS)
    low = np.full(FINE_BINS, np.inf)
    high = np.full(FINE_BINS, -np.inf)
    np.minimum.at(low, fine, score)
    np.maximum.at(high, fine, score)
    return CalibrationCells(
        np.bincount(fine, minlength=FINE_BINS).astype(np.int64),
        np.bincount(fine, weights=score, minlength=FINE_BINS),
        np.bincount(fine, weights=score**2, minlength=FINE_BINS),
        np.bincount(fine, weights=np.asarray(outcome, dtype=np.float64), minlength=FINE_BINS),
        low,
        high,
    )
