"""Severities that need two checks: a flagged column the model relies on, a perfect score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import auditor
from auditor.corroborate import DOMINANT_SHARE, RELIED_ON_SHARE, corroborate
from auditor.result import CheckResult, Finding, Table


def _leak(code: str = "pure_segment") -> CheckResult:
    finding = Finding(code, "medium", "'refund' predicts the target.", ("refund",))
    return CheckResult("leakage.target", "leakage", "Target", "warn", "1 column.", (finding,))


def _importance(share: float) -> CheckResult:
    rows = (("refund", 1.0, share, 1), ("income", 0.1, 1 - share, 1))
    table = Table(
        "feature_importance",
        "Importance",
        ("feature", "mean_abs_shap", "importance_share", "model_columns"),
        rows,
    )
    return CheckResult("explain.feature_importance", "explain", "SHAP", "pass", "", tables=(table,))


def _holdout() -> CheckResult:
    finding = Finding("near_perfect_score", "low", "ROC AUC is 0.999.", (), {"value": 0.999})
    return CheckResult(
        "performance.holdout_metrics", "performance", "Holdout", "pass", "", (finding,)
    )


def test_a_flagged_column_the_model_relies_on_fails_and_raises_a_perfect_score():
    leak, importance, holdout = corroborate([_leak(), _importance(0.85), _holdout()])
    (finding,) = leak.findings
    assert (leak.status, finding.severity) == ("fail", "high")
    assert "The model relies on it: 85% of its importance" in finding.message
    assert finding.evidence["model_importance_share"] == pytest.approx(0.85)
    assert importance == _importance(0.85)
    assert (holdout.status, holdout.findings[0].severity) == ("warn", "medium")
    assert holdout.findings[0].evidence["leakage_checks"] == ["leakage.target"]


def test_a_flagged_column_the_model_hardly_uses_keeps_its_severity():
    leak, _, holdout = corroborate([_leak(), _importance(RELIED_ON_SHARE / 2), _holdout()])
    assert (leak.status, leak.findings[0].severity) == ("warn", "medium")
    assert holdout.findings[0].severity == "low"


def test_a_merely_strong_column_fails_only_when_it_dominates_the_model():
    # Strong genuine features of easy tasks sit in leakage.target's warning band.
    leak, _, _ = corroborate([_leak("too_predictive"), _importance(0.3), _holdout()])
    assert leak.findings[0].severity == "medium"
    leak, _, _ = corroborate([_leak("too_predictive"), _importance(DOMINANT_SHARE), _holdout()])
    assert leak.findings[0].severity == "high"


def test_without_a_leak_a_perfect_score_stays_information():
    clean = CheckResult("leakage.target", "leakage", "Target", "pass", "No column.")
    _, _, holdout = corroborate([clean, _importance(0.9), _holdout()])
    assert (holdout.status, holdout.findings[0].severity) == ("pass", "low")


def test_breast_cancer_is_near_perfect_but_quiet_and_a_planted_refund_is_not():
    data = load_breast_cancer(as_frame=True).frame
    data["target"] = np.where(data["target"] == 1, "benign", "malignant")
    train, test = train_test_split(data, test_size=0.3, random_state=0, stratify=data["target"])

    def audited(train, test):
        X = train.drop(columns="target")
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        model.fit(X, train["target"])
        return auditor.audit(
            train=train,
            test=test,
            target="target",
            model=model,
            select=["leakage", "explain", "performance.holdout_metrics"],
        )

    clean = audited(train, test)
    assert clean.check("performance.holdout_metrics").measurement("roc_auc").value >= 0.99
    assert [f.severity for f in clean.check("performance.holdout_metrics").findings] == ["low"]
    # Its strongest measurements sit in leakage.target's warning band, as before, reported
    # by family: the 'worst' measurements of a tumour are one finding, not four.
    target = clean.check("leakage.target")
    assert target.status == "warn"
    families = [f.evidence.get("family") for f in target.findings]
    assert "worst" in families
    assert len(target.findings) < sum(len(f.columns) for f in target.findings)

    rng = np.random.default_rng(0)

    def with_refund(frame: pd.DataFrame) -> pd.DataFrame:
        # Filled after diagnosis: a treatment cost that exists only for malignant cases.
        cost = np.where(frame["target"] == "malignant", rng.lognormal(8, 0.5, len(frame)), 0.0)
        return frame.assign(treatment_cost=cost.round(2))

    leaked = audited(with_refund(train), with_refund(test))
    target = leaked.check("leakage.target")
    assert target.status == "fail"
    assert any("treatment_cost" in f.columns for f in target.findings)
    assert leaked.check("performance.holdout_metrics").findings[0].severity == "medium"


def test_findings_that_name_columns_for_another_reason_are_not_raised():
    # Near copies name the columns in which they differ; the model's use of those says
    # nothing about the copies.
    copies = Finding("near_copies_of_train_rows", "medium", "2 near copies.", ("refund", "income"))
    check = CheckResult(
        "leakage.near_duplicates", "leakage", "Near copies", "warn", "2 rows.", (copies,)
    )
    (raised, _) = corroborate([check, _importance(0.9)])
    assert (raised.status, raised.findings[0].severity) == ("warn", "medium")
