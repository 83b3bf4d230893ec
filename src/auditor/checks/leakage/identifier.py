"""``leakage.identifier``: an id-like column that carries label information."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from auditor.checks._common import status_from
from auditor.checks._univariate import (
    Cells,
    IdLike,
    Target,
    audited_rows,
    date_seconds,
    entity_columns,
    id_like_columns,
    level_cells,
    make_target,
    numeric_cells,
    numeric_values,
    sample_rows,
    score_cells,
)
from auditor.context import AuditContext
from auditor.errors import InputError, preview
from auditor.registry import CheckOutcome, param, register_check
from auditor.result import Finding, Measurement, Table
from auditor.stats.random import rng_for

CHECK_ID = "leakage.identifier"
# An id this correlated with a date column (Spearman) is read as following time ...
_FOLLOWS_TIME = 0.9
# ... and its signal as the date's when it predicts at most this much better than the date.
_TIME_MARGIN = 0.02
# Digits kept from a text id to read its number (the last ones: the counter part).
_MAX_DIGITS = 15


@dataclass(frozen=True, slots=True)
class IdentifierParams:
    warn_at: float = param(
        0.8,
        "Warn when an id-like column alone reaches this ROC AUC against the target on "
        "held-out folds (macro one-vs-rest for multiclass).",
        share=True,
    )
    fail_at: float = param(
        0.9, "Fail when an id-like column alone reaches this ROC AUC.", share=True
    )
    r2_warn_at: float = param(
        0.5,
        "Regression: warn when an id-like column explains this share of the variance of the "
        "target's ranks on held-out folds (rank R²).",
        share=True,
    )
    r2_fail_at: float = param(
        0.8, "Regression: fail when an id-like column reaches this rank R².", share=True
    )
    min_unique_share: float = param(
        0.95,
        "A column not declared as the id looks like one when at least this share of its "
        "values are distinct (and it is key-named, a dense counter or text codes).",
        share=True,
    )
    max_rows: int = param(
        100_000,
        "Score on a seeded random sample of at most this many rows (stratified by class).",
        minimum=1000,
    )
    n_folds: int = param(5, "Folds of the out-of-fold encoding.", minimum=2)
    n_bins: int = param(32, "Quantile bins of an id's number.", minimum=2)


@register_check(
    CHECK_ID,
    title="Identifiers that carry label information",
    needs=("test",),
    params=IdentifierParams,
    rationale=(
        "A row identifier should say nothing about the outcome. When ids were handed out "
        "after the outcome was known (the file sorted by the label before numbering, a "
        "'D-' prefix for defaulted accounts), the id predicts the label in the historical "
        "data and nothing in production. A model given an id column can also memorise rows "
        "instead of learning patterns."
    ),
    remedy=(
        "Remove identifier columns from the model's inputs. If an id predicts the label, "
        "find out how the ids were assigned and rebuild the training file from the source "
        "system, in an order that does not depend on the outcome."
    ),
)
def identifier(ctx: AuditContext, params: IdentifierParams) -> CheckOutcome:
    """Find id-like columns and measure how well each predicts the target on its own.

    Notes
    -----
    Id-like columns are the declared id, inferred ids and columns that look like one: at
    least ``min_unique_share`` distinct values and named like a key, whole numbers filling a
    dense range, or text codes without spaces (see ``auditor.checks._univariate``); and
    repeating keys (the declared group column, inferred entity columns), whose numbering
    should carry no label information either.

    Each is scored like a feature in ``leakage.target``, on the training rows (the test rows
    when no training data is given), a seeded sample of at most ``max_rows`` rows stratified
    by class, with ``n_folds``-fold out-of-fold encoding: the number (numeric ids) cut into
    ``n_bins`` quantile bins, and for text ids the number formed by its digits and the
    letters and symbols left once digits are removed (a ``'D-'`` prefix). The best of these
    is reported. The thresholds are lower than for features: an id should carry no
    information at all. A sequential id in time order inherits any drift of the label over
    time; when the id follows a date column (Spearman >= 0.9) and predicts no better than
    that date (within 0.02), the finding is informational only.

    An id-like column among the model's input features is flagged as a warning.
    """
    if params.warn_at > params.fail_at or params.r2_warn_at > params.r2_fail_at:
        raise InputError(
            f'[checks."{CHECK_ID}"] warning thresholds must not exceed failure thresholds; got '
            f"warn_at={params.warn_at}, fail_at={params.fail_at}, r2_warn_at={params.r2_warn_at}, "
            f"r2_fail_at={params.r2_fail_at}."
        )
    frame, split = audited_rows(ctx)
    ids = {**id_like_columns(ctx, frame, params.min_unique_share), **entity_columns(ctx, frame)}
    regression = ctx.task == "regression"
    metric = "rank R²" if regression else "ROC AUC"
    if not ids:
        return CheckOutcome(
            status="pass",
            summary=(
                f"No column looks like an identifier among the {len(frame.columns) - 1} columns "
                f"of the {split} data (none declared; none {params.min_unique_share:.0%} distinct "
                "and named like a key, a counter or text codes; no repeating key)."
            ),
            measurements=(Measurement("n_id_like_columns", 0.0, greater_is_better=None),),
        )
    rng = rng_for(ctx.seed, CHECK_ID)
    positions = sample_rows(frame[ctx.target], ctx.task, ctx.classes, params.max_rows, rng)
    y = frame[ctx.target].iloc[positions].reset_index(drop=True)
    tgt = make_target(y, ctx.task, ctx.classes, params.n_folds, rng)
    warn_at, fail_at = (
        (params.r2_warn_at, params.r2_fail_at) if regression else (params.warn_at, params.fail_at)
    )

    dates = None  # date columns, parsed once, only when an id needs comparing with time
    rows, findings = [], []
    for column, why in ids.items():
        full = frame[column]
        sample = full.iloc[positions]
        score, scored_as, number = _score_id(sample, tgt, params)
        in_model = column in ctx.model_features
        severity = _severity(score, warn_at, fail_at)
        time_note = None
        if severity is not None and number is not None:
            if dates is None:
                dates = _date_columns(ctx, frame, positions)
            time_note = _follows_time(number, score, dates, tgt, params)
            if time_note is not None:
                severity = "low"
        # Text is slow to compare: its order is read on the sample (positions are sorted).
        monotonic = _monotonic(full if pd.api.types.is_numeric_dtype(full.dtype) else sample)
        rows.append(
            (
                column,
                why.reason,
                why.unique_share,
                monotonic,
                scored_as,
                score,
                in_model,
            )
        )
        finding = _finding(
            column,
            why,
            score,
            scored_as,
            monotonic,
            in_model,
            severity,
            time_note,
            metric,
            warn_at,
            fail_at,
        )
        if finding is not None:
            findings.append(finding)
    rows.sort(key=lambda r: -r[5])
    best = rows[0]
    serious = [f for f in findings if f.severity != "low"]
    scope = (
        f"{len(ids)} id-like column(s) scored on {len(positions):,} of {len(frame):,} {split} "
        f"rows with {params.n_folds}-fold out-of-fold encoding"
    )
    if serious:
        summary = (
            f"{len(serious)} of {len(ids)} id-like column(s) carry label information or are "
            f"model inputs: {preview([f.columns[0] for f in serious])} ({scope})."
        )
    elif findings:
        summary = (
            f"No id-like column predicts the target beyond the drift of a date column it "
            f"follows ({preview([f.columns[0] for f in findings])}); {scope}"
            + ("; none is a model input." if ctx.model_features else ".")
        )
    else:
        summary = (
            f"No id-like column reaches {metric} {warn_at:.2f} against the target (highest: "
            f"{best[0]!r}, {best[5]:.3f}); {scope}"
            + ("; none is a model input." if ctx.model_features else ".")
        )
    key = "max_identifier_rank_r2" if regression else "max_identifier_auc"
    return CheckOutcome(
        status=status_from(findings),
        summary=summary,
        findings=tuple(findings),
        measurements=(
            Measurement(key, best[5], greater_is_better=False),
            Measurement("n_id_like_columns", float(len(ids)), greater_is_better=None),
        ),
        tables=(
            Table(
                "id_like_columns",
                "Id-like columns and how well each predicts the target (held-out folds)",
                (
                    "column",
                    "why_id_like",
                    "unique_share",
                    "monotonic",
                    "scored_as",
                    "rank_r2" if regression else "roc_auc",
                    "model_input",
                ),
                tuple((*r[:2], round(r[2], 4), r[3], r[4], round(r[5], 4), r[6]) for r in rows),
            ),
        ),
    )


def _score_id(
    sample: pd.Series, tgt: Target, params: IdentifierParams
) -> tuple[float, str, np.ndarray | None]:
    """The best out-of-fold score over the id's codings, its name, and the id as a number."""
    codings: list[tuple[str, Cells | None]] = []
    values = numeric_values(sample)
    if values is not None:
        codings.append(("its value", numeric_cells(values, params.n_bins)))
        number = values
    else:
        present = sample.notna().to_numpy()
        text = sample.astype(str)  # missing cells are masked again below
        digits = text.str.replace(r"\D", "", regex=True).str[-_MAX_DIGITS:]
        has_digits = present & (digits.str.len().fillna(0).to_numpy() > 0)
        number = pd.to_numeric(digits.where(has_digits), errors="coerce").to_numpy(
            dtype=float, na_value=np.nan
        )
        codings.append(("the number in it", numeric_cells(number, params.n_bins)))
        letters = text.str.replace(r"\d+", "0", regex=True).where(present)
        codings.append(("its letters and symbols (digits masked)", level_cells(letters)))
        if np.isnan(number).all():
            number = None
    best, best_name = 0.5 if tgt.task != "regression" else 0.0, "its value"
    for name, cells in codings:
        if cells is None:
            continue
        value = score_cells(cells, tgt).value
        if value > best:
            best, best_name = value, name
    return best, best_name, number


def _date_columns(
    ctx: AuditContext, frame: pd.DataFrame, positions: np.ndarray
) -> dict[str, np.ndarray]:
    """The time column and the date columns (as roles found them), as seconds."""
    out = {}
    for column in (ctx.roles.time, *ctx.roles.dates):
        if column is None or column not in frame.columns:
            continue
        sample = frame[column].iloc[positions]
        values = date_seconds(sample)
        if values is None and pd.api.types.is_numeric_dtype(sample.dtype):
            values = numeric_values(sample)
        if values is not None:
            out[column] = values
    return out


def _follows_time(
    number: np.ndarray,
    score: float,
    dates: dict[str, np.ndarray],
    tgt: Target,
    params: IdentifierParams,
) -> str | None:
    """Why the id's signal is the date's (the label drifts over time), or None."""
    for column, when in dates.items():
        both = ~np.isnan(number) & ~np.isnan(when)
        if both.sum() < 10:
            continue
        rho = pd.Series(number[both]).rank().corr(pd.Series(when[both]).rank())
        if not np.isfinite(rho) or abs(rho) < _FOLLOWS_TIME:
            continue
        cells = numeric_cells(when, params.n_bins)
        if cells is None:
            continue
        date_score = score_cells(cells, tgt).value
        if score <= date_score + _TIME_MARGIN:
            return (
                f"it follows the date column {column!r} (Spearman {rho:.2f}) and predicts the "
                f"target no better than that date does ({score:.3f} vs {date_score:.3f}): the "
                "label drifts over time"
            )
    return None


def _monotonic(series: pd.Series) -> bool:
    try:
        return bool(series.is_monotonic_increasing or series.is_monotonic_decreasing)
    except TypeError:  # mixed types cannot be ordered
        return False


def _severity(value: float, warn_at: float, fail_at: float) -> str | None:
    if value >= fail_at:
        return "high"
    return "medium" if value >= warn_at else None


def _finding(
    column: str,
    why: IdLike,
    score: float,
    scored_as: str,
    monotonic: bool,
    in_model: bool,
    severity: str | None,
    time_note: str | None,
    metric: str,
    warn_at: float,
    fail_at: float,
) -> Finding | None:
    evidence: dict[str, Any] = {
        "why_id_like": why.reason,
        "unique_share": why.unique_share,
        "monotonic": monotonic,
        "scored_as": scored_as,
        "score": score,
        "metric": "rank_r2" if metric == "rank R²" else "roc_auc",
        "warn_at": warn_at,
        "fail_at": fail_at,
        "model_input": in_model,
    }
    leaks = severity is not None and time_note is None
    parts = []
    if severity is not None:
        threshold = fail_at if severity == "high" else warn_at
        word = "failure" if severity == "high" else "warning"
        if leaks:
            parts.append(
                f"Identifier {column!r} ({why.reason}) predicts the target: {scored_as} alone "
                f"reaches {metric} {score:.3f} on held-out folds ({word} at {threshold:.2f}). "
                "Ids that track the label were probably assigned after the outcome was known "
                "(for example, rows sorted by the label before numbering)."
            )
        else:
            parts.append(
                f"Identifier {column!r} ({why.reason}) reaches {metric} {score:.3f} against "
                f"the target, but {time_note}."
            )
    if in_model:
        parts.append(
            f"The model takes identifier {column!r} ({why.reason}) as an input: it can "
            "memorise rows instead of learning patterns, and the ids of new rows mean nothing."
        )
    if not parts:
        return None
    if leaks:
        code = "id_predicts_target"
    elif in_model:
        code, severity = "id_in_model", "medium"
    else:
        code = "id_follows_time"
    return Finding(code, severity, " ".join(parts), (column,), evidence)
