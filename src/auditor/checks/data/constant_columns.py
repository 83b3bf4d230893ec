"""``data.constant_columns``: columns holding one value, and feeds that went dead in test."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from auditor.checks._common import rows_used, status_from
from auditor.checks._common import splits as present_splits
from auditor.context import AuditContext
from auditor.registry import CheckOutcome, SkipCheck, param, register_check
from auditor.result import Finding, Measurement, Table
from auditor.stats.pvalues import p_value

CHECK_ID = "data.constant_columns"


@dataclass(frozen=True, slots=True)
class Screen:
    """The rows a column is looked at on before its values are counted on every row.

    A column whose top value fills less than 99% of 2,000 evenly spaced rows cannot fill
    99.9% of the column (the chance that it does is below 1e-9), so wide tables skip the
    full count for almost every column. The Dask engine takes the same rows of a
    partitioned dataset (``positions`` of its labelled rows, in file and row-group order)
    and counts on every row the columns ``top`` finds near-constant, so that both engines
    decide, and show, the same.
    """

    rows: int = 2000
    share: float = 0.99

    def positions(self, n_rows: int) -> np.ndarray:
        """The screened rows' positions among ``n_rows`` rows."""
        return np.linspace(0, n_rows - 1, min(n_rows, self.rows)).astype(np.intp)

    def top(self, screen: pd.Series) -> tuple[float, object, int]:
        """The most frequent value's share of the screen (a missing cell is a value of its
        own), that value, and the screen's distinct values."""
        counts = screen.value_counts(dropna=False)
        return float(counts.iloc[0]) / len(screen), counts.index[0], len(counts)


SCREEN = Screen()


@dataclass(frozen=True, slots=True)
class ConstantColumnsParams:
    """Thresholds of ``data.constant_columns``.

    Parameters
    ----------
    min_top_share : float, default=0.999
        Report (informational) a column whose most frequent value fills at least this share
        of a split's rows.
    alpha : float, default=1e-4
        A column constant in one split but varied in the other is reported when the chance
        of drawing that many rows all with that value, at its frequency in the other split,
        is below ``alpha``.
    """

    min_top_share: float = param(
        0.999,
        "Report, for information, a column whose most frequent value fills at least this "
        "share of a split's rows (a rare flag at 1% stays quiet).",
        share=True,
    )
    alpha: float = param(
        1e-4,
        "A column with one value in one split but several in the other is reported (fails "
        "when frozen in test, warns when frozen in train) only when so many rows sharing that "
        "value would happen by chance with probability below this.",
        share=True,
    )


@register_check(
    CHECK_ID,
    title="Constant columns",
    needs=("test",),
    params=ConstantColumnsParams,
    rationale=(
        "A column that holds the same value on every row tells the model nothing. It is "
        "often the trace of a broken data feed: a source that stopped sending values and was "
        "filled with a default. A column that varies in the training data but is frozen in "
        "the test data means the model will see inputs unlike those it learned from."
    ),
    remedy=(
        "Check where the column comes from and whether its source still delivers values. "
        "Repair the feed, or drop the column from the model if it is constant by design."
    ),
)
def constant_columns(ctx: AuditContext, params: ConstantColumnsParams) -> CheckOutcome:
    """Find feature columns with a single value, per split and across splits.

    Notes
    -----
    Missing values count as a value of their own: a column holding one value and some
    missing cells is not constant (its missingness may carry information), and a column
    missing on every row is left to ``data.missing_values``.

    Severity:

    - constant in test while it varies in train (a dead feed): ``high``, when the chance
      of all test rows showing that value is below ``alpha``, the chance being
      ``p ** n_test`` with ``p`` the value's share of train rows. A test set of 300 rows
      that happens to miss a 0.5% flag is not a dead feed (0.995**300 = 0.22); it is
      reported as ``low``.
    - constant in every split given: ``medium``. The model learns nothing from it, which is
      harmless for most models, but the column is worth a look.
    - constant in train while it varies in test: ``medium`` when the chance of all train
      rows showing that value, at its test frequency, is below ``alpha``, else ``low``.
    - near-constant (the most frequent value fills at least ``min_top_share`` of a split's
      rows): ``low``, for information only. Legitimate sparse indicators (a flag raised on
      1% of rows, or on 0.05% of a fraud table) are real signal, and no share can tell
      them apart from a nearly dead feed, so this never warns.
    """
    splits = present_splits(ctx)
    columns = [c for c in ctx.roles.features if all(c in f.columns for f in splits.values())]
    if not columns:
        raise SkipCheck("there are no feature columns")
    # --engine dask: every row's value counts where the engine kept them, else the sample's.
    exact = {name: {c: _all_rows_profile(ctx, name, c) for c in columns} for name in splits}
    on_all_rows = [c for c in columns if all(exact[name][c] is not None for name in splits)]
    profiles = {
        name: {c: exact[name][c] or _profile(frame[c]) for c in columns}
        for name, frame in splits.items()
    }
    findings: list[Finding] = []
    table_rows = []
    for column in columns:
        column_profiles = {name: profiles[name][column] for name in splits}
        finding = _column_finding(ctx, column, column_profiles, params)
        if finding is not None:
            findings.append(finding)
        table_rows.append(
            (
                column,
                *(
                    x
                    for name in splits
                    for x in (column_profiles[name].n_distinct, column_profiles[name].top_share)
                ),
                finding.code if finding is not None else "",
            )
        )
    header = (
        "column",
        *(x for name in splits for x in (f"{name}_distinct_values", f"{name}_top_share")),
        "finding",
    )
    n_constant = sum(f.severity != "low" for f in findings)
    max_top = max(p.top_share for by_column in profiles.values() for p in by_column.values())
    used = rows_used(ctx, on_all_rows, columns)
    return CheckOutcome(
        status=status_from(findings),
        summary=_summary(findings, columns, max_top, params),
        findings=tuple(findings),
        measurements=(
            Measurement("n_constant_columns", float(n_constant), greater_is_better=False),
            Measurement("max_top_value_share", float(max_top), greater_is_better=False),
            *(() if used is None else (used,)),
        ),
        tables=(
            Table(
                "top_value_by_column",
                "Distinct values and share of the most frequent value, by column (counted "
                "on 2,000 evenly spaced rows unless the column is near-constant)",
                header,
                tuple(table_rows),
            ),
        ),
    )


@dataclass(frozen=True, slots=True)
class _Profile:
    n_rows: int
    n_distinct: int  # exact when the column is near-constant, else a lower bound (>= 2)
    top_share: float  # exact when the column is near-constant, else from the screen sample
    top_value: object
    all_missing: bool


def _profile(series: pd.Series) -> _Profile:
    n = len(series)
    screened = _screened(series.iloc[SCREEN.positions(n)], n)
    if screened is not None:
        return screened
    counts = series.value_counts(dropna=False)
    top_value = counts.index[0]
    return _Profile(
        n,
        len(counts),
        float(counts.iloc[0]) / n,
        top_value,
        bool(len(counts) == 1 and pd.isna(top_value)),
    )


def _screened(screen: pd.Series, n_rows: int) -> _Profile | None:
    """The profile of a column that is not near-constant on its screen (distinct values
    and top share are the screen's), or None when its values must be counted."""
    top_share, _, n_distinct = SCREEN.top(screen)
    if top_share >= SCREEN.share:
        return None
    return _Profile(n_rows, n_distinct, top_share, None, False)


def _all_rows_profile(ctx: AuditContext, split: str, column: str) -> _Profile | None:
    """``--engine dask``: the column's profile on every row of ``split``, as the in-memory
    check computes it: screened on the same rows (``SCREEN``), and a column near-constant
    there counted on every row (the engine's value counts, or its count of the column's
    values when it kept none); None in memory, or when the engine could not count the
    column (past ``partials.MAX_COUNTED_VALUES`` values)."""
    full = ctx.all_rows
    if full is None or split not in full.screens:
        return None
    rows, missing = full.rows[split], full.missing.get(split, {}).get(column)
    if missing is None or rows == 0:
        return None
    if missing == rows:
        return _Profile(rows, 1, 1.0, np.nan, True)
    screened = _screened(full.screens[split][column], rows)
    if screened is not None:
        return screened
    counts = _every_value_rows(full, split, column)
    if counts is None:
        return None
    top = int(counts.max())
    top_value = counts.index[int(np.argmax(counts.to_numpy()))]
    if missing > top:  # value_counts(dropna=False): missing cells are a value of their own
        top, top_value = missing, np.nan
    return _Profile(rows, len(counts) + (missing > 0), top / rows, top_value, False)


def _every_value_rows(full, split: str, column: str) -> pd.Series | None:
    """Rows per non-missing value of a column on every row of ``split``, or None."""
    counts = full.levels.get(split, {}).get(column)
    return counts if counts is not None else full.counted.get(split, {}).get(column)


def _share(ctx: AuditContext, split: str, column: str, value: object) -> float:
    """The share of ``split``'s rows holding ``value``: of every row with ``--engine
    dask`` (the value counts, or the rows the engine counted holding the value another
    split's screen found near-constant), else of the frame's rows."""
    full = ctx.all_rows
    if full is not None and full.rows[split]:
        counts = _every_value_rows(full, split, column)
        if counts is None:
            counts = full.value_rows.get(split, {}).get(column)
        if counts is not None:
            return float(counts.get(value, 0)) / full.rows[split]
    frame = ctx.train if split == "train" else ctx.test
    return float((frame[column] == value).mean())


def _is_constant(profile: _Profile) -> bool:
    return profile.n_distinct == 1 and not profile.all_missing


def _column_finding(
    ctx: AuditContext, column: str, profiles: dict[str, _Profile], params: ConstantColumnsParams
) -> Finding | None:
    if any(p.all_missing for p in profiles.values()):
        return None  # data.missing_values reports empty columns
    test, train = profiles["test"], profiles.get("train")
    if _is_constant(test) and train is not None and not _is_constant(train):
        value = test.top_value
        train_share = _share(ctx, "train", column, value)
        chance = _chance(train_share, test.n_rows)
        evidence = {
            "test_rows": test.n_rows,
            "train_share_of_value": train_share,
            "train_distinct_values": train.n_distinct,
            "chance": chance,
            "fail_below": params.alpha,
        }
        if chance < params.alpha:
            return Finding(
                "constant_in_test",
                "high",
                f"{column!r} holds a single value on all {test.n_rows:,} test rows but varies in "
                f"train, where that value fills {train_share:.1%} of rows: the chance of this is "
                f"{p_value(chance)} (failure below {params.alpha:g}). Its source probably stopped "
                "delivering values.",
                (column,),
                evidence,
            )
        return Finding(
            "constant_in_test",
            "low",
            f"{column!r} holds a single value on all {test.n_rows:,} test rows; that value fills "
            f"{train_share:.1%} of train rows, so a test set this size shows only it with "
            f"chance {p_value(chance)} (failure below {params.alpha:g}).",
            (column,),
            evidence,
        )
    if all(_is_constant(p) for p in profiles.values()):
        where = "every row of train and test" if train is not None else "every test row"
        return Finding(
            "constant",
            "medium",
            f"{column!r} holds a single value on {where}: it carries no information.",
            (column,),
            {"splits": list(profiles)},
        )
    if train is not None and _is_constant(train):
        value = train.top_value
        test_share = _share(ctx, "test", column, value)
        chance = _chance(test_share, train.n_rows)
        evidence = {
            "train_rows": train.n_rows,
            "test_share_of_value": test_share,
            "test_distinct_values": test.n_distinct,
            "chance": chance,
            "warn_below": params.alpha,
        }
        if chance < params.alpha:
            return Finding(
                "constant_in_train",
                "medium",
                f"{column!r} holds a single value on all {train.n_rows:,} train rows but varies "
                f"in test, where that value fills {test_share:.1%} of rows: the chance of this "
                f"is {p_value(chance)} (warning below {params.alpha:g}). The model could not learn "
                "from it.",
                (column,),
                evidence,
            )
        return Finding(
            "constant_in_train",
            "low",
            f"{column!r} holds a single value on all {train.n_rows:,} train rows; that value "
            f"fills {test_share:.1%} of test rows, so a train set this size shows only it with "
            f"chance {p_value(chance)} (warning below {params.alpha:g}).",
            (column,),
            evidence,
        )
    near = {
        name: p.top_share for name, p in profiles.items() if p.top_share >= params.min_top_share
    }
    if near:
        shown = ", ".join(f"{share:.2%} of {name} rows" for name, share in near.items())
        return Finding(
            "near_constant",
            "low",
            f"{column!r} holds its most frequent value on {shown} (reported from "
            f"{params.min_top_share:.1%}); sparse flags are normal, a nearly frozen feed is not.",
            (column,),
            {"top_share": near, "report_at": params.min_top_share},
        )
    return None


def _chance(share: float, rows: int) -> float:
    """Probability that ``rows`` independent rows all hold a value of frequency ``share``."""
    return math.exp(rows * math.log(share)) if share > 0 else 0.0


def _summary(
    findings: list[Finding], columns: list[str], max_top: float, params: ConstantColumnsParams
) -> str:
    serious = [f for f in findings if f.severity != "low"]
    if serious:
        names = ", ".join(repr(f.columns[0]) for f in serious[:5])
        more = f" (+{len(serious) - 5} more)" if len(serious) > 5 else ""
        return f"{len(serious)} constant column(s): {names}{more}."
    notes = []
    n_one_split = sum(f.code in ("constant_in_test", "constant_in_train") for f in findings)
    if n_one_split:
        notes.append(f"{n_one_split} column(s) constant in one split only, as chance allows")
    n_near = sum(f.code == "near_constant" for f in findings)
    if n_near:
        notes.append(f"{n_near} column(s) at or above {params.min_top_share:.1%} for information")
    return (
        f"No feature column holds a single value in every split, across {len(columns)} "
        f"feature columns; the most frequent value of a column fills up to about "
        f"{max_top:.1%} of a split's rows" + (f" ({'; '.join(notes)})." if notes else ".")
    )
