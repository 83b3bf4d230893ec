"""Quantile bins, ECE, its null distribution and the Brier decomposition, by hand."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss

from auditor.stats.calibration import (
    brier_decomposition,
    ece_if_calibrated,
    quantile_bins,
    reliability_bins,
    weighted_ece,
)


def test_quantile_bins_hold_equal_counts_of_distinct_scores():
    scores = np.random.default_rng(0).random(1000)
    bins = quantile_bins(scores, 10)
    assert np.bincount(bins).tolist() == [100] * 10
    order = np.argsort(scores)
    assert (np.diff(bins[order]) >= 0).all()  # bins are in score order


def test_tied_scores_share_a_bin_and_empty_bins_are_dropped():
    scores = np.array([0.1] * 6 + [0.2, 0.3, 0.4, 0.5])
    bins = quantile_bins(scores, 5)
    assert len(set(bins[:6])) == 1
    assert bins.max() + 1 == len(np.unique(bins))
    assert quantile_bins(np.full(7, 0.3), 10).tolist() == [0] * 7


def test_ece_equals_a_hand_computation():
    scores = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.9])
    outcomes = np.array([0, 1, 0, 1, 1, 0])
    bins = quantile_bins(scores, 2)
    assert bins.tolist() == [0, 0, 0, 1, 1, 1]
    # Bin 1: mean score 0.2, observed 1/3; bin 2: mean score 0.7333, observed 2/3.
    expected = 0.5 * abs(1 / 3 - 0.2) + 0.5 * abs(2 / 3 - 2.2 / 3)
    ece = weighted_ece(scores, outcomes, bins, np.ones((1, 6)))
    assert ece == pytest.approx([expected], abs=1e-15)
    table = reliability_bins(scores, outcomes, bins)
    assert [(b.rows, b.positives) for b in table] == [(3, 1), (3, 2)]
    assert table[1].mean_score == pytest.approx(2.2 / 3)
    assert (table[0].score_low, table[0].score_high) == (0.1, 0.3)


def test_count_weights_equal_repeated_rows():
    rng = np.random.default_rng(1)
    scores, outcomes = rng.random(50), (rng.random(50) < 0.4).astype(float)
    bins = quantile_bins(scores, 5)
    counts = rng.integers(0, 4, 50).astype(float)
    repeated = np.repeat(np.arange(50), counts.astype(int))
    direct = weighted_ece(
        scores[repeated], outcomes[repeated], bins[repeated], np.ones((1, repeated.size))
    )
    assert weighted_ece(scores, outcomes, bins, counts[None, :]) == pytest.approx(direct)


def test_brier_decomposition_identity_on_binned_probabilities():
    rng = np.random.default_rng(2)
    p = rng.beta(2, 5, 800)
    y = (rng.random(800) < np.clip(p * 1.3, 0, 1)).astype(float)
    bins = quantile_bins(p, 10)
    parts = brier_decomposition(p, y, bins)
    means = np.array([p[bins == b].mean() for b in range(bins.max() + 1)])
    binned = means[bins]
    assert parts.binned_brier_score == pytest.approx(np.mean((binned - y) ** 2), abs=1e-14)
    assert parts.brier_score == pytest.approx(brier_score_loss(y, p), abs=1e-14)
    assert parts.uncertainty == pytest.approx(y.mean() * (1 - y.mean()))
    assert parts.reliability >= 0
    assert parts.resolution >= 0
    # The raw Brier score differs from the binned one only by the spread within bins.
    assert abs(parts.brier_score - parts.binned_brier_score) < 0.01


def test_ece_of_a_calibrated_model_matches_its_theoretical_noise():
    # One bin of scores 0.5 (all tied): ECE = |mean outcome - 0.5|, whose mean under
    # calibration is sqrt(0.25 / n) * sqrt(2 / pi).
    n = 2000
    draws = ece_if_calibrated(
        np.full(n, 0.5), np.zeros(n, dtype=np.intp), 4000, np.random.default_rng(3)
    )
    assert draws.mean() == pytest.approx(np.sqrt(0.25 / n) * np.sqrt(2 / np.pi), rel=0.05)
