"""``data.conflicting_labels``: identical rows that carry different labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from auditor.checks._common import (
    all_rows_repeats,
    chance_agreement_pairs,
    chance_pairs_of_all_rows,
    example_rows,
    row_content_columns,
    row_hashes,
    splits_rows_used,
    status_from,
)
from auditor.checks._common import splits as present_splits
from auditor.context import AuditContext
from auditor.registry import CheckOutcome, SkipCheck, param, register_check
from auditor.result import Finding, Measurement, Table
from auditor.stats.random import rng_for

CHECK_ID = "data.conflicting_labels"


@dataclass(frozen=True, slots=True)
class ConflictingLabelsParams:
    """Thresholds of ``data.conflicting_labels``.

    Parameters
    ----------
    warn_share : float, default=0.005
        Warn when rows in conflicting groups are at least this share of a split's rows.
    fail_share : float, default=0.05
        Fail when rows in conflicting groups are at least this share of a split's rows.
    min_rows : int, default=4
        Fewer rows in conflicting groups than this are never reported.
    min_chance_ratio : float, default=10.0
        Conflicts are reported only when the conflicting row pairs are at least this many
        times the number of identical row pairs expected by chance.
    min_target_gap : float, default=0.1
        Regression: targets of identical rows conflict when their range exceeds this many
        interquartile ranges of the split's target.
    """

    warn_share: float = param(
        0.005,
        "Warn when rows of identical groups with different labels make up at least this "
        "share of a split's rows.",
        share=True,
    )
    fail_share: float = param(
        0.05,
        "Fail when rows of identical groups with different labels make up at least this "
        "share of a split's rows.",
        share=True,
    )
    min_rows: int = param(
        4, "Never report fewer rows with conflicting labels than this in a split.", minimum=2
    )
    min_chance_ratio: float = param(
        10.0,
        "Report conflicts only when the conflicting row pairs are at least this many times "
        "the number of identical row pairs expected by chance (coarse tables repeat rows "
        "naturally, with whatever labels).",
        minimum=1,
    )
    min_target_gap: float = param(
        0.1,
        "Regression: identical rows conflict when their targets differ by more than this many "
        "interquartile ranges of the target.",
        minimum=0,
    )


@register_check(
    CHECK_ID,
    title="Identical rows with different labels",
    needs=("test",),
    params=ConflictingLabelsParams,
    rationale=(
        "When the same row appears with two different labels, at least one label is wrong or "
        "the columns miss what decides the outcome. The model is trained on contradictions, "
        "and test scores are capped: no model can get both copies right."
    ),
    remedy=(
        "Look at the example rows: find which label is right (a relabelled copy, a late "
        "correction appended instead of applied) and keep one row per case, or add the "
        "information that tells the cases apart."
    ),
)
def conflicting_labels(ctx: AuditContext, params: ConflictingLabelsParams) -> CheckOutcome:
    """Find groups of rows identical in every column but the label and id, with different labels.

    Notes
    -----
    Rows are compared on every column except the target and row identifiers (the id role,
    and undeclared columns unique on every row that hold no floats), missing values
    comparing equal. For classification a group conflicts when it holds two or more
    classes, and the conflicting pairs are the pairs of its rows with different classes.
    For regression a group conflicts when its targets span more than ``min_target_gap``
    interquartile ranges of the split's target; all of its pairs count as conflicting.

    Coarse tables (a few categories) make identical rows, and so conflicts, a matter of
    chance. The number of identical row pairs expected by chance is estimated by chaining
    the columns' agreement rates (see ``chance_agreement_pairs``); conflicts are reported
    only when the conflicting pairs exceed ``min_chance_ratio`` times that number (even if
    every chance pair disagreed, that many would not arise). Severity follows the share of
    rows in conflicting groups: ``warn_share`` warns, ``fail_share`` fails.
    """
    rng = rng_for(ctx.seed, CHECK_ID)
    findings: list[Finding] = []
    table_rows = []
    measurements = []
    counted_splits = []
    for split, frame in present_splits(ctx).items():
        columns = row_content_columns(ctx, frame, with_target=False)
        if not columns:
            continue
        # --engine dask: every row's conflicts (classification; a regression target's
        # spread is judged against its quartiles, which the counts do not hold).
        full = None if ctx.task == "regression" else all_rows_repeats(ctx, split, columns)
        if full is None:
            n_rows = len(frame)
            positions, pairs = _conflicts(ctx, frame, columns, params)
            n_conflict = len(positions)
        else:
            counted_splits.append(split)
            n_rows, n_conflict = full["rows"], int(full["conflict_rows"])
            positions, pairs = None, float(full["conflict_pairs"])
        share = n_conflict / n_rows
        expected_pairs = None
        verdict = "none"
        if n_conflict >= params.min_rows:
            expected_pairs = chance_pairs_of_all_rows(
                chance_agreement_pairs(frame, columns, rng), len(frame), n_rows
            )
            if pairs >= params.min_chance_ratio * max(expected_pairs, 1e-9):
                finding = _finding(
                    split, n_rows, n_conflict, positions, pairs, expected_pairs, params
                )
                findings.append(finding)
                verdict = finding.severity
            else:
                verdict = "expected by chance"
        elif n_conflict:
            verdict = "too few to report"
        measurements.append(Measurement(f"{split}_conflict_share", share, greater_is_better=False))
        table_rows.append(
            (
                split,
                n_rows,
                len(columns),
                n_conflict,
                share,
                pairs,
                None if expected_pairs is None else float(expected_pairs),
                verdict,
            )
        )
    if not table_rows:
        raise SkipCheck("there is no column besides the target and row identifiers")
    if counted_splits:
        measurements.append(splits_rows_used(ctx, counted_splits))
    return CheckOutcome(
        status=status_from(findings),
        summary=_summary(findings, table_rows, params),
        findings=tuple(findings),
        measurements=tuple(measurements),
        tables=(
            Table(
                "conflicts_by_split",
                "Identical rows with different labels, by split",
                (
                    "split",
                    "rows",
                    "columns_compared",
                    "rows_in_conflict",
                    "share",
                    "conflicting_pairs",
                    "identical_pairs_expected_by_chance",
                    "finding",
                ),
                tuple(table_rows),
            ),
        ),
    )


def _conflicts(
    ctx: AuditContext, frame: pd.DataFrame, columns: list[str], params: ConflictingLabelsParams
) -> tuple[np.ndarray, float]:
    """Positions of rows in conflicting groups, and the number of conflicting pairs."""
    hashes = pd.Series(row_hashes(frame, columns))
    repeated = np.flatnonzero(hashes.duplicated(keep=False).to_numpy())
    if len(repeated) == 0:
        return repeated, 0.0
    y = frame[ctx.target].iloc[repeated]
    groups = pd.DataFrame({"key": hashes.iloc[repeated].to_numpy()})
    if ctx.task == "regression":
        values = y.to_numpy(dtype=float)
        q1, q3 = np.nanquantile(frame[ctx.target].to_numpy(dtype=float), [0.25, 0.75])
        tolerance = params.min_target_gap * (q3 - q1)
        groups["y"] = values
        spread = groups.groupby("key")["y"].agg(["min", "max", "size"])
        bad = spread.index[(spread["max"] - spread["min"]) > tolerance]
        sizes = spread.loc[bad, "size"].to_numpy(dtype=float)
        pairs = float((sizes * (sizes - 1) / 2).sum())
    else:
        groups["y"] = pd.factorize(y)[0]
        sizes = groups.groupby("key").size()
        same = groups.groupby(["key", "y"]).size()
        same_pairs = (same * (same - 1) / 2).groupby(level="key").sum()
        all_pairs = sizes * (sizes - 1) / 2
        conflicting = all_pairs - same_pairs.reindex(all_pairs.index, fill_value=0)
        bad = conflicting.index[conflicting > 0]
        pairs = float(conflicting.sum())
    in_conflict = groups["key"].isin(bad).to_numpy()
    return repeated[in_conflict], pairs


def _finding(
    split: str,
    n_rows: int,
    n_conflict: int,
    positions: np.ndarray | None,
    pairs: float,
    expected_pairs: float,
    params: ConflictingLabelsParams,
) -> Finding:
    share = n_conflict / n_rows
    if share >= params.fail_share:
        severity, level = "high", f"failure at {params.fail_share:.1%}"
    elif share >= params.warn_share:
        severity, level = "medium", f"warning at {params.warn_share:.1%}"
    else:
        severity, level = "low", f"below the {params.warn_share:.1%} warning level"
    examples = [] if positions is None else example_rows(positions)
    where = (
        f" Examples at row positions {', '.join(map(str, examples))} (0-based)." if examples else ""
    )
    return Finding(
        "conflicting_labels",
        severity,
        f"{n_conflict:,} of {n_rows:,} {split} rows ({share:.2%}) are identical in every "
        f"column but the label and the row id to another {split} row with a different label "
        f"({level}); that makes {pairs:,.0f} conflicting pairs where chance alone would give "
        f"about {expected_pairs:.2g} identical pairs.{where}",
        (),
        {
            "split": split,
            "rows": n_conflict,
            "share": share,
            "conflicting_pairs": pairs,
            "expected_pairs_by_chance": float(expected_pairs),
            "warn_at": params.warn_share,
            "fail_at": params.fail_share,
            "example_rows": examples,
        },
    )


def _summary(
    findings: list[Finding], table_rows: list[tuple], params: ConflictingLabelsParams
) -> str:
    if findings:
        parts = [f"{f.evidence['rows']:,} rows in {f.evidence['split']}" for f in findings]
        return f"Identical rows with different labels beyond chance: {'; '.join(parts)}."
    described = ", ".join(f"{row[3]:,} of {row[1]:,} {row[0]} rows" for row in table_rows)
    return (
        f"Rows identical to another row but for the label: {described}; none beyond what "
        f"chance explains at {params.min_chance_ratio:g} times the expected count, or fewer "
        f"than {params.min_rows}."
    )
