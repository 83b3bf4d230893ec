"""``baseline.challengers``: the candidate against the champion and other candidate models."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from auditor.checks._common import compared_metric, status_from
from auditor.context import AuditContext, Predictions
from auditor.engine import baselines
from auditor.evaluation import HoldoutScore, model_holdout
from auditor.metrics import MetricSpec
from auditor.registry import CheckOutcome, SkipCheck, param, register_check
from auditor.result import Curve, Finding, Measurement, Series, Table
from auditor.stats.bootstrap import percentile_interval
from auditor.stats.multiple_testing import holm
from auditor.stats.pvalues import p_equals

CHECK_ID = "baseline.challengers"
CHAMPION, CHALLENGER = "champion", "challenger"


@dataclass(frozen=True, slots=True)
class ChallengersParams:
    metric: str = param(
        "",
        "Metric compared, a metric key such as 'roc_auc'; empty: the headline metric of the task.",
    )
    confidence: float = param(
        0.95,
        "Level of the paired intervals. A difference counts as beyond noise when its "
        "Holm-adjusted two-sided bootstrap p-value is below 1 - confidence.",
        share=True,
    )


@dataclass(frozen=True, slots=True)
class Rival:
    """A model compared with the candidate; differences are candidate minus this model.

    ``p_value`` is the two-sided paired bootstrap p-value and ``adjusted_p`` its Holm
    adjustment over every rival (None when the difference is undefined on too many
    resamples); ``leans_to_candidate`` says on which side of 0 the resampled differences
    fall more often.
    """

    name: str
    role: str
    score: HoldoutScore
    difference: float
    low: float | None
    high: float | None
    p_value: float | None
    leans_to_candidate: bool
    adjusted_p: float | None = None

    @property
    def called(self) -> str:
        """How a sentence names the model, at its start."""
        return "The champion" if self.role == CHAMPION else f"Challenger {self.name!r}"

    def beyond_noise(self, alpha: float) -> bool:
        return self.adjusted_p is not None and self.adjusted_p < alpha

    def result(self, alpha: float) -> str:
        if self.adjusted_p is None:
            return "not tested"
        if not self.beyond_noise(alpha):
            return "not different beyond noise"
        return "candidate better" if self.leans_to_candidate else "candidate worse"


@register_check(
    CHECK_ID,
    title="Candidate against the champion and the challengers",
    needs=("predictions",),
    params=ChallengersParams,
    rationale=(
        "Teams choose between the production model and several candidates. A choice made on "
        "a difference smaller than the test rows can resolve is a choice made on noise, and "
        "each extra model compared adds a chance of such a difference."
    ),
    remedy=(
        "Ship the model the recommendation names, or collect more test rows when the "
        "differences are within noise."
    ),
    remedies={
        "champion_better": (
            "Keep the champion in production; find out what the candidate lost (features, "
            "training period, preprocessing) before proposing it again."
        ),
        "not_better_than_champion": (
            "Keep the champion: the candidate's advantage is within noise. Evaluate both on "
            "more test rows if the change matters for other reasons."
        ),
        "challenger_better": (
            "Consider shipping the better challenger instead, or find out what it captures "
            "that the candidate misses."
        ),
    },
)
def challengers(ctx: AuditContext, params: ChallengersParams) -> CheckOutcome:
    """Compare the candidate with the champion (``--baseline-model``) and each challenger.

    Notes
    -----
    Every model predicts the same test rows and is scored on the same bootstrap resamples
    (``evaluation.holdout_bootstrap``: each statistic is a function of the resamples' row
    weights, sample weights included), so each difference candidate - model is paired.
    For each model: the percentile interval of the resampled differences at
    ``confidence``, and the two-sided bootstrap p-value ``2 * min(P(d <= 0), P(d >= 0))``
    over the resampled differences d. The comparisons are one family: their p-values are
    adjusted with Holm's step-down method, which holds the chance of any false "better" or
    "worse" at ``1 - confidence`` whatever the dependence between comparisons. The
    intervals are not adjusted: one may exclude 0 while its adjusted p-value says the
    difference is within noise.

    Recommendation: a model better than the candidate beyond noise is named (the largest
    advantage first); otherwise, with a champion, the candidate ships only when it is
    better than the champion beyond noise.

    References
    ----------
    Holm, S. (1979). A simple sequentially rejective multiple test procedure. Scandinavian
    Journal of Statistics 6(2), 65-70.
    """
    if not ctx.challengers:
        raise SkipCheck("no other candidate model was given (--challenger) to compare with")
    metric = compared_metric(ctx, params.metric, CHECK_ID)
    alpha = 1.0 - params.confidence
    entrants = _entrants(ctx)
    left_out = [
        Finding(
            "model_not_compared",
            "low",
            f"{name!r} gives no probabilities, which {metric.label} needs; it was left out.",
            (),
            {"model": name},
        )
        for name, (_, predictions) in entrants.items()
        if not baselines.usable(metric, predictions)
    ]
    usable = {
        name: predictions
        for name, (_, predictions) in entrants.items()
        if baselines.usable(metric, predictions)
    }
    if not usable:
        raise SkipCheck(f"no champion or challenger gives the probabilities {metric.label} needs")
    candidate = model_holdout(ctx, metric)
    scores = baselines.holdout_scores(ctx, metric, usable)
    rivals = _adjusted(
        [
            _rival(name, entrants[name][0], candidate, scores[name], metric, params.confidence)
            for name in usable
        ]
    )
    recommendation, findings = _decision(rivals, metric, alpha)
    tested = sum(r.adjusted_p is not None for r in rivals)
    return CheckOutcome(
        status=status_from(findings),
        summary=f"{recommendation} Paired on the same test rows and bootstrap resamples; "
        f"p-values Holm-adjusted over {tested} comparison{'s' if tested != 1 else ''}.",
        findings=tuple(findings + left_out),
        measurements=tuple(_measurements(candidate, rivals, metric, params.confidence, alpha)),
        tables=(_table(candidate, rivals, metric, alpha),),
        curves=(_figure(rivals, metric, params.confidence),),
    )


# --- what is compared ------------------------------------------------------------------------


def _entrants(ctx: AuditContext) -> dict[str, tuple[str, Predictions]]:
    """Every model the candidate is compared with, by name: (role, test predictions)."""
    entrants = {}
    if ctx.baseline_predictions is not None:
        name = f"Champion ({ctx.baseline_name})"
        entrants[name] = (CHAMPION, ctx.baseline_predictions)
    for challenger in ctx.challengers:
        entrants[challenger.name] = (CHALLENGER, challenger.predictions)
    return entrants


def _rival(
    name: str,
    role: str,
    candidate: HoldoutScore,
    score: HoldoutScore,
    metric: MetricSpec,
    confidence: float,
) -> Rival:
    differences = candidate.replicates - score.replicates
    low, high = percentile_interval(differences, confidence)
    sign = 1.0 if metric.greater_is_better else -1.0
    p_value, leans_to_candidate = _two_sided_p(sign * differences)
    return Rival(
        name,
        role,
        score,
        candidate.value - score.value,
        low,
        high,
        p_value,
        leans_to_candidate,
    )


def _two_sided_p(advantage: np.ndarray) -> tuple[float | None, bool]:
    """Two-sided paired bootstrap p-value of the candidate's advantage, and its leaning.

    ``advantage`` holds resampled differences oriented so that positive favours the
    candidate. Resamples that leave the metric undefined are dropped; beyond 5% of them no
    p-value is given, as no interval is (``percentile_interval``).
    """
    finite = advantage[np.isfinite(advantage)]
    if finite.size < 0.95 * advantage.size or finite.size == 0:
        return None, False
    not_better, not_worse = float(np.mean(finite <= 0)), float(np.mean(finite >= 0))
    return min(1.0, 2.0 * min(not_better, not_worse)), not_better < not_worse


def _adjusted(rivals: list[Rival]) -> list[Rival]:
    """The rivals with Holm-adjusted p-values over those that have a p-value."""
    tested = [i for i, r in enumerate(rivals) if r.p_value is not None]
    adjusted = holm([rivals[i].p_value for i in tested])
    out = list(rivals)
    for i, p in zip(tested, adjusted, strict=True):
        out[i] = replace(rivals[i], adjusted_p=float(p))
    return out


# --- decision --------------------------------------------------------------------------------


def _difference_text(rival: Rival, metric: MetricSpec) -> str:
    """``ROC AUC candidate - champion -0.031 [-0.052, -0.010], Holm-adjusted p = 0.004``."""
    interval = "" if rival.low is None else f" [{rival.low:+.3f}, {rival.high:+.3f}]"
    return (
        f"{metric.label} candidate - {rival.role} {rival.difference:+.3f}{interval}, "
        f"Holm-adjusted {p_equals('p', rival.adjusted_p)}"
    )


def _decision(rivals: list[Rival], metric: MetricSpec, alpha: float) -> tuple[str, list[Finding]]:
    """The recommendation in one sentence, and a finding per model that argues against
    shipping the candidate."""
    findings = []
    for rival in rivals:
        if not rival.beyond_noise(alpha) or rival.leans_to_candidate:
            continue
        code = "champion_better" if rival.role == CHAMPION else "challenger_better"
        findings.append(
            Finding(
                code,
                "high" if rival.role == CHAMPION else "medium",
                f"{rival.called} scores better than the candidate beyond noise "
                f"({_difference_text(rival, metric)}).",
                (),
                _evidence(rival, metric),
            )
        )
    champion = next((r for r in rivals if r.role == CHAMPION and r.adjusted_p is not None), None)
    better = [r for r in rivals if r.beyond_noise(alpha) and not r.leans_to_candidate]
    if better:
        sign = 1.0 if metric.greater_is_better else -1.0
        best = max(better, key=lambda r: -sign * r.difference)
        by = f"by {abs(best.difference):.3f} ({_difference_text(best, metric)})"
        if best.role == CHAMPION:
            return f"Keep the champion: it is better than the candidate {by}.", findings
        return (
            f"{best.called} is better than the candidate {by}: consider it instead.",
            findings,
        )
    if champion is not None and not champion.beyond_noise(alpha):
        findings.append(
            Finding(
                "not_better_than_champion",
                "medium",
                "The candidate is not better than the champion beyond noise "
                f"({_difference_text(champion, metric)}).",
                (),
                _evidence(champion, metric),
            )
        )
        challengers_too = any(r.role == CHALLENGER for r in rivals)
        return (
            "Keep the champion: the candidate is not better beyond noise "
            f"({_difference_text(champion, metric)})"
            + (", and no challenger is better than the candidate." if challengers_too else "."),
            findings,
        )
    if champion is not None:
        return (
            f"Ship the candidate: it is better than the champion "
            f"({_difference_text(champion, metric)}), and no challenger is better beyond noise.",
            findings,
        )
    return "Ship the candidate: no challenger is better beyond noise.", findings


def _evidence(rival: Rival, metric: MetricSpec) -> dict:
    return {
        "model": rival.name,
        "role": rival.role,
        "metric": metric.key,
        "difference": rival.difference,
        "ci_low": rival.low,
        "ci_high": rival.high,
        "p_value": rival.p_value,
        "adjusted_p_value": rival.adjusted_p,
    }


# --- output ----------------------------------------------------------------------------------


def _cell(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _measurements(
    candidate: HoldoutScore,
    rivals: list[Rival],
    metric: MetricSpec,
    confidence: float,
    alpha: float,
) -> list[Measurement]:
    gib = metric.greater_is_better
    out = [Measurement("candidate_score", candidate.value, *candidate.interval(confidence), gib)]
    champion = next((r for r in rivals if r.role == CHAMPION), None)
    if champion is not None:
        out += [
            Measurement(
                "difference_to_champion",
                _cell(champion.difference),
                champion.low,
                champion.high,
                gib,
                note="candidate - champion, paired",
            ),
            Measurement("champion_adjusted_p_value", champion.adjusted_p, note="Holm-adjusted"),
        ]
    out += [
        Measurement("n_models_compared", len(rivals)),
        Measurement(
            "n_better_than_candidate",
            sum(r.beyond_noise(alpha) and not r.leans_to_candidate for r in rivals),
        ),
    ]
    return out


def _table(candidate: HoldoutScore, rivals: list[Rival], metric: MetricSpec, alpha: float) -> Table:
    rows = [("Candidate", "candidate", _cell(candidate.value), None, None, None, None, None, "—")]
    rows += [
        (
            r.name,
            r.role,
            _cell(r.score.value),
            _cell(r.difference),
            _cell(r.low),
            _cell(r.high),
            _cell(r.p_value),
            _cell(r.adjusted_p),
            r.result(alpha),
        )
        for r in rivals
    ]
    return Table(
        "challenger_tests",
        f"{metric.label} on the same test rows: difference candidate - model, paired bootstrap "
        "interval, two-sided p-value, and the p-value Holm-adjusted over the comparisons",
        ("model", "role", "score", "difference", "low", "high", "bootstrap p", "Holm p", "result"),
        tuple(rows),
    )


def _figure(rivals: list[Rival], metric: MetricSpec, confidence: float) -> Curve:
    level = f"{confidence:.0%}"
    better = "above" if metric.greater_is_better else "below"
    return Curve(
        "challenger_differences",
        f"{metric.label}: candidate minus each model",
        "interval",
        "Model compared with the candidate",
        f"{metric.label} difference, candidate - model",
        (
            Series(
                f"difference, {level} paired interval",
                tuple(float(i) for i in range(len(rivals))),
                tuple(_cell(r.difference) for r in rivals),
                tuple(_cell(r.low) for r in rivals),
                tuple(_cell(r.high) for r in rivals),
            ),
        ),
        f"Each point is the candidate's score minus the model's on the same test rows, with "
        f"its {level} paired bootstrap interval (not adjusted for the number of models). "
        f"Points {better} 0 favour the candidate; the table's Holm-adjusted p-values decide "
        "which differences are beyond noise.",
        x_tick_labels=tuple(r.name for r in rivals),
    )
