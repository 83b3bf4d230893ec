"""``regression.compare``: is a candidate audit worse than a reference audit?

A pure function of two saved results: metric deltas with both intervals, checks whose
status got worse, and findings the candidate has that the reference had not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from auditor import keys
from auditor.metrics import METRICS_BY_KEY
from auditor.result import AuditResult, CheckResult, Finding, Measurement, Table, status_from

CHECK_ID = "regression.compare"
_METRIC_SOURCE = keys.HOLDOUT
_STATUS_RANK = {"skipped": 0, "pass": 0, "warn": 1, "fail": 2, "error": 2}


@dataclass(frozen=True, slots=True)
class CompareTolerance:
    """How much worse a candidate may be before the comparison fails.

    ``max_drop`` bounds metrics in [0, 1] (AUC, accuracy ...) in absolute terms;
    ``max_relative_increase`` bounds error metrics (log loss, RMSE ...) relative to the
    reference; ``per_metric`` overrides either for a named metric (absolute units).
    """

    max_drop: float = 0.01
    max_relative_increase: float = 0.05
    per_metric: Mapping[str, float] = field(default_factory=dict)


def compare_results(
    reference: AuditResult, candidate: AuditResult, tolerance: CompareTolerance | None = None
) -> CheckResult:
    """Compare ``candidate`` with ``reference``; the result fails when the candidate is worse."""
    tolerance = tolerance or CompareTolerance()
    findings: list[Finding] = []
    rows: list[tuple] = []
    measurements: list[Measurement] = []
    ref_metrics = _holdout(reference)
    cand_metrics = _holdout(candidate)
    for key, ref in ref_metrics.items():
        cand = cand_metrics.get(key)
        if cand is None or ref.value is None or cand.value is None or key not in METRICS_BY_KEY:
            continue
        spec = METRICS_BY_KEY[key]
        worse_by = (ref.value - cand.value) if spec.greater_is_better else (cand.value - ref.value)
        allowed = _allowed(key, ref.value, spec.greater_is_better, tolerance)
        rows.append(
            (
                spec.label,
                ref.value,
                ref.ci_low,
                ref.ci_high,
                cand.value,
                cand.ci_low,
                cand.ci_high,
                cand.value - ref.value,
                allowed,
            )
        )
        measurements.append(
            Measurement(
                f"delta_{key}", cand.value - ref.value, greater_is_better=spec.greater_is_better
            )
        )
        if worse_by > allowed:
            findings.append(
                Finding(
                    "metric_regressed",
                    "high",
                    f"{spec.label} went from {ref.value:.4g} to {cand.value:.4g} "
                    f"(worse by {worse_by:.4g}; tolerance {allowed:.4g}).",
                    (),
                    {
                        "metric": key,
                        "reference": ref.value,
                        "candidate": cand.value,
                        "tolerance": allowed,
                    },
                )
            )
    findings += _status_changes(reference, candidate)
    findings += _new_findings(reference, candidate)
    status = status_from(findings)
    regressions = sum(f.code == "metric_regressed" for f in findings)
    summary = (
        f"{regressions} metric(s) worse beyond tolerance; {len(findings) - regressions} other change(s) for the worse."
        if findings
        else f"No metric is worse beyond tolerance across {len(rows)} metrics, and no check got worse."
    )
    return CheckResult(
        id=CHECK_ID,
        category="regression",
        title="Candidate compared with the reference audit",
        status=status,
        summary=summary,
        findings=tuple(findings),
        measurements=tuple(measurements),
        tables=(
            Table(
                "metric_deltas",
                "Holdout metrics: reference and candidate",
                (
                    "metric",
                    "reference",
                    "reference_low",
                    "reference_high",
                    "candidate",
                    "candidate_low",
                    "candidate_high",
                    "delta",
                    "tolerance",
                ),
                tuple(rows),
            ),
        ),
        params={
            "max_drop": tolerance.max_drop,
            "max_relative_increase": tolerance.max_relative_increase,
            "per_metric": dict(tolerance.per_metric),
        },
    )


def _holdout(result: AuditResult) -> dict[str, Measurement]:
    check = result.check(_METRIC_SOURCE)
    return {} if check is None else {m.key: m for m in check.measurements}


def _allowed(
    key: str, reference: float, greater_is_better: bool, tolerance: CompareTolerance
) -> float:
    if key in tolerance.per_metric:
        return tolerance.per_metric[key]
    if greater_is_better:
        return tolerance.max_drop
    return tolerance.max_relative_increase * abs(reference)


def _status_changes(reference: AuditResult, candidate: AuditResult) -> list[Finding]:
    findings = []
    for check in candidate.checks:
        before = reference.check(check.id)
        if before is None or _STATUS_RANK[check.status] <= _STATUS_RANK[before.status]:
            continue
        severity = "high" if _STATUS_RANK[check.status] == 2 else "medium"
        findings.append(
            Finding(
                "status_worse",
                severity,
                f"{check.id} went from {before.status} to {check.status}: {check.summary}",
                (),
                {"check": check.id, "reference": before.status, "candidate": check.status},
            )
        )
    return findings


def _new_findings(reference: AuditResult, candidate: AuditResult) -> list[Finding]:
    def keys(result: AuditResult) -> set[tuple]:
        return {(c.id, f.code, f.columns) for c in result.checks for f in c.findings}

    known = keys(reference)
    return [
        Finding(
            "new_finding",
            "low",
            f"New in {check.id}: {f.message}",
            f.columns,
            {"check": check.id, "code": f.code, "severity": f.severity},
        )
        for check in candidate.checks
        for f in check.findings
        if (check.id, f.code, f.columns) not in known and check.id != CHECK_ID
    ]
