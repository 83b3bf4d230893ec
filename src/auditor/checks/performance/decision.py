"""``performance.decision``: the threshold to ship, chosen by the costs of the mistakes.

The threshold is chosen on the out-of-fold predictions of the audit's refits (rows the test
never sees) and judged on the test rows, with intervals on the audit's shared resamples.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from auditor import keys
from auditor.checks._common import status_from
from auditor.context import AuditContext
from auditor.evaluation import (
    HoldoutScore,
    holdout_bootstrap,
    model_cv,
    point_weights,
    score_on_test_rows,
    training_frame,
)
from auditor.metrics import (
    EvalData,
    binary_counts,
    counts_at_thresholds,
    expected_cost,
    net_benefit,
    precision,
    recall,
    selection_rate,
)
from auditor.registry import CheckOutcome, SkipCheck, param, register_check
from auditor.result import Curve, Finding, Measurement, Series, Table
from auditor.spec import DecisionSettings
from auditor.stats.bootstrap import percentile_interval

CHECK_ID = keys.DECISION
# The thresholds the figures are drawn at: net benefit is defined strictly inside (0, 1).
_CURVE_THRESHOLDS = np.round(np.linspace(0.01, 0.99, 99), 2)
# A model predicting the class of highest probability flags a binary positive above this.
_ARGMAX_THRESHOLD = 0.5
_NOT_BINARY = {
    "multiclass": (
        "a multiclass model decides by its highest class probability, so there is no single "
        "threshold to choose"
    ),
    "regression": "a regression model predicts values, not yes/no decisions with a threshold",
}
# Measures reported at each operating point, in report order.
_MEASURES = ("expected_cost", "precision", "recall", "flagged_share")


@dataclass(frozen=True, slots=True)
class DecisionParams:
    confidence: float = param(0.95, "Level of the intervals.", share=True)


@dataclass(frozen=True, slots=True)
class OperatingPoint:
    """A way of turning probabilities into decisions, and its measures on the test rows."""

    name: str  # "chosen" or "model"
    threshold: float | None  # None: the model's own labels follow no single threshold
    data: EvalData  # the test rows with these decisions as labels
    scores: dict[str, HoldoutScore]


@dataclass(frozen=True, slots=True)
class TestSweep:
    """Net benefit (and expected cost) on the test rows at ``_CURVE_THRESHOLDS``: the point
    estimates, and the bootstrap replicates (B, T) of the model's curves."""

    point_weights: np.ndarray  # (1, n): the test rows' weights of a point estimate
    prevalence_benefit: np.ndarray  # treat all: flag every row
    net_benefit: np.ndarray
    net_benefit_replicates: np.ndarray
    expected_cost: np.ndarray | None
    expected_cost_replicates: np.ndarray | None


@register_check(
    CHECK_ID,
    title="Costs and the decision threshold",
    needs=("predictions",),
    params=DecisionParams,
    rationale=(
        "A classifier ships with a threshold, and its two kinds of mistakes rarely cost the "
        "same: the threshold that ships decides what the model costs, and one chosen on the "
        "test rows would flatter it."
    ),
    remedy=(
        "Ship the chosen threshold (flag the rows whose probability is at or above it) instead "
        "of the model's own, or revisit the costs in [decision] with the people who bear them."
    ),
    remedies={
        "chosen_threshold_costs_more": (
            "Do not ship the chosen threshold yet: compare the refits with the shipped model "
            "(same data, same parameters?) and look for a shift between training and test rows."
        ),
        "limit_missed": (
            "Agree on a threshold that keeps the limit with more test rows behind it, or relax "
            "the limit: the one chosen on the folds does not keep it on the test rows."
        ),
        "limits_conflict": (
            "Relax one of the limits in [decision] (capacity or recall): no threshold keeps both."
        ),
        "threshold_not_chosen": (
            "Give --train (and a model, not a predictions file) so that the threshold can be "
            "chosen on out-of-fold predictions."
        ),
    },
)
def decision(ctx: AuditContext, params: DecisionParams) -> CheckOutcome:
    """Choose the threshold by expected cost (or by limits) on out-of-fold predictions, and
    report it on the test rows beside the model's own threshold.

    Notes
    -----
    A row is flagged when the probability of the positive class is at or above the
    threshold. Candidate thresholds lie midway between consecutive distinct out-of-fold
    probabilities (plus "flag every row" and "flag none"). With costs, the chosen threshold
    has the lowest expected cost per row ``(c_FP FP + c_FN FN - b_TP TP - b_TN TN) / n``
    among those keeping the limits; without costs, the highest precision with recall at
    least ``min_recall``, or else the highest recall with at most ``max_flagged_share`` of
    the rows flagged. Ties go to the highest threshold (fewest flags).

    The out-of-fold predictions come from the audit's refits of the model
    (``evaluation.model_cv``), pooled over folds and repeats; without training data the
    folds are drawn from the test rows, so no threshold is chosen. On the test rows, shares
    carry Wilson intervals and costs percentile intervals of the audit's shared bootstrap, so
    the cost difference to the model's own threshold is paired.

    The decision curve (Vickers and Elkin, 2006) plots the net benefit
    ``TP/n - FP/n * t / (1 - t)`` on the test rows against the threshold t, beside flagging
    every row (treat all) and none (0).
    """
    if ctx.task in _NOT_BINARY:
        raise SkipCheck(_NOT_BINARY[ctx.task])
    data = ctx.test_eval
    if data.proba is None:
        raise SkipCheck(
            "the predictions have no class probabilities, so there is no threshold to move"
        )
    settings, level = ctx.decision, params.confidence
    scores = data.proba[:, data.positive]
    event = f"{ctx.target} = {data.classes[data.positive]}"
    own = _operating_point(
        ctx, data, settings, "model", _own_threshold(scores, data.y_pred == data.positive)
    )
    unchosen = _why_not_chosen(ctx, settings)
    out_of_fold = None if unchosen is not None else _out_of_fold(ctx)
    threshold = None
    findings: list[Finding] = []
    if out_of_fold is not None:
        threshold = choose_threshold(*out_of_fold, decision=settings)
        if threshold is None:
            unchosen = "no threshold keeps the limits on the out-of-fold predictions"
            findings.append(_conflict_finding(settings))
    elif settings is not None:
        findings.append(_not_chosen_finding(unchosen))
    chosen = (
        None
        if threshold is None
        else _operating_point(
            ctx,
            replace(data, y_pred=_labels(data, scores >= threshold)),
            settings,
            "chosen",
            threshold,
        )
    )
    measurements = _point_measurements(own, level)
    difference = None
    if chosen is not None:
        measurements = [*_point_measurements(chosen, level), *measurements]
        if settings.has_costs:
            difference = _cost_difference(own, chosen, level)
            measurements.append(difference)
            findings += _cost_findings(difference, own, chosen)
        findings += _limit_findings(chosen, settings, level)
        measurements.append(Measurement("out_of_fold_rows", float(out_of_fold[0].size)))
    if settings is not None and settings.has_costs:
        measurements.append(
            Measurement(
                "cost_implied_threshold",
                settings.cost_implied_threshold,
                note="the threshold the costs call for if the probabilities are calibrated",
            )
        )
    sweep = _sweep_test_rows(ctx, scores, data.y == data.positive, settings)
    curves = [_decision_curve(sweep, own, chosen, event, settings, level)]
    if chosen is not None and settings.has_costs:
        curves.append(_cost_curve(sweep, out_of_fold, own, chosen, event, settings, level))
    if chosen is not None:
        summary = (
            f"Threshold {chosen.threshold:.3f} was chosen on {out_of_fold[0].size:,} "
            f"out-of-fold predictions of the refitted model for {_objective(settings)}. "
            + _comparison(data.n, event, own, chosen, difference, level)
        )
    else:
        summary = f"{_own_summary(data.n, event, own, level)} No threshold was chosen: {unchosen}."
    return CheckOutcome(
        status=status_from(findings),
        summary=summary,
        findings=tuple(findings),
        measurements=tuple(measurements),
        tables=(_points_table(own, chosen),),
        curves=tuple(curves),
    )


# --- choosing on out-of-fold predictions ---------------------------------------------------


def _why_not_chosen(ctx: AuditContext, settings: DecisionSettings | None) -> str | None:
    """Why no threshold can be chosen, as a clause; None when one can."""
    if settings is None:
        return (
            "declare [decision] costs (cost_false_positive, cost_false_negative) or a limit "
            "(max_flagged_share, min_recall) to choose one"
        )
    if ctx.model is None:
        return (
            "predictions alone cannot be refitted, and choosing needs out-of-fold predictions "
            "independent of the test rows"
        )
    if ctx.train is None:
        return (
            "without training data the out-of-fold predictions would come from the test rows, "
            "and a threshold must be chosen on rows independent of them"
        )
    return None


def _out_of_fold(ctx: AuditContext) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Probabilities of the positive class, whether the row is positive, and row weights,
    of every validation row of the audit's refits (pooled over folds and repeats)."""
    cv = model_cv(ctx)
    frame, _ = training_frame(ctx)
    y = frame[ctx.target]
    weights = ctx.weights_of(frame)
    parts = []
    for fit, rows in zip(cv.fits, cv.folds.valid, strict=True):
        if fit.valid is None or fit.valid.proba is None:
            continue
        fold = ctx.eval_data(y.iloc[rows], fit.valid)
        parts.append(
            (
                fold.proba[:, fold.positive],
                fold.y == fold.positive,
                np.ones(len(rows)) if weights is None else weights[rows],
            )
        )
    if not parts:
        raise SkipCheck("the refits of the model gave no class probabilities to choose from")
    return tuple(np.concatenate(column) for column in zip(*parts, strict=True))


def candidate_thresholds(scores: np.ndarray) -> np.ndarray:
    """0 (flag every row), the midpoints between consecutive distinct scores and, when the
    highest score is below 1, a threshold above it (flag none). Midpoints, not the scores
    themselves: a threshold on a fold's exact score would be fitted to that row."""
    distinct = np.unique(scores)
    above = [(distinct[-1] + 1) / 2] if distinct[-1] < 1 else []
    return np.concatenate([[0.0], (distinct[:-1] + distinct[1:]) / 2, above])


def choose_threshold(
    scores: np.ndarray, positive: np.ndarray, weights: np.ndarray, *, decision: DecisionSettings
) -> float | None:
    """The threshold ``decision`` favours on these rows; None when none keeps its limits.

    Lowest expected cost with costs; else highest precision with recall at least
    ``min_recall``; else highest recall with at most ``max_flagged_share`` flagged. Every
    declared limit is kept. Ties go to the highest threshold: fewer flags, same objective.
    """
    thresholds = candidate_thresholds(scores)
    counts = counts_at_thresholds(scores, positive, weights[None, :], thresholds)
    tp, fp, fn, tn = (c[0] for c in counts)
    caught = np.divide(tp, tp + fn, out=np.zeros_like(tp), where=tp + fn > 0)
    keeps = np.ones(thresholds.size, dtype=bool)
    if decision.min_recall is not None:
        keeps &= caught >= decision.min_recall
    if decision.max_flagged_share is not None:
        keeps &= (tp + fp) / (tp + fp + fn + tn) <= decision.max_flagged_share
    if not keeps.any():
        return None
    if decision.has_costs:
        objective = -expected_cost(counts, decision)[0]
    elif decision.min_recall is not None:
        objective = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=tp + fp > 0)
    else:
        objective = caught
    objective = np.where(keeps, objective, -np.inf)
    best = thresholds.size - 1 - int(np.argmax(objective[::-1]))
    return float(thresholds[best])


# --- the test rows ----------------------------------------------------------------------------


def _own_threshold(scores: np.ndarray, flags: np.ndarray) -> float | None:
    """0.5 when the model's labels are its probability above one half (ties either way)."""
    clear = scores != _ARGMAX_THRESHOLD
    return (
        _ARGMAX_THRESHOLD
        if np.array_equal(flags[clear], scores[clear] > _ARGMAX_THRESHOLD)
        else None
    )


def _labels(data: EvalData, flags: np.ndarray) -> np.ndarray:
    """Class indices of a binary decision: the positive class where flagged."""
    return np.where(flags, data.positive, 1 - data.positive)


def _key(measure: str, point: str) -> str:
    """Measurement keys: ``expected_cost`` and ``recall_at_threshold`` at the chosen
    threshold (the names [gate.metrics] bounds), ``..._at_model_threshold`` at the model's."""
    if point == "model":
        return f"{measure}_at_model_threshold"
    return measure if measure == "expected_cost" else f"{measure}_at_threshold"


def _operating_point(
    ctx: AuditContext,
    data: EvalData,
    settings: DecisionSettings | None,
    point: str,
    threshold: float | None,
) -> OperatingPoint:
    """The measures of ``data``'s labels on the test rows, on the audit's shared resamples."""
    flagged = data.y_pred == data.positive
    statistics = {
        "precision": partial(precision, data),
        "recall": partial(recall, data),
        "flagged_share": partial(selection_rate, data),
    }
    shares_of = {
        "precision": flagged,
        "recall": data.y == data.positive,
        "flagged_share": np.ones(data.n, dtype=bool),
    }
    if settings is not None and settings.has_costs:
        statistics["expected_cost"] = lambda W: expected_cost(binary_counts(data, W), settings)
    scores = score_on_test_rows(ctx, statistics, shares_of)
    return OperatingPoint(point, threshold, data, scores)


def _point_measurements(point: OperatingPoint, level: float) -> list[Measurement]:
    where = (
        "at the threshold chosen on out-of-fold predictions"
        if point.name == "chosen"
        else "at the model's own threshold"
    )
    out = [
        Measurement(
            "chosen_threshold" if point.name == "chosen" else "model_threshold",
            point.threshold,
            note=None
            if point.threshold is not None
            else "the model's labels follow no single threshold on its probability",
        )
    ]
    for measure in _MEASURES:
        if measure not in point.scores:
            continue
        score = point.scores[measure]
        low, high = score.interval(level)
        better = {"expected_cost": False, "flagged_share": None}.get(measure, True)
        out.append(
            Measurement(_key(measure, point.name), score.value, low, high, better, note=where)
        )
    return out


def _cost_difference(own: OperatingPoint, chosen: OperatingPoint, level: float) -> Measurement:
    """The model's own threshold's cost per row less the chosen one's, paired by resample."""
    value = own.scores["expected_cost"].value - chosen.scores["expected_cost"].value
    replicates = own.scores["expected_cost"].replicates - chosen.scores["expected_cost"].replicates
    low, high = percentile_interval(replicates, level)
    return Measurement(
        "cost_saving_over_model_threshold",
        value,
        low,
        high,
        True,
        note="cost per row at the model's own threshold less at the chosen one (paired)",
    )


# --- findings ---------------------------------------------------------------------------------


def _cost_findings(
    difference: Measurement, own: OperatingPoint, chosen: OperatingPoint
) -> list[Finding]:
    if difference.ci_low is None:
        return []
    evidence = {
        "chosen_threshold": chosen.threshold,
        "model_threshold": own.threshold,
        "cost_at_chosen": chosen.scores["expected_cost"].value,
        "cost_at_model": own.scores["expected_cost"].value,
        "difference": difference.value,
        "ci_low": difference.ci_low,
        "ci_high": difference.ci_high,
    }
    interval = f"[{difference.ci_low:.3g}, {difference.ci_high:.3g}]"
    if difference.ci_low > 0:
        return [
            Finding(
                "model_threshold_costs_more",
                "medium",
                f"At {_point_phrase(own)} the model costs "
                f"{own.scores['expected_cost'].value:.3g} per test row, "
                f"{difference.value:.3g} {interval} more than at the chosen threshold "
                f"{chosen.threshold:.3f} ({chosen.scores['expected_cost'].value:.3g}), beyond "
                "test-set noise: at the declared costs its own threshold is the wrong one to ship.",
                (),
                evidence,
            )
        ]
    if difference.ci_high < 0:
        shipped = _point_phrase(own, owner="the model's")
        return [
            Finding(
                "chosen_threshold_costs_more",
                "medium",
                f"The threshold {chosen.threshold:.3f} chosen on out-of-fold predictions costs "
                f"{-difference.value:.3g} [{-difference.ci_high:.3g}, {-difference.ci_low:.3g}] "
                f"more per test row than {shipped}: the refits' "
                "probabilities do not carry over to the shipped model, or the test rows differ "
                "from the training rows.",
                (),
                evidence,
            )
        ]
    return []


def _limit_findings(
    chosen: OperatingPoint, settings: DecisionSettings, level: float
) -> list[Finding]:
    """A limit the chosen threshold misses on the test rows: beyond noise (medium) or within."""
    limits = []
    if settings.min_recall is not None:
        limits.append(
            ("recall", settings.min_recall, -1, "min_recall", "of the positive test rows")
        )
    if settings.max_flagged_share is not None:
        limits.append(
            (
                "flagged_share",
                settings.max_flagged_share,
                1,
                "max_flagged_share",
                "of the test rows",
            )
        )
    findings = []
    for measure, limit, side, name, rows in limits:
        score = chosen.scores[measure]
        low, high = score.interval(level)
        if side * (score.value - limit) <= 0:
            continue
        # The near end of the interval past the limit too: missed beyond noise.
        near = high if side < 0 else low
        beyond = near is not None and side * (near - limit) > 0
        verb = "catches" if measure == "recall" else "flags"
        interval = "" if low is None else f" [{low:.1%}, {high:.1%}]"
        findings.append(
            Finding(
                "limit_missed" if beyond else "limit_missed_within_noise",
                "medium" if beyond else "low",
                f"At the chosen threshold {chosen.threshold:.3f} the model {verb} "
                f"{score.value:.1%}{interval} {rows}, {'below' if side < 0 else 'above'} "
                f"{name} = {limit:g}"
                + (
                    ", beyond what test-set noise explains."
                    if beyond
                    else "; the interval reaches the limit, so more test rows are needed to tell."
                ),
                (),
                {
                    "limit": name,
                    "value": score.value,
                    "bound": limit,
                    "ci_low": low,
                    "ci_high": high,
                },
            )
        )
    return findings


def _conflict_finding(settings: DecisionSettings) -> Finding:
    # Recall alone is always reachable (flag every row); capacity alone fails only when more
    # rows than it allows share a probability of exactly 1.
    why = (
        f"catching {settings.min_recall:.0%} of the positive rows needs more flags than "
        f"max_flagged_share {settings.max_flagged_share:g} allows"
        if settings.min_recall is not None
        else f"more than max_flagged_share {settings.max_flagged_share:g} of the rows have a "
        "probability of 1, so even the highest threshold flags too many"
    )
    return Finding(
        "limits_conflict",
        "medium",
        f"No threshold keeps the limits on the out-of-fold predictions: {why}. No threshold "
        "was chosen.",
        (),
        {"min_recall": settings.min_recall, "max_flagged_share": settings.max_flagged_share},
    )


def _not_chosen_finding(reason: str) -> Finding:
    return Finding(
        "threshold_not_chosen",
        "low",
        f"[decision] was declared but no threshold was chosen: {reason}. The model's own "
        "threshold is reported alone.",
        (),
        {"reason": reason},
    )


# --- words, tables and figures ----------------------------------------------------------------


def _point_phrase(point: OperatingPoint, owner: str = "its") -> str:
    if point.name == "chosen":
        return f"the chosen threshold {point.threshold:.3f}"
    if point.threshold is None:
        return f"{owner} own labels"
    return f"{owner} own threshold ({point.threshold:g})"


def _objective(settings: DecisionSettings) -> str:
    """What the threshold was chosen for, with its limits: 'the lowest expected cost ...'."""
    limits = []
    if settings.has_costs:
        objective = "the lowest expected cost per row"
        if settings.min_recall is not None:
            limits.append(f"recall at least {settings.min_recall:g}")
    elif settings.min_recall is not None:
        objective = f"the highest precision with recall at least {settings.min_recall:g}"
    else:
        objective = "the highest recall"
    if settings.max_flagged_share is not None:
        limits.append(f"at most {settings.max_flagged_share:.1%} of the rows flagged")
    return objective + "".join(f", {limit}" for limit in limits)


def _with_interval(score: HoldoutScore, level: float, form: str = ".3f") -> str:
    low, high = score.interval(level)
    text = format(score.value, form)
    return text if low is None else f"{text} [{format(low, form)}, {format(high, form)}]"


def _shares(point: OperatingPoint, level: float | None) -> tuple[str, str, str]:
    """Flagged share, precision and recall as text, with intervals when ``level`` is given."""

    def text(measure: str, form: str) -> str:
        score = point.scores[measure]
        return format(score.value, form) if level is None else _with_interval(score, level, form)

    return text("flagged_share", ".1%"), text("precision", ".3f"), text("recall", ".3f")


def _comparison(
    n: int,
    event: str,
    own: OperatingPoint,
    chosen: OperatingPoint,
    difference: Measurement | None,
    level: float,
) -> str:
    """The chosen threshold on the test rows, beside the model's own (its cost first)."""
    flagged, precision_, recall_ = _shares(chosen, level)
    own_flagged, own_precision, own_recall = _shares(own, None)
    cost = ""
    if difference is not None:
        saving = (
            ""
            if difference.ci_low is None
            else f" [{difference.ci_low:.3g}, {difference.ci_high:.3g}]"
        )
        cost = (
            f"On the {n:,} test rows it costs "
            f"{_with_interval(chosen.scores['expected_cost'], level, '.3g')} per row against "
            f"{own.scores['expected_cost'].value:.3g} at {_point_phrase(own)}, a saving of "
            f"{difference.value:.3g}{saving} per row (paired bootstrap). "
        )
    return (
        cost + f"{'It' if cost else f'On the {n:,} test rows it'} flags {flagged} of the rows as "
        f"{event}, with precision {precision_} and recall {recall_}, against {own_flagged}, "
        f"{own_precision} and {own_recall} at {_point_phrase(own)}."
    )


def _own_summary(n: int, event: str, own: OperatingPoint, level: float) -> str:
    """What the model's own threshold does on the test rows."""
    flagged, precision_, recall_ = _shares(own, level)
    cost = (
        f" and an expected cost of {_with_interval(own.scores['expected_cost'], level, '.3g')} "
        "per row"
        if "expected_cost" in own.scores
        else ""
    )
    return (
        f"At {_point_phrase(own)} the model flags {flagged} of the {n:,} test rows as {event}, "
        f"with precision {precision_}, recall {recall_}{cost}."
    )


_POINT_LABELS = {"chosen": "chosen on out-of-fold predictions", "model": "the model's own"}
_COLUMN_NAMES = {
    "flagged_share": "flagged share",
    "precision": "precision",
    "recall": "recall",
    "expected_cost": "expected cost per row",
}


def _points_table(own: OperatingPoint, chosen: OperatingPoint | None) -> Table:
    points = [p for p in (chosen, own) if p is not None]
    measures = [
        m for m in ("flagged_share", "precision", "recall", "expected_cost") if m in own.scores
    ]
    return Table(
        "operating_points",
        "Decisions on the test rows at each threshold (intervals under Measurements)",
        ("operating point", "threshold", *(_COLUMN_NAMES[m] for m in measures)),
        tuple(
            (_POINT_LABELS[p.name], p.threshold, *(p.scores[m].value for m in measures))
            for p in points
        ),
    )


# --- figures --------------------------------------------------------------------------------


def _sweep_test_rows(
    ctx: AuditContext, scores: np.ndarray, positive: np.ndarray, settings: DecisionSettings | None
) -> TestSweep:
    """The model's net benefit (and expected cost) at every curve threshold on the test rows,
    with replicates on the audit's shared resamples; treat-all's net benefit beside them."""
    grid = _CURVE_THRESHOLDS

    def counts(W: np.ndarray) -> tuple[np.ndarray, ...]:
        return counts_at_thresholds(scores, positive, W, grid)

    statistics = {"net_benefit": lambda W: net_benefit(counts(W), grid)}
    if settings is not None and settings.has_costs:
        statistics["expected_cost"] = lambda W: expected_cost(counts(W), settings)
    point = point_weights(ctx)
    replicates = holdout_bootstrap(ctx, statistics)
    # Flagging every row: the counts at threshold 0, weighed at each curve threshold.
    every_row = counts_at_thresholds(scores, positive, point, np.zeros(1))
    costs = "expected_cost" in statistics
    return TestSweep(
        point_weights=point,
        prevalence_benefit=net_benefit(every_row, grid)[0],
        net_benefit=statistics["net_benefit"](point)[0],
        net_benefit_replicates=replicates["net_benefit"],
        expected_cost=statistics["expected_cost"](point)[0] if costs else None,
        expected_cost_replicates=replicates["expected_cost"] if costs else None,
    )


def _band(replicates: np.ndarray, level: float) -> tuple[tuple, tuple]:
    """Percentile interval at each threshold (None where too many resamples are undefined)."""
    bounds = [percentile_interval(replicates[:, j], level) for j in range(replicates.shape[1])]
    return tuple(low for low, _ in bounds), tuple(high for _, high in bounds)


def _marker(point: OperatingPoint, value: float, unit: str) -> Series:
    label = (
        f"chosen threshold {point.threshold:.3f}"
        if point.name == "chosen"
        else f"model's own threshold {point.threshold:g}"
    )
    return Series(f"{label}: {value:.3g} {unit}", (point.threshold,), (value,))


def _markers(
    sweep: TestSweep, own: OperatingPoint, chosen: OperatingPoint | None, statistic, unit: str
) -> list[Series]:
    """Single points at the chosen and the model's thresholds (when it has one);
    ``statistic(point, W)`` measures a point."""
    return [
        _marker(p, float(statistic(p, sweep.point_weights)[0]), unit)
        for p in (chosen, own)
        if p is not None and p.threshold is not None
    ]


def _decision_curve(
    sweep: TestSweep,
    own: OperatingPoint,
    chosen: OperatingPoint | None,
    event: str,
    settings: DecisionSettings | None,
    level: float,
) -> Curve:
    grid = tuple(map(float, _CURVE_THRESHOLDS))
    low, high = _band(sweep.net_benefit_replicates, level)
    implied = (
        f" Your costs call for t = {settings.cost_implied_threshold:.3f} if the probabilities "
        "are calibrated; there the net benefit is the saving per row over flagging none, in "
        "caught positives."
        if settings is not None and settings.has_costs
        else ""
    )
    return Curve(
        "decision_curve",
        "Decision curve: net benefit against the threshold",
        "line",
        f"Threshold t on the probability of {event}",
        "Net benefit (caught positives per row)",
        (
            Series(
                f"the model, {level:.0%} interval",
                grid,
                tuple(map(float, sweep.net_benefit)),
                low,
                high,
            ),
            Series("flag every row (treat all)", grid, tuple(map(float, sweep.prevalence_benefit))),
            *_markers(sweep, own, chosen, _net_benefit_of, "net benefit"),
        ),
        f"On the test rows: the share of rows that are {event} and get flagged, less the share "
        "of rows wrongly flagged times t/(1-t). Choosing threshold t says a false alarm is "
        "worth t/(1-t) of a catch (t = 0.2: a quarter), so each point of the curve weighs the "
        "mistakes as its own threshold implies (Vickers and Elkin, 2006). The model is of use "
        "where its curve runs above both flagging every row and flagging none (the dashed line "
        "at 0); the axis is cut below zero, where flagging every row falls steeply." + implied,
    )


def _net_benefit_of(point: OperatingPoint, W: np.ndarray) -> np.ndarray:
    return net_benefit(binary_counts(point.data, W), point.threshold)


def _cost_curve(
    sweep: TestSweep,
    out_of_fold: tuple[np.ndarray, np.ndarray, np.ndarray],
    own: OperatingPoint,
    chosen: OperatingPoint,
    event: str,
    settings: DecisionSettings,
    level: float,
) -> Curve:
    grid = tuple(map(float, _CURVE_THRESHOLDS))
    scores, positive, weights = out_of_fold
    folds = expected_cost(
        counts_at_thresholds(scores, positive, weights[None, :], _CURVE_THRESHOLDS), settings
    )[0]
    low, high = _band(sweep.expected_cost_replicates, level)
    return Curve(
        "cost_curve",
        "Expected cost per row against the threshold",
        "line",
        f"Threshold t on the probability of {event}",
        "Expected cost per row (declared costs)",
        (
            Series(
                "out-of-fold predictions (where the threshold is chosen)",
                grid,
                tuple(map(float, folds)),
            ),
            Series(
                f"test rows, {level:.0%} interval",
                grid,
                tuple(map(float, sweep.expected_cost)),
                low,
                high,
            ),
            *_markers(
                sweep,
                own,
                chosen,
                lambda p, W: expected_cost(binary_counts(p.data, W), settings),
                "per test row",
            ),
        ),
        "Rows whose probability is at or above t are flagged. The threshold is chosen where "
        "the out-of-fold curve is lowest, on rows the test never "
        "saw; the test-row curve shows what that choice costs on new rows. A flat bottom means "
        "nearby thresholds cost about the same; a test curve far from the out-of-fold one means "
        "the refits' probabilities do not carry over to the shipped model.",
    )
