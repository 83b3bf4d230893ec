"""``performance.calibration``: reliability bins, ECE and its noise, Brier parts, thresholds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import brier_score_loss, f1_score

from _factories_evaluation import context, fitted, linear_model, predictions_frame, run, split
from auditor.errors import InputError

CHECK_ID = "performance.calibration"


def scored(n: int, seed: int, distort=lambda p: p):
    """Test rows whose label is drawn from p, and predictions that report distort(p)."""
    rng = np.random.default_rng(seed)
    p = rng.beta(1.2, 3.0, n)
    y = (rng.random(n) < p).astype(int)
    reported = np.clip(distort(p), 0, 1)
    test = pd.DataFrame({"x0": rng.normal(size=n), "y": y})
    predictions = pd.DataFrame({"prediction": (reported >= 0.5).astype(int), "proba_1": reported})
    return test, predictions, reported


def check(n=1500, seed=0, distort=lambda p: p, **params):
    test, predictions, reported = scored(n, seed, distort)
    result = run(context(None, test, predictions=predictions), CHECK_ID, **params)
    return result, test["y"].to_numpy(), reported


def test_calibrated_probabilities_pass_in_predictions_only_mode():
    result, _, _ = check()
    assert result.status == "pass"
    assert result.findings == ()
    ece = result.measurement("expected_calibration_error")
    null = result.measurement("ece_if_calibrated")
    assert ece.value < 0.05
    assert 0.01 < null.value < 0.04  # what noise alone gives on 1,500 rows
    assert result.measurement("calibration_p_value").value > 0.05


def test_ece_and_bins_equal_a_recomputation():
    result, y, p = check(seed=1)
    edges = np.quantile(p, np.linspace(0, 1, 11))
    bins = np.searchsorted(np.unique(edges[1:-1]), p, side="right")
    expected = sum(
        (bins == b).mean() * abs(y[bins == b].mean() - p[bins == b].mean()) for b in range(10)
    )
    assert result.measurement("expected_calibration_error").value == pytest.approx(expected)
    table = result.tables[0]
    assert [row[3] for row in table.rows] == [150] * 10
    for row, b in zip(table.rows, range(10), strict=True):
        positives = int(y[bins == b].sum())
        ci = stats.binomtest(positives, 150).proportion_ci(method="wilson")
        assert row[5] == pytest.approx(positives / 150)
        assert (row[6], row[7]) == pytest.approx((ci.low, ci.high), abs=1e-12)
    (band,) = result.curves[0].series
    assert band.y_low == pytest.approx([row[6] for row in table.rows])
    assert band.counts == tuple(row[3] for row in table.rows)


def test_overconfident_probabilities_warn():
    result, _, _ = check(distort=lambda p: p**0.5)  # pushed up: probabilities too high
    assert result.status == "warn"
    (finding,) = result.findings
    assert finding.code == "miscalibrated"
    assert finding.severity == "medium"
    assert "too high" in finding.message
    assert finding.evidence["p_value"] < 0.05
    low = result.measurement("expected_calibration_error").ci_low
    assert low > result.measurement("ece_if_calibrated").ci_high


def test_ece_above_the_level_within_noise_is_only_a_low_finding():
    # On 120 rows a calibrated model shows an ECE near 0.08 by chance alone.
    result, _, _ = check(n=120, seed=2)
    assert result.status == "pass"
    assert [f.code for f in result.findings] == ["miscalibration_within_noise"]
    assert result.measurement("expected_calibration_error").value >= 0.05


def test_warning_level_boundary():
    result, _, _ = check(distort=lambda p: p**0.5)
    ece = result.measurement("expected_calibration_error").value
    assert check(distort=lambda p: p**0.5, warn_ece=ece + 1e-9)[0].status == "pass"
    assert check(distort=lambda p: p**0.5, warn_ece=ece)[0].status == "warn"


def test_brier_decomposition_and_threshold_analysis():
    result, y, p = check(seed=3)
    assert result.measurement("brier_score").value == pytest.approx(brier_score_loss(y, p))
    parts = [
        result.measurement(f"brier_{k}").value for k in ("reliability", "resolution", "uncertainty")
    ]
    assert parts[2] == pytest.approx(y.mean() * (1 - y.mean()))
    assert parts[0] - parts[1] + parts[2] == pytest.approx(
        result.measurement("brier_score").value, abs=0.01
    )
    best = max(np.unique(p), key=lambda t: f1_score(y, p >= t))
    assert result.measurement("f1_optimal_threshold").value == best
    assert result.measurement("f1_at_optimal_threshold").value == pytest.approx(
        f1_score(y, p >= best)
    )
    threshold = result.curves[1]
    names = [s.name for s in threshold.series]
    assert names[:3] == ["precision", "recall", "F1"]
    assert best in threshold.series[2].x
    # The best threshold is marked as a point of its own, named in the legend.
    (best_point,) = zip(threshold.series[3].x, threshold.series[3].y, strict=True)
    assert best_point == pytest.approx((best, f1_score(y, p >= best)))
    assert names[3] == f"highest F1: {best_point[1]:.3f} at threshold {best:.3f}"


def test_multiclass_uses_the_top_label_confidence():
    train, test = split("multiclass", 40)
    model = fitted(linear_model("multiclass"), train)
    result = run(context(train, test, model), CHECK_ID)
    proba = model.predict_proba(test.drop(columns="y"))
    confidence = proba.max(axis=1)
    correct = model.classes_[proba.argmax(axis=1)] == test["y"].to_numpy()
    assert "top-label confidence" in result.summary
    assert result.measurement("brier_score") is None
    assert len(result.curves) == 1
    table = result.tables[0]
    assert sum(row[3] for row in table.rows) == len(test)
    (reliability,) = result.curves
    assert sum(reliability.series[0].counts) == len(test)
    assert "over-confident" in reliability.caption
    assert sum(row[3] * row[5] for row in table.rows) == pytest.approx(correct.sum())
    assert sum(row[3] * row[4] for row in table.rows) == pytest.approx(confidence.sum())


def test_model_predictions_and_the_predictions_file_agree():
    train, test = split("binary", 41)
    model = fitted(linear_model("binary"), train)
    from_model = run(context(train, test, model), CHECK_ID)
    from_file = run(context(train, test, predictions=predictions_frame(model, test)), CHECK_ID)
    assert from_model.measurements == from_file.measurements


def test_regression_and_labels_only_are_skipped():
    train, test = split("regression", 42)
    result = run(context(train, test, fitted(linear_model("regression"), train)), CHECK_ID)
    assert (result.status, result.skip_reason) == (
        "skipped",
        "it does not apply to regression tasks",
    )
    train, test = split("binary", 42)
    labels = predictions_frame(fitted(linear_model("binary"), train), test)[["prediction"]]
    result = run(context(train, test, predictions=labels), CHECK_ID)
    assert (result.status, result.skip_reason) == (
        "skipped",
        "the predictions have no class probabilities",
    )


def test_invalid_parameters_are_input_errors():
    from auditor.registry import build_params, load_registry

    with pytest.raises(InputError, match="'n_bins' must be at least 2, got 1"):
        build_params(load_registry()[CHECK_ID], {"n_bins": 1})
    with pytest.raises(InputError, match="'warn_ece' is a share between 0 and 1, got 5"):
        build_params(load_registry()[CHECK_ID], {"warn_ece": 5})
