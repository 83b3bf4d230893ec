"""``data.duplicate_rows``: rows repeated inside one split, beyond what chance explains."""

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
from auditor.registry import CheckOutcome, param, register_check
from auditor.result import Finding, Measurement, Table
from auditor.stats.random import rng_for

CHECK_ID = "data.duplicate_rows"


@dataclass(frozen=True, slots=True)
class DuplicateRowsParams:
    """Thresholds of ``data.duplicate_rows``.

    Parameters
    ----------
    warn_share : float, default=0.002
        Warn when copies of earlier rows are at least this share of a split's rows.
    fail_share : float, default=0.1
        Fail when copies are at least this share of a split's rows.
    min_rows : int, default=5
        Fewer copies than this in a split are never reported.
    min_chance_ratio : float, default=10.0
        Copies are reported only when the identical row pairs are at least this many times
        the number expected by chance.
    """

    warn_share: float = param(
        0.002,
        "Warn when copies of earlier rows make up at least this share of a split's rows.",
        share=True,
    )
    fail_share: float = param(
        0.1,
        "Fail when copies of earlier rows make up at least this share of a split's rows.",
        share=True,
    )
    min_rows: int = param(5, "Never report fewer copied rows than this in a split.", minimum=1)
    min_chance_ratio: float = param(
        10.0,
        "Report copies only when the identical row pairs are at least this many times the "
        "number expected by chance (tables of a few coarse columns repeat rows naturally).",
        minimum=1,
    )


@register_check(
    CHECK_ID,
    title="Duplicate rows",
    needs=("test",),
    params=DuplicateRowsParams,
    rationale=(
        "Rows that appear several times give those examples extra weight when the model is "
        "trained, and make test scores count the same case more than once. Many copies "
        "usually mean that a data extract was appended twice or a join multiplied rows."
    ),
    remedy=(
        "Find the step that copies rows (a repeated export, a join on a non-unique key) and "
        "remove the copies, keeping one row per real case. If repeats are genuine (the same "
        "case recorded twice on purpose), keep them and waive this check with that reason."
    ),
)
def duplicate_rows(ctx: AuditContext, params: DuplicateRowsParams) -> CheckOutcome:
    """Count rows that repeat an earlier row of the same split in every column but the id.

    Notes
    -----
    Rows are compared on every column except row identifiers (the id role, and undeclared
    columns unique on every row that hold no floats), target included: a copy that only
    got a new id is still a copy. Missing values compare equal. The count is of *copies*:
    a row seen three times adds two.

    Tables of a few coarse columns (three categories and an age band) repeat rows by chance.
    The number of identical row pairs expected by chance is estimated by chaining the
    columns' agreement rates (see ``chance_agreement_pairs``), and copies are reported only
    when the observed identical pairs exceed ``min_chance_ratio`` times that estimate. A
    table with one continuous column expects essentially no identical rows, so any sizeable
    repetition there is reported. Severity follows the share of copies: ``warn_share``
    warns, ``fail_share`` fails; fewer than ``min_rows`` copies are ignored.
    """
    rng = rng_for(ctx.seed, CHECK_ID)
    findings: list[Finding] = []
    table_rows = []
    measurements = []
    counted_splits = []
    for split, frame in present_splits(ctx).items():
        columns = row_content_columns(ctx, frame, with_target=True)
        full = all_rows_repeats(ctx, split, columns[:-1])
        if full is None:
            hashes = pd.Series(row_hashes(frame, columns))
            copies = hashes.duplicated(keep="first").to_numpy()
            n_rows, n_copies = len(frame), int(copies.sum())
            observed_pairs = _identical_pairs(hashes) if n_copies else 0.0
            positions = np.flatnonzero(copies)
        else:  # --engine dask: every row's copies; their positions are not kept
            counted_splits.append(split)
            n_rows, n_copies = full["rows"], int(full["copies"])
            observed_pairs, positions = float(full["identical_pairs"]), None
        share = n_copies / n_rows
        expected_pairs = None
        verdict = "none"
        if n_copies >= params.min_rows:
            expected_pairs = chance_pairs_of_all_rows(
                chance_agreement_pairs(frame, columns, rng), len(frame), n_rows
            )
            if observed_pairs >= params.min_chance_ratio * max(expected_pairs, 1e-9):
                finding = _finding(split, n_rows, n_copies, expected_pairs, positions, params)
                findings.append(finding)
                verdict = finding.severity
            else:
                verdict = "expected by chance"
        elif n_copies:
            verdict = "too few to report"
        measurements.append(Measurement(f"{split}_duplicate_share", share, greater_is_better=False))
        table_rows.append(
            (
                split,
                n_rows,
                len(columns),
                n_copies,
                share,
                None if expected_pairs is None else float(expected_pairs),
                verdict,
            )
        )
    if counted_splits:
        measurements.append(splits_rows_used(ctx, counted_splits))
    return CheckOutcome(
        status=status_from(findings),
        summary=_summary(findings, table_rows, params),
        findings=tuple(findings),
        measurements=tuple(measurements),
        tables=(
            Table(
                "duplicates_by_split",
                "Rows repeating an earlier row, by split",
                (
                    "split",
                    "rows",
                    "columns_compared",
                    "copies",
                    "share",
                    "identical_pairs_expected_by_chance",
                    "finding",
                ),
                tuple(table_rows),
            ),
        ),
    )


def _identical_pairs(hashes: pd.Series) -> float:
    counts = hashes.value_counts(sort=False).to_numpy(dtype=np.float64)
    return float((counts * (counts - 1) / 2).sum())


def _finding(
    split: str,
    n_rows: int,
    n_copies: int,
    expected_pairs: float,
    positions: np.ndarray | None,
    params: DuplicateRowsParams,
) -> Finding:
    share = n_copies / n_rows
    if share >= params.fail_share:
        severity, level = "high", f"failure at {params.fail_share:.1%}"
    elif share >= params.warn_share:
        severity, level = "medium", f"warning at {params.warn_share:.1%}"
    else:
        severity, level = "low", f"below the {params.warn_share:.1%} warning level"
    examples = [] if positions is None else example_rows(positions)
    where = (
        f" First copies at row positions {', '.join(map(str, examples))} (0-based)."
        if examples
        else ""
    )
    return Finding(
        "duplicate_rows",
        severity,
        f"{n_copies:,} of {n_rows:,} {split} rows ({share:.2%}) repeat an earlier {split} row "
        f"in every column but the row id ({level}); chance alone would give about "
        f"{expected_pairs:.2g} identical pairs.{where}",
        (),
        {
            "split": split,
            "rows": n_copies,
            "share": share,
            "expected_pairs_by_chance": float(expected_pairs),
            "warn_at": params.warn_share,
            "fail_at": params.fail_share,
            "example_rows": examples,
        },
    )


def _summary(findings: list[Finding], table_rows: list[tuple], params: DuplicateRowsParams) -> str:
    if findings:
        parts = [f"{f.evidence['rows']:,} in {f.evidence['split']}" for f in findings]
        return f"Rows repeating an earlier row beyond chance: {'; '.join(parts)}."
    described = ", ".join(f"{row[3]:,} of {row[1]:,} {row[0]} rows" for row in table_rows)
    return (
        f"Rows repeating an earlier row in every column but the id: {described}; none beyond "
        f"what chance explains at {params.min_chance_ratio:g} times the expected count, "
        f"or fewer than {params.min_rows}."
    )
