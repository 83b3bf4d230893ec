"""The quality gate: a pure function of a saved result and a policy."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from auditor import keys
from auditor.engine.headline import headline_of_old_result
from auditor.metrics import METRICS_BY_KEY
from auditor.result import CheckResult, GateVerdict, Measurement
from auditor.spec import GatePolicy

# Metric thresholds read the holdout measurements: the performance the model will have;
# those of the operating point chosen from [decision] read the decision check's.
METRIC_SOURCE = keys.HOLDOUT
METRIC_SOURCES = {k.key: k.check for k in keys.DECISION_METRICS}
BASELINE_SOURCE = keys.BASELINE
SLICE_SOURCE = keys.SLICES


def evaluate_gate(
    checks: Sequence[CheckResult],
    policy: GatePolicy,
    *,
    today: dt.date | None = None,
    task: str | None = None,
    headline: Mapping[str, Any] | None = None,
) -> GateVerdict:
    """Decide whether the audit passes ``policy``; every reason it does not is listed.

    A check whose status is in ``policy.fail_on`` fails the gate unless a waiver (on its id
    or its category) that has not expired covers it. A metric threshold compares the
    pessimistic end of the interval when ``policy.use_interval`` is set; a threshold on a
    metric that was not measured fails the gate.
    """
    today = today or dt.date.today()
    reasons: list[str] = []
    for check in checks:
        if check.status not in policy.fail_on:
            continue
        waiver_key = next((k for k in (check.id, check.category) if k in policy.waivers), None)
        if waiver_key is None:
            reasons.append(f"{check.id} {_verb(check.status)}: {check.summary}")
            continue
        waiver = policy.waivers[waiver_key]
        if waiver.expires is not None and waiver.expires < today:
            reasons.append(
                f"{check.id} {_verb(check.status)} and its waiver expired on {waiver.expires.isoformat()}: "
                f"{check.summary}"
            )
    by_id = {c.id: c for c in checks}
    for key, threshold in policy.metrics.items():
        if threshold.min is not None or threshold.max is not None:
            source = METRIC_SOURCES.get(key, METRIC_SOURCE)
            measurement = _measured(by_id, source, key)
            if measurement is None:
                reasons.append(f"{key} has a threshold but was not measured (see {source}).")
            else:
                reasons.extend(
                    _threshold_reasons(
                        measurement, threshold.min, threshold.max, policy.use_interval
                    )
                )
        if threshold.min_over_baseline is not None:
            reasons.extend(
                _baseline_reasons(
                    by_id,
                    key,
                    threshold.min_over_baseline,
                    policy.use_interval,
                    _compared_metric(by_id, task, headline),
                )
            )
    for check_id, key, bound, label in (
        (*keys.TRAIN_VALIDATION_GAP, policy.max_overfit_gap, "Overfit gap"),
        (*keys.MAX_GROUP_GAP, policy.max_group_gap, "Largest group gap"),
    ):
        if bound is None:
            continue
        measurement = _measured(by_id, check_id, key)
        if measurement is None:
            reasons.append(f"{label} has a limit but was not measured (see {check_id}).")
        else:
            reasons.extend(_threshold_reasons(measurement, None, bound, policy.use_interval, label))
    if policy.max_slice_lift is not None:
        reasons.extend(_slice_reasons(by_id, policy.max_slice_lift, policy.min_slice_support))
    return GateVerdict(passed=not reasons, reasons=tuple(reasons))


def _measured(by_id: dict[str, CheckResult], check_id: str, key: str) -> Measurement | None:
    check = by_id.get(check_id)
    measurement = None if check is None else check.measurement(key)
    return None if measurement is None or measurement.value is None else measurement


def _compared_metric(
    by_id: dict[str, CheckResult], task: str | None, headline: Mapping[str, Any] | None
) -> str | None:
    """The metric baseline.comparison compared on: its ``metric`` param, else the headline's."""
    comparison = by_id.get(BASELINE_SOURCE)
    if comparison is None:
        return None
    if comparison.params.get("metric"):
        return comparison.params["metric"]
    if headline is not None:
        return headline["metric"]
    if task is None:
        return None
    return headline_of_old_result(task, list(by_id.values()))["metric"]


def _baseline_reasons(
    by_id: dict[str, CheckResult],
    key: str,
    margin: float,
    use_interval: bool,
    compared: str | None,
) -> list[str]:
    """The model must beat the best baseline by ``margin`` on ``key`` (paired difference)."""
    difference = _measured(by_id, *keys.DIFFERENCE_TO_BEST_BASELINE)
    if difference is None or compared != key:
        return [
            f"{key} has a margin over the best baseline but it was not measured "
            f"(see {BASELINE_SOURCE})."
        ]
    label = METRICS_BY_KEY[key].label if key in METRICS_BY_KEY else key
    return _threshold_reasons(
        difference, margin, None, use_interval, f"{label} margin over the best baseline"
    )


def _slice_reasons(by_id: dict[str, CheckResult], max_lift: float, min_support: float) -> list[str]:
    """Every reported weak slice holding ``min_support`` of the rows must stay below ``max_lift``."""
    check = by_id.get(SLICE_SOURCE)
    if check is None or check.status in {"skipped", "error"}:
        return [
            f"The weak-slice lift has a limit but slices were not searched (see {SLICE_SOURCE})."
        ]
    reasons = []
    for finding in check.findings:
        lift, share = finding.evidence.get("lift"), finding.evidence.get("share")
        if lift is None or share is None or share < min_support or lift < max_lift:
            continue
        reasons.append(
            f"Slice {finding.evidence.get('description', '')} has {lift:.2f}x the error rate of the "
            f"rest on {share:.1%} of rows (limit {max_lift:g}x at {min_support:.0%} or more of rows)."
        )
    return reasons


def _verb(status: str) -> str:
    return {"fail": "failed", "error": "crashed", "warn": "warned"}.get(status, status)


def _threshold_reasons(
    m: Measurement,
    low: float | None,
    high: float | None,
    use_interval: bool,
    label: str | None = None,
) -> list[str]:
    label = label or (METRICS_BY_KEY[m.key].label if m.key in METRICS_BY_KEY else m.key)
    reasons = []
    if low is not None:
        value, which = _end(m, m.ci_low, use_interval)
        if value < low:
            reasons.append(f"{label} {which} {value:.4g} is below the minimum {low:g}.")
    if high is not None:
        value, which = _end(m, m.ci_high, use_interval)
        if value > high:
            reasons.append(f"{label} {which} {value:.4g} is above the maximum {high:g}.")
    return reasons


def _end(m: Measurement, bound: float | None, use_interval: bool) -> tuple[float, str]:
    if use_interval and bound is not None:
        return bound, "(pessimistic end of its interval)"
    return m.value, "(point estimate)"
