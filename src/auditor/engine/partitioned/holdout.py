"""Holdout metrics of every row, from the merged partials, as the in-memory engine reports them.

Binary: the merged cells (true class, predicted class, score bin) are a compressed test
set, the cells' counts its weights: every metric of ``auditor.metrics`` runs unchanged on it.
Counts-based metrics (accuracy, precision, recall, F1, balanced accuracy, MCC) are exact;
the Brier score and log loss come from exact sums; ROC AUC and average precision are those
of the scores binned in ``FINE_BINS`` logit bins (bound in ``auc_binning_bound``). Bootstrap
replicates are Poisson(1) weights per row and replicate drawn from the row's hash, on
``COARSE_BINS`` bins; the binned metrics' replicates are shifted by the fine-minus-coarse
difference of the point estimate, so that only the fine binning's error remains.
Regression: exact sums and Chan-merged moments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from auditor.engine.partitioned.partials import (
    COARSE_BINS,
    FINE_BINS,
    BinaryPartial,
    MulticlassPartial,
    RegressionPartial,
    bin_scores,
)
from auditor.evaluation import HoldoutScore
from auditor.metrics import METRICS, EvalData, metrics_for

_EXACT_SUMS = {"brier_score": 0, "log_loss": 1}
_BINNED = ("roc_auc", "average_precision")


@dataclass(frozen=True)
class BinaryCells:
    """The test set compressed to its occupied cells, and each cell's number of rows."""

    data: EvalData
    counts: np.ndarray


def cells_data(occupied: np.ndarray, n_bins: int, classes: tuple, positive: int) -> EvalData:
    """The EvalData whose rows are the cells ``occupied`` (indices into the cell histogram)."""
    pair, bins = np.divmod(occupied, n_bins)
    y, y_pred = np.divmod(pair, 2)
    p = bin_scores(n_bins)[bins]
    proba = np.column_stack([1 - p, p]) if positive == 1 else np.column_stack([p, 1 - p])
    return EvalData("binary", y.astype(np.intp), y_pred.astype(np.intp), proba, classes, positive)


def auc_binning_bound(fine: np.ndarray, positive: int) -> float:
    """The most the binned ROC AUC can differ from the exact one: half the share of
    (positive, negative) pairs that share a bin, where the binning calls them tied."""
    per_class = fine.reshape(2, 2, FINE_BINS).sum(axis=1).astype(np.float64)
    pos, neg = per_class[positive], per_class[1 - positive]
    pairs = pos.sum() * neg.sum()
    return float(0.5 * (pos * neg).sum() / pairs) if pairs > 0 else 0.0


def binary_scores(
    merged: BinaryPartial, classes: tuple, positive: int, has_proba: bool
) -> tuple[dict[str, HoldoutScore], BinaryCells]:
    """Every binary metric on all rows, with its replicates, and the compressed test set."""
    fine_cells = np.flatnonzero(merged.fine)
    fine_data = cells_data(fine_cells, FINE_BINS, classes, positive)
    if not has_proba:
        fine_data = EvalData("binary", fine_data.y, fine_data.y_pred, None, classes, positive)
    counts = merged.fine[fine_cells].astype(np.float64)
    n = float(counts.sum())
    coarse_cells = np.flatnonzero(merged.coarse.sum(axis=0) > 0)
    coarse_data = cells_data(coarse_cells, COARSE_BINS, classes, positive)
    coarse_w = merged.coarse[:, coarse_cells]
    # The all-rows counts on the same coarse cells: each coarse bin holds 64 fine bins.
    from_fine = merged.fine.reshape(4, COARSE_BINS, FINE_BINS // COARSE_BINS).sum(axis=2)
    coarse_counts = from_fine.reshape(-1)[coarse_cells][None, :].astype(np.float64)
    scores = {}
    for metric in metrics_for(fine_data):
        value = float(metric.weighted(fine_data, counts[None, :])[0])
        if metric.key in _EXACT_SUMS:
            column = _EXACT_SUMS[metric.key]
            value = float(merged.sums[column] / n)
            replicates = merged.sums_rep[:, column] / merged.coarse.sum(axis=1)
        else:
            replicates = metric.weighted(coarse_data, coarse_w)
            if metric.key in _BINNED:
                coarse_value = float(metric.weighted(coarse_data, coarse_counts)[0])
                replicates = replicates + (value - coarse_value)
        trials = None
        if metric.share_of is not None:
            trials = float(counts[metric.share_of(fine_data)].sum())
        scores[metric.key] = HoldoutScore(value, np.asarray(replicates, float), trials, n)
    return scores, BinaryCells(fine_data, counts)


def regression_scores(merged: RegressionPartial) -> dict[str, HoldoutScore]:
    """R², MAE, RMSE (and MAPE without zero targets) on all rows, with replicates."""
    n = merged.n
    with np.errstate(invalid="ignore", divide="ignore"):
        values = {
            "r2": np.where(merged.m2 > 0, 1 - merged.sums[:, 0] / merged.m2, np.nan),
            "mean_absolute_error": merged.sums[:, 1] / n,
            "root_mean_squared_error": np.sqrt(merged.sums[:, 0] / n),
            "mean_absolute_percentage_error": merged.sums[:, 2] / n,
        }
    if merged.zero_targets:
        del values["mean_absolute_percentage_error"]
    rows = float(n[0])
    return {
        key: HoldoutScore(float(v[0]), np.asarray(v[1:], float), None, rows)
        for key, v in values.items()
    }


def _auc_from_histograms(own: np.ndarray, other: np.ndarray) -> np.ndarray:
    """ROC AUC of scores binned in increasing bins: (..., bins) histograms of the class's
    rows (``own``) and the others' rows; rows in one bin count as tied."""
    below = np.cumsum(other, axis=-1) - other
    n_own, n_other = own.sum(axis=-1), other.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (own * (below + 0.5 * other)).sum(axis=-1) / (n_own * n_other)
    return np.where((n_own > 0) & (n_other > 0), auc, np.nan)


def multiclass_scores(
    merged: MulticlassPartial, classes: tuple, has_proba: bool
) -> tuple[dict[str, HoldoutScore], EvalData, np.ndarray]:
    """Multiclass metrics on all rows with replicates; and the (true, predicted) cells
    with their counts for the tables."""
    k = len(classes)
    cells = np.flatnonzero(merged.confusion)
    y, y_pred = np.divmod(cells, k)
    data = EvalData("multiclass", y.astype(np.intp), y_pred.astype(np.intp), None, classes, 1)
    counts = merged.confusion[cells].astype(np.float64)
    n = float(counts.sum())
    replicate_w = merged.confusion_rep[:, cells]
    scores = {}
    for metric in metrics_for(data):
        value = float(metric.weighted(data, counts[None, :])[0])
        replicates = metric.weighted(data, replicate_w)
        trials = None
        if metric.share_of is not None:
            trials = float(counts[metric.share_of(data)].sum())
        scores[metric.key] = HoldoutScore(value, np.asarray(replicates, float), trials, n)
    if has_proba:
        fine = merged.ovr.astype(np.float64)
        point = float(np.mean(_auc_from_histograms(fine[:, 1], fine[:, 0])))
        coarse = merged.ovr_rep.reshape(-1, k, 2, COARSE_BINS)
        replicates = np.mean(_auc_from_histograms(coarse[:, :, 1], coarse[:, :, 0]), axis=1)
        from_fine = fine.reshape(k, 2, COARSE_BINS, FINE_BINS // COARSE_BINS).sum(axis=3)
        coarse_point = float(np.mean(_auc_from_histograms(from_fine[:, 1], from_fine[:, 0])))
        scores["roc_auc_ovr"] = HoldoutScore(point, replicates + (point - coarse_point), None, n)
        scores["log_loss"] = HoldoutScore(
            merged.log_loss / n,
            merged.log_loss_rep / merged.confusion_rep.sum(axis=1),
            None,
            n,
        )
    order = [m.key for m in METRICS if m.key in scores]
    return {key: scores[key] for key in order}, data, counts
