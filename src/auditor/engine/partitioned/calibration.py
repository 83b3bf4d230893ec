"""``performance.calibration`` on every row: the reliability bins from the merged cells.

The reliability bins' edges are every row's quantile edges of the score
(``stats.calibration.quantile_bins``), each snapped to the logit bin (``partials.FINE_BINS``)
that holds it, found from the cells' rows per logit bin: a logit bin at or above an edge's
goes above the edge, as a score equal to an edge does in memory. A bin is then a
union of logit bins, so its rows, sums of scores and outcomes, lowest and highest score
are sums (minima, maxima) of the merged cells: exactly what the in-memory code computes
from every row binned so (sums up to the order of float addition).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from auditor.engine.partitioned.holdout import BinaryCells
from auditor.engine.partitioned.partials import (
    COARSE_BINS,
    FINE_BINS,
    LOGIT_LIMIT,
    CalibrationCells,
    histogram_quantile_bins,
    score_bins,
)
from auditor.stats.calibration import BrierDecomposition, ReliabilityBin

# A reliability bin whose outcome sum has at least this variance under perfect
# calibration draws it from the normal distribution: a sum of Bernoulli draws of variance V
# has E|sum - mean| within about 0.06 / V of the normal's (0.06% at 100) and lattice steps
# of a tenth of its standard deviation. Bins of less variance draw every logit bin's
# outcome sum from its binomial.
NORMAL_VARIANCE = 100.0
_CHUNK_CELLS = 4_000_000  # draws x logit bins of one block of binomial draws (32 MB)


@dataclass(frozen=True)
class MergedBins:
    """Per bin, in score order: rows, sums of scores and outcomes, and the variance of its
    outcome sum under perfect calibration; the table; and, per occupied logit bin, its
    reliability bin, rows and sum of scores (the null's exact draws)."""

    rows: np.ndarray
    scores: np.ndarray
    outcomes: np.ndarray
    variance: np.ndarray
    table: list[ReliabilityBin]
    cell_bin: np.ndarray
    cell_rows: np.ndarray
    cell_scores: np.ndarray

    @property
    def n(self) -> int:
        return int(self.rows.sum())

    def ece(self) -> float:
        """``sum_b |sum of outcomes_b - sum of scores_b| / n``: ``weighted_ece``'s formula."""
        return float(np.abs(self.outcomes - self.scores).sum() / self.rows.sum())

    def ece_if_calibrated(self, n_draws: int, rng: np.random.Generator) -> np.ndarray:
        """ECE of ``n_draws`` outcome sets drawn as if every row's score were its
        probability (``stats.calibration.ece_if_calibrated`` of every row, by bin sums).

        A bin's outcome sum is then a sum of Bernoulli(score) draws: mean its sum of scores,
        variance ``sum s(1 - s)``, exactly from the cells. Past ``NORMAL_VARIANCE`` it is
        drawn from that normal; below, as the sum over its logit bins of Binomial(rows,
        mean score): a logit bin spans 5.5e-4 on the logit scale, so its scores' spread
        changes the variance by a relative 1e-7 at most.
        """
        deviation = np.zeros((n_draws, self.rows.size))
        normal = self.variance >= NORMAL_VARIANCE
        deviation[:, normal] = rng.standard_normal((n_draws, int(normal.sum()))) * np.sqrt(
            self.variance[normal]
        )
        for b in np.flatnonzero(~normal):
            member = self.cell_bin == b
            rows = self.cell_rows[member]
            p = np.clip(self.cell_scores[member] / rows, 0.0, 1.0)
            step = max(1, _CHUNK_CELLS // rows.size)
            for start in range(0, n_draws, step):
                size = min(step, n_draws - start)
                drawn = rng.binomial(rows, p, size=(size, rows.size)).sum(axis=1)
                deviation[start : start + size, b] = drawn - self.scores[b]
        return np.abs(deviation).sum(axis=1) / self.rows.sum()

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


def edge_cells(cells: CalibrationCells, n_bins: int) -> np.ndarray:
    """The logit bins of every row's inner quantile edges of the score (increasing,
    distinct): the bins holding them, from the cells' rows per logit bin."""
    occupied = np.flatnonzero(cells.rows)
    levels = np.linspace(0, 1, n_bins + 1)[1:-1]
    return np.unique(histogram_quantile_bins(occupied, cells.rows[occupied], levels))


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
    return MergedBins(
        rows,
        scores,
        outcomes,
        np.maximum(scores - total(cells.squares), 0.0),  # rounding: scores of 0 and 1 only
        table,
        index,
        cells.rows[occupied],
        cells.scores[occupied],
    )


def ece_replicates(
    cells: CalibrationCells,
    edges: np.ndarray,
    replicates: np.ndarray,
    ece: float,
) -> np.ndarray:
    """Poisson bootstrap replicates of every row's ECE, as the holdout metrics'.

    ``replicates``: (B, 2, ``COARSE_BINS``), per replicate, outcome (0, 1: positive; top
    label right) and coarse logit bin of the calibration score, the sum of the rows'
    weights. The reliability bins are
    cut at the coarse bins holding the logit bins ``edges``; a replicate's residual in a
    coarse bin is its weighted outcomes less its weights times the bin's mean score over
    every row, which differs from the weighted residual sum by ``sum (w - 1)(s - mean)``:
    noise of variance the scores' spread inside the bin (a bin spans 0.035 on the logit
    scale), some 1e-5 of the residuals' own. The replicates are shifted by the point
    estimate's fine-minus-coarse difference (``ece`` less the ECE in the coarse bins), so
    only the bootstrap's spread comes from the coarse bins.
    """
    weights, positives = replicates.sum(axis=1), replicates[:, 1]
    per_coarse = FINE_BINS // COARSE_BINS
    rows, scores, outcomes = (
        x.reshape(COARSE_BINS, per_coarse).sum(axis=1)
        for x in (cells.rows, cells.scores, cells.outcomes)
    )
    mean_score = np.divide(scores, rows, out=np.zeros(COARSE_BINS), where=rows > 0)
    group = np.searchsorted(np.unique(edges // per_coarse), np.arange(COARSE_BINS), side="right")
    onehot = np.zeros((COARSE_BINS, int(group.max()) + 1))
    onehot[np.arange(COARSE_BINS), group] = 1.0
    coarse_point = float(np.abs((outcomes - scores) @ onehot).sum() / rows.sum())
    residual = positives - weights * mean_score
    return np.abs(residual @ onehot).sum(axis=1) / weights.sum(axis=1) + (ece - coarse_point)


def threshold_cells(cells: BinaryCells) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The binary holdout cells as the threshold curve reads them: per cell, the lower edge
    of its logit bin (as a probability; 0 for the first bin, which holds every lower
    score), whether its rows are positive, and its rows.

    "Score at or above the lower edge of bin b" flags exactly the rows of bins b and above,
    so the precision and recall at each edge are every row's, exactly (a score that rounds
    into the bin below its edge's aside). Each point is the raw scores' point at the lowest
    score at or above the edge: the curve is a subset of the in-memory one, and its highest
    F1 at most the in-memory one's.
    """
    data = cells.data
    fine = score_bins(data.proba[:, data.positive], FINE_BINS)  # the cells' own bins
    logit = fine * (2 * LOGIT_LIMIT / FINE_BINS) - LOGIT_LIMIT
    lower = np.where(fine == 0, 0.0, 1 / (1 + np.exp(-logit)))
    return lower, (data.y == data.positive).astype(float), cells.counts
