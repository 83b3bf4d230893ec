"""``baseline.comparison``: the model against trivial, linear and user baselines, paired."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from auditor import keys
from auditor.checks._common import compared_metric, status_from
from auditor.context import AuditContext
from auditor.engine import baselines
from auditor.engine.baselines import Baseline
from auditor.errors import NotApplicable
from auditor.evaluation import (
    AllFitsFailedError,
    CrossValidation,
    cv_folds,
    fold_scores,
    model_cv,
    model_holdout,
)
from auditor.metrics import MetricSpec
from auditor.registry import CheckOutcome, SkipCheck, param, register_check
from auditor.result import Curve, Finding, Measurement, Series, Table
from auditor.stats.bootstrap import percentile_interval
from auditor.stats.intervals import t_interval
from auditor.stats.paired import corrected_resampled_t_test
from auditor.stats.pvalues import p_equals

CHECK_ID = "baseline.comparison"
# One-hot columns for categories seen in less than this share of rows are merged: the
# linear baseline stays narrow on high-cardinality columns.
_MIN_CATEGORY_SHARE = 0.01


@dataclass(frozen=True, slots=True)
class ComparisonParams:
    metric: str = param(
        "",
        "Metric compared, a metric key such as 'roc_auc'; empty: the headline metric of the task.",
    )
    alpha: float = param(
        0.05,
        "One-sided significance level of the corrected t-test on the cross-validation folds.",
        share=True,
    )
    confidence: float = param(
        0.95,
        "Level of the paired bootstrap interval on the test rows: the model counts as better "
        "when the interval of its difference to a baseline excludes 0.",
        share=True,
    )


@dataclass(slots=True)
class Comparison:
    """Everything measured about one baseline; differences are model minus baseline."""

    baseline: Baseline
    holdout: tuple[float, float | None, float | None] | None = None
    cv: tuple[float, float] | None = None
    cv_interval: tuple[float | None, float | None] = (None, None)
    holdout_diff: tuple[float, float | None, float | None] | None = None
    holdout_p: float | None = None
    holdout_better: bool = False
    holdout_worse: bool = False
    cv_diff: tuple[float, float | None, float | None] | None = None
    cv_p: float | None = None
    cv_better: bool = False
    cv_worse: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def n_tests(self) -> int:
        return int(self.holdout_diff is not None) + int(self.cv_diff is not None)

    @property
    def n_better(self) -> int:
        return int(self.holdout_better) + int(self.cv_better)

    @property
    def n_worse(self) -> int:
        return int(self.holdout_worse) + int(self.cv_worse)


@register_check(
    CHECK_ID,
    title="Comparison with baseline models",
    needs=("predictions",),
    params=ComparisonParams,
    rationale=(
        "A model earns its complexity only if it predicts better than trivial rules and a "
        "plain linear model evaluated on the same rows; otherwise its headline metric "
        "reflects the data, not the model."
    ),
    remedy=(
        "Check the features and the training labels (a model that does not beat a dummy has "
        "learned nothing usable); when a linear model does as well, prefer the simpler model."
    ),
    remedies={
        "not_better_than_baseline": (
            "The model does not beat a trivial rule, so it has learned nothing usable: check "
            "that the features reach the model and that the labels are right."
        ),
        "better_on_test_rows_only": (
            "The model beats the trivial rule on the test rows but not across the folds: test "
            "it on more rows or another period before relying on the advantage."
        ),
        "worse_than_linear": (
            "A plain linear model scores better on the test rows: ship the simpler model, or "
            "find what the complex one gets wrong (feature encoding, too few rows)."
        ),
        "worse_than_linear_on_folds": (
            "A plain linear model does at least as well: prefer it, unless the complex model "
            "is needed for a reason the audit cannot see; record that reason."
        ),
    },
)
def comparison(ctx: AuditContext, params: ComparisonParams) -> CheckOutcome:
    """Compare the model with baselines on the same test rows and the same folds.

    Notes
    -----
    Baselines: dummies (classification: class prior, most frequent class, stratified random
    labels; regression: mean, median), a linear model with standard preprocessing
    (numeric: median imputation and scaling; categorical: most-frequent imputation and
    one-hot encoding, rare categories merged, unknown ones ignored; LogisticRegression or
    Ridge), and the user's ``--baseline-model`` when given. Every baseline is fitted on the
    training rows and scored on the test rows, and refitted on the same cross-validation
    folds as the model when a model is given (the user's baseline is scored on the test
    rows as fitted, and refitted on the folds).

    Two paired tests of the difference model - baseline on the primary metric:

    - holdout: a percentile bootstrap interval of the difference, model and baseline
      scored on the *same* resamples of the test rows; the model is better when the
      ``confidence`` interval lies above 0 (a one-sided test at (1 - confidence)/2).
    - cross-validation: Nadeau and Bengio's corrected resampled t-test on the per-fold
      differences (variance factor 1/J + n_valid/n_fit, J - 1 degrees of freedom),
      one-sided at ``alpha``.

    Decision. The test on the test rows judges the fitted model that would ship; the test
    on the folds judges refits of the same recipe (a model fitted on shuffled labels is
    useless, yet its refits on the real labels are fine). So the test rows decide and the
    folds can only add a warning; without a holdout comparison the folds decide.

    - Against the best trivial baseline, and against the user's baseline: not
      significantly better on the deciding test fails; better there but not on the folds
      warns.
    - Against the linear baseline the model must not be significantly worse: worse on the
      deciding test fails, worse on the folds only warns. Being no better than it is a
      low-severity finding only, because the model may itself be linear, and a linear model
      cannot beat itself.

    Only one test is available in predictions-only mode (the test rows) or without
    training data (cross-validation on the test rows).
    """
    metric = compared_metric(ctx, params.metric, CHECK_ID)
    notes: list[str] = []
    model_folds = _model_folds(ctx, params, notes)
    if ctx.train is None and model_folds is None and ctx.baseline_model is None:
        raise SkipCheck(
            "baselines need training rows (--train) to be fitted, or a model (--model) whose "
            "refits they are compared with"
        )
    attempted = [Comparison(b) for b in baselines.standard_baselines(ctx)]
    model_holdout = _compare_holdout(ctx, metric, attempted, params)
    if model_folds is not None:
        _compare_cv(ctx, metric, attempted, model_folds, params)
    comparisons = [c for c in attempted if c.holdout is not None or c.cv is not None]
    findings = _fit_failures(attempted) + _decision_findings(comparisons, metric, params)
    if not comparisons:
        raise SkipCheck("no baseline could be evaluated: " + "; ".join(f.message for f in findings))
    model_cv_summary = _model_cv_summary(ctx, metric, model_folds, params)
    best = _best(comparisons, metric)
    return CheckOutcome(
        status=status_from(findings),
        summary=_summary(
            metric, comparisons, best, model_holdout, model_cv_summary, findings, notes
        ),
        findings=tuple(findings),
        measurements=tuple(
            _measurements(metric, best, model_holdout, model_cv_summary, comparisons)
        ),
        tables=(
            _score_table(metric, comparisons, model_holdout, model_cv_summary),
            _test_table(metric, comparisons),
        ),
        curves=(_figure(metric, comparisons, model_holdout, model_cv_summary, params.confidence),),
    )


# --- what is compared --------------------------------------------------------------------


def _model_folds(
    ctx: AuditContext, params: ComparisonParams, notes: list[str]
) -> CrossValidation | None:
    """The model's cross-validation fits, or None (with the reason in ``notes``)."""
    if ctx.model is None:
        notes.append("No model to refit (predictions only): no cross-validated comparison.")
        return None
    try:
        return model_cv(ctx)
    except (NotApplicable, AllFitsFailedError) as exc:
        notes.append(f"Cross-validation is unavailable: {exc}.")
        return None


# --- the two tests -----------------------------------------------------------------------


def _compare_holdout(
    ctx: AuditContext,
    metric: MetricSpec,
    comparisons: list[Comparison],
    params: ComparisonParams,
) -> tuple[float, float | None, float | None]:
    """Score the model and every baseline on the same bootstrap resamples of the test rows.

    Returns the model's score on the test rows and its interval.
    """
    predictions = {}
    for comp in comparisons:
        try:
            predictions[comp.baseline.name] = baselines.test_predictions(ctx, comp.baseline, metric)
        except baselines.BaselineUnavailableError as exc:
            if ctx.train is not None or comp.baseline.role == "user":
                comp.errors.append(str(exc))
    model = model_holdout(ctx, metric)
    scores = baselines.holdout_scores(ctx, metric, predictions)
    sign = 1.0 if metric.greater_is_better else -1.0
    for comp in comparisons:
        score = scores.get(comp.baseline.name)
        if score is None:
            continue
        comp.holdout = (score.value, *score.interval(params.confidence))
        diff = model.replicates - score.replicates
        low, high = percentile_interval(diff, params.confidence)
        comp.holdout_diff = (model.value - score.value, low, high)
        finite = diff[np.isfinite(diff)]
        comp.holdout_p = float(np.mean(sign * finite <= 0)) if finite.size else None
        if low is not None and high is not None:
            comp.holdout_better = sign * (low if sign > 0 else high) > 0
            comp.holdout_worse = sign * (high if sign > 0 else low) < 0
    return (model.value, *model.interval(params.confidence))


def _compare_cv(
    ctx: AuditContext,
    metric: MetricSpec,
    comparisons: list[Comparison],
    model_folds: CrossValidation,
    params: ComparisonParams,
) -> None:
    folds = cv_folds(ctx)
    model_scores = fold_scores(ctx, model_folds, (metric,))[:, 0]
    sign = 1.0 if metric.greater_is_better else -1.0
    for comp in comparisons:
        try:
            cv = baselines.refits(ctx, comp.baseline)
        except NotApplicable as exc:
            comp.errors.append(str(exc))
            continue
        for error, count in cv.failure_groups():
            comp.errors.append(f"{count} of {len(cv.fits)} fold fits: {error}")
        if not any(baselines.usable(metric, f.valid) for f in cv.fits):
            continue
        scores = fold_scores(ctx, cv, (metric,))[:, 0]
        summary = t_interval(scores, params.confidence)
        if summary.n == 0:
            continue
        comp.cv = (summary.mean, summary.std)
        comp.cv_interval = (summary.ci_low, summary.ci_high)
        both = np.isfinite(scores) & np.isfinite(model_scores)
        if both.sum() < 2:
            continue
        test = corrected_resampled_t_test(
            sign * (model_scores[both] - scores[both]),
            n_train=folds.mean_train_rows,
            n_test=folds.mean_valid_rows,
            confidence=params.confidence,
        )
        if sign > 0:
            comp.cv_diff = (test.mean, test.ci_low, test.ci_high)
        else:
            comp.cv_diff = (-test.mean, -test.ci_high, -test.ci_low)
        comp.cv_p = test.p_value
        comp.cv_better = test.p_value < params.alpha
        comp.cv_worse = (1.0 - test.p_value) < params.alpha and test.mean < 0


def _model_cv_summary(
    ctx: AuditContext,
    metric: MetricSpec,
    model_folds: CrossValidation | None,
    params: ComparisonParams,
):
    if model_folds is None:
        return None
    return t_interval(fold_scores(ctx, model_folds, (metric,))[:, 0], params.confidence)


# --- decision ------------------------------------------------------------------------------


def _best(comparisons: list[Comparison], metric: MetricSpec) -> Comparison:
    """The best baseline: highest holdout score (cross-validated mean without a holdout)."""
    sign = 1.0 if metric.greater_is_better else -1.0

    def score(c: Comparison) -> float:
        value = c.holdout[0] if c.holdout is not None else c.cv[0] if c.cv is not None else None
        return -np.inf if value is None or not np.isfinite(value) else sign * value

    return max(comparisons, key=score)


def _tests_text(c: Comparison, metric: MetricSpec, direction: str = "better") -> str:
    """Both tests in one phrase; the t-test's one-sided p is for ``direction``."""
    parts = []
    if c.holdout_diff is not None:
        _, low, high = c.holdout_diff
        interval = "" if low is None else f" [{low:+.3f}, {high:+.3f}]"
        parts.append(f"test rows {c.holdout_diff[0]:+.3f}{interval}")
    if c.cv_diff is not None and c.cv_p is not None:
        p = c.cv_p if direction == "better" else 1.0 - c.cv_p
        parts.append(
            f"folds {c.cv_diff[0]:+.3f} (corrected t-test, one-sided {p_equals('p', p)} for "
            f"the model being {direction})"
        )
    return f"{metric.label} difference, model - baseline: " + "; ".join(parts)


def _decision_findings(
    comparisons: list[Comparison], metric: MetricSpec, params: ComparisonParams
) -> list[Finding]:
    """Findings from the decision rule (see the check's Notes).

    The test on the test rows judges the fitted model that ships and decides; the test on
    the folds judges refits of its recipe and can only add a warning. Without a holdout
    comparison the folds decide.
    """
    findings = []
    trivial = [c for c in comparisons if c.baseline.role == "trivial" and c.n_tests]
    bound = [_best(trivial, metric)] if trivial else []
    bound += [c for c in comparisons if c.baseline.role == "user" and c.n_tests]
    for c in bound:
        evidence = _evidence(c, metric)
        primary, secondary = _primary_better(c), _secondary_better(c)
        if not primary:
            findings.append(
                Finding(
                    "not_better_than_baseline",
                    "high",
                    f"The model is not significantly better than {c.baseline.label} on the "
                    f"{_primary_name(c)} ({_tests_text(c, metric)}).",
                    (),
                    evidence,
                )
            )
        elif secondary is False:
            findings.append(
                Finding(
                    "better_on_test_rows_only",
                    "medium",
                    f"The model beats {c.baseline.label} on the test rows but not significantly "
                    "when refitted on the cross-validation folds, so its advantage may depend on "
                    f"the rows it was fitted on ({_tests_text(c, metric)}).",
                    (),
                    evidence,
                )
            )
    for c in comparisons:
        if c.baseline.role != "linear" or not c.n_tests:
            continue
        evidence = _evidence(c, metric)
        holdout_first = c.holdout_diff is not None
        primary_worse = c.holdout_worse if holdout_first else c.cv_worse
        secondary_worse = c.cv_worse if holdout_first else False
        label = c.baseline.label.lower()
        if primary_worse:
            findings.append(
                Finding(
                    "worse_than_linear",
                    "high",
                    f"The model is significantly worse than {label} with standard preprocessing "
                    f"on the {_primary_name(c)} ({_tests_text(c, metric, 'worse')}).",
                    (),
                    evidence,
                )
            )
        elif secondary_worse:
            findings.append(
                Finding(
                    "worse_than_linear_on_folds",
                    "medium",
                    f"Refitted on the cross-validation folds, the model is significantly worse "
                    f"than {label} with standard preprocessing ({_tests_text(c, metric, 'worse')}).",
                    (),
                    evidence,
                )
            )
        elif not _primary_better(c):
            findings.append(
                Finding(
                    "not_better_than_linear",
                    "low",
                    f"The model is not shown to be better than {label} with standard "
                    f"preprocessing ({_tests_text(c, metric)}); a simpler model may do as well.",
                    (),
                    evidence,
                )
            )
    return findings


def _primary_name(c: Comparison) -> str:
    return "test rows" if c.holdout_diff is not None else "cross-validation folds"


def _primary_better(c: Comparison) -> bool:
    return c.holdout_better if c.holdout_diff is not None else c.cv_better


def _secondary_better(c: Comparison) -> bool | None:
    """The folds' verdict when the test rows decided; None when there is no second test."""
    if c.holdout_diff is None or c.cv_diff is None:
        return None
    return c.cv_better


def _evidence(c: Comparison, metric: MetricSpec) -> dict:
    return {
        "baseline": c.baseline.name,
        "metric": metric.key,
        "holdout_difference": None if c.holdout_diff is None else c.holdout_diff[0],
        "holdout_ci_low": None if c.holdout_diff is None else c.holdout_diff[1],
        "holdout_ci_high": None if c.holdout_diff is None else c.holdout_diff[2],
        "cv_difference": None if c.cv_diff is None else c.cv_diff[0],
        "cv_p_value": c.cv_p,
    }


def _fit_failures(attempted: list[Comparison]) -> list[Finding]:
    """Baselines that failed to fit (on some folds, or wholly), as findings."""
    findings = [
        Finding(
            "baseline_fit_failed",
            "low",
            f"{c.baseline.label}: {error}",
            (),
            {"baseline": c.baseline.name, "error": error[:300]},
        )
        for c in attempted
        for error in c.errors
    ]
    for c in attempted:
        # Without training rows and a model the built-in baselines have nothing to be fitted
        # on; that is said in the summary, not repeated per baseline.
        if c.holdout is None and c.cv is None and (c.errors or c.baseline.role == "user"):
            findings.append(
                Finding(
                    "baseline_unavailable",
                    "medium" if c.baseline.role == "user" else "low",
                    f"{c.baseline.label} could not be evaluated, so it was left out of the "
                    "comparison.",
                    (),
                    {"baseline": c.baseline.name},
                )
            )
    return findings


# --- output --------------------------------------------------------------------------------


def _measurements(metric, best, model_holdout, model_cv_summary, comparisons) -> list[Measurement]:
    gib = metric.greater_is_better
    out = [Measurement(keys.MODEL_SCORE.key, *model_holdout, gib)]
    if best.holdout is not None:
        out.append(Measurement(keys.BEST_BASELINE_SCORE.key, *best.holdout, gib))
    elif best.cv is not None:
        out.append(Measurement(keys.BEST_BASELINE_SCORE.key, best.cv[0], None, None, gib))
    if best.holdout_diff is not None:
        out += [
            Measurement(keys.DIFFERENCE_TO_BEST_BASELINE.key, *best.holdout_diff, gib),
            Measurement("bootstrap_p_value", best.holdout_p),
        ]
    if best.cv_diff is not None:
        out += [
            Measurement("cv_difference_to_best_baseline", *best.cv_diff, gib),
            Measurement("corrected_t_p_value", best.cv_p),
        ]
    out.append(Measurement("n_baselines", len(comparisons)))
    return out


def _summary(metric, comparisons, best, model_holdout, model_cv_summary, findings, notes) -> str:
    value, low, high = model_holdout
    interval = "" if low is None else f" [{low:.3f}, {high:.3f}]"
    best_value = best.holdout[0] if best.holdout is not None else best.cv[0]
    where = "test rows" if best.holdout is not None else "folds"
    text = (
        f"{metric.label} {value:.3f}{interval} on the test rows; the best baseline is "
        f"{best.baseline.label} with {best_value:.3f} on the {where}."
    )
    blocking = [f for f in findings if f.severity in ("high", "medium")]
    if not blocking:
        tests = {c.n_tests for c in comparisons if c.baseline.role in ("trivial", "user")}
        both = "both paired tests" if tests == {2} else "the paired test"
        text += f" The model is significantly better than the trivial baselines on {both}."
    else:
        text += f" {blocking[0].message}"
    return text + "".join(f" {n}" for n in notes)


def _cell(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _score_table(metric, comparisons, model_holdout, model_cv_summary) -> Table:
    rows = [
        (
            "Model",
            *map(_cell, model_holdout),
            _cell(model_cv_summary.mean) if model_cv_summary else None,
            _cell(model_cv_summary.std) if model_cv_summary else None,
        )
    ]
    for c in comparisons:
        holdout = c.holdout or (None, None, None)
        cv = c.cv or (None, None)
        rows.append((c.baseline.label, *map(_cell, holdout), *map(_cell, cv)))
    return Table(
        keys.BASELINE_SCORES_TABLE.key,
        f"{metric.label} of the model and each baseline",
        ("model", "test rows", "interval low", "interval high", "CV mean", "CV SD"),
        tuple(rows),
    )


def _test_table(metric, comparisons) -> Table:
    rows = []
    for c in comparisons:
        diff = c.holdout_diff or (None, None, None)
        cv_diff = c.cv_diff or (None, None, None)
        if c.n_worse:
            verdict = f"worse on {c.n_worse} of {c.n_tests}"
        else:
            verdict = f"better on {c.n_better} of {c.n_tests}"
        rows.append(
            (
                c.baseline.label,
                *map(_cell, diff),
                _cell(c.holdout_p),
                _cell(cv_diff[0]),
                _cell(c.cv_p),
                verdict,
            )
        )
    return Table(
        "baseline_tests",
        f"Paired tests of the {metric.label} difference, model - baseline (p: one-sided, for "
        "the model being better)",
        ("baseline", "test rows", "low", "high", "bootstrap p", "folds", "t-test p", "result"),
        tuple(rows),
    )


def _figure(metric, comparisons, model_holdout, model_cv_summary, confidence) -> Curve:
    """The model and each baseline with their intervals; the model in a series of its own."""
    level = f"{confidence:.0%}"
    on_holdout = any(c.holdout is not None for c in comparisons)
    if on_holdout:
        model = [("Model", *model_holdout)]
        baselines = [(c.baseline.label, *c.holdout) for c in comparisons if c.holdout is not None]
        what = f"a score on the test rows with its {level} bootstrap interval"
    else:
        s = model_cv_summary
        model = [("Model", s.mean, s.ci_low, s.ci_high)]
        baselines = [(c.baseline.label, c.cv[0], *c.cv_interval) for c in comparisons if c.cv]
        what = f"a mean score over the cross-validation folds with its {level} t interval"
    direction = "higher" if metric.greater_is_better else "lower"
    better = "above" if metric.greater_is_better else "below"

    def series(name: str, entries: list, start: int) -> Series:
        return Series(
            name,
            tuple(float(start + i) for i in range(len(entries))),
            tuple(_cell(v) for _, v, _, _ in entries),
            tuple(_cell(lo) for _, _, lo, _ in entries),
            tuple(_cell(hi) for _, _, _, hi in entries),
        )

    return Curve(
        "baseline_comparison",
        f"{metric.label}: model and baselines",
        "interval",
        "Model or baseline",
        f"{metric.label} ({direction} is better)",
        (
            series(f"model, {level} interval", model, 0),
            series(f"baseline, {level} interval", baselines, 1),
        ),
        f"Each point is {what}. The model should sit clearly {better} the dummy baselines, "
        "which predict without looking at the features; a simple baseline at the same level "
        "means the model's complexity buys nothing. The paired tests in the table are sharper "
        "than comparing these intervals, because model and baseline are scored on the same "
        "rows.",
        x_tick_labels=tuple(name for name, *_ in model + baselines),
    )
