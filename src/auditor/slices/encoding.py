"""Discretise table columns into the integer codes the slice search runs on.

Every feature becomes one array of *base codes* (one per row) and a map from base codes to
the coarse *items* of the lattice:

- a numeric column with more than ``n_bins`` distinct values gets ``n_fine_bins`` ordered
  quantile bins (base codes) nested in ``n_bins`` coarse quantile bins (items); a value
  repeated so often that it fills several quantiles gets a bin of its own;
- a numeric column with at most ``n_bins`` distinct values is ordered too: each value is a
  base code and an item;
- a categorical column's frequent levels are items; levels rarer than the minimum slice
  size are pooled into one ``other`` item.

Missing values get their own code (an item ``is missing``). Bins depend on the feature
values only, never on the errors, so they may be fitted on every row without biasing the
confirmation half.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# A pooled 'other' item lists its levels in the report; beyond this many it is left out of
# the search (a slice reading "city in 4,000 rare levels" explains nothing).
MAX_POOLED_LEVELS = 50

CATEGORICAL, NUMERIC, DISCRETE = "categorical", "numeric", "discrete"


@dataclass(frozen=True, eq=False)
class CodedFeature:
    """One feature as integer codes, with what each code means.

    Attributes
    ----------
    name : str
        The column.
    kind : {"categorical", "numeric", "discrete"}
        ``numeric``: quantile bins of a continuous column; ``discrete``: a numeric column
        with few distinct values; ``categorical``: levels.
    codes : ndarray of int32, shape (n,)
        Base code of every row. Ordered kinds use ``0 .. n_ordered - 1`` for values in
        increasing order and ``n_ordered`` for missing values. Categorical columns use
        ``0 .. n_levels - 1`` for frequent levels, then ``other``, then missing.
    n_codes : int
        Number of base codes.
    n_ordered : int
        Ordered base codes (0 for categorical columns): only these form ranges.
    item_lo, item_hi : ndarray of int
        Base-code range ``[item_lo[c], item_hi[c]]`` of each coarse item ``c``.
    item_of_code : ndarray of int
        Coarse item of each base code.
    edges : ndarray of float
        Numeric: the inner bin edges, ``code = searchsorted(edges, x, side="right")``.
    values : tuple
        Discrete: the value of each ordered code. Categorical: the level of each frequent
        code.
    pooled : tuple
        Categorical: the levels pooled into ``other``.
    usable : ndarray of bool
        Per coarse item: whether the search may use it (False for an ``other`` pool listing
        more than ``MAX_POOLED_LEVELS`` levels).
    """

    name: str
    kind: str
    codes: np.ndarray
    n_codes: int
    n_ordered: int
    item_lo: np.ndarray
    item_hi: np.ndarray
    item_of_code: np.ndarray
    edges: np.ndarray
    values: tuple
    pooled: tuple
    usable: np.ndarray

    @property
    def ordered(self) -> bool:
        return self.kind != CATEGORICAL

    @property
    def n_items(self) -> int:
        return int(self.item_lo.size)

    @property
    def missing_code(self) -> int:
        """The base code of missing values."""
        return self.n_codes - 1

    def condition(self, lo: int, hi: int) -> list[dict[str, Any]]:
        """Conditions ``{"column", "op", "value"}`` selecting base codes ``lo .. hi``."""
        name = self.name
        if lo == self.missing_code:
            return [{"column": name, "op": "is_null", "value": None}]
        if self.kind == CATEGORICAL:
            if lo < len(self.values):
                return [{"column": name, "op": "==", "value": self.values[lo]}]
            return [{"column": name, "op": "in", "value": list(self.pooled)}]
        if self.kind == DISCRETE:
            if lo == hi:
                return [{"column": name, "op": "==", "value": self.values[lo]}]
            out = []
            if lo > 0:
                out.append({"column": name, "op": ">=", "value": self.values[lo]})
            if hi < self.n_ordered - 1:
                out.append({"column": name, "op": "<=", "value": self.values[hi]})
            return out
        out = []
        if lo > 0:
            out.append({"column": name, "op": ">=", "value": float(self.edges[lo - 1])})
        if hi < self.n_ordered - 1:
            out.append({"column": name, "op": "<", "value": float(self.edges[hi])})
        return out


def _plain(value: Any) -> Any:
    """A level as a JSON scalar: numpy scalars become Python numbers, other objects text."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, TypeError):
            return str(value)
    if isinstance(value, (str, bool, int)) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)


def _level_key(value: Any) -> tuple[str, str]:
    return (type(value).__name__, str(value))


def encode_frame(
    frame: pd.DataFrame,
    columns: Sequence[str],
    numeric: Sequence[str],
    *,
    count_rows: np.ndarray,
    min_count: int,
    n_bins: int = 10,
    n_fine_bins: int = 50,
) -> list[CodedFeature]:
    """Encode ``columns`` of ``frame`` for the slice search.

    Parameters
    ----------
    frame : DataFrame
        The rows to encode (all of them get codes).
    columns : sequence of str
        The features, in report order.
    numeric : sequence of str
        The columns among ``columns`` to treat as numbers.
    count_rows : ndarray of int
        Positions of the rows whose level counts decide which categorical levels are items
        (the discovery half).
    min_count : int
        A categorical level needs this many ``count_rows`` to be an item of its own.
    n_bins, n_fine_bins : int
        Coarse and fine quantile bins of continuous numeric columns.

    Returns
    -------
    list of CodedFeature
    """
    numeric = set(numeric)
    out = []
    for name in columns:
        series = frame[name]
        if name in numeric:
            values = pd.to_numeric(series, errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            )
            out.append(_encode_numeric(name, values, n_bins, n_fine_bins))
        else:
            out.append(_encode_categorical(name, series, count_rows, min_count))
    return out


def _encode_numeric(name: str, x: np.ndarray, n_bins: int, n_fine_bins: int) -> CodedFeature:
    missing = ~np.isfinite(x)
    present = x[~missing]
    distinct = np.unique(present)
    if distinct.size <= n_bins:
        codes = np.searchsorted(distinct, x).astype(np.int32)
        codes[missing] = distinct.size
        n_ordered = int(distinct.size)
        n_codes = n_ordered + 1
        identity = np.arange(n_codes)
        return CodedFeature(
            name=name,
            kind=DISCRETE,
            codes=codes,
            n_codes=n_codes,
            n_ordered=n_ordered,
            item_lo=identity,
            item_hi=identity,
            item_of_code=identity,
            edges=np.empty(0),
            values=tuple(int(v) if float(v).is_integer() else float(v) for v in distinct),
            pooled=(),
            usable=np.ones(n_codes, dtype=bool),
        )
    coarse_edges = _quantile_edges(present, distinct, n_bins)
    fine_edges = np.union1d(coarse_edges, _quantile_edges(present, distinct, n_fine_bins))
    codes = np.searchsorted(fine_edges, x, side="right").astype(np.int32)
    n_ordered = int(fine_edges.size + 1)
    codes[missing] = n_ordered
    n_codes = n_ordered + 1
    # Coarse edges are fine edges, so every coarse bin is a run of fine bins.
    lower = np.concatenate([[-np.inf], fine_edges])
    item_of_code = np.append(
        np.searchsorted(coarse_edges, lower, side="right"), coarse_edges.size + 1
    )
    n_items = coarse_edges.size + 2
    item_lo = np.array([np.flatnonzero(item_of_code == c)[0] for c in range(n_items)])
    item_hi = np.array([np.flatnonzero(item_of_code == c)[-1] for c in range(n_items)])
    return CodedFeature(
        name=name,
        kind=NUMERIC,
        codes=codes,
        n_codes=n_codes,
        n_ordered=n_ordered,
        item_lo=item_lo,
        item_hi=item_hi,
        item_of_code=item_of_code,
        edges=fine_edges,
        values=(),
        pooled=(),
        usable=np.ones(n_items, dtype=bool),
    )


def _quantile_edges(present: np.ndarray, distinct: np.ndarray, n_bins: int) -> np.ndarray:
    """Inner quantile edges; a value filling several quantiles gets a bin ``[v, next)``."""
    if present.size == 0:
        return np.empty(0)
    probs = np.arange(1, n_bins) / n_bins
    raw = np.quantile(present, probs)
    edges, counts = np.unique(raw, return_counts=True)
    heavy = edges[counts > 1]
    if heavy.size:
        # The next distinct value closes the bin of a heavily repeated value.
        after = np.searchsorted(distinct, heavy, side="right")
        after = after[after < distinct.size]
        edges = np.union1d(edges, distinct[after])
    # An edge at the minimum would leave an empty first bin.
    return edges[edges > distinct[0]]


def _encode_categorical(
    name: str, series: pd.Series, count_rows: np.ndarray, min_count: int
) -> CodedFeature:
    raw_codes, uniques = pd.factorize(series, use_na_sentinel=True)
    n_levels = len(uniques)
    counts = np.bincount(raw_codes[count_rows][raw_codes[count_rows] >= 0], minlength=n_levels)
    levels = [_plain(u) for u in uniques]
    frequent = [i for i in range(n_levels) if counts[i] >= min_count]
    frequent.sort(key=lambda i: _level_key(levels[i]))
    rare = sorted(
        (i for i in range(n_levels) if counts[i] < min_count), key=lambda i: _level_key(levels[i])
    )
    n_frequent = len(frequent)
    other, missing = n_frequent, n_frequent + 1
    lut = np.full(n_levels + 1, other, dtype=np.int32)  # the last slot maps the NA sentinel
    lut[frequent] = np.arange(n_frequent, dtype=np.int32)
    lut[n_levels] = missing
    codes = lut[np.where(raw_codes < 0, n_levels, raw_codes)]
    n_codes = n_frequent + 2
    identity = np.arange(n_codes)
    usable = np.ones(n_codes, dtype=bool)
    usable[other] = 0 < len(rare) <= MAX_POOLED_LEVELS
    return CodedFeature(
        name=name,
        kind=CATEGORICAL,
        codes=codes,
        n_codes=n_codes,
        n_ordered=0,
        item_lo=identity,
        item_hi=identity,
        item_of_code=identity,
        edges=np.empty(0),
        values=tuple(levels[i] for i in frequent),
        pooled=tuple(levels[i] for i in rare),
        usable=usable,
    )


class ConditionMasks:
    """The rows of ``frame`` that meet conditions, as ``CodedFeature.condition`` writes
    them: a slice as its report states it, on rows that were never encoded.

    Columns in ``numeric`` are read as numbers (a non-finite value is missing, as in
    ``encode_frame``); the others compare each level by ``_plain`` type and text, so a
    level reads the same on rows of another partition. Each column is read, and each
    condition evaluated, once however many slices share it.
    """

    def __init__(self, frame: pd.DataFrame, numeric: Sequence[str]):
        self._frame = frame
        self._numeric = set(numeric)
        self._columns: dict[str, Any] = {}
        self._masks: dict[tuple[str, str, str], np.ndarray] = {}

    def __call__(self, conditions: Sequence[dict[str, Any]]) -> np.ndarray:
        out = np.ones(len(self._frame), dtype=bool)
        for condition in conditions:
            out &= self._mask(condition["column"], condition["op"], condition["value"])
        return out

    def _column(self, column: str):
        if column not in self._columns:
            series = self._frame[column]
            if column in self._numeric:
                x = pd.to_numeric(series, errors="coerce").to_numpy(
                    dtype=np.float64, na_value=np.nan
                )
                self._columns[column] = (x, np.isfinite(x))
            else:
                self._columns[column] = pd.factorize(series, use_na_sentinel=True)
        return self._columns[column]

    def _mask(self, column: str, op: str, value: Any) -> np.ndarray:
        key = (column, op, repr(value))
        if key in self._masks:
            return self._masks[key]
        if column in self._numeric:
            x, present = self._column(column)
            if op == "is_null":
                mask = ~present
            else:
                with np.errstate(invalid="ignore"):
                    compared = {
                        "==": np.equal,
                        ">=": np.greater_equal,
                        "<=": np.less_equal,
                        "<": np.less,
                    }[op](x, value)
                mask = present & compared
        else:
            codes, uniques = self._column(column)
            if op == "is_null":
                mask = codes < 0
            else:
                wanted = {_level_key(v) for v in (value if op == "in" else [value])}
                member = np.array([_level_key(_plain(u)) in wanted for u in uniques] + [False])
                mask = member[np.where(codes < 0, len(uniques), codes)]
        self._masks[key] = mask
        return mask


def rows_meeting(
    frame: pd.DataFrame, conditions: Sequence[dict[str, Any]], numeric: Sequence[str]
) -> np.ndarray:
    """The rows of ``frame`` that meet every condition (see ``ConditionMasks``)."""
    return ConditionMasks(frame, numeric)(conditions)
