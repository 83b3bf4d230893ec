"""Discovery: the exact, pruned level-wise search for slices with a high error rate.

The search runs on integer codes (``CodedFeature``) of the *search rows* and on one or
more error vectors given as positions of the rows in error: one vector for the observed
errors, or many permuted copies for the permutation null. Each replicate keeps its own pool
of the best slices. See ``auditor.slices`` for the method and its references.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations

import numpy as np

from auditor.slices.encoding import CodedFeature
from auditor.slices.stats import (
    effective_range_count,
    log_lattice_sizes,
    slice_bound,
    slice_statistic,
)

# A predicate selects the rows whose base code of feature ``j`` lies in ``[lo, hi]``.
Predicate = tuple[int, int, int]

# Pool entries are keyed by (combination id << _CELL_BITS) | cell.
_CELL_BITS = 32
# Refinement sweeps over a slice at most this many times.
_REFINE_PASSES = 4


@dataclass(frozen=True)
class SearchConfig:
    """Parameters of the discovery search (see ``auditor.slices`` for their meaning)."""

    min_rows: int = 30
    max_conditions: int = 3
    n_keep: int = 60
    n_candidates: int = 20
    min_lift: float = 1.25
    min_difference: float = 0.02
    max_jaccard: float = 0.8
    max_features: int = 30
    # Larger slices are not candidates (a slice is a minority of the rows), but their cells
    # are still counted: their sub-slices can be.
    max_rows: int | None = None
    # Slices enter the pool with this share of the effect floors (lift - 1 and difference):
    # a slice diluted by a coarse bin still enters, and refinement sharpens it.
    pool_floor_share: float = 0.5
    use_ranges: bool = True
    refine: bool = True


@dataclass(frozen=True)
class FoundSlice:
    """A slice scored on the search rows.

    ``statistic`` is ``T`` and ``score`` is ``T`` minus the log number of slices of its kind.
    """

    predicates: tuple[Predicate, ...]
    n: int
    k: int
    statistic: float
    score: float
    expected: float | None = None


@dataclass
class PairBest:
    """The best cell of one feature combination (replicate 0), for the pair heat map."""

    predicates: tuple[Predicate, ...]
    statistic: float
    score: float


class _Pool:
    """The ``n_keep`` best (score, key) pairs of each replicate."""

    def __init__(self, n_replicates: int, n_keep: int):
        self.score = np.full((n_replicates, n_keep), -np.inf)
        self.key = np.full((n_replicates, n_keep), -1, dtype=np.int64)

    @property
    def theta(self) -> np.ndarray:
        return self.score.min(axis=1)

    def add(self, score: np.ndarray, key: np.ndarray) -> None:
        keep = (score > self.theta[:, None]).any(axis=0)
        if not keep.any():
            return
        score = score[:, keep]
        key = np.broadcast_to(key[keep], score.shape)
        all_score = np.concatenate([self.score, score], axis=1)
        all_key = np.concatenate([self.key, key], axis=1)
        size = self.score.shape[1]
        # Sort by (score desc, key asc) so ties resolve the same way on every platform.
        order = np.lexsort((all_key, -all_score), axis=1)[:, :size]
        self.score = np.take_along_axis(all_score, order, axis=1)
        self.key = np.take_along_axis(all_key, order, axis=1)


@lru_cache(maxsize=64)
def _ranges(n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """All contiguous ranges ``[a, b]`` of ``n_bins`` ordered bins but the full one."""
    a, b = np.triu_indices(n_bins)
    keep = ~((a == 0) & (b == n_bins - 1))
    return a[keep], b[keep]


class SliceSearch:
    """The level-wise search over the lattice of conjunctions, then refinement.

    Parameters
    ----------
    features : sequence of CodedFeature
        All features; ``codes`` cover every row of the table.
    rows : ndarray of int
        Positions of the search rows.
    error_positions : ndarray of int, shape (R, E)
        For each replicate, positions (into ``rows``) of the search rows in error. Every
        replicate has the same number of errors (a permutation keeps it).
    config : SearchConfig
    expected : ndarray of float, optional
        Per search row, the model's own probability of an error. Slices then also need
        more errors than the model expects (relative to the rest) to enter the pool, so
        rows where the model reports its uncertainty do not crowd out unexpected failures.
    """

    def __init__(
        self,
        features: Sequence[CodedFeature],
        rows: np.ndarray,
        error_positions: np.ndarray,
        config: SearchConfig,
        expected: np.ndarray | None = None,
    ):
        self.features = list(features)
        self.config = config
        self.codes = [f.codes[rows] for f in self.features]
        self.N = int(rows.size)
        self.err = np.atleast_2d(np.asarray(error_positions, dtype=np.intp))
        self.R, self.E = self.err.shape
        self.sigma = int(config.min_rows)
        # Expected errors per row, scaled to the observed total E.
        self.mu = None
        if expected is not None:
            expected = np.asarray(expected, dtype=np.float64)
            self.mu = expected * (self.E / max(float(expected.sum()), 1e-12))
        self.pool = _Pool(self.R, config.n_keep)
        self.combos: list[tuple[str, tuple[int, ...]]] = []
        self.combo_cells: list[np.ndarray] = []
        self.pair_best: dict[tuple[int, ...], PairBest] = {}
        self.pair_items: dict[tuple[int, int], np.ndarray] = {}
        self.searched: tuple[int, ...] = ()
        self.n_combinations = 0
        self.n_pruned = 0
        self._offsets_cache: dict[int, np.ndarray] = {}
        self._floor_lift = 1.0 + config.pool_floor_share * (config.min_lift - 1.0)
        self._floor_difference = config.pool_floor_share * config.min_difference
        self._lattice_items()
        # log M_L, plus log L_max: the best slice of each level is about as large as its
        # price by chance, so the maximum over the L_max levels needs a Bonferroni factor.
        self.log_price = log_lattice_sizes(self.n_priced, config.max_conditions)
        self.log_price[1:] += math.log(config.max_conditions)
        self._range_premiums = [self._premiums_of_ranges(j) for j in range(len(self.features))]
        # A condition of a slice with several conditions must be significant on its own: the
        # slice must beat the rows the condition removes by the log number of conditions
        # the search could have used instead (a Bonferroni bound on chance conditions).
        alternatives = sum(
            effective_range_count(f.n_ordered) + 1 if f.ordered else f.n_codes
            for f in self.features
        )
        self.within_threshold = math.log(max(alternatives, 2))

    # --- encoding of the lattice ---------------------------------------------------------

    def _lattice_items(self) -> None:
        """Dense lattice codes per feature: its non-empty usable items, then a sink code.

        Items of ordered features stay contiguous (a rare bin is still an item), so unions
        of neighbouring items are ranges. Cells below sigma rows are never scored.
        """
        self.lat, self.lat_err, self.items, self.dims, self.n_priced = [], [], [], [], []
        self.segments: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.premium_coarse, self.premium_fine = [], []
        for f, codes in zip(self.features, self.codes, strict=True):
            item = f.item_of_code[codes]
            counts = np.bincount(item, minlength=f.n_items)
            ok = (counts > 0) & f.usable
            d = int(ok.sum())
            dense = np.full(f.n_items, d, dtype=np.int32)
            dense[ok] = np.arange(d, dtype=np.int32)
            lat = dense[item]
            items = np.flatnonzero(ok)
            self.lat.append(lat)
            self.lat_err.append(lat[self.err])
            self.items.append(items)
            self.dims.append(d)
            self.n_priced.append(int(np.count_nonzero(counts[items] >= self.sigma)))
            missing_item = f.item_of_code[f.missing_code]
            bins = int(np.count_nonzero(items != missing_item)) if f.ordered else 0
            # A range of bins is one of effective_range_count(bins) "distinct" ranges
            # where an item is one of `bins`: its premium is the log of the ratio.
            coarse = math.log(effective_range_count(bins) / bins) if bins >= 3 else 0.0
            fine = math.log(effective_range_count(f.n_ordered) / bins) if bins >= 3 else 0.0
            self.premium_coarse.append(max(coarse, 0.0))
            self.premium_fine.append(max(fine, coarse, 0.0))
            self.segments.append(self._segments(f, items, bins))

    def _segments(self, f: CodedFeature, items: np.ndarray, bins: int):
        """The conditions a feature offers to pair slices, as (membership, lo, hi).

        Ordered features: every run of neighbouring bins but the full one, and missing;
        categorical features: each item. ``membership`` is (segments x items) of 0/1.
        """
        d = items.size
        if f.ordered and bins >= 2:
            a, b = np.triu_indices(bins)
            keep = ~((a == 0) & (b == bins - 1))
            a, b = a[keep], b[keep]
            member = (np.arange(d)[None, :] >= a[:, None]) & (np.arange(d)[None, :] <= b[:, None])
            lo = f.item_lo[items[a]]
            hi = f.item_hi[items[b]]
            if bins < d:  # the missing item
                member = np.vstack([member, np.eye(d, dtype=bool)[bins:]])
                lo = np.append(lo, f.item_lo[items[bins:]])
                hi = np.append(hi, f.item_hi[items[bins:]])
        else:
            member = np.eye(d, dtype=bool)
            lo, hi = f.item_lo[items], f.item_hi[items]
        return member.astype(np.float64), lo.astype(np.int64), hi.astype(np.int64)

    def _premiums_of_ranges(self, j: int) -> np.ndarray:
        """Premium of every range ``_ranges(n_ordered)`` of feature ``j`` (0 for single items)."""
        f = self.features[j]
        if not f.ordered or f.n_ordered < 2:
            return np.zeros(0)
        a, b = _ranges(f.n_ordered)
        ia, ib = f.item_of_code[a], f.item_of_code[b]
        starts_bin = a == f.item_lo[ia]
        ends_bin = b == f.item_hi[ib]
        single = (ia == ib) & starts_bin & ends_bin
        aligned = starts_bin & ends_bin
        return np.where(
            single, 0.0, np.where(aligned, self.premium_coarse[j], self.premium_fine[j])
        )

    def premium(self, predicate: Predicate) -> float:
        """What a condition adds to the log price: 0 for an item, more for a range."""
        j, lo, hi = predicate
        f = self.features[j]
        if not f.ordered or lo == f.missing_code:
            return 0.0
        ia, ib = int(f.item_of_code[lo]), int(f.item_of_code[hi])
        if lo != f.item_lo[ia] or hi != f.item_hi[ib]:
            return self.premium_fine[j]
        return 0.0 if ia == ib else self.premium_coarse[j]

    def price(self, predicates: Sequence[Predicate]) -> float:
        """The log number of slices of this kind: ``log M_L`` plus each range's premium."""
        return float(self.log_price[len(predicates)] + sum(self.premium(p) for p in predicates))

    def _offsets(self, size: int) -> np.ndarray:
        if size not in self._offsets_cache:
            self._offsets_cache[size] = (np.arange(self.R, dtype=np.int64) * size)[:, None]
        return self._offsets_cache[size]

    def _error_counts(self, codes_err: np.ndarray, size: int) -> np.ndarray:
        """Errors per cell for every replicate: shape (R, size)."""
        if self.R == 1:
            return np.bincount(codes_err[0], minlength=size)[None, :]
        flat = (codes_err + self._offsets(size)).ravel()
        return np.bincount(flat, minlength=self.R * size).reshape(self.R, size)

    # --- scoring -------------------------------------------------------------------------

    def statistic(self, n, k) -> np.ndarray:
        return slice_statistic(n, k, self.N, self.E)

    def passes_floors(self, n, k, mu=None) -> np.ndarray:
        """The relaxed effect floors a slice needs to enter the pool (and at most ``max_rows``).

        With expected errors ``mu``, the slice's errors must also exceed what the model
        expects by the relaxed lift, relative to the rest.
        """
        n = np.asarray(n, dtype=np.float64)
        k = np.asarray(k, dtype=np.float64)
        p1 = k / np.maximum(n, 1)
        p0 = (self.E - k) / np.maximum(self.N - n, 1)
        ok = (p1 >= self._floor_lift * p0) & (p1 - p0 >= self._floor_difference)
        if self.config.max_rows is not None:
            ok &= n <= self.config.max_rows
        if self.mu is not None and mu is not None:
            mu = np.asarray(mu, dtype=np.float64)
            inside = k / np.maximum(mu, 1e-12)
            outside = (self.E - k) / np.maximum(self.E - mu, 1e-12)
            ok &= inside >= self._floor_lift * outside
        return ok

    def expected_counts(self, codes: np.ndarray, size: int, inside=None) -> np.ndarray | None:
        """Expected errors per code (None without expectations)."""
        if self.mu is None:
            return None
        weights = self.mu if inside is None else self.mu[inside]
        return np.bincount(codes, weights=weights, minlength=size)

    def passes_floors_against(self, n1: int, k1: int, n0: int, k0: int) -> bool:
        """The relaxed floors for rows ``(n1, k1)`` against other rows ``(n0, k0)``."""
        p1 = k1 / max(n1, 1)
        p0 = k0 / max(n0, 1)
        return p1 >= self._floor_lift * p0 and p1 - p0 >= self._floor_difference

    def _offer(
        self,
        combo: tuple[str, tuple[int, ...]],
        cells: np.ndarray,
        n: np.ndarray,
        k: np.ndarray,
        price,
        replicate_mask: np.ndarray | None = None,
        mu: np.ndarray | None = None,
    ) -> np.ndarray:
        """Score cells of one combination, add them to the pools; return the bound per replicate.

        ``price`` is a number or one number per cell; ``mu`` the expected errors per cell.
        The bound is ``slice_bound`` of the most errors in a cell: no sub-slice of any cell
        can score a higher ``T``.
        """
        combo_id = len(self.combos)
        self.combos.append(combo)
        self.combo_cells.append(cells)
        T = self.statistic(n[None, :], k)
        floors = self.passes_floors(n[None, :], k, None if mu is None else mu[None, :])
        score = np.where(floors, T - price, -np.inf)
        if replicate_mask is not None:
            score[~replicate_mask] = -np.inf
        keys = (np.int64(combo_id) << _CELL_BITS) | np.arange(cells.size, dtype=np.int64)
        self.pool.add(score, keys)
        if replicate_mask is None or replicate_mask[0]:
            net = T[0] - price
            allowed = T[0] > 0
            if self.config.max_rows is not None:
                allowed &= n <= self.config.max_rows
            best = int(np.argmax(np.where(allowed, net, -np.inf)))
            seen = self.pair_best.get(combo[1])
            if allowed[best] and (seen is None or net[best] > seen.score):
                self.pair_best[combo[1]] = PairBest(
                    self._decode(combo_id, best), float(T[0, best]), float(net[best])
                )
        bound = slice_bound(k.max(axis=1), self.N, self.E, self.sigma)
        if replicate_mask is not None:
            bound = np.where(replicate_mask, bound, -np.inf)
        return bound

    # --- the search ----------------------------------------------------------------------

    def run(self) -> None:
        """Levels 1 to ``max_conditions`` of the lattice and the ranges of single features.

        Each level is first counted (rows per cell do not depend on the errors, so one
        count serves every replicate), then scored.
        """
        config = self.config
        m = len(self.features)
        bounds: dict[tuple[int, ...], np.ndarray] = {}
        best_single = np.zeros((self.R, m))
        singles = {}
        for j in range(m):
            d = self.dims[j]
            if d == 0:
                continue
            n = np.bincount(self.lat[j], minlength=d + 1)[:d]
            cells = np.flatnonzero(n >= self.sigma)
            if cells.size:
                singles[j] = (cells, n[cells])
        for j, (cells, n) in singles.items():
            k = self._error_counts(self.lat_err[j], self.dims[j] + 1)[:, cells]
            mu = self.expected_counts(self.lat[j], self.dims[j] + 1)
            bounds[(j,)] = self._offer(
                ("lattice", (j,)),
                cells,
                n,
                k,
                float(self.log_price[1]),
                mu=None if mu is None else mu[cells],
            )
            best_single[:, j] = self.statistic(n[None, :], k).max(axis=1)
        if config.use_ranges:
            self._run_ranges(best_single)
        # Screening: beyond one condition, only the features with the best single slices.
        order = np.argsort(-best_single, axis=1, kind="stable")[:, : config.max_features]
        screened = np.zeros((self.R, m), dtype=bool)
        np.put_along_axis(screened, order, True, axis=1)
        screened &= np.array([(j,) in bounds for j in range(m)])[None, :]
        self.screened = screened
        union = [j for j in range(m) if screened[:, j].any()]
        self.searched = tuple(j for j in range(m) if screened[0, j])
        if config.max_conditions >= 2:
            self._run_pairs(union, bounds)
            if config.max_conditions >= 3:
                self._run_triples(union, bounds)

    def _replicates(self, combo: tuple[int, ...]) -> np.ndarray | None:
        mask = self.screened[:, list(combo)].all(axis=1)
        return None if mask.all() else mask

    def _pruned(self, subsets, bounds, price: float) -> bool:
        """Combination-level pruning (single replicate only): a parent's bound is too low."""
        for sub in subsets:
            if sub not in bounds:
                return True  # a parent without any slice of sigma rows
            if self.R == 1 and bounds[sub][0] - price <= self.pool.theta[0]:
                return True
        return False

    def _run_pairs(self, union, bounds) -> None:
        """Every pair of features: items, and runs of neighbouring bins of ordered features.

        One joint bincount per pair gives the items x items table; the runs ("rectangles")
        are sums over it, computed as ``A1 @ table @ A2.T`` with 0/1 membership matrices.
        """
        tables = {}
        for j1, j2 in combinations(union, 2):
            self.n_combinations += 1
            if (j1,) not in bounds or (j2,) not in bounds:
                continue
            d1, d2 = self.dims[j1], self.dims[j2]
            radix = d2 + 1
            n_all = np.bincount(self.lat[j1] * radix + self.lat[j2], minlength=(d1 + 1) * radix)
            table = n_all.reshape(d1 + 1, radix)[:d1, :d2]
            items = np.flatnonzero(table.ravel() >= self.sigma)
            if items.size:
                # Raw (sink-including) codes of the item cells, for the level-3 remap.
                self.pair_items[(j1, j2)] = (items // d2) * radix + items % d2
                tables[(j1, j2)] = table
        price2 = float(self.log_price[2])
        for (j1, j2), table in tables.items():
            if self._pruned([(j1,), (j2,)], bounds, price2):
                self.n_pruned += 1
                continue
            d1, d2 = self.dims[j1], self.dims[j2]
            radix = d2 + 1
            size = (d1 + 1) * radix
            k_all = self._error_counts(self.lat_err[j1] * radix + self.lat_err[j2], size)
            k_table = k_all.reshape(self.R, d1 + 1, radix)[:, :d1, :d2]
            member1, _, _ = self.segments[j1]
            member2, _, _ = self.segments[j2]
            n_rect = member1 @ table @ member2.T
            k_rect = np.einsum("sa,rab,tb->rst", member1, k_table, member2, optimize=True)
            flat_n = n_rect.ravel()
            cells = np.flatnonzero(flat_n >= self.sigma)
            if cells.size == 0:
                continue
            mu = self.expected_counts(self.lat[j1] * radix + self.lat[j2], size)
            if mu is not None:
                mu_table = mu.reshape(d1 + 1, radix)[:d1, :d2]
                mu = (member1 @ mu_table @ member2.T).ravel()[cells]
            price = price2 + self._segment_premium(j1)[cells // member2.shape[0]]
            price = price + self._segment_premium(j2)[cells % member2.shape[0]]
            bounds[(j1, j2)] = self._offer(
                ("pair", (j1, j2)),
                cells,
                np.rint(flat_n[cells]).astype(np.int64),
                np.rint(k_rect.reshape(self.R, -1)[:, cells]).astype(np.int64),
                price,
                self._replicates((j1, j2)),
                mu,
            )

    def _segment_premium(self, j: int) -> np.ndarray:
        _, lo, hi = self.segments[j]
        return np.array([self.premium((j, int(a), int(b))) for a, b in zip(lo, hi, strict=True)])

    def _run_triples(self, union, bounds) -> None:
        """Every triple of features, items only (ranges come from refinement).

        A level-3 cell lies inside a level-2 cell with sigma rows, so the pair code is
        first mapped to those cells (the others become one sink), which keeps every joint
        bincount small.
        """
        position = {j: i for i, j in enumerate(union)}
        triples = []
        for (j1, j2), cells12 in self.pair_items.items():
            later = [j3 for j3 in union if position[j3] > position[j2]]
            if not later:
                continue
            radix2 = self.dims[j2] + 1
            lut = np.full((self.dims[j1] + 1) * radix2, cells12.size, dtype=np.int32)
            lut[cells12] = np.arange(cells12.size, dtype=np.int32)
            pair = lut[self.lat[j1] * radix2 + self.lat[j2]]
            for j3 in later:
                self.n_combinations += 1
                if (j1, j3) not in self.pair_items or (j2, j3) not in self.pair_items:
                    continue  # a parent pair without any cell of sigma rows
                d3 = self.dims[j3]
                radix = d3 + 1
                size = (cells12.size + 1) * radix
                code = pair * radix + self.lat[j3]
                n_all = np.bincount(code, minlength=size)
                ok = n_all >= self.sigma
                ok.reshape(cells12.size + 1, radix)[cells12.size, :] = False
                ok.reshape(cells12.size + 1, radix)[:, d3] = False
                cells = np.flatnonzero(ok)
                if cells.size:
                    mu = self.expected_counts(code, size)
                    mu = None if mu is None else mu[cells]
                    triples.append(((j1, j2, j3), lut, cells, n_all[cells], mu))
        price = float(self.log_price[3])
        for (j1, j2, j3), lut, cells, n, mu in triples:
            if self._pruned([(j1, j2), (j1, j3), (j2, j3)], bounds, price):
                self.n_pruned += 1
                continue
            radix2 = self.dims[j2] + 1
            radix = self.dims[j3] + 1
            pair_err = lut[self.lat_err[j1] * radix2 + self.lat_err[j2]]
            size = (self.pair_items[(j1, j2)].size + 1) * radix
            k = self._error_counts(pair_err * radix + self.lat_err[j3], size)[:, cells]
            combo = (j1, j2, j3)
            # Level 3 is the last level of the lattice: its bound is never needed.
            self._offer(("lattice", combo), cells, n, k, price, self._replicates(combo), mu)

    def _run_ranges(self, best_single: np.ndarray) -> None:
        """Every contiguous range of fine bins of every ordered feature (one condition)."""
        for j, f in enumerate(self.features):
            if not f.ordered or f.n_ordered < 3:
                continue
            nb = f.n_ordered
            a, b = _ranges(nb)
            premium = self._range_premiums[j]
            keep = premium > 0  # single items are scored by the lattice
            a, b, premium = a[keep], b[keep], premium[keep]
            counts = np.bincount(self.codes[j], minlength=f.n_codes)[:nb]
            prefix = np.concatenate([[0], np.cumsum(counts)])
            n = prefix[b + 1] - prefix[a]
            valid = np.flatnonzero(n >= self.sigma)
            if valid.size == 0:
                continue
            err_codes = self.codes[j][self.err]
            k_bins = self._error_counts(err_codes, f.n_codes)[:, :nb]
            k_prefix = np.concatenate([np.zeros((self.R, 1), np.int64), np.cumsum(k_bins, 1)], 1)
            k = k_prefix[:, b[valid] + 1] - k_prefix[:, a[valid]]
            cells = a[valid].astype(np.int64) * nb + b[valid]
            price = float(self.log_price[1]) + premium[valid]
            mu = self.expected_counts(self.codes[j], f.n_codes)
            if mu is not None:
                mu_prefix = np.concatenate([[0.0], np.cumsum(mu[:nb])])
                mu = mu_prefix[b[valid] + 1] - mu_prefix[a[valid]]
            self._offer(("range", (j,)), cells, n[valid], k, price, mu=mu)
            best_single[:, j] = np.maximum(
                best_single[:, j], self.statistic(n[valid][None, :], k).max(axis=1)
            )

    # --- decoding and refinement -----------------------------------------------------------

    def _item_predicate(self, j: int, dense: int) -> Predicate:
        f = self.features[j]
        c = int(self.items[j][dense])
        return (j, int(f.item_lo[c]), int(f.item_hi[c]))

    def _decode(self, combo_id: int, cell_index: int) -> tuple[Predicate, ...]:
        kind, feats = self.combos[combo_id]
        cell = int(self.combo_cells[combo_id][cell_index])
        if kind == "range":
            j = feats[0]
            nb = self.features[j].n_ordered
            return ((j, cell // nb, cell % nb),)
        if kind == "pair":
            j1, j2 = feats
            _, lo1, hi1 = self.segments[j1]
            _, lo2, hi2 = self.segments[j2]
            s1, s2 = divmod(cell, lo2.size)
            return ((j1, int(lo1[s1]), int(hi1[s1])), (j2, int(lo2[s2]), int(hi2[s2])))
        if len(feats) == 1:
            return (self._item_predicate(feats[0], cell),)
        j1, j2, j3 = feats
        radix = self.dims[j3] + 1
        pair_index, c3 = divmod(cell, radix)
        pair_cell = int(self.pair_items[(j1, j2)][pair_index])
        radix2 = self.dims[j2] + 1
        return (
            self._item_predicate(j1, pair_cell // radix2),
            self._item_predicate(j2, pair_cell % radix2),
            self._item_predicate(j3, c3),
        )

    def pool_slices(self, replicate: int) -> list[tuple[tuple[Predicate, ...], float]]:
        """The pool of one replicate as (predicates, score), best first, unrefined."""
        out = []
        for score, key in zip(self.pool.score[replicate], self.pool.key[replicate], strict=True):
            if not np.isfinite(score):
                continue
            combo_id, cell_index = int(key) >> _CELL_BITS, int(key) & ((1 << _CELL_BITS) - 1)
            out.append((self._decode(combo_id, cell_index), float(score)))
        return out

    def mask(self, predicate: Predicate) -> np.ndarray:
        j, lo, hi = predicate
        codes = self.codes[j]
        return (codes == lo) if lo == hi else ((codes >= lo) & (codes <= hi))

    def errors_of(self, replicate: int) -> np.ndarray:
        e = np.zeros(self.N, dtype=bool)
        e[self.err[replicate]] = True
        return e

    def evaluate(self, predicates: Sequence[Predicate], e: np.ndarray, masks=None) -> FoundSlice:
        if masks is None:
            masks = [self.mask(p) for p in predicates]
        inside = np.logical_and.reduce(masks) if masks else np.ones(self.N, dtype=bool)
        n = int(np.count_nonzero(inside))
        k = int(np.count_nonzero(inside & e))
        T = float(self.statistic(n, k))
        mu = None if self.mu is None else float(self.mu[inside].sum())
        return FoundSlice(tuple(predicates), n, k, T, T - self.price(predicates), mu)

    def refine(self, predicates: Sequence[Predicate], e: np.ndarray) -> FoundSlice:
        """Sharpen a slice: best numeric ranges, idle conditions dropped, one condition added.

        Each sweep (i) replaces each numeric condition by the best contiguous range of fine
        bins given the other conditions (exact over ranges: one bincount per condition),
        (ii) drops the weakest condition when its removal raises the score at the price of
        the smaller level, or when the slice is not significantly worse than the rows the
        condition removes (``within_threshold``), and (iii) while the slice has fewer than
        ``max_conditions`` conditions, adds the best condition on another feature (any level,
        missing, or contiguous range) when it raises the score at the price of the next
        level and is itself significant within the slice. Sweeps repeat until nothing
        changes.
        """
        preds = list(predicates)
        masks = [self.mask(p) for p in preds]
        current = self.evaluate(preds, e, masks)
        for _ in range(_REFINE_PASSES):
            changed = False
            for i in range(len(preds)):
                j, lo, hi = preds[i]
                f = self.features[j]
                if not f.ordered or lo == f.missing_code or f.n_ordered < 2:
                    continue
                others = [m for t, m in enumerate(masks) if t != i]
                best = self._best_range(j, others, e, preds, i)
                if best is not None and best.score > current.score + 1e-9:
                    preds[i] = best.predicates[i]
                    masks[i] = self.mask(preds[i])
                    current = best
                    changed = True
            while len(preds) > 1:
                weakest = None
                for i in range(len(preds)):
                    rest = self.evaluate(preds[:i] + preds[i + 1 :], e, masks[:i] + masks[i + 1 :])
                    within = float(slice_statistic(current.n, current.k, rest.n, rest.k))
                    idle = rest.score >= current.score or within < self.within_threshold
                    weaker = weakest is None or within < weakest[0]
                    if idle and weaker and self.passes_floors(rest.n, rest.k, rest.expected):
                        weakest = (within, i, rest)
                if weakest is None:
                    break
                _, i, current = weakest
                preds, masks = preds[:i] + preds[i + 1 :], masks[:i] + masks[i + 1 :]
                changed = True
            if len(preds) < self.config.max_conditions:
                grown = self._best_extension(preds, masks, e, current)
                if grown is not None and grown.score > current.score + 1e-9:
                    preds = list(grown.predicates)
                    masks.append(self.mask(preds[-1]))
                    current = grown
                    changed = True
            if not changed:
                break
        return current

    def _extension_table(self):
        """Every single condition of every feature, as indices into stacked code counts.

        Codes of all features are stacked with offsets, so one bincount over a slice's rows
        counts every feature at once; a condition ``[lo, hi]`` of feature ``j`` then has
        ``prefix[offset_j + hi + 1] - prefix[offset_j + lo]`` rows.
        """
        if hasattr(self, "_ext"):
            return self._ext
        offsets = np.concatenate([[0], np.cumsum([f.n_codes for f in self.features])])
        feature, lo, hi, premium = [], [], [], []
        for j, f in enumerate(self.features):
            if f.ordered:
                a, b = _ranges(f.n_ordered) if f.n_ordered >= 2 else (np.zeros(0, int),) * 2
                lo_j = np.append(a, f.missing_code)
                hi_j = np.append(b, f.missing_code)
                prem = np.append(self._range_premiums[j], 0.0)
            else:
                lo_j = hi_j = np.flatnonzero(f.usable)
                prem = np.zeros(lo_j.size)
            feature.append(np.full(lo_j.size, j))
            lo.append(lo_j)
            hi.append(hi_j)
            premium.append(prem)
        feature = np.concatenate(feature)
        lo = np.concatenate(lo).astype(np.int64)
        hi = np.concatenate(hi).astype(np.int64)
        start = offsets[feature] + lo
        stop = offsets[feature] + hi + 1
        stacked = np.stack(
            [codes + np.int32(offsets[j]) for j, codes in enumerate(self.codes)], axis=1
        ).astype(np.int32)
        self._ext = (
            stacked,
            int(offsets[-1]),
            feature,
            lo,
            hi,
            start,
            stop,
            np.concatenate(premium),
        )
        return self._ext

    def _best_extension(
        self, preds: list[Predicate], masks: list[np.ndarray], e: np.ndarray, current: FoundSlice
    ) -> FoundSlice | None:
        """The best slice with one more condition, on a feature the slice does not use.

        Candidates are every level, the missing value and every contiguous range of fine
        bins of every other feature, scored at once from one stacked bincount; a candidate
        must be significantly worse than the rest of the slice (``within_threshold``).
        """
        stacked, size, feature, lo, hi, start, stop, premium = self._extension_table()
        inside = np.logical_and.reduce(masks)
        rows = stacked[inside]
        counts = np.bincount(rows.ravel(), minlength=size)
        errs = np.bincount(stacked[inside & e].ravel(), minlength=size)
        prefix = np.concatenate([[0], np.cumsum(counts)])
        k_prefix = np.concatenate([[0], np.cumsum(errs)])
        n = prefix[stop] - prefix[start]
        k = k_prefix[stop] - k_prefix[start]
        mu = None
        if self.mu is not None:
            weights = np.repeat(self.mu[inside], rows.shape[1])
            mu_prefix = np.concatenate([[0.0], np.cumsum(np.bincount(rows.ravel(), weights, size))])
            mu = mu_prefix[stop] - mu_prefix[start]
        used = np.zeros(len(self.features), dtype=bool)
        used[[j for j, _, _ in preds]] = True
        candidates = np.flatnonzero((n >= self.sigma) & ~used[feature])
        candidates = candidates[
            self.passes_floors(n[candidates], k[candidates], None if mu is None else mu[candidates])
        ]
        within = slice_statistic(n[candidates], k[candidates], current.n, current.k)
        candidates = candidates[within >= self.within_threshold]
        if candidates.size == 0:
            return None
        base = self.price(preds) - self.log_price[len(preds)] + self.log_price[len(preds) + 1]
        price = base + premium[candidates]
        T = self.statistic(n[candidates], k[candidates])
        score = T - price
        t = int(np.argmax(score))
        c = candidates[t]
        return FoundSlice(
            (*preds, (int(feature[c]), int(lo[c]), int(hi[c]))),
            int(n[c]),
            int(k[c]),
            float(T[t]),
            float(score[t]),
            None if mu is None else float(mu[c]),
        )

    def _best_range(
        self, j: int, others: list[np.ndarray], e: np.ndarray, preds: list[Predicate], i: int
    ) -> FoundSlice | None:
        f = self.features[j]
        nb = f.n_ordered
        if others:
            inside = np.logical_and.reduce(others)
            codes = self.codes[j][inside]
            codes_err = self.codes[j][inside & e]
        else:
            inside = None
            codes = self.codes[j]
            codes_err = self.codes[j][e]
        mu_bins = self.expected_counts(codes, f.n_codes, inside)
        counts = np.bincount(codes, minlength=f.n_codes)[:nb]
        errs = np.bincount(codes_err, minlength=f.n_codes)[:nb]
        a, b = _ranges(nb)
        prefix = np.concatenate([[0], np.cumsum(counts)])
        k_prefix = np.concatenate([[0], np.cumsum(errs)])
        n = prefix[b + 1] - prefix[a]
        k = k_prefix[b + 1] - k_prefix[a]
        mu = None
        if mu_bins is not None:
            mu_prefix = np.concatenate([[0.0], np.cumsum(mu_bins[:nb])])
            mu = mu_prefix[b + 1] - mu_prefix[a]
        ok = np.flatnonzero(n >= self.sigma)
        ok = ok[self.passes_floors(n[ok], k[ok], None if mu is None else mu[ok])]
        if ok.size == 0:
            return None
        T = self.statistic(n[ok], k[ok])
        other_preds = [p for t, p in enumerate(preds) if t != i]
        price = self.price(other_preds) - self.log_price[len(other_preds)]
        price = price + self.log_price[len(preds)] + self._range_premiums[j][ok]
        score = T - price
        t = int(np.argmax(score))
        best = ok[t]
        new = list(preds)
        new[i] = (j, int(a[best]), int(b[best]))
        return FoundSlice(
            tuple(new),
            int(n[best]),
            int(k[best]),
            float(T[t]),
            float(score[t]),
            None if mu is None else float(mu[best]),
        )

    def refined(self, replicate: int, limit: int | None = None) -> list[FoundSlice]:
        """The pool of one replicate (its ``limit`` best), refined, best score first.

        Slices that refine to the same conditions are merged.
        """
        e = self.errors_of(replicate)
        seen: dict[tuple[Predicate, ...], FoundSlice] = {}
        for predicates, _ in self.pool_slices(replicate)[:limit]:
            found = (
                self.refine(predicates, e) if self.config.refine else self.evaluate(predicates, e)
            )
            key = tuple(sorted(found.predicates))
            found = FoundSlice(key, found.n, found.k, found.statistic, found.score, found.expected)
            if key not in seen:
                seen[key] = found
        return sorted(seen.values(), key=lambda s: (-s.score, s.predicates))
