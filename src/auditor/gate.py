"""The quality gate: a pure function of a saved result and a policy."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from auditor.metrics import METRICS_BY_KEY
from auditor.result import CheckResult, GateVerdict, Measurement
from auditor.spec import GatePolicy

# Metric thresholds read the holdout measurements: the performance the model will have.
METRIC_SOURCE = "performance.holdout_metrics"


def evaluate_gate(
    checks: Sequence[CheckResult], policy: GatePolicy, *, today: dt.date | None = None
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
    source = next((c for c in checks if c.id == METRIC_SOURCE), None)
    for key, threshold in policy.metrics.items():
        measurement = source.measurement(key) if source is not None else None
        if measurement is None or measurement.value is None:
            reasons.append(f"{key} has a threshold but was not measured (see {METRIC_SOURCE}).")
            continue
        reasons.extend(
            _threshold_reasons(measurement, threshold.min, threshold.max, policy.use_interval)
        )
    return GateVerdict(passed=not reasons, reasons=tuple(reasons))


def _verb(status: str) -> str:
    return {"fail": "failed", "error": "crashed", "warn": "warned"}.get(status, status)


def _threshold_reasons(
    m: Measurement, low: float | None, high: float | None, use_interval: bool
) -> list[str]:
    label = METRICS_BY_KEY[m.key].label if m.key in METRICS_BY_KEY else m.key
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
