"""The audit's headline, decided once: the primary metric and why, and the best baseline.

The gate, the narrative, the Markdown summary and the HTML cover read ``result.headline``
instead of each re-deriving which metric leads. Before this block existed the rule was
written six times, and for label-only predictions the narrative looked up a metric that
had never been measured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from auditor import keys
from auditor.metrics import METRICS_BY_KEY, PRIMARY_METRIC, primary_metric_key
from auditor.result import CheckResult

_WHY = {
    "roc_auc": "how well the predicted probabilities rank the positive class above the rest, "
    "whatever the threshold",
    "roc_auc_ovr": "how well the predicted probabilities rank each class above the others "
    "(one-vs-rest, averaged), whatever the threshold",
    "r2": "the share of the target's variance the predictions explain",
    "balanced_accuracy": "the mean recall over the classes: the predictions hold labels only, "
    "and unlike accuracy it is not inflated by a large class",
}


def build_headline(
    task: str,
    has_probabilities: bool,
    checks: Sequence[CheckResult],
    weighted_by: str | None = None,
) -> dict[str, Any]:
    """The headline block of the result (plain JSON data).

    ``weighted_by`` names the sample-weight column the metrics were weighted by, if any.
    """
    key = primary_metric_key(task, has_probabilities)
    by_id = {c.id: c for c in checks}
    holdout = by_id.get(keys.HOLDOUT)
    measured = None if holdout is None else holdout.measurement(key)
    spec = METRICS_BY_KEY[key]
    return {
        "metric": key,
        "label": spec.label,
        "why": _WHY[key],
        "greater_is_better": spec.greater_is_better,
        "has_probabilities": has_probabilities,
        "value": None if measured is None else measured.value,
        "ci_low": None if measured is None else measured.ci_low,
        "ci_high": None if measured is None else measured.ci_high,
        "best_baseline": _best_baseline(by_id.get(keys.BASELINE), key),
        "weighted_by": weighted_by,
    }


def _best_baseline(comparison: CheckResult | None, key: str) -> dict[str, Any] | None:
    """The baseline the comparison found best, by name, with the model's paired difference.

    Read from the comparison's own rows (name and score side by side), never by matching a
    score to a name; None when the comparison did not run or compared another metric.
    """
    if comparison is None or comparison.status in ("skipped", "error"):
        return None
    if comparison.params.get("metric") not in ("", None, key):
        return None
    best = comparison.measurement(keys.BEST_BASELINE_SCORE.key)
    difference = comparison.measurement(keys.DIFFERENCE_TO_BEST_BASELINE.key)
    scores = next((t for t in comparison.tables if t.key == keys.BASELINE_SCORES_TABLE.key), None)
    if best is None or best.value is None or scores is None:
        return None
    baselines = [row for row in scores.rows if row[0] != "Model" and row[1] is not None]
    if not baselines:
        return None
    sign = 1 if METRICS_BY_KEY[key].greater_is_better else -1
    name = max(baselines, key=lambda row: sign * row[1])[0]
    return {
        "name": name,
        "value": best.value,
        "ci_low": best.ci_low,
        "ci_high": best.ci_high,
        "difference": None if difference is None else difference.value,
        "difference_ci_low": None if difference is None else difference.ci_low,
        "difference_ci_high": None if difference is None else difference.ci_high,
    }


def headline_of_old_result(task: str, checks: Sequence[CheckResult]) -> dict[str, Any]:
    """The headline of a file written before the block existed.

    Whether probabilities were predicted is not recorded there; the holdout check measures
    log loss exactly when they were.
    """
    holdout = next((c for c in checks if c.id == keys.HOLDOUT), None)
    has_probabilities = holdout is not None and holdout.measurement("log_loss") is not None
    if task == "regression":
        has_probabilities = False
    return build_headline(task, has_probabilities, checks)


def headline_metric(headline: Mapping[str, Any] | None, task: str) -> str:
    """The headline metric key of a result (the task's default when no block is present)."""
    if headline and headline.get("metric") in METRICS_BY_KEY:
        return str(headline["metric"])
    return PRIMARY_METRIC[task]
