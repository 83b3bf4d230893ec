"""Calibration statistics: quantile bins, expected calibration error, Brier decomposition.

Everything works on pairs (score, outcome): for a binary model the predicted probability
of the positive class and whether the row is positive; for a multiclass model the top-label
confidence (largest probability) and whether the top label is right.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Rows x resamples of one chunk of the calibration null distribution (32 MB of float64).
_CHUNK_CELLS = 4_000_000


def quantile_bins(scores: np.ndarray, n_bins: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Bin index (0..m-1, m <= n_bins) of each score, by quantiles of the scores.

    Edges are the ``n_bins`` quantiles of the scores (weighted quantiles with sample
    weights); a score equal to an edge goes to the bin above it. Tied scores always share a
    bin, so a model with few distinct scores gets fewer, unequal bins; empty bins are
    dropped and the rest renumbered in score order. With weights a bin must carry weight:
    rows of weight zero join the nearest bin that does (they change no statistic).
    """
    scores = np.asarray(scores, dtype=float)
    levels = np.linspace(0.0, 1.0, n_bins + 1)
    edges = (
        np.quantile(scores, levels)
        if weights is None
        else weighted_quantile(scores, levels, weights)
    )
    inner = np.unique(edges[1:-1])
    raw = np.searchsorted(inner, scores, side="right")
    present = np.unique(raw if weights is None else raw[weights > 0])
    above = np.clip(np.searchsorted(present, raw), 0, present.size - 1)
    below = np.clip(above - 1, 0, present.size - 1)
    nearer_below = np.abs(present[below] - raw) < np.abs(present[above] - raw)
    return np.where(nearer_below, below, above).astype(np.intp)


def weighted_quantile(values: np.ndarray, levels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """numpy's default (linear) quantile of the rows repeated as often as their weights say,
    with the weights measured in units of the smallest positive one.

    With integer weights whose smallest is 1 it equals
    ``np.quantile(np.repeat(values, weights), levels)``; equal weights give
    ``np.quantile(values, levels)``. The unit makes it scale-free: weights summing to 1
    bin as the same weights times 1,000 do.
    """
    order = np.argsort(values, kind="stable")
    x, w = values[order], np.asarray(weights, dtype=float)[order]
    keep = w > 0
    x, w = x[keep], w[keep] / w[keep].min()
    ends = np.cumsum(w)  # a value fills the repeated positions [ends - w, ends)
    position = (ends[-1] - 1) * np.asarray(levels, dtype=float)
    lower = np.floor(position)

    def at(index: np.ndarray) -> np.ndarray:
        return x[np.minimum(np.searchsorted(ends, index, side="right"), x.size - 1)]

    return at(lower) + (position - lower) * (at(lower + 1) - at(lower))


def _onehot(index: np.ndarray) -> np.ndarray:
    out = np.zeros((index.shape[0], int(index.max()) + 1))
    out[np.arange(index.shape[0]), index] = 1.0
    return out


def weighted_ece(
    scores: np.ndarray, outcomes: np.ndarray, bins: np.ndarray, W: np.ndarray
) -> np.ndarray:
    """Expected calibration error under count weights ``W`` (B, n); returns (B,).

    ``ECE = sum_b (n_b / n) |mean outcome_b - mean score_b|``, which equals
    ``sum_b |sum_{i in b} w_i (outcome_i - score_i)| / sum_i w_i``: the bins stay fixed and
    only the weights change, so one code path gives the estimate (weights of one) and its
    bootstrap.
    """
    residual = np.asarray(outcomes, dtype=float) - np.asarray(scores, dtype=float)
    per_bin = W @ (_onehot(bins) * residual[:, None])
    return np.abs(per_bin).sum(axis=1) / W.sum(axis=1)


def ece_if_calibrated(
    scores: np.ndarray,
    bins: np.ndarray,
    n_draws: int,
    rng: np.random.Generator,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """ECE of ``n_draws`` outcome sets drawn as if the scores were perfectly calibrated.

    Each draw sets outcome_i ~ Bernoulli(score_i) (consistency resampling, Bröcker and
    Smith, 2007) and computes the ECE with the same bins. The result is the sampling
    distribution of the ECE of a calibrated model with exactly these scores: its mean is
    the ECE that noise alone produces at this sample size, and the share of draws at or
    above the observed ECE is a p-value for "the model is calibrated". With sample weights
    the ECE of each draw is weighted as the observed one is.
    """
    scores = np.asarray(scores, dtype=float)
    n = scores.shape[0]
    onehot = _onehot(bins)
    total = float(n)
    if weights is not None:
        onehot = onehot * weights[:, None]
        total = float(weights.sum())
    chunk = max(1, min(n_draws, _CHUNK_CELLS // max(n, 1)))
    out = []
    done = 0
    while done < n_draws:
        size = min(chunk, n_draws - done)
        residual = (rng.random((size, n)) < scores).astype(float) - scores
        out.append(np.abs(residual @ onehot).sum(axis=1) / total)
        done += size
    return np.concatenate(out)


@dataclass(frozen=True, slots=True)
class ReliabilityBin:
    """One bin of the reliability diagram (means weighted when the rows carry weights)."""

    rows: int
    mean_score: float
    observed: float
    positives: int
    score_low: float
    score_high: float
    effective_rows: float


def reliability_bins(
    scores: np.ndarray,
    outcomes: np.ndarray,
    bins: np.ndarray,
    weights: np.ndarray | None = None,
) -> list[ReliabilityBin]:
    """Rows, mean score, observed frequency and score range of each bin, in bin order.

    With sample weights the means are weighted and ``effective_rows`` is Kish's effective
    size of the bin (what its interval rests on); without, it is the row count.
    """
    from auditor.stats.intervals import effective_sample_size

    scores = np.asarray(scores, dtype=float)
    outcomes = np.asarray(outcomes, dtype=float)
    out = []
    for b in range(int(bins.max()) + 1):
        member = bins == b
        w = None if weights is None else weights[member]
        out.append(
            ReliabilityBin(
                rows=int(member.sum()),
                mean_score=float(np.average(scores[member], weights=w)),
                observed=float(np.average(outcomes[member], weights=w)),
                positives=int(round(outcomes[member].sum())),
                score_low=float(scores[member].min()),
                score_high=float(scores[member].max()),
                effective_rows=effective_sample_size(w, int(member.sum())),
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class BrierDecomposition:
    """Murphy's decomposition of the Brier score of binned forecasts."""

    brier_score: float
    reliability: float
    resolution: float
    uncertainty: float

    @property
    def binned_brier_score(self) -> float:
        """``reliability - resolution + uncertainty``: the Brier score of the bin means."""
        return self.reliability - self.resolution + self.uncertainty


def brier_decomposition(
    probabilities: np.ndarray,
    outcomes: np.ndarray,
    bins: np.ndarray,
    weights: np.ndarray | None = None,
) -> BrierDecomposition:
    """Brier score and its reliability, resolution and uncertainty components.

    With bins b holding n_b of the n rows, mean forecast f_b, observed frequency o_b and
    overall frequency o:

    - reliability ``sum_b n_b/n (f_b - o_b)^2`` (lower is better: miscalibration),
    - resolution ``sum_b n_b/n (o_b - o)^2`` (higher is better: how far the bins separate),
    - uncertainty ``o (1 - o)`` (the Brier score of always forecasting o).

    ``reliability - resolution + uncertainty`` equals the Brier score of forecasting each
    bin's mean f_b exactly; the Brier score of the raw probabilities differs from it by the
    spread of the forecasts within the bins (Stephenson et al., 2008).

    References
    ----------
    Murphy, A. H. (1973). A new vector partition of the probability score. Journal of
    Applied Meteorology 12(4), 595-600.
    """
    p = np.asarray(probabilities, dtype=float)
    o = np.asarray(outcomes, dtype=float)
    w = np.ones_like(p) if weights is None else np.asarray(weights, dtype=float)
    onehot = _onehot(bins) * w[:, None]
    counts = onehot.sum(axis=0)
    share = counts / w.sum()
    forecast = (onehot.T @ p) / counts
    observed = (onehot.T @ o) / counts
    base_rate = float(np.average(o, weights=w))
    return BrierDecomposition(
        brier_score=float(np.average((p - o) ** 2, weights=w)),
        reliability=float(share @ (forecast - observed) ** 2),
        resolution=float(share @ (observed - base_rate) ** 2),
        uncertainty=base_rate * (1 - base_rate),
    )
