"""``leakage.near_duplicates``: test rows that are near copies of train rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from auditor.checks._common import example_rows, status_from
from auditor.checks._row_keys import (
    NEAR_DECIMALS,
    chance_text,
    column_codes,
    first_positions,
    isin,
    judge_matches,
    repeated,
    row_keys,
)
from auditor.context import AuditContext
from auditor.engine.neighbours import nearest_train_rows
from auditor.registry import CheckOutcome, SkipCheck, param, register_check
from auditor.result import Finding, Measurement, Table
from auditor.stats.random import rng_for

CHECK_ID = "leakage.near_duplicates"
# Columns named in a finding's message (all of them are in ``columns``).
_MESSAGE_COLUMNS = 5


@dataclass(frozen=True, slots=True)
class NearDuplicatesParams:
    """Thresholds of ``leakage.near_duplicates``.

    Parameters
    ----------
    fail_share : float, default=0.001
        Fail when near copies, beyond chance, are this share of the test rows.
    min_rows : int, default=1
        Warn from this many near copies beyond chance; fewer are informational.
    chance_margin : float, default=0.5
        Near matches up to (1 + chance_margin) times the rate inside train are chance.
    alpha : float, default=0.001
        Significance level of the binomial test against the chance rate.
    distance_ratio : float, default=0.1
        A test row this many times closer to a train row than training rows typically are
        to their nearest neighbour is a near copy.
    """

    fail_share: float = param(
        0.001,
        "Fail when test rows that are near copies of train rows, beyond the number chance "
        "explains, are at least this share of the test rows.",
        share=True,
    )
    min_rows: int = param(
        1,
        "Warn when at least this many test rows are near copies beyond chance; fewer are "
        "reported as information.",
        minimum=1,
    )
    chance_margin: float = param(
        0.5,
        "Near matches up to (1 + chance_margin) times the rate at which train rows nearly "
        "match other train rows are attributed to chance.",
        minimum=0,
    )
    alpha: float = param(
        0.001, "Significance level of the test against the chance rate.", share=True
    )
    distance_ratio: float = param(
        0.1,
        "A test row whose nearest train row (numbers scaled by their spread, categories "
        "matched) is closer than this fraction of the median distance between training rows "
        "and their nearest neighbour is a near copy: robust to rounding, units and jitter.",
        share=True,
    )


@register_check(
    CHECK_ID,
    title="Test rows that are near copies of training rows",
    needs=("train",),
    params=NearDuplicatesParams,
    rationale=(
        "A test row that differs from a training row only by rounding, a tiny numeric "
        "change, a number stored as text or different capitalisation is the same record "
        "seen twice. Exact-match checks miss it (adding 0.000000001 to one value hides a "
        "copy from them), yet the model has effectively seen it, and the test score is "
        "inflated just as much as by an exact copy."
    ),
    remedy=(
        "Normalise the data (rounding, number types, spelling of text) before removing "
        "duplicates, remove the near copies, and split again so each record lands in one "
        "split only; if the same entity recurs, split by that entity (--group-column)."
    ),
)
def near_duplicates(ctx: AuditContext, params: NearDuplicatesParams) -> CheckOutcome:
    """Count test rows that match a train row after normalisation but not exactly.

    Notes
    -----
    Rows are compared on the same feature columns as ``leakage.train_test_overlap``, in two
    ways. By distance (``auditor.engine.neighbours``): a test row whose nearest train row,
    with numbers scaled by their training spread and categories matched exactly, lies
    within ``distance_ratio`` of the median distance between training rows and their own
    nearest neighbour, and closer than all but 0.1% of training rows come to theirs, is a
    near copy, whatever rounding, change of units or small jitter
    on a few columns it went through. By normalised value: rows become identical once
    numbers are rounded to 2, 3 or 4 decimals (rows must agree at one of these levels on
    every column), numbers written as text are read as numbers, integers and decimals
    compare by value, and text is stripped, lower-cased and its inner spaces collapsed.
    Beyond 20,000 test rows the distance search runs on a seeded sample of them, and the
    counts are estimates. Rounding at each
    level separately is exact: a copy rounded to 3 decimals always matches its original at
    3 decimals, where one coarse grid would split values lying near its boundaries. Test
    rows identical to a train row are left to ``leakage.train_test_overlap``.

    The chance rate is the larger of the share of train rows (a seeded sample of up to
    20,000) that nearly match another train row, by either test, without being identical to
    any, and the rate if columns were independent
    (as in ``leakage.train_test_overlap``, at the coarsest rounding). Near copies count
    only when the test share exceeds ``(1 + chance_margin)`` times that rate with a
    binomial p-value below ``alpha``; the estimated copies fail at ``fail_share`` of the
    test rows (and at least ``min_rows``) when they are also enough to move a metric beyond
    its interval (``1.96 * sqrt(0.25 / n_test)`` of the test rows), and warn from
    ``min_rows``. With continuous
    columns chance near matches at 2 decimals are still all but impossible; with one or two
    columns on a small range they are common, and the chance rate absorbs them. The finding
    names the columns in which the near copies differ from their train rows.
    """
    keys = row_keys(ctx)
    if not keys.columns:
        raise SkipCheck("there is no feature column to compare rows on")
    n_train, n_test = len(ctx.train), len(ctx.test)
    exact_in_train = isin(keys.test.exact, keys.train.exact)
    near_in_train = np.zeros(n_test, dtype=bool)
    train_near_any = np.zeros(n_train, dtype=bool)
    for test_level, train_level in zip(keys.test.near, keys.train.near, strict=True):
        near_in_train |= isin(test_level, train_level)
        train_near_any |= repeated(train_level)
    train_has_twin = repeated(keys.train.exact)
    found = nearest_train_rows(ctx.train, ctx.test, list(keys.columns), rng_for(ctx.seed, CHECK_ID))
    searched, close, source = _by_distance(found, n_test, params)
    reference = found.reference_rows if found is not None else np.arange(n_train)
    reference_close = (
        (found.reference > 0) & (found.reference <= found.near(params.distance_ratio))
        if found is not None
        else np.zeros(n_train, dtype=bool)
    )
    rounded = near_in_train[searched] & ~exact_in_train[searched]
    by_distance = close & ~near_in_train[searched] & ~exact_in_train[searched]
    single = ~train_has_twin[reference]
    within_rounded = int((train_near_any[reference] & single).sum())
    within_distance = int((reference_close & ~train_near_any[reference] & single).sum())
    if not _distance_beyond_chance(
        int(by_distance.sum()), len(searched), within_distance, len(reference), params
    ):
        by_distance[:] = False
        within_distance = 0
    is_near = rounded | by_distance
    matches = judge_matches(
        int(is_near.sum()),
        len(searched),
        within_rounded + within_distance,
        len(reference),
        params.chance_margin,
        keys.chance_near,
    )
    sampled = len(searched) < n_test
    n_cols = len(keys.columns)
    on = f"{n_cols} feature column{'s' if n_cols != 1 else ''}"
    severity = matches.severity(
        fail_share=params.fail_share, min_rows=params.min_rows, alpha=params.alpha, n_test=n_test
    )
    fail_at = matches.fail_share(params.fail_share, n_test)

    findings = []
    tables = []
    if severity is not None:
        test_pos = searched[is_near]
        train_pos = _matching_train_rows(keys, test_pos)
        train_pos = np.where(train_pos >= 0, train_pos, source[is_near])
        differing = _differing_columns(ctx, keys, test_pos, train_pos)
        named = ", ".join(
            f"{c!r} ({d['rows']:,} rows{_how(d)})"
            for c, d in list(differing.items())[:_MESSAGE_COLUMNS]
        )
        more = len(differing) - _MESSAGE_COLUMNS
        chance = (
            f"chance explains about {matches.expected_rows:,.0f} "
            f"({chance_text(matches, 'nearly match')})"
            if matches.expected_rows >= 0.5
            else "chance explains none (no train row nearly matches another)"
        )
        findings.append(
            Finding(
                "near_copies_of_train_rows",
                severity,
                f"{matches.observed:,} of {len(searched):,} test rows "
                + ("(a seeded sample) " if sampled else "")
                + f"({matches.share:.2%}) are near copies of a train row across {on}: equal "
                "once numbers are rounded and text normalised, or far closer to it than "
                f"training rows are to one another, but not identical; {chance}. They differ "
                f"in {named}"
                + (f" and {more} more columns" if more > 0 else "")
                + f". About {matches.excess_rows:,.0f} near cop{'y' if round(matches.excess_rows) == 1 else 'ies'} ({matches.excess_share:.2%} "
                f"of test rows; fail at {fail_at:.1%}, enough "
                f"to move a metric beyond its interval; warn from {params.min_rows} "
                f"row{'s' if params.min_rows != 1 else ''}).",
                tuple(differing),
                {
                    "rows": matches.observed,
                    "share": matches.share,
                    "expected_share": matches.expected_share,
                    "excess_rows": round(matches.excess_rows, 1),
                    "p_value": matches.p_value,
                    "fail_at": fail_at,
                    "searched_test_rows": len(searched),
                    "distance_ratio": params.distance_ratio,
                    "differing_columns": {c: d["rows"] for c, d in list(differing.items())[:10]},
                    "example_test_rows": example_rows(test_pos),
                    "example_train_rows": example_rows(train_pos),
                },
            )
        )
        tables.append(
            Table(
                "near_copy_differences",
                "Columns in which near copies differ from their train rows",
                ("column", "rows", "max_abs_difference", "kind"),
                tuple((c, d["rows"], d.get("max_abs"), d["kind"]) for c, d in differing.items()),
            )
        )

    if severity in ("high", "medium"):
        summary = (
            f"{matches.observed:,} test rows ({matches.share:.2%}) are near copies of train "
            f"rows across {on}, about {matches.excess_rows:,.0f} more than chance explains."
        )
    elif matches.observed == 0:
        summary = (
            f"No test row nearly matches a train row across {on} (numbers rounded to "
            f"{_levels()} decimals, text normalised) without being an exact copy."
        )
    elif severity is None:
        summary = (
            f"{matches.observed:,} test rows ({matches.share:.2%}) nearly match a train row "
            f"across {on}, in line with the {chance_text(matches, 'nearly match')}."
        )
    else:
        summary = (
            f"{matches.observed:,} test rows nearly match a train row across {on}, too few to "
            f"report (warn from {params.min_rows} row{'s' if params.min_rows != 1 else ''} beyond chance)."
        )
    return CheckOutcome(
        status=status_from(findings),
        summary=summary,
        findings=tuple(findings),
        measurements=(
            Measurement("near_copy_rows", float(matches.observed), greater_is_better=False),
            Measurement("near_copy_share", matches.share, greater_is_better=False),
            Measurement("chance_share", matches.expected_share, greater_is_better=None),
        ),
        tables=tuple(tables),
    )


def _distance_beyond_chance(
    observed: int, n: int, within: int, n_reference: int, params: NearDuplicatesParams
) -> bool:
    """Whether rows near only by distance are more than genuine close neighbours explain.

    Distances are continuous: a reference sample in which no training row came that close
    measures the rate only down to one row in the sample, so at least one is assumed.
    """
    matches = judge_matches(observed, n, max(within, 1), n_reference, params.chance_margin, 0.0)
    return observed > 0 and matches.p_value < params.alpha


def _by_distance(found, n_test: int, params: NearDuplicatesParams):
    """(searched test positions, near by distance, the nearest train row of each)."""
    if found is None or found.typical <= 0:
        return np.arange(n_test), np.zeros(n_test, dtype=bool), np.full(n_test, -1)
    close = found.distance <= found.near(params.distance_ratio)
    return found.test_rows, close, found.train_row


def _levels() -> str:
    return ", ".join(str(k) for k in NEAR_DECIMALS[:-1]) + f" or {NEAR_DECIMALS[-1]}"


def _matching_train_rows(keys, test_pos: np.ndarray) -> np.ndarray:
    """A train row each near copy matches, at the finest rounding level that matches."""
    out = np.full(len(test_pos), -1, dtype=np.int64)
    for test_level, train_level in zip(
        reversed(keys.test.near), reversed(keys.train.near), strict=True
    ):
        todo = np.flatnonzero(out < 0)
        if todo.size == 0:
            break
        wanted = test_level[test_pos[todo]]
        hit = isin(wanted, train_level)
        out[todo[hit]] = first_positions(train_level, wanted[hit])
    return out


def _differing_columns(ctx, keys, test_pos: np.ndarray, train_pos: np.ndarray) -> dict:
    """Per column, how many near copies differ from their train row, largest first."""
    test_rows = ctx.test.iloc[test_pos]
    train_rows = ctx.train.iloc[train_pos]
    out = {}
    for column in keys.columns:
        a, b = test_rows[column], train_rows[column]
        differs = column_codes(a)[0] != column_codes(b)[0]
        if column in keys.retyped:
            differs[:] = True
        rows = int(differs.sum())
        if rows == 0:
            continue
        entry: dict = {"rows": rows, "kind": "text"}
        numeric_a = pd.to_numeric(a, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        numeric_b = pd.to_numeric(b, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        gaps = np.abs(numeric_a - numeric_b)[differs]
        if np.isfinite(gaps).any():
            entry["max_abs"] = float(np.nanmax(gaps))
            entry["kind"] = "number type" if entry["max_abs"] == 0 else "number"
        if not pd.api.types.is_numeric_dtype(a.dtype) or not pd.api.types.is_numeric_dtype(b.dtype):
            if "max_abs" in entry and entry["max_abs"] == 0:
                entry["kind"] = "number written as text"
            elif "max_abs" not in entry:
                entry["kind"] = "text (case or spaces)"
        out[column] = entry
    return dict(sorted(out.items(), key=lambda item: -item[1]["rows"]))


def _how(entry: dict) -> str:
    if entry["kind"] == "number":
        return f", by at most {entry['max_abs']:.3g}"
    return f", {entry['kind']}"
