"""``data.unseen_categories``: test categories that never occur in train."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from auditor.checks._common import all_rows_levels, rows_used, status_from
from auditor.context import AuditContext
from auditor.registry import CheckOutcome, SkipCheck, param, register_check
from auditor.result import Finding, Measurement, Table

CHECK_ID = "data.unseen_categories"
_MAX_EXAMPLE_LEVELS = 5
_MAX_LEVEL_CHARS = 24


@dataclass(frozen=True, slots=True)
class UnseenCategoriesParams:
    """Thresholds of ``data.unseen_categories``.

    Parameters
    ----------
    warn_share : float, default=0.001
        Warn when test rows in new categories are at least this share of the column's
        non-missing test rows.
    fail_share : float, default=0.05
        Fail when they are at least this share.
    min_rows : int, default=5
        A new category needs at least this many test rows to be reported.
    alpha : float, default=0.01
        Significance level of the per-category test (Bonferroni over the column's
        categories) and of the Good-Turing excess test.
    """

    warn_share: float = param(
        0.001,
        "Warn when test rows in categories never seen in train are at least this share of "
        "the column's test rows.",
        share=True,
    )
    fail_share: float = param(
        0.05,
        "Fail when test rows in categories never seen in train are at least this share of "
        "the column's test rows.",
        share=True,
    )
    min_rows: int = param(
        5, "A category never seen in train needs at least this many test rows to count.", minimum=1
    )
    alpha: float = param(
        0.01,
        "Significance level: a new category counts only when chance alone would keep it out "
        "of train with probability below this (corrected for the column's number of "
        "categories).",
        share=True,
    )


@register_check(
    CHECK_ID,
    title="Categories never seen in training",
    needs=("train", "test"),
    params=UnseenCategoriesParams,
    rationale=(
        "A model has learned nothing about a category it never saw in training: depending on "
        "how categories are encoded it ignores them, fails, or guesses. When a new value "
        "fills a visible part of the test data (a new region, a renamed product, a changed "
        "spelling) the test score says little about those rows."
    ),
    remedy=(
        "Check whether the new values are genuine (a new product line) or a change of coding "
        "(a renamed or re-spelled category). Map renamed values back, or retrain with data "
        "that contains the new categories."
    ),
)
def unseen_categories(ctx: AuditContext, params: UnseenCategoriesParams) -> CheckOutcome:
    """Count test rows whose category of a categorical feature does not occur in train.

    Notes
    -----
    Categorical features are the features not stored as numbers (text, categories,
    booleans); identifier, entity and date columns are not features, so their new values
    (new customers, later dates) are not reported. Missing values are not categories.

    Rare categories make some new values in test inevitable, and two tests separate those
    from a genuinely new category:

    - per category: a category with ``k`` test rows and none of the ``n_train`` train rows
      would, if both splits came from one distribution, have put each of its rows in test
      with probability ``r = n_test / (n_train + n_test)``, so all ``k`` with probability
      ``r ** k``. A category counts when that is below ``alpha`` divided by the number of
      categories of the column (Bonferroni) and ``k >= min_rows``.
    - per column (Good-Turing): the share of train rows whose category occurs once in
      train estimates the probability that a new row brings an unseen category. It is
      reported beside the observed share; new values on few rows each (free text, codes,
      long-tailed categories) that exceed it in total are reported as ``low``. It does not
      gate the per-category test: one new category of 1% can hide inside a column whose
      rare values alone explain 3% of unseen rows, and only the per-category test sees it.
      Values each seen once or twice (free text) never reach ``min_rows`` beyond chance.

    Severity follows the share of the column's test rows in counted categories:
    ``warn_share`` warns, ``fail_share`` fails; counted categories below ``warn_share`` and
    uncounted new values are ``low`` (informational).
    """
    train, test = ctx.train, ctx.test
    columns = [
        c
        for c in ctx.roles.categorical
        if c in test.columns and not pd.api.types.is_datetime64_any_dtype(test[c])
    ]
    if not columns:
        raise SkipCheck("there are no categorical feature columns")
    findings: list[Finding] = []
    table_rows = []
    on_all_rows = []
    for column in columns:
        levels = all_rows_levels(ctx, column)  # --engine dask: counted on every row
        if levels is not None:
            on_all_rows.append(column)
            result = _result_from_counts(levels["train"], levels["test"], params)
        else:
            result = _column_result(train[column], test[column], params)
        finding = _finding(column, result, params)
        if finding is not None:
            findings.append(finding)
        table_rows.append(
            (
                column,
                result.n_train_levels,
                result.n_unseen_levels,
                result.unseen_rows,
                result.unseen_share,
                result.expected_share,
                result.flagged_rows,
                finding.severity if finding is not None else "",
            )
        )
    worst = max((row[4] for row in table_rows), default=0.0)
    used = rows_used(ctx, on_all_rows, columns)
    return CheckOutcome(
        status=status_from(findings),
        summary=_summary(findings, columns, params),
        findings=tuple(findings),
        measurements=(
            Measurement("max_unseen_share", float(worst), greater_is_better=False),
            Measurement(
                "n_columns_with_new_categories",
                float(sum(f.severity != "low" for f in findings)),
                greater_is_better=False,
            ),
            *(() if used is None else (used,)),
        ),
        tables=(
            Table(
                "unseen_by_column",
                "Test values of categorical columns never seen in train",
                (
                    "column",
                    "train_categories",
                    "new_categories",
                    "test_rows_new",
                    "test_share_new",
                    "expected_share_good_turing",
                    "test_rows_in_counted_categories",
                    "finding",
                ),
                tuple(table_rows),
            ),
        ),
    )


@dataclass(frozen=True, slots=True)
class _ColumnResult:
    n_train_levels: int
    n_unseen_levels: int
    n_test: int
    unseen_rows: int
    unseen_share: float
    expected_share: float
    excess_p_value: float
    flagged_rows: int
    flagged_levels: tuple[tuple[str, int], ...]  # (shortened label, test rows), largest first
    n_flagged_levels: int


def _counts(series: pd.Series) -> pd.Series:
    counts = series.value_counts(dropna=True, sort=False)
    counts = counts[counts.to_numpy() > 0]
    return pd.Series(counts.to_numpy(), index=pd.Index(counts.index.astype(object), dtype=object))


def _column_result(
    train: pd.Series, test: pd.Series, params: UnseenCategoriesParams
) -> _ColumnResult:
    return _result_from_counts(_counts(train), _counts(test), params)


def _result_from_counts(
    train_counts: pd.Series, test_counts: pd.Series, params: UnseenCategoriesParams
) -> _ColumnResult:
    """The column's result from its rows per category in each split (``_counts``)."""
    n_train, n_test = int(train_counts.sum()), int(test_counts.sum())
    unseen = test_counts[~test_counts.index.isin(train_counts.index)]
    unseen_rows = int(unseen.sum())
    singletons = int((train_counts.to_numpy() == 1).sum())
    expected_share = singletons / n_train if n_train else 1.0
    if unseen_rows and n_train:
        excess_p = float(stats.binom.sf(unseen_rows - 1, n_test, expected_share))
    else:
        excess_p = 1.0
    flagged = unseen.iloc[0:0]
    if unseen_rows and n_train:
        n_levels = len(train_counts) + len(unseen)
        ratio = n_test / (n_train + n_test)
        log_p = unseen.to_numpy(dtype=float) * np.log(ratio)
        significant = (log_p < np.log(params.alpha / n_levels)) & (
            unseen.to_numpy() >= params.min_rows
        )
        flagged = unseen[significant].sort_values(ascending=False, kind="stable")
    return _ColumnResult(
        n_train_levels=len(train_counts),
        n_unseen_levels=len(unseen),
        n_test=n_test,
        unseen_rows=unseen_rows,
        unseen_share=unseen_rows / n_test if n_test else 0.0,
        expected_share=expected_share,
        excess_p_value=excess_p,
        flagged_rows=int(flagged.sum()),
        flagged_levels=tuple(
            (_short(level), int(count))
            for level, count in flagged.iloc[:_MAX_EXAMPLE_LEVELS].items()
        ),
        n_flagged_levels=len(flagged),
    )


def _short(level: object) -> str:
    text = str(level)
    return text if len(text) <= _MAX_LEVEL_CHARS else text[: _MAX_LEVEL_CHARS - 1] + "…"


def _finding(column: str, result: _ColumnResult, params: UnseenCategoriesParams) -> Finding | None:
    evidence = {
        "test_rows": result.n_test,
        "new_categories": result.n_unseen_levels,
        "test_rows_new": result.unseen_rows,
        "test_share_new": result.unseen_share,
        "expected_share_good_turing": result.expected_share,
        "counted_rows": result.flagged_rows,
        "counted_categories": [{"value": v, "rows": n} for v, n in result.flagged_levels],
        "warn_at": params.warn_share,
        "fail_at": params.fail_share,
    }
    if result.flagged_rows:
        share = result.flagged_rows / result.n_test
        if share >= params.fail_share:
            severity, level = "high", f"failure at {params.fail_share:.1%}"
        elif share >= params.warn_share:
            severity, level = "medium", f"warning at {params.warn_share:.1%}"
        else:
            severity, level = "low", f"below the {params.warn_share:.1%} warning level"
        shown = ", ".join(f"{v!r} ({n:,} rows)" for v, n in result.flagged_levels)
        more = result.n_flagged_levels - len(result.flagged_levels)
        return Finding(
            "unseen_categories",
            severity,
            f"{column!r} has {result.n_flagged_levels} categor"
            f"{'y' if result.n_flagged_levels == 1 else 'ies'} never seen in train on "
            f"{result.flagged_rows:,} of {result.n_test:,} test rows ({share:.2%}; {level}): "
            f"{shown}{f' (+{more} more)' if more > 0 else ''}. Rare categories would explain "
            f"about {result.expected_share:.2%} of test rows in new categories.",
            (column,),
            evidence,
        )
    if result.unseen_rows and result.excess_p_value < params.alpha:
        return Finding(
            "new_rare_values",
            "low",
            f"{column!r} has {result.n_unseen_levels:,} values never seen in train on "
            f"{result.unseen_rows:,} test rows ({result.unseen_share:.2%}), more than the "
            f"{result.expected_share:.2%} its rare values would explain, but none of them on "
            f"enough rows to matter (at least {params.min_rows}, beyond chance).",
            (column,),
            evidence,
        )
    return None


def _summary(findings: list[Finding], columns: list[str], params: UnseenCategoriesParams) -> str:
    serious = [f for f in findings if f.severity != "low"]
    if serious:
        parts = [
            f"{f.columns[0]!r} ({f.evidence['counted_rows'] / f.evidence['test_rows']:.1%} of "
            "test rows)"
            for f in serious[:5]
        ]
        more = f" (+{len(serious) - 5} more)" if len(serious) > 5 else ""
        return f"Categories never seen in train: {', '.join(parts)}{more}."
    return (
        f"No categorical column has categories unseen in train on {params.warn_share:.1%} or "
        f"more of its test rows beyond what its rare categories explain, across "
        f"{len(columns)} categorical columns."
    )
