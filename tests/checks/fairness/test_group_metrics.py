"""``fairness.group_metrics``: planted gaps found, noise not flagged, metrics equal scikit-learn."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

import auditor
from auditor.checks.fairness.group_metrics import MISSING_GROUP
from auditor.errors import InputError

CHECK_ID = "fairness.group_metrics"
# Words the report must not use about groups (fairlearn's language guide, style.md 4.6).
VIRTUE_WORDS = re.compile(r"\b(fair|fairly|unfair|bias|biased|unbiased|debias)\b")


def run(frame: pd.DataFrame, prediction, *, sensitive=("group",), seed: int = 0, **params):
    """Audit ``frame`` (target ``y``) with the given predictions; return the check result."""
    result = auditor.audit(
        test=frame,
        target="y",
        predictions=pd.DataFrame({"prediction": prediction}),
        sensitive=list(sensitive),
        seed=seed,
        select=[CHECK_ID],
        checks={CHECK_ID: params} if params else None,
    )
    check = result.check(CHECK_ID)
    assert check.status != "error", check.error
    return check


def exact_binary_group(n: int, base_rate: float, tpr: float, fpr: float, rng) -> tuple:
    """Labels and predictions with exactly these rates (up to rounding), rows shuffled."""
    n_pos = round(n * base_rate)
    n_neg = n - n_pos
    tp, fp = round(n_pos * tpr), round(n_neg * fpr)
    y = np.r_[np.ones(n_pos, int), np.zeros(n_neg, int)]
    pred = np.r_[
        np.ones(tp, int), np.zeros(n_pos - tp, int), np.ones(fp, int), np.zeros(n_neg - fp, int)
    ]
    order = rng.permutation(n)
    return y[order], pred[order]


def planted(groups: dict[str, tuple[int, float, float, float]], seed: int):
    """A binary test set whose groups have the given (rows, base rate, TPR, FPR)."""
    rng = np.random.default_rng(seed)
    parts = []
    for label, (n, base_rate, tpr, fpr) in groups.items():
        y, pred = exact_binary_group(n, base_rate, tpr, fpr, rng)
        parts.append(pd.DataFrame({"group": label, "y": y, "pred": pred}))
    frame = pd.concat(parts, ignore_index=True).sample(frac=1, random_state=seed)
    frame = frame.reset_index(drop=True)
    return frame[["group", "y"]], frame["pred"].to_numpy()


def noisy_binary(sizes: dict[str, int], seed: int, *, base_rate=0.4, flip=0.2):
    """Groups drawn from one process: labels, and predictions flipped at the same rate."""
    rng = np.random.default_rng(seed)
    group = np.repeat(list(sizes), list(sizes.values()))
    y = (rng.random(len(group)) < base_rate).astype(int)
    pred = np.where(rng.random(len(group)) < flip, 1 - y, y)
    return pd.DataFrame({"group": group, "y": y}), pred


def gap_rows(check) -> dict[tuple[str, str], dict]:
    table = next(t for t in check.tables if t.key == "group_gaps")
    return {(row[0], row[1]): dict(zip(table.columns, row, strict=True)) for row in table.rows}


def group_values(check, index: int = 0) -> dict[tuple[str, str], dict]:
    table = next(t for t in check.tables if t.key == f"group_metrics_{index}")
    return {(row[0], row[1]): dict(zip(table.columns, row, strict=True)) for row in table.rows}


# Notes on the sensitive column as a model input, tested on their own below.
INPUT_NOTES = frozenset({"sensitive_is_input", "proxy_inputs"})


def gap_findings(check) -> tuple:
    """The findings about gaps and groups, without the notes on model inputs."""
    return tuple(f for f in check.findings if f.code not in INPUT_NOTES)


def text_of(check) -> str:
    return " ".join([check.summary, *(f.message for f in check.findings)]).lower()


# --- Planted gaps -------------------------------------------------------------------------------


def test_a_planted_selection_rate_gap_warns(seed):
    # Same TPR and FPR in both groups; base rates differ, so selection rates differ by 0.14.
    frame, pred = planted({"a": (1000, 0.5, 0.8, 0.1), "b": (1000, 0.3, 0.8, 0.1)}, seed)
    check = run(frame, pred, seed=seed)
    assert check.status == "warn", check.summary
    (finding,) = gap_findings(check)
    assert (finding.code, finding.severity, finding.columns) == ("group_gap", "medium", ("group",))
    flagged = {g["metric"] for g in finding.evidence["gaps"]}
    assert flagged == {"selection_rate"}
    gap = finding.evidence["gaps"][0]
    assert (gap["low_group"], gap["high_group"]) == ("b", "a")
    assert gap["gap"] == pytest.approx(0.45 - 0.31)
    assert gap["ratio"] == pytest.approx(0.31 / 0.45)
    assert gap["ci_low"] > 0
    assert (
        "selection rate differs by 0.140 between 'b' (0.310; label rate 0.300) and "
        "'a' (0.450; label rate 0.500) (limit 0.1"
    ) in finding.message
    assert "four-fifths limit 0.8" in finding.message
    rows = gap_rows(check)
    assert rows[("group", "true_positive_rate")]["gap"] == pytest.approx(0, abs=1e-12)
    assert rows[("group", "false_positive_rate")]["gap"] == pytest.approx(0, abs=1e-12)
    assert rows[("group", "selection_rate")]["judgement"] == "flagged"
    assert check.measurement("max_group_gap").value == pytest.approx(0.14)
    assert check.measurement("min_selection_rate_ratio").value == pytest.approx(0.31 / 0.45)
    assert check.measurement("min_selection_rate_ratio").greater_is_better is True
    assert check.measurement("max_group_gap").greater_is_better is False


def test_a_true_positive_rate_gap_beyond_fail_gap_fails(seed):
    frame, pred = planted({"a": (800, 0.4, 0.9, 0.1), "b": (800, 0.4, 0.6, 0.1)}, seed)
    check = run(frame, pred, seed=seed)
    assert check.status == "fail"
    (finding,) = gap_findings(check)
    assert finding.severity == "high"
    by_metric = {g["metric"]: g for g in finding.evidence["gaps"]}
    assert by_metric["true_positive_rate"]["gap"] == pytest.approx(0.3)
    assert by_metric["true_positive_rate"]["low_group"] == "b"
    rows = gap_rows(check)
    # Equalized odds is the larger of the TPR and FPR gaps.
    assert rows[("group", "equalized_odds")]["gap"] == pytest.approx(0.3)
    assert "true positive rate differs by 0.300" in check.summary


def test_the_gap_limits_are_parameters(seed):
    frame, pred = planted({"a": (1000, 0.5, 0.8, 0.1), "b": (1000, 0.3, 0.8, 0.1)}, seed)
    relaxed = run(frame, pred, seed=seed, max_gap=0.15, min_ratio=0.6)
    assert relaxed.status == "pass", relaxed.summary
    assert "limit 0.15" in relaxed.summary
    strict = run(frame, pred, seed=seed, fail_gap=0.12)
    assert strict.status == "fail"


# --- Noise alone ----------------------------------------------------------------------------


@pytest.mark.parametrize("offset", range(5))
def test_groups_from_one_process_pass(seed, offset):
    frame, pred = noisy_binary({"a": 1000, "b": 1200, "c": 1500}, seed + offset)
    check = run(frame, pred, seed=seed + offset)
    assert check.status == "pass", check.summary
    assert gap_findings(check) == ()
    assert check.measurement("max_group_gap").value < 0.1
    assert "no difference is beyond its limit" in check.summary


def test_significance_silences_most_gaps_of_small_groups(seed):
    """Groups of 30 rows from one process usually differ by more than 0.1 by chance alone
    (about 80% of runs); the corrected interval test flags about 5% of runs."""
    beyond, flagged = 0, 0
    n_runs = 20
    for offset in range(n_runs):
        frame, pred = noisy_binary({"a": 30, "b": 30}, seed + 100 + offset)
        check = run(frame, pred, seed=seed + offset)
        beyond += check.measurement("max_group_gap").value > 0.1
        flagged += any(f.code == "group_gap" for f in check.findings)
    assert beyond >= 0.5 * n_runs
    assert flagged <= 0.25 * n_runs


# --- Small and missing groups ----------------------------------------------------------------


def test_small_and_missing_groups_are_reported_but_not_compared(seed):
    frame, pred = noisy_binary({"a": 1500, "b": 1500, "c": 12}, seed)
    # Group 'c' is predicted positive on every row: a huge gap, but too small to judge.
    pred = np.where(frame["group"].to_numpy() == "c", 1, pred)
    frame["group"] = frame["group"].astype(object)
    frame.loc[[0, 1, 2, 3, 4], "group"] = None
    check = run(frame, pred, seed=seed)
    assert check.status == "pass", check.summary
    (finding,) = gap_findings(check)
    assert (finding.code, finding.severity) == ("small_groups", "low")
    assert finding.evidence["groups"] == ["c", MISSING_GROUP]
    assert finding.evidence["rows"] == [12, 5]
    assert "too small to judge" in finding.message
    assert check.measurement("n_small_groups").value == 2
    groups_in_gaps = {row["lower_group"] for row in gap_rows(check).values()} | {
        row["higher_group"] for row in gap_rows(check).values()
    }
    assert groups_in_gaps == {"a", "b"}
    values = group_values(check)
    assert values[("selection_rate", "c")]["value"] == 1.0
    assert values[("selection_rate", "c")]["note"] == "too small to judge"
    assert values[("selection_rate", MISSING_GROUP)]["n_rows"] == 5


def test_nothing_compared_when_one_group_is_large_enough(seed):
    frame, pred = noisy_binary({"a": 500, "b": 10}, seed)
    check = run(frame, pred, seed=seed)
    assert check.status == "pass"
    assert "nothing was compared" in check.summary
    assert check.measurement("max_group_gap").value is None


# --- Oracle: scikit-learn on boolean masks -----------------------------------------------------


def test_binary_group_metrics_equal_sklearn_on_masks(seed):
    rng = np.random.default_rng(seed)
    n = 900
    frame = pd.DataFrame(
        {
            "group": rng.choice(["x", "y", "z"], size=n, p=[0.5, 0.3, 0.2]).astype(object),
            "y": (rng.random(n) < 0.35).astype(int),
        }
    )
    frame.loc[rng.choice(n, 40, replace=False), "group"] = None
    pred = np.where(rng.random(n) < 0.25, 1 - frame["y"], frame["y"])
    check = run(frame, pred, seed=seed)
    values = group_values(check)
    groups = frame["group"].fillna(MISSING_GROUP).to_numpy()
    for label in ["x", "y", "z", MISSING_GROUP]:
        mask = groups == label
        y, p = frame["y"].to_numpy()[mask], pred[mask]
        expected = {
            "selection_rate": np.mean(p == 1),
            "true_positive_rate": skm.recall_score(y, p, pos_label=1),
            "false_positive_rate": 1 - skm.recall_score(y, p, pos_label=0),
            "precision": skm.precision_score(y, p, pos_label=1),
            "error_rate": 1 - skm.accuracy_score(y, p),
        }
        for metric, value in expected.items():
            row = values[(metric, label)]
            assert row["value"] == pytest.approx(value, rel=1e-12), (metric, label)
            assert row["n_rows"] == mask.sum()
            assert row["ci_low"] <= row["value"] <= row["ci_high"], (metric, label)


def test_gap_is_between_the_extreme_groups(seed):
    rng = np.random.default_rng(seed)
    n = 3000
    frame = pd.DataFrame({"group": rng.choice(list("pqrs"), size=n), "y": rng.integers(0, 2, n)})
    pred = (rng.random(n) < frame["group"].map({"p": 0.2, "q": 0.3, "r": 0.35, "s": 0.5})).astype(
        int
    )
    check = run(frame, pred, seed=seed)
    rates = {g: np.mean(pred[frame["group"] == g]) for g in "pqrs"}
    row = gap_rows(check)[("group", "selection_rate")]
    low, high = min(rates, key=rates.get), max(rates, key=rates.get)
    assert (row["lower_group"], row["higher_group"]) == (low, high)
    assert row["gap"] == pytest.approx(rates[high] - rates[low])
    assert row["ratio"] == pytest.approx(rates[low] / rates[high])
    assert row["ci_low"] < row["gap"] < row["ci_high"]


def test_a_numeric_sensitive_column_is_cut_at_its_quartiles(seed):
    rng = np.random.default_rng(seed)
    n = 800
    frame = pd.DataFrame({"age": rng.integers(18, 80, n), "y": rng.integers(0, 2, n)})
    check = run(frame, frame["y"].to_numpy(), sensitive=("age",), seed=seed)
    table = next(t for t in check.tables if t.key == "group_metrics_0")
    assert "cut at its quartiles" in table.title
    labels = list(dict.fromkeys(row[1] for row in table.rows))
    assert len(labels) == 4
    # Quartile bins are half-open but the last, which holds the maximum.
    assert all(label.startswith("[") for label in labels)
    assert sum(label.endswith("]") for label in labels) == 1
    assert sum(row[2] for row in table.rows if row[0] == "selection_rate") == n


# --- Regression and multiclass ---------------------------------------------------------------


def regression_frame(seed: int, noise: dict[str, float], n: int = 600):
    rng = np.random.default_rng(seed)
    group = np.repeat(list(noise), n)
    y = rng.normal(100, 20, size=len(group))
    pred = y + rng.normal(0, 1, size=len(group)) * np.array([noise[g] for g in group])
    return pd.DataFrame({"group": group, "y": y}), pred


def test_regression_error_ratio_is_flagged_and_equals_sklearn(seed):
    frame, pred = regression_frame(seed, {"a": 5.0, "b": 10.0})
    check = run(frame, pred, seed=seed)
    assert check.status == "warn", check.summary
    (finding,) = gap_findings(check)
    assert finding.code == "group_gap"
    assert finding.evidence["gaps"][0]["metric"] == "mean_absolute_error"
    values = group_values(check)
    for label in ["a", "b"]:
        mask = frame["group"].to_numpy() == label
        y, p = frame["y"].to_numpy()[mask], pred[mask]
        assert values[("mean_absolute_error", label)]["value"] == pytest.approx(
            skm.mean_absolute_error(y, p), rel=1e-12
        )
        assert values[("root_mean_squared_error", label)]["value"] == pytest.approx(
            skm.root_mean_squared_error(y, p), rel=1e-12
        )
        assert values[("mean_residual", label)]["value"] == pytest.approx(np.mean(y - p), abs=1e-9)
    mae = {g: values[("mean_absolute_error", g)]["value"] for g in "ab"}
    ratio = check.measurement("min_mae_ratio")
    assert ratio.value == pytest.approx(mae["a"] / mae["b"])
    assert ratio.value < 0.8
    assert check.measurement("max_group_gap").value == pytest.approx(mae["b"] - mae["a"])


def test_regression_groups_with_equal_errors_pass(seed):
    frame, pred = regression_frame(seed, {"a": 5.0, "b": 5.0, "c": 5.0})
    check = run(frame, pred, seed=seed)
    assert check.status == "pass", check.summary
    assert check.measurement("min_mae_ratio").value > 0.8


def test_multiclass_metrics_equal_sklearn_and_a_planted_gap_fails(seed):
    rng = np.random.default_rng(seed)
    n = 1500
    group = rng.choice(["u", "v"], size=n)
    y = rng.integers(0, 3, size=n)
    # Group 'v' gets random predictions: its error rate is far above 'u''s.
    wrong = rng.random(n) < np.where(group == "u", 0.1, 0.6)
    pred = np.where(wrong, (y + rng.integers(1, 3, size=n)) % 3, y)
    frame = pd.DataFrame({"group": group, "y": y})
    check = run(frame, pred, seed=seed)
    assert check.status == "fail", check.summary
    values = group_values(check)
    assert {key[0] for key in values} == {"error_rate", "recall_macro"}
    for label in ["u", "v"]:
        mask = group == label
        assert values[("error_rate", label)]["value"] == pytest.approx(
            1 - skm.accuracy_score(y[mask], pred[mask]), rel=1e-12
        )
        assert values[("recall_macro", label)]["value"] == pytest.approx(
            skm.recall_score(y[mask], pred[mask], average="macro", labels=np.unique(y[mask])),
            rel=1e-12,
        )
    assert check.measurement("min_selection_rate_ratio") is None
    assert {g["metric"] for g in gap_findings(check)[0].evidence["gaps"]} == {
        "error_rate",
        "recall_macro",
    }


def test_several_sensitive_columns_get_a_table_and_a_finding_each(seed):
    frame, pred = planted({"a": (1000, 0.5, 0.8, 0.1), "b": (1000, 0.3, 0.8, 0.1)}, seed)
    rng = np.random.default_rng(seed)
    frame["region"] = rng.choice(["north", "south"], size=len(frame))
    check = run(frame, pred, sensitive=("group", "region"), seed=seed)
    assert [t.key for t in check.tables] == ["group_metrics_0", "group_metrics_1", "group_gaps"]
    assert [f.columns for f in gap_findings(check)] == [("group",)]
    assert check.summary.startswith("1 of 2 sensitive column(s) have a gap beyond tolerance")


# --- Language ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["gap", "clean", "small", "regression"])
def test_report_text_says_what_was_measured_not_a_virtue(case, seed):
    if case == "gap":
        frame, pred = planted({"a": (1000, 0.5, 0.8, 0.1), "b": (1000, 0.3, 0.8, 0.1)}, seed)
    elif case == "clean":
        frame, pred = noisy_binary({"a": 1000, "b": 1000}, seed)
    elif case == "small":
        frame, pred = noisy_binary({"a": 40, "b": 45, "c": 5}, seed)
    else:
        frame, pred = regression_frame(seed, {"a": 5.0, "b": 10.0})
    check = run(frame, pred, seed=seed)
    assert not VIRTUE_WORDS.search(text_of(check)), text_of(check)
    assert "limit" in check.summary or "nothing was compared" in check.summary


def test_invalid_share_parameter_is_rejected_with_a_hint():
    frame, pred = noisy_binary({"a": 100, "b": 100}, 0)
    with pytest.raises(InputError, match="Write 0.1 for 10%"):
        run(frame, pred, max_gap=10)


# --- the per-group rates agree with scikit-learn --------------------------------------------


def _one_row_of_weights(n: int) -> np.ndarray:
    return np.ones((1, n))


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_each_group_rate_agrees_with_scikit_learn(task):
    from auditor.checks.fairness.group_metrics import METRICS
    from auditor.metrics import EvalData

    rng = np.random.default_rng(0)
    n = 400
    if task == "regression":
        y = rng.normal(size=n)
        data = EvalData(task, y, y + rng.normal(scale=0.5, size=n))
    else:
        k = 2 if task == "binary" else 3
        y = rng.integers(0, k, n)
        y_pred = np.where(rng.random(n) < 0.7, y, rng.integers(0, k, n))
        data = EvalData(task, y, y_pred, classes=tuple(range(k)), positive=1)
    weights = _one_row_of_weights(n)
    expected = {
        "base_rate": np.mean(data.y == 1) if task == "binary" else None,
        "selection_rate": np.mean(data.y_pred == 1),
        "true_positive_rate": skm.recall_score(data.y, data.y_pred) if task == "binary" else None,
        "false_positive_rate": (
            np.mean(data.y_pred[data.y == 0] == 1) if task == "binary" else None
        ),
        "precision": skm.precision_score(data.y, data.y_pred) if task == "binary" else None,
        "error_rate": 1 - skm.accuracy_score(data.y, data.y_pred) if task != "regression" else None,
        "recall_macro": skm.balanced_accuracy_score(data.y, data.y_pred)
        if task == "multiclass"
        else None,
        "mean_absolute_error": skm.mean_absolute_error(data.y, data.y_pred)
        if task == "regression"
        else None,
        "root_mean_squared_error": skm.root_mean_squared_error(data.y, data.y_pred)
        if task == "regression"
        else None,
        "mean_residual": np.mean(data.y - data.y_pred) if task == "regression" else None,
    }
    for metric in METRICS[task]:
        assert metric.func(data, weights)[0] == pytest.approx(expected[metric.key]), metric.key


def test_an_undefined_group_rate_stays_undefined_where_the_score_is_zero():
    """A group with no positive row has no true positive rate; the metric reports 0."""
    from auditor.checks.fairness.group_metrics import METRICS
    from auditor.metrics import EvalData, recall

    data = EvalData("binary", np.zeros(5, dtype=int), np.zeros(5, dtype=int), classes=(0, 1))
    weights = _one_row_of_weights(5)
    rates = {m.key: m.func(data, weights)[0] for m in METRICS["binary"]}
    assert np.isnan(rates["true_positive_rate"])
    assert np.isnan(rates["precision"])
    assert rates["false_positive_rate"] == 0.0
    assert recall(data, weights)[0] == 0.0
