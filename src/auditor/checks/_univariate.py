"""Out-of-fold scoring of one column at a time against the target (shared by leakage checks).

A column is turned into integer *cells* (quantile bins of a number, categories, a missing
cell), and each row is scored with the target statistics of its cell computed on the
*other* folds only: a cell seen only in the held-out fold gets the overall rate. A
high-cardinality column therefore cannot memorise the target, and a legitimately strong
feature is measured honestly. Every statistic is computed from per-(fold, cell) counts,
so scoring a column costs a few ``bincount`` calls whatever the number of rows.

Scores:

- classification: ROC AUC of the out-of-fold class rate (binary), or the macro average
  of the one-vs-rest AUCs (multiclass);
- regression: squared correlation of the out-of-fold cell mean of the target's *ranks*
  with those ranks (rank R²), which heavy tails and outliers cannot distort.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from auditor.context import encode_labels
from auditor.roles import date_format, parse_dates, value_kind

# Pseudo-rows of the overall rate mixed into each cell's rate (target-encoding smoothing).
SMOOTHING = 20.0
# A numeric column with at most this many distinct values is scored value by value.
MAX_EXACT_VALUES = 64


@dataclass(frozen=True, slots=True)
class Cells:
    """A column coded as integer cells: ``codes[i]`` in ``range(n_cells)``.

    ``labels[k]`` names cell ``k`` when the cells are exact values or categories (so a pure
    cell can be reported; the missing cell has no label); it is None for quantile bins.
    ``missing`` is the index of the missing-value cell, or None when no value is missing.
    """

    codes: np.ndarray
    n_cells: int
    kind: str
    labels: Sequence | None = None
    missing: int | None = None

    def label(self, cell: int):
        """The value of ``cell`` (None for the missing cell or a quantile bin)."""
        if self.labels is None or cell == self.missing:
            return None
        return _plain(self.labels[cell])


@dataclass(frozen=True, slots=True)
class Target:
    """The audited rows' target, encoded, with the fold of every row.

    Classification: ``y`` holds class indices and ``counts`` the rows per class.
    Regression: ``y`` holds the target's ranks scaled to (0, 1].
    """

    task: str
    y: np.ndarray
    folds: np.ndarray
    n_folds: int
    n_classes: int = 0
    counts: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.y)


@dataclass(frozen=True, slots=True)
class CellScore:
    """The out-of-fold score of one coding and the per-cell totals behind it.

    ``value`` is a ROC AUC (classification) or a rank R² (regression); ``totals`` holds the
    rows per cell and class (classification, shape (n_cells, n_classes)) or None.
    """

    value: float
    totals: np.ndarray | None = None


def audited_rows(ctx) -> tuple[pd.DataFrame, str]:
    """The rows the leakage checks score: train when given, else test, and its name."""
    if ctx.train is not None:
        return ctx.train, "train"
    return ctx.test, "test"


def sample_rows(
    y: pd.Series, task: str, classes: tuple, max_rows: int, rng: np.random.Generator
) -> np.ndarray:
    """Sorted positions of at most ``max_rows`` rows, stratified by class (classification)."""
    n = len(y)
    if n <= max_rows:
        return np.arange(n)
    if task == "regression":
        return np.sort(rng.choice(n, size=max_rows, replace=False))
    codes = encode_labels(y, classes, source="the target")
    counts = np.bincount(codes, minlength=len(classes))
    take = np.floor(counts * (max_rows / n)).astype(np.int64)
    # Hand the rows lost to rounding to the largest classes, so exactly max_rows are kept.
    short = max_rows - int(take.sum())
    for c in np.argsort(-counts, kind="stable")[:short]:
        take[c] += 1
    picked = []
    for c in range(len(classes)):
        members = np.flatnonzero(codes == c)
        picked.append(members[rng.choice(len(members), size=take[c], replace=False)])
    return np.sort(np.concatenate(picked))


def make_target(
    y: pd.Series, task: str, classes: tuple, n_folds: int, rng: np.random.Generator
) -> Target:
    """Encode the target and assign stratified folds (by class, or by rank for regression)."""
    n = len(y)
    if task == "regression":
        values = y.to_numpy(dtype=float)
        ranks = pd.Series(values).rank(method="average").to_numpy() / n
        order = np.lexsort((rng.random(n), np.floor(ranks * n_folds * 4)))
        folds = np.empty(n, dtype=np.int64)
        folds[order] = np.arange(n) % n_folds
        return Target(task, ranks, folds, n_folds)
    codes = encode_labels(y, classes, source="the target")
    order = np.lexsort((rng.random(n), codes))
    folds = np.empty(n, dtype=np.int64)
    folds[order] = np.arange(n) % n_folds
    counts = np.bincount(codes, minlength=len(classes))
    return Target(task, codes, folds, n_folds, len(classes), counts)


# --- coding a column into cells ---------------------------------------------------------


def numeric_cells(values: np.ndarray, n_bins: int) -> Cells | None:
    """Quantile bins (or exact values when few) plus a missing cell; None if constant."""
    missing = np.isnan(values)
    present = values[~missing]
    if present.size == 0:
        return None
    ordered = np.sort(present)
    distinct = ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]
    codes = np.empty(len(values), dtype=np.int64)
    if distinct.size <= MAX_EXACT_VALUES:
        codes[~missing] = np.searchsorted(distinct, present)
        n_cells, kind = distinct.size, "values"
        labels: Sequence | None = distinct
    else:
        positions = (np.linspace(0, 1, n_bins + 1)[1:-1] * (ordered.size - 1)).astype(np.int64)
        edges = np.unique(ordered[positions])
        codes[~missing] = np.searchsorted(edges, present, side="right")
        n_cells, kind, labels = edges.size + 1, "bins", None
    if n_cells + missing.any() < 2:
        return None
    missing_cell = None
    if missing.any():
        missing_cell = n_cells
        codes[missing] = n_cells
        n_cells += 1
    return Cells(codes, n_cells, kind, labels, missing_cell)


def point_mass_cells(values: np.ndarray, min_rows: int) -> Cells | None:
    """The exact values of a binned numeric column that hold at least ``min_rows`` rows.

    Cell 0 holds every other row (missing included); cell k the k-th such value. A point
    mass inside a continuous column (an amount that is 0 unless the outcome happened) is a
    category of its own, which quantile bins would hide. None when there is none.
    """
    present = values[~np.isnan(values)]
    heavy, counts = np.unique(present, return_counts=True)
    heavy = heavy[counts >= min_rows]
    if heavy.size == 0:
        return None
    position = np.searchsorted(heavy, values)
    position = np.minimum(position, heavy.size - 1)
    hit = heavy[position] == values
    codes = np.where(hit, position + 1, 0).astype(np.int64)
    return Cells(codes, heavy.size + 1, "values", (None, *heavy), 0)


def level_cells(series: pd.Series) -> Cells | None:
    """One cell per category plus a missing cell; None if the column is constant."""
    try:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    except TypeError:  # unhashable values (lists, dicts): compare their text
        codes, uniques = pd.factorize(
            series.astype(str).where(series.notna()), use_na_sentinel=True
        )
    codes = np.asarray(codes, dtype=np.int64)
    n_cells = len(uniques)
    missing_cell = None
    if (codes < 0).any():
        missing_cell = n_cells
        codes = np.where(codes < 0, n_cells, codes)
        n_cells += 1
    if n_cells < 2:
        return None
    return Cells(codes, n_cells, "levels", uniques, missing_cell)


def missing_cells(missing: np.ndarray) -> Cells | None:
    """Two cells, present (0) and missing (1); None unless both occur."""
    n_missing = int(missing.sum())
    if n_missing == 0 or n_missing == len(missing):
        return None
    return Cells(missing.astype(np.int64), 2, "missing", ("present", "missing"), 1)


def numeric_values(series: pd.Series) -> np.ndarray | None:
    """The column as floats (dates as seconds) with NaN for missing, or None if not numeric."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return None
    if isinstance(dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        dtype = series.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        missing = series.isna().to_numpy()
        raw = series.to_numpy()
        unit = "datetime64[s]" if pd.api.types.is_datetime64_any_dtype(dtype) else "timedelta64[s]"
        out = raw.astype(unit).astype(np.int64).astype(float)
        out[missing] = np.nan
        return out
    if pd.api.types.is_numeric_dtype(dtype):
        return series.to_numpy(dtype=float, na_value=np.nan)
    return None


def date_seconds(series: pd.Series) -> np.ndarray | None:
    """Seconds since 1970 when ``series`` holds dates (a datetime dtype, or text in one
    date format, found as ``auditor.roles`` finds date columns), else None."""
    dtype = series.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.DatetimeTZDtype):
        return numeric_values(series)
    found = date_format(series)
    if found is None:
        return None
    return numeric_values(parse_dates(series, found[0]))


def _plain(value):
    return value.item() if hasattr(value, "item") else value


# --- scoring ------------------------------------------------------------------------------


def score_cells(cells: Cells, target: Target) -> CellScore:
    """The out-of-fold score of ``cells`` (see the module docstring)."""
    if target.task == "regression":
        return CellScore(_rank_r2(cells, target))
    return _classification_score(cells, target)


def _fold_keys(cells: Cells, target: Target) -> np.ndarray:
    return target.folds * cells.n_cells + cells.codes


def _classification_score(cells: Cells, target: Target) -> CellScore:
    K, nc, C = target.n_folds, cells.n_cells, target.n_classes
    keys = _fold_keys(cells, target)
    prior = target.counts / target.n
    if K * nc * C <= 20_000_000:
        held = np.bincount(keys * C + target.y, minlength=K * nc * C).reshape(K, nc, C)
    else:  # many cells and many classes: count class by class
        held = np.stack(
            [
                np.bincount(keys, weights=target.y == c, minlength=K * nc).reshape(K, nc)
                for c in range(C)
            ],
            axis=-1,
        )
    held = held.astype(float)
    totals = held.sum(axis=0)  # (nc, C)
    held_n = held.sum(axis=2)  # (K, nc)
    train_n = totals.sum(axis=1)[None, :] - held_n
    aucs = []
    # Binary: the two classes' rates mirror each other, so one AUC says it all.
    classes = [1] if C == 2 else range(C)
    for c in classes:
        positives = target.counts[c]
        if positives == 0 or positives == target.n:
            continue
        train_pos = totals[None, :, c] - held[:, :, c]
        rate = (train_pos + SMOOTHING * prior[c]) / (train_n + SMOOTHING)
        aucs.append(auc_from_cells(rate.ravel(), held[:, :, c].ravel(), held_n.ravel()))
    value = float(np.mean(aucs)) if aucs else 0.5
    return CellScore(value, totals)


def auc_from_cells(score: np.ndarray, positives: np.ndarray, rows: np.ndarray) -> float:
    """ROC AUC when every row of a cell shares the cell's score (ties count one half)."""
    keep = rows > 0
    score, pos, neg = score[keep], positives[keep], rows[keep] - positives[keep]
    order = np.argsort(score, kind="stable")
    score, pos, neg = score[order], pos[order], neg[order]
    starts = np.flatnonzero(np.concatenate(([True], score[1:] != score[:-1])))
    group_pos = np.add.reduceat(pos, starts)
    group_neg = np.add.reduceat(neg, starts)
    total_pos, total_neg = group_pos.sum(), group_neg.sum()
    if total_pos == 0 or total_neg == 0:
        return 0.5
    neg_below = np.cumsum(group_neg) - group_neg
    return float(np.sum(group_pos * (neg_below + 0.5 * group_neg)) / (total_pos * total_neg))


def _rank_r2(cells: Cells, target: Target) -> float:
    """Squared correlation of the out-of-fold cell means with the target's ranks.

    A correlation, not ``1 - SSE/SST``: the smoothing shrinks small cells' means towards
    the overall mean, which would otherwise cost a strong column on a small table.
    Anti-correlated out-of-fold means (noise) score 0.
    """
    K, nc = target.n_folds, cells.n_cells
    keys = _fold_keys(cells, target)
    r = target.y
    size = K * nc
    held_n = np.bincount(keys, minlength=size).reshape(K, nc).astype(float)
    held_s = np.bincount(keys, weights=r, minlength=size).reshape(K, nc)
    mean = float(r.mean())
    train_n = held_n.sum(axis=0)[None, :] - held_n
    train_s = held_s.sum(axis=0)[None, :] - held_s
    prediction = (train_s + SMOOTHING * mean) / (train_n + SMOOTHING)
    n = float(target.n)
    p_mean = float(np.sum(held_n * prediction)) / n
    covariance = float(np.sum(prediction * held_s)) / n - p_mean * mean
    p_var = float(np.sum(held_n * prediction**2)) / n - p_mean**2
    r_var = float(np.mean((r - mean) ** 2))
    if covariance <= 0 or p_var <= 1e-15 * max(r_var, 1e-300) or r_var <= 0:
        return 0.0
    return min(1.0, covariance**2 / (p_var * r_var))


def split_auc(inside: np.ndarray, target: Target) -> float:
    """Regression: how well membership in a group of rows orders the target.

    The Mann-Whitney AUC of the target between rows in and out of the group, whichever
    direction is larger (1.0: every row of the group has a larger, or every a smaller,
    target than every other row).
    """
    n_in = int(inside.sum())
    n_out = len(inside) - n_in
    if n_in == 0 or n_out == 0:
        return 0.5
    ranks = target.y * target.n  # 1-based average ranks
    auc = (ranks[inside].sum() - n_in * (n_in + 1) / 2) / (n_in * n_out)
    return float(max(auc, 1 - auc))


# How unlikely by chance a cell pure for the majority class must be to be flagged.
MAJORITY_PURITY_P = 1e-9


def pure_cells(
    cells: Cells,
    totals: np.ndarray,
    target: Target,
    *,
    purity: float,
    min_rows: int,
) -> list[tuple[int, int, float, float, int]]:
    """Cells made (almost) only of one class.

    Returns ``(cell, class, purity, coverage, rows)`` for each cell with at least
    ``min_rows`` rows of which at least ``purity`` belong to one class, where ``coverage``
    is the share of that class's rows the cell holds. Every class is looked at: a value
    that means "no recidivism" on all of 3,743 rows is as telling as one that means
    "recidivism". For a class that is most of the rows purity is common in clean data (a
    segment with no defaults at a 5% default rate), so there the cell must also be
    impossible by chance: the other classes' rows in it at most as many as a binomial draw
    at their base rate gives with probability ``MAJORITY_PURITY_P`` (no defaults in 400
    rows at a 5% rate; none in 35 rows at a 45% rate).
    """
    from scipy.stats import binom

    rows = totals.sum(axis=1)
    share = totals / np.maximum(rows, 1)[:, None]
    out = []
    for cell in np.flatnonzero(rows >= min_rows):
        for c in range(len(target.counts)):
            if share[cell, c] < purity:
                continue
            if target.counts[c] > target.n / 2:
                others = int(rows[cell] - totals[cell, c])
                base = 1.0 - target.counts[c] / target.n
                if binom.cdf(others, int(rows[cell]), base) > MAJORITY_PURITY_P:
                    continue
            coverage = totals[cell, c] / target.counts[c]
            out.append((int(cell), int(c), float(share[cell, c]), float(coverage), int(rows[cell])))
    return out


def short_label(value, limit: int = 40) -> str:
    """A cell label or class for a message: repr, cut to ``limit`` characters."""
    text = repr(_plain(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- identifier-like columns ----------------------------------------------------------------

# Names that say "key": loan_id, uuid, account_no, customerId, ...
KEY_NAME = re.compile(r"(^|_)(id|uuid|guid|key|number|no|nr|num)$|^(id|uuid|guid|index|row|rowid)$")
CAMEL_KEY_NAME = re.compile(r"(?<=[a-z])(Id|ID|Uuid|UUID|Key|Number|No|Nr)$")
# A counter: whole numbers whose range is at most this many times their count.
_DENSE_RANGE_FACTOR = 4
_MIN_ROWS_FOR_IDS = 50
_SCREEN_ROWS = 20_000


@dataclass(frozen=True, slots=True)
class IdLike:
    """Why a column looks like an identifier, and the share of distinct values."""

    reason: str
    unique_share: float


def key_named(name: object) -> bool:
    """Whether a column name says "key" (``loan_id``, ``Account No``, ``customerId``)."""
    words = re.sub(r"[^0-9a-zA-Z]+", "_", str(name)).strip("_")
    return bool(KEY_NAME.search(words.lower()) or CAMEL_KEY_NAME.search(words))


def id_like_columns(ctx, frame: pd.DataFrame, min_unique_share: float = 0.95) -> dict[str, IdLike]:
    """Row identifiers of ``frame``: declared, inferred or looking like one.

    A declared ``--id-column`` always counts. Any other column (an inferred id or a
    feature; never the target, the group, time, date or entity columns) counts when at
    least ``min_unique_share`` of its non-missing values are distinct, it is filled on at
    least 90% of rows, and it is

    - named like a key (``loan_id``, ``uuid``, ``account_no``), or
    - whole numbers filling a dense range (a counter: the range spans at most four times
      as many values as there are distinct values, which random draws this distinct
      cannot do: they need a range ten times their count), or
    - text codes without spaces (``'LN-004211'``, a UUID).

    Unique measurements (amounts, incomes, scores) and free text are none of these.
    """
    roles = ctx.roles
    declared = [c for c in roles.id if c not in roles.inferred]
    out = {c: IdLike("declared as the id column", _unique_share(frame[c])) for c in declared}
    skip = {ctx.target, roles.group, roles.time, *roles.dates, *roles.entities, *declared}
    for column in frame.columns:
        if column in skip:
            continue
        # Inferred ids were found unique on every row of this frame (roles' reference).
        unique = column in roles.inferred and column in roles.id and frame is _reference(ctx)
        found = _id_like(frame[column], column, min_unique_share, known_unique=unique)
        if found is not None:
            out[column] = found
    return out


def _reference(ctx) -> pd.DataFrame:
    return ctx.train if ctx.train is not None else ctx.test


def entity_columns(ctx, frame: pd.DataFrame) -> dict[str, IdLike]:
    """Keys of repeating entities: the declared group column and inferred entity columns."""
    roles = ctx.roles
    out = {}
    if roles.group is not None:
        out[roles.group] = IdLike("declared as the group column", _unique_share(frame[roles.group]))
    for column in roles.entities:
        if column != ctx.target and column in frame.columns:
            out[column] = IdLike("a repeating key", _unique_share(frame[column]))
    return out


def _unique_share(series: pd.Series) -> float:
    present = int(series.notna().sum())
    return float(series.nunique(dropna=True) / present) if present else 0.0


def _id_like(
    series: pd.Series, name: object, min_unique_share: float, *, known_unique: bool = False
) -> IdLike | None:
    n = len(series)
    if n < _MIN_ROWS_FOR_IDS:
        return None
    kind = value_kind(series)
    if kind not in ("integer", "number", "text"):
        return None
    # Cheap screens on an evenly spaced sample first; a sample is at least as distinct.
    screen = series.iloc[np.linspace(0, n - 1, min(n, _SCREEN_ROWS)).astype(np.intp)].dropna()
    if len(screen) < 0.9 * min(n, _SCREEN_ROWS):
        return None
    named = key_named(name)
    if kind == "number":
        values = screen.to_numpy(dtype=float)
        if not named or not np.all(np.isfinite(values)) or np.any(np.mod(values, 1) != 0):
            return None  # fractions are measurements; whole floats are ids only by name
    if kind == "text":
        text = screen.astype(str)
        if not named and (
            text.str.contains(r"\s", regex=True).mean() > 0.05 or text.str.len().max() > 64
        ):
            return None  # free text, not codes
    if screen.nunique() < min_unique_share * len(screen):
        return None
    if known_unique:
        present, distinct, share = series, n, 1.0
    else:
        present = series.dropna()
        if len(present) < 0.9 * n:
            return None
        distinct = int(present.nunique())
        share = distinct / len(present)
        if share < min_unique_share:
            return None
    if named:
        return IdLike(f"{share:.0%} distinct values, named like a key", share)
    if kind == "text":
        return IdLike(f"{share:.0%} distinct text codes", share)
    values = present.to_numpy(dtype=float)
    if float(values.max() - values.min() + 1) <= _DENSE_RANGE_FACTOR * distinct:
        return IdLike(f"{share:.0%} distinct whole numbers filling a dense range", share)
    return None
