"""``data.class_imbalance``: classes too small to measure are found; rare but measurable pass."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from auditor.checks.data.class_imbalance import ClassImbalanceParams, class_imbalance
from auditor.inputs import load_inputs
from auditor.registry import load_registry
from auditor.runner import run_check
from auditor.spec import AuditSpec

SPEC = load_registry()["data.class_imbalance"]


def frame_with(counts: dict, seed: int = 0) -> pd.DataFrame:
    """A table whose target holds exactly ``counts[label]`` rows of each label, shuffled."""
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.full(n, label, dtype=object) for label, n in counts.items()])
    y = y[rng.permutation(len(y))]
    n = len(y)
    labels = pd.Series(y)
    if all(isinstance(label, int) for label in counts):
        labels = labels.astype(int)
    return pd.DataFrame({"x": rng.normal(size=n), "k": rng.choice(list("ab"), n), "y": labels})


def run(train_counts, test_counts, params=None):
    train = None if train_counts is None else frame_with(train_counts, 1)
    ctx = load_inputs(AuditSpec(target="y"), train=train, test=frame_with(test_counts, 2)).context
    return class_imbalance(ctx, params or ClassImbalanceParams())


def serious(result) -> list[tuple]:
    return [
        (f.code, f.severity, f.evidence["class"], f.evidence["test_rows"])
        for f in result.findings
        if f.severity != "low"
    ]


@pytest.mark.parametrize(
    ("train_counts", "test_counts"),
    [
        ({0: 3800, 1: 200}, {0: 950, 1: 50}),  # 5% positives, 50 in test
        ({0: 78_400, 1: 1600}, {0: 19_600, 1: 400}),  # fraud at 2% of 20,000
        ({"a": 500, "b": 300, "c": 200}, {"a": 150, "b": 100, "c": 60}),
    ],
    ids=["five_percent", "fraud_two_percent", "multiclass"],
)
def test_rare_but_measurable_classes_pass(train_counts, test_counts):
    result = run(train_counts, test_counts)
    assert result.status == "pass", result.summary
    assert serious(result) == []


def test_small_minority_in_test_warns():
    result = run({0: 3800, 1: 200}, {0: 980, 1: 20})
    assert result.status == "warn"
    assert serious(result) == [("small_class", "medium", "1", 20)]
    assert result.findings[0].columns == ("y",)
    assert "+/- 0.22" in result.findings[0].message


def test_a_handful_of_rows_fails():
    result = run({0: 3800, 1: 200}, {0: 997, 1: 3})
    assert result.status == "fail"
    assert serious(result) == [("small_class", "high", "1", 3)]


def test_class_absent_from_test_fails():
    result = run({"a": 500, "b": 300, "c": 200}, {"a": 150, "b": 100})
    assert serious(result) == [("small_class", "high", "c", 0)]
    assert "no metric about it can be measured" in result.findings[0].message


@pytest.mark.parametrize(
    ("minority", "expected"),
    [(30, []), (29, [("small_class", "medium", "1", 29)])],
    ids=["at_30", "below_30"],
)
def test_warn_boundary(minority, expected):
    assert serious(run({0: 900, 1: 100}, {0: 500, 1: minority})) == expected


def test_fail_boundary_parameter():
    result = run({0: 900, 1: 100}, {0: 500, 1: 8}, ClassImbalanceParams(fail_min_rows=9))
    assert serious(result) == [("small_class", "high", "1", 8)]


def test_rare_classes_are_informational():
    result = run({"a": 5000, "b": 2000, "c": 8}, {"a": 5000, "b": 1000, "c": 40})
    assert result.status == "pass"
    assert [(f.code, f.severity, f.evidence["class"]) for f in result.findings] == [
        ("rare_class", "low", "c")
    ]
    assert "only 8 train rows" in result.findings[0].message
    assert "0.66% of test rows" in result.findings[0].message


def test_table_counts_every_class_in_both_splits():
    result = run({"a": 500, "b": 300, "c": 200}, {"a": 150, "b": 100, "c": 60})
    (table,) = result.tables
    assert table.columns == ("class", "train_rows", "train_share", "test_rows", "test_share")
    assert [row[:2] + row[3:4] for row in table.rows] == [
        ("a", 500, 150),
        ("b", 300, 100),
        ("c", 200, 60),
    ]


def test_test_only_audit_counts_test():
    result = run(None, {0: 990, 1: 10})
    assert serious(result) == [("small_class", "medium", "1", 10)]
    assert result.tables[0].columns == ("class", "test_rows", "test_share")


def test_regression_is_skipped():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=300), "y": rng.normal(size=300)})
    ctx = load_inputs(AuditSpec(target="y"), test=frame).context
    result = run_check(ctx, SPEC, ClassImbalanceParams())
    assert result.status == "skipped"
    assert "regression" in result.skip_reason


def _with_model(test_counts, params):
    from sklearn.linear_model import LogisticRegression

    train, test = frame_with({0: 9500, 1: 100}, 1), frame_with(test_counts, 2)
    model = LogisticRegression().fit(train[["x"]], train["y"])
    ctx = load_inputs(AuditSpec(target="y"), train=train, test=test, model=model).context
    return class_imbalance(ctx, params)


def test_a_one_percent_class_warns_when_the_release_is_judged_on_roc_auc():
    result = _with_model({0: 4952, 1: 48}, ClassImbalanceParams())
    assert result.status == "warn"
    (finding,) = result.findings
    assert (finding.code, finding.severity, finding.evidence["metric"]) == (
        "imbalance_misleads_metric",
        "medium",
        "roc_auc",
    )
    assert finding.evidence["informative_metrics"] == [
        "Average precision",
        "Recall",
        "Precision",
        "Balanced accuracy",
    ]
    assert "0.96% of the test rows (48 of 5,000)" in finding.message
    assert "+/- 0.14" in finding.message
    assert "misleading at that imbalance" in result.summary


def test_the_same_rare_class_is_information_when_judged_on_average_precision():
    result = _with_model({0: 4952, 1: 48}, ClassImbalanceParams(metric="average_precision"))
    assert result.status == "pass"
    (finding,) = result.findings
    assert (finding.code, finding.severity) == ("rare_class", "low")
    assert "judged on Average precision, which such imbalance does not mislead" in finding.message


def test_a_five_percent_class_does_not_warn_even_on_roc_auc():
    result = _with_model({0: 4750, 1: 250}, ClassImbalanceParams())
    assert (result.status, result.findings) == ("pass", ())
