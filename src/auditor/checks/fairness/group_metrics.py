"""``fairness.group_metrics``: metric gaps between groups of a sensitive column."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from auditor import keys
from auditor.checks._common import status_from
from auditor.context import AuditContext
from auditor.metrics import (
    EvalData,
    balanced_accuracy,
    error_rate,
    false_positive_rate,
    mean_absolute_error,
    mean_residual,
    precision,
    recall,
    root_mean_squared_error,
    selection_rate,
)
from auditor.registry import CheckOutcome, param, register_check
from auditor.result import Finding, Measurement, Table
from auditor.stats.bootstrap import bootstrap_statistics, percentile_interval
from auditor.stats.random import rng_for

CHECK_ID = "fairness.group_metrics"
MISSING_GROUP = "(missing)"
# A numeric sensitive column with more distinct values than this is cut at its quartiles.
_MAX_DISTINCT_UNBINNED = 10
_QUANTILES = (0.0, 0.25, 0.5, 0.75, 1.0)
# Findings and the summary quote at most this many gaps or columns.
_MAX_QUOTED = 3


@dataclass(frozen=True, slots=True)
class GroupMetricsParams:
    min_group_rows: int = param(
        30,
        "Groups with fewer test rows are reported as too small to judge and left out of the "
        "gaps: their metrics are too noisy to compare.",
        minimum=2,
    )
    max_gap: float = param(
        0.10,
        "Warn when a rate (selection rate, true or false positive rate, error rate; "
        "multiclass: error rate, macro recall) differs by more than this between two groups, "
        "and the difference is distinguishable from sampling noise.",
        share=True,
    )
    fail_gap: float = param(
        0.20, "Fail when such a difference exceeds this (and is distinguishable).", share=True
    )
    min_ratio: float = param(
        0.80,
        "Warn when the lowest group selection rate is below this share of the highest (the "
        "four-fifths rule); regression: when the best group's mean absolute error is below "
        "this share of the worst group's. Only when the difference is distinguishable.",
        share=True,
    )
    confidence: float = param(
        0.95, "Confidence level of the intervals and of the gap tests.", share=True
    )


@dataclass(frozen=True, slots=True)
class _Metric:
    key: str
    label: str
    func: Callable[[EvalData, np.ndarray], np.ndarray]
    gapped: bool  # compared between groups (the others are reported only)


@dataclass(slots=True)
class _Group:
    label: str
    n: int
    judged: bool
    point: dict[str, float]
    replicates: dict[str, np.ndarray]


@dataclass(frozen=True, slots=True)
class _Gap:
    column: str
    metric: _Metric
    low: _Group  # the group with the lower value
    high: _Group
    gap: float
    ci: tuple[float | None, float | None]
    p_value: float | None
    ratio: float | None  # low / high
    ratio_ci: tuple[float | None, float | None]
    n_comparisons: int  # the Bonferroni family of the test

    @property
    def significant(self) -> bool:
        return self.ci[0] is not None and self.ci[0] > 0

    @property
    def low_value(self) -> float:
        return self.low.point[self.metric.key]

    @property
    def high_value(self) -> float:
        return self.high.point[self.metric.key]


# Per-group statistics are the metrics of auditor.metrics (W: (B, n) count weights), with
# an undefined rate left undefined (NaN) rather than 0: a group with no positive row has no
# true positive rate.
_true_positive_rate = partial(recall, undefined=np.nan)
_false_positive_rate = partial(false_positive_rate, undefined=np.nan)
_precision = partial(precision, undefined=np.nan)


METRICS: dict[str, tuple[_Metric, ...]] = {
    "binary": (
        _Metric("selection_rate", "selection rate", selection_rate, True),
        _Metric("true_positive_rate", "true positive rate", _true_positive_rate, True),
        _Metric("false_positive_rate", "false positive rate", _false_positive_rate, True),
        _Metric("precision", "precision", _precision, False),
        _Metric("error_rate", "error rate", error_rate, True),
    ),
    "multiclass": (
        _Metric("error_rate", "error rate", error_rate, True),
        _Metric("recall_macro", "macro recall", balanced_accuracy, True),
    ),
    "regression": (
        _Metric("mean_absolute_error", "mean absolute error", mean_absolute_error, True),
        _Metric("mean_residual", "mean residual (actual - predicted)", mean_residual, False),
        _Metric(
            "root_mean_squared_error",
            "root mean squared error",
            root_mean_squared_error,
            False,
        ),
    ),
}


@register_check(
    CHECK_ID,
    title="Metric gaps between groups",
    needs=("test", "predictions", "sensitive"),
    params=GroupMetricsParams,
    rationale=(
        "A model can perform well overall and still select, miss or wrongly flag the members "
        "of one group far more often than another's. The metrics are measured per group of "
        "each declared sensitive column, with intervals, and the largest differences are "
        "compared with tolerances. Only differences that sampling noise cannot explain are "
        "flagged. These numbers describe the test set at the model's own decision threshold; "
        "they do not by themselves establish or rule out harm, which depends on the use of "
        "the model and on what the labels measure."
    ),
    remedy=(
        "Look at where the gap comes from: too few training rows for a group, labels recorded "
        "differently for it, features that stand in for group membership. Collect more data "
        "for small groups; review the decision threshold per use; involve the people the "
        "decisions affect before choosing a mitigation."
    ),
)
def group_metrics(ctx: AuditContext, params: GroupMetricsParams) -> CheckOutcome:
    """Measure metrics per group of each sensitive column and test the largest gaps.

    Notes
    -----
    Groups are the values of each ``--sensitive`` column, missing values forming their own
    group ``(missing)``; a numeric column with more than 10 distinct values is cut at its
    quartiles. Groups with fewer than ``min_group_rows`` test rows are reported ("too small
    to judge") but not compared.

    Metrics, at the model's predicted labels: binary -- selection rate (share predicted
    positive), true and false positive rates, precision, error rate; multiclass -- error
    rate and macro recall (mean recall over the classes present in the group); regression
    -- mean absolute error, mean residual (actual minus predicted) and root mean squared
    error. A rate whose denominator is empty in a group (no positives, say) is undefined
    there and left out of the comparison. Each has a percentile bootstrap interval from
    ``[evaluation] bootstrap_resamples`` resamples of the group's own rows.

    For each compared metric, the gap is the difference between the highest and the
    lowest group. The selection-rate gap is the demographic parity difference; the larger
    of the true and false positive rate gaps is the equalized odds difference. Groups are
    resampled independently, so the bootstrap distribution of the difference between the
    two extreme groups gives its standard error; its interval is the normal interval with
    that standard error at level ``confidence``, widened by a Bonferroni correction for
    every comparison made on the column (each pair of judged groups on each compared
    metric: the two extremes were picked among all pairs). A gap is flagged
    only when this interval excludes 0 *and* the gap exceeds ``max_gap`` (or the ratio
    falls below ``min_ratio``): small groups produce large gaps by chance alone. Flagged
    gaps warn, and fail beyond ``fail_gap`` (point estimate). Sensitive columns are tested
    separately. Regression gaps are in the target's units, so only the ratio of the best to
    the worst group's mean absolute error is held to a tolerance (``min_ratio``).

    Defaults. 30 rows is where a group's rate interval narrows to about +-0.18 at worst;
    below it a group's metrics say little. A 0.10 difference in a rate (10 percentage
    points) is a commonly used tolerance for demographic parity and equalized odds
    differences, 0.20 is twice it, and 0.8 is the four-fifths rule of US employment
    guidelines. They are conventions, not a standard of acceptability: set them for the
    decision the model supports.

    No finding means no gap was both beyond its tolerance and distinguishable from noise on
    this test set; it does not mean the groups are treated alike in every respect (other
    metrics, intersections of columns and groups too small to judge are not covered).

    References
    ----------
    Fairlearn, "Assessment" and "Common fairness metrics" (demographic parity, equalized
    odds); US EEOC Uniform Guidelines, 29 CFR 1607.4(D) (the four-fifths rule).
    """
    data = ctx.test_eval
    metrics = METRICS[data.task]
    rng = rng_for(ctx.evaluation.seed, CHECK_ID)
    findings: list[Finding] = []
    tables: list[Table] = []
    all_gaps: list[_Gap] = []
    n_small = 0
    for index, column in enumerate(ctx.roles.sensitive):
        codes, labels, binned = _group_codes(ctx.test[column])
        groups = _measure_groups(
            data, codes, labels, metrics, params, rng, ctx.evaluation.bootstrap_resamples
        )
        small = [g for g in groups if not g.judged]
        n_small += len(small)
        gapped = [m for m in metrics if m.gapped]
        gaps = [_gap(column, m, groups, len(gapped), params) for m in gapped]
        gaps = [g for g in gaps if g is not None]
        all_gaps.extend(gaps)
        finding = _gap_finding(column, gaps, data.task, params)
        if finding is not None:
            findings.append(finding)
        if small:
            findings.append(_small_groups_finding(column, small, params))
        tables.append(_group_table(index, column, groups, metrics, binned, params))
    if all_gaps:
        tables.append(_gap_table(all_gaps, data.task, params))
    return CheckOutcome(
        status=status_from(findings),
        summary=_summary(ctx, all_gaps, data.task, params),
        findings=tuple(findings),
        measurements=_measurements(all_gaps, data.task, n_small, params),
        tables=tuple(tables),
    )


# --- Groups ----------------------------------------------------------------------------------


def _group_codes(values: pd.Series) -> tuple[np.ndarray, list[str], bool]:
    """Group code per row (-1 for missing) and the group labels; whether values were binned."""
    is_numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if is_numeric and values.nunique(dropna=True) > _MAX_DISTINCT_UNBINNED:
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        finite = np.isfinite(numbers)
        edges = np.unique(np.quantile(numbers[finite], _QUANTILES))
        if len(edges) < 2:  # a single value among missing ones: nothing to cut
            edges = np.array([edges[0], edges[0]])
        codes = np.clip(np.searchsorted(edges, numbers, side="right") - 1, 0, len(edges) - 2)
        codes = np.where(finite, codes, -1)
        labels = [
            f"[{low:g}, {high:g}{']' if i == len(edges) - 2 else ')'}"
            for i, (low, high) in enumerate(zip(edges[:-1], edges[1:], strict=True))
        ]
        return codes.astype(np.intp), labels, True
    try:
        codes, uniques = pd.factorize(values, sort=True)
    except TypeError:  # values of several types that do not sort together
        codes, uniques = pd.factorize(values, sort=False)
    return codes.astype(np.intp), [str(u) for u in uniques], False


def _measure_groups(
    data: EvalData,
    codes: np.ndarray,
    labels: list[str],
    metrics: tuple[_Metric, ...],
    params: GroupMetricsParams,
    rng: np.random.Generator,
    n_resamples: int,
) -> list[_Group]:
    groups = []
    for code, label in [*enumerate(labels), (-1, MISSING_GROUP)]:
        mask = codes == code
        n = int(mask.sum())
        if n == 0:
            continue
        sub = _subset(data, mask)
        statistics = {m.key: partial(m.func, sub) for m in metrics}
        point = {key: float(stat(np.ones((1, n)))[0]) for key, stat in statistics.items()}
        replicates = bootstrap_statistics(statistics, n, n_resamples=n_resamples, rng=rng)
        groups.append(_Group(label, n, n >= params.min_group_rows, point, replicates))
    return groups


def _subset(data: EvalData, mask: np.ndarray) -> EvalData:
    return EvalData(
        data.task,
        data.y[mask],
        data.y_pred[mask],
        None if data.proba is None else data.proba[mask],
        data.classes,
        data.positive,
    )


# --- Gaps ------------------------------------------------------------------------------------


def _gap(
    column: str,
    metric: _Metric,
    groups: list[_Group],
    n_metrics: int,
    params: GroupMetricsParams,
) -> _Gap | None:
    """The difference between the highest and lowest judged group, with its test; or None.

    The test is Bonferroni-corrected for every comparison the column allows: each pair of
    judged groups on each of the ``n_metrics`` compared metrics.
    """
    candidates = [g for g in groups if g.judged and np.isfinite(g.point[metric.key])]
    if len(candidates) < 2:
        return None
    low = min(candidates, key=lambda g: g.point[metric.key])
    high = max(candidates, key=lambda g: g.point[metric.key])
    if low is high:  # every group has the same value
        high = next(g for g in candidates if g is not low)
    gap = high.point[metric.key] - low.point[metric.key]
    n_comparisons = n_metrics * len(candidates) * (len(candidates) - 1) // 2
    diff = high.replicates[metric.key] - low.replicates[metric.key]
    finite = diff[np.isfinite(diff)]
    alpha = 1 - params.confidence
    if finite.size < 0.95 * diff.size or finite.size < 2:
        # Too many resamples leave the rate undefined: no test rather than a misleading one.
        ci, p_value = (None, None), None
    else:
        se = float(np.std(finite, ddof=1))
        if se == 0:
            ci, p_value = (gap, gap), (0.0 if gap > 0 else 1.0)
        else:
            z = float(stats.norm.ppf(1 - alpha / (2 * n_comparisons)))
            ci = (gap - z * se, gap + z * se)
            p_value = min(1.0, 2 * n_comparisons * float(stats.norm.sf(gap / se)))
    ratio, ratio_ci = None, (None, None)
    if high.point[metric.key] > 0:
        ratio = low.point[metric.key] / high.point[metric.key]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio_ci = percentile_interval(
                low.replicates[metric.key] / high.replicates[metric.key], params.confidence
            )
    return _Gap(column, metric, low, high, gap, ci, p_value, ratio, ratio_ci, n_comparisons)


def _judgement(gap: _Gap, task: str, params: GroupMetricsParams) -> tuple[str, str | None]:
    """('flagged' | 'inconclusive' | 'within limit', severity or None)."""
    beyond = _beyond_limits(gap, task, params)
    if not beyond:
        return "within limit", None
    if not gap.significant:
        return "inconclusive", None
    high = task != "regression" and gap.gap > params.fail_gap
    return "flagged", "high" if high else "medium"


def _beyond_limits(gap: _Gap, task: str, params: GroupMetricsParams) -> list[str]:
    """Which tolerances the gap exceeds: 'gap' (absolute rate difference) and/or 'ratio'."""
    beyond = []
    if task != "regression" and gap.gap > params.max_gap:
        beyond.append("gap")
    uses_ratio = gap.metric.key in {"selection_rate", "mean_absolute_error"}
    if uses_ratio and gap.ratio is not None and gap.ratio < params.min_ratio:
        beyond.append("ratio")
    return beyond


def _describe(gap: _Gap, task: str, params: GroupMetricsParams, *, interval: bool = True) -> str:
    """One measured statement: the values, the difference, the limit (and the interval)."""
    low, high = gap.low.label, gap.high.label
    ci = ""
    if interval and gap.ci[0] is not None:
        ci = (
            f"; {params.confidence:.0%} simultaneous interval of the difference "
            f"[{_number(gap.ci[0])}, {_number(gap.ci[1])}]"
        )
    if gap.metric.key == "mean_absolute_error":
        return (
            f"mean absolute error is {_number(gap.high_value)} for {high!r} against "
            f"{_number(gap.low_value)} for {low!r}, a ratio of {gap.ratio:.2f} "
            f"(limit {params.min_ratio:g}{ci})"
        )
    text = (
        f"{gap.metric.label} differs by {gap.gap:.3f} between {low!r} ({gap.low_value:.3f}) "
        f"and {high!r} ({gap.high_value:.3f}) (limit {params.max_gap:g}{ci})"
    )
    if "ratio" in _beyond_limits(gap, task, params):
        text += (
            f"; the ratio of the selection rates (shares predicted positive) is "
            f"{gap.ratio:.2f} (four-fifths limit {params.min_ratio:g}, a rule for when the "
            "positive prediction is the favourable outcome)"
        )
    return text


def _number(value: float) -> str:
    """Three significant digits, thousands separated for large values (errors in target units)."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _gap_finding(
    column: str, gaps: list[_Gap], task: str, params: GroupMetricsParams
) -> Finding | None:
    """One finding per column: the flagged gaps, else the inconclusive ones (low)."""
    judged = [(g, *_judgement(g, task, params)) for g in gaps]
    flagged = [(g, sev) for g, verdict, sev in judged if verdict == "flagged"]
    inconclusive = [g for g, verdict, _ in judged if verdict == "inconclusive"]
    evidence_limits = {
        "max_gap": params.max_gap,
        "fail_gap": params.fail_gap,
        "min_ratio": params.min_ratio,
    }
    if flagged:
        flagged.sort(key=lambda item: -item[0].gap)
        severity = "high" if any(sev == "high" for _, sev in flagged) else "medium"
        statements = [_describe(g, task, params) for g, _ in flagged[:_MAX_QUOTED]]
        more = f" (+{len(flagged) - _MAX_QUOTED} more)" if len(flagged) > _MAX_QUOTED else ""
        return Finding(
            "group_gap",
            severity,
            f"{column!r}: " + "; ".join(statements) + more + ".",
            (column,),
            {"gaps": [_gap_evidence(g) for g, _ in flagged], **evidence_limits},
        )
    if inconclusive:
        statements = [_describe(g, task, params) for g in inconclusive[:_MAX_QUOTED]]
        what = (
            "These measurements cross their limits, but the differences are"
            if len(inconclusive) > 1
            else "This measurement crosses its limit, but the difference is"
        )
        return Finding(
            "inconclusive_gap",
            "low",
            f"{column!r}: " + "; ".join(statements) + f". {what} within what sampling noise "
            "can produce on groups of these sizes: more test rows are needed to tell.",
            (column,),
            {"gaps": [_gap_evidence(g) for g in inconclusive], **evidence_limits},
        )
    return None


def _gap_evidence(gap: _Gap) -> dict[str, Any]:
    return {
        "metric": gap.metric.key,
        "low_group": gap.low.label,
        "low_value": gap.low_value,
        "high_group": gap.high.label,
        "high_value": gap.high_value,
        "gap": gap.gap,
        "ci_low": gap.ci[0],
        "ci_high": gap.ci[1],
        "p_value": gap.p_value,
        "ratio": gap.ratio,
    }


def _small_groups_finding(column: str, small: list[_Group], params: GroupMetricsParams) -> Finding:
    shown = ", ".join(f"{g.label!r} ({g.n} rows)" for g in small[:5])
    more = f" (+{len(small) - 5} more)" if len(small) > 5 else ""
    return Finding(
        "small_groups",
        "low",
        f"{column!r}: {shown}{more} have fewer than {params.min_group_rows} test rows: too small "
        "to judge, so they were left out of the gaps.",
        (column,),
        {
            "groups": [g.label for g in small],
            "rows": [g.n for g in small],
            "min_group_rows": params.min_group_rows,
        },
    )


# --- Output ----------------------------------------------------------------------------------


def _group_table(
    index: int,
    column: str,
    groups: list[_Group],
    metrics: tuple[_Metric, ...],
    binned: bool,
    params: GroupMetricsParams,
) -> Table:
    rows = []
    for metric in metrics:
        for g in groups:
            low, high = percentile_interval(g.replicates[metric.key], params.confidence)
            value = g.point[metric.key]
            rows.append(
                (
                    metric.key,
                    g.label,
                    g.n,
                    value if np.isfinite(value) else None,
                    low,
                    high,
                    "" if g.judged else "too small to judge",
                )
            )
    cut = " (numeric, cut at its quartiles)" if binned else ""
    return Table(
        f"group_metrics_{index}",
        f"Metrics by group of {column!r}{cut}, {params.confidence:.0%} bootstrap intervals",
        ("metric", "group", "n_rows", "value", "ci_low", "ci_high", "note"),
        tuple(rows),
    )


def _gap_table(gaps: list[_Gap], task: str, params: GroupMetricsParams) -> Table:
    rows = []
    for column in dict.fromkeys(g.column for g in gaps):
        column_gaps = [g for g in gaps if g.column == column]
        for g in column_gaps:
            rows.append(_gap_row(g, g.metric.key, _judgement(g, task, params)[0]))
        rates = [g for g in column_gaps if g.metric.key in _EQUALIZED_ODDS_PARTS]
        if len(rates) == 2:
            larger = max(rates, key=lambda g: g.gap)
            rows.append(_gap_row(larger, "equalized_odds", f"= {larger.metric.label} gap"))
    return Table(
        "group_gaps",
        "Largest differences between groups (intervals and p-values: simultaneous over the "
        "group pairs and metrics of each column)",
        (
            "column",
            "metric",
            "lower_group",
            "lower_value",
            "higher_group",
            "higher_value",
            "gap",
            "ci_low",
            "ci_high",
            "p_value",
            "ratio",
            "judgement",
        ),
        tuple(rows),
    )


_EQUALIZED_ODDS_PARTS = frozenset({"true_positive_rate", "false_positive_rate"})


def _gap_row(gap: _Gap, metric: str, judgement: str) -> tuple:
    return (
        gap.column,
        metric,
        gap.low.label,
        gap.low_value,
        gap.high.label,
        gap.high_value,
        gap.gap,
        gap.ci[0],
        gap.ci[1],
        gap.p_value,
        gap.ratio,
        judgement,
    )


def _measurements(
    gaps: list[_Gap], task: str, n_small: int, params: GroupMetricsParams
) -> tuple[Measurement, ...]:
    largest = max(gaps, key=lambda g: g.gap, default=None)
    out = [
        Measurement(
            keys.MAX_GROUP_GAP.key,
            None if largest is None else largest.gap,
            None if largest is None else largest.ci[0],
            None if largest is None else largest.ci[1],
            False,
        )
    ]
    ratio_key = {"binary": "selection_rate", "regression": "mean_absolute_error"}.get(task)
    if ratio_key is not None:
        ratios = [g for g in gaps if g.metric.key == ratio_key and g.ratio is not None]
        smallest = min(ratios, key=lambda g: g.ratio, default=None)
        name = "min_selection_rate_ratio" if task == "binary" else "min_mae_ratio"
        out.append(
            Measurement(
                name,
                None if smallest is None else smallest.ratio,
                None if smallest is None else smallest.ratio_ci[0],
                None if smallest is None else smallest.ratio_ci[1],
                True,
            )
        )
    out.append(Measurement("n_small_groups", float(n_small)))
    return tuple(out)


def _summary(ctx: AuditContext, gaps: list[_Gap], task: str, params: GroupMetricsParams) -> str:
    columns = ctx.roles.sensitive
    flagged = [g for g in gaps if _judgement(g, task, params)[0] == "flagged"]
    if flagged:
        worst = max(flagged, key=lambda g: (_judgement(g, task, params)[1] == "high", g.gap))
        n_columns = len({g.column for g in flagged})
        return (
            f"{n_columns} of {len(columns)} sensitive column(s) have a gap beyond tolerance "
            f"that sampling noise does not explain; the largest is in {worst.column!r}: "
            f"{_describe(worst, task, params, interval=False)}."
        )
    names = ", ".join(repr(c) for c in columns[:_MAX_QUOTED])
    if len(columns) > _MAX_QUOTED:
        names += f" (+{len(columns) - _MAX_QUOTED} more)"
    if not gaps:
        return (
            f"No two groups of {names} have {params.min_group_rows} or more test rows with the "
            "metrics defined: nothing was compared."
        )
    prefix = f"Metrics compared between groups of {names} at the model's predicted labels: "
    inconclusive = [g for g in gaps if _judgement(g, task, params)[0] == "inconclusive"]
    if inconclusive:
        closest = max(inconclusive, key=lambda g: g.ci[0] if g.ci[0] is not None else -np.inf)
        others = len(inconclusive) - 1
        tail = (
            f"{others} other difference(s) beyond a limit cannot be told apart from it either"
            if others
            else "no other difference is beyond its limit"
        )
        return (
            f"{prefix}in {closest.column!r}, {_describe(closest, task, params, interval=False)}, "
            "but the difference cannot be told apart from sampling noise on groups of these "
            f"sizes; {tail}."
        )
    if task == "regression":
        worst = min((g for g in gaps if g.ratio is not None), key=lambda g: g.ratio, default=None)
        if worst is None:
            worst = max(gaps, key=lambda g: g.gap)
        statement = f"in {worst.column!r}, {_describe(worst, task, params, interval=False)}"
    else:
        largest = max(gaps, key=lambda g: g.gap)
        statement = (
            f"the largest difference is {largest.gap:.3f} in {largest.metric.label} between "
            f"{largest.low.label!r} and {largest.high.label!r} of {largest.column!r} "
            f"(limit {params.max_gap:g})"
        )
    return f"{prefix}{statement}; no difference is beyond its limit."
