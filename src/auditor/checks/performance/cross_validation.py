"""``performance.cross_validation``: metrics of the model refitted on folds of the data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from auditor.context import AuditContext
from auditor.evaluation import (
    CrossValidation,
    cv_metrics,
    cv_primary_metric,
    fold_scores,
    has_proba,
    model_cv,
)
from auditor.metrics import MetricSpec
from auditor.registry import CheckOutcome, param, register_check
from auditor.result import Curve, Finding, Measurement, Series, Table
from auditor.stats.intervals import MeanInterval, t_interval

CHECK_ID = "performance.cross_validation"
# Metrics shown per fold in the report table (all of them are summarised across folds).
_FOLD_TABLE_METRICS = 4


@dataclass(frozen=True, slots=True)
class CrossValidationParams:
    confidence: float = param(0.95, "Level of the t intervals across folds.", share=True)


@register_check(
    CHECK_ID,
    title="Cross-validated metrics of the refitted model",
    needs=("model",),
    params=CrossValidationParams,
    rationale=(
        "Refitting the model on several splits of the data shows how much its scores depend "
        "on which rows it learned from; one holdout score hides that spread."
    ),
    remedy=(
        "When fits fail, fix the model's configuration (the error names the cause); when the "
        "fold scores spread widely, collect more data or simplify the model."
    ),
)
def cross_validation(ctx: AuditContext, params: CrossValidationParams) -> CheckOutcome:
    """Refit clones of the model on cross-validation folds and score each validation fold.

    Notes
    -----
    Folds are the audit's ``[evaluation]`` folds and repeats, shared with every check that
    refits, and follow the data (``auditor.evaluation.cv_folds``): time-ordered with a time
    column, grouped with a group column, else stratified (classification) or shuffled;
    drawn from the training rows, or from the test rows when no training data was given.
    Each metric is reported as its mean over folds with a Student t interval
    ``mean ± t(J-1) SD / sqrt(J)``. That interval treats the J folds as independent; they
    share training rows, so it is optimistic (Bengio and Grandvalet, 2004) and describes
    the spread of the folds rather than guaranteeing coverage. Fits that raise are listed
    as findings and left out of the means, as scikit-learn's ``error_score=np.nan`` does.
    """
    cv = model_cv(ctx)
    metrics = cv_metrics(ctx, has_proba(cv))
    scores = fold_scores(ctx, cv, metrics)
    primary = cv_primary_metric(ctx, cv).key
    measurements = []
    summaries = {}
    for j, metric in enumerate(metrics):
        summary = t_interval(scores[:, j], params.confidence)
        summaries[metric.key] = summary
        measurements.append(
            Measurement(
                metric.key, summary.mean, summary.ci_low, summary.ci_high, metric.greater_is_better
            )
        )
    n_ok = len(cv.fits) - cv.n_failed
    measurements += [
        Measurement("n_folds", len(cv.fits)),
        Measurement("n_failed_fits", cv.n_failed, greater_is_better=False),
    ]
    findings = _failure_findings(cv) + _warning_findings(cv)

    head = summaries[primary]
    label = next(m.label for m in metrics if m.key == primary)
    interval = (
        ""
        if head.ci_low is None
        else f"; {params.confidence:.0%} t interval [{head.ci_low:.3f}, {head.ci_high:.3f}]"
    )
    summary = (
        f"{label} {head.mean:.3f} ± {head.std:.3f} (mean ± SD over {n_ok} folds{interval}) "
        f"from {cv.folds.describe()}."
    )
    if cv.n_failed:
        summary += f" {cv.n_failed} of {len(cv.fits)} fits failed."
    summary += "".join(f" {note}" for note in cv.folds.notes)
    return CheckOutcome(
        status="warn" if cv.n_failed else "pass",
        summary=summary,
        findings=tuple(findings),
        measurements=tuple(measurements),
        tables=(
            _summary_table(metrics, summaries, params.confidence),
            _fold_table(cv, metrics, scores, primary),
        ),
        curves=(
            _fold_curve(
                cv,
                scores[:, [m.key for m in metrics].index(primary)],
                next(m for m in metrics if m.key == primary),
                head,
                params.confidence,
            ),
        ),
    )


def _failure_findings(cv: CrossValidation) -> list[Finding]:
    return [
        Finding(
            "fit_failed",
            "medium",
            f"{count} of {len(cv.fits)} cross-validation fits failed with {error}. Those folds "
            "are left out of the scores.",
            (),
            {"error": error[:300], "failed_fits": count, "fits": len(cv.fits)},
        )
        for error, count in cv.failure_groups()
    ]


def _warning_findings(cv: CrossValidation) -> list[Finding]:
    return [
        Finding(
            "fit_warning",
            "low",
            f"{count} of {len(cv.fits)} cross-validation fits warned: {text}",
            (),
            {"warning": text[:300], "fits": count},
        )
        for text, count in cv.warning_groups()[:3]
    ]


def _summary_table(metrics: tuple[MetricSpec, ...], summaries: dict, confidence: float) -> Table:
    rows = []
    for metric in metrics:
        s = summaries[metric.key]
        rows.append((metric.label, s.mean, s.std, s.ci_low, s.ci_high, s.n))
    level = f"{confidence:.0%}"
    return Table(
        "cv_summary",
        "Cross-validated metrics: mean, SD and t interval over the folds",
        ("metric", "mean", "SD", f"{level} low", f"{level} high", "folds"),
        tuple(rows),
    )


def _fold_table(
    cv: CrossValidation, metrics: tuple[MetricSpec, ...], scores: np.ndarray, primary: str
) -> Table:
    # The headline metric and a few others: every metric's mean and SD is in the summary
    # table, and a table wider than a page would be cut in the PDF.
    keys = [m.key for m in metrics]
    shown = [keys.index(primary)] + [j for j in range(len(keys)) if keys[j] != primary]
    shown = shown[:_FOLD_TABLE_METRICS]
    metrics = tuple(metrics[j] for j in shown)
    scores = scores[:, shown]
    repeated = max(cv.folds.repeat) > 1
    failed = cv.n_failed > 0
    rows = []
    for i, fit in enumerate(cv.fits):
        values = tuple(None if not np.isfinite(v) else float(v) for v in scores[i])
        rows.append(
            (
                i + 1,
                *((cv.folds.repeat[i],) if repeated else ()),
                len(cv.folds.train[i]),
                len(cv.folds.valid[i]),
                *values,
                *((("" if fit.ok else (fit.error or "")[:120]),) if failed else ()),
            )
        )
    return Table(
        "cv_folds",
        "Scores of each validation fold",
        (
            "fold",
            *(("repeat",) if repeated else ()),
            "fitting rows",
            "validation rows",
            *(m.label for m in metrics),
            *(("error",) if failed else ()),
        ),
        tuple(rows),
    )


def _fold_curve(
    cv: CrossValidation,
    values: np.ndarray,
    metric: MetricSpec,
    summary: MeanInterval,
    confidence: float,
) -> Curve:
    """Each validation fold's score, and their mean with its t interval as a band."""
    repeats = sorted(set(cv.folds.repeat))
    per_repeat = sum(1 for r in cv.folds.repeat if r == repeats[0])
    series = []
    for repeat in repeats:
        members = [i for i, r in enumerate(cv.folds.repeat) if r == repeat]
        x = tuple(float(i - members[0]) for i in members)
        y = tuple(float(values[i]) for i in members)
        name = f"repeat {repeat}" if len(repeats) > 1 else "validation fold"
        series.append(Series(name, x, y))
    folds = (
        f"{len(cv.fits)} validation folds ({per_repeat} per repeat)"
        if len(repeats) > 1
        else f"{len(cv.fits)} validation folds"
    )
    direction = "higher" if metric.greater_is_better else "lower"
    mean_text = ""
    if summary.n >= 1 and np.isfinite(summary.mean):
        ends = (-0.25, per_repeat - 0.75)
        if summary.ci_low is not None:
            series.append(
                Series(
                    f"mean of the folds, {confidence:.0%} t interval",
                    ends,
                    (summary.mean, summary.mean),
                    (summary.ci_low, summary.ci_low),
                    (summary.ci_high, summary.ci_high),
                )
            )
            mean_text = (
                f" The line is their mean ({summary.mean:.3f}) and the band its t interval "
                f"[{summary.ci_low:.3f}, {summary.ci_high:.3f}]: where the model's true "
                "cross-validated score plausibly lies (optimistic, as folds share rows)."
            )
    return Curve(
        "cv_folds",
        f"{metric.label} on each validation fold",
        "scatter",
        "Validation fold (scored by a model refitted without its rows)",
        f"{metric.label} ({direction} is better)",
        tuple(series),
        f"Each point is the score on one of the {folds} of a model refitted without that "
        f"fold's rows, by {cv.folds.scheme}."
        + mean_text
        + " Points far apart mean the score depends a lot on which "
        "rows the model learned from; one point far from the others is an unusual fold.",
        x_tick_labels=tuple(str(i + 1) for i in range(per_repeat)),
    )
