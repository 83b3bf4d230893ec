"""``performance.holdout_metrics``: test-set metrics with bootstrap confidence intervals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from auditor import keys
from auditor.checks._common import status_from
from auditor.context import AuditContext
from auditor.evaluation import HoldoutScore, model_holdout_scores
from auditor.metrics import METRICS_BY_KEY, EvalData, metrics_for, primary_metric
from auditor.registry import CheckOutcome, param, register_check
from auditor.result import Curve, Finding, Measurement, Series, Table
from auditor.stats.random import rng_for

CHECK_ID = "performance.holdout_metrics"
# Curves are thinned to this many points: enough for a smooth figure, small in the JSON.
_MAX_CURVE_POINTS = 200
_MAX_SCATTER_POINTS = 1500
# The residual plot's trend line: the median residual of each tenth of the predictions,
# from bins of at least this many rows.
_RESIDUAL_BINS = 10
_MIN_ROWS_PER_BIN = 20


@dataclass(frozen=True, slots=True)
class HoldoutMetricsParams:
    confidence: float = param(0.95, "Confidence level of the intervals.", share=True)
    min_class_rows: int = param(
        30,
        "Warn when a class has fewer test rows than this: its metrics are too noisy to trust.",
        minimum=1,
    )
    near_perfect: float = param(
        0.99,
        "Note a headline score at least this good (ROC AUC, balanced accuracy or R²): real "
        "tasks rarely allow it, so it points to the leakage checks. It warns when one of them "
        "failed.",
        share=True,
    )


@register_check(
    CHECK_ID,
    title="Holdout metrics with confidence intervals",
    needs=("test", "predictions"),
    params=HoldoutMetricsParams,
    rationale=(
        "A metric measured on a finite test set is an estimate; its interval says how far the "
        "true performance could be from it."
    ),
    remedy="Collect more labelled test rows when the intervals are too wide to decide.",
    remedies={
        "near_perfect_score": (
            "Read the leakage section first: drop columns recorded after the outcome and test "
            "rows copied from training, then audit again. If nothing leaks, confirm the score "
            "on a fresh sample before believing the task is that easy."
        ),
    },
)
def holdout_metrics(ctx: AuditContext, params: HoldoutMetricsParams) -> CheckOutcome:
    """Compute every metric that applies to the task on the test rows, with intervals.

    Notes
    -----
    Intervals are percentile bootstrap intervals over the audit's ``[evaluation]
    bootstrap_resamples`` resamples of the test rows, which every metric and every check
    shares: the same metric carries the same interval in the overfitting check and the
    baseline comparison. They describe sampling noise of the test set only, not the variance
    of refitting the model (see cross-validation).
    """
    data = ctx.test_eval
    # --engine dask: the metrics of every row, merged from the partitions; the tables and
    # curves of a binary task from its compressed rows (cells with counts).
    full = ctx.all_rows if ctx.all_rows is not None and ctx.all_rows.holdout else None
    scores = model_holdout_scores(ctx) if full is None else full.holdout
    counts = None
    if full is not None and full.cells is not None:
        data, counts = full.cells.data, full.cells.counts
    n_rows = data.n if full is None else full.rows["test"]
    # Compressed rows may lack the probabilities (multiclass): the scores say what was measured.
    listed = metrics_for(data) if full is None else tuple(METRICS_BY_KEY[k] for k in scores)
    measurements = []
    for m in listed:
        score = scores[m.key]
        low, high = score.interval(params.confidence)
        measurements.append(Measurement(m.key, score.value, low, high, m.greater_is_better))
    measurements.append(Measurement(keys.N_TEST_ROWS.key, float(n_rows)))
    if full is not None:
        measurements.append(
            Measurement("rows_used", float(n_rows), note=f"all {n_rows:,} test rows")
        )
    if ctx.test_weights is not None:
        measurements.append(Measurement("effective_test_rows", scores[listed[0].key].rows))

    findings = _small_class_findings(data, params, counts) if data.task != "regression" else []
    headline = primary_metric(ctx.test_eval)
    head = next(m for m in measurements if m.key == headline)
    if head.value is not None and head.value >= params.near_perfect:
        findings.append(_near_perfect(head, params))
    findings += _interval_caveats({m.key: scores[m.key] for m in listed}, params.confidence)
    interval = (
        f" [{head.ci_low:.3f}, {head.ci_high:.3f}] ({params.confidence:.0%} "
        f"{scores[headline].method})"
        if head.ci_low is not None
        else " (no interval: the bootstrap collapses at this score, see the notes)"
    )
    weighted = f", weighted by {ctx.roles.weight!r}" if ctx.roles.weight is not None else ""
    summary = (
        f"{METRICS_BY_KEY[headline].label} {head.value:.3f}{interval} on {n_rows:,} test "
        f"rows{weighted}.{_interval_methods(data)}"
    )
    if data.task == "regression":
        tables, curves = (_residual_table(data),), _regression_curves(data, ctx.seed, ctx.target)
    else:
        weights = ctx.test_weights
        tables = (
            _classification_report(data, weights, counts),
            _confusion_matrix(data, weights, counts),
        )
        curves = _classification_curves(data, ctx.target, weights if counts is None else counts)
    return CheckOutcome(
        status=status_from(findings),
        summary=summary,
        findings=tuple(findings),
        measurements=tuple(measurements),
        tables=tables,
        curves=curves,
    )


def _near_perfect(head: Measurement, params: HoldoutMetricsParams) -> Finding:
    label = METRICS_BY_KEY[head.key].label
    return Finding(
        "near_perfect_score",
        "low",
        f"{label} is {head.value:.3f} on the test rows, at or above {params.near_perfect:g}: "
        "few real tasks allow that, and a leak (a column filled after the outcome, test rows "
        "copied from training) is a more common cause than an easy task. Read the leakage "
        "checks before trusting it.",
        (),
        {"metric": head.key, "value": head.value, "near_perfect_at": params.near_perfect},
    )


def _interval_methods(data: EvalData) -> str:
    """`` Accuracy carries a Wilson score interval, the other metrics bootstrap intervals.``"""
    shares = [m.label for m in metrics_for(data) if m.share_of is not None]
    if not shares:
        return ""
    if len(shares) == 1:
        return f" {shares[0]} carries a Wilson score interval, the other metrics bootstrap ones."
    named = ", ".join([shares[0], *(label.lower() for label in shares[1:-1])])
    named += f" and {shares[-1].lower()}"
    return f" {named} carry Wilson score intervals, the other metrics bootstrap ones."


def _interval_caveats(scores: dict[str, HoldoutScore], confidence: float) -> list[Finding]:
    """Notes on intervals that are missing or rough, so that none reads as exact.

    Metrics sharing a caveat (a small test set makes every bootstrap interval rough) share
    one note.
    """
    by_caveat: dict[str, list[str]] = {}
    for key, score in scores.items():
        caveat = score.caveat(confidence)
        if caveat is not None:
            by_caveat.setdefault(caveat, []).append(key)
    return [
        Finding(
            "interval_caveat",
            "low",
            f"{', '.join(METRICS_BY_KEY[k].label for k in metric_keys)}: {caveat}.",
            (),
            {"metrics": metric_keys, "effective_rows": scores[metric_keys[0]].rows},
        )
        for caveat, metric_keys in by_caveat.items()
    ]


def _small_class_findings(
    data: EvalData, params: HoldoutMetricsParams, row_counts: np.ndarray | None = None
) -> list[Finding]:
    counts = np.bincount(data.y, weights=row_counts, minlength=len(data.classes)).astype(int)
    return [
        Finding(
            "small_class",
            "medium",
            f"Class {label!r} has {count} test rows (fewer than {params.min_class_rows}): "
            "metrics about it are too noisy to trust.",
            (),
            {"class": str(label), "rows": int(count), "warn_below": params.min_class_rows},
        )
        for label, count in zip(data.classes, counts, strict=True)
        if count < params.min_class_rows
    ]


def _classification_report(
    data: EvalData, weights: np.ndarray | None, row_counts: np.ndarray | None = None
) -> Table:
    """``row_counts``: how many rows each row of ``data`` stands for (compressed rows)."""
    from sklearn.metrics import precision_recall_fscore_support

    labels = np.arange(len(data.classes))
    precision, recall, f1, _ = precision_recall_fscore_support(
        data.y,
        data.y_pred,
        labels=labels,
        zero_division=0,
        sample_weight=weights if row_counts is None else row_counts,
    )
    # Support stays a count of rows (how many stand behind each line), weighted or not.
    support = np.bincount(data.y, weights=row_counts, minlength=len(labels)).astype(int)
    rows = tuple(
        (str(c), float(p), float(r), float(f), int(s))
        for c, p, r, f, s in zip(data.classes, precision, recall, f1, support, strict=True)
    )
    return Table(
        "classification_report",
        "Per-class precision, recall and F1",
        ("class", "precision", "recall", "f1", "support"),
        rows,
    )


def _confusion_matrix(
    data: EvalData, weights: np.ndarray | None, row_counts: np.ndarray | None = None
) -> Table:
    from sklearn.metrics import confusion_matrix

    matrix = confusion_matrix(
        data.y,
        data.y_pred,
        labels=np.arange(len(data.classes)),
        sample_weight=weights if row_counts is None else row_counts,
    )
    names = [str(c) for c in data.classes]
    cell = int if weights is None else float
    rows = tuple((name, *map(cell, row)) for name, row in zip(names, matrix, strict=True))
    return Table(
        "confusion_matrix",
        "Confusion matrix (rows: true class, columns: predicted"
        + ("; cells are sums of sample weights)" if weights is not None else ")"),
        ("true \\ predicted", *names),
        rows,
    )


def _thin(*arrays: np.ndarray, limit: int = _MAX_CURVE_POINTS) -> list[tuple[float, ...]]:
    """Keep at most ``limit`` evenly spaced points of aligned arrays, always both ends."""
    n = len(arrays[0])
    keep = (
        np.unique(np.linspace(0, n - 1, min(n, limit)).round().astype(int))
        if n
        else np.array([], int)
    )
    return [tuple(float(v) for v in np.asarray(a)[keep]) for a in arrays]


def _classification_curves(
    data: EvalData, target: str, weights: np.ndarray | None
) -> tuple[Curve, ...]:
    if data.proba is None:
        return ()
    from sklearn.metrics import auc, precision_recall_curve, roc_curve

    if data.task == "binary":
        positive = data.classes[data.positive]
        targets = [
            (f"{target} = {positive}", data.y == data.positive, data.proba[:, data.positive])
        ]
        negative = data.classes[1 - data.positive]
        positives, negatives = f"{target} = {positive} rows", f"{target} = {negative} rows"
        flagged_right = f"flagged rows that are {target} = {positive}"
    else:
        targets = [
            (f"{target} = {c} vs rest", data.y == i, data.proba[:, i])
            for i, c in enumerate(data.classes)
        ]
        positives, negatives = "the class's rows", "other classes' rows"
        flagged_right = "flagged rows that are of the class"
    roc_series, pr_series = [], []
    for name, truth, score in targets:
        fpr, tpr, _ = roc_curve(truth, score, sample_weight=weights)
        roc_series.append(Series(f"{name} (AUC {auc(fpr, tpr):.3f})", *_thin(fpr, tpr)))
        precision, recall, _ = precision_recall_curve(truth, score, sample_weight=weights)
        pr_series.append(Series(name, *_thin(recall[::-1], precision[::-1])))
    prevalence = ", ".join(
        f"{name}: {np.average(truth, weights=weights):.1%}" for name, truth, _ in targets
    )
    one_vs_rest = (
        ""
        if data.task == "binary"
        else " Each class gets its own curve, that class against all the others."
    )
    roc_caption = (
        "As the threshold is lowered, more rows are flagged: the curve shows the share of "
        f"{positives} caught (up) against the share of {negatives} wrongly flagged "
        "(right). The closer it runs to the top-left corner, the better the model ranks "
        "them; the dashed diagonal is what a random ranking achieves (AUC 0.5)." + one_vs_rest
    )
    pr_caption = (
        f"At each share of {positives} caught (recall), the share of {flagged_right} "
        "(precision); higher is better. A random ranking stays on the dashed line at the "
        f"share of such rows ({prevalence}). This view is sharper than the ROC curve when "
        "those rows are rare." + one_vs_rest
    )
    return (
        Curve(
            "roc",
            "ROC curve",
            "line",
            f"False positive rate: share of {negatives} flagged",
            f"True positive rate: share of {positives} caught",
            tuple(roc_series),
            roc_caption,
        ),
        Curve(
            "precision_recall",
            "Precision-recall curve",
            "step",
            f"Recall: share of {positives} caught",
            f"Precision: share of {flagged_right}",
            tuple(pr_series),
            pr_caption,
        ),
    )


def _scatter_rows(n: int, seed: int) -> np.ndarray:
    if n <= _MAX_SCATTER_POINTS:
        return np.arange(n)
    return np.sort(
        rng_for(seed, CHECK_ID + ".scatter").choice(n, _MAX_SCATTER_POINTS, replace=False)
    )


def _binned_residuals(predicted: np.ndarray, residuals: np.ndarray) -> Series | None:
    """Median residual with its quartiles in each tenth of the predictions (all test rows)."""
    n_bins = min(_RESIDUAL_BINS, len(predicted) // _MIN_ROWS_PER_BIN)
    if n_bins < 3:
        return None
    order = np.argsort(predicted, kind="stable")
    groups = [g for g in np.array_split(order, n_bins) if len(g)]
    middle = [float(np.median(predicted[g])) for g in groups]
    q1, median, q3 = np.array([np.quantile(residuals[g], (0.25, 0.5, 0.75)) for g in groups]).T
    return Series(
        "median residual, middle half of the rows",
        tuple(middle),
        tuple(map(float, median)),
        tuple(map(float, q1)),
        tuple(map(float, q3)),
    )


def _regression_curves(data: EvalData, seed: int, target: str) -> tuple[Curve, ...]:
    rows = _scatter_rows(data.n, seed)
    shown = (
        f"{len(rows):,} of {data.n:,} test rows"
        if len(rows) < data.n
        else f"all {data.n:,} test rows"
    )
    predicted, actual = data.y_pred[rows], data.y[rows]
    residual_series = [
        Series("test row", tuple(map(float, predicted)), tuple(map(float, actual - predicted)))
    ]
    binned = _binned_residuals(data.y_pred, data.y - data.y_pred)
    per_bin = f" ({data.n // len(binned.x):,} rows each)" if binned is not None else ""
    if binned is not None:
        residual_series.append(binned)
    trend = (
        f" The line is the median residual in each tenth of the predictions{per_bin} and the "
        "band holds the middle half of those rows: a line away from zero is a bias at those "
        "predictions, a band widening to the right (a funnel) means larger errors for larger "
        "predictions."
        if binned is not None
        else " A pattern or a funnel shape means the errors depend on the prediction."
    )
    return (
        Curve(
            "predicted_vs_actual",
            "Predicted against actual",
            "scatter",
            f"Actual {target}",
            f"Predicted {target}",
            (Series("test row", tuple(map(float, actual)), tuple(map(float, predicted))),),
            f"Each point is a test row ({shown}). Points on the dashed diagonal are predicted "
            "exactly; points above it are over-predicted (the model says more than the actual "
            "value), points below are under-predicted. Points drifting below the diagonal at "
            "the high end mean the model pulls large values towards the middle.",
        ),
        Curve(
            "residuals",
            "Residuals against predicted",
            "scatter",
            f"Predicted {target}",
            f"Residual: actual - predicted {target}",
            tuple(residual_series),
            f"Each point is a test row ({shown}). Points above the dashed zero line are rows the "
            "model under-predicted (the actual value is higher), points below are "
            "over-predicted. A good model leaves an even band around zero." + trend,
        ),
    )


def _residual_table(data: EvalData) -> Table:
    residuals = data.y - data.y_pred
    quantiles = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
    values = np.quantile(residuals, quantiles)
    return Table(
        "residual_quantiles",
        "Residual quantiles (actual - predicted)",
        ("quantile", "residual"),
        tuple((q, float(v)) for q, v in zip(quantiles, values, strict=True)),
    )
