"""Small simulations: intervals cover the truth, paired tests hold their level under the null.

The full versions (hundreds of runs, the checks end to end) are in
benchmarks/validate_statistics.py; these keep the suite fast and fail on gross errors.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from scipy.stats import rankdata

from auditor.metrics import METRICS_BY_KEY, EvalData
from auditor.stats.bootstrap import bootstrap_statistics, percentile_interval
from auditor.stats.paired import corrected_resampled_t_test


def _population(n: int, rng: np.random.Generator):
    """y ~ Bernoulli(sigmoid(1.5 x - 1)); a fixed model scores sigmoid(1.2 x - 0.8)."""
    x = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(1.5 * x - 1)))).astype(np.intp)
    p = 1 / (1 + np.exp(-(1.2 * x - 0.8)))
    return y, p


def _eval(y, p) -> EvalData:
    return EvalData("binary", y, (p >= 0.5).astype(np.intp), np.column_stack([1 - p, p]), (0, 1), 1)


@pytest.fixture(scope="module")
def truth():
    y, p = _population(1_000_000, np.random.default_rng(12345))
    data = _eval(y, p)
    ones = np.ones((1, data.n))
    return {
        key: float(METRICS_BY_KEY[key].weighted(data, ones)[0]) for key in ("roc_auc", "accuracy")
    }


def test_bootstrap_intervals_of_holdout_metrics_cover_the_truth(truth):
    rng = np.random.default_rng(0)
    runs, covered = 200, {key: 0 for key in truth}
    for _ in range(runs):
        data = _eval(*_population(400, rng))
        statistics = {key: partial(METRICS_BY_KEY[key].weighted, data) for key in truth}
        replicates = bootstrap_statistics(statistics, data.n, n_resamples=300, rng=rng)
        for key, value in truth.items():
            low, high = percentile_interval(replicates[key])
            covered[key] += low <= value <= high
    for key in truth:
        assert 0.89 <= covered[key] / runs <= 0.99, (key, covered[key] / runs)


def test_paired_bootstrap_of_two_equally_good_scores_rarely_rejects():
    rng = np.random.default_rng(1)
    auc = METRICS_BY_KEY["roc_auc"]
    runs, rejected = 150, 0
    for _ in range(runs):
        x1, x2 = rng.normal(size=(2, 400))
        y = (rng.random(400) < 1 / (1 + np.exp(-(x1 + x2)))).astype(np.intp)
        first, second = (_eval(y, 1 / (1 + np.exp(-x))) for x in (x1, x2))
        replicates = bootstrap_statistics(
            {"a": partial(auc.weighted, first), "b": partial(auc.weighted, second)},
            400,
            n_resamples=300,
            rng=rng,
        )
        low, _ = percentile_interval(replicates["a"] - replicates["b"])
        rejected += low > 0
    assert rejected / runs <= 0.08


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    """Mann-Whitney AUC from ranks (scikit-learn's value, without its input validation)."""
    ranks = rankdata(score)
    positives = y == 1
    n1, n0 = positives.sum(), (~positives).sum()
    return float((ranks[positives].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _fold_aucs(X: np.ndarray, y: np.ndarray, folds) -> np.ndarray:
    """AUC on each validation fold of a least-squares linear score fitted on the rest."""
    out = []
    design = np.column_stack([np.ones(len(X)), X])
    for fit_rows, valid_rows in folds:
        beta = np.linalg.lstsq(design[fit_rows], y[fit_rows], rcond=None)[0]
        out.append(_auc(y[valid_rows], design[valid_rows] @ beta))
    return np.array(out)


def test_corrected_t_test_holds_its_level_for_equally_good_learners():
    # Two learners of equal expected skill: one signal feature each plus noise features
    # whose fitted coefficients vary with the training rows.
    rng = np.random.default_rng(2)
    runs, corrected, naive = 400, 0, 0
    for _ in range(runs):
        n = 200
        signal = rng.normal(size=(n, 2))
        y = (rng.random(n) < 1 / (1 + np.exp(-signal.sum(axis=1)))).astype(float)
        noise = rng.normal(size=(n, 8))
        order = rng.permutation(n)
        folds = [(np.setdiff1d(order, part), part) for part in np.array_split(order, 5)]
        a = _fold_aucs(np.column_stack([signal[:, 0], noise[:, :4]]), y, folds)
        b = _fold_aucs(np.column_stack([signal[:, 1], noise[:, 4:]]), y, folds)
        test = corrected_resampled_t_test(a - b, n_train=160, n_test=40)
        corrected += test.p_value < 0.05
        naive_t = (a - b).mean() / ((a - b).std(ddof=1) / np.sqrt(5))
        naive += naive_t > 2.132  # t(4) 95% quantile: the uncorrected paired t-test
    assert corrected / runs <= 0.08
    assert corrected <= naive
