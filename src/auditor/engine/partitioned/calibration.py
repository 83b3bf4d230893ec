"""``performance.calibration`` on every row: the reliability bins from the merged cells.

The bin edges are the sample's quantile edges (``stats.calibration.quantile_bins``), each
snapped to the logit bin (``partials.FINE_BINS``) that holds it: a logit bin at or above an
edge's goes above the edge, as a score equal to an edge does in memory. A bin is then a
union of logit bins, so its rows, sums of scores and outcomes, lowest and highest score
are sums (minima, maxima) of the merged cells: exactly what the in-memory code computes
from every row binned so (sums up to the order of float addition).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from auditor.engine.partitioned.partials import FINE_BINS, CalibrationCells, score_bins
from auditor.stats.calibration import BrierDecomposition, ReliabilityBin


@dataclass(frozen=True)
class MergedBins:
    """Per bin, in score order: rows and sums of scores and outcomes; and the table."""

    rows: np.ndarray
    scores: np.ndarray
    outcomes: np.ndarray
    table: list[ReliabilityBin]

    @property
    def n(self) -> int:
        return int(self.rows.sum())

    def ece(self) -> float:
        """``sum_b |sum of outcomes_b - sum of scores_b| / n``: ``weighted_ece``'s formula."""
        return float(np.abs(self.outcomes - self.scores).sum() / self.rows.sum())

    def brier(self, brier_score: float) -> BrierDecomposition:
        """Murphy's decomposition (``stats.calibration.brier_decomposition``) of these bins;
        ``brier_score`` is the mean squared error of the raw scores (an exact sum)."""
        share = self.rows / self.rows.sum()
        forecast, observed = self.scores / self.rows, self.outcomes / self.rows
        base_rate = float(self.outcomes.sum() / self.rows.sum())
        return BrierDecomposition(
            brier_score=brier_score,
            reliability=float(share @ (forecast - observed) ** 2),
            resolution=float(share @ (observed - base_rate) ** 2),
            uncertainty=base_rate * (1 - base_rate),
        )


def edge_cells(sample_scores: np.ndarray, n_bins: int) -> np.ndarray:
    """The logit bins of the sample's inner quantile edges (increasing, distinct)."""
    edges = np.quantile(np.asarray(sample_scores, dtype=float), np.linspace(0, 1, n_bins + 1))
    return np.unique(score_bins(np.unique(edges[1:-1]), FINE_BINS))


def merged_bins(cells: CalibrationCells, edges: np.ndarray) -> MergedBins:
    """Every row's reliability bins, the bins cut at the logit bins ``edges``; empty bins
    are dropped and the rest numbered in score order (as ``quantile_bins`` does)."""
    occupied = np.flatnonzero(cells.rows)
    raw = np.searchsorted(edges, occupied, side="right")
    _, index = np.unique(raw, return_inverse=True)
    m = int(index.max()) + 1

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(index, weights=values[occupied], minlength=m)

    rows = np.bincount(index, weights=cells.rows[occupied], minlength=m).astype(np.int64)
    scores, outcomes = total(cells.scores), total(cells.outcomes)
    low = np.full(m, np.inf)
    high = np.full(m, -np.inf)
    np.minimum.at(low, index, cells.low[occupied])
    np.maximum.at(high, index, cells.high[occupied])
    table = [
        ReliabilityBin(
            rows=int(rows[b]),
            mean_score=float(scores[b] / rows[b]),
            observed=float(outcomes[b] / rows[b]),
            positives=int(round(outcomes[b])),
            score_low=float(low[b]),
            score_high=float(high[b]),
            effective_rows=float(rows[b]),
        )
        for b in range(m)
    ]
    return MergedBins(rows, scores, outcomes, table)
