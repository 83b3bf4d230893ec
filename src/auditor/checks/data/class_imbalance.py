"""``data.class_imbalance``: a class with too few rows for its metrics to be trusted."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from auditor.checks._common import splits as present_splits
from auditor.checks._common import status_from
from auditor.context import AuditContext, encode_labels
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
    min_share : float, default=0.01
        Report (informational) a class below this share of test rows.
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
        0.01,
        "Report, for information, a class below this share of test rows: accuracy then says "
        "little, prefer per-class and ranking metrics.",
        share=True,
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

    Informational (``low``): a class with fewer than ``min_train_rows`` train rows, and a
    class below ``min_share`` of test rows (accuracy is then dominated by the other
    classes).
    """
    counts = {
        name: np.bincount(
            encode_labels(frame[ctx.target], ctx.classes, source=f"the {name} target"),
            minlength=len(ctx.classes),
        )
        for name, frame in present_splits(ctx).items()
    }
    test = counts["test"]
    n_test = int(test.sum())
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
            margin = 1.96 * 0.5 / math.sqrt(rows) if rows else None
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
        if share < params.min_share:
            notes.append(
                f"{share:.2%} of test rows (reported below {params.min_share:.0%}); accuracy "
                "says little about it"
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
    serious = [f for f in findings if f.severity != "low"]
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
