"""The whole procedure: plan the split, search on one half, confirm on the other.

``plan_search`` decides the mode (split or permutation), the halves and the minimum slice
size; the caller then encodes its features (``encode_frame``) and calls ``find_slices``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from auditor.slices.encoding import CodedFeature
from auditor.slices.search import FoundSlice, Predicate, SearchConfig, SliceSearch
from auditor.slices.stats import (
    Moments,
    fisher_greater,
    katz_interval,
    mean_interval,
    mean_ratio_interval,
    moments,
    moments_of_sums,
    newcombe_interval,
    permutation_greater,
    slice_statistic,
    welch_difference_interval,
    welch_greater,
    wilson_interval,
)
from auditor.stats.multiple_testing import benjamini_hochberg, holm

# Slices with fewer confirmation rows than this use a permutation test of the mean loss.
_MIN_ROWS_FOR_WELCH = 50
# The search for losses runs on "loss above this quantile of the search rows".
LOSS_QUANTILE = 0.8
# The permutation mode scores at most about this many conditions in total (a few seconds),
# assuming a few refinement steps per slice, but runs at least 19 permutations (p >= 0.05).
_PERMUTATION_BUDGET = 150_000_000
_REFINE_STEPS = 3
_MIN_PERMUTATIONS = 19
# A slice within another (this share of its rows) must be this much worse to be kept.
_NESTED_SHARE = 0.8


@dataclass(frozen=True)
class SliceParams:
    """Every tunable of the procedure, with the defaults of the method note.

    Attributes
    ----------
    min_support_rows, min_support_share : int, float
        Minimum slice size on the search rows: ``max(rows, ceil(share * N_D))``.
    max_conditions : int
        Most conditions per slice (L_max).
    n_bins, n_fine_bins : int
        Coarse quantile bins (lattice items) and fine bins (ranges) of numeric features.
    n_keep, n_candidates : int
        Slices kept by the search (K_keep) and sent to confirmation (K_cand).
    fdr, fdr_method : float, {"bh", "by", "holm"}
        Level and method of the multiplicity adjustment on the confirmation half.
    min_lift, min_difference, min_loss_difference_share : float
        Effect floors: error ratio, absolute rate difference (0/1 errors), and difference
        as a share of the mean loss (losses).
    max_jaccard : float
        Two slices sharing this row-set Jaccard index are duplicates (J_max).
    max_reported : int
        Most slices reported.
    min_rows_for_split : int
        Below this many rows the permutation mode replaces the split.
    n_permutations : int
        Permutations of the permutation mode (B_perm).
    max_features : int
        Features searched beyond one condition (those with the best single slices).
    max_support : float
        Largest share of the rows a slice may hold (search and confirmation halves): a
        slice is a minority of the rows, "almost everyone" is not a slice.
    min_confirmation_rows : int
        A reported slice needs this many rows on the confirmation half.
    min_score : float
        Split mode: a slice is a candidate only if its discovery score exceeds this
        (nats); 2 keeps the chance that a table without failures passes this screen to a
        few percent, the confirmation test then works at ``fdr`` on what remains.
    """

    min_support_rows: int = 30
    min_support_share: float = 0.01
    max_conditions: int = 3
    n_bins: int = 10
    n_fine_bins: int = 50
    n_keep: int = 60
    n_candidates: int = 20
    fdr: float = 0.05
    fdr_method: str = "bh"
    min_lift: float = 1.25
    min_difference: float = 0.02
    min_loss_difference_share: float = 0.1
    max_jaccard: float = 0.8
    max_reported: int = 10
    min_rows_for_split: int = 2000
    n_permutations: int = 99
    max_features: int = 30
    max_support: float = 1.0
    min_confirmation_rows: int = 10
    min_score: float = 2.0


@dataclass(frozen=True)
class SearchPlan:
    """How the rows are used: the mode, the search half, the confirmation half, sigma."""

    mode: Literal["split", "permutation"]
    n_rows: int
    discovery: np.ndarray
    confirmation: np.ndarray
    min_rows: int


@dataclass(frozen=True)
class SliceEstimate:
    """One candidate slice with its confirmation statistics.

    Rates (or mean losses) and intervals are measured on the confirmation half in split
    mode, on every row in permutation mode. ``expected`` is the error rate the model's
    own probabilities predict for the slice (scaled to the observed total), when given, and
    ``expected_ratio`` the slice's observed-to-expected errors over the rest's.
    ``score`` (the ranking key) is the slice's score on every row. ``rejected_by`` names
    the first requirement a candidate missed (None when reported): ``"support"`` (more
    than ``max_support`` of the rows), ``"rows"`` (fewer than ``min_confirmation_rows``),
    ``"significance"`` (q above ``fdr``), ``"lift"``, ``"expected"`` (not ``min_lift``
    times worse than expected) or ``"difference"`` (below the absolute floor).
    """

    predicates: tuple[Predicate, ...]
    conditions: tuple[dict[str, Any], ...]
    level: int
    n_all: int
    n_discovery: int
    n_confirmation: int
    share: float
    share_discovery: float
    share_confirmation: float
    value: float
    value_ci: tuple[float, float]
    rest: float
    expected: float
    lift: float
    lift_ci: tuple[float, float]
    difference: float
    difference_ci: tuple[float, float]
    p_value: float
    q_value: float
    discovery_statistic: float
    discovery_score: float
    score: float
    reported: bool
    expected_ratio: float = math.nan
    rejected_by: str | None = None


@dataclass(frozen=True)
class PairCell:
    """The best slice of one feature (pair) of the search, measured like a candidate."""

    predicates: tuple[Predicate, ...]
    lift: float
    n_rows: int
    share: float


@dataclass(frozen=True)
class SliceReport:
    """What ``find_slices`` returns."""

    mode: Literal["split", "permutation"]
    metric: Literal["error_rate", "mean_loss"]
    n_rows: int
    n_discovery: int
    n_confirmation: int
    min_rows: int
    overall: float
    loss_threshold: float | None
    slices: tuple[SliceEstimate, ...]
    tested: tuple[SliceEstimate, ...]
    searched: tuple[int, ...]
    n_features: int
    pair_lift: dict[tuple[int, ...], PairCell] = field(default_factory=dict)
    n_permutations: int = 0
    null_max: tuple[float, ...] = ()
    log_prices: tuple[float, ...] = ()
    n_combinations: int = 0
    n_pruned: int = 0
    # Set when the search read a seeded sample of its half: that half's rows.
    searched_of: int | None = None


def min_slice_rows(n_search: int, params: SliceParams) -> int:
    """sigma = max(min_support_rows, ceil(min_support_share * N_D))."""
    return max(int(params.min_support_rows), math.ceil(params.min_support_share * n_search))


def plan_search(
    n_rows: int,
    strata: np.ndarray,
    *,
    groups: np.ndarray | None,
    rng: np.random.Generator,
    params: SliceParams,
) -> SearchPlan:
    """Choose the mode and split the rows 50/50, stratified on ``strata`` (and by group).

    Split mode when there are at least ``min_rows_for_split`` rows (or a group column: the
    permutation mode assumes exchangeable rows); otherwise the permutation mode on all rows.
    """
    everything = np.arange(n_rows)
    if n_rows < params.min_rows_for_split and groups is None:
        return SearchPlan(
            "permutation", n_rows, everything, everything[:0], min_slice_rows(n_rows, params)
        )
    strata = np.asarray(strata, dtype=np.float64)
    if groups is None:
        order = np.lexsort((rng.random(n_rows), strata))
        in_discovery = np.zeros(n_rows, dtype=bool)
        in_discovery[order[0::2]] = True
    else:
        # Whole groups go to one side; groups sorted by their mean stratum then alternated.
        group_ids, inverse = np.unique(groups, return_inverse=True)
        mean = np.bincount(inverse, weights=strata) / np.bincount(inverse)
        order = np.lexsort((rng.random(group_ids.size), mean))
        group_side = np.zeros(group_ids.size, dtype=bool)
        group_side[order[0::2]] = True
        in_discovery = group_side[inverse]
    discovery = np.flatnonzero(in_discovery)
    confirmation = np.flatnonzero(~in_discovery)
    return SearchPlan(
        "split", n_rows, discovery, confirmation, min_slice_rows(discovery.size, params)
    )


def slice_mask(
    features: Sequence[CodedFeature],
    predicates: Sequence[Predicate],
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Rows (all, or those at positions ``rows``) meeting every predicate."""
    out = None
    for j, lo, hi in predicates:
        codes = features[j].codes if rows is None else features[j].codes[rows]
        inside = (codes == lo) if lo == hi else ((codes >= lo) & (codes <= hi))
        out = inside if out is None else (out & inside)
    if out is None:
        size = features[0].codes.size if rows is None else rows.size
        return np.ones(size, dtype=bool)
    return out


def conditions_of(
    features: Sequence[CodedFeature], predicates: Sequence[Predicate]
) -> tuple[dict[str, Any], ...]:
    """The conditions ``{"column", "op", "value"}`` of a slice, in feature order."""
    out: list[dict[str, Any]] = []
    for j, lo, hi in sorted(predicates):
        out.extend(features[j].condition(lo, hi))
    return tuple(out)


def permutation_count(features: Sequence[CodedFeature], params: SliceParams) -> int:
    """Permutations to run: ``n_permutations``, fewer for wide tables (at least 19).

    The cost of one permuted search is dominated by refinement, which scores every
    condition of every feature (all ranges of a numeric feature) for each of the
    ``n_candidates`` slices; the total is kept under ``_PERMUTATION_BUDGET`` such scores.
    """
    conditions = sum(
        f.n_ordered * (f.n_ordered + 1) // 2 + 1 if f.ordered else f.n_codes for f in features
    )
    per_permutation = max(conditions, 1) * params.n_candidates * _REFINE_STEPS
    affordable = _PERMUTATION_BUDGET // per_permutation
    return int(min(params.n_permutations, max(_MIN_PERMUTATIONS, affordable)))


def find_slices(
    features: Sequence[CodedFeature],
    plan: SearchPlan,
    *,
    errors: np.ndarray | None = None,
    losses: np.ndarray | None = None,
    expected: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    rng: np.random.Generator,
    params: SliceParams,
    with_pair_lifts: bool = True,
) -> SliceReport:
    """Search slices with a high error rate (or mean loss) and test them honestly.

    Parameters
    ----------
    features : sequence of CodedFeature
        The encoded features (codes for every row).
    plan : SearchPlan
        From ``plan_search``.
    errors : ndarray of bool, optional
        Per-row 0/1 error. Exactly one of ``errors`` and ``losses`` is given.
    losses : ndarray of float, optional
        Per-row loss; the search runs on ``loss > its 80th percentile on the search rows``
        and the confirmation tests the mean loss.
    expected : ndarray of float, optional
        With ``errors`` only: each row's probability of error according to the model (one
        minus its predicted probability of the predicted class). The null hypothesis
        becomes "errors follow the model's own probabilities, up to a common factor": the
        confirmation tests the residuals ``error - c * expected`` (one-sided Welch), the
        permutation mode draws its null errors with probability proportional to
        ``expected``, and a slice is reported only if it is also ``min_lift`` times worse
        than expected, relative to the rest: errors the model says it may make are not
        failures.
    weights : ndarray of float, optional
        Sample weights of the rows. In split mode the search runs on a resample of its half
        drawn in proportion to the weights (any way of proposing candidates is valid: the
        other half judges them); the permutation mode searches the rows as they are. Every
        rate, share, interval and test of the estimates is weighted, with Kish's effective
        sizes as counts. Equal weights are no weights.
    rng : numpy.random.Generator
        Drives the permutations and the Monte-Carlo tests.
    params : SliceParams
    with_pair_lifts : bool, default=True
        Measure the best slice of each feature pair on the confirmation half
        (``SliceReport.pair_lift``); a caller that draws no pair map saves the time.

    Returns
    -------
    SliceReport
    """
    found = discover(
        features,
        plan,
        errors=errors,
        losses=losses,
        expected=expected,
        weights=weights,
        rng=rng,
        params=params,
    )
    overall = _mean(found.outcome, found.weights) if found.outcome.size else math.nan
    if found.search is None:
        return _report(found, (), params, overall=overall)
    estimates = _confirm(features, found, expected, rng, params)
    pair_lift = _pair_lifts(features, found) if with_pair_lifts else {}
    return _report(found, estimates, params, overall=overall, pair_lift=pair_lift)


@dataclass(frozen=True, eq=False)
class Discovery:
    """What the search half chose, and what the confirmation needs to judge it.

    ``search`` is None when there was nothing to search (no feature, no error, every row
    an error, or fewer rows than a slice needs); ``candidates`` are the slices sent to
    confirmation, best first.
    """

    plan: SearchPlan
    metric: Literal["error_rate", "mean_loss"]
    flags: np.ndarray
    outcome: np.ndarray
    weights: np.ndarray | None
    threshold: float | None
    n_discovery: int
    n_features: int
    search: SliceSearch | None = None
    candidates: tuple[FoundSlice, ...] = ()
    null_max: tuple[float, ...] = ()
    n_permutations: int = 0


def discover(
    features: Sequence[CodedFeature],
    plan: SearchPlan,
    *,
    errors: np.ndarray | None = None,
    losses: np.ndarray | None = None,
    expected: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    rng: np.random.Generator,
    params: SliceParams,
) -> Discovery:
    """The search half of ``find_slices``: search, refine and select the candidates.

    The arguments are those of ``find_slices``. A caller that counts the confirmation half
    elsewhere (the Dask engine, on every row) judges the candidates with
    ``confirm_counted``.
    """
    if (errors is None) == (losses is None):
        raise ValueError("give exactly one of errors and losses")
    if losses is not None and expected is not None:
        raise ValueError("expected errors apply to 0/1 errors, not to losses")
    metric: Literal["error_rate", "mean_loss"] = "error_rate" if losses is None else "mean_loss"
    discovery = plan.discovery
    if weights is not None and np.ptp(weights) == 0:
        weights = None  # equal weights are equal rows: the unweighted procedure, exactly
    if weights is not None and plan.mode == "split":
        # The search counts rows. Drawn with replacement in proportion to the weights, the
        # search half becomes rows whose counts estimate the weighted ones, so a region
        # made heavy by its weights is proposed; the confirmation half judges with the
        # weights themselves, so the resampling adds no bias to what is reported. The
        # permutation mode has no other half: its null shuffles the searched rows, and
        # duplicates drawn there would be split by the shuffle, so it searches the rows.
        chance = weights[discovery] / weights[discovery].sum()
        discovery = np.sort(rng.choice(discovery, size=discovery.size, p=chance))
    threshold = None
    if losses is not None:
        losses = np.asarray(losses, dtype=np.float64)
        threshold = float(np.quantile(losses[discovery], LOSS_QUANTILE))
        flags = losses > threshold
        outcome = losses
    else:
        flags = np.asarray(errors, dtype=bool)
        outcome = flags.astype(np.float64)
    nothing = Discovery(
        plan=plan,
        metric=metric,
        flags=flags,
        outcome=outcome,
        weights=weights,
        threshold=threshold,
        n_discovery=int(discovery.size),
        n_features=len(features),
    )
    config = SearchConfig(
        min_rows=plan.min_rows,
        max_conditions=params.max_conditions,
        n_keep=params.n_keep,
        n_candidates=params.n_candidates,
        min_lift=params.min_lift,
        min_difference=params.min_difference,
        max_jaccard=params.max_jaccard,
        max_features=params.max_features,
        max_rows=math.floor(params.max_support * discovery.size)
        if params.max_support < 1
        else None,
    )
    flags_d = flags[discovery]
    n_errors = int(flags_d.sum())
    if not features or n_errors == 0 or n_errors == flags_d.size or flags_d.size < plan.min_rows:
        return nothing
    error_positions = np.flatnonzero(flags_d)[None, :]
    null_max: tuple[float, ...] = ()
    n_permutations = 0
    if plan.mode == "permutation":
        n_permutations = permutation_count(features, params)
        if expected is None:
            draws = [rng.permutation(flags_d.size)[:n_errors] for _ in range(n_permutations)]
        else:
            # Null errors drawn where the model expects them (E rows, without replacement).
            error_odds = np.maximum(expected[discovery], 1e-9)
            error_odds = error_odds / error_odds.sum()
            draws = [
                rng.choice(flags_d.size, n_errors, replace=False, p=error_odds)
                for _ in range(n_permutations)
            ]
        permuted = np.stack([np.sort(d) for d in draws])
        error_positions = np.concatenate([error_positions, permuted])
    search = SliceSearch(
        features,
        discovery,
        error_positions,
        config,
        None if expected is None else expected[discovery],
    )
    search.run()
    # The permutation mode repeats the whole procedure per permutation; to bound its time
    # it refines only the best slices of each pool, observed and permuted alike (the same
    # statistic on both sides keeps the test exact): as many as can be reported.
    limit = min(params.n_candidates, params.max_reported) if plan.mode == "permutation" else None
    found = search.refined(0, limit)
    if plan.mode == "permutation":
        null_max = tuple(
            max((s.score for s in search.refined(r, limit)), default=-math.inf)
            for r in range(1, error_positions.shape[0])
        )
    candidates = _select(search, found, flags_d, params, gate=plan.mode == "split")
    return dataclasses.replace(
        nothing,
        search=search,
        candidates=tuple(candidates),
        null_max=null_max,
        n_permutations=n_permutations,
    )


def _report(
    found: Discovery,
    estimates: Sequence[SliceEstimate],
    params: SliceParams,
    *,
    overall: float,
    pair_lift: dict[tuple[int, ...], PairCell] | None = None,
    n_rows: int | None = None,
    n_confirmation: int | None = None,
    searched_of: int | None = None,
) -> SliceReport:
    """The report of a search and its confirmation; counts default to the plan's rows."""
    plan, search = found.plan, found.search
    reported = sorted((s for s in estimates if s.reported), key=lambda s: (-s.score, s.predicates))
    return SliceReport(
        mode=plan.mode,
        metric=found.metric,
        n_rows=plan.n_rows if n_rows is None else n_rows,
        n_discovery=found.n_discovery,
        n_confirmation=int(plan.confirmation.size) if n_confirmation is None else n_confirmation,
        min_rows=plan.min_rows,
        overall=overall,
        loss_threshold=found.threshold,
        slices=tuple(reported[: params.max_reported]),
        tested=tuple(estimates),
        searched=() if search is None else search.searched,
        n_features=found.n_features,
        pair_lift=pair_lift or {},
        n_permutations=found.n_permutations,
        null_max=found.null_max,
        log_prices=() if search is None else tuple(float(x) for x in search.log_price),
        n_combinations=0 if search is None else search.n_combinations,
        n_pruned=0 if search is None else search.n_pruned,
        searched_of=searched_of,
    )


def _select(
    search: SliceSearch, found: list[FoundSlice], e: np.ndarray, params: SliceParams, *, gate: bool
) -> list[FoundSlice]:
    """Walk slices best first and keep those that no kept slice makes redundant.

    With ``gate`` (split mode) only slices with a score above ``min_score`` are candidates.
    """
    kept: list[tuple[FoundSlice, np.ndarray]] = []
    for s in found:
        if gate and s.score <= params.min_score:
            break
        mask = np.logical_and.reduce([search.mask(p) for p in s.predicates])
        if any(
            _redundant(search, s, mask, other, other_mask, e, params) for other, other_mask in kept
        ):
            continue
        kept.append((s, mask))
        if len(kept) == params.n_candidates:
            break
    return [s for s, _ in kept]


def _redundant(
    search: SliceSearch,
    s: FoundSlice,
    mask: np.ndarray,
    other: FoundSlice,
    other_mask: np.ndarray,
    e: np.ndarray,
    params: SliceParams,
) -> bool:
    """Whether the kept slice ``other`` makes ``s`` redundant (rates on the search rows).

    - a duplicate: row-set Jaccard index at least ``max_jaccard``;
    - a sub-slice (``_NESTED_SHARE`` of its rows inside ``other``) whose error rate is not
      ``min_lift`` times that of ``other``: ``other`` explains it;
    - a super-slice holding most of ``other`` whose remaining rows are not worse than the
      rows outside it: its excess is that of ``other``.
    """
    both = int(np.count_nonzero(mask & other_mask))
    union = s.n + other.n - both
    if union and both / union >= params.max_jaccard:
        return True
    if both >= _NESTED_SHARE * s.n:
        return s.k / s.n < params.min_lift * other.k / other.n
    if both >= _NESTED_SHARE * other.n:
        rest_n = s.n - both
        rest_k = s.k - int(np.count_nonzero(mask & other_mask & e))
        if rest_n == 0:
            return True
        return not search.passes_floors_against(rest_n, rest_k, search.N - s.n, search.E - s.k)
    return False


def _mean(values: np.ndarray, weights: np.ndarray | None) -> float:
    return float(np.average(values, weights=weights))


def _confirm(
    features: Sequence[CodedFeature],
    found: Discovery,
    expected: np.ndarray | None,
    rng: np.random.Generator,
    params: SliceParams,
) -> list[SliceEstimate]:
    """Test and estimate every candidate on the confirmation half (all rows in permutation mode).

    With sample weights, rates and means are weighted and the counts behind intervals and
    tests are Kish's effective sizes (a weighted error rate p on n_eff rows reads as
    p * n_eff errors in n_eff rows); without, they are the plain counts.
    """
    plan, search, weights, metric = found.plan, found.search, found.weights, found.metric
    if not found.candidates:
        return []
    split = plan.mode == "split"
    rows = plan.confirmation if split else plan.discovery
    y = found.outcome[rows]
    w = None if weights is None else weights[rows]
    model = tested = None
    if expected is not None:
        # Expected errors, scaled to the total observed on these rows.
        scale = np.average(y, weights=w) / max(np.average(expected[rows], weights=w), 1e-12)
        model = expected[rows] * scale
        tested = y - model
    flags_all = float(found.flags.sum())
    calibrated = []
    estimates = []
    for s in found.candidates:
        inside = slice_mask(features, s.predicates, rows)
        inside_all = slice_mask(features, s.predicates)
        n1 = int(inside.sum())
        n0 = int(rows.size - n1)
        w_in = None if w is None else w[inside]
        w_out = None if w is None else w[~inside]
        values_in, values_out = y[inside], y[~inside]
        if model is not None and n1 and n0:
            calibrated.append(
                _calibration_ratio(
                    _mean(values_in, w_in),
                    _mean(model[inside], w_in),
                    _mean(values_out, w_out),
                    _mean(model[~inside], w_out),
                )
            )
        else:
            calibrated.append(math.inf)
        m_in = moments(values_in, w_in)
        m_out = moments(values_out, w_out)
        if not split:
            p = (1 + sum(m >= s.score for m in found.null_max)) / (1 + len(found.null_max))
        elif tested is not None:
            p = _greater(tested[inside], tested[~inside], rng, w_in, w_out)
        elif metric == "error_rate":
            p = _fisher(m_in, m_out)
        else:
            p = _greater(values_in, values_out, rng, w_in, w_out)
        n_all = int(inside_all.sum())
        k_all = float(found.flags[inside_all].sum())
        score_all = float(slice_statistic(n_all, k_all, plan.n_rows, flags_all))
        estimates.append(
            _estimate(
                features,
                found,
                s,
                m_in,
                m_out,
                p,
                n_all=n_all,
                n_confirmation=n1 if split else 0,
                share=_share(inside_all, weights),
                share_confirmation=_share(inside, w) if split else math.nan,
                expected=_mean(model[inside], w_in) if model is not None and n1 else math.nan,
                score=score_all - search.price(s.predicates),
            )
        )
    return _judge(
        estimates, calibrated, found, params, floor_mean=_mean(y, w), has_model=model is not None
    )


def _fisher(inside: Moments, outside: Moments) -> float:
    """One-sided Fisher exact test of two error rates (effective counts with weights)."""
    return fisher_greater(
        round(inside.mean * inside.n),
        round(inside.n),
        round(outside.mean * outside.n),
        round(outside.n),
    )


def _calibration_ratio(
    observed_in: float, expected_in: float, observed_out: float, expected_out: float
) -> float:
    """A slice's observed-to-expected errors over the rest's."""
    return (observed_in / max(expected_in, 1e-12)) / max(
        observed_out / max(expected_out, 1e-12), 1e-12
    )


def _estimate(
    features: Sequence[CodedFeature],
    found: Discovery,
    s: FoundSlice,
    inside: Moments,
    outside: Moments,
    p: float,
    **measured: Any,
) -> SliceEstimate:
    """A candidate's estimate from the moments of its rows and of the rest (unjudged)."""
    value, rest = inside.mean, outside.mean
    if found.metric == "error_rate":
        k1, k0 = value * inside.n, rest * outside.n
        value_ci = tuple(float(v) for v in wilson_interval(k1, inside.n))
        lift_ci = katz_interval(k1, inside.n, k0, outside.n)
        difference_ci = newcombe_interval(k1, inside.n, k0, outside.n)
    else:
        value_ci = mean_interval(inside)
        lift_ci = mean_ratio_interval(inside, outside)
        difference_ci = welch_difference_interval(inside, outside)
    lift = value / rest if rest > 0 else (math.inf if value > 0 else math.nan)
    return SliceEstimate(
        predicates=s.predicates,
        conditions=conditions_of(features, s.predicates),
        level=len(s.predicates),
        n_discovery=s.n,
        share_discovery=s.n / found.search.N,
        value=value,
        value_ci=value_ci,
        rest=rest,
        lift=lift,
        lift_ci=lift_ci,
        difference=value - rest,
        difference_ci=difference_ci,
        p_value=float(p),
        q_value=math.nan,
        discovery_statistic=s.statistic,
        discovery_score=s.score,
        reported=False,
        **measured,
    )


def _judge(
    estimates: list[SliceEstimate],
    calibrated: list[float],
    found: Discovery,
    params: SliceParams,
    *,
    floor_mean: float,
    has_model: bool,
) -> list[SliceEstimate]:
    """Adjust the p-values for multiplicity and mark each candidate reported or not.

    ``floor_mean`` is the confirmation rows' mean loss (the loss floor is a share of it).
    """
    split = found.plan.mode == "split"
    p_values = np.array([e.p_value for e in estimates])
    if not split:
        q_values = p_values  # family-wise permutation p-values are already adjusted
    elif params.fdr_method == "holm":
        q_values = holm(p_values)
    else:
        q_values = benjamini_hochberg(p_values, params.fdr_method)
    floor = (
        params.min_difference
        if found.metric == "error_rate"
        else params.min_loss_difference_share * floor_mean
    )
    out = []
    for e, q, ratio in zip(estimates, q_values, calibrated, strict=True):
        n1 = e.n_confirmation if split else e.n_discovery
        share = e.share_confirmation if split else e.share
        missed = (
            ("support", share > params.max_support),
            ("rows", n1 < params.min_confirmation_rows),
            ("significance", not q <= params.fdr),
            ("lift", not e.lift >= params.min_lift),
            ("expected", not ratio >= params.min_lift),
            ("difference", not e.difference >= floor),
        )
        rejected_by = next((name for name, failed in missed if failed), None)
        out.append(
            dataclasses.replace(
                e,
                q_value=float(q),
                reported=rejected_by is None,
                expected_ratio=float(ratio) if has_model else math.nan,
                rejected_by=rejected_by,
            )
        )
    return out


# The sums per set of rows that a counted confirmation reads (``row_sums``): rows, 0/1
# flags, the outcome and its square (shifted), the model's expected error, its product
# with the outcome, its square.
ROW_SUMS = ("rows", "flags", "outcome", "outcome_sq", "expected", "outcome_expected", "expected_sq")
_CHUNK_ROWS = 32_768


def row_sums(
    inside: np.ndarray,
    in_search_half: np.ndarray,
    flags: np.ndarray,
    outcome: np.ndarray,
    expected: np.ndarray | None,
    shift: float,
) -> np.ndarray:
    """The ``ROW_SUMS`` of each set of rows and of all of them, per half: shape
    (sets + 1, 2, 7), half 0 the search half.

    ``inside`` (sets x rows, bool) says which rows each set holds; the last set sums every
    row. The outcome is shifted by ``shift`` (near its mean) so that variances from these
    sums do not cancel. Sums of a dataset's partitions add up to the dataset's. One
    product per block of rows gives both halves (each value column once per half), so
    the membership matrix is neither copied per half nor converted twice.
    """
    n_sets = inside.shape[0]
    out = np.zeros((n_sets + 1, 2 * len(ROW_SUMS)))
    for start in range(0, flags.size, _CHUNK_ROWS):
        part = slice(start, start + _CHUNK_ROWS)
        y = outcome[part] - shift
        p = np.zeros_like(y) if expected is None else expected[part]
        values = np.column_stack([np.ones_like(y), flags[part], y, y * y, p, y * p, p * p])
        search = in_search_half[part, None]
        values = np.concatenate([values * search, values * ~search], axis=1)
        member = np.empty((n_sets + 1, y.size))
        member[:n_sets] = inside[:, part]
        member[n_sets] = 1.0
        out += member @ values
    return out.reshape(n_sets + 1, 2, len(ROW_SUMS))


@dataclass(frozen=True)
class CountedRows:
    """``row_sums`` of every row of both halves, for the candidates and pair slices of one
    or two ``Discovery`` results: ``sums[set, half]``, half 0 the search half and 1 the
    confirmation half, the last set all rows; ``shift`` is the outcome's shift."""

    sums: np.ndarray
    shift: float

    def side(self, index: int, half: int) -> dict[str, float]:
        return dict(zip(ROW_SUMS, self.sums[index, half], strict=True))

    def moments(self, index: int, *, outside: bool = False) -> Moments:
        """The outcome's moments on the confirmation half, inside a set or outside it."""
        row = self.sums[index, 1]
        if outside:
            row = self.sums[-1, 1] - row
        return moments_of_sums(row[0], row[2], row[3], self.shift)


def confirm_counted(
    features: Sequence[CodedFeature],
    found: Discovery,
    counted: CountedRows,
    indices: Sequence[int],
    params: SliceParams,
    *,
    with_expected: bool,
    pairs: dict[tuple[int, ...], int] | None = None,
) -> SliceReport:
    """``find_slices``'s confirmation, from the sums of every row of both halves.

    The search ran on a sample of its half; ``counted`` holds the sums of every row of
    both halves for the candidates at ``indices`` (in ``found.candidates`` order) and the
    pair slices at ``pairs`` (combination -> set). Every rate, interval and test is what
    ``_confirm`` computes on those rows, with one difference: a loss (or a residual with
    ``with_expected``) is always tested with Welch's t-test from the moments, where
    ``_confirm`` permutes below 50 rows (the halves of data too large for memory hold
    far more).
    """
    search = found.search
    total = counted.sums[-1]
    n_rows = int(total[0, 0] + total[1, 0])
    confirmation = counted.side(len(counted.sums) - 1, 1)
    overall = counted.shift + float(total[0, 2] + total[1, 2]) / n_rows if n_rows else math.nan
    report = dict(
        n_rows=n_rows,
        n_confirmation=int(confirmation["rows"]),
        searched_of=int(total[0, 0]),
        overall=overall,
    )
    if search is None:
        return _report(found, (), params, **report)
    scale = math.nan
    if with_expected:
        observed = counted.shift + confirmation["outcome"] / confirmation["rows"]
        scale = observed / max(confirmation["expected"] / confirmation["rows"], 1e-12)
    flags_all = float(total[0, 1] + total[1, 1])
    estimates, calibrated = [], []
    for s, index in zip(found.candidates, indices, strict=True):
        inside = counted.side(index, 1)
        outside = {k: confirmation[k] - v for k, v in inside.items()}
        m_in, m_out = counted.moments(index), counted.moments(index, outside=True)
        if with_expected:
            t_in = _residual_moments(inside, counted.shift, scale)
            t_out = _residual_moments(outside, counted.shift, scale)
            p = welch_greater(t_in, t_out)
            expected_in = scale * inside["expected"] / inside["rows"] if inside["rows"] else 0.0
            expected_out = scale * outside["expected"] / max(outside["rows"], 1)
            calibrated.append(
                _calibration_ratio(m_in.mean, expected_in, m_out.mean, expected_out)
                if inside["rows"] and outside["rows"]
                else math.inf
            )
        else:
            p = _fisher(m_in, m_out) if found.metric == "error_rate" else welch_greater(m_in, m_out)
            expected_in = math.nan
            calibrated.append(math.inf)
        n_all = float(counted.sums[index, 0, 0] + inside["rows"])
        k_all = float(counted.sums[index, 0, 1] + inside["flags"])
        score_all = float(slice_statistic(n_all, k_all, n_rows, flags_all))
        estimates.append(
            _estimate(
                features,
                found,
                s,
                m_in,
                m_out,
                p,
                n_all=int(n_all),
                n_confirmation=int(inside["rows"]),
                share=n_all / n_rows,
                share_confirmation=inside["rows"] / confirmation["rows"],
                expected=expected_in if inside["rows"] else math.nan,
                score=score_all - search.price(s.predicates),
            )
        )
    judged = _judge(
        estimates,
        calibrated,
        found,
        params,
        floor_mean=counted.moments(len(counted.sums) - 1).mean,
        has_model=with_expected,
    )
    pair_lift = {}
    for combo, index in (pairs or {}).items():
        m_in, m_out = counted.moments(index), counted.moments(index, outside=True)
        n_in = counted.sums[index, 1, 0]
        cell = _pair_cell(
            search.pair_best[combo], m_in, m_out, int(n_in), n_in / confirmation["rows"]
        )
        if cell is not None:
            pair_lift[combo] = cell
    return _report(found, judged, params, pair_lift=pair_lift, **report)


def _residual_moments(sums: dict[str, float], shift: float, scale: float) -> Moments:
    """Moments of ``outcome - scale * expected`` from the sums (the outcome shifted)."""
    total = sums["outcome"] - scale * sums["expected"]
    squares = (
        sums["outcome_sq"]
        - 2 * scale * sums["outcome_expected"]
        + scale * scale * sums["expected_sq"]
    )
    return moments_of_sums(sums["rows"], total, squares, shift)


def _share(inside: np.ndarray, weights: np.ndarray | None) -> float:
    """The share of the rows (of their weight, with sample weights) inside a slice."""
    if weights is None:
        return float(inside.mean())
    return float(weights[inside].sum() / weights.sum())


def _greater(
    inside: np.ndarray,
    outside: np.ndarray,
    rng: np.random.Generator,
    weights_in: np.ndarray | None = None,
    weights_out: np.ndarray | None = None,
) -> float:
    """One-sided p-value that ``inside`` has the larger mean: Welch, or permutation if small.

    Weighted rows always take the weighted Welch test: a permutation of unequal weights
    would need a design of its own, and the effective sizes carry the small-sample penalty.
    """
    if inside.size == 0 or outside.size == 0:
        return 1.0
    if weights_in is None and inside.size < _MIN_ROWS_FOR_WELCH:
        return permutation_greater(inside, outside, rng)
    return welch_greater(moments(inside, weights_in), moments(outside, weights_out))


def mapped_pairs(search: SliceSearch) -> dict[tuple[int, ...], Any]:
    """The pair map's combinations: each feature and feature pair (not triple) whose best
    slice beats chance on the search half (positive score), with that slice."""
    return {
        combo: best
        for combo, best in search.pair_best.items()
        if len(combo) <= 2 and best.score > 0
    }


def _pair_lifts(features, found: Discovery) -> dict[tuple[int, ...], PairCell]:
    """The best slice of each feature (pair), its lift measured on the confirmation half."""
    plan = found.plan
    rows = plan.confirmation if plan.mode == "split" else plan.discovery
    y = found.outcome[rows]
    w = None if found.weights is None else found.weights[rows]
    out = {}
    for combo, best in mapped_pairs(found.search).items():
        inside = slice_mask(features, best.predicates, rows)
        cell = _pair_cell(
            best,
            moments(y[inside], None if w is None else w[inside]),
            moments(y[~inside], None if w is None else w[~inside]),
            int(inside.sum()),
            _share(inside, w),
        )
        if cell is not None:
            out[combo] = cell
    return out


def _pair_cell(
    best: FoundSlice, inside: Moments, outside: Moments, n_rows: int, share: float
) -> PairCell | None:
    """A pair map cell: the best slice's lift, rows and share; None where a side is empty
    or the rest has no error."""
    if not (inside.n and outside.n) or not outside.mean > 0:
        return None
    return PairCell(best.predicates, inside.mean / outside.mean, n_rows, share)
