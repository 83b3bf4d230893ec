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
from auditor.result import status_from

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
    assert check.summary.startswith("1 of 2 sensitive columns has a gap beyond tolerance")


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


# --- Favourable outcome ------------------------------------------------------------------------


def loan_decisions(seed: int):
    """Loan decisions whose denial rates are 0.05 for 'a' and 0.24 for 'b' (1,000 rows each).

    The classes sort as ('approved', 'denied'), so 'denied' is the positive class: the
    adverse outcome, as in a default-prediction model.
    """
    rng = np.random.default_rng(seed)
    parts = []
    for group, denial_rate, label_rate in (("a", 0.05, 0.08), ("b", 0.24, 0.20)):
        n = 1000
        pred = np.where(np.arange(n) < round(n * denial_rate), "denied", "approved")
        y = np.where(rng.permutation(n) < round(n * label_rate), "denied", "approved")
        parts.append(pd.DataFrame({"group": group, "y": y, "pred": pred}))
    frame = pd.concat(parts, ignore_index=True)
    return frame[["group", "y"]], frame["pred"].to_numpy()


@pytest.mark.parametrize(
    ("favourable", "ratio"),
    [(None, 0.05 / 0.24), ("denied", 0.05 / 0.24), ("approved", 0.76 / 0.95)],
    ids=["default-positive", "denied", "approved"],
)
def test_favourable_class_decides_the_rate_the_ratio_compares(favourable, ratio, seed):
    frame, pred = loan_decisions(seed)
    params = {} if favourable is None else {"favourable_class": favourable}
    check = run(frame, pred, seed=seed, **params)
    assert check.measurement("min_selection_rate_ratio").value == pytest.approx(ratio)
    outcome = favourable or "denied"
    assert f"Selection rate = share predicted {outcome!r}" in check.summary
    assert ("the positive class" in check.summary) is (favourable is None)
    values = group_values(check)
    shares = {"a": 0.05, "b": 0.24} if outcome == "denied" else {"a": 0.95, "b": 0.76}
    for group, share in shares.items():
        assert values[("selection_rate", group)]["value"] == pytest.approx(share)
    # The difference itself does not depend on which outcome is favourable.
    assert gap_rows(check)[("group", "selection_rate")]["gap"] == pytest.approx(0.19)


def test_favourable_class_is_a_keyword_of_the_api(seed):
    frame, pred = loan_decisions(seed)
    result = auditor.audit(
        test=frame,
        target="y",
        predictions=pd.DataFrame({"prediction": pred}),
        sensitive=["group"],
        favourable_class="approved",
        seed=seed,
        select=[CHECK_ID],
    )
    check = result.check(CHECK_ID)
    assert check.params["favourable_class"] == "approved"
    assert check.measurement("min_selection_rate_ratio").value == pytest.approx(0.76 / 0.95)


def test_favourable_class_matches_by_text(seed):
    frame = pd.DataFrame({"group": np.repeat(["a", "b"], 200), "y": np.tile([0, 1], 200)})
    pred = np.tile([0, 0, 0, 1], 100)
    check = run(frame, pred, seed=seed, favourable_class="0")
    assert group_values(check)[("selection_rate", "a")]["value"] == pytest.approx(0.75)


# --- Base rates --------------------------------------------------------------------------------


@pytest.mark.parametrize("favourable", [None, 0], ids=["positive", "negative"])
def test_base_rates_are_the_group_label_means(favourable, seed):
    frame, pred = planted({"a": (700, 0.6, 0.8, 0.1), "b": (500, 0.25, 0.7, 0.2)}, seed)
    params = {} if favourable is None else {"favourable_class": favourable}
    check = run(frame, pred, seed=seed, **params)
    values = group_values(check)
    outcome = 1 if favourable is None else 0
    for group in "ab":
        expected = np.mean(frame.loc[frame["group"] == group, "y"] == outcome)
        row = values[("base_rate", group)]
        assert row["value"] == pytest.approx(expected)
        assert row["ci_low"] < row["value"] < row["ci_high"]
        # Beside every rate of the group.
        assert {r["base_rate"] for k, r in values.items() if k[1] == group} == {row["value"]}
    gap = gap_rows(check)[("group", "selection_rate")]
    labels = {"a": values[("base_rate", "a")]["value"], "b": values[("base_rate", "b")]["value"]}
    assert gap["base_rate_gap"] == pytest.approx(
        labels[gap["higher_group"]] - labels[gap["lower_group"]]
    )
    (finding,) = [f for f in gap_findings(check) if f.code == "group_gap"]
    evidence = next(g for g in finding.evidence["gaps"] if g["metric"] == "selection_rate")
    assert evidence["low_base_rate"] == labels[evidence["low_group"]]
    assert evidence["high_base_rate"] == labels[evidence["high_group"]]


# --- Reference group and small groups ----------------------------------------------------------


def with_tiny_group(seed: int):
    """Three large groups (selection rates 0.30, 0.45, 0.35) and a 12-row one at 1.0."""
    groups = {
        "big": (1500, 0.5, 0.6, 0.0),  # selection rate 0.30
        "mid": (1200, 0.5, 0.9, 0.0),  # 0.45
        "ref": (900, 0.5, 0.7, 0.0),  # 0.35
        "tiny": (12, 0.5, 1.0, 1.0),  # 1.00
    }
    return planted(groups, seed)


def gap_table_rows(check) -> list[dict]:
    table = next(t for t in check.tables if t.key == "group_gaps")
    return [dict(zip(table.columns, row, strict=True)) for row in table.rows]


def test_gaps_against_the_reference_group_beside_the_extreme_pair(seed):
    frame, pred = with_tiny_group(seed)
    check = run(frame, pred, seed=seed, reference_group="ref")
    selection = [r for r in gap_table_rows(check) if r["metric"] == "selection_rate"]
    pairs = {r["comparison"]: (r["lower_group"], r["higher_group"], r["gap"]) for r in selection}
    assert pairs["extremes"] == ("big", "mid", pytest.approx(0.15))
    # Furthest from the reference (0.35): 'mid' at 0.45, not 'big' at 0.30.
    assert pairs["vs reference"] == ("ref", "mid", pytest.approx(0.10))
    values = group_values(check)
    assert values[("selection_rate", "ref")]["note"] == "reference group"
    assert values[("selection_rate", "tiny")]["note"] == "too small to judge"
    # The headline comes from the large groups: the 12-row group's 0.70 is shown, not judged.
    assert check.measurement("max_group_gap").value == pytest.approx(
        max(r["gap"] for r in gap_table_rows(check) if r["metric"] != "equalized_odds")
    )
    assert check.measurement("max_group_gap").value < 0.5
    assert "tiny" not in check.summary
    small = next(f for f in check.findings if f.code == "small_groups")
    assert small.evidence["groups"] == ["tiny"]


def test_the_largest_group_is_the_default_reference(seed):
    frame, pred = with_tiny_group(seed)
    check = run(frame, pred, seed=seed)
    assert group_values(check)[("selection_rate", "big")]["note"] == "reference group"
    # 'big' is one of the extreme pair: no second comparison repeats it.
    selection = [r for r in gap_table_rows(check) if r["metric"] == "selection_rate"]
    assert [r["comparison"] for r in selection] == ["extremes"]


def test_a_group_at_the_minimum_size_is_judged(seed):
    """The look-alike: with min_group_rows at 10 the 12-row group leads the headline."""
    frame, pred = with_tiny_group(seed)
    check = run(frame, pred, seed=seed, min_group_rows=10)
    selection = gap_rows(check)[("group", "selection_rate")]
    assert (selection["higher_group"], selection["gap"]) == ("tiny", pytest.approx(1.0 - 0.30))
    # Its false positive rate (1.0 against 0.0) is now the largest difference.
    assert check.measurement("max_group_gap").value == pytest.approx(1.0)
    assert "'tiny'" in check.summary


# --- One headline gap: card, summary and table -------------------------------------------------


def headline_case(seed: int):
    """A flagged selection-rate gap between two large groups, and a larger true positive
    rate gap with a 40-row group that sampling noise can produce."""
    return planted(
        {
            "a": (2500, 0.5, 0.8, 0.1),  # selection rate 0.45
            "b": (2500, 0.3, 0.8, 0.1),  # 0.31
            "c": (40, 0.3, 0.5, 0.1),  # true positive rate 0.5 on 12 positives
        },
        seed,
    )


@pytest.mark.parametrize("case", ["inconclusive-largest", "flagged-largest", "clean"])
def test_the_card_the_summary_and_the_table_quote_one_gap(case, seed):
    from auditor.render.html import render_html

    if case == "inconclusive-largest":
        frame, pred = headline_case(seed)
    elif case == "flagged-largest":
        frame, pred = planted({"a": (1500, 0.5, 0.8, 0.1), "b": (1500, 0.3, 0.8, 0.1)}, seed)
    else:
        frame, pred = noisy_binary({"a": 1500, "b": 1500}, seed)
    check = run(frame, pred, seed=seed)
    card = check.measurement("max_group_gap")
    rows = [r for r in gap_table_rows(check) if r["metric"] != "equalized_odds"]
    (row,) = [r for r in rows if r["gap"] == card.value]
    assert (row["ci_low"], row["ci_high"]) == (card.ci_low, card.ci_high)
    assert card.value == max(r["gap"] for r in rows)
    pair = f"between {row['lower_group']!r} ("
    assert "The largest difference is in 'group': " in check.summary
    assert f"differs by {card.value:.3f} {pair}" in check.summary
    assert f"[{card.ci_low:.3g}, {card.ci_high:.3g}]" in check.summary
    expected = {"inconclusive-largest": "inconclusive", "flagged-largest": "flagged"}.get(
        case, "within limit"
    )
    assert row["judgement"] == expected
    assert expected in card.note
    assert f"{row['lower_group']!r} vs {row['higher_group']!r}" in card.note
    # The gap table leads with the headline gap, then the flagged ones: print keeps them.
    table = next(t for t in check.tables if t.key == "group_gaps")
    assert gap_table_rows(check)[0] == row
    printed = gap_table_rows(check)[: table.print_first]
    assert [r["judgement"] for r in printed[1:]] == ["flagged"] * (len(printed) - 1)
    assert sum(r["judgement"] == "flagged" for r in rows) == sum(
        r["judgement"] == "flagged" for r in printed
    )
    if case == "inconclusive-largest":
        assert row["metric"] == "true_positive_rate"
        assert len(printed) >= 2
        assert card.ci_low < 0 < card.ci_high
        assert "the interval includes 0" in check.summary
        assert check.status == "warn"  # from the flagged selection-rate gap
        assert "the most serious is in 'group': selection rate differs" in check.summary
    html = render_html(auditor_result(frame, pred, seed))
    article = html.split('id="fairness.group_metrics"', 1)[1]
    card_row = article.split("Max group gap", 1)[1].split("</tr>", 1)[0]
    assert expected in card_row
    assert f"{card.value:.3g}"[:4] in card_row


def auditor_result(frame, pred, seed):
    return auditor.audit(
        test=frame,
        target="y",
        predictions=pd.DataFrame({"prediction": pred}),
        sensitive=["group"],
        seed=seed,
        select=[CHECK_ID],
    )


# --- Rates at 0 and 1 --------------------------------------------------------------------------


def test_rates_at_0_and_1_keep_intervals_of_positive_width(seed):
    """A group predicted positive on every row, another on none: the Wilson and Newcombe
    intervals stay open where a bootstrap of the rows collapses to a point."""
    frame = pd.DataFrame({"group": np.repeat(["all", "none"], 60), "y": np.tile([0, 1], 60)})
    pred = np.r_[np.ones(60, int), np.zeros(60, int)]
    check = run(frame, pred, seed=seed)
    values = group_values(check)
    assert values[("selection_rate", "all")]["value"] == 1.0
    assert values[("selection_rate", "all")]["ci_low"] < 0.95
    assert values[("selection_rate", "none")]["ci_high"] > 0.05
    row = gap_rows(check)[("group", "selection_rate")]
    assert row["gap"] == 1.0
    assert row["ci_low"] < 1.0 - 0.05
    assert row["ci_high"] == pytest.approx(1.0)
    assert row["ci_low"] < row["ci_high"]
    # The Wilson interval of a group at 30 of 60 (the oracle: scipy's binomtest).
    from scipy import stats

    oracle = stats.binomtest(30, 60).proportion_ci(0.95, method="wilson")
    base = values[("base_rate", "all")]
    assert (base["ci_low"], base["ci_high"]) == pytest.approx((oracle.low, oracle.high))


# --- Sensitive columns as model inputs ---------------------------------------------------------


def people(seed: int, n: int = 1500) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["f", "m"], size=n)
    frame = pd.DataFrame(
        {
            "sex": sex,
            "income": rng.normal(50, 10, n),
            "tenure": rng.normal(5, 2, n),
            # Stand-ins for 'sex': a role that follows it 95% of the time, and a measure
            # whose group means are 4 standard deviations apart.
            "role": np.where(rng.random(n) < 0.95, np.where(sex == "f", "w", "h"), "o"),
            "height": np.where(sex == "f", 0.0, 4.0) + rng.normal(0, 1, n),
        }
    )
    frame["y"] = (frame["income"] + rng.normal(0, 10, n) > 50).astype(int)
    return frame


@pytest.mark.parametrize(
    ("inputs", "codes", "proxies"),
    [
        (["sex", "income"], {"sensitive_is_input"}, []),
        (["role", "income"], {"proxy_inputs"}, ["role"]),
        (["height", "tenure"], {"proxy_inputs"}, ["height"]),
        (["income", "tenure"], set(), []),
    ],
    ids=["sensitive-is-input", "categorical-proxy", "numeric-proxy", "neither"],
)
def test_a_note_when_the_sensitive_column_or_a_stand_in_is_a_model_input(
    inputs, codes, proxies, seed
):
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = people(seed)
    categorical = [c for c in inputs if not pd.api.types.is_numeric_dtype(frame[c])]
    model = make_pipeline(
        make_column_transformer((OneHotEncoder(), categorical), remainder="passthrough"),
        LogisticRegression(),
    ).fit(frame[inputs], frame["y"])
    result = auditor.audit(
        test=frame, target="y", model=model, sensitive=["sex"], seed=seed, select=[CHECK_ID]
    )
    check = result.check(CHECK_ID)
    notes = [f for f in check.findings if f.code in INPUT_NOTES]
    assert {f.code for f in notes} == codes
    assert all(f.severity == "low" for f in notes)
    # The notes never fail or warn by themselves: the status is that of the gaps.
    assert check.status == status_from(gap_findings(check))
    for note in notes:
        assert not VIRTUE_WORDS.search(note.message.lower())
        if note.code == "proxy_inputs":
            assert [p["column"] for p in note.evidence["proxies"]] == proxies
            assert note.columns == ("sex", *proxies)


# --- Printing long group tables ----------------------------------------------------------------


def test_print_keeps_the_reference_and_finding_groups_of_a_25_group_table(seed):
    from auditor.render.html import render_html

    rng = np.random.default_rng(seed)
    labels = [f"g{i:02d}" for i in range(25)]
    sizes = {label: 300 for label in labels}
    sizes["g00"] = 1200  # the largest: the reference group
    group = np.repeat(labels, [sizes[g] for g in labels])
    # Selection rates near 0.3 everywhere, but 0.6 in 'g24' and 0.1 in 'g23', the last
    # groups by name: three groups of six rows each carry the finding, more than 12 rows.
    rate = np.select([group == "g24", group == "g23"], [0.6, 0.1], 0.3)
    pred = (rng.random(len(group)) < rate).astype(int)
    frame = pd.DataFrame({"group": group, "y": rng.integers(0, 2, len(group))})
    result = auditor_result(frame, pred, seed)
    check = result.check(CHECK_ID)
    table = next(t for t in check.tables if t.key == "group_metrics_0")
    finding = next(f for f in check.findings if f.code == "group_gap")
    carried = {"g00"} | {
        g[k] for g in finding.evidence["gaps"] for k in ("low_group", "high_group")
    }
    assert carried == {"g00", "g23", "g24"}
    leading = {row[1] for row in table.rows[: table.print_first]}
    assert leading == carried
    assert len(table.rows) == 25 * 6
    assert table.print_first == 3 * 6
    html = render_html(result)
    section = html.split("Metrics by group of &#39;group&#39;", 1)[1].split("</table>", 1)[0]
    printed = [
        row for row in section.split("<tr")[2:] if 'class="screen-only"' not in row.split(">")[0]
    ]
    printed_groups = {label for row in printed for label in labels if f">{label}<" in row}
    assert carried <= printed_groups
    assert f"first {table.print_first} of 150 rows printed" in section


# --- Weights -----------------------------------------------------------------------------------


def test_weighted_rates_equal_weighted_means(seed):
    rng = np.random.default_rng(seed)
    frame, pred = noisy_binary({"a": 800, "b": 600}, seed)
    frame["w"] = rng.gamma(2.0, 1.0, len(frame))
    result = auditor.audit(
        test=frame,
        target="y",
        predictions=pd.DataFrame({"prediction": pred}),
        sensitive=["group"],
        weight_column="w",
        seed=seed,
        select=[CHECK_ID],
    )
    check = result.check(CHECK_ID)
    values = group_values(check)
    for label in "ab":
        mask = frame["group"].to_numpy() == label
        y, p, w = frame["y"].to_numpy()[mask], pred[mask], frame["w"].to_numpy()[mask]
        expected = {
            "base_rate": np.average(y == 1, weights=w),
            "selection_rate": np.average(p == 1, weights=w),
            "true_positive_rate": skm.recall_score(y, p, sample_weight=w),
            "false_positive_rate": np.average(p[y == 0] == 1, weights=w[y == 0]),
            "precision": skm.precision_score(y, p, sample_weight=w),
            "error_rate": 1 - skm.accuracy_score(y, p, sample_weight=w),
        }
        for metric, value in expected.items():
            row = values[(metric, label)]
            assert row["value"] == pytest.approx(value, rel=1e-12), (metric, label)
            assert row["ci_low"] < row["value"] < row["ci_high"]
        assert row["effective_rows"] == pytest.approx(w.sum() ** 2 / (w**2).sum())
        assert row["effective_rows"] < mask.sum()


def test_unit_weights_give_the_unweighted_result(seed):
    frame, pred = planted({"a": (600, 0.5, 0.8, 0.1), "b": (600, 0.3, 0.8, 0.1)}, seed)
    plain = run(frame, pred, seed=seed)
    weighted = auditor.audit(
        test=frame.assign(w=1.0),
        target="y",
        predictions=pd.DataFrame({"prediction": pred}),
        sensitive=["group"],
        weight_column="w",
        seed=seed,
        select=[CHECK_ID],
    ).check(CHECK_ID)
    assert weighted.tables == plain.tables
    assert weighted.measurements == plain.measurements
    assert weighted.summary == plain.summary


def test_small_groups_are_measured_in_effective_rows(seed):
    """40 rows, but one carries almost all the weight: about 1 effective row."""
    frame, pred = noisy_binary({"a": 500, "b": 500, "c": 40}, seed)
    weights = np.ones(len(frame))
    c_rows = np.flatnonzero(frame["group"].to_numpy() == "c")
    weights[c_rows[0]] = 1000.0
    result = auditor.audit(
        test=frame.assign(w=weights),
        target="y",
        predictions=pd.DataFrame({"prediction": pred}),
        sensitive=["group"],
        weight_column="w",
        seed=seed,
        select=[CHECK_ID],
    )
    small = next(f for f in result.check(CHECK_ID).findings if f.code == "small_groups")
    assert small.evidence["groups"] == ["c"]
    assert small.evidence["rows"] == [40]
    assert small.evidence["effective_rows"][0] < 2


# --- Bad parameters are bad input --------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "needles"),
    [
        ({"favourable_class": "granted"}, ["favourable_class", "'granted'", "'approved'"]),
        ({"reference_group": "c"}, ["reference_group", "'c'", "'a'"]),
    ],
    ids=["favourable-class", "reference-group"],
)
def test_a_parameter_naming_what_the_data_lacks_is_exit_2(params, needles, seed, tmp_path):
    from typer.testing import CliRunner

    from auditor.cli.app import app

    frame, pred = loan_decisions(seed)
    frame.to_csv(tmp_path / "test.csv", index=False)
    pd.DataFrame({"prediction": pred}).to_csv(tmp_path / "predictions.csv", index=False)
    config = tmp_path / "audit.toml"
    config.write_text(
        f'[checks."{CHECK_ID}"]\n' + "".join(f'{k} = "{v}"\n' for k, v in params.items())
    )
    out_dir = tmp_path / "reports"
    base = ["audit", "--test", tmp_path / "test.csv", "--target", "y", "--sensitive", "group"]
    base += ["--predictions", tmp_path / "predictions.csv", "--out-dir", out_dir]
    runs = [[*base, "--config", config]]
    if "favourable_class" in params:
        runs.append([*base, "--favourable-class", params["favourable_class"]])
    for args in runs:
        result = CliRunner().invoke(app, [str(a) for a in args])
        assert result.exit_code == 2, result.output
        (line,) = [line for line in result.stderr.splitlines() if line.strip()]
        assert line.startswith("error: ")
        for needle in needles:
            assert needle in line
        assert not out_dir.exists() or not any(out_dir.iterdir())


def test_a_favourable_class_applies_to_binary_tasks_only(seed):
    frame, pred = regression_frame(seed, {"a": 5.0, "b": 5.0})
    with pytest.raises(InputError, match="applies to binary tasks"):
        run(frame, pred, seed=seed, favourable_class="a")


def test_a_group_never_selected_has_a_ratio_but_no_point_interval():
    rng = np.random.default_rng(0)
    n = 600
    group = rng.choice(["a", "b"], n)
    predicted = np.where(group == "a", 0, rng.integers(0, 2, n))
    result = auditor.audit(
        test=pd.DataFrame({"g": group, "x": rng.normal(size=n), "y": rng.integers(0, 2, n)}),
        target="y",
        predictions=pd.DataFrame({"prediction": predicted}),
        sensitive=["g"],
        select=["fairness.group_metrics"],
    ).check("fairness.group_metrics")
    ratio = result.measurement("min_selection_rate_ratio")
    assert ratio.value == 0.0
    assert (ratio.ci_low, ratio.ci_high) == (None, None)
