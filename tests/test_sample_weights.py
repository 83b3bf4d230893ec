"""Sample weights end to end: metrics equal scikit-learn's ``sample_weight=`` results, an
audit weighted by integer counts scores as the audit of the rows repeated, and bad weight
columns are refused in one line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression
from tests.cli.test_exit_codes import assert_bad_input
from tests.test_metrics import CASES, _labels, _metric_params, make_eval
from typer.testing import CliRunner

import auditor
from auditor.cli.app import app
from auditor.metrics import EvalData


def _weighted_oracle(key: str, d: EvalData, w: np.ndarray) -> float:
    """scikit-learn's value of ``key`` with ``sample_weight=w``, on the original labels."""
    if d.task == "regression":
        fn = {
            "r2": skm.r2_score,
            "mean_absolute_error": skm.mean_absolute_error,
            "root_mean_squared_error": skm.root_mean_squared_error,
            "mean_absolute_percentage_error": skm.mean_absolute_percentage_error,
        }[key]
        return fn(d.y, d.y_pred, sample_weight=w)
    y, y_pred, pos = _labels(d)
    score = d.proba[:, d.positive]
    labels = list(d.classes)
    return {
        "roc_auc": lambda: skm.roc_auc_score(y == pos, score, sample_weight=w),
        "average_precision": lambda: skm.average_precision_score(
            y, score, pos_label=pos, sample_weight=w
        ),
        "brier_score": lambda: skm.brier_score_loss(y, score, pos_label=pos, sample_weight=w),
        "f1": lambda: skm.f1_score(y, y_pred, pos_label=pos, sample_weight=w),
        "precision": lambda: skm.precision_score(y, y_pred, pos_label=pos, sample_weight=w),
        "recall": lambda: skm.recall_score(y, y_pred, pos_label=pos, sample_weight=w),
        "roc_auc_ovr": lambda: skm.roc_auc_score(
            y, d.proba, multi_class="ovr", average="macro", labels=labels, sample_weight=w
        ),
        "log_loss": lambda: skm.log_loss(y, d.proba, labels=labels, sample_weight=w),
        "accuracy": lambda: skm.accuracy_score(y, y_pred, sample_weight=w),
        "balanced_accuracy": lambda: skm.balanced_accuracy_score(y, y_pred, sample_weight=w),
        "f1_macro": lambda: skm.f1_score(y, y_pred, average="macro", sample_weight=w),
        "matthews_corrcoef": lambda: skm.matthews_corrcoef(y, y_pred, sample_weight=w),
    }[key]()


@pytest.mark.parametrize(("case", "metric"), _metric_params(CASES))
def test_weighted_metric_equals_sklearn_sample_weight(case, metric, seed):
    d = make_eval(case, seed)
    # Real-valued weights over two orders of magnitude, some rows weightless.
    w = np.random.default_rng(seed + 1).lognormal(0.0, 1.0, size=d.n)
    w[:10] = 0.0
    ours = metric.weighted(d, w[None, :])[0]
    assert ours == pytest.approx(_weighted_oracle(metric.key, d, w), rel=1e-9, abs=1e-12)


def _credit(seed: int = 0, n: int = 900) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(size=n) > 0).astype(int)
    return pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": y})


@pytest.fixture(scope="module")
def weighted_case():
    frame = _credit()
    train, test = frame.iloc[:600].reset_index(drop=True), frame.iloc[600:].reset_index(drop=True)
    model = LogisticRegression().fit(train[["a", "b", "c"]], train["y"])
    counts = np.random.default_rng(3).integers(1, 4, size=len(test))
    return train, test.assign(w=counts), model


def weighted_check(check_id: str, test, train, model):
    """One check of an audit weighted by column ``w``."""
    return auditor.audit(
        test=test, train=train, target="y", model=model, weight_column="w", select=[check_id]
    ).check(check_id)


def test_integer_weights_score_as_the_rows_repeated(weighted_case):
    train, test, model = weighted_case
    select = ["performance.holdout_metrics", "performance.calibration", "baseline.comparison"]
    weighted = auditor.audit(
        test=test, train=train, target="y", model=model, weight_column="w", select=select
    )
    repeated = test.loc[test.index.repeat(test["w"])].drop(columns="w").reset_index(drop=True)
    plain = auditor.audit(test=repeated, train=train, target="y", model=model, select=select)
    for check_id in ("performance.holdout_metrics", "performance.calibration"):
        ours = {m.key: m.value for m in weighted.check(check_id).measurements}
        theirs = {m.key: m.value for m in plain.check(check_id).measurements}
        for key in ("roc_auc", "accuracy", "log_loss", "brier_score", "expected_calibration_error"):
            if key in theirs:
                assert ours[key] == pytest.approx(theirs[key], rel=1e-9), key
    # The weighted interval rests on the effective size, not on the repeated row count.
    acc_weighted = weighted.check("performance.holdout_metrics").measurement("accuracy")
    acc_repeated = plain.check("performance.holdout_metrics").measurement("accuracy")
    assert acc_weighted.ci_high - acc_weighted.ci_low > acc_repeated.ci_high - acc_repeated.ci_low
    assert "weighted by 'w'" in weighted.check("performance.holdout_metrics").summary
    assert any("weighted by column 'w'" in note for note in weighted.manifest["notes"])


def test_weights_change_the_metrics_when_they_should(weighted_case):
    train, test, model = weighted_case
    wrong = model.predict(test[["a", "b", "c"]]) != test["y"]
    # All the weight on the rows the model gets wrong: weighted accuracy is near zero.
    heavy = test.assign(w=np.where(wrong, 100.0, 0.01))
    holdout = weighted_check("performance.holdout_metrics", heavy, train, model)
    accuracy = holdout.measurement("accuracy").value
    expected = skm.accuracy_score(
        test["y"], model.predict(test[["a", "b", "c"]]), sample_weight=heavy["w"]
    )
    assert accuracy == pytest.approx(expected)
    assert accuracy < 0.05


@pytest.mark.parametrize(
    ("weights", "words"),
    [
        ([-1.0], "negative"),
        ([np.nan], "missing"),
        (["heavy"], "not numbers"),
        ([0.0], "zero on every"),
    ],
)
def test_a_bad_weight_column_is_refused_in_one_line(tmp_path, weights, words):
    frame = _credit(n=60)
    if weights == [0.0]:
        frame["w"] = 0.0
    else:
        frame["w"] = pd.Series([1.0] * len(frame), dtype=object)
        frame.loc[5, "w"] = weights[0]
        frame["w"] = frame["w"].astype(str if weights == ["heavy"] else float)
    path = tmp_path / "test.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "out"
    run = CliRunner().invoke(
        app,
        [
            "audit",
            "--test",
            str(path),
            "--target",
            "y",
            "--weight-column",
            "w",
            "--out-dir",
            str(out),
        ],
    )
    assert_bad_input(run, out, words, "--weight-column 'w'")


def test_the_weight_column_is_never_a_feature(weighted_case):
    train, test, model = weighted_case
    result = auditor.audit(
        test=test,
        train=train.assign(w=1.0),
        target="y",
        model=model,
        weight_column="w",
        select=["data.feature_drift"],
    )
    assert "w" not in result.manifest["columns"]["features"]
    assert result.manifest["columns"]["weight"] == "w"


def test_holdout_scores_record_the_effective_number_of_rows(weighted_case):
    train, test, model = weighted_case
    w = test["w"].to_numpy(dtype=float)
    holdout = weighted_check("performance.holdout_metrics", test, train, model)
    rows = holdout.measurement("effective_test_rows").value
    assert rows == pytest.approx(w.sum() ** 2 / (w**2).sum())


def test_weighted_quantiles_equal_the_quantiles_of_repeated_rows(seed):
    from auditor.stats.calibration import weighted_quantile

    rng = np.random.default_rng(seed)
    levels = np.linspace(0.0, 1.0, 11)
    for _ in range(200):
        n = int(rng.integers(1, 30))
        values = np.round(rng.normal(size=n), 1)  # ties included
        counts = rng.integers(0, 4, size=n)
        counts[0] = 1  # weights count in units of the smallest: 1 here
        expected = np.quantile(np.repeat(values, counts), levels)
        assert weighted_quantile(values, levels, counts) == pytest.approx(expected)
        assert weighted_quantile(values, levels, counts / 7.0) == pytest.approx(expected)


def test_calibration_is_the_same_whatever_the_scale_of_the_weights(weighted_case):
    train, test, model = weighted_case
    proba = model.predict_proba(test[["a", "b", "c"]])[:, 1]
    # Weights summing to 1, and a band of probabilities that weighs nothing at all.
    weights = np.where((proba > 0.3) & (proba < 0.7), 0.0, test["w"].to_numpy(dtype=float))

    def calibration(scale: float):
        result = weighted_check(
            "performance.calibration", test.assign(w=weights * scale), train, model
        )
        assert result.status != "error", result.error
        return result

    small, large = calibration(1 / weights.sum()), calibration(1_000 / weights.sum())
    assert small.measurement("expected_calibration_error").value == pytest.approx(
        large.measurement("expected_calibration_error").value
    )
    bins = next(t for t in small.tables if t.key == "reliability_bins")
    assert len(bins.rows) >= 8


def test_weighted_test_rows_are_not_held_against_unweighted_cross_validation(weighted_case):
    train, test, model = weighted_case
    # Rows near the boundary weigh five times as much in the test data only.
    heavy = test.assign(w=np.where(test["a"].abs() < 0.5, 5.0, 1.0))
    result = weighted_check("performance.overfit", heavy, train, model)
    assert "describe different populations" in result.summary
    assert result.measurement("cv_holdout_gap") is None
    assert not [f for f in result.findings if f.code.startswith("holdout")]
    # With the weights in the training data too, the comparison runs.
    both = weighted_check(
        "performance.overfit",
        heavy,
        train.assign(w=np.where(train["a"].abs() < 0.5, 5.0, 1.0)),
        model,
    )
    assert both.measurement("cv_holdout_gap") is not None
