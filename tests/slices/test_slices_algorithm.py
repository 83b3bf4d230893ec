"""The slice-search library against brute-force oracles and scipy, on small data."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import mutual_info_score

from auditor.slices import (
    SearchConfig,
    SliceParams,
    SliceSearch,
    benjamini_hochberg,
    conditions_of,
    effective_range_count,
    encode_frame,
    find_slices,
    katz_interval,
    log_lattice_sizes,
    newcombe_interval,
    plan_search,
    slice_bound,
    slice_mask,
    slice_statistic,
    wilson_interval,
)
from auditor.slices.stats import fisher_greater, moments, moments_of_sums, welch_greater
from auditor.stats.multiple_testing import holm


def _direct_statistic(n: int, k: int, N: int, E: int) -> float:
    """Log-likelihood ratio of two binomial rates against one, from scipy's binomial pmf."""
    p1, p0, p = k / n, (E - k) / (N - n), E / N
    if p1 <= p0:
        return 0.0
    two = stats.binom.logpmf(k, n, p1) + stats.binom.logpmf(E - k, N - n, p0)
    one = stats.binom.logpmf(k, n, p) + stats.binom.logpmf(E - k, N - n, p)
    return float(two - one)


def test_statistic_matches_a_direct_likelihood_computation(seed):
    rng = np.random.default_rng(seed)
    for _ in range(300):
        N = int(rng.integers(20, 5000))
        E = int(rng.integers(1, N))
        n = int(rng.integers(1, N))
        k = int(rng.integers(max(0, E - (N - n)), min(n, E) + 1))
        expected = _direct_statistic(n, k, N, E)
        assert slice_statistic(n, k, N, E) == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_statistic_is_n_times_the_mutual_information(seed):
    rng = np.random.default_rng(seed)
    inside = rng.random(2000) < 0.1
    error = rng.random(2000) < np.where(inside, 0.4, 0.2)
    T = slice_statistic(inside.sum(), (inside & error).sum(), inside.size, error.sum())
    assert pytest.approx(inside.size * mutual_info_score(inside, error), rel=1e-9) == T


def test_statistic_is_zero_when_the_slice_is_not_worse():
    assert slice_statistic(100, 10, 1000, 200) == 0.0  # 10% inside, 21% outside
    assert slice_statistic(100, 20, 1000, 200) == 0.0  # equal rates
    assert slice_statistic(1000, 200, 1000, 200) == 0.0  # the whole set


def test_statistic_is_monotone_in_errors_and_rows(seed):
    rng = np.random.default_rng(seed)
    for _ in range(40):
        N = int(rng.integers(50, 800))
        E = int(rng.integers(1, N))
        n = np.arange(1, N)[:, None]
        k = np.arange(0, E + 1)[None, :]
        feasible = (k <= n) & (E - k <= N - n)
        T = np.where(feasible, slice_statistic(n, k, N, E), np.nan)
        more_errors = T[:, 1:] - T[:, :-1]
        more_rows = T[1:, :] - T[:-1, :]
        assert np.nanmin(more_errors) >= -1e-9
        assert np.nanmax(more_rows) <= 1e-9


def _categorical_frame(rng, n: int, n_features: int, levels: int) -> pd.DataFrame:
    return pd.DataFrame(
        {f"c{j}": rng.choice([f"v{i}" for i in range(levels)], n) for j in range(n_features)}
    )


def _all_slices(frame: pd.DataFrame, max_conditions: int):
    """Every conjunction of 'column == level' over distinct columns, as boolean masks."""
    items = [
        (c, v, (frame[c] == v).to_numpy()) for c in frame.columns for v in sorted(frame[c].unique())
    ]
    for level in range(1, max_conditions + 1):
        for combo in itertools.combinations(items, level):
            if len({c for c, _, _ in combo}) == level:
                yield combo, np.logical_and.reduce([m for _, _, m in combo])


def test_bound_dominates_every_descendant_on_random_lattices(seed):
    rng = np.random.default_rng(seed)
    for _ in range(5):
        frame = _categorical_frame(rng, 300, 4, 3)
        error = rng.random(300) < rng.uniform(0.1, 0.4)
        N, E, sigma = 300, int(error.sum()), int(rng.integers(3, 15))
        slices = [
            (frozenset((c, v) for c, v, _ in combo), mask) for combo, mask in _all_slices(frame, 3)
        ]
        stat = {key: (m.sum(), (m & error).sum()) for key, m in slices}
        for parent, (_n_p, k_p) in stat.items():
            bound = slice_bound(k_p, N, E, sigma)
            for child, (n_c, k_c) in stat.items():
                if parent < child and n_c >= sigma:
                    assert slice_statistic(n_c, k_c, N, E) <= bound + 1e-9


def _brute_force_top(frame, error, sigma, search, n_keep):
    """Top slices of the lattice (items only) by score, enumerated directly."""
    N, E = error.size, int(error.sum())
    lift = search._floor_lift
    difference = search._floor_difference
    scores = []
    for combo, mask in _all_slices(frame, 3):
        n, k = int(mask.sum()), int((mask & error).sum())
        if n < sigma or n == N:
            continue
        p1, p0 = k / n, (E - k) / (N - n)
        if not (p1 >= lift * p0 and p1 - p0 >= difference):
            continue
        T = float(slice_statistic(n, k, N, E))
        score = T - search.log_price[len(combo)]
        scores.append((score, frozenset((c, v) for c, v, _ in combo)))
    scores.sort(key=lambda t: -t[0])
    return scores[:n_keep]


@pytest.mark.parametrize("levels", [2, 3, 4])
def test_exact_top_k_equals_brute_force_enumeration(seed, levels):
    rng = np.random.default_rng([seed, levels])
    n = 600
    frame = _categorical_frame(rng, n, 5, levels)
    risky = (frame["c0"] == "v1").to_numpy() & (frame["c2"] == "v0").to_numpy()
    error = rng.random(n) < np.where(risky, 0.5, 0.2)
    sigma, n_keep = 15, 25
    features = encode_frame(
        frame, list(frame.columns), [], count_rows=np.arange(n), min_count=sigma
    )
    config = SearchConfig(min_rows=sigma, n_keep=n_keep, use_ranges=False, refine=False)
    search = SliceSearch(features, np.arange(n), np.flatnonzero(error)[None, :], config)
    search.run()
    found = search.pool_slices(0)
    expected = _brute_force_top(frame, error, sigma, search, n_keep)
    assert [s for _, s in found] == pytest.approx([s for s, _ in expected], abs=1e-9)
    as_sets = [
        frozenset((c["column"], c["value"]) for c in conditions_of(features, preds))
        for preds, _ in found
    ]
    # Same slices, wherever the scores are not tied at the cut.
    cut = expected[-1][0]
    assert {s for s, key in zip((s for _, s in found), as_sets, strict=True) if s > cut + 1e-9} <= {
        s for s, _ in expected
    }
    assert {key for (s, key) in expected if s > cut + 1e-9} <= set(as_sets)


def test_pruning_never_loses_a_better_slice(seed):
    # Rare errors make the bound of many combinations fall below the pool: they are pruned,
    # and the pool is still the exact top-K.
    rng = np.random.default_rng(seed)
    n = 2000
    frame = _categorical_frame(rng, n, 6, 3)
    risky = (frame["c0"] == "v1").to_numpy() & (frame["c2"] == "v0").to_numpy()
    error = rng.random(n) < np.where(risky, 0.2, 0.01)
    sigma, n_keep = 40, 5
    features = encode_frame(
        frame, list(frame.columns), [], count_rows=np.arange(n), min_count=sigma
    )
    config = SearchConfig(
        min_rows=sigma,
        n_keep=n_keep,
        use_ranges=False,
        refine=False,
        min_lift=1.0,
        min_difference=0.0,
    )
    search = SliceSearch(features, np.arange(n), np.flatnonzero(error)[None, :], config)
    search.run()
    assert search.n_pruned > 0
    expected = _brute_force_top(frame, error, sigma, search, n_keep)
    found = [score for _, score in search.pool_slices(0)]
    assert found == pytest.approx([score for score, _ in expected], abs=1e-9)


def test_pair_ranges_of_numeric_features_equal_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = 800
    frame = pd.DataFrame({"a": rng.integers(0, 6, n), "b": rng.integers(0, 5, n)})
    error = rng.random(n) < np.where((frame.a >= 2) & (frame.a <= 4) & (frame.b <= 1), 0.6, 0.2)
    sigma = 20
    features = encode_frame(frame, ["a", "b"], ["a", "b"], count_rows=np.arange(n), min_count=sigma)
    config = SearchConfig(min_rows=sigma, n_keep=5000, max_conditions=2, refine=False)
    search = SliceSearch(features, np.arange(n), np.flatnonzero(error)[None, :], config)
    search.run()
    pool = {tuple(sorted(p)): score for p, score in search.pool_slices(0) if len(p) == 2}
    N, E = n, int(error.sum())
    brute = {}
    for a0, a1, b0, b1 in itertools.product(range(6), range(6), range(5), range(5)):
        if a0 > a1 or b0 > b1 or (a0, a1) == (0, 5) or (b0, b1) == (0, 4):
            continue
        mask = (frame.a.between(a0, a1) & frame.b.between(b0, b1)).to_numpy()
        k = int((mask & error).sum())
        m = int(mask.sum())
        if m < sigma or not search.passes_floors(m, k):
            continue
        preds = ((0, a0, a1), (1, b0, b1))
        brute[preds] = float(slice_statistic(m, k, N, E)) - search.price(preds)
    assert pool.keys() == brute.keys()
    for key, score in brute.items():
        assert pool[key] == pytest.approx(score, abs=1e-9)


def test_log_lattice_sizes_count_the_conjunctions():
    d = [3, 5, 2, 7]
    logs = log_lattice_sizes(d, 3)
    for level in range(1, 4):
        count = sum(math.prod(c) for c in itertools.combinations(d, level))
        assert logs[level] == pytest.approx(math.log(count))
    assert log_lattice_sizes([4], 2)[2] == math.inf


def test_effective_range_count():
    assert effective_range_count(1) == 1
    assert effective_range_count(3) == pytest.approx(3 + 2 / 2 + 1 / 3)
    assert effective_range_count(0) == 0


@pytest.mark.parametrize("method", ["bh", "by"])
def test_benjamini_hochberg_equals_scipy(seed, method):
    rng = np.random.default_rng(seed)
    for size in (1, 2, 7, 20, 60):
        p = rng.random(size) ** 3
        p[: size // 3] = p[0]  # ties
        expected = stats.false_discovery_control(p, method=method)
        np.testing.assert_allclose(benjamini_hochberg(p, method), expected, rtol=1e-12)


def test_holm_is_the_step_down_bonferroni():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.02])


@pytest.mark.parametrize(
    ("k1", "n1", "k0", "n0"), [(12, 40, 30, 400), (0, 10, 5, 50), (50, 60, 9, 90)]
)
def test_fisher_p_value_equals_scipy(k1, n1, k0, n0):
    expected = stats.fisher_exact([[k1, n1 - k1], [k0, n0 - k0]], alternative="greater").pvalue
    assert fisher_greater(k1, n1, k0, n0) == pytest.approx(expected)


def test_welch_p_value_equals_scipy(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.exponential(2.0, 80), rng.exponential(1.5, 500)
    expected = stats.ttest_ind(a, b, equal_var=False, alternative="greater").pvalue
    assert welch_greater(moments(a), moments(b)) == pytest.approx(expected)


def test_moments_of_shifted_sums_equal_those_of_the_rows(seed):
    rng = np.random.default_rng(seed)
    x = 1e6 + rng.exponential(2.0, 1000)  # a large mean: raw sums would cancel
    shift = 1e6
    counted = moments_of_sums(x.size, (x - shift).sum(), ((x - shift) ** 2).sum(), shift)
    assert counted.mean == pytest.approx(x.mean(), rel=1e-15)
    assert counted.var == pytest.approx(x.var(ddof=1), rel=1e-9)
    assert counted.n == x.size


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (45, 60), (200, 1000), (10, 10)])
def test_wilson_interval_equals_scipy(k, n):
    expected = stats.binomtest(k, n).proportion_ci(method="wilson")
    assert wilson_interval(k, n) == pytest.approx((expected.low, expected.high), rel=1e-9)


def test_katz_interval_equals_scipy_relative_risk():
    expected = stats.contingency.relative_risk(30, 120, 45, 600).confidence_interval(0.95)
    assert katz_interval(30, 120, 45, 600) == pytest.approx((expected.low, expected.high))
    assert all(math.isnan(v) for v in katz_interval(0, 10, 5, 50))


def test_newcombe_interval_matches_the_published_example():
    # Newcombe (1998), Statistics in Medicine 17, table II, example (a): 56/70 vs 48/80.
    low, high = newcombe_interval(56, 70, 48, 80)
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)


def _planted(rng, n):
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "z": rng.lognormal(size=n),
            "g": rng.choice(["a", "b", "c", "d"], n),
            "h": rng.choice(["p", "q"], n),
        }
    )
    frame.loc[rng.random(n) < 0.05, "z"] = np.nan
    inside = (frame.g == "b").to_numpy() & (frame.x > 0.6).to_numpy()
    error = rng.random(n) < np.where(inside, 0.45, 0.15)
    return frame, error, inside


def _report(frame, error, seed, **params):
    params = SliceParams(**params)
    rng = np.random.default_rng(seed)
    plan = plan_search(len(frame), error, groups=None, rng=rng, params=params)
    features = encode_frame(
        frame, list(frame.columns), ["x", "z"], count_rows=plan.discovery, min_count=plan.min_rows
    )
    return features, plan, find_slices(features, plan, errors=error, rng=rng, params=params)


def test_same_seed_same_output_and_seed_changes_the_split(seed):
    frame, error, _ = _planted(np.random.default_rng(seed), 6000)
    _, plan_a, first = _report(frame, error, seed)
    _, _, again = _report(frame, error, seed)
    _, plan_b, other = _report(frame, error, seed + 1)
    assert first == again
    assert not np.array_equal(plan_a.discovery, plan_b.discovery)
    assert first.slices
    assert other.slices


def test_confirmation_p_values_are_fisher_on_the_held_out_rows(seed):
    frame, error, _ = _planted(np.random.default_rng(seed), 6000)
    features, plan, report = _report(frame, error, seed)
    assert report.mode == "split"
    assert report.tested
    held_out = plan.confirmation
    for s in report.tested:
        inside = slice_mask(features, s.predicates, held_out)
        k1, n1 = int(error[held_out][inside].sum()), int(inside.sum())
        k0, n0 = int(error[held_out][~inside].sum()), int((~inside).sum())
        expected = stats.fisher_exact([[k1, n1 - k1], [k0, n0 - k0]], alternative="greater")
        assert s.p_value == pytest.approx(expected.pvalue)
        assert s.n_confirmation == n1
        assert s.value == pytest.approx(k1 / n1)
        assert s.lift_ci == pytest.approx(katz_interval(k1, n1, k0, n0))
    q = stats.false_discovery_control([s.p_value for s in report.tested])
    np.testing.assert_allclose([s.q_value for s in report.tested], q)


def test_loss_confirmation_is_welch_on_the_held_out_rows(seed):
    rng = np.random.default_rng(seed)
    frame, _, inside = _planted(rng, 6000)
    losses = rng.exponential(np.where(inside, 2.0, 1.0))
    params = SliceParams()
    plan = plan_search(len(frame), losses > 1.6, groups=None, rng=rng, params=params)
    features = encode_frame(
        frame, list(frame.columns), ["x", "z"], count_rows=plan.discovery, min_count=plan.min_rows
    )
    report = find_slices(features, plan, losses=losses, rng=rng, params=params)
    assert report.metric == "mean_loss"
    assert report.slices
    held_out = plan.confirmation
    for s in report.tested:
        mask = slice_mask(features, s.predicates, held_out)
        if mask.sum() >= 50:
            expected = stats.ttest_ind(
                losses[held_out][mask],
                losses[held_out][~mask],
                equal_var=False,
                alternative="greater",
            )
            assert s.p_value == pytest.approx(expected.pvalue)


def test_conditions_select_the_same_rows_as_the_codes(seed):
    rng = np.random.default_rng(seed)
    frame, _, _ = _planted(rng, 3000)
    frame["k"] = rng.integers(0, 6, 3000).astype(float)
    frame.loc[rng.random(3000) < 0.1, "k"] = np.nan
    features = encode_frame(
        frame, list(frame.columns), ["x", "z", "k"], count_rows=np.arange(3000), min_count=30
    )
    for j, f in enumerate(features):
        for lo in range(f.n_codes):
            for hi in range(lo, f.n_ordered if f.ordered and lo < f.n_ordered else lo + 1):
                if f.ordered and lo == 0 and hi == f.n_ordered - 1:
                    continue  # 'not missing' has no condition
                expected = slice_mask(features, [(j, lo, hi)])
                mask = np.ones(len(frame), dtype=bool)
                for c in f.condition(lo, hi):
                    column = frame[c["column"]]
                    op, value = c["op"], c["value"]
                    if op == "is_null":
                        mask &= column.isna().to_numpy()
                    elif op == "in":
                        mask &= column.isin(value).to_numpy()
                    else:
                        mask &= _compare(column, op, value)
                np.testing.assert_array_equal(mask, expected, err_msg=f"{f.name} {lo}..{hi}")


def _compare(column: pd.Series, op: str, value) -> np.ndarray:
    """The comparison as pandas evaluates it (missing values compare False)."""
    compare = {"==": column.eq, "<": column.lt, "<=": column.le, ">=": column.ge}[op]
    return compare(value).to_numpy(dtype=bool)


def test_a_heavily_repeated_value_gets_a_bin_of_its_own(seed):
    rng = np.random.default_rng(seed)
    x = np.where(rng.random(5000) < 0.4, 0.0, rng.lognormal(size=5000))
    (f,) = encode_frame(
        pd.DataFrame({"x": x}), ["x"], ["x"], count_rows=np.arange(5000), min_count=50
    )
    zero = x == 0
    zero_codes = np.unique(f.codes[zero])
    assert zero_codes.size == 1
    assert not np.isin(f.codes[~zero], zero_codes).any()


def test_rare_levels_are_pooled_into_other(seed):
    rng = np.random.default_rng(seed)
    values = rng.choice(["a", "b"], 1000).astype(object)
    values[:12] = [f"rare{i}" for i in range(12)]
    (f,) = encode_frame(
        pd.DataFrame({"c": values}), ["c"], [], count_rows=np.arange(1000), min_count=30
    )
    assert f.values == ("a", "b")
    assert f.pooled == tuple(sorted(f"rare{i}" for i in range(12)))
    assert f.condition(2, 2) == [{"column": "c", "op": "in", "value": list(f.pooled)}]


def test_groups_never_straddle_the_halves(seed):
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, 300, 5000)
    error = rng.random(5000) < 0.2
    plan = plan_search(5000, error, groups=groups, rng=rng, params=SliceParams())
    assert plan.mode == "split"
    assert not set(groups[plan.discovery]) & set(groups[plan.confirmation])
    assert abs(plan.discovery.size - 2500) < 400


def test_split_is_stratified_on_the_error(seed):
    rng = np.random.default_rng(seed)
    error = rng.random(5001) < 0.13
    plan = plan_search(5001, error, groups=None, rng=rng, params=SliceParams())
    assert abs(int(error[plan.discovery].sum()) - int(error[plan.confirmation].sum())) <= 1
    assert plan.min_rows == max(30, math.ceil(0.01 * plan.discovery.size))


def test_permutation_mode_on_small_data(seed):
    rng = np.random.default_rng(seed)
    frame, error, inside = _planted(rng, 1200)
    error = rng.random(1200) < np.where(inside, 0.6, 0.15)
    features, plan, report = _report(frame, error, seed, n_permutations=39)
    assert plan.mode == "permutation"
    assert report.n_permutations == 39
    assert report.slices
    top = report.slices[0]
    assert top.p_value == pytest.approx(1 / 40)
    assert top.q_value == top.p_value
    assert len(report.null_max) == 39


def test_permutation_p_values_count_the_null_maxima(seed):
    rng = np.random.default_rng(seed)
    frame, _, _ = _planted(rng, 800)
    error = rng.random(800) < 0.2
    _, _, report = _report(frame, error, seed, n_permutations=19)
    for s in report.tested:
        exceed = sum(m >= s.discovery_score for m in report.null_max)
        assert s.p_value == pytest.approx((1 + exceed) / 20)
