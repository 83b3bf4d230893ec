"""``data.missing_values``: missing cells, and missingness that differs between splits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from auditor.checks._common import splits as present_splits
from auditor.context import AuditContext
from auditor.registry import CheckOutcome, param, register_check
from auditor.result import Finding, Measurement, Table
from auditor.stats.pvalues import p_equals


@dataclass(frozen=True, slots=True)
class MissingValuesParams:
    warn_share: float = param(
        0.5, "Warn when a column is missing on at least this share of rows.", share=True
    )
    max_share_gap: float = param(
        0.1, "Fail when train and test missing shares differ by at least this much.", share=True
    )
    alpha: float = param(
        0.001, "Significance level of the train-vs-test missingness test.", share=True
    )


@register_check(
    "data.missing_values",
    title="Missing values",
    needs=("test",),
    params=MissingValuesParams,
    rationale=(
        "Columns that are mostly empty carry little information, and a column that is missing "
        "far more often in one split than the other usually means a broken data pipeline."
    ),
    remedy=(
        "Find where the values are lost upstream; impute or drop columns that are mostly empty; "
        "make train and production data go through the same pipeline."
    ),
)
def missing_values(ctx: AuditContext, params: MissingValuesParams) -> CheckOutcome:
    """Count missing cells per column in each split and compare the splits.

    Notes
    -----
    A column is flagged once, with the share of every split, when its missing share reaches
    ``warn_share`` in a split. An empty column carries nothing, so it warns like a mostly
    empty one: it cannot mislead the model, it only wastes a column. Train and test differ
    when the absolute gap in missing share is at least ``max_share_gap`` *and* a
    two-proportion z-test rejects equal shares at ``alpha`` (the effect floor keeps huge
    tables from flagging trivial gaps): the model meets another column in use than in
    training, which fails when the model takes the column (or its inputs are unknown) and
    warns otherwise.
    """
    splits = present_splits(ctx)
    # Columns of every split: one that a split lacks is named in the inferred roles instead.
    columns = [
        c
        for c in ctx.test.columns
        if c != ctx.target and all(c in frame.columns for frame in splits.values())
    ]
    counts = {name: frame[columns].isna().sum() for name, frame in splits.items()}
    rows = {name: len(frame) for name, frame in splits.items()}
    full = ctx.all_rows  # --engine dask: the counts of every row, merged from the partitions
    if full is not None:
        counts = {
            name: pd.Series({c: full.missing[name].get(str(c), 0) for c in columns}, dtype=int)
            for name in splits
        }
        rows = {name: full.rows[name] for name in splits}
    shares = {name: counts[name] / rows[name] for name in splits}
    findings: list[Finding] = []
    for column in columns:
        finding = _column_finding(column, {n: float(shares[n][column]) for n in splits}, params)
        if finding is not None:
            findings.append(finding)
        if "train" in splits:
            used = not ctx.model_features or column in ctx.model_features
            finding = _gap_finding(column, counts, rows, params, used)
            if finding is not None:
                findings.append(finding)

    table_rows = []
    for column in columns:
        if any(counts[n][column] for n in splits):
            table_rows.append(
                (
                    column,
                    *(
                        x
                        for n in splits
                        for x in (int(counts[n][column]), float(shares[n][column]))
                    ),
                )
            )
    header = ("column", *(x for n in splits for x in (f"{n}_missing", f"{n}_share")))
    max_share = max(float(shares[n].max()) if columns else 0.0 for n in splits)
    n_with_missing = int(sum(any(counts[n][c] for n in splits) for c in columns))
    status = (
        "fail" if any(f.severity == "high" for f in findings) else ("warn" if findings else "pass")
    )
    if findings:
        summary = f"{len(findings)} missing-value problem(s) in {len({f.columns[0] for f in findings})} column(s)."
    elif n_with_missing:
        summary = (
            f"{n_with_missing} of {len(columns)} columns have missing values, at most {max_share:.1%} of rows, "
            f"below the {params.warn_share:.0%} warning level"
            + (" and with similar shares in train and test." if "train" in splits else ".")
        )
    else:
        summary = f"No missing values in {len(columns)} columns."
    return CheckOutcome(
        status=status,
        summary=summary,
        findings=tuple(findings),
        measurements=(
            Measurement("max_missing_share", max_share, greater_is_better=False),
            Measurement("n_columns_with_missing", float(n_with_missing), greater_is_better=False),
            *(
                ()
                if full is None
                else (
                    Measurement(
                        "rows_used",
                        float(rows["test"]),
                        note="all " + ", ".join(f"{rows[n]:,} {n}" for n in splits) + " rows",
                    ),
                )
            ),
        ),
        tables=(Table("missing_by_column", "Missing values by column", header, tuple(table_rows)),),
    )


def _column_finding(
    column: str, shares: dict[str, float], params: MissingValuesParams
) -> Finding | None:
    """One finding for a mostly (or wholly) empty column, with every split's share."""
    worst = max(shares.values())
    if worst < params.warn_share:
        return None
    each = " and ".join(f"{share:.1%} of {split} rows" for split, share in shares.items())
    if min(shares.values()) == 1.0:
        return Finding(
            "all_missing",
            "medium",
            f"{column!r} is empty in every row: it carries no information; drop it.",
            (column,),
            {**{f"{split}_share": share for split, share in shares.items()}},
        )
    return Finding(
        "mostly_missing",
        "medium",
        f"{column!r} is missing in {each} (warning at {params.warn_share:.0%}).",
        (column,),
        {
            **{f"{split}_share": share for split, share in shares.items()},
            "warn_at": params.warn_share,
        },
    )


def _gap_finding(
    column: str,
    counts: dict[str, pd.Series],
    rows: dict[str, int],
    params: MissingValuesParams,
    used: bool,
) -> Finding | None:
    k_train, k_test = int(counts["train"][column]), int(counts["test"][column])
    n_train, n_test = rows["train"], rows["test"]
    p_train, p_test = k_train / n_train, k_test / n_test
    gap = abs(p_test - p_train)
    # Tolerance: 0.3 - 0.2 is 0.0999... in floating point, and "at least 0.1" must include it.
    if gap < params.max_share_gap - 1e-9:
        return None
    pooled = (k_train + k_test) / (n_train + n_test)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n_train + 1 / n_test))
    p_value = float(2 * stats.norm.sf(gap / se)) if se > 0 else 0.0
    if p_value >= params.alpha:
        return None
    return Finding(
        "missing_share_differs",
        "high" if used else "medium",
        f"{column!r} is missing in {p_test:.1%} of test rows but {p_train:.1%} of train rows "
        f"(gap {gap:.1%}, limit {params.max_share_gap:.0%}, {p_equals('p', p_value)})"
        + ("." if used else "; the model does not take it as an input."),
        (column,),
        {
            "train_share": p_train,
            "test_share": p_test,
            "gap": gap,
            "p_value": p_value,
            "fail_at": params.max_share_gap,
        },
    )
