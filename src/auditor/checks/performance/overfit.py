"""``performance.overfit``: in-sample vs validation, and cross-validation vs holdout, gaps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from auditor import keys
from auditor.checks._common import status_from
from auditor.context import AuditContext
from auditor.errors import InputError
from auditor.evaluation import (
    CrossValidation,
    cv_metrics,
    cv_primary_metric,
    fold_scores,
    has_proba,
    model_cv,
    model_holdout,
)
from auditor.metrics import MetricSpec
from auditor.registry import CheckOutcome, SkipCheck, param, register_check
from auditor.result import Curve, Finding, Measurement, Series, Table
from auditor.stats.intervals import t_interval
from auditor.stats.paired import corrected_resampled_t_test

CHECK_ID = "performance.overfit"
# A training-fit gap beyond this multiple of the tolerance is described as memorisation.
_MEMORISATION_FACTOR = 8.0


@dataclass(frozen=True, slots=True)
class OverfitParams:
    metric: str = param(
        "",
        "Metric compared, a metric key such as 'roc_auc' or 'log_loss'; empty: the headline "
        "metric of the task.",
    )
    max_gap: float = param(
        0.05,
        "Tolerated gap for scores (greater is better: ROC AUC, accuracy, R² ...), in their "
        "own units.",
        minimum=0,
    )
    max_relative_gap: float = param(
        0.25,
        "Tolerated gap for errors (lower is better: log loss, RMSE ...), relative to the "
        "better value: 0.25 lets the worse error be 25% above the better one.",
        minimum=0,
    )
    min_standard_errors: float = param(
        2.0, "A gap counts only when it exceeds this many standard errors.", minimum=0
    )


@dataclass(frozen=True, slots=True)
class Gap:
    """One comparison: the optimistic and the realistic value, their gap and its noise.

    ``gap`` is in the metric's units, signed so that positive means the optimistic side
    (fitting rows, or cross-validation) looks better. ``tolerance`` is in the same units.
    """

    name: str
    optimistic: float
    realistic: float
    gap: float
    std_error: float
    tolerance: float
    ci_low: float | None
    ci_high: float | None

    @property
    def beyond_tolerance(self) -> bool:
        return self.gap > self.tolerance

    def beyond_noise(self, z: float) -> bool:
        return abs(self.gap) > z * self.std_error

    @property
    def standard_errors(self) -> float:
        return abs(self.gap) / self.std_error if self.std_error > 0 else float("inf")


@register_check(
    CHECK_ID,
    title="Overfitting: in-sample, cross-validated and holdout scores",
    needs=("model",),
    params=OverfitParams,
    rationale=(
        "A model that scores much better on rows it learned from than on new rows has "
        "memorised them; a holdout score well below the cross-validated one means the test "
        "rows differ from the training rows, or information leaks between training rows."
    ),
    remedy=(
        "For a large training gap, regularise or simplify the model. For a holdout score "
        "below cross-validation, compare the train and test distributions (data.feature_drift) "
        "and look for duplicated or grouped rows shared across folds (leakage checks)."
    ),
    remedies={
        "train_gap": (
            "Judge the model by its validation and test scores, not its training score. To "
            "narrow the gap, regularise it (shallower trees, more rows per leaf, fewer "
            "boosting rounds) or try a simpler model; the baselines show whether one scores "
            "as well."
        ),
        "memorises_training_rows": (
            "The model reproduces its training rows almost exactly: regularise it strongly or "
            "choose a simpler model, and look for an identifier or a copy of the target among "
            "the features (leakage checks)."
        ),
        "holdout_below_cv": (
            "The test rows score below what cross-validation promised: compare the train and "
            "test distributions (data.feature_drift), look for rows or entities shared across "
            "folds (leakage checks), and check whether the test period differs."
        ),
    },
)
def overfit(ctx: AuditContext, params: OverfitParams) -> CheckOutcome:
    """Compare in-sample with validation scores, and cross-validated with holdout scores.

    Notes
    -----
    Both gaps are on one metric (the task's headline metric unless ``metric`` is set) and
    signed so that positive means the optimistic side looks better.

    - Training vs validation: per fold, the score on the fitting rows (at most 5,000 of
      them, a seeded sample) minus the score on the validation rows, averaged over folds.
      Its standard error uses Nadeau and Bengio's
      correction ``sqrt((1/J + n_valid/n_fit) var)`` because folds share rows.
      Flexible models (forests, boosting) fit their training rows closely by design, and
      what ships is judged by how it scores on rows it has not seen: this gap is reported
      as information (low severity), never as a warning on its own.
    - Cross-validation vs holdout (when separate training data exists): the mean
      validation score minus the model's score on the test rows. Its standard error
      combines the corrected fold standard error and the bootstrap standard error of the
      holdout score. A holdout score significantly and materially below cross-validation
      means the test rows behave differently (distribution shift) or cross-validation was
      flattered by rows shared across folds (duplicates, groups, time): the reported
      cross-validated numbers do not describe deployment, so the check fails.

    A gap counts when it exceeds the tolerance (``max_gap`` for scores; for errors
    ``max_relative_gap`` times the better value) and ``min_standard_errors`` standard
    errors. A gap above the tolerance but within noise is a low-severity finding.
    """
    cv = model_cv(ctx)
    metric = _metric(ctx, params, cv)
    z = params.min_standard_errors
    valid = fold_scores(ctx, cv, (metric,))[:, 0]
    train = fold_scores(ctx, cv, (metric,), part="train")[:, 0]
    sign = 1.0 if metric.greater_is_better else -1.0
    both = np.isfinite(valid) & np.isfinite(train)
    if both.sum() < 2:
        raise SkipCheck(f"{metric.label} is defined on fewer than two folds")
    n_fit, n_valid = cv.folds.mean_train_rows, cv.folds.mean_valid_rows
    test = corrected_resampled_t_test(
        sign * (train[both] - valid[both]), n_train=n_fit, n_test=n_valid
    )
    fit_mean = float(train[both].mean())
    valid_mean = float(valid[both].mean())
    train_gap = Gap(
        "training vs validation",
        fit_mean,
        valid_mean,
        test.mean,
        test.std_error,
        _tolerance(metric, params, fit_mean),
        test.ci_low,
        test.ci_high,
    )
    holdout = None
    holdout_gap = None
    not_compared = _why_no_holdout_gap(ctx, cv)
    if not_compared is None:
        holdout = _holdout(ctx, metric, params)
        valid_ok = valid[np.isfinite(valid)]
        se_cv = float(
            np.sqrt((1 / valid_ok.size + n_valid / n_fit) * valid_ok.var(ddof=1))
            if valid_ok.size > 1
            else np.nan
        )
        gap = sign * (valid_mean - holdout[0])
        se = float(np.sqrt(se_cv**2 + holdout[3] ** 2))
        holdout_gap = Gap(
            "cross-validation vs holdout",
            valid_mean,
            holdout[0],
            gap,
            se,
            _tolerance(metric, params, valid_mean),
            gap - 1.96 * se,
            gap + 1.96 * se,
        )

    findings = _train_findings(train_gap, metric, params) + _holdout_findings(
        holdout_gap, metric, z
    )
    fit_summary = t_interval(train)
    valid_summary = t_interval(valid)
    measurements = [
        Measurement(
            "train_score",
            fit_mean,
            fit_summary.ci_low,
            fit_summary.ci_high,
            metric.greater_is_better,
        ),
        Measurement(
            "validation_score",
            valid_mean,
            valid_summary.ci_low,
            valid_summary.ci_high,
            metric.greater_is_better,
        ),
        Measurement(
            keys.TRAIN_VALIDATION_GAP.key, train_gap.gap, train_gap.ci_low, train_gap.ci_high, False
        ),
    ]
    if holdout is not None and holdout_gap is not None:
        measurements += [
            Measurement(
                "holdout_score", holdout[0], holdout[1], holdout[2], metric.greater_is_better
            ),
            Measurement(
                "cv_holdout_gap", holdout_gap.gap, holdout_gap.ci_low, holdout_gap.ci_high, False
            ),
        ]
    gaps = [g for g in (train_gap, holdout_gap) if g is not None]
    return CheckOutcome(
        status=status_from(findings),
        summary=_summary(metric, train_gap, holdout_gap, cv, z, not_compared),
        findings=tuple(findings),
        measurements=tuple(measurements),
        tables=(_gap_table(gaps, metric, z), _fold_table(cv, train, valid, sign)),
        curves=(_figure(metric, fit_summary, valid_summary, holdout),),
    )


def _why_no_holdout_gap(ctx: AuditContext, cv: CrossValidation) -> str | None:
    """Why cross-validation is not compared with the holdout score, or None when it is."""
    if cv.folds.source != "train" or ctx.predictions is None:
        return "no separate training data, so cross-validation ran on the test rows"
    if ctx.test_weights is not None and ctx.train_weights is None:
        # The same rows would score differently weighted: a gap would be the weights'.
        return (
            f"the test rows are weighted by {ctx.roles.weight!r} and the training rows carry "
            "no such column, so the two scores describe different populations"
        )
    return None


def _metric(ctx: AuditContext, params: OverfitParams, cv: CrossValidation) -> MetricSpec:
    available = cv_metrics(ctx, has_proba(cv))
    if not params.metric:
        return cv_primary_metric(ctx, cv)
    for metric in available:
        if metric.key == params.metric:
            return metric
    raise InputError(
        f'[checks."{CHECK_ID}"] metric {params.metric!r} does not apply to this {ctx.task} '
        f"model; use one of {', '.join(m.key for m in available)}."
    )


def _tolerance(metric: MetricSpec, params: OverfitParams, better_value: float) -> float:
    if metric.greater_is_better:
        return params.max_gap
    return params.max_relative_gap * abs(better_value)


def _holdout(
    ctx: AuditContext, metric: MetricSpec, params: OverfitParams
) -> tuple[float, float | None, float | None, float]:
    """The model's holdout score, its bootstrap interval and standard error."""
    score = model_holdout(ctx, metric)
    low, high = score.interval()
    finite = score.replicates[np.isfinite(score.replicates)]
    return score.value, low, high, float(finite.std(ddof=1)) if finite.size > 1 else float("nan")


def _train_findings(gap: Gap, metric: MetricSpec, params: OverfitParams) -> list[Finding]:
    z = params.min_standard_errors
    if not gap.beyond_tolerance:
        return []
    evidence = _evidence(gap, metric, z)
    text = (
        f"{metric.label} is {gap.optimistic:.3f} on the rows each fold was fitted on but "
        f"{gap.realistic:.3f} on its validation rows (gap {gap.gap:.3f}, "
        f"{gap.standard_errors:.1f} standard errors; tolerance {gap.tolerance:.3g})."
    )
    if not gap.beyond_noise(z):
        return [
            Finding(
                "train_gap_within_noise",
                "low",
                text + " The gap is within the noise of the folds.",
                (),
                evidence,
            )
        ]
    unseen = (
        " The release decision rests on the scores of rows the model has not seen "
        "(cross-validation against the test rows, and the baselines); this gap is information."
    )
    if gap.gap > _MEMORISATION_FACTOR * gap.tolerance:
        return [
            Finding(
                "memorises_training_rows",
                "low",
                text + " The model memorises its training rows far more than it learns from "
                "them; a simpler or more regularised model may score as well on new rows." + unseen,
                (),
                evidence,
            )
        ]
    return [
        Finding(
            "train_gap",
            "low",
            text + " Flexible models fit their training rows closely by design." + unseen,
            (),
            evidence,
        )
    ]


def _holdout_findings(gap: Gap | None, metric: MetricSpec, z: float) -> list[Finding]:
    if gap is None:
        return []
    evidence = _evidence(gap, metric, z)
    values = (
        f"{metric.label} is {gap.optimistic:.3f} in cross-validation on the training rows but "
        f"{gap.realistic:.3f} on the test rows"
    )
    if gap.beyond_tolerance and gap.beyond_noise(z):
        return [
            Finding(
                "holdout_below_cv",
                "high",
                f"{values} (gap {gap.gap:.3f}, {gap.standard_errors:.1f} standard errors; "
                f"tolerance {gap.tolerance:.3g}). The test rows behave differently from the "
                "training rows (distribution shift), or cross-validation was flattered by rows "
                "shared across folds (duplicates, groups, time).",
                (),
                evidence,
            )
        ]
    if gap.beyond_tolerance:
        return [
            Finding(
                "holdout_below_cv_within_noise",
                "low",
                f"{values} (gap {gap.gap:.3f}, above the tolerance {gap.tolerance:.3g} but within "
                f"{z:g} standard errors: more test rows would tell).",
                (),
                evidence,
            )
        ]
    if -gap.gap > gap.tolerance and gap.beyond_noise(z):
        return [
            Finding(
                "holdout_above_cv",
                "low",
                f"{values}: the test rows are scored better than cross-validation predicts "
                f"(gap {gap.gap:.3f}). They may be easier than the training rows.",
                (),
                evidence,
            )
        ]
    return []


def _evidence(gap: Gap, metric: MetricSpec, z: float) -> dict:
    return {
        "metric": metric.key,
        "optimistic": gap.optimistic,
        "realistic": gap.realistic,
        "gap": gap.gap,
        "std_error": gap.std_error,
        "tolerance": gap.tolerance,
        "min_standard_errors": z,
    }


def _summary(
    metric: MetricSpec,
    train_gap: Gap,
    holdout_gap: Gap | None,
    cv: CrossValidation,
    z: float,
    not_compared: str | None,
) -> str:
    text = (
        f"{metric.label}: {train_gap.optimistic:.3f} on fitting rows, {train_gap.realistic:.3f} "
        f"on validation folds (gap {train_gap.gap:+.3f} ± {train_gap.std_error:.3f} SE)"
    )
    if holdout_gap is not None:
        text += (
            f", {holdout_gap.realistic:.3f} on the test rows (gap to cross-validation "
            f"{holdout_gap.gap:+.3f} ± {holdout_gap.std_error:.3f} SE)"
        )
    else:
        text += f"; {not_compared}: cross-validation is not compared with a holdout score"
    return (
        f"{text}. Tolerance {train_gap.tolerance:.3g}, counted beyond {z:g} SE; "
        f"{cv.folds.describe()}."
    )


def _gap_table(gaps: list[Gap], metric: MetricSpec, z: float) -> Table:
    rows = []
    for gap in gaps:
        beyond = gap.beyond_tolerance and gap.beyond_noise(z)
        rows.append(
            (
                gap.name,
                gap.optimistic,
                gap.realistic,
                gap.gap,
                gap.std_error,
                gap.tolerance,
                "beyond tolerance and noise" if beyond else "within",
            )
        )
    return Table(
        "overfit_gaps",
        f"Gaps on {metric.label} (positive: the first value looks better)",
        ("comparison", "optimistic", "realistic", "gap", "SE", "tolerance", "verdict"),
        tuple(rows),
    )


def _fold_table(cv: CrossValidation, train: np.ndarray, valid: np.ndarray, sign: float) -> Table:
    def cell(v: float) -> float | None:
        return float(v) if np.isfinite(v) else None

    rows = tuple(
        (i + 1, cell(train[i]), cell(valid[i]), cell(sign * (train[i] - valid[i])))
        for i in range(len(cv.fits))
    )
    return Table(
        "overfit_folds",
        "Score on each fold's fitting rows and validation rows",
        ("fold", "fitting rows", "validation rows", "gap"),
        rows,
    )


def _figure(metric: MetricSpec, fit, valid, holdout) -> Curve:
    entries = [
        ("Fitting rows (in-sample)", fit.mean, fit.ci_low, fit.ci_high),
        ("Validation folds", valid.mean, valid.ci_low, valid.ci_high),
    ]
    if holdout is not None:
        entries.append(("Holdout (test rows)", holdout[0], holdout[1], holdout[2]))
    direction = "higher" if metric.greater_is_better else "lower"
    better = "above" if metric.greater_is_better else "below"
    intervals = "means over the folds with t intervals" + (
        ", and the holdout score with its bootstrap interval" if holdout is not None else ""
    )
    holdout_text = (
        " The holdout score should agree with the validation folds within their intervals; "
        "if it is clearly worse, the test rows differ from the training rows."
        if holdout is not None
        else ""
    )
    return Curve(
        "overfit",
        f"{metric.label}: in-sample, cross-validated and holdout",
        "interval",
        "Rows the model is scored on",
        f"{metric.label} ({direction} is better)",
        (
            _interval_series(
                "score with its 95% interval", [(v, lo, hi) for _, v, lo, hi in entries]
            ),
        ),
        f"Each point is a score with its 95% interval: {intervals}. A model usually looks "
        f"better on the rows it was fitted on, so the in-sample score tends to sit {better} "
        "the others; the further it sits from the validation folds, the more the model has "
        "memorised its training rows (overfitting) instead of learning what carries over."
        + holdout_text,
        x_tick_labels=tuple(name for name, *_ in entries),
    )


def _interval_series(name: str, estimates: list) -> Series:
    """One series of estimates at positions 0, 1, ... with their intervals (None: no bar)."""

    def cell(value) -> float | None:
        return None if value is None or not np.isfinite(value) else float(value)

    return Series(
        name,
        tuple(float(i) for i in range(len(estimates))),
        tuple(cell(v) for v, _, _ in estimates),
        tuple(cell(lo) for _, lo, _ in estimates),
        tuple(cell(hi) for _, _, hi in estimates),
    )
