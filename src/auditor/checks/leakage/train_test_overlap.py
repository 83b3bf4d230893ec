"""``leakage.train_test_overlap``: test rows that repeat a train row exactly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from auditor.checks._common import example_rows, status_from
from auditor.checks._row_keys import (
    chance_for_rows,
    chance_text,
    first_positions,
    isin,
    judge_matches,
    repeated,
    row_keys,
)
from auditor.context import AuditContext
from auditor.errors import preview
from auditor.registry import CheckOutcome, SkipCheck, param, register_check
from auditor.result import Finding, Measurement

CHECK_ID = "leakage.train_test_overlap"


@dataclass(frozen=True, slots=True)
class TrainTestOverlapParams:
    """Thresholds of ``leakage.train_test_overlap``.

    Parameters
    ----------
    fail_share : float, default=0.001
        Fail when test rows repeating a train row, beyond chance, are this share of the test.
    min_rows : int, default=1
        Warn from this many repeated test rows beyond chance; fewer are informational.
    chance_margin : float, default=0.5
        Repeats up to (1 + chance_margin) times the rate seen inside train are chance.
    alpha : float, default=0.001
        Significance level of the binomial test against the chance rate.
    """

    fail_share: float = param(
        0.001,
        "Fail when test rows that repeat a train row, beyond the number chance explains, are "
        "at least this share of the test rows.",
        share=True,
    )
    min_rows: int = param(
        1,
        "Warn when at least this many test rows repeat a train row beyond chance; fewer are "
        "reported as information.",
        minimum=1,
    )
    chance_margin: float = param(
        0.5,
        "Repeats up to (1 + chance_margin) times the rate at which train rows repeat other "
        "train rows are attributed to chance (tables of a few coarse columns).",
        minimum=0,
    )
    alpha: float = param(
        0.001, "Significance level of the test against the chance rate.", share=True
    )


@register_check(
    CHECK_ID,
    title="Test rows copied from the training data",
    needs=("train",),
    params=TrainTestOverlapParams,
    rationale=(
        "A test row that is an exact copy of a training row was, in effect, seen by the "
        "model during training. Its prediction measures memory, not skill, so the test "
        "score overstates how the model will do on new cases. Even a small share of copies "
        "can hide a broken split (rows appended twice, a join that duplicated records)."
    ),
    remedy=(
        "Remove duplicate records before splitting, then split again so that every record "
        "lands in exactly one of train and test; if the same entity legitimately appears "
        "several times, split by that entity (declare it with --group-column)."
    ),
)
def train_test_overlap(ctx: AuditContext, params: TrainTestOverlapParams) -> CheckOutcome:
    """Count test rows whose feature values repeat a train row exactly.

    Notes
    -----
    Rows are compared on the feature columns: the target, declared or inferred ids, entity,
    group, time and date columns are left out, and so is any column unique on every train
    row that holds no floats (an undeclared reference number), so a copied row given a new
    id is still a copy. Numbers compare as numbers across files (a column read as decimals
    because of a missing value equals its integer twin), missing equals missing; a column
    of whole numbers typed as integers in one split and decimals in the other makes every
    row differ, and is reported (the copies then surface in ``leakage.near_duplicates``).

    With continuous features chance repeats are all but impossible, so any repeat is
    suspicious; with a few coarse columns identical rows are expected. The chance rate is
    the larger of two estimates: the share of train rows that repeat another train row (a
    test row drawn like the train rows repeats one of them about as often), and the rate if
    columns were independent (the number of train rows times the product over columns of
    the probability that two train rows agree on it). When no train row repeats another,
    half a row of prior is added unless independence rules chance out, so one copy among
    continuous columns is evidence while one repeat among coarse columns is not. Repeats
    count as copies only when the test share exceeds ``(1 + chance_margin)`` times the
    chance rate with a binomial p-value below ``alpha``. The estimated copies (repeats
    minus the chance rate times the test rows) fail at ``fail_share`` of the test rows
    (and at least ``min_rows``) when they are also enough to move a metric beyond its
    interval (``1.96 * sqrt(0.25 / n_test)`` of the test rows: 3.5% of 800, 0.3% of
    100,000), and warn from ``min_rows``; fewer are informational.

    With ``--engine dask`` the repeats and the train rows that repeat another are counted
    on every row (a join of the rows' exact keys, ``engine.partitioned.overlap``); the
    columns compared and the columns' agreement rates come from the seeded sample, and the
    finding gives no example rows.
    """
    keys = row_keys(ctx)
    if not keys.columns:
        raise SkipCheck("there is no feature column to compare rows on")
    full = ctx.all_rows.overlap if ctx.all_rows is not None else None
    if full is not None and tuple(full["columns"]) == keys.columns:
        # --engine dask: the counts of every row (a hash join of the rows' exact keys); the
        # chance rate's column agreement is measured on the sample's train rows.
        n_train, n_test = ctx.all_rows.rows["train"], ctx.all_rows.rows["test"]
        retyped = tuple(full["retyped"])
        observed = 0 if retyped else full["test_in_train"]
        within = full["train_repeated"]
        chance = chance_for_rows(keys.agreement_exact, n_train)
        in_train = np.zeros(0, dtype=bool)  # row positions: not kept across partitions
    else:
        full = None
        n_train, n_test = len(ctx.train), len(ctx.test)
        retyped = keys.retyped
        in_train = isin(keys.test.exact, keys.train.exact)
        observed = int(in_train.sum())
        within = int(repeated(keys.train.exact).sum())
        chance = keys.chance_exact
    matches = judge_matches(observed, n_test, within, n_train, params.chance_margin, chance)
    n_cols = len(keys.columns)
    on = f"{n_cols} feature column{'s' if n_cols != 1 else ''}"

    findings = []
    severity = matches.severity(
        fail_share=params.fail_share, min_rows=params.min_rows, alpha=params.alpha
    )
    if severity is not None:
        test_pos = np.flatnonzero(in_train)[:10]
        train_pos = first_positions(keys.train.exact, keys.test.exact[test_pos])
        chance = (
            f"chance explains about {matches.expected_rows:,.0f} ({chance_text(matches, 'repeat')})"
            if matches.expected_rows >= 0.5
            else "no train row repeats another, so chance explains none"
        )
        findings.append(
            Finding(
                "test_rows_in_train",
                severity,
                f"{matches.observed:,} of {n_test:,} test rows ({matches.share:.2%}) repeat a "
                f"train row exactly on all {on}; {chance}. About {matches.excess_rows:,.0f} "
                f"cop{'y' if round(matches.excess_rows) == 1 else 'ies'} "
                f"({matches.excess_share:.2%} of test rows; fail at "
                f"{matches.fail_share(params.fail_share):.1%}, warn from {params.min_rows} row{'s' if params.min_rows != 1 else ''}).",
                (),
                {
                    "rows": matches.observed,
                    "share": matches.share,
                    "expected_share": matches.expected_share,
                    "excess_rows": round(matches.excess_rows, 1),
                    "p_value": matches.p_value,
                    "fail_at": matches.fail_share(params.fail_share),
                    "example_test_rows": example_rows(test_pos),
                    "example_train_rows": example_rows(train_pos),
                },
            )
        )
    if retyped:
        findings.append(
            Finding(
                "number_type_differs",
                "low",
                f"{preview(retyped)} {'holds' if len(retyped) == 1 else 'hold'} whole "
                "numbers stored as integers in one split and "
                "as decimals in the other, so no row can be identical; copies that differ only "
                "in type are counted by leakage.near_duplicates.",
                tuple(retyped),
                {"columns": list(retyped)[:10]},
            )
        )

    status = status_from(findings)
    if severity in ("high", "medium"):
        summary = (
            f"{matches.observed:,} test rows ({matches.share:.2%}) repeat a train row across "
            f"{on}, about {matches.excess_rows:,.0f} more than chance explains."
        )
    elif matches.observed == 0:
        summary = f"No test row repeats a train row across {on}."
    elif severity is None:
        summary = (
            f"{matches.observed:,} test rows ({matches.share:.2%}) repeat a train row across "
            f"{on}, in line with the {chance_text(matches, 'repeat')}: identical rows arise by "
            "chance in tables of coarse columns."
        )
    else:
        summary = (
            f"{matches.observed:,} test rows repeat a train row across {on}, too few to "
            f"report (warn from {params.min_rows} row{'s' if params.min_rows != 1 else ''} beyond chance)."
        )
    return CheckOutcome(
        status=status,
        summary=summary,
        findings=tuple(findings),
        measurements=(
            Measurement("test_rows_in_train", float(matches.observed), greater_is_better=False),
            Measurement("test_share_in_train", matches.share, greater_is_better=False),
            Measurement("chance_share", matches.expected_share, greater_is_better=None),
            *(
                ()
                if full is None
                else (
                    Measurement(
                        "rows_used",
                        float(n_test),
                        note=f"all {n_test:,} test rows against all {n_train:,} train rows",
                    ),
                )
            ),
        ),
    )
