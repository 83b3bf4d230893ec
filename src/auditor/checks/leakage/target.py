"""``leakage.target``: a feature that predicts the target on its own implausibly well."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from auditor.checks._common import status_from
from auditor.checks._univariate import (
    Cells,
    Target,
    audited_rows,
    date_seconds,
    entity_columns,
    id_like_columns,
    level_cells,
    make_target,
    missing_cells,
    numeric_cells,
    numeric_values,
    point_mass_cells,
    pure_cells,
    sample_rows,
    score_cells,
    short_label,
    split_auc,
)
from auditor.context import AuditContext
from auditor.errors import InputError, preview
from auditor.registry import CheckOutcome, SkipCheck, param, register_check
from auditor.result import Finding, Measurement, Table
from auditor.stats.random import rng_for

CHECK_ID = "leakage.target"
# The features table lists at most this many columns, the most predictive first.
_MAX_TABLE_ROWS = 100
# The missing-value indicator "explains" a column's score when it comes this close.
_MISSING_EXPLAINS = 0.005
# A pure category holding at least this share of its class fails; a smaller one warns.
_PURE_FAIL_COVERAGE = 0.1
# Below this share of the majority class, a segment that is pure but not entirely so is
# a note: leaks are deterministic, ordinary strong associations have exceptions.
_NOTE_MAJORITY_COVERAGE = 0.05


@dataclass(frozen=True, slots=True)
class TargetParams:
    warn_at: float = param(
        0.92,
        "Warn when one feature alone reaches this ROC AUC on held-out folds (binary; "
        "macro one-vs-rest AUC for multiclass).",
        share=True,
    )
    fail_at: float = param(
        0.97, "Fail when one feature alone reaches this ROC AUC on held-out folds.", share=True
    )
    r2_warn_at: float = param(
        0.85,
        "Regression: warn when one feature alone explains this share of the variance of the "
        "target's ranks on held-out folds (rank R²).",
        share=True,
    )
    r2_fail_at: float = param(
        0.93, "Regression: fail when one feature alone reaches this rank R².", share=True
    )
    level_purity: float = param(
        0.99,
        "Classification: flag a category, an exact value or the empty/filled split of a column "
        "whose rows are at least this share one class (for the majority class, beyond chance).",
        share=True,
    )
    min_level_rows: int = param(
        50, "A category must hold at least this many scored rows to be flagged as pure.", minimum=1
    )
    max_rows: int = param(
        200_000,
        "Score on a seeded random sample of at most this many rows (stratified by class).",
        minimum=1000,
    )
    n_folds: int = param(5, "Folds of the out-of-fold target encoding.", minimum=2)
    n_bins: int = param(32, "Quantile bins per numeric or date column.", minimum=2)


@register_check(
    CHECK_ID,
    title="Features that predict the target alone",
    needs=("test",),
    params=TargetParams,
    rationale=(
        "When a single column predicts the outcome almost perfectly, it usually was filled in "
        "after the outcome was known (a collections date, a 'charged off' status, a "
        "refund amount) or is the label under another name. A model trained with it looks "
        "excellent in testing and fails in production, where that information does not yet "
        "exist. Each column is scored on rows it was not fitted on, so a genuinely strong "
        "feature is measured at its true strength."
    ),
    remedy=(
        "For each flagged column, ask when its value becomes known. If only after the "
        "outcome, drop it (or rebuild it from data available at prediction time). If it is "
        "genuinely known beforehand, keep it, record why, and raise this check's threshold "
        "in the config."
    ),
)
def target(ctx: AuditContext, params: TargetParams) -> CheckOutcome:
    """Score every feature alone against the target with out-of-fold encoding.

    Notes
    -----
    The training rows are scored (the test rows when no training data is given), on a
    seeded sample of at most ``max_rows`` rows stratified by class, in ``n_folds`` folds:
    each row is scored with statistics of the other folds only.

    Each column is coded into cells: numbers and dates into ``n_bins`` quantile bins (exact
    values when at most 64 distinct), text into its categories, plus a cell for missing
    values. A row's score is its cell's class rate (regression: mean target rank) on the
    other folds, smoothed towards the overall rate; a cell unseen there gets the overall
    rate, so an identifier-like column cannot memorise the label. This captures
    non-monotone relations and missingness at once. Three views of a column are scored:

    1. its values: ROC AUC of the out-of-fold rate (multiclass: macro one-vs-rest AUC;
       regression: rank R², the share of the variance of the target's ranks explained);
    2. whether it is empty: the same score for the missing indicator alone (regression:
       the AUC of the target between rows with and without a value), so a post-outcome
       date filled only for defaulted loans is caught even though its values look random;
    3. classification only: each category, exact value or empty/filled split holding at
       least ``min_level_rows`` rows, of which at least ``level_purity`` belong to one
       class, any class. A segment pure for the *majority* class is common in clean data
       (no defaults among 50 low-risk loans), so for that class the segment must also be
       impossible by chance (``_univariate.pure_cells``). It fails when it holds 10% or
       more of that class, else warns.

    Every column but the target is scored, whether or not roles call it a feature: a
    post-outcome date is usually inferred as a date column and left out of the features.
    Row identifiers (declared, inferred, or looking like one) are left to
    ``leakage.identifier``, which scores them. Repeating keys (the declared group column,
    inferred entity columns) are scored by their emptiness only: their categories measure
    how alike one entity's labels are, which is group leakage. Dates (the time column, date
    columns) are scored by their value in quantile bins.

    Defaults. Legitimate single features rarely exceed ROC AUC 0.85 on their own (a credit
    bureau score reaches 0.70-0.85), while a noisy copy of the label or a post-outcome field
    reaches 0.97-1.0; the warning band from 0.92 covers strong features of genuinely easy
    tasks, which deserve a look rather than a failure. Out-of-fold scores do not overstate
    a feature: binned, they come within about 0.01 of its true univariate AUC. For
    regression, rank R² 0.85 is a Spearman correlation of about 0.92 (floor area against
    price is typically 0.7-0.85); 0.93 (Spearman about 0.965) is the target blurred by noise
    of at most a sixth of its spread. On a sample of 200,000 rows an AUC's standard error
    is about 0.002, so sampling changes no verdict that matters; a million rows by 30
    columns take one to two seconds.
    """
    if params.warn_at > params.fail_at or params.r2_warn_at > params.r2_fail_at:
        raise InputError(
            f'[checks."{CHECK_ID}"] warning thresholds must not exceed failure thresholds; got '
            f"warn_at={params.warn_at}, fail_at={params.fail_at}, r2_warn_at={params.r2_warn_at}, "
            f"r2_fail_at={params.r2_fail_at}."
        )
    frame, split = audited_rows(ctx)
    ids = id_like_columns(ctx, frame)
    keys = entity_columns(ctx, frame)
    columns = [c for c in frame.columns if c != ctx.target and c not in ids]
    if not columns:
        raise SkipCheck("there is no column to score besides the target and identifiers")
    rng = rng_for(ctx.seed, CHECK_ID)
    positions = sample_rows(frame[ctx.target], ctx.task, ctx.classes, params.max_rows, rng)
    y = frame[ctx.target].iloc[positions].reset_index(drop=True)
    tgt = make_target(y, ctx.task, ctx.classes, params.n_folds, rng)

    dates = {ctx.roles.time, *ctx.roles.dates}
    scores = [
        _score_column(
            frame[c].iloc[positions], c, tgt, params, date=c in dates, missing_only=c in keys
        )
        for c in columns
    ]
    scores.sort(key=lambda s: -s["score"])
    findings = _by_family([f for s in scores if (f := _finding(s, ctx, params)) is not None])
    return CheckOutcome(
        status=status_from(findings),
        summary=_summary(findings, scores, ctx, params, len(positions), len(frame), split),
        findings=tuple(findings),
        measurements=_measurements(scores, ctx.task),
        tables=(_table(scores, ctx.task),),
    )


# Columns whose names share a first word ('worst perimeter', 'worst area'; 'c_jail_in',
# 'c_jail_out') were recorded together: flagged together, they are one finding.
_FAMILY_WORD = re.compile(r"[^0-9a-zA-Z]+")


# First words that say what kind of value a column holds, not what it records.
_GENERIC_FIRST_WORDS = frozenset(
    {"n", "nb", "no", "nr", "num", "is", "has", "x", "v", "var", "col", "f", "feat", "feature"}
)


def _family(column: str) -> str | None:
    words = [w for w in _FAMILY_WORD.split(str(column).lower()) if w]
    if len(words) < 2 or words[0] in _GENERIC_FIRST_WORDS:
        return None
    return words[0]


def _by_family(findings: list[Finding]) -> list[Finding]:
    """Merge findings of the same kind about columns of one family into one finding."""
    groups: dict[tuple, list[Finding]] = {}
    for f in findings:
        family = _family(f.columns[0])
        groups.setdefault((f.code, family) if family else (f.code, None, f.columns), []).append(f)
    order = {"high": 0, "medium": 1, "low": 2}
    merged = []
    for (code, family, *_), members in groups.items():
        if len(members) == 1:
            merged.append(members[0])
            continue
        members.sort(key=lambda f: order[f.severity])
        listed = "; ".join(f.message.split(". ")[0] for f in members)
        merged.append(
            Finding(
                code,
                members[0].severity,
                f"{len(members)} columns of the '{family}' family, recorded together, each "
                f"predict the target on their own: {listed}. Judge them together: a family "
                "filled after the outcome leaks through any of its members.",
                tuple(c for f in members for c in f.columns),
                {"family": family, "members": [dict(f.evidence) for f in members]},
            )
        )
    merged.sort(key=lambda f: order[f.severity])
    return merged


def _score_column(
    series: pd.Series,
    column: str,
    tgt: Target,
    params: TargetParams,
    *,
    date: bool,
    missing_only: bool,
) -> dict:
    if missing_only:
        # An entity key (customer, account) repeats across rows: its categories measure how
        # alike one entity's labels are (group leakage, another check), not a leak of the
        # label into a column. Whether it is filled in still counts.
        cells, scored_as, missing = None, "emptiness", series.isna().to_numpy()
    else:
        cells, scored_as, missing = _cells(series, params.n_bins, date=date)
    result: dict[str, Any] = {
        "column": column,
        "scored_as": scored_as,
        "cells": 0 if cells is None else cells.n_cells,
        "missing_share": float(missing.mean()) if len(missing) else 0.0,
        "value": None,
        "missing": None,
        "pure": None,
    }
    pure = []
    if cells is not None:
        scored = score_cells(cells, tgt)
        result["value"] = scored.value
        levels, totals = cells, scored.totals
        # Exact numeric values (point masses, or every value of a column with few) are
        # ordered: a pure one along a trend is told apart from a sentinel by its neighbours.
        values = numeric_values(series) if scored_as == "number" else None
        if cells.kind == "bins" and scored_as == "number":
            levels = point_mass_cells(values, params.min_level_rows)
            totals = None if levels is None else score_cells(levels, tgt).totals
        if tgt.task != "regression" and levels is not None and levels.labels is not None:
            pure += [
                (levels, *p)
                for p in pure_cells(
                    levels,
                    totals,
                    tgt,
                    purity=params.level_purity,
                    min_rows=params.min_level_rows,
                )
                if p[0] != levels.missing
                and not (values is not None and _part_of_a_pure_tail(values, levels, p, tgt))
            ]
    indicator = missing_cells(missing)
    if indicator is not None:
        if tgt.task == "regression":
            result["missing"] = split_auc(missing, tgt)
        else:
            scored = score_cells(indicator, tgt)
            result["missing"] = scored.value
            pure += [
                (indicator, *p)
                for p in pure_cells(
                    indicator,
                    scored.totals,
                    tgt,
                    purity=params.level_purity,
                    min_rows=params.min_level_rows,
                )
            ]
    if pure:
        # The pure segment holding the largest share of its class speaks for the column;
        # on a tie, the empty/filled split (the simpler explanation).
        result["pure"] = max(pure, key=lambda p: (p[4], p[0].kind == "missing"))
        result["pure_of_majority"] = bool(tgt.counts[result["pure"][2]] > tgt.n / 2)
    result["score"] = max(
        v
        for v in (result["value"], result["missing"] if tgt.task != "regression" else None, 0.0)
        if v is not None
    )
    return result


# A pure exact value whose nearest values on one side are this pure too ends a steep but
# smooth relationship (age 18 in census data earns little, as does 17), not a sentinel.
_TAIL_PURITY = 0.95
# ... judged on at least this many neighbouring rows.
_MIN_TAIL_ROWS = 30


def _part_of_a_pure_tail(values: np.ndarray, levels: Cells, pure: tuple, tgt: Target) -> bool:
    """Whether the rows nearest a pure exact value on one side (by value) share its class.

    A value recorded after the outcome (a code for 'charged off', an amount paid only on
    default) stands out from the values around it; a value along a trend does not. Each
    side offers as many of its nearest rows as the value holds (all, if fewer).
    """
    cell, cls, _, _, rows = pure
    value = levels.labels[cell]
    known = ~np.isnan(values)
    order = np.argsort(values[known], kind="stable")
    ordered, classes = values[known][order], tgt.y[known][order]
    start = int(np.searchsorted(ordered, value, side="left"))
    stop = int(np.searchsorted(ordered, value, side="right"))
    for side in (classes[max(0, start - rows) : start], classes[stop : stop + rows]):
        if side.size >= _MIN_TAIL_ROWS and float(np.mean(side == cls)) >= _TAIL_PURITY:
            return True
    return False


def _cells(series: pd.Series, n_bins: int, *, date: bool) -> tuple[Cells | None, str, np.ndarray]:
    """The column's value cells, what it was scored as, and its missing-value mask."""
    values = date_seconds(series) if date else None
    scored_as = "date"
    if values is None:
        values = numeric_values(series)
        scored_as = "number"
    if values is not None:
        cells = numeric_cells(values, n_bins)
        if cells is not None and scored_as == "date":
            cells = dataclasses.replace(cells, labels=None)  # one day is not a category
        return cells, scored_as, np.isnan(values)
    return level_cells(series), "category", series.isna().to_numpy()


def _finding(score: dict, ctx: AuditContext, params: TargetParams) -> Finding | None:
    column = score["column"]
    candidates: list[tuple[str, str, dict]] = []  # (severity, message, evidence)
    evidence_base = {
        "scored_as": score["scored_as"],
        "missing_share": score["missing_share"],
    }
    if ctx.task == "regression":
        r2 = score["value"]
        severity = _severity(r2, params.r2_warn_at, params.r2_fail_at)
        if severity:
            threshold = params.r2_fail_at if severity == "high" else params.r2_warn_at
            candidates.append(
                (
                    severity,
                    f"{column!r} alone ({_how(score['scored_as'])}) explains {r2:.3f} of the "
                    f"variance of the target's ranks on held-out folds (rank R²; "
                    f"{_level_word(severity)} at {threshold:.2f}). A single column this "
                    "predictive is usually computed from the target or recorded after it.",
                    {
                        "rank_r2": r2,
                        "missing_auc": score["missing"],
                        "warn_at": params.r2_warn_at,
                        "fail_at": params.r2_fail_at,
                    },
                )
            )
        auc = score["missing"]
        severity = _severity(auc, params.warn_at, params.fail_at)
        if severity:
            threshold = params.fail_at if severity == "high" else params.warn_at
            candidates.append(
                (
                    severity,
                    f"Whether {column!r} is empty separates the target almost perfectly: "
                    f"AUC {auc:.3f} between rows with and without a value "
                    f"({_level_word(severity)} at {threshold:.2f}). The column is probably "
                    "filled in only after the outcome is known.",
                    {
                        "rank_r2": score["value"],
                        "missing_auc": auc,
                        "warn_at": params.warn_at,
                        "fail_at": params.fail_at,
                    },
                )
            )
    else:
        auc = score["score"]
        severity = _severity(auc, params.warn_at, params.fail_at)
        if severity:
            threshold = params.fail_at if severity == "high" else params.warn_at
            by_missing = (
                score["missing"] is not None
                and score["missing"] >= (score["value"] or 0.0) - _MISSING_EXPLAINS
            )
            how = "missing or not" if by_missing else _how(score["scored_as"])
            metric = "ROC AUC" if ctx.task == "binary" else "macro one-vs-rest ROC AUC"
            candidates.append(
                (
                    severity,
                    f"{column!r} alone ({how}) reaches {metric} {auc:.3f} on held-out folds "
                    f"({_level_word(severity)} at {threshold:.2f}). A single column this "
                    "predictive usually holds information recorded after the outcome, or "
                    "the label itself.",
                    {
                        "auc": auc,
                        "value_auc": score["value"],
                        "missing_auc": score["missing"],
                        "warn_at": params.warn_at,
                        "fail_at": params.fail_at,
                    },
                )
            )
        if score["pure"] is not None:
            candidates.append(_pure_candidate(score, ctx, params))
    if not candidates:
        return None
    order = {"high": 2, "medium": 1, "low": 0}
    severity, message, evidence = max(candidates, key=lambda c: order[c[0]])
    others = [c[1] for c in candidates if c[1] != message and order[c[0]] >= 1]
    if others:
        message = f"{message} Also: {others[0]}"
    code = "pure_segment" if "level" in evidence else "too_predictive"
    return Finding(code, severity, message, (column,), {**evidence_base, **evidence})


def _pure_candidate(score: dict, ctx: AuditContext, params: TargetParams) -> tuple[str, str, dict]:
    cells, cell, cls, purity, coverage, rows = score["pure"]
    column = score["column"]
    label = short_label(ctx.classes[cls])
    if cells.kind == "missing":
        segment = "is empty" if cell == cells.missing else "is filled in"
        what = f"{column!r} {segment} on {rows:,} rows"
        level = "(empty)" if cell == cells.missing else "(filled in)"
    else:
        level = short_label(cells.label(cell))
        what = f"{column!r} = {level} on {rows:,} rows"
    severity = "high" if coverage >= _PURE_FAIL_COVERAGE else "medium"
    if (
        severity == "medium"
        and score["pure_of_majority"]
        and purity < 1.0
        and coverage < _NOTE_MAJORITY_COVERAGE
    ):
        # A few percent of the common outcome, with exceptions: a strong but ordinary
        # association (a low-paid occupation), not the deterministic mark a leak leaves.
        severity = "low"
    message = (
        f"{what}, and {purity:.1%} of them have target {label}: together "
        f"{coverage:.0%} of all {label} rows (flagged at {params.level_purity:.0%} purity over "
        f"at least {params.min_level_rows} rows; fails from {_PURE_FAIL_COVERAGE:.0%} of the "
        "class). A value this tied to one outcome is usually recorded after it."
    )
    evidence = {
        "level": level,
        "class": label,
        "level_rows": rows,
        "purity": purity,
        "class_coverage": coverage,
        "level_purity": params.level_purity,
    }
    return severity, message, evidence


def _how(scored_as: str) -> str:
    return {
        "number": "by its value",
        "date": "by its date",
        "category": "by its categories",
        "emptiness": "missing or not",
    }[scored_as]


def _level_word(severity: str) -> str:
    return "failure" if severity == "high" else "warning"


def _severity(value: float | None, warn_at: float, fail_at: float) -> str | None:
    if value is None:
        return None
    if value >= fail_at:
        return "high"
    return "medium" if value >= warn_at else None


def _metric_name(task: str) -> str:
    return {"binary": "ROC AUC", "multiclass": "macro one-vs-rest ROC AUC"}.get(task, "rank R²")


def _summary(
    findings: list[Finding],
    scores: list[dict],
    ctx: AuditContext,
    params: TargetParams,
    n_scored: int,
    n_rows: int,
    split: str,
) -> str:
    scope = (
        f"{len(scores)} columns scored alone on {n_scored:,} of {n_rows:,} {split} rows "
        f"with {params.n_folds}-fold out-of-fold encoding"
    )
    if findings:
        flagged = [c for f in findings for c in f.columns]
        return (
            f"{len(flagged)} column(s) predict the target implausibly well on their own: "
            f"{preview(flagged)} ({scope})."
        )
    warn_at = params.r2_warn_at if ctx.task == "regression" else params.warn_at
    best = scores[0] if scores else None
    highest = f" (highest: {best['column']!r}, {best['score']:.3f})" if best else ""
    text = f"No single feature reaches {_metric_name(ctx.task)} {warn_at:.2f} on its own{highest}"
    if ctx.task == "regression":
        text += f", and no column's emptiness separates the target with AUC {params.warn_at:.2f}"
    else:
        text += (
            f", and no category or empty/filled split of {params.min_level_rows}+ rows is "
            f"{params.level_purity:.0%} one class beyond chance"
        )
    return f"{text} ({scope})."


def _measurements(scores: list[dict], task: str) -> tuple[Measurement, ...]:
    best = max((s["score"] for s in scores), default=None)
    missing = max((s["missing"] for s in scores if s["missing"] is not None), default=None)
    if task == "regression":
        return (
            Measurement("max_single_feature_rank_r2", best, greater_is_better=False),
            Measurement("max_missing_indicator_auc", missing, greater_is_better=False),
        )
    return (
        Measurement("max_single_feature_auc", best, greater_is_better=False),
        Measurement("max_missing_indicator_auc", missing, greater_is_better=False),
    )


def _table(scores: list[dict], task: str) -> Table:
    metric = "rank_r2" if task == "regression" else "roc_auc"
    rows = tuple(
        (
            s["column"],
            s["scored_as"],
            s["cells"],
            None if s["value"] is None else round(s["value"], 4),
            None if s["missing"] is None else round(s["missing"], 4),
            round(s["missing_share"], 4),
        )
        for s in scores[:_MAX_TABLE_ROWS]
    )
    return Table(
        "single_feature_scores",
        "Each feature alone against the target (held-out folds)",
        ("column", "scored_as", "cells", metric, "missing_indicator_auc", "missing_share"),
        rows,
    )
