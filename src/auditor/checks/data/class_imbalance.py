"""``data.class_imbalance``: a class with too few rows for its metrics to be trusted."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from auditor.checks._common import splits as present_splits
from auditor.checks._common import status_from
from auditor.context import AuditContext, encode_labels
from auditor.errors import InputError
from auditor.metrics import METRICS_BY_KEY, primary_metric_key
from auditor.registry import CheckOutcome, param, register_check
from auditor.result import Finding, Measurement, Table

CHECK_ID = "data.class_imbalance"


@dataclass(frozen=True, slots=True)
class ClassImbalanceParams:
    """Thresholds of ``data.class_imbalance``.

    Parameters
    ----------
    warn_min_rows : int, default=30
        Warn when a class has fewer test rows than this.
    fail_min_rows : int, default=5
        Fail when a class has fewer test rows than this (none at all included).
    min_train_rows : int, default=10
        Report (informational) a class with fewer train rows than this.
    min_share : float, default=0.02
        A class below this share of test rows warns when the release is judged on a metric
        such imbalance makes misleading (accuracy, ROC AUC); otherwise it is informational.
    metric : str, default=""
        The metric the release is judged on; empty: the audit's headline metric.
    """

    warn_min_rows: int = param(
        30,
        "Warn when a class has fewer test rows than this: its recall is then known only to "
        "about +/- 0.18 (95% interval).",
        minimum=1,
    )
    fail_min_rows: int = param(
        5,
        "Fail when a class has fewer test rows than this (or none): metrics about it are "
        "mostly noise.",
        minimum=1,
    )
    min_train_rows: int = param(
        10,
        "Report, for information, a class with fewer train rows than this: the model has "
        "little to learn it from.",
        minimum=1,
    )
    min_share: float = param(
        0.02,
        "A class below this share of test rows warns when the release is judged on accuracy "
        "or ROC AUC, which such imbalance makes misleading; with another metric it is "
        "reported for information.",
        share=True,
    )
    metric: str = param(
        "",
        "The metric the release is judged on, a metric key such as 'average_precision'; "
        "empty: the audit's headline metric.",
    )


@register_check(
    CHECK_ID,
    title="Classes too small to measure",
    needs=("test",),
    params=ClassImbalanceParams,
    tasks=("binary", "multiclass"),
    rationale=(
        "A rare class is not a defect: fraud at 2% is normal. But a score about a class "
        "measured on a handful of test rows is mostly luck: with 10 rows, one more or one "
        "fewer correct answer moves its recall by 10 points."
    ),
    remedy=(
        "Collect more test rows of the small class (or use a larger test split, stratified by "
        "class), and read its metrics with their confidence intervals."
    ),
)
def class_imbalance(ctx: AuditContext, params: ClassImbalanceParams) -> CheckOutcome:
    """Count rows per class in each split and flag classes too small to be measured.

    Notes
    -----
    The question is the precision of the metrics, not the imbalance itself: a class's
    recall measured on ``m`` test rows has a standard error up to ``0.5 / sqrt(m)``, about
    +/- 0.18 at 30 rows (95%), +/- 0.44 at 5. A class with fewer than ``warn_min_rows``
    test rows warns, fewer than ``fail_min_rows`` (or none) fails. A 5% positive rate on
    1,000 test rows gives 50 positives and passes; fraud at 2% of 20,000 rows gives 400.

    A class below ``min_share`` of the test rows makes some headline metrics misleading:
    accuracy is near 1 by predicting the other classes, and ROC AUC weighs every row of the
    large class equally, so it stays high while most rows the model flags are false alarms.
    When the release is judged on one of those (``metric``, by default the headline metric)
    it warns and names the metrics that stay informative; when it is judged on another
    metric (average precision, balanced accuracy, F1, MCC) the imbalance is informational, like a
    class with fewer than ``min_train_rows`` train rows.
    """
    counts = {
        name: np.bincount(
            encode_labels(frame[ctx.target], ctx.classes, source=f"the {name} target"),
            minlength=len(ctx.classes),
        )
        for name, frame in present_splits(ctx).items()
    }
    full = ctx.all_rows  # --engine dask: the class counts of every row
    if full is not None and full.class_counts:
        counts = {name: full.class_counts[name] for name in counts}
    test = counts["test"]
    n_test = int(test.sum())
    judged_on = _judged_metric(ctx, params)
    findings: list[Finding] = []
    for index, label in enumerate(ctx.classes):
        rows = int(test[index])
        share = rows / n_test
        if rows < params.fail_min_rows:
            severity, level = "high", f"failure below {params.fail_min_rows}"
        elif rows < params.warn_min_rows:
            severity, level = "medium", f"warning below {params.warn_min_rows}"
        else:
            severity = None
        evidence = {
            "class": str(label),
            "test_rows": rows,
            "test_share": share,
            **({"train_rows": int(counts["train"][index])} if "train" in counts else {}),
            "warn_below": params.warn_min_rows,
            "fail_below": params.fail_min_rows,
        }
        name = _label(label)
        if severity is not None:
            margin = _recall_margin(rows) if rows else None
            precision = (
                f"its recall is known to about +/- {margin:.2f}"
                if margin is not None
                else "no metric about it can be measured"
            )
            findings.append(
                Finding(
                    "small_class",
                    severity,
                    f"Class {name} has {rows} test row{'s' if rows != 1 else ''} "
                    f"({share:.2%}; {level}): {precision}.",
                    (ctx.target,),
                    evidence,
                )
            )
            continue
        notes = []
        if "train" in counts and counts["train"][index] < params.min_train_rows:
            notes.append(
                f"only {int(counts['train'][index])} train rows (reported below "
                f"{params.min_train_rows})"
            )
        if share < params.min_share and judged_on in _MISLEADING_UNDER_IMBALANCE:
            findings.append(_misleading_metric(name, rows, share, judged_on, ctx, evidence, params))
        elif share < params.min_share:
            notes.append(
                f"{share:.2%} of test rows (reported below {params.min_share:.0%}); the release "
                f"is judged on {METRICS_BY_KEY[judged_on].label if judged_on else 'no metric'}, "
                "which such imbalance does not mislead"
            )
        if notes:
            findings.append(
                Finding(
                    "rare_class",
                    "low",
                    f"Class {name} has {rows:,} test rows: {'; '.join(notes)}.",
                    (ctx.target,),
                    evidence,
                )
            )
    splits = list(counts)
    table_rows = tuple(
        (
            str(label),
            *(
                x
                for name in splits
                for x in (int(counts[name][i]), float(counts[name][i] / counts[name].sum()))
            ),
        )
        for i, label in enumerate(ctx.classes)
    )
    smallest = int(test.min())
    return CheckOutcome(
        status=status_from(findings),
        summary=_summary(findings, smallest, n_test, len(ctx.classes), params),
        findings=tuple(findings),
        measurements=(
            Measurement("n_smallest_class_test_rows", float(smallest), greater_is_better=True),
            Measurement(
                "smallest_class_test_share", float(smallest / n_test), greater_is_better=True
            ),
            *(
                (Measurement("rows_used", float(n_test), note=f"all {n_test:,} test rows"),)
                if full is not None and full.class_counts
                else ()
            ),
        ),
        tables=(
            Table(
                "rows_by_class",
                "Rows per class, by split",
                ("class", *(x for n in splits for x in (f"{n}_rows", f"{n}_share"))),
                table_rows,
            ),
        ),
    )


# Metrics a rare class makes misleading, and what to read instead, by task.
_MISLEADING_UNDER_IMBALANCE = frozenset({"accuracy", "roc_auc", "roc_auc_ovr"})
_INFORMATIVE = {
    "binary": ("average_precision", "recall", "precision", "balanced_accuracy"),
    "multiclass": ("balanced_accuracy", "f1_macro", "matthews_corrcoef"),
}


def _judged_metric(ctx: AuditContext, params: ClassImbalanceParams) -> str | None:
    if params.metric:
        if params.metric not in METRICS_BY_KEY:
            raise InputError(
                f'[checks."{CHECK_ID}"] metric {params.metric!r} is not a metric key; use one '
                f"of {', '.join(sorted(METRICS_BY_KEY))}."
            )
        return params.metric
    if ctx.predictions is None:
        return None
    return primary_metric_key(ctx.task, ctx.predictions.proba is not None)


def _misleading_metric(name, rows, share, metric, ctx, evidence, params) -> Finding:
    readable = [
        METRICS_BY_KEY[k].label
        for k in _INFORMATIVE[ctx.task]
        if ctx.predictions is None
        or ctx.predictions.proba is not None
        or not METRICS_BY_KEY[k].needs_proba
    ]
    label = METRICS_BY_KEY[metric].label
    why = (
        "accuracy is high by predicting the other classes"
        if metric == "accuracy"
        else f"{label} weighs every row of the large class equally, so it stays high while "
        "most rows the model flags are false alarms"
    )
    margin = _recall_margin(rows)
    return Finding(
        "imbalance_misleads_metric",
        "medium",
        f"Class {name} is {share:.2%} of the test rows ({rows:,} of {rows / share:,.0f}): {why}, "
        f"and its recall is known only to about +/- {margin:.2f}. Judge the release on "
        f"{', '.join(readable)} with their intervals (warning below {params.min_share:.0%} "
        f"when the release is judged on {label}).",
        (ctx.target,),
        {**evidence, "metric": metric, "informative_metrics": list(readable)},
    )


def _recall_margin(rows: int) -> float:
    """Half-width of a 95% interval of a recall measured on ``rows`` rows, at its widest."""
    return 1.96 * 0.5 / math.sqrt(rows)


def _label(label: object) -> str:
    text = repr(label)
    return text if len(text) <= 40 else text[:39] + "…"


def _summary(
    findings: list[Finding],
    smallest: int,
    n_test: int,
    n_classes: int,
    params: ClassImbalanceParams,
) -> str:
    serious = [f for f in findings if f.severity != "low" and f.code == "small_class"]
    misleading = [f for f in findings if f.code == "imbalance_misleads_metric"]
    if misleading and not serious:
        f = misleading[0]
        return (
            f"Class {_label(f.evidence['class'])} is {f.evidence['test_share']:.2%} of the test "
            f"rows: {METRICS_BY_KEY[f.evidence['metric']].label} is misleading at that "
            f"imbalance; read {', '.join(f.evidence['informative_metrics'])}."
        )
    if serious:
        shown = ", ".join(
            f"{_label(f.evidence['class'])} ({f.evidence['test_rows']} rows)" for f in serious[:5]
        )
        return (
            f"{len(serious)} class(es) with fewer than {params.warn_min_rows} test rows: {shown}."
        )
    return (
        f"Every one of the {n_classes} classes has at least {params.warn_min_rows} test rows; "
        f"the smallest has {smallest:,} of {n_test:,} ({smallest / n_test:.1%})."
    )
