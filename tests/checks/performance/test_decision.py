"""``performance.decision``: costs, the threshold chosen out of fold, the decision curve,
``[decision]`` validation and the gate keys on the chosen operating point."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.metrics import confusion_matrix
from typer.testing import CliRunner

from _factories_evaluation import context, fitted, linear_model, predictions_frame, run, split
from auditor import audit, keys
from auditor.checks.performance import decision as decision_module
from auditor.checks.performance.decision import candidate_thresholds, choose_threshold
from auditor.cli.app import app
from auditor.evaluation import model_cv, training_frame
from auditor.gate import evaluate_gate
from auditor.metrics import (
    EvalData,
    binary_counts,
    counts_at_thresholds,
    expected_cost,
    net_benefit,
)
from auditor.result import CheckResult, Measurement
from auditor.spec import ColumnRolesSpec, DecisionSettings, GatePolicy, MetricThreshold

CHECK_ID = "performance.decision"
COSTS = DecisionSettings(cost_false_positive=1.0, cost_false_negative=5.0)
SYMMETRIC = DecisionSettings(cost_false_positive=1.0, cost_false_negative=1.0)


@pytest.fixture(scope="module")
def binary():
    """(train, test, fitted logistic model) of a clean binary table."""
    train, test = split("binary", 0, n_train=600, n_test=400)
    return train, test, fitted(linear_model("binary"), train)


# --- the arithmetic ------------------------------------------------------------------------

# Six rows by descending score; positives at 0.9, 0.6 and 0.4.
SCORES = np.array([0.9, 0.8, 0.6, 0.4, 0.3, 0.1])
POSITIVE = np.array([True, False, True, True, False, False])
MATRIX = DecisionSettings(
    cost_false_positive=1.0, cost_false_negative=5.0, benefit_true_positive=2.0
)


@pytest.mark.parametrize(
    ("weights", "threshold", "cost", "benefit"),
    [
        # t = 0.5 flags the top three: TP 2, FP 1, FN 1, TN 2 of 6 rows.
        ([1, 1, 1, 1, 1, 1], 0.5, (1 * 1 + 5 * 1 - 2 * 2) / 6, (2 - 1 * 1) / 6),
        # t = 0.25 flags five: TP 3, FP 2, FN 0, TN 1; a false alarm weighs 0.25/0.75.
        ([1, 1, 1, 1, 1, 1], 0.25, (1 * 2 - 2 * 3) / 6, (3 - 2 / 3) / 6),
        # Weights (a bootstrap resample, or sample weights) 2,0,1,1,0,1 at t = 0.5:
        # TP 2+1, FP 0, FN 1, TN 1 of a total weight 5.
        ([2, 0, 1, 1, 0, 1], 0.5, (5 * 1 - 2 * 3) / 5, 3 / 5),
    ],
)
def test_expected_cost_and_net_benefit_equal_a_hand_computation(weights, threshold, cost, benefit):
    W = np.array([weights], dtype=float)
    swept = counts_at_thresholds(SCORES, POSITIVE, W, np.array([threshold]))
    assert expected_cost(swept, MATRIX)[0, 0] == pytest.approx(cost)
    assert net_benefit(swept, threshold)[0, 0] == pytest.approx(benefit)
    # The same decisions as a model's labels give the same counts.
    labels = EvalData(
        "binary", POSITIVE.astype(int), (threshold <= SCORES).astype(int), None, (0, 1)
    )
    assert expected_cost(binary_counts(labels, W), MATRIX)[0] == pytest.approx(cost)


def test_the_check_reports_the_hand_computed_cost_and_curve():
    """Predictions only (no refits): the model's own labels are its probability above 0.5."""
    test = pd.DataFrame({"x0": SCORES, "y": POSITIVE.astype(int)})
    predictions = pd.DataFrame({"prediction": (SCORES > 0.5).astype(int), "proba_1": SCORES})
    settings = DecisionSettings(
        cost_false_positive=1.0, cost_false_negative=5.0, benefit_true_positive=2.0
    )
    result = run(context(None, test, predictions=predictions, decision=settings), CHECK_ID)
    assert result.measurement("model_threshold").value == 0.5
    assert result.measurement("expected_cost_at_model_threshold").value == pytest.approx(2 / 6)
    assert result.measurement("precision_at_model_threshold").value == pytest.approx(2 / 3)
    assert result.measurement("recall_at_model_threshold").value == pytest.approx(2 / 3)
    assert result.measurement("flagged_share_at_model_threshold").value == pytest.approx(0.5)
    curve = next(c for c in result.curves if c.key == "decision_curve")
    model, treat_all = curve.series[:2]
    at = {round(x, 2): y for x, y in zip(model.x, model.y, strict=True)}
    assert at[0.5] == pytest.approx(1 / 6)
    assert at[0.25] == pytest.approx((3 - 2 / 3) / 6)
    # Flagging every row: 3 positives, 3 false alarms.
    everyone = {round(x, 2): y for x, y in zip(treat_all.x, treat_all.y, strict=True)}
    assert everyone[0.25] == pytest.approx((3 - 3 / 3) / 6)


# --- the choice is made out of fold ----------------------------------------------------------


def _out_of_fold_by_hand(ctx):
    """Every validation row of the audit's refits: score, label, weight (recomputed here)."""
    cv = model_cv(ctx)
    frame, source = training_frame(ctx)
    assert source == "train"
    scores, labels = [], []
    for fit, rows in zip(cv.fits, cv.folds.valid, strict=True):
        scores.append(fit.valid.proba[:, 1])
        labels.append(frame["y"].to_numpy()[rows] == 1)
    return np.concatenate(scores), np.concatenate(labels)


def test_the_threshold_is_chosen_on_out_of_fold_predictions_not_the_test_rows(binary):
    train, test, model = binary
    # Test rows whose labels contradict the model: a choice made on them would flag no row.
    flipped = test.assign(y=1 - test["y"])
    ctx = context(train, flipped, model=model, decision=SYMMETRIC)
    result = run(ctx, CHECK_ID)
    chosen = result.measurement("chosen_threshold").value
    scores, labels = _out_of_fold_by_hand(ctx)
    assert chosen == choose_threshold(scores, labels, np.ones(scores.size), decision=SYMMETRIC)
    assert 0.3 < chosen < 0.7
    test_scores = model.predict_proba(flipped.drop(columns="y"))[:, 1]
    on_test = choose_threshold(
        test_scores, flipped["y"].to_numpy() == 1, np.ones(len(flipped)), decision=SYMMETRIC
    )
    assert not 0.2 < on_test < 0.8
    assert result.measurement("out_of_fold_rows").value == len(train)


def test_the_model_threshold_costing_more_beyond_noise_warns(binary):
    train, test, model = binary
    result = run(context(train, test, model=model, decision=COSTS), CHECK_ID)
    for key in keys.DECISION_METRICS:  # what [gate.metrics] reads
        assert result.measurement(key.key).value is not None, key
    saving = result.measurement("cost_saving_over_model_threshold")
    own = result.measurement("expected_cost_at_model_threshold").value
    assert saving.value == pytest.approx(own - result.measurement("expected_cost").value)
    assert saving.ci_low > 0
    assert result.status == "warn"
    assert [f.code for f in result.findings] == ["model_threshold_costs_more"]


def test_a_chosen_threshold_that_does_not_carry_over_warns(binary):
    """The shipped model saw every positive five times, so its probabilities run high; its
    refits on the training rows do not, and the threshold they choose flags too many."""
    train, test, _ = binary
    inflated = pd.concat([train, *[train[train["y"] == 1]] * 4], ignore_index=True)
    model = fitted(linear_model("binary"), inflated)
    result = run(context(train, test, model=model, decision=COSTS), CHECK_ID)
    assert result.measurement("cost_saving_over_model_threshold").ci_high < 0
    assert result.status == "warn"
    assert [f.code for f in result.findings] == ["chosen_threshold_costs_more"]


@pytest.mark.parametrize(
    "settings",
    [
        COSTS,
        DecisionSettings(min_recall=0.8),
        DecisionSettings(max_flagged_share=0.1),
        DecisionSettings(cost_false_positive=1.0, cost_false_negative=5.0, max_flagged_share=0.3),
        DecisionSettings(cost_false_positive=5.0, cost_false_negative=1.0, min_recall=0.8),
    ],
    ids=["costs", "min_recall", "capacity", "costs_and_capacity", "costs_and_min_recall"],
)
def test_the_choice_is_the_best_candidate_by_brute_force(binary, settings):
    """Every candidate threshold scored with scikit-learn's confusion matrix: the chosen one
    keeps the limits and is the best of those that do."""
    train, _, model = binary
    scores, labels = _out_of_fold_by_hand(context(train, train, model=model))
    chosen = choose_threshold(scores, labels, np.ones(scores.size), decision=settings)
    rows = []
    for t in candidate_thresholds(scores):
        tn, fp, fn, tp = confusion_matrix(labels, scores >= t, labels=[False, True]).ravel()
        n = tp + fp + fn + tn
        cost = (settings.cost_false_positive or 0) * fp + (settings.cost_false_negative or 0) * fn
        rows.append(
            (t, tp / (tp + fn), tp / (tp + fp) if tp + fp else 0.0, (tp + fp) / n, cost / n)
        )
    table = pd.DataFrame(rows, columns=["t", "recall", "precision", "flagged", "cost"])
    keeps = pd.Series(True, index=table.index)
    if settings.min_recall is not None:
        keeps &= table["recall"] >= settings.min_recall
    if settings.max_flagged_share is not None:
        keeps &= table["flagged"] <= settings.max_flagged_share
    feasible = table[keeps]
    objective = (
        -feasible["cost"]
        if settings.has_costs
        else feasible["precision"]
        if settings.min_recall is not None
        else feasible["recall"]
    )
    best = feasible[np.isclose(objective, objective.max())]
    assert chosen == pytest.approx(best["t"].max())
    picked = table[table["t"] == chosen].iloc[0]
    if settings.min_recall is not None:
        assert picked["recall"] >= settings.min_recall
    if settings.max_flagged_share is not None:
        assert picked["flagged"] <= settings.max_flagged_share


def test_limits_that_conflict_choose_nothing_and_warn(binary):
    train, test, model = binary
    settings = DecisionSettings(min_recall=0.95, max_flagged_share=0.05)
    result = run(context(train, test, model=model, decision=settings), CHECK_ID)
    assert result.status == "warn"
    assert [f.code for f in result.findings] == ["limits_conflict"]
    assert result.measurement("chosen_threshold") is None
    assert result.measurement("recall_at_threshold") is None
    assert "No threshold was chosen" in result.summary


def test_a_limit_missed_on_the_test_rows_beyond_noise_warns(binary):
    train, test, model = binary
    # A test set whose positives the model scores low: recall collapses there.
    shifted = test.assign(x0=np.where(test["y"] == 1, test["x0"] - 2.0, test["x0"]))
    settings = DecisionSettings(min_recall=0.8)
    result = run(context(train, shifted, model=model, decision=settings), CHECK_ID)
    recall = result.measurement("recall_at_threshold")
    assert recall.ci_high < 0.8
    assert result.status == "warn"
    assert "limit_missed" in [f.code for f in result.findings]


def test_without_training_data_no_threshold_is_chosen_and_no_fold_is_read(binary, monkeypatch):
    _, test, model = binary

    def forbidden(ctx):
        raise AssertionError("folds drawn from the test rows must not choose the threshold")

    monkeypatch.setattr(decision_module, "model_cv", forbidden)
    result = run(context(None, test, model=model, decision=COSTS), CHECK_ID)
    assert result.status == "pass"
    assert [f.code for f in result.findings] == ["threshold_not_chosen"]
    assert "without training data" in result.summary
    assert result.measurement("chosen_threshold") is None
    assert result.measurement("expected_cost_at_model_threshold").value is not None


def test_without_decision_the_own_threshold_and_the_curve_are_reported(binary):
    train, test, model = binary
    result = run(context(train, test, model=model), CHECK_ID)
    holdout = run(context(train, test, model=model), "performance.holdout_metrics")
    assert result.status == "pass"
    assert result.findings == ()
    assert "declare [decision] costs" in result.summary
    assert [c.key for c in result.curves] == ["decision_curve"]
    for measure in ("precision", "recall"):
        ours = result.measurement(f"{measure}_at_model_threshold")
        theirs = holdout.measurement(measure)
        assert (ours.value, ours.ci_low, ours.ci_high) == pytest.approx(
            (theirs.value, theirs.ci_low, theirs.ci_high)
        )


@pytest.mark.parametrize(
    ("task", "reason"),
    [
        ("multiclass", "no single threshold to choose"),
        ("regression", "predicts values, not yes/no decisions"),
    ],
)
def test_other_tasks_are_skipped_with_the_reason(task, reason):
    train, test = split(task, 0)
    model = fitted(linear_model(task), train)
    result = run(context(train, test, model=model), CHECK_ID)
    assert result.status == "skipped"
    assert reason in result.skip_reason


def test_labels_without_probabilities_are_skipped(binary):
    _, test, model = binary
    labels_only = predictions_frame(model, test)[["prediction"]]
    result = run(context(None, test, predictions=labels_only), CHECK_ID)
    assert result.status == "skipped"
    assert "no class probabilities" in result.skip_reason


def test_integer_weights_equal_repeated_rows(binary):
    train, test, model = binary
    repeats = np.random.default_rng(0).integers(1, 4, len(test))
    weighted = test.assign(w=repeats)
    repeated = test.loc[test.index.repeat(repeats)].reset_index(drop=True).assign(w=1)
    roles = ColumnRolesSpec(weight="w")
    results = [
        run(context(None, frame, model=model, decision=COSTS, columns=roles), CHECK_ID)
        for frame in (weighted, repeated)
    ]
    for key in (
        "expected_cost_at_model_threshold",
        "precision_at_model_threshold",
        "recall_at_model_threshold",
        "flagged_share_at_model_threshold",
    ):
        assert results[0].measurement(key).value == pytest.approx(results[1].measurement(key).value)
    curves = [r.curves[0].series[0].y for r in results]
    assert curves[0] == pytest.approx(curves[1])
    # Out of fold, weights count as repeated rows too.
    scores, labels = _out_of_fold_by_hand(context(train, train, model=model))
    w = np.random.default_rng(1).integers(1, 4, scores.size)
    assert choose_threshold(scores, labels, w.astype(float), decision=COSTS) == choose_threshold(
        np.repeat(scores, w), np.repeat(labels, w), np.ones(w.sum()), decision=COSTS
    )


# --- the gate ------------------------------------------------------------------------------


def _decision_result(**measured: tuple[float, float, float]) -> CheckResult:
    return CheckResult(
        id=CHECK_ID,
        category="performance",
        title="Costs and the decision threshold",
        status="pass",
        summary="ok",
        measurements=tuple(Measurement(k, *v) for k, v in measured.items()),
    )


@pytest.mark.parametrize(
    ("bounds", "use_interval", "reasons"),
    [
        ({"expected_cost": MetricThreshold(max=0.5)}, True, ["expected_cost"]),
        ({"expected_cost": MetricThreshold(max=0.5)}, False, []),
        ({"recall_at_threshold": MetricThreshold(min=0.8)}, True, ["recall_at_threshold"]),
        ({"recall_at_threshold": MetricThreshold(min=0.8)}, False, []),
        ({"precision_at_threshold": MetricThreshold(min=0.5)}, True, []),
    ],
)
def test_gate_bounds_read_the_chosen_operating_point(bounds, use_interval, reasons):
    checks = [
        _decision_result(
            expected_cost=(0.45, 0.40, 0.55),
            recall_at_threshold=(0.82, 0.75, 0.88),
            precision_at_threshold=(0.6, 0.55, 0.65),
        )
    ]
    verdict = evaluate_gate(checks, GatePolicy(metrics=bounds, use_interval=use_interval))
    assert [r.split()[0] for r in verdict.reasons] == reasons


def test_a_gate_bound_on_an_operating_point_not_chosen_fails_as_not_measured():
    verdict = evaluate_gate(
        [_decision_result()], GatePolicy(metrics={"expected_cost": MetricThreshold(max=1)})
    )
    assert verdict.reasons == (
        "expected_cost has a threshold but was not measured (see performance.decision).",
    )


# --- config, CLI and API ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def files(binary, tmp_path_factory):
    train, test, model = binary
    folder = tmp_path_factory.mktemp("decision")
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    skops.io.dump(model, folder / "model.skops")
    return folder


def _cli(folder, config: str, out):
    (folder / "audit.toml").write_text(
        'train = "train.csv"\ntest = "test.csv"\nmodel = "model.skops"\ntarget = "y"\n' + config,
        encoding="utf-8",
    )
    return CliRunner().invoke(
        app,
        [
            "audit",
            "--config",
            str(folder / "audit.toml"),
            "--select",
            CHECK_ID,
            "--format",
            "json",
            "--out-dir",
            str(out),
        ],
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            "[decision]\ncost_false_positive = 1\n",
            "audit.toml [decision] needs both cost_false_positive and cost_false_negative",
        ),
        (
            "[decision]\nmin_recall = 80\n",
            "audit.toml [decision] min_recall is a share above 0 and at most 1, got 80.0. "
            "Write 0.8 for 80%.",
        ),
        (
            "[decision]\ncost_false_positive = -1\ncost_false_negative = 5\n",
            "audit.toml [decision] cost_false_positive = -1.0 must be 0 or more",
        ),
        ("[decision]\ncapacity = 0.05\n", "audit.toml [decision] has unknown key 'capacity'"),
        ("[decision]\n", "audit.toml [decision] declares nothing to choose a threshold by"),
        (
            "[gate.metrics]\nexpected_cost = { max = 1 }\n",
            "[gate.metrics] expected_cost is measured at the threshold chosen from [decision]; "
            "declare cost_false_positive and cost_false_negative under [decision].",
        ),
        (
            "[decision]\nmin_recall = 0.8\n[gate.metrics]\nexpected_cost = { max = 1 }\n",
            "[gate.metrics] expected_cost is measured at the threshold chosen from [decision]",
        ),
        (
            "[decision]\nmin_recall = 0.8\n[gate.metrics]\n"
            "recall_at_threshold = { min_over_baseline = 0.1 }\n",
            "min_over_baseline applies to holdout metrics only",
        ),
    ],
    ids=[
        "one_cost",
        "percent",
        "negative",
        "unknown_key",
        "empty",
        "gate_without_decision",
        "gate_cost_without_costs",
        "gate_margin",
    ],
)
def test_bad_decision_config_is_one_line_and_exit_2(files, tmp_path, table, message):
    ran = _cli(files, table, tmp_path / "out")
    assert ran.exit_code == 2, ran.output
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1
    assert message in lines[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("limit", "exit_code"), [(0.01, 1), (100.0, 0)])
def test_the_expected_cost_gate_fails_when_breached_and_passes_otherwise(
    files, tmp_path, limit, exit_code
):
    config = (
        "[decision]\ncost_false_positive = 1\ncost_false_negative = 5\n"
        f"[gate.metrics]\nexpected_cost = {{ max = {limit} }}\n"
    )
    ran = _cli(files, config, tmp_path / "out")
    assert ran.exit_code == exit_code, ran.output
    written = json.loads((tmp_path / "out" / "audit.json").read_text(encoding="utf-8"))
    assert written["manifest"]["spec"]["decision"]["cost_false_negative"] == 5.0
    assert bool(written["gate"]["reasons"]) == (exit_code == 1)


def test_the_api_takes_decision_as_a_mapping(binary):
    train, test, model = binary
    result = audit(
        test=test,
        train=train,
        target="y",
        model=model,
        decision={"min_recall": 0.8},
        select=[CHECK_ID],
    )
    check = result.check(CHECK_ID)
    assert check.measurement("recall_at_threshold").value >= 0.7
    assert result.manifest["spec"]["decision"]["min_recall"] == 0.8
    with pytest.raises(Exception, match="decision= min_recall is a share"):
        audit(test=test, target="y", model=model, decision={"min_recall": 2})


def test_the_figures_stop_below_zero_and_name_treat_none(binary):
    from matplotlib import pyplot as plt

    from auditor.render.figures import curve_figure

    train, test, model = binary
    result = run(context(train, test, model=model, decision=COSTS), CHECK_ID)
    assert [c.key for c in result.curves] == ["decision_curve", "cost_curve"]
    decision_curve = result.curves[0]
    treat_all = decision_curve.series[1]
    assert min(treat_all.y) < -5  # flagging every row at t = 0.99 weighs each false alarm 99x
    fig = curve_figure(decision_curve)
    try:
        low, high = fig.axes[0].get_ylim()
        top = max(decision_curve.series[0].y_high + treat_all.y)
        assert -0.6 * top < low < 0 < top < high < 1.2 * top
        legend = [t.get_text() for t in fig.legends[0].get_texts()]
        assert "flag no row (treat none)" in legend
    finally:
        plt.close(fig)
