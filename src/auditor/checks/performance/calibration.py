"""``performance.calibration``: whether predicted probabilities match observed frequencies."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from auditor.checks._common import status_from
from auditor.context import AuditContext
from auditor.evaluation import holdout_bootstrap, point_weights
from auditor.metrics import EvalData
from auditor.registry import CheckOutcome, SkipCheck, param, register_check
from auditor.result import Curve, Finding, Measurement, Series, Table
from auditor.stats.bootstrap import percentile_interval
from auditor.stats.calibration import (
    ReliabilityBin,
    brier_decomposition,
    ece_if_calibrated,
    quantile_bins,
    reliability_bins,
    weighted_ece,
)
from auditor.stats.digits import decimals_apart
from auditor.stats.intervals import wilson_interval
from auditor.stats.pvalues import p_equals
from auditor.stats.pvalues import p_value as p_text
from auditor.stats.random import rng_for

CHECK_ID = "performance.calibration"
_MAX_CURVE_POINTS = 200


@dataclass(frozen=True, slots=True)
class CalibrationParams:
    n_bins: int = param(10, "Quantile bins of the predicted probabilities.", minimum=2)
    warn_ece: float = param(
        0.05, "Warn when the expected calibration error reaches this value ...", share=True
    )
    significance: float = param(
        0.05,
        "... and a perfectly calibrated model would reach it by chance in fewer than this "
        "share of simulated test sets (so the error is beyond noise).",
        share=True,
    )
    confidence: float = param(0.95, "Level of the intervals.", share=True)


@register_check(
    CHECK_ID,
    title="Calibration of the predicted probabilities",
    needs=("predictions",),
    params=CalibrationParams,
    tasks=("binary", "multiclass"),
    rationale=(
        "When a model says 30%, about 30% of such cases should be positive; decisions that "
        "use the probabilities as probabilities (pricing, triage, expected costs) depend on it."
    ),
    remedy=(
        "Recalibrate on held-out rows (scikit-learn's CalibratedClassifierCV, isotonic or "
        "sigmoid), or use the model for ranking only."
    ),
)
def calibration(ctx: AuditContext, params: CalibrationParams) -> CheckOutcome:
    """Reliability diagram, expected calibration error, Brier decomposition, thresholds.

    Notes
    -----
    Binary: the probability of the positive class against whether the row is positive.
    Multiclass: the top-label confidence (largest probability) against whether the top
    label is right ("top-label calibration", Guo et al., 2017).

    Rows are put in ``n_bins`` bins by quantiles of the probability (equal counts), which
    keeps every bin populated. Each bin's observed frequency has a Wilson interval.
    ``ECE = sum_b (n_b/n) |observed_b - mean probability_b|``, with a bootstrap interval
    (bins fixed, rows resampled): the percentile interval of the replicates shifted by the
    bootstrap estimate of the ECE's bias (mean of the replicates minus the ECE), because
    resampling noise inflates every replicate.

    The ECE is biased upwards: even a perfectly calibrated model shows a positive ECE on a
    finite test set (about 0.02 on 1,500 rows with 10 bins). The check therefore compares
    the observed ECE with its distribution under perfect calibration, simulated by drawing
    outcomes as Bernoulli(probability) for the same rows (consistency resampling, Bröcker
    and Smith, 2007). It warns only when the ECE reaches ``warn_ece`` *and* fewer than
    ``significance`` of the simulated calibrated test sets reach it.

    Binary tasks also get Murphy's decomposition of the Brier score on the same bins
    (reliability - resolution + uncertainty) and precision, recall and F1 against the
    decision threshold. The F1-optimal threshold is chosen on the test rows themselves, so
    its F1 is optimistic; choose thresholds on validation data.
    """
    data = ctx.test_eval
    if data.proba is None:
        # Checked here rather than in ``needs`` so a regression task reads "does not apply".
        raise SkipCheck("the predictions have no class probabilities")
    scores, outcomes, kind = _scores(data)
    event = _event(data, ctx.target)
    weights = ctx.test_weights
    n_resamples = ctx.evaluation.bootstrap_resamples
    full = _all_rows_bins(ctx, params.n_bins)
    if full is None:
        bins = quantile_bins(scores, params.n_bins, weights)
        table = reliability_bins(scores, outcomes, bins, weights)
        statistic = partial(weighted_ece, scores, outcomes, bins)
        ece = float(statistic(point_weights(ctx))[0])
        # The audit's resamples of the test rows, which every test-row statistic shares.
        replicates = holdout_bootstrap(ctx, {"ece": statistic})["ece"]
        n_rows = data.n
    else:
        # --engine dask: the table, the ECE, its interval, its null and the Brier
        # decomposition from every row, in every row's quantile bins (snapped to logit bins).
        merged, replicates = full
        ece, table, n_rows = merged.ece(), merged.table, merged.n
    # Resampling adds noise of its own, which the ECE turns into upward bias: shift the
    # replicates by the bootstrap estimate of that bias before taking percentiles.
    bias = float(np.mean(replicates)) - ece
    low, high = percentile_interval(np.maximum(replicates - bias, 0.0), params.confidence)
    rng = rng_for(ctx.evaluation.seed, CHECK_ID)
    null = (
        ece_if_calibrated(scores, bins, n_resamples, rng, weights)
        if full is None
        else merged.ece_if_calibrated(n_resamples, rng)
    )
    p_value = float((1 + np.sum(null >= ece)) / (1 + null.size))
    null_low, null_high = np.quantile(
        null, [(1 - params.confidence) / 2, (1 + params.confidence) / 2]
    )

    measurements = [
        Measurement("expected_calibration_error", ece, low, high, False),
        Measurement("ece_if_calibrated", float(null.mean()), float(null_low), float(null_high)),
        Measurement("calibration_p_value", p_value),
    ]
    if full is not None:
        measurements.append(
            Measurement("rows_used", float(n_rows), note=f"all {n_rows:,} test rows")
        )
    findings = _findings(ece, p_value, float(null.mean()), table, params, kind)
    curves = [_reliability_curve(table, params.confidence, event)]
    if data.task == "binary":
        parts = (
            brier_decomposition(scores, outcomes, bins, weights)
            if full is None
            else merged.brier(ctx.all_rows.holdout["brier_score"].value)
        )
        measurements += [
            Measurement("brier_score", parts.brier_score, greater_is_better=False),
            Measurement("brier_reliability", parts.reliability, greater_is_better=False),
            Measurement("brier_resolution", parts.resolution, greater_is_better=True),
            Measurement("brier_uncertainty", parts.uncertainty),
        ]
        threshold_rows = (scores, outcomes, weights) if full is None else _all_rows_cells(ctx)
        threshold_curve, best_threshold, best_f1 = _threshold_curve(
            *threshold_rows, event, binned=full is not None
        )
        measurements += [
            Measurement("f1_optimal_threshold", best_threshold),
            Measurement("f1_at_optimal_threshold", best_f1, greater_is_better=True),
        ]
        curves.append(threshold_curve)

    # Millions of rows make the interval narrow: enough decimals to tell its ends apart.
    decimals = 3 if low is None else decimals_apart(low, high, 3)
    interval = "" if low is None else f" [{low:.{decimals}f}, {high:.{decimals}f}]"
    chance = null.mean()
    chance_text = f"{chance:.3f}" if chance >= 0.001 else f"{chance:.2g}"
    summary = (
        f"Expected calibration error {ece:.{decimals}f}{interval} over {len(table)} quantile "
        f"bins of {n_rows:,} test rows ({kind}); a perfectly calibrated model would show "
        f"{chance_text} on average at this size ({p_equals('p', p_value)}). "
    )
    if ece < params.warn_ece:
        summary += f"Below the warning level {params.warn_ece:g}" + (
            ", though beyond what noise explains." if p_value < params.significance else "."
        )
    else:
        beyond = p_value < params.significance
        summary += f"At or above the warning level {params.warn_ece:g}" + (
            " and beyond noise." if beyond else ", but within what noise explains."
        )
    return CheckOutcome(
        status=status_from(findings),
        summary=summary,
        findings=tuple(findings),
        measurements=tuple(measurements),
        tables=(_bin_table(table, params.confidence, kind),),
        curves=tuple(curves),
    )


def _scores(data: EvalData) -> tuple[np.ndarray, np.ndarray, str]:
    if data.task == "binary":
        positive = data.classes[data.positive]
        return (
            data.proba[:, data.positive],
            (data.y == data.positive).astype(float),
            f"probability of class {positive!r}",
        )
    top = np.argmax(data.proba, axis=1)
    return (
        data.proba[np.arange(data.n), top],
        (data.y == top).astype(float),
        "top-label confidence",
    )


def _all_rows_bins(ctx: AuditContext, n_bins: int):
    """``--engine dask``: every test row's reliability bins (``MergedBins``), cut at every
    row's quantile edges snapped to logit bins, and every row's Poisson replicates of the
    ECE in those bins (``ece_replicates``); None in memory or without the cells."""
    full = ctx.all_rows
    if full is None or full.calibration is None or not full.holdout:
        return None
    from auditor.engine.partitioned.calibration import ece_replicates, edge_cells, merged_bins

    edges = edge_cells(full.calibration, n_bins)
    merged = merged_bins(full.calibration, edges)
    # The workers keep the replicates wherever they keep the cells: both need probabilities.
    replicates = ece_replicates(full.calibration, edges, full.calibration_replicates, merged.ece())
    return merged, replicates


def _all_rows_cells(ctx: AuditContext) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``--engine dask``, binary: every test row as the holdout cells hold it, scored by
    the lower edge of its logit bin (``threshold_cells``), for the threshold curve."""
    from auditor.engine.partitioned.calibration import threshold_cells

    return threshold_cells(ctx.all_rows.cells)


def _event(data: EvalData, target: str) -> str | None:
    """What a positive outcome is, in words (``default = 1``); None for top-label scores."""
    return f"{target} = {data.classes[data.positive]}" if data.task == "binary" else None


def _findings(
    ece: float,
    p_value: float,
    null_mean: float,
    table: list[ReliabilityBin],
    params: CalibrationParams,
    kind: str,
) -> list[Finding]:
    if ece < params.warn_ece:
        return []
    worst = max(table, key=lambda b: b.rows * abs(b.observed - b.mean_score))
    direction = "too high" if worst.mean_score > worst.observed else "too low"
    detail = (
        f"The largest contribution comes from predictions between {worst.score_low:.2f} and "
        f"{worst.score_high:.2f}: {worst.mean_score:.1%} predicted on average, "
        f"{worst.observed:.1%} observed ({direction})."
    )
    evidence = {
        "ece": ece,
        "warn_at": params.warn_ece,
        "p_value": p_value,
        "ece_if_calibrated": null_mean,
        "scores": kind,
    }
    if p_value < params.significance:
        return [
            Finding(
                "miscalibrated",
                "medium",
                f"Expected calibration error {ece:.3f} reaches {params.warn_ece:g}, and a "
                f"calibrated model would reach it by chance with probability "
                f"{p_text(p_value)}. " + detail,
                (),
                evidence,
            )
        ]
    return [
        Finding(
            "miscalibration_within_noise",
            "low",
            f"Expected calibration error {ece:.3f} reaches {params.warn_ece:g}, but a calibrated "
            f"model shows {null_mean:.3f} on average on this many rows ({p_equals('p', p_value)}): "
            "more test rows are needed to tell. " + detail,
            (),
            evidence,
        )
    ]


def _reliability_curve(table: list[ReliabilityBin], confidence: float, event: str | None) -> Curve:
    """Observed against predicted per bin, with each bin's interval and its number of rows.

    ``event`` names the positive outcome of a binary task; None means top-label confidence.
    """
    rows = np.array([b.rows for b in table], dtype=float)
    low, high = _bin_intervals(table, confidence)
    level = f"{confidence:.0%}"
    sizes = (
        f"{int(rows.min()):,} test rows each"
        if rows.min() == rows.max()
        else f"{int(rows.min()):,} to {int(rows.max()):,} test rows, shown under the plot"
    )
    if event is not None:
        x_label = f"Predicted probability of {event} (mean of the bin)"
        y_label = f"Observed share of {event} in the bin"
        reading = (
            f"Each point is a bin of test rows with similar predicted probabilities "
            f"({len(table)} bins, {sizes}): how often {event} actually happened in the bin "
            f"against the probability the model gave it, with a {level} interval. Points "
            "below the dashed diagonal mean the model over-predicts (it gives higher "
            "probabilities than what happens), points above mean it under-predicts. Bands "
            "that cross the diagonal are within noise."
        )
    else:
        x_label = "Confidence in the predicted class (mean of the bin)"
        y_label = "Share of the bin whose predicted class is right"
        reading = (
            f"Each point is a bin of test rows with similar confidence in their predicted "
            f"class ({len(table)} bins, {sizes}): how often the predicted class was right "
            f"against the confidence the model gave it, with a {level} interval. Points "
            "below the dashed diagonal mean the model is over-confident (right less often "
            "than it claims), points above mean it is under-confident. Bands that cross the "
            "diagonal are within noise."
        )
    return Curve(
        "reliability",
        "Reliability diagram",
        "line",
        x_label,
        y_label,
        (
            Series(
                f"observed share, {level} Wilson interval",
                tuple(b.mean_score for b in table),
                tuple(b.observed for b in table),
                tuple(map(float, low)),
                tuple(map(float, high)),
                tuple(int(b.rows) for b in table),
            ),
        ),
        reading,
    )


def _bin_intervals(table: list[ReliabilityBin], confidence: float):
    """Wilson interval of each bin's observed share, on its (effective) number of rows."""
    effective = np.array([b.effective_rows for b in table])
    observed = np.array([b.observed for b in table])
    return wilson_interval(observed * effective, effective, confidence)


def _bin_table(table: list[ReliabilityBin], confidence: float, kind: str) -> Table:
    low, high = _bin_intervals(table, confidence)
    level = f"{confidence:.0%}"
    return Table(
        "reliability_bins",
        f"Reliability bins ({kind})",
        (
            "bin",
            "from",
            "to",
            "rows",
            "mean predicted",
            "observed",
            f"{level} low",
            f"{level} high",
        ),
        tuple(
            (
                i + 1,
                b.score_low,
                b.score_high,
                b.rows,
                b.mean_score,
                b.observed,
                float(lo),
                float(hi),
            )
            for i, (b, lo, hi) in enumerate(zip(table, low, high, strict=True))
        ),
    )


def _threshold_curve(
    scores: np.ndarray,
    outcomes: np.ndarray,
    weights: np.ndarray | None,
    event: str,
    *,
    binned: bool = False,
) -> tuple[Curve, float, float]:
    """Precision, recall and F1 at every distinct score taken as the threshold.

    ``binned``: the scores are the lower edges of the holdout cells' logit bins and the
    weights their rows (``--engine dask``), so the thresholds are those edges.
    """
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(outcomes, scores, sample_weight=weights)
    precision, recall = precision[:-1], recall[:-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    best = int(np.argmax(f1))
    keep = np.unique(
        np.r_[np.linspace(0, len(thresholds) - 1, min(len(thresholds), _MAX_CURVE_POINTS)), best]
        .round()
        .astype(int)
    )
    x = tuple(map(float, thresholds[keep]))
    best_threshold, best_f1 = float(thresholds[best]), float(f1[best])
    curve = Curve(
        "threshold_metrics",
        "Precision, recall and F1 against the threshold",
        "line",
        f"Threshold: flag a row as {event} when its probability is at or above",
        "Precision, recall or F1",
        (
            Series("precision", x, tuple(map(float, precision[keep]))),
            Series("recall", x, tuple(map(float, recall[keep]))),
            Series("F1", x, tuple(map(float, f1[keep]))),
            Series(
                f"highest F1: {best_f1:.3f} at threshold {best_threshold:.3f}",
                (best_threshold,),
                (best_f1,),
            ),
        ),
        f"Moving the threshold to the right flags fewer rows as {event}: precision (the share "
        f"of flagged rows that are {event}) tends to rise and recall (the share of {event} "
        "rows that get flagged) falls. F1 balances the two; it peaks at "
        f"{best_f1:.3f} with threshold {best_threshold:.3f}. That threshold is chosen on the "
        "test rows themselves, so its F1 is optimistic: pick thresholds on validation data."
        + (
            " Every test row counts; the thresholds tried are the lower edges of 65,536 bins "
            "of the probability on the logit scale (each point exact for its threshold)."
            if binned
            else ""
        ),
    )
    return curve, best_threshold, best_f1
