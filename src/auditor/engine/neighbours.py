"""The nearest training row of each test row, on scaled numbers and matched categories.

Near copies that went through another system (money rounded to coarser units, a score
re-pulled with a jitter of a point or two, new ids) no longer match a training row at any
fixed rounding; by distance they are still far closer to their source than rows of the
table are to one another. Distances are measured on every feature column: numbers scaled
by their training spread (interquartile range / 1.349), so units do not matter; text and
categories by exact (normalised) value, a mismatch putting rows out of reach; a missing
value only near another missing value.

A k-d tree on a random projection of the rows to a few dimensions proposes candidates and
the distance is then measured in full, so the search stays fast on a million rows: a near
copy stays near under any projection, and only near pairs matter here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# Rows searched: every test row up to this many (a seeded sample beyond), and a seeded
# sample of this many train rows for the distances between training rows.
MAX_SEARCHED_ROWS = 20_000
# Dimensions of the projection the tree is built on, and candidates checked per row.
_PROJECTED = 8
_CANDIDATES = 4
_EPS = 0.5
# A category mismatch or a missing value against a number puts rows this far apart,
# beyond any scaled difference of numbers (clipped to +-_CLIP).
_APART = 1e4
# Genuine neighbours come closer than a near copy's distance for at most this share of rows.
_CLOSEST_QUANTILE = 0.001
_CLIP = 1e3
_SCALE_SAMPLE = 100_000


@dataclass(frozen=True, slots=True)
class NearestTrain:
    """Nearest training rows of (a sample of) the test rows, and the table's own spacing.

    ``test_rows`` are the searched test positions, ``distance`` and ``train_row`` their
    nearest training row; ``reference`` holds, for a sample of training rows, the distance
    to their nearest other training row. ``typical`` is its median over positive distances
    (how far apart rows of this table normally are) and ``closest`` its 0.1% quantile (how
    close the closest genuine neighbours come).
    """

    test_rows: np.ndarray
    distance: np.ndarray
    train_row: np.ndarray
    reference_rows: np.ndarray
    reference: np.ndarray
    typical: float
    closest: float

    def near(self, ratio: float) -> float:
        """The distance under which a row is a near copy: ``ratio`` of the typical spacing,
        and closer than all but 0.1% of training rows come to their nearest neighbour."""
        return min(ratio * self.typical, self.closest)


def nearest_train_rows(
    train: pd.DataFrame, test: pd.DataFrame, columns: list[str], rng: np.random.Generator
) -> NearestTrain | None:
    """Search the nearest training row of every test row (or a sample); None without columns."""
    from scipy.spatial import cKDTree

    if not columns or len(train) < 2:
        return None
    train_matrix, test_matrix = _matrices(train, test, columns)
    dims = train_matrix.shape[1]
    projection = (
        rng.normal(size=(dims, _PROJECTED)).astype(np.float32) / np.sqrt(_PROJECTED)
        if dims > _PROJECTED
        else np.eye(dims, dtype=np.float32)
    )
    # scipy's tree builds and queries a million rows several times faster than
    # scikit-learn's; unbalanced, uncompacted nodes build fastest and query as well here.
    tree = cKDTree(train_matrix @ projection, balanced_tree=False, compact_nodes=False)
    test_rows = _sample(len(test), rng)
    distance, train_row = _nearest(tree, projection, train_matrix, test_matrix[test_rows], None)
    reference_rows = _sample(len(train), rng)
    reference, _ = _nearest(
        tree, projection, train_matrix, train_matrix[reference_rows], reference_rows
    )
    positive = reference[reference > 0]
    typical, closest = (
        (float(np.median(positive)), float(np.quantile(positive, _CLOSEST_QUANTILE)))
        if positive.size
        else (0.0, 0.0)
    )
    return NearestTrain(test_rows, distance, train_row, reference_rows, reference, typical, closest)


def _sample(n: int, rng: np.random.Generator) -> np.ndarray:
    if n <= MAX_SEARCHED_ROWS:
        return np.arange(n)
    return np.sort(rng.choice(n, MAX_SEARCHED_ROWS, replace=False))


def _nearest(tree, projection, train_matrix, rows, own):
    """Nearest training row of each of ``rows`` (excluding the row itself when ``own``)."""
    k = min(_CANDIDATES + (own is not None), len(train_matrix))
    # Approximate candidates (each within 1 + _EPS of the true k-th distance in the
    # projection) cost a fraction of exact ones; a near copy, far closer than anything
    # else, is still the first of them.
    _, candidates = tree.query(rows @ projection, k=k, eps=_EPS)
    gaps = train_matrix[candidates] - rows[:, None, :]
    distances = np.sqrt(np.einsum("ijk,ijk->ij", gaps, gaps, dtype=np.float64))
    if own is not None:
        distances[candidates == own[:, None]] = np.inf
    best = np.argmin(distances, axis=1)
    picked = np.arange(len(rows))
    return distances[picked, best], candidates[picked, best]


def _matrices(train: pd.DataFrame, test: pd.DataFrame, columns: list[str]):
    parts_train, parts_test = [], []
    for column in columns:
        a, b = train[column], test[column]
        numbers_a, numbers_b = _numbers(a), _numbers(b)
        if numbers_a is not None and numbers_b is not None:
            parts_train.append(_scaled(numbers_a, numbers_a))
            parts_test.append(_scaled(numbers_b, numbers_a))
        else:
            # Text that differs only in case or spaces is left to the normalised-value
            # comparison of leakage.near_duplicates; here a category matches or not.
            codes, _ = pd.factorize(pd.concat([a, b], ignore_index=True))
            codes = codes.astype(np.float32) * _APART
            parts_train.append(codes[: len(a)])
            parts_test.append(codes[len(a) :])
    return np.column_stack(parts_train), np.column_stack(parts_test)


def _numbers(series: pd.Series) -> np.ndarray | None:
    if pd.api.types.is_bool_dtype(series.dtype) or not pd.api.types.is_numeric_dtype(series.dtype):
        return None
    return series.to_numpy(dtype=float, na_value=np.nan)


def _scaled(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Values centred and scaled by the reference's robust spread; missing set apart."""
    present = reference[np.isfinite(reference)]
    if present.size > _SCALE_SAMPLE:
        # Quartiles of evenly spaced rows: the spread to two digits, without a full sort.
        present = present[:: present.size // _SCALE_SAMPLE]
    if present.size == 0:
        return np.where(np.isnan(values), -_APART, 0.0).astype(np.float32)
    q1, median, q3 = np.quantile(present, [0.25, 0.5, 0.75])
    scale = (q3 - q1) / 1.349 or float(np.std(present)) or 1.0
    scaled = np.clip((values - median) / scale, -_CLIP, _CLIP)
    return np.where(np.isnan(values), -_APART, scaled).astype(np.float32)
