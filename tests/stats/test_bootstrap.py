"""The vectorized bootstrap against scipy.stats.bootstrap, and its building blocks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from auditor.stats import bootstrap
from auditor.stats.bootstrap import bootstrap_statistics, percentile_interval, resample_weights
from auditor.stats.random import rng_for


def weighted_mean(x: np.ndarray):
    return lambda W: (W @ x) / W.sum(axis=1)


# --- resample_weights --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "n_resamples", "chunk_cells", "chunk_rows"),
    [
        pytest.param(37, 10, 4_000_000, [10], id="one_chunk"),
        pytest.param(37, 10, 37 * 4, [4, 4, 2], id="three_chunks"),
        pytest.param(5, 3, 1, [1, 1, 1], id="chunk_smaller_than_a_row"),
    ],
)
def test_resample_weights_chunks_have_declared_shapes_and_rows_sum_to_n(
    n, n_resamples, chunk_cells, chunk_rows, seed, monkeypatch
):
    monkeypatch.setattr(bootstrap, "_CHUNK_CELLS", chunk_cells)
    chunks = list(resample_weights(n, n_resamples, np.random.default_rng(seed)))
    assert [c.shape for c in chunks] == [(rows, n) for rows in chunk_rows]
    for chunk in chunks:
        assert chunk.dtype == np.float64
        assert (chunk >= 0).all()
        assert (chunk == np.round(chunk)).all()
        assert (chunk.sum(axis=1) == n).all()


def test_resample_weights_are_counts_of_the_generator_draws(seed, monkeypatch):
    # Oracle for the vectorized bincount: each row counts one row of rng.integers(0, n).
    n, n_resamples = 23, 9
    monkeypatch.setattr(bootstrap, "_CHUNK_CELLS", n * 4)
    got = np.vstack(list(resample_weights(n, n_resamples, np.random.default_rng(seed))))
    rng = np.random.default_rng(seed)
    expected = []
    for size in (4, 4, 1):
        draws = rng.integers(0, n, size=(size, n))
        expected.extend(np.bincount(row, minlength=n) for row in draws)
    np.testing.assert_array_equal(got, np.array(expected, dtype=float))


def test_resample_weights_same_seed_same_stream_other_seed_other_stream(seed, monkeypatch):
    monkeypatch.setattr(bootstrap, "_CHUNK_CELLS", 50 * 7)

    def draw(s: int) -> np.ndarray:
        return np.vstack(list(resample_weights(50, 20, np.random.default_rng(s))))

    np.testing.assert_array_equal(draw(seed), draw(seed))
    assert not np.array_equal(draw(seed), draw(seed + 1))


# --- bootstrap_statistics and percentile_interval ----------------------------------------


def test_mean_interval_agrees_with_scipy_percentile_bootstrap(seed):
    n, n_resamples = 400, 10_000
    x = np.random.default_rng(seed).normal(size=n)
    replicates = bootstrap_statistics(
        {"mean": weighted_mean(x)}, n, n_resamples=n_resamples, rng=rng_for(seed, "test")
    )["mean"]
    low, high = percentile_interval(replicates, 0.95)
    reference = stats.bootstrap(
        (x,),
        np.mean,
        n_resamples=n_resamples,
        confidence_level=0.95,
        method="percentile",
        rng=np.random.default_rng(seed + 1),
    ).confidence_interval
    # Two independent Monte-Carlo estimates: their ends differ by ~0.002 (sd) here.
    assert low == pytest.approx(reference.low, abs=0.01)
    assert high == pytest.approx(reference.high, abs=0.01)
    assert replicates.std() == pytest.approx(x.std() / np.sqrt(n), rel=0.05)


def test_statistics_share_the_same_resamples(seed):
    x = np.random.default_rng(seed).normal(size=200)
    out = bootstrap_statistics(
        {"mean": weighted_mean(x), "double": weighted_mean(2 * x)},
        x.size,
        n_resamples=300,
        rng=np.random.default_rng(seed),
    )
    assert out["mean"].shape == out["double"].shape == (300,)
    np.testing.assert_allclose(out["double"], 2 * out["mean"], rtol=1e-14)


def test_bootstrap_statistics_concatenates_chunks_to_n_resamples(seed, monkeypatch):
    monkeypatch.setattr(bootstrap, "_CHUNK_CELLS", 100 * 7)
    x = np.random.default_rng(seed).normal(size=100)
    out = bootstrap_statistics(
        {"mean": weighted_mean(x)}, x.size, n_resamples=50, rng=np.random.default_rng(seed)
    )
    rng = np.random.default_rng(seed)
    expected = np.concatenate([weighted_mean(x)(W) for W in resample_weights(100, 50, rng)])
    np.testing.assert_array_equal(out["mean"], expected)


def _mean_interval(n: int, seed: int) -> tuple[float, float, float]:
    x = np.random.default_rng(seed).exponential(size=n)
    replicates = bootstrap_statistics(
        {"mean": weighted_mean(x)}, n, n_resamples=2000, rng=rng_for(seed, "width")
    )["mean"]
    low, high = percentile_interval(replicates)
    return x.mean(), low, high


@pytest.mark.parametrize("n", [100, 400, 1600])
def test_interval_contains_the_estimate(n, seed):
    estimate, low, high = _mean_interval(n, seed)
    assert low < estimate < high


def test_interval_width_shrinks_with_n(seed):
    widths = [high - low for _, low, high in (_mean_interval(n, seed) for n in (100, 1600))]
    # The width scales as 1/sqrt(n): a 16x larger sample gives a ~4x narrower interval.
    assert widths[1] < widths[0] / 2


@pytest.mark.parametrize(
    ("n_undefined", "defined"),
    [
        pytest.param(50, True, id="5pct_nan_kept"),
        pytest.param(51, False, id="over_5pct_nan_dropped"),
        pytest.param(200, False, id="20pct_nan_dropped"),
    ],
)
def test_percentile_interval_refuses_too_many_undefined_replicates(n_undefined, defined, seed):
    replicates = np.random.default_rng(seed).normal(size=1000)
    replicates[: n_undefined - 1] = np.nan
    replicates[n_undefined - 1] = np.inf  # inf is as undefined as NaN
    low, high = percentile_interval(replicates, 0.95)
    if defined:
        finite = replicates[n_undefined:]
        assert (low, high) == pytest.approx(np.quantile(finite, [0.025, 0.975]), rel=1e-12)
    else:
        assert (low, high) == (None, None)


@pytest.mark.parametrize("level", [0.8, 0.9, 0.99])
def test_percentile_interval_uses_the_level(level, seed):
    replicates = np.random.default_rng(seed).normal(size=500)
    alpha = (1 - level) / 2
    expected = np.quantile(replicates, [alpha, 1 - alpha])
    assert percentile_interval(replicates, level) == pytest.approx(expected, rel=1e-12)


def test_percentile_interval_needs_two_finite_replicates():
    assert percentile_interval(np.array([0.5])) == (None, None)


# --- rng_for -------------------------------------------------------------------------------


def test_rng_for_same_inputs_same_stream(seed):
    np.testing.assert_array_equal(
        rng_for(seed, "performance.holdout_metrics").random(8),
        rng_for(seed, "performance.holdout_metrics").random(8),
    )


@pytest.mark.parametrize(
    ("other_seed_offset", "other_name"),
    [
        pytest.param(0, "data.missing_values", id="other_name"),
        pytest.param(1, "performance.holdout_metrics", id="other_seed"),
    ],
)
def test_rng_for_other_inputs_other_stream(other_seed_offset, other_name, seed):
    first = rng_for(seed, "performance.holdout_metrics").random(8)
    other = rng_for(seed + other_seed_offset, other_name).random(8)
    assert not np.any(first == other)
