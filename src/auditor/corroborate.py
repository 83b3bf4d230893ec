"""Findings that other checks' results make more serious, decided after every check ran.

Checks run independently and never read each other. Some judgements need two of them: a
column the leakage checks flagged matters more when the model leans on it, and a
near-perfect score means more when a leak was found (a failed leakage check). This step raises those severities
(never lowers one), says why in the finding, and recomputes the affected statuses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from auditor import keys
from auditor.result import CheckResult, Finding, status_from

# A column a leakage check flagged for how it was recorded (purity, emptiness, dates after
# the moment of prediction, identifiers, copies) fails when the model gives it this share of
# its importance. One flagged only for being strong (the warning band of leakage.target's
# AUC, where genuine features of easy tasks sit) fails when it carries this larger share:
# a model resting half its decisions on one such column is the classic leak.
RELIED_ON_SHARE = 0.2
DOMINANT_SHARE = 0.5
_STRENGTH_ONLY = frozenset({"too_predictive"})
# Findings that say a column itself carries the label (its values, its segments, its dates,
# an id). Others name columns for another reason (where near copies differ, which column the
# split ignored) and the model's use of those columns says nothing about them.
_ABOUT_THE_COLUMN = _STRENGTH_ONLY | {
    "pure_segment",
    "dates_after_prediction_time",
    "id_predicts_target",
}
_IMPORTANCE = "explain.feature_importance"
_STATUS_RANK = {"pass": 0, "warn": 1, "fail": 2}


def corroborate(checks: Sequence[CheckResult]) -> tuple[CheckResult, ...]:
    """The results with severities raised where another check's result supports it."""
    shares = _importance_shares(checks)
    out = [_with_reliance(c, shares) if c.category == "leakage" else c for c in checks]
    leaks = sorted(
        c.id
        for c in out
        if c.category == "leakage" and any(f.severity == "high" for f in c.findings)
    )
    return tuple(_with_leaks(c, leaks) if c.id == keys.HOLDOUT else c for c in out)


def _importance_shares(checks: Sequence[CheckResult]) -> dict[str, float]:
    check = next((c for c in checks if c.id == _IMPORTANCE and c.status != "error"), None)
    table = (
        None
        if check is None
        else next((t for t in check.tables if t.key == "feature_importance"), None)
    )
    if table is None or "importance_share" not in table.columns:
        return {}
    name, share = table.columns.index("feature"), table.columns.index("importance_share")
    return {str(row[name]): float(row[share]) for row in table.rows}


def _with_reliance(check: CheckResult, shares: dict[str, float]) -> CheckResult:
    def raised(f: Finding) -> Finding:
        # A column flagged for its strength matters when it dominates on its own (a family
        # of strong measurements of one thing shares the importance without any leak).
        parts = [shares.get(c, 0.0) for c in f.columns]
        strength_only = f.code in _STRENGTH_ONLY
        share = max(parts, default=0.0) if strength_only else sum(parts)
        needed = DOMINANT_SHARE if strength_only else RELIED_ON_SHARE
        if f.severity != "medium" or f.code not in _ABOUT_THE_COLUMN or share < needed:
            return f
        return dataclasses.replace(
            f,
            severity="high",
            message=f"{f.message} The model relies on it: {share:.0%} of its importance "
            f"(explain.feature_importance; failing from {needed:.0%}).",
            evidence={**f.evidence, "model_importance_share": share},
        )

    return _restated(check, tuple(raised(f) for f in check.findings))


def _with_leaks(check: CheckResult, leaks: list[str]) -> CheckResult:
    def raised(f: Finding) -> Finding:
        if f.code != "near_perfect_score" or not leaks:
            return f
        return dataclasses.replace(
            f,
            severity="medium",
            message=f"{f.message} The leakage checks flagged problems ({', '.join(leaks)}): "
            "the score is more likely theirs than the model's.",
            evidence={**f.evidence, "leakage_checks": leaks},
        )

    return _restated(check, tuple(raised(f) for f in check.findings))


def _restated(check: CheckResult, findings: tuple[Finding, ...]) -> CheckResult:
    if findings == check.findings or check.status not in _STATUS_RANK:
        return check
    status = max(check.status, status_from(findings), key=_STATUS_RANK.__getitem__)
    return dataclasses.replace(check, findings=findings, status=status)
