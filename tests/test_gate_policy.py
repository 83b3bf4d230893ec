"""Gate keys beyond statuses and holdout thresholds: baseline margin, overfit, slices, groups."""

from __future__ import annotations

import pytest

from auditor.gate import evaluate_gate
from auditor.result import CheckResult, Finding, Measurement
from auditor.spec import gate_policy


def _check(check_id: str, *measurements: Measurement, findings=(), params=None) -> CheckResult:
    return CheckResult(
        id=check_id,
        category=check_id.split(".")[0],
        title=check_id,
        status="pass",
        summary="measured",
        findings=tuple(findings),
        measurements=measurements,
        params=params or {},
    )


BASELINE = _check(
    "baseline.comparison",
    Measurement("difference_to_best_baseline", 0.03, 0.01, 0.05, True),
    params={"metric": ""},
)
HOLDOUT = _check("performance.holdout_metrics", Measurement("log_loss", 0.4, 0.38, 0.42, False))


@pytest.mark.parametrize(
    ("margin", "use_interval", "passed"),
    [(0.01, True, True), (0.011, True, False), (0.03, False, True), (0.031, False, False)],
    ids=["at_low_end", "above_low_end", "at_point", "above_point"],
)
def test_margin_over_the_best_baseline_uses_the_paired_difference(margin, use_interval, passed):
    policy = gate_policy(
        {"use_interval": use_interval, "metrics": {"roc_auc": {"min_over_baseline": margin}}},
        "[gate]",
    )
    verdict = evaluate_gate([HOLDOUT, BASELINE], policy, task="binary")
    assert verdict.passed is passed
    if not passed:
        assert "ROC AUC margin over the best baseline" in verdict.reasons[0]


def test_margin_on_a_metric_the_baselines_were_not_compared_on_is_not_measured():
    policy = gate_policy({"metrics": {"accuracy": {"min_over_baseline": 0.0}}}, "[gate]")
    verdict = evaluate_gate([HOLDOUT, BASELINE], policy, task="binary")
    assert not verdict.passed
    assert "not measured" in verdict.reasons[0]


@pytest.mark.parametrize(
    ("key", "check"),
    [
        (
            "max_overfit_gap",
            _check(
                "performance.overfit", Measurement("train_validation_gap", 0.1, 0.05, 0.15, False)
            ),
        ),
        (
            "max_group_gap",
            _check("fairness.group_metrics", Measurement("max_group_gap", 0.1, 0.05, 0.15, False)),
        ),
    ],
    ids=["overfit", "group_gap"],
)
def test_gap_limits_compare_the_pessimistic_end(key, check):
    assert evaluate_gate([check], gate_policy({key: 0.15}, "[gate]")).passed
    verdict = evaluate_gate([check], gate_policy({key: 0.14}, "[gate]"))
    assert not verdict.passed
    assert "0.15" in verdict.reasons[0]
    assert not evaluate_gate([], gate_policy({key: 0.5}, "[gate]")).passed


def _slice(lift: float, share: float) -> Finding:
    return Finding(
        "weak_slice",
        "medium",
        "slice",
        ("a",),
        {"lift": lift, "share": share, "description": "a == 1"},
    )


@pytest.mark.parametrize(
    ("findings", "passed"),
    [
        ((_slice(2.5, 0.01),), True),  # strong but below the support floor
        ((_slice(1.8, 0.10),), True),  # large but below the lift limit
        ((_slice(1.8, 0.10), _slice(2.0, 0.02)), False),  # at both limits
    ],
    ids=["too_small", "too_mild", "at_limits"],
)
def test_slice_lift_limit_applies_at_the_minimum_support(findings, passed):
    policy = gate_policy({"max_slice_lift": 2.0, "min_slice_support": 0.02}, "[gate]")
    check = _check("slices.weak_segments", findings=findings)
    verdict = evaluate_gate([check], policy)
    assert verdict.passed is passed
    if not passed:
        assert "a == 1" in verdict.reasons[0]
        assert "2.00x" in verdict.reasons[0]


def test_slice_support_given_as_a_percentage_is_rejected_with_the_fix():
    from auditor.errors import InputError

    with pytest.raises(InputError, match="write 0.02 for 2%"):
        gate_policy({"max_slice_lift": 2.0, "min_slice_support": 2}, "[gate]")
