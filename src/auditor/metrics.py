"""Metrics as weighted statistics, so one code path gives the estimate and its bootstrap.

Every metric is a function of per-row count weights ``W`` (shape ``(B, n)``): ones for the
point estimate, bootstrap resample counts for the interval. Each equals the scikit-learn
metric of the same name on the unweighted data (tests check this against scikit-learn).
Keys are scikit-learn scorer names in natural units, never negated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from auditor.spec import DecisionSettings

# log_loss clips probabilities as scikit-learn does, so a confident wrong 0 is finite.
_EPS = np.finfo(np.float64).eps


@dataclass(frozen=True, slots=True)
class EvalData:
    """Targets and predictions of one task, encoded once for every metric.

    Classification: ``y`` and ``y_pred`` hold class indices into ``classes``; ``proba``
    is (n, k) or None; ``positive`` is the index of the positive class (binary only).
    Regression: ``y`` and ``y_pred`` are floats.
    """

    task: str
    y: np.ndarray
    y_pred: np.ndarray
    proba: np.ndarray | None = None
    classes: tuple = ()
    positive: int = 1

    @property
    def n(self) -> int:
        return int(self.y.shape[0])


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """A metric: its scikit-learn key, direction, what it needs, and its weighted form."""

    key: str
    label: str
    greater_is_better: bool
    tasks: frozenset[str]
    needs_proba: bool
    weighted: Callable[[EvalData, np.ndarray], np.ndarray]
    # For a proportion of rows (accuracy, precision, recall): which rows it is a share of.
    # Such a metric gets a score interval, which holds at 0 and 1 where a bootstrap collapses.
    share_of: Callable[[EvalData], np.ndarray] | None = None


def _ratio(num: np.ndarray, den: np.ndarray, undefined: float = 0.0) -> np.ndarray:
    """num/den with ``undefined`` where den is 0.

    0 is scikit-learn's ``zero_division`` default for scores; per-group rates pass NaN, so
    that a group with no positive row has no recall rather than a recall of 0.
    """
    out = np.full(np.broadcast(num, den).shape, undefined, dtype=float)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _onehot(codes: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((codes.shape[0], k))
    out[np.arange(codes.shape[0]), codes] = 1.0
    return out


def binary_counts(d: EvalData, W: np.ndarray) -> tuple[np.ndarray, ...]:
    pos = d.y == d.positive
    pred = d.y_pred == d.positive
    tp = W @ (pos & pred)
    fp = W @ (~pos & pred)
    fn = W @ (pos & ~pred)
    tn = W @ (~pos & ~pred)
    return tp, fp, fn, tn


def _class_counts(d: EvalData, W: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class true positives, true counts and predicted counts, each (B, k)."""
    k = len(d.classes)
    true_1h = _onehot(d.y, k)
    pred_1h = _onehot(d.y_pred, k)
    return W @ (true_1h * pred_1h), W @ true_1h, W @ pred_1h


def accuracy(d: EvalData, W: np.ndarray) -> np.ndarray:
    return (W @ (d.y == d.y_pred)) / W.sum(axis=1)


def balanced_accuracy(d: EvalData, W: np.ndarray) -> np.ndarray:
    tp, true, _ = _class_counts(d, W)
    # Average recall over the classes present in each resample, as scikit-learn does.
    present = true > 0
    return (_ratio(tp, true) * present).sum(axis=1) / present.sum(axis=1)


def precision(d: EvalData, W: np.ndarray, undefined: float = 0.0) -> np.ndarray:
    tp, fp, _, _ = binary_counts(d, W)
    return _ratio(tp, tp + fp, undefined)


def recall(d: EvalData, W: np.ndarray, undefined: float = 0.0) -> np.ndarray:
    """The true positive rate."""
    tp, _, fn, _ = binary_counts(d, W)
    return _ratio(tp, tp + fn, undefined)


def false_positive_rate(d: EvalData, W: np.ndarray, undefined: float = 0.0) -> np.ndarray:
    _, fp, _, tn = binary_counts(d, W)
    return _ratio(fp, fp + tn, undefined)


def selection_rate(d: EvalData, W: np.ndarray) -> np.ndarray:
    """The share of rows predicted as the positive class."""
    return (W @ (d.y_pred == d.positive)) / W.sum(axis=1)


def error_rate(d: EvalData, W: np.ndarray) -> np.ndarray:
    return (W @ (d.y != d.y_pred)) / W.sum(axis=1)


def f1(d: EvalData, W: np.ndarray) -> np.ndarray:
    tp, fp, fn, _ = binary_counts(d, W)
    return _ratio(2 * tp, 2 * tp + fp + fn)


def f1_macro(d: EvalData, W: np.ndarray) -> np.ndarray:
    tp, true, pred = _class_counts(d, W)
    # scikit-learn averages over the labels seen in the truth or the predictions.
    seen = (true + pred) > 0
    return (_ratio(2 * tp, true + pred) * seen).sum(axis=1) / seen.sum(axis=1)


def matthews_corrcoef(d: EvalData, W: np.ndarray) -> np.ndarray:
    tp, true, pred = _class_counts(d, W)
    correct = tp.sum(axis=1)
    total = true.sum(axis=1)
    cov_ytyp = correct * total - (true * pred).sum(axis=1)
    cov_ypyp = total**2 - (pred * pred).sum(axis=1)
    cov_ytyt = total**2 - (true * true).sum(axis=1)
    return _ratio(cov_ytyp, np.sqrt(cov_ytyt * cov_ypyp))


def log_loss(d: EvalData, W: np.ndarray) -> np.ndarray:
    proba = np.clip(d.proba, _EPS, 1 - _EPS)
    proba = proba / proba.sum(axis=1, keepdims=True)
    per_row = -np.log(proba[np.arange(d.n), d.y])
    return (W @ per_row) / W.sum(axis=1)


def brier_score(d: EvalData, W: np.ndarray) -> np.ndarray:
    per_row = (d.proba[:, d.positive] - (d.y == d.positive)) ** 2
    return (W @ per_row) / W.sum(axis=1)


@dataclass(frozen=True, slots=True)
class _Ranking:
    """Where each positive row stands among the rows, by score (ties counted both ways).

    ``positives`` and ``negatives`` are row indices in ascending score order;
    ``negatives_below[i]`` counts the negatives scored strictly below the i-th positive,
    ``negatives_upto[i]`` those scored at or below it, ``positives_below[i]`` the positives
    strictly below it. Every rank statistic then needs the running sums of the weights of
    one class in score order, gathered at those counts, instead of grouping all rows by
    distinct score (which cost four times as long on 1,000 resamples of 15,000 rows).
    """

    positives: np.ndarray
    negatives: np.ndarray
    negatives_below: np.ndarray
    negatives_upto: np.ndarray
    positives_below: np.ndarray

    @classmethod
    def of(cls, scores: np.ndarray, labels: np.ndarray) -> _Ranking:
        def ascending(rows: np.ndarray) -> np.ndarray:
            return rows[np.argsort(scores[rows], kind="mergesort")]

        positives = ascending(np.flatnonzero(labels))
        negatives = ascending(np.flatnonzero(~labels))
        pos_scores, neg_scores = scores[positives], scores[negatives]
        return cls(
            positives,
            negatives,
            np.searchsorted(neg_scores, pos_scores, side="left"),
            np.searchsorted(neg_scores, pos_scores, side="right"),
            np.searchsorted(pos_scores, pos_scores, side="left"),
        )


def _running_sums(W: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Running sums of the weights of ``rows`` in their order, after a leading 0 column."""
    out = np.zeros((W.shape[0], rows.size + 1))
    # np.take gathers columns about twice as fast as W[:, rows].
    np.cumsum(np.take(W, rows, axis=1), axis=1, out=out[:, 1:])
    return out


# The last class ranking and its sums, with the EvalData and weights they were made from:
# ROC AUC and average precision of one chunk of resamples share them (the negatives' running
# sums are most of either's cost). The references keep those objects alive, so an identity
# match cannot be a new object at a recycled address.
_last_ranking: list[tuple] = []


def _ranked(d: EvalData, c: int, W: np.ndarray) -> tuple[_Ranking, np.ndarray, np.ndarray]:
    """Class ``c`` against the rest of ``d`` ranked by its probability: the ranking, the
    negatives' running weight sums and the positives' weights, for the resamples ``W``."""
    if _last_ranking:
        last_d, last_c, last_W, value = _last_ranking[0]
        if last_d is d and last_c == c and last_W is W:
            return value
    ranking = _Ranking.of(d.proba[:, c], d.y == c)
    value = (
        ranking,
        _running_sums(W, ranking.negatives),
        np.take(W, ranking.positives, axis=1),
    )
    _last_ranking[:] = [(d, c, W, value)]
    return value


def _binary_auc(ranking: _Ranking, negatives: np.ndarray, positive_weights: np.ndarray):
    # Mann-Whitney: each positive beats the negatives below it and ties half of those level.
    beaten = np.take(negatives, ranking.negatives_below, axis=1)
    beaten += np.take(negatives, ranking.negatives_upto, axis=1)
    beaten *= 0.5
    n_pos, n_neg = positive_weights.sum(axis=1), negatives[:, -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = np.einsum("ij,ij->i", positive_weights, beaten) / (n_pos * n_neg)
    return np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)


def roc_auc(d: EvalData, W: np.ndarray) -> np.ndarray:
    return _binary_auc(*_ranked(d, d.positive, W))


def roc_auc_ovr(d: EvalData, W: np.ndarray) -> np.ndarray:
    per_class = [_binary_auc(*_ranked(d, c, W)) for c in range(len(d.classes))]
    return np.mean(per_class, axis=0)


def average_precision(d: EvalData, W: np.ndarray) -> np.ndarray:
    # Step-wise AP as in scikit-learn: the mean over positives of the precision among the
    # rows scored at or above them (each threshold weighs its positives, ties included).
    ranking, negatives, positive_weights = _ranked(d, d.positive, W)
    positives = np.zeros((W.shape[0], ranking.positives.size + 1))
    np.cumsum(positive_weights, axis=1, out=positives[:, 1:])
    n_pos = positives[:, -1]
    tp = n_pos[:, None] - np.take(positives, ranking.positives_below, axis=1)
    fp = negatives[:, -1:] - np.take(negatives, ranking.negatives_below, axis=1)
    precision = _ratio(tp, tp + fp)
    ap = _ratio(np.einsum("ij,ij->i", positive_weights, precision), n_pos)
    return np.where(n_pos > 0, ap, np.nan)


def r2(d: EvalData, W: np.ndarray) -> np.ndarray:
    total = W.sum(axis=1)
    mean = (W @ d.y) / total
    # Centre before squaring: sum(y^2) - n*mean^2 cancels catastrophically for large offsets.
    ss_tot = (W * (d.y[None, :] - mean[:, None]) ** 2).sum(axis=1)
    ss_res = W @ ((d.y - d.y_pred) ** 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ss_tot > 0, 1 - ss_res / ss_tot, np.nan)


def mean_absolute_error(d: EvalData, W: np.ndarray) -> np.ndarray:
    return (W @ np.abs(d.y - d.y_pred)) / W.sum(axis=1)


def root_mean_squared_error(d: EvalData, W: np.ndarray) -> np.ndarray:
    return np.sqrt((W @ ((d.y - d.y_pred) ** 2)) / W.sum(axis=1))


def mean_residual(d: EvalData, W: np.ndarray) -> np.ndarray:
    """Mean of actual minus predicted: positive when the model predicts too low."""
    return (W @ (d.y - d.y_pred)) / W.sum(axis=1)


def mean_absolute_percentage_error(d: EvalData, W: np.ndarray) -> np.ndarray:
    per_row = np.abs(d.y - d.y_pred) / np.maximum(np.abs(d.y), _EPS)
    return (W @ per_row) / W.sum(axis=1)


# --- decisions at a threshold on the positive class's probability ----------------------
# Counts are tuples (TP, FP, FN, TN) of weighted row counts, each (B,) or (B, T): what
# ``binary_counts`` gives for a model's labels and ``counts_at_thresholds`` for a sweep.


def counts_at_thresholds(
    scores: np.ndarray, positive: np.ndarray, W: np.ndarray, thresholds: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Weighted (TP, FP, FN, TN), each (B, T), flagging the rows scored at or above each of
    the T thresholds; ``positive`` says which rows are of the positive class.

    Each class is sorted once and its running weight sums gathered at every threshold, so a
    sweep over thousands of thresholds costs about what one threshold does.
    """
    missed = []
    totals = []
    for rows in (np.flatnonzero(positive), np.flatnonzero(~positive)):
        rows = rows[np.argsort(scores[rows], kind="mergesort")]
        below = np.searchsorted(scores[rows], thresholds, side="left")
        sums = _running_sums(W, rows)
        missed.append(np.take(sums, below, axis=1))  # rows scored below: not flagged
        totals.append(sums[:, -1:])
    fn, tn = missed
    return totals[0] - fn, totals[1] - tn, fn, tn


def expected_cost(counts: tuple[np.ndarray, ...], decision: DecisionSettings) -> np.ndarray:
    """Cost per row of the decisions behind ``counts``: the mistakes' costs less the right
    decisions' benefits, in the unit of ``decision``'s costs."""
    tp, fp, fn, tn = counts
    cost = (
        decision.cost_false_positive * fp
        + decision.cost_false_negative * fn
        - decision.benefit_true_positive * tp
        - decision.benefit_true_negative * tn
    )
    return _ratio(cost, tp + fp + fn + tn, np.nan)


def net_benefit(counts: tuple[np.ndarray, ...], threshold: np.ndarray | float) -> np.ndarray:
    """Net benefit of flagging at ``threshold`` (Vickers and Elkin, 2006): true positives per
    row less false positives per row weighted by the odds t / (1 - t), the harm of a false
    alarm relative to the good of a catch that choosing t implies. In true positives per row."""
    tp, fp, fn, tn = counts
    return _ratio(tp - fp * threshold / (1 - threshold), tp + fp + fn + tn, np.nan)


def _every_row(d: EvalData) -> np.ndarray:
    return np.ones(d.n, dtype=bool)


def _predicted_positive(d: EvalData) -> np.ndarray:
    return d.y_pred == d.positive


def _actual_positive(d: EvalData) -> np.ndarray:
    return d.y == d.positive


_BINARY = frozenset({"binary"})
_MULTI = frozenset({"multiclass"})
_CLASSIF = frozenset({"binary", "multiclass"})
_REGRESSION = frozenset({"regression"})

METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("roc_auc", "ROC AUC", True, _BINARY, True, roc_auc),
    MetricSpec("roc_auc_ovr", "ROC AUC (one-vs-rest, macro)", True, _MULTI, True, roc_auc_ovr),
    MetricSpec("average_precision", "Average precision", True, _BINARY, True, average_precision),
    MetricSpec("log_loss", "Log loss", False, _CLASSIF, True, log_loss),
    MetricSpec("brier_score", "Brier score", False, _BINARY, True, brier_score),
    MetricSpec("accuracy", "Accuracy", True, _CLASSIF, False, accuracy, _every_row),
    MetricSpec("balanced_accuracy", "Balanced accuracy", True, _CLASSIF, False, balanced_accuracy),
    MetricSpec("f1", "F1", True, _BINARY, False, f1),
    MetricSpec("f1_macro", "F1 (macro)", True, _MULTI, False, f1_macro),
    MetricSpec("precision", "Precision", True, _BINARY, False, precision, _predicted_positive),
    MetricSpec("recall", "Recall", True, _BINARY, False, recall, _actual_positive),
    MetricSpec(
        "matthews_corrcoef", "Matthews correlation", True, _CLASSIF, False, matthews_corrcoef
    ),
    MetricSpec("r2", "R²", True, _REGRESSION, False, r2),
    MetricSpec(
        "mean_absolute_error", "Mean absolute error", False, _REGRESSION, False, mean_absolute_error
    ),
    MetricSpec(
        "root_mean_squared_error",
        "Root mean squared error",
        False,
        _REGRESSION,
        False,
        root_mean_squared_error,
    ),
    MetricSpec(
        "mean_absolute_percentage_error",
        "Mean absolute percentage error",
        False,
        _REGRESSION,
        False,
        mean_absolute_percentage_error,
    ),
)
METRICS_BY_KEY = {m.key: m for m in METRICS}

# The metric a report leads with and a baseline is compared on, per task.
PRIMARY_METRIC = {"binary": "roc_auc", "multiclass": "roc_auc_ovr", "regression": "r2"}
PRIMARY_METRIC_WITHOUT_PROBA = {"binary": "balanced_accuracy", "multiclass": "balanced_accuracy"}


def metrics_for(d: EvalData) -> tuple[MetricSpec, ...]:
    """The metrics that apply to ``d``: its task, probabilities present, targets valid."""
    chosen = [
        m for m in METRICS if d.task in m.tasks and (d.proba is not None or not m.needs_proba)
    ]
    if d.task == "regression" and np.any(d.y == 0):
        # MAPE divides by |y|: with zero targets it is dominated by machine epsilon.
        chosen = [m for m in chosen if m.key != "mean_absolute_percentage_error"]
    return tuple(chosen)


def primary_metric(d: EvalData) -> str:
    """The headline metric key for this task and the predictions available."""
    return primary_metric_key(d.task, d.proba is not None)


def primary_metric_key(task: str, has_probabilities: bool) -> str:
    """The headline metric of ``task``: the one rule, which every reader of it shares."""
    if not has_probabilities and task in PRIMARY_METRIC_WITHOUT_PROBA:
        return PRIMARY_METRIC_WITHOUT_PROBA[task]
    return PRIMARY_METRIC[task]
