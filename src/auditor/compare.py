"""``regression.compare``: is a candidate audit worse, or better, than a reference audit?

A pure function of two saved results: metric deltas with both intervals, read as better,
worse or within tolerance; checks whose status changed either way; findings that are new
or resolved; and each side's own verdicts (its gate, its leakage checks), which decide how
far its numbers can be trusted. Audits of different test data or targets are not compared
unless the caller allows it: their metrics measure different things.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from auditor import keys
from auditor.errors import InputError
from auditor.metrics import METRICS_BY_KEY
from auditor.result import (
    AuditResult,
    CheckResult,
    Finding,
    InputFile,
    Measurement,
    Table,
    status_from,
)

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


def data_differences(reference: AuditResult, candidate: AuditResult) -> list[str]:
    """Why the two audits do not measure the same thing, as phrases; empty when they do.

    The test data are told apart by the SHA-256 of their ``test`` input; a side without a
    hash (an old file) cannot be checked and is taken as the same.
    """
    differences = []
    ref_test, cand_test = _test_input(reference), _test_input(candidate)
    if ref_test is not None and cand_test is not None and ref_test.sha256 != cand_test.sha256:
        differences.append(
            f"different test data ({ref_test.file_name!r} sha256 {ref_test.sha256[:12]} vs "
            f"{cand_test.file_name!r} sha256 {cand_test.sha256[:12]})"
        )
    if (reference.task, reference.target) != (candidate.task, candidate.target):
        differences.append(
            f"different targets ({reference.task} {reference.target!r} vs "
            f"{candidate.task} {candidate.target!r})"
        )
    # The same rows weighed otherwise, or scored for another class, are another measurement.
    for what, read in (("weight columns", _weight_column), ("positive classes", _positive_class)):
        ours, theirs = read(reference), read(candidate)
        if ours != theirs:
            differences.append(f"different {what} ({ours!r} vs {theirs!r})")
    return differences


def _weight_column(result: AuditResult) -> Any:
    return (result.manifest.get("columns") or {}).get("weight")


def _positive_class(result: AuditResult) -> Any:
    return result.manifest.get("positive_class")


def compare_results(
    reference: AuditResult,
    candidate: AuditResult,
    tolerance: CompareTolerance | None = None,
    *,
    allow_different_data: bool = False,
) -> CheckResult:
    """Compare ``candidate`` with ``reference``; the result fails when the candidate is worse.

    Raises
    ------
    InputError
        The audits ran on different test data or targets and ``allow_different_data`` is
        not set: calling one better or worse would compare different measurements.
    """
    tolerance = tolerance or CompareTolerance()
    differences = data_differences(reference, candidate)
    if differences and not allow_different_data:
        raise InputError(
            f"The audits are not comparable: {' and '.join(differences)}. Audit both models "
            "on the same test file, or pass --allow-different-data to compare anyway."
        )
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
        # The tolerance bounds changes both ways: a gain within it is noise, as a loss is.
        change = "worse" if worse_by > allowed else "better" if -worse_by > allowed else "same"
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
                change,
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
    status_changes = _status_changes(reference, candidate)
    findings += [
        _status_worse(candidate.check(check_id), before)
        for check_id, before, _, change in status_changes
        if change == "worse"
    ]
    new, resolved = _finding_changes(reference, candidate)
    findings += new
    findings += _own_verdicts(reference, candidate)
    if differences:
        findings.append(
            Finding(
                "different_data",
                "low",
                f"Compared although the audits are not comparable: {' and '.join(differences)}.",
                (),
                {"differences": differences},
            )
        )
    measurements += [
        Measurement("n_metrics_worse", sum(row[-1] == "worse" for row in rows)),
        Measurement("n_metrics_better", sum(row[-1] == "better" for row in rows)),
        Measurement("n_checks_worse", sum(c[-1] == "worse" for c in status_changes)),
        Measurement("n_checks_better", sum(c[-1] == "better" for c in status_changes)),
        Measurement("n_new_findings", len(new)),
        Measurement("n_resolved_findings", resolved),
    ]
    status = status_from(findings)
    return CheckResult(
        id=CHECK_ID,
        category="regression",
        title="Candidate compared with the reference audit",
        status=status,
        summary=_summary(measurements),
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
                    "change",
                ),
                tuple(rows),
            ),
            Table(
                "check_changes",
                "Checks whose status changed",
                ("check", "reference", "candidate", "change"),
                tuple(status_changes),
            ),
        ),
        params={
            "max_drop": tolerance.max_drop,
            "max_relative_increase": tolerance.max_relative_increase,
            "per_metric": dict(tolerance.per_metric),
            "allow_different_data": allow_different_data,
        },
    )


def _summary(measurements: list[Measurement]) -> str:
    count = {m.key: m.value for m in measurements}
    return (
        f"Metrics: {count['n_metrics_worse']} worse beyond tolerance, "
        f"{count['n_metrics_better']} better. Checks: {count['n_checks_worse']} worse, "
        f"{count['n_checks_better']} better. Findings: {count['n_new_findings']} new, "
        f"{count['n_resolved_findings']} resolved."
    )


def _test_input(result: AuditResult) -> InputFile | None:
    return next((i for i in result.inputs if i.role == "test" and i.sha256), None)


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


def _status_changes(reference: AuditResult, candidate: AuditResult) -> list[tuple[str, ...]]:
    """(check id, reference status, candidate status, change) per check whose status changed.

    The change is "worse" or "better" by rank, or "not run" for a check the candidate's
    audit skipped: a check that did not run cannot have improved.
    """
    changes = []
    for check in candidate.checks:
        before = reference.check(check.id)
        if before is None or before.status == check.status:
            continue
        if check.status == "skipped":
            change = "not run"
        elif _STATUS_RANK[check.status] == _STATUS_RANK[before.status]:
            continue
        else:
            worse = _STATUS_RANK[check.status] > _STATUS_RANK[before.status]
            change = "worse" if worse else "better"
        changes.append((check.id, before.status, check.status, change))
    return changes


def _status_worse(check: CheckResult, before: str) -> Finding:
    return Finding(
        "status_worse",
        "high" if _STATUS_RANK[check.status] == 2 else "medium",
        f"{check.id} went from {before} to {check.status}: {check.summary}",
        (),
        {"check": check.id, "reference": before, "candidate": check.status},
    )


def _finding_changes(reference: AuditResult, candidate: AuditResult) -> tuple[list[Finding], int]:
    """Findings of the candidate the reference had not (as findings), and how many of the
    reference's the candidate no longer has."""

    def keys(result: AuditResult) -> set[tuple]:
        return {
            (c.id, f.code, f.columns) for c in result.checks for f in c.findings if c.id != CHECK_ID
        }

    known, current = keys(reference), keys(candidate)
    new = [
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
    return new, len(known - current)


def _own_verdicts(reference: AuditResult, candidate: AuditResult) -> list[Finding]:
    """Each side whose own gate failed or whose leakage checks failed: its metrics may not
    mean what they seem (a leak inflates them), whatever the comparison says."""
    findings = []
    for side, result in (("reference", reference), ("candidate", candidate)):
        if result.gate is not None and not result.gate.passed:
            findings.append(
                Finding(
                    "gate_failed",
                    "low",
                    f"The {side} failed its own gate: {'; '.join(result.gate.reasons)}",
                    (),
                    {"side": side, "n_reasons": len(result.gate.reasons)},
                )
            )
        leaks = [c.id for c in result.checks if c.category == "leakage" and c.status == "fail"]
        if leaks:
            findings.append(
                Finding(
                    "leakage_failed",
                    "low",
                    f"The {side}'s leakage checks failed ({', '.join(leaks)}): its metrics may "
                    "be inflated.",
                    (),
                    {"side": side, "checks": leaks},
                )
            )
    return findings
