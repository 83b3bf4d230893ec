"""``performance.calibration`` with ``--engine dask``: every row against the in-memory code.

The threshold curve comes from the holdout cells (exact at each logit bin's lower edge),
the p-value and ``ece_if_calibrated`` from a null simulated from the calibration cells'
per-bin sums (within Monte-Carlo error of the in-memory simulation on the same rows and
bins); a planted miscalibration is flagged and a calibrated model is not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed")

from tests.dask.test_dask_engine import (  # noqa: E402
    _calibration_equals_in_memory,
    measurements,
    write_parts,
)

from auditor.api import run_audit  # noqa: E402
from auditor.engine.partitioned import calibration  # noqa: E402
from auditor.engine.partitioned.partials import (  # noqa: E402
    FINE_BINS,
    calibration_cells,
    score_bins,
)
from auditor.spec import AuditSpec, EngineSettings  # noqa: E402
from auditor.stats.calibration import ece_if_calibrated, weighted_ece  # noqa: E402
from auditor.stats.random import rng_for  # noqa: E402

CHECK = "performance.calibration"
DRAWS = 1000  # the audit's bootstrap_resamples: the null's draws


def scored(n: int, seed: int, power: float = 1.0) -> pd.DataFrame:
    """Scores spread over (0, 1) and labels drawn as Bernoulli(score ** power): calibrated
    for ``power`` 1, over-confident below the diagonal otherwise."""
    rng = np.random.default_rng(seed)
    score = rng.beta(0.6, 1.5, n)
    label = (rng.random(n) < score**power).astype(int)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "label": label,
            "prediction": (score >= 0.5).astype(int),
            "proba_1": score,
        }
    )


def scored_multiclass(n: int, seed: int) -> pd.DataFrame:
    """Three classes, labels drawn from the probabilities raised to the power 1.5 and
    renormalised: the top label is right less often than its confidence says."""
    rng = np.random.default_rng(seed)
    classes = np.array(["a", "b", "c"])
    proba = rng.dirichlet([2.0, 1.0, 1.0], size=n)
    truth = proba**1.5 / (proba**1.5).sum(axis=1, keepdims=True)
    label = (truth.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1)
    frame = pd.DataFrame({"x": rng.normal(size=n), "label": classes[label]})
    frame["prediction"] = classes[proba.argmax(axis=1)]
    for j, c in enumerate(classes):
        frame[f"proba_{c}"] = proba[:, j]
    return frame


def calibration_rows(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Every row's calibration score and outcome, as the check reads them: binary, the
    positive class's probability and whether the row is positive; multiclass, the
    top-label confidence and whether the top label is right."""
    if "proba_1" in frame:
        return frame.proba_1.to_numpy(), (frame.label == 1).to_numpy(float)
    proba = frame.filter(like="proba_").to_numpy()
    top = frame.filter(like="proba_").columns.str.removeprefix("proba_")[proba.argmax(axis=1)]
    return proba.max(axis=1), (frame.label.to_numpy() == top).astype(float)


def dask_calibration(address: str, frame: pd.DataFrame, folder, sample_rows: int = 1000):
    engine = EngineSettings(name="dask", address=address, sample_rows=sample_rows)
    spec = AuditSpec(test=str(write_parts(frame, folder)), target="label", engine=engine)
    result = run_audit(spec, select=[CHECK])
    return result, next(c for c in result.checks if c.id == CHECK)


def table_bins(check, scores: np.ndarray) -> np.ndarray:
    """Each row's reliability bin as the Dask check cut them (a bin starts at its lowest
    score, read off the table)."""
    rows = next(t for t in check.tables if t.key == "reliability_bins").rows
    return np.searchsorted(np.array([r[1] for r in rows[1:]]), scores, side="right")


@pytest.fixture(scope="module")
def calibrated(cluster, tmp_path_factory):
    frame = scored(4000, seed=11)
    return frame, *dask_calibration(cluster, frame, tmp_path_factory.mktemp("calibrated") / "p")


@pytest.fixture(scope="module")
def multiclass(cluster, tmp_path_factory):
    frame = scored_multiclass(4000, seed=16)
    return frame, *dask_calibration(cluster, frame, tmp_path_factory.mktemp("multiclass") / "p")


def test_threshold_curve_is_every_rows_at_each_logit_bin_edge(calibrated):
    from auditor.checks.performance.calibration import _threshold_curve

    frame, result, check = calibrated
    scores, positive = frame.proba_1.to_numpy(), frame.label.to_numpy() == 1
    curve = next(c for c in check.curves if c.key == "threshold_metrics")
    precision, recall = curve.series[0], curve.series[1]
    assert len(precision.x) > 100
    for t, p, r in zip(precision.x, precision.y, recall.y, strict=True):
        flagged = scores >= t  # the raw scores against the edge: exact, every row
        assert p == pytest.approx(positive[flagged].mean(), rel=1e-12), t
        assert r == pytest.approx(positive[flagged].sum() / positive.sum(), rel=1e-12), t
    # Every binned point is a point of the raw curve: its best F1 is at most the raw one's,
    # short by at most what moving one row across a threshold does (1 / positives).
    _, _, raw_best = _threshold_curve(scores, positive.astype(float), None, "label = 1")
    best = measurements(result, CHECK)["f1_at_optimal_threshold"].value
    assert raw_best - 1 / positive.sum() <= best <= raw_best + 1e-12
    assert "logit scale" in curve.caption
    assert "threshold curve" not in measurements(result, CHECK)["rows_used"].note


def test_null_from_every_row_agrees_with_the_row_simulation(calibrated):
    frame, result, check = calibrated
    scores = frame.proba_1.to_numpy()
    outcomes = (frame.label == 1).to_numpy(float)
    assert _calibration_equals_in_memory(result, scores, outcomes) == 10
    bins = table_bins(check, scores)
    rows = ece_if_calibrated(scores, bins, DRAWS, rng_for(1, CHECK))
    ece = weighted_ece(scores, outcomes, bins, np.ones((1, scores.size)))[0]
    ours = measurements(result, CHECK)
    # Two independent sets of 1,000 draws: their means differ by about
    # sd * sqrt(2 / 1000); 4 such standard errors is far from a false alarm (6e-5), and a
    # null of 10% too large a spread moves the mean by 8.7 (measured).
    se = rows.std() * np.sqrt(2 / DRAWS)
    assert abs(ours["ece_if_calibrated"].value - rows.mean()) < 4 * se
    for end, q in (("ci_low", 0.025), ("ci_high", 0.975)):
        assert getattr(ours["ece_if_calibrated"], end) == pytest.approx(
            np.quantile(rows, q), abs=8 * se
        ), end
    # The p-value: a share of 1,000 draws, binomial error sqrt(p (1 - p) / 1000) each.
    p = (1 + np.sum(rows >= ece)) / (1 + DRAWS)
    assert abs(ours["calibration_p_value"].value - p) < 4 * np.sqrt(2 * p * (1 - p) / DRAWS) + 2e-3
    assert ours["calibration_p_value"].note is None


@pytest.mark.parametrize("task", ["calibrated", "multiclass"], ids=["binary", "multiclass"])
def test_ece_interval_from_every_rows_replicates_agrees_with_the_row_bootstrap(request, task):
    from auditor.stats.bootstrap import percentile_interval, resample_weights

    frame, result, check = request.getfixturevalue(task)
    scores, outcomes = calibration_rows(frame)
    bins = table_bins(check, scores)
    # The in-memory interval on the same rows and bins: 1,000 multinomial resamples, the
    # replicates shifted by their mean's bias, percentiles.
    ece = weighted_ece(scores, outcomes, bins, np.ones((1, scores.size)))[0]
    replicates = np.concatenate(
        [
            weighted_ece(scores, outcomes, bins, w)
            for w in resample_weights(scores.size, 1000, np.random.default_rng(3))
        ]
    )
    low, high = percentile_interval(np.maximum(replicates - (replicates.mean() - ece), 0), 0.95)
    ours = measurements(result, CHECK)["expected_calibration_error"]
    assert ours.value == pytest.approx(ece, abs=1e-12)
    # 200 Poisson replicates against 1,000 multinomial ones: each end moves by some 5% of
    # the width from Monte-Carlo error alone; 25% is far beyond it, far below a wrong
    # interval (the sample's, on a quarter of the rows, is about twice as wide).
    assert abs(ours.ci_low - low) < 0.25 * (high - low)
    assert abs(ours.ci_high - high) < 0.25 * (high - low)
    assert ours.note is None  # the interval reads every row
    assert measurements(result, CHECK)["rows_used"].note == f"all {scores.size:,} test rows"


def test_top_label_replicates_share_the_holdout_weights():
    """The multiclass partial's top-label replicates use the holdout's own Poisson weights:
    with the top label predicted, its right rows are the confusion's diagonal, so each
    replicate's weights of right rows are the diagonal's, exactly; and they merge by sum."""
    from auditor.engine.partitioned.hashing import splitmix64
    from auditor.engine.partitioned.partials import COARSE_BINS, multiclass_partial

    frame = scored_multiclass(40_000, seed=17)  # three blocks of weights
    proba = frame.filter(like="proba_").to_numpy()
    y = frame.label.map({"a": 0, "b": 1, "c": 2}).to_numpy()
    hashes = splitmix64(np.arange(y.size, dtype=np.uint64))
    whole = multiclass_partial(y, proba.argmax(axis=1), proba, hashes, 200)
    by_outcome = whole.top_label_rep.reshape(200, 2, COARSE_BINS).sum(axis=2)
    diagonal = whole.confusion_rep[:, [0, 4, 8]].sum(axis=1)
    np.testing.assert_array_equal(by_outcome[:, 1], diagonal)
    np.testing.assert_array_equal(by_outcome.sum(axis=1), whole.confusion_rep.sum(axis=1))
    half = y.size // 3
    parts = [
        multiclass_partial(y[s], proba[s].argmax(axis=1), proba[s], hashes[s], 200)
        for s in (slice(0, half), slice(half, None))
    ]
    np.testing.assert_allclose((parts[0] + parts[1]).top_label_rep, whole.top_label_rep, atol=1e-9)
    without = multiclass_partial(y, proba.argmax(axis=1), None, hashes, 200)
    assert without.top_label_rep.shape == (200, 0)


def _null_against_rows(scores: np.ndarray, draws: int):
    """The null from the cells' bin sums and the per-row simulation on the same rows and
    deciles (independent streams): the KS p-value between them, and both draws."""
    from scipy import stats

    rng = np.random.default_rng(0)
    cells = calibration_cells(scores, rng.random(scores.size) < scores)
    edges = np.unique(score_bins(np.quantile(scores, np.linspace(0, 1, 11)[1:-1]), FINE_BINS))
    merged = calibration.merged_bins(cells, edges)
    bins = np.searchsorted(edges, score_bins(scores, FINE_BINS), side="right")
    np.testing.assert_allclose(
        merged.variance, np.bincount(bins, weights=scores * (1 - scores)), rtol=1e-9
    )
    ours = merged.ece_if_calibrated(draws, np.random.default_rng(1))
    rows = ece_if_calibrated(scores, bins, draws, np.random.default_rng(2))
    return stats.ks_2samp(ours, rows).pvalue, ours, rows, merged


def test_null_by_bin_sums_matches_the_rows_with_both_kinds_of_bins():
    scores = scored(20_000, seed=12).proba_1.to_numpy()
    p, ours, rows, merged = _null_against_rows(scores, 4000)
    normal = merged.variance >= calibration.NORMAL_VARIANCE
    assert normal.any()  # both regimes drawn
    assert not normal.all()
    # Independent draws of one distribution: a two-sample KS p-value below 0.001 is a
    # 1-in-1,000 accident; a null of 10% too large a spread moves the mean by 17 of the
    # standard errors below (the tolerance is 4).
    assert p > 1e-3
    assert ours.mean() == pytest.approx(rows.mean(), abs=4 * rows.std() * np.sqrt(2 / 4000))


def test_rare_events_draw_every_bin_exactly():
    """Scores near 1% leave each bin a variance near 10, where the normal's E|D| is some
    1% too large: every bin draws its logit bins' binomials, and matches the rows."""
    scores = np.random.default_rng(14).beta(0.5, 40, 3000)
    p, ours, rows, merged = _null_against_rows(scores, 10_000)
    assert (merged.variance < calibration.NORMAL_VARIANCE).all()
    assert p > 1e-3
    assert ours.mean() == pytest.approx(rows.mean(), abs=4 * rows.std() * np.sqrt(2 / 10_000))


@pytest.mark.parametrize(
    ("power", "status", "code"),
    [(1.0, "pass", None), (1.6, "warn", "miscalibrated")],
    ids=["calibrated-not-flagged", "overconfident-flagged"],
)
def test_a_planted_miscalibration_is_flagged_on_every_row(
    cluster,
    tmp_path,
    power,
    status,
    code,
):
    frame = scored(4000, seed=13, power=power)
    _, check = dask_calibration(cluster, frame, tmp_path / "parts")
    assert check.status == status
    assert [f.code for f in check.findings] == ([code] if code else [])
    p_value = next(m for m in check.measurements if m.key == "calibration_p_value").value
    assert (p_value < 0.05) == (code is not None)


def test_drift_rank_test_from_float_bins_is_scipys_on_the_cut_values():
    """``data.feature_drift``'s scale-change rank test on every row: from the float-bin
    counts, Mann-Whitney's p-value of the non-zero magnitudes cut to their bins, exactly
    as scipy computes it on those values (ties, midranks, continuity)."""
    from scipy import stats

    from auditor.checks.data.feature_drift import _rank_test_binned
    from auditor.engine.partitioned.partials import (
        float_bin_values,
        float_bins,
        float_histogram,
    )

    rng = np.random.default_rng(15)
    signs = np.array([-1.0, 1.0])

    def column(n: int, scale: float) -> np.ndarray:
        x = rng.lognormal(3.0, 1.0, n) * scale * rng.choice(signs, n, p=[0.2, 0.8])
        x[rng.random(n) < 0.1] = 0.0  # zeros stay zeros under rescaling: left out
        return x

    for scale, shifted in ((1.0, False), (1.3, True)):
        a, b = column(3000, 1.0), column(2500, scale)
        hist_a, hist_b = float_histogram(pd.Series(a)), float_histogram(pd.Series(b))
        p = _rank_test_binned(
            hist_a.index.to_numpy(), hist_a.to_numpy(), hist_b.index.to_numpy(), hist_b.to_numpy()
        )
        cut_a, cut_b = (np.abs(float_bin_values(float_bins(x))) for x in (a, b))
        expected = stats.mannwhitneyu(
            cut_a[cut_a != 0], cut_b[cut_b != 0], alternative="two-sided", method="asymptotic"
        ).pvalue
        assert p == pytest.approx(expected, rel=1e-9, abs=1e-300), scale
        assert (p < 1e-6) == shifted, (scale, p)
