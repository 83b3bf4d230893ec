"""Helpers shared by checks: status from findings (defined with the result), row hashing,
row examples."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from auditor.errors import InputError
from auditor.metrics import METRICS_BY_KEY, MetricSpec, metrics_for, primary_metric
from auditor.result import status_from as status_from

# Findings quote at most this many example row positions: evidence stays small.
MAX_EXAMPLE_ROWS = 10


def row_hashes(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """A 64-bit hash per row over ``columns`` (values and their types; NaN equals NaN)."""
    if not columns:
        return np.zeros(len(frame), dtype=np.uint64)
    return pd.util.hash_pandas_object(frame[list(columns)], index=False).to_numpy()


def example_rows(positions: Iterable[int], limit: int = MAX_EXAMPLE_ROWS) -> list[int]:
    """The first ``limit`` row positions (0-based, in file order) as plain ints."""
    out = []
    for position in positions:
        if len(out) == limit:
            break
        out.append(int(position))
    return out


def compared_metric(ctx, key: str, check_id: str) -> MetricSpec:
    """The metric models are compared on: ``key`` (a check's ``metric`` parameter), or the
    task's headline metric when ``key`` is empty. A metric the predictions cannot give is an
    input error naming the ones they can."""
    available = metrics_for(ctx.test_eval)
    if not key:
        return METRICS_BY_KEY[primary_metric(ctx.test_eval)]
    for metric in available:
        if metric.key == key:
            return metric
    raise InputError(
        f'[checks."{check_id}"] metric {key!r} does not apply to these predictions; '
        f"use one of {', '.join(m.key for m in available)}."
    )


def splits(ctx) -> dict[str, pd.DataFrame]:
    """The splits present, train first: ``{"train": ..., "test": ...}`` or ``{"test": ...}``."""
    return {"test": ctx.test} if ctx.train is None else {"train": ctx.train, "test": ctx.test}


# --- Row-level helpers of the data checks (duplicate rows, conflicting labels) ---------------

# The chance estimate of identical rows runs on at most this many rows (seeded sample).
CHANCE_SAMPLE_ROWS = 100_000
# A conditional agreement rate is estimated from data only while this many pairs support it.
_MIN_SUPPORTING_PAIRS = 100


def row_content_columns(ctx, frame: pd.DataFrame, *, with_target: bool) -> list[str]:
    """Every column that describes a row's content: all but row ids (and the target).

    Row identifiers are the id role plus any column of ``frame`` that is unique on every
    row and holds no floats (an undeclared id): two rows that differ only in such a column
    are still copies of each other. Dates, entity and group columns stay in: they are part
    of what a row says.
    """
    ids = set(ctx.roles.id)
    columns = [c for c in frame.columns if c not in ids and c != ctx.target]
    columns = [c for c in columns if not _is_undeclared_identifier(frame[c])]
    return [*columns, ctx.target] if with_target else columns


def all_rows_repeats(ctx, split: str, columns: Sequence[str]) -> dict | None:
    """``--engine dask``: every row's repeat counts of ``split`` (copies, identical pairs,
    rows and pairs in label conflicts, its rows), counted on ``columns`` (target left out);
    None in memory, or when the engine compared other columns."""
    if ctx.all_rows is None:
        return None
    counted = ctx.all_rows.repeats.get(split)
    if counted is None or tuple(counted["columns"]) != tuple(columns):
        return None
    return counted


def splits_rows_used(ctx, splits: Sequence[str]):
    """``--engine dask``: the ``rows_used`` of a check that read every row of ``splits``."""
    from auditor.result import Measurement

    return Measurement(
        "rows_used",
        float(ctx.all_rows.rows["test"]),
        note=" and ".join(f"all {ctx.all_rows.rows[s]:,} {s} rows" for s in splits),
    )


def chance_pairs_of_all_rows(sample_pairs: float, sample_rows: int, rows: int) -> float:
    """Identical pairs expected by chance among ``rows`` rows, from those among a sample of
    ``sample_rows``: the agreement rates are the sample's, the pairs scale as n(n - 1)."""
    if sample_rows < 2:
        return sample_pairs
    return sample_pairs * rows * (rows - 1) / (sample_rows * (sample_rows - 1))


def _is_undeclared_identifier(series: pd.Series) -> bool:
    n = len(series)
    if n < 50 or series.dtype.kind in "fcbmM":
        return False
    head = series.iloc[np.linspace(0, n - 1, min(n, 1000)).astype(np.intp)]
    # A cheap screen on a sample first: most columns repeat a value within 1,000 rows.
    if head.isna().any() or not head.is_unique:
        return False
    return bool(series.notna().all() and series.is_unique)


def pair_count(codes: np.ndarray) -> float:
    """Number of pairs of positions holding the same code (codes are 0..k-1 integers)."""
    counts = np.bincount(codes).astype(np.float64)
    return float((counts * (counts - 1) / 2).sum())


def chance_agreement_pairs(
    frame: pd.DataFrame, columns: Sequence[str], rng: np.random.Generator
) -> float:
    """Expected number of row pairs of ``frame`` that agree on every column by chance.

    Rows are treated as independent draws. The probability that two rows agree on every
    column is estimated by chaining agreement rates, most discriminating column first:
    P(agree on c1) x P(agree on c2 | agree on c1) x ..., each conditional rate measured on
    (a sample of) the rows while at least 100 pairs that are not whole-row copies support it,
    and the marginal agreement rate assumed for the remaining columns. Whole-row copies
    therefore do not explain themselves, while columns that depend on each other (a city
    and its region) are counted once. The estimate is scaled to all row pairs of ``frame``.
    """
    n = len(frame)
    total_pairs = n * (n - 1) / 2
    if n < 2 or not columns:
        return float(total_pairs)
    sample = frame
    if n > CHANCE_SAMPLE_ROWS:
        sample = frame.iloc[np.sort(rng.choice(n, CHANCE_SAMPLE_ROWS, replace=False))]
    m = len(sample)
    sample_pairs = m * (m - 1) / 2
    codes = [pd.factorize(sample[c], use_na_sentinel=False)[0] for c in columns]
    rates = np.array([pair_count(c) / sample_pairs for c in codes])
    order = np.argsort(rates, kind="stable")
    key = np.zeros(m, dtype=np.int64)
    prefix_pairs = [sample_pairs]
    for i in order:
        key = pd.factorize(key * (int(codes[i].max()) + 1) + codes[i])[0].astype(np.int64)
        prefix_pairs.append(pair_count(key))
    copies = prefix_pairs[-1]
    stop = next(j for j, p in enumerate(prefix_pairs) if p - copies < _MIN_SUPPORTING_PAIRS)
    # prefix_pairs[stop - 1] is the deepest well-supported agreement count (stop >= 1 since
    # all pairs agree on no column and m >= 2 leaves at least one pair beyond the copies,
    # unless every pair is a copy, in which case the rows are one value repeated).
    supported = max(stop - 1, 0)
    probability = prefix_pairs[supported] / sample_pairs
    for i in order[supported:]:
        probability *= rates[i]
    return float(probability * total_pairs)


def all_rows_levels(ctx, column: str, splits: Sequence[str] = ("train", "test")) -> dict | None:
    """``--engine dask``: rows per non-missing value of ``column`` in each of ``splits``,
    counted on every row (object-indexed Series), or None when some split's were not kept
    (an in-memory audit, a numeric column, more than 10,000 distinct values)."""
    full = getattr(ctx, "all_rows", None)
    if full is None:
        return None
    out = {}
    for name in splits:
        counts = full.levels.get(name, {}).get(column)
        if counts is None:
            return None
        out[name] = counts
    return out


def rows_used(ctx, on_all_rows: Sequence[str], columns: Sequence[str]):
    """``--engine dask``: the ``rows_used`` measurement of a check that read every row for
    the columns ``on_all_rows`` of its ``columns`` and the seeded sample for the others;
    None in memory or when no column read every row (the engine then says "sample")."""
    from auditor.errors import preview
    from auditor.result import Measurement

    if ctx.all_rows is None or not on_all_rows:
        return None
    n_test = ctx.all_rows.rows["test"]
    if len(on_all_rows) == len(columns):
        return Measurement("rows_used", float(n_test), note=f"all {n_test:,} test rows")
    others = [c for c in columns if c not in set(on_all_rows)]
    return Measurement(
        "rows_used",
        float(len(ctx.test)),
        note=(
            f"all {n_test:,} test rows for {len(on_all_rows)} of {len(columns)} columns; a "
            f"seeded sample of {len(ctx.test):,} rows for {preview(others)}"
        ),
    )
