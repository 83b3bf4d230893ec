"""``fairness.group_metrics``: metric gaps between groups of a sensitive column."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from auditor import keys
from auditor.checks._common import rows_used, status_from
from auditor.context import AuditContext, encode_labels
from auditor.engine.sensitive_groups import MAX_DISTINCT_UNBINNED, QUARTILES
from auditor.errors import InputError, preview
from auditor.metrics import (
    EvalData,
    balanced_accuracy,
    mean_absolute_error,
    mean_residual,
    root_mean_squared_error,
)
from auditor.registry import CheckOutcome, param, register_check
from auditor.result import Finding, Measurement, Table
from auditor.stats.bootstrap import bootstrap_statistics, percentile_interval
from auditor.stats.intervals import (
    effective_sample_size,
    weighted_proportion_interval,
    wilson_interval,
)
from auditor.stats.random import rng_for

CHECK_ID = "fairness.group_metrics"
MISSING_GROUP = "(missing)"
# Findings and the summary quote at most this many gaps or columns.
_MAX_QUOTED = 3
# Proxies: associations are measured on at most this many test rows (seeded sample), which
# keeps the standard error of a Cramer's V or correlation ratio near 0.01: plenty for a
# screen whose limits are 0.5 and 0.8.
_PROXY_SAMPLE_ROWS = 20_000
# Bias-corrected Cramer's V of 0.5 is a strong association by Cohen's conventions for any
# table size; a correlation ratio of 0.8 means the groups explain 64% of a numeric input's
# variance. Either way the input largely tells the groups apart.
_PROXY_MIN_CRAMERS_V = 0.5
_PROXY_MIN_CORRELATION_RATIO = 0.8
# A categorical input with more distinct values than this share of the rows is id-like: its
# contingency table says nothing about the groups.
_PROXY_MAX_DISTINCT_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class GroupMetricsParams:
    min_group_rows: int = param(
        30,
        "Groups with fewer test rows (effective rows when the rows are weighted) are shown, "
        "labelled too small to judge, and left out of the gaps, the headline and the status: "
        "their metrics are too noisy to compare.",
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
        "Warn when the lower group selection rate (share predicted the favourable class) is "
        "below this share of the higher (the four-fifths rule); regression: when the best "
        "group's mean absolute error is below this share of the worst group's. Only when the "
        "difference is distinguishable.",
        share=True,
    )
    confidence: float = param(
        0.95, "Confidence level of the intervals and of the gap tests.", share=True
    )
    favourable_class: Any = param(
        None,
        "Binary tasks: the outcome that is favourable to the people concerned (a loan "
        "approved, a claim paid), matched by value or by text. Selection rates, their ratios "
        "(four-fifths rule), true and false positive rates and label rates are of this class. "
        "Default: the positive class. Also --favourable-class.",
    )
    reference_group: Any = param(
        None,
        "The group every other group is compared with, besides the highest and lowest (the "
        "group a guideline names, say). Default: the largest group of each sensitive column. "
        "With several sensitive columns it applies to those that have such a group.",
    )


# The parts of a rate: (the rows counted, the rows it is a share of).
ShareParts = Callable[[EvalData], tuple[np.ndarray, np.ndarray]]


# A regression metric from a group's sums of (rows, residuals, absolute residuals, squared
# residuals), each an array over bootstrap replicates: how --engine dask measures it.
FromSums = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True, slots=True)
class _Metric:
    key: str
    label: str
    func: Callable[[EvalData, np.ndarray], np.ndarray]
    gapped: bool  # compared between groups (the others are reported only)
    # A rate: a share of rows. Rates get Wilson intervals per group and Newcombe intervals of
    # their differences, which stay honest at 0 and 1 where a bootstrap collapses.
    share: ShareParts | None = None
    from_sums: FromSums | None = None  # regression: ``func`` of the group's residual sums


def _rate(parts: ShareParts) -> Callable[[EvalData, np.ndarray], np.ndarray]:
    """The rate as a weighted statistic of count weights ``W`` (B, n); NaN where undefined:
    a group with no positive row has no true positive rate."""

    def statistic(d: EvalData, W: np.ndarray) -> np.ndarray:
        counted, among = parts(d)
        numerator, denominator = W @ (counted & among), W @ among
        out = np.full(denominator.shape, np.nan)
        np.divide(numerator, denominator, out=out, where=denominator > 0)
        return out

    return statistic


def _rate_metric(key: str, label: str, parts: ShareParts, gapped: bool) -> _Metric:
    return _Metric(key, label, _rate(parts), gapped, parts)


def _everyone(d: EvalData) -> np.ndarray:
    return np.ones(d.n, dtype=bool)


@dataclass(frozen=True, slots=True)
class _Share:
    """A rate as its Wilson interval sees it: the share, and the (effective) rows it is of."""

    rate: float
    n: float

    def interval(self, confidence: float) -> tuple[float | None, float | None]:
        if not self.n > 0:
            return None, None
        low, high = wilson_interval(self.rate * self.n, self.n, confidence)
        return float(low), float(high)


@dataclass(slots=True, eq=False)  # groups are compared by identity
class _Group:
    label: str
    n: int
    n_effective: float  # Kish's effective rows; n when unweighted
    judged: bool
    point: dict[str, float]
    interval: dict[str, tuple[float | None, float | None]]
    replicates: dict[str, np.ndarray]
    shares: dict[str, _Share]  # the rates, for their score intervals at any level


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
    reference: _Group | None  # set when this compares a group with the reference group

    @property
    def significant(self) -> bool:
        return self.ci[0] is not None and self.ci[0] > 0

    @property
    def low_value(self) -> float:
        return self.low.point[self.metric.key]

    @property
    def high_value(self) -> float:
        return self.high.point[self.metric.key]

    @property
    def comparison(self) -> str:
        return "extremes" if self.reference is None else "vs reference"


BASE_RATE = "base_rate"
METRICS: dict[str, tuple[_Metric, ...]] = {
    "binary": (
        _rate_metric(BASE_RATE, "label rate", lambda d: (d.y == d.positive, _everyone(d)), False),
        _rate_metric(
            "selection_rate",
            "selection rate",
            lambda d: (d.y_pred == d.positive, _everyone(d)),
            True,
        ),
        _rate_metric(
            "true_positive_rate",
            "true positive rate",
            lambda d: (d.y_pred == d.positive, d.y == d.positive),
            True,
        ),
        _rate_metric(
            "false_positive_rate",
            "false positive rate",
            lambda d: (d.y_pred == d.positive, d.y != d.positive),
            True,
        ),
        _rate_metric(
            "precision", "precision", lambda d: (d.y == d.positive, d.y_pred == d.positive), False
        ),
        _rate_metric("error_rate", "error rate", lambda d: (d.y != d.y_pred, _everyone(d)), True),
    ),
    "multiclass": (
        _rate_metric("error_rate", "error rate", lambda d: (d.y != d.y_pred, _everyone(d)), True),
        _Metric("recall_macro", "macro recall", balanced_accuracy, True),
    ),
    "regression": (
        _Metric(
            "mean_absolute_error",
            "mean absolute error",
            mean_absolute_error,
            True,
            from_sums=lambda rows, residual, absolute, squared: absolute / rows,
        ),
        _Metric(
            "mean_residual",
            "mean residual (actual - predicted)",
            mean_residual,
            False,
            from_sums=lambda rows, residual, absolute, squared: residual / rows,
        ),
        _Metric(
            "root_mean_squared_error",
            "root mean squared error",
            root_mean_squared_error,
            False,
            from_sums=lambda rows, residual, absolute, squared: np.sqrt(squared / rows),
        ),
    ),
}


def validate(ctx: AuditContext, params: GroupMetricsParams) -> None:
    """Refuse a favourable class that is not a class, or a reference group no column has."""
    if params.favourable_class is not None:
        _favourable_index(ctx, params.favourable_class)
    if params.reference_group is not None:
        found = [
            column
            for column in ctx.roles.sensitive
            if str(params.reference_group) in _group_labels(ctx.test[column])
        ]
        if not found:
            labels = [label for c in ctx.roles.sensitive for label in _group_labels(ctx.test[c])]
            raise InputError(
                f'[checks."{CHECK_ID}"] reference_group {params.reference_group!r} is not a '
                f"group of the sensitive column(s) {preview(ctx.roles.sensitive)} in the test "
                f"data; groups are {preview(labels)}. Name one of them, or leave it unset for "
                "the largest group."
            )


def _favourable_index(ctx: AuditContext, favourable: Any) -> int:
    """Index into ``ctx.classes`` of the favourable class, matched as labels are."""
    where = f'[checks."{CHECK_ID}"] favourable_class (--favourable-class) {favourable!r}'
    if ctx.task != "binary":
        raise InputError(
            f"{where} applies to binary tasks; this is a {ctx.task} task. Leave it unset."
        )
    try:
        codes = encode_labels(pd.Series([favourable], dtype=object), ctx.classes, source=where)
    except InputError:
        raise InputError(
            f"{where} is not a class of the target; the classes are {preview(ctx.classes)}. "
            "Name the one that is the favourable outcome."
        ) from None
    return int(codes[0])


@register_check(
    CHECK_ID,
    title="Metric gaps between groups",
    needs=("test", "predictions", "sensitive"),
    params=GroupMetricsParams,
    validate=validate,
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
    remedies={
        "sensitive_is_input": (
            "Decide, with the people accountable for the use, whether the model may take "
            "this column as an input; if not, retrain without it and re-run the audit, which "
            "will then look for inputs that stand in for it."
        ),
        "proxy_inputs": (
            "Decide whether these inputs are needed for the decision; removing the sensitive "
            "column alone does not stop a model from telling the groups apart through them."
        ),
    },
)
def group_metrics(ctx: AuditContext, params: GroupMetricsParams) -> CheckOutcome:
    """Measure metrics per group of each sensitive column and test the gaps.

    Notes
    -----
    Groups are the values of each ``--sensitive`` column, missing values forming their own
    group ``(missing)``; a numeric column with more than 10 distinct values is cut at its
    quartiles. Groups with fewer than ``min_group_rows`` test rows (Kish's effective rows,
    (sum w)^2 / sum w^2, when the rows are weighted) are reported ("too small to judge")
    but not compared.

    Metrics, at the model's predicted labels: binary -- label rate (share of the rows
    labelled with the favourable class: the base rate a selection rate is read against),
    selection rate (share predicted the favourable class), true and false positive rates
    and precision with the favourable class as the positive one, error rate; multiclass --
    error rate and macro recall (mean recall over the classes present in the group);
    regression -- mean absolute error, mean residual (actual minus predicted) and root mean
    squared error. The favourable class is ``favourable_class``, by default the positive
    class. A rate whose denominator is empty in a group (no positives, say) is undefined
    there and left out of the comparison. Rates have Wilson score intervals (on effective
    rows when weighted), which keep their width at 0 and 1; the other metrics have
    percentile bootstrap intervals from ``[evaluation] bootstrap_resamples`` resamples of
    the group's own rows.

    Two comparisons per compared metric: the highest against the lowest judged group, and
    each judged group against the reference group (``reference_group``, by default the
    largest), of which the largest difference is reported when it is another pair. The
    selection-rate gap is the demographic parity difference; the larger of the true and
    false positive rate gaps is the equalized odds difference. A rate difference has
    Newcombe's hybrid score interval (method 10), built from the two groups' Wilson
    intervals; another difference has the normal interval with the standard error of its
    bootstrap distribution (groups are resampled independently). Either interval is at
    level ``confidence`` widened by a Bonferroni correction for every comparison made on
    the column (each pair of judged groups on each compared metric: the extremes were
    picked among all pairs), and the p-value is the corrected level at which the interval
    reaches 0. A gap is flagged only when this interval excludes 0 *and* the gap exceeds
    ``max_gap`` (or the ratio falls below ``min_ratio``): small groups produce large gaps by
    chance alone. Flagged gaps warn, and fail beyond ``fail_gap`` (point estimate).
    Sensitive columns are tested separately. Regression gaps are in the target's units, so
    only the ratio of the best to the worst group's mean absolute error is held to a
    tolerance (``min_ratio``). The headline measurement ``max_group_gap`` is the largest
    gap of all, with the interval and judgement the summary and the gap table quote.

    A sensitive column that is itself a model input (a feature of the model, or of the
    data when only predictions are given) is noted, as are inputs strongly associated with
    it (bias-corrected Cramer's V >= 0.5 for a categorical input, correlation ratio >= 0.8
    for a numeric one, on at most 20,000 test rows): low-severity notes for the decision,
    not failures.

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
    odds); US EEOC Uniform Guidelines, 29 CFR 1607.4(D) (the four-fifths rule); Newcombe,
    R. G. (1998), Interval estimation for the difference between independent proportions,
    Statistics in Medicine 17, 873-890; Bergsma, W. (2013), A bias-correction for Cramer's
    V and Tschuprow's T, Journal of the Korean Statistical Society 42, 323-328.
    """
    data = ctx.test_eval
    if params.favourable_class is not None:
        data = replace(data, positive=_favourable_index(ctx, params.favourable_class))
    favourable = data.classes[data.positive] if data.task == "binary" else None
    weights = ctx.test_weights
    metrics = METRICS[data.task]
    gapped = [m for m in metrics if m.gapped]
    rng = rng_for(ctx.evaluation.seed, CHECK_ID)
    findings: list[Finding] = []
    tables: list[Table] = []
    all_gaps: list[_Gap] = []
    n_small = 0
    on_all_rows = []
    for index, column in enumerate(ctx.roles.sensitive):
        codes, labels, binned = _group_codes(ctx.test[column])
        counted = _all_rows_groups(ctx, column, weights)
        if counted is not None:  # --engine dask: every test row's counts or sums
            on_all_rows.append(column)
            ordered, binned = counted
            groups = (
                _groups_from_sums(ordered, metrics, params)
                if data.task == "regression"
                else _groups_from_cells(
                    data, ordered, metrics, params, rng, ctx.evaluation.bootstrap_resamples
                )
            )
        else:
            groups = _measure_groups(
                data,
                weights,
                codes,
                labels,
                metrics,
                params,
                rng,
                ctx.evaluation.bootstrap_resamples,
            )
        reference = _reference_group(groups, params)
        small = [g for g in groups if not g.judged]
        n_small += len(small)
        gaps = [
            gap
            for metric in gapped
            for gap in _gaps(column, metric, groups, reference, len(gapped), data.task, params)
        ]
        all_gaps.extend(gaps)
        quoted = _quoted_gaps(gaps, data.task, params)
        if quoted:
            findings.append(_gap_finding(column, quoted, data.task, params))
        if small:
            findings.append(_small_groups_finding(column, small, params))
        findings.extend(_input_findings(ctx, column, codes))
        tables.append(
            _group_table(
                index, column, groups, reference, quoted, metrics, binned, favourable, params
            )
        )
    largest = max(all_gaps, key=lambda g: g.gap, default=None)
    if all_gaps:
        tables.append(_gap_table(all_gaps, largest, data.task, params))
    used = rows_used(ctx, on_all_rows, ctx.roles.sensitive)
    return CheckOutcome(
        status=status_from(findings),
        summary=_summary(ctx, all_gaps, largest, data.task, favourable, params),
        findings=tuple(findings),
        measurements=(
            *_measurements(all_gaps, largest, data.task, n_small, params),
            *(() if used is None else (used,)),
        ),
        tables=tuple(tables),
    )


# --- Groups ----------------------------------------------------------------------------------


def _group_codes(values: pd.Series) -> tuple[np.ndarray, list[str], bool]:
    """Group code per row (-1 for missing) and the group labels; whether values were binned."""
    is_numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if is_numeric and values.nunique(dropna=True) > MAX_DISTINCT_UNBINNED:
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        finite = np.isfinite(numbers)
        edges = _quartile_edges(numbers[finite])
        last = max(len(edges) - 2, 0)  # one edge (a single value): one group
        codes = np.clip(np.searchsorted(edges, numbers, side="right") - 1, 0, last)
        codes = np.where(finite, codes, -1)
        return codes.astype(np.intp), _bin_labels(edges), True
    try:
        codes, uniques = pd.factorize(values, sort=True)
    except TypeError:  # values of several types that do not sort together
        codes, uniques = pd.factorize(values, sort=False)
    return codes.astype(np.intp), [str(u) for u in uniques], False


def _quartile_edges(finite: np.ndarray) -> np.ndarray:
    """The cut points of a numeric column's finite values: its distinct quartiles."""
    return np.unique(np.quantile(finite, QUARTILES))


def _bin_labels(edges: np.ndarray) -> list[str]:
    """``[low, high)`` per group between ``edges`` (the last one closed)."""
    if len(edges) < 2:  # a single value among missing ones: nothing to cut
        edges = np.array([edges[0], edges[0]])
    return [
        f"[{low:g}, {high:g}{']' if i == len(edges) - 2 else ')'}"
        for i, (low, high) in enumerate(zip(edges[:-1], edges[1:], strict=True))
    ]


def _group_labels(values: pd.Series) -> list[str]:
    """The labels of the groups present in ``values`` (missing values included)."""
    codes, labels, _ = _group_codes(values)
    present = [labels[code] for code in np.unique(codes[codes >= 0])]
    return [*present, MISSING_GROUP] if (codes < 0).any() else present


def _measure_groups(
    data: EvalData,
    weights: np.ndarray | None,
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
        row_weights = None if weights is None else weights[mask]
        # Resample counts times the sample weights: each resample is weighted as the rows are.
        scale = np.ones(n) if row_weights is None else row_weights
        statistics = {m.key: _scaled(m.func, sub, scale) for m in metrics}
        point = {key: float(stat(np.ones((1, n)))[0]) for key, stat in statistics.items()}
        replicates = bootstrap_statistics(statistics, n, n_resamples=n_resamples, rng=rng)

        def share_of_rows(counted, among, row_weights=row_weights) -> _Share:
            rate, _, _, n_rows = weighted_proportion_interval(
                counted[among], None if row_weights is None else row_weights[among]
            )
            return _Share(rate, n_rows)

        n_effective = effective_sample_size(row_weights, n)
        groups.append(
            _group(label, n, n_effective, sub, point, replicates, share_of_rows, metrics, params)
        )
    return groups


def _group(
    label: str,
    n: int,
    n_effective: float,
    sub: EvalData,
    point: dict[str, float],
    replicates: dict[str, np.ndarray],
    share_of: Callable[[np.ndarray, np.ndarray], _Share],
    metrics: tuple[_Metric, ...],
    params: GroupMetricsParams,
) -> _Group:
    """A measured group: rates from ``share_of(counted, among)`` with their Wilson
    intervals, the other metrics' percentile intervals from their replicates."""
    shares, interval = {}, {}
    for m in metrics:
        if m.share is None:
            interval[m.key] = percentile_interval(replicates[m.key], params.confidence)
            continue
        shares[m.key] = share_of(*m.share(sub))
        interval[m.key] = shares[m.key].interval(params.confidence)
    return _Group(
        label,
        n,
        n_effective,
        n_effective >= params.min_group_rows,
        point,
        interval,
        replicates,
        shares,
    )


def _all_rows_groups(
    ctx: AuditContext, column: str, weights: np.ndarray | None
) -> tuple[list[tuple[str, np.ndarray]], bool] | None:
    """``--engine dask``: each group of ``column`` with its counts on every test row, in the
    in-memory check's order and with its labels, and whether the column was cut at its
    quartiles; None in memory, past 1,000 groups and for a numeric column of at most 10
    values (labelled by its number type, which a partition does not know) or too spread
    out to cut on every row.

    The counts are (true class, predicted class) cells (classification) or residual sums
    and their Poisson replicates (regression), per group value (None: missing) or, for a
    column cut on every row, per index of its group between the edges.
    """
    full = ctx.all_rows
    if full is None or weights is not None:
        return None
    counted = full.groups.get(column)
    if counted is None:
        return None
    edges = full.group_edges.get(column)
    present = [v for v in counted if v is not None]
    if edges is not None:
        labels = _bin_labels(edges)
        ordered = [(labels[v], counted[v]) for v in sorted(present)]
    else:
        try:
            present = sorted(present)
        except TypeError:  # values of several types that do not sort together
            present = sorted(present, key=str)
        ordered = [(str(v), counted[v]) for v in present]
    if None in counted:
        ordered.append((MISSING_GROUP, counted[None]))
    return ordered, edges is not None


def _groups_from_cells(
    data: EvalData,
    ordered: list[tuple[str, np.ndarray]],
    metrics: tuple[_Metric, ...],
    params: GroupMetricsParams,
    rng: np.random.Generator,
    n_resamples: int,
) -> list[_Group]:
    """``_measure_groups`` from each group's (true, predicted) cell counts.

    A group's rows are its cells weighted by their counts: the metrics, the rates and their
    Wilson intervals are those of its rows exactly. Resampling rows is drawing the cells'
    counts from a multinomial of the group's rows with the cells' shares, which is how the
    bootstrap replicates are drawn here (the same distribution, other draws).
    """
    k = len(data.classes)
    groups = []
    for label, row in ordered:
        index = np.flatnonzero(row)
        counts = row[index].astype(float)
        n = int(counts.sum())
        sub = EvalData(data.task, index // k, index % k, None, data.classes, data.positive)
        point = {m.key: float(m.func(sub, counts[None, :])[0]) for m in metrics}
        W = rng.multinomial(n, counts / n, size=n_resamples).astype(float)
        replicates = {m.key: m.func(sub, W) for m in metrics}

        def share_of_cells(counted, among, counts=counts) -> _Share:
            n_among = float(counts[among].sum())
            rate = float(counts[counted & among].sum()) / n_among if n_among else float("nan")
            return _Share(rate, n_among)

        groups.append(
            _group(label, n, float(n), sub, point, replicates, share_of_cells, metrics, params)
        )
    return groups


def _groups_from_sums(
    ordered: list[tuple[str, np.ndarray]],
    metrics: tuple[_Metric, ...],
    params: GroupMetricsParams,
) -> list[_Group]:
    """``_measure_groups`` (regression) from each group's residual sums: row 0 over its
    rows, exactly; the others over the engine's Poisson bootstrap replicates, which draw
    each row's weight from its hash (a row bootstrap's distribution, other draws). No metric
    here is a rate, so no interval needs the rows themselves."""
    groups = []
    for label, sums in ordered:
        with np.errstate(divide="ignore", invalid="ignore"):  # a replicate without rows
            values = {m.key: m.from_sums(*sums.T) for m in metrics}
        point = {key: float(v[0]) for key, v in values.items()}
        replicates = {key: v[1:] for key, v in values.items()}
        n = int(sums[0, 0])
        groups.append(_group(label, n, float(n), None, point, replicates, None, metrics, params))
    return groups


def _scaled(
    func: Callable[[EvalData, np.ndarray], np.ndarray], data: EvalData, scale: np.ndarray
) -> Callable[[np.ndarray], np.ndarray]:
    return lambda W: func(data, W * scale)


def _subset(data: EvalData, mask: np.ndarray) -> EvalData:
    return EvalData(
        data.task,
        data.y[mask],
        data.y_pred[mask],
        None if data.proba is None else data.proba[mask],
        data.classes,
        data.positive,
    )


def _reference_group(groups: list[_Group], params: GroupMetricsParams) -> _Group | None:
    """The declared reference group when this column has it, else the largest judged group."""
    if params.reference_group is not None:
        named = next((g for g in groups if g.label == str(params.reference_group)), None)
        if named is not None:
            return named
    judged = [g for g in groups if g.judged]
    return max(judged, key=lambda g: g.n_effective, default=None)


# --- Gaps ------------------------------------------------------------------------------------


def _gaps(
    column: str,
    metric: _Metric,
    groups: list[_Group],
    reference: _Group | None,
    n_metrics: int,
    task: str,
    params: GroupMetricsParams,
) -> list[_Gap]:
    """The highest against the lowest judged group, and the most serious difference from
    the reference group (flagged first, then the largest) when that is another pair.

    The tests are Bonferroni-corrected for every comparison the column allows: each pair of
    judged groups on each of the ``n_metrics`` compared metrics.
    """
    key = metric.key
    candidates = [g for g in groups if g.judged and np.isfinite(g.point[key])]
    if len(candidates) < 2:
        return []
    n_comparisons = n_metrics * len(candidates) * (len(candidates) - 1) // 2
    low = min(candidates, key=lambda g: g.point[key])
    high = max(candidates, key=lambda g: g.point[key])
    if low is high:  # every group has the same value
        high = next(g for g in candidates if g is not low)
    gaps = [_gap(column, metric, low, high, n_comparisons, None, params)]
    if reference in candidates:
        against = [
            _gap(
                column,
                metric,
                *sorted((g, reference), key=lambda g: g.point[key]),
                n_comparisons,
                reference,
                params,
            )
            for g in candidates
            if g is not reference
        ]
        # The most serious: a flagged difference before a larger one noise can explain.
        serious = max(against, key=lambda g: (_judgement(g, task, params)[0] == "flagged", g.gap))
        if {serious.low.label, serious.high.label} != {low.label, high.label}:
            gaps.append(serious)
    return gaps


def _gap(
    column: str,
    metric: _Metric,
    low: _Group,
    high: _Group,
    n_comparisons: int,
    reference: _Group | None,
    params: GroupMetricsParams,
) -> _Gap:
    key = metric.key
    gap = high.point[key] - low.point[key]
    alpha = 1 - params.confidence
    if metric.share is not None:
        ci, p_value = _newcombe_test(high.shares[key], low.shares[key], gap, alpha, n_comparisons)
    else:
        ci, p_value = _bootstrap_test(
            high.replicates[key] - low.replicates[key], gap, alpha, n_comparisons
        )
    ratio, ratio_ci = None, (None, None)
    if high.point[key] > 0:
        ratio = low.point[key] / high.point[key]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio_ci = percentile_interval(
                low.replicates[key] / high.replicates[key], params.confidence
            )
        if ratio_ci[0] is not None and ratio_ci[1] - ratio_ci[0] <= 1e-9:
            # A group never (or always) selected on every resample: a point, not an interval.
            ratio_ci = (None, None)
    return _Gap(
        column, metric, low, high, gap, ci, p_value, ratio, ratio_ci, n_comparisons, reference
    )


def _newcombe_interval(high: _Share, low: _Share, confidence: float) -> tuple[float, float]:
    """Newcombe's hybrid score interval of ``high.rate - low.rate``."""
    (p1, (low1, high1)), (p2, (low2, high2)) = (
        (share.rate, share.interval(confidence)) for share in (high, low)
    )
    difference = p1 - p2
    return (
        difference - float(np.hypot(p1 - low1, high2 - p2)),
        difference + float(np.hypot(high1 - p1, p2 - low2)),
    )


def _newcombe_test(
    high: _Share,
    low: _Share,
    gap: float,
    alpha: float,
    n_comparisons: int,
) -> tuple[tuple[float, float], float]:
    """The corrected interval, and the p-value: the corrected level where it reaches 0."""
    ci = _newcombe_interval(high, low, 1 - alpha / n_comparisons)
    if gap <= 0:
        return ci, 1.0
    # The lower end falls as the level rises: the level where it crosses 0 is 1 - p.
    lower_end = lambda level: _newcombe_interval(high, low, level)[0]  # noqa: E731
    most, least = 1 - 1e-12, 1e-9
    if lower_end(most) > 0:
        return ci, min(1.0, n_comparisons * (1 - most))
    if lower_end(least) <= 0:
        return ci, 1.0
    level = optimize.brentq(lower_end, least, most, xtol=1e-12)
    return ci, min(1.0, n_comparisons * (1 - level))


def _bootstrap_test(
    difference: np.ndarray, gap: float, alpha: float, n_comparisons: int
) -> tuple[tuple[float | None, float | None], float | None]:
    """The corrected normal interval with the bootstrap standard error, and its p-value."""
    finite = difference[np.isfinite(difference)]
    if finite.size < 0.95 * difference.size or finite.size < 2:
        # Too many resamples leave the metric undefined: no test rather than a misleading one.
        return (None, None), None
    se = float(np.std(finite, ddof=1))
    if se == 0:
        return (gap, gap), (0.0 if gap > 0 else 1.0)
    z = float(stats.norm.ppf(1 - alpha / (2 * n_comparisons)))
    p_value = min(1.0, 2 * n_comparisons * float(stats.norm.sf(gap / se)))
    return (gap - z * se, gap + z * se), p_value


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


def _quoted_gaps(gaps: list[_Gap], task: str, params: GroupMetricsParams) -> list[_Gap]:
    """The gaps a column's finding quotes: flagged ones, else inconclusive ones, largest first."""
    by_verdict: dict[str, list[_Gap]] = {"flagged": [], "inconclusive": []}
    for gap in gaps:
        by_verdict.get(_judgement(gap, task, params)[0], []).append(gap)
    quoted = by_verdict["flagged"] or by_verdict["inconclusive"]
    return sorted(quoted, key=lambda g: -g.gap)


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
    against = (
        f" ({gap.reference.label!r} is the reference group)" if gap.reference is not None else ""
    )
    text = (
        f"{gap.metric.label} differs by {gap.gap:.3f} between {low!r} ({gap.low_value:.3f}"
        f"{_label_rate(gap.low)}) and {high!r} ({gap.high_value:.3f}{_label_rate(gap.high)})"
        f"{against} (limit {params.max_gap:g}{ci})"
    )
    if "ratio" in _beyond_limits(gap, task, params):
        text += (
            f"; the lower selection rate is {gap.ratio:.2f} of the higher (four-fifths limit "
            f"{params.min_ratio:g})"
        )
    return text


def _label_rate(group: _Group) -> str:
    """``; label rate 0.300``: the base rate a binary rate is read against."""
    rate = group.point.get(BASE_RATE)
    return "" if rate is None or not np.isfinite(rate) else f"; label rate {rate:.3f}"


def _number(value: float) -> str:
    """Three significant digits, thousands separated for large values (errors in target units)."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _gap_finding(column: str, quoted: list[_Gap], task: str, params: GroupMetricsParams) -> Finding:
    """One finding per column: the flagged gaps, else the inconclusive ones (low)."""
    evidence = {
        "gaps": [_gap_evidence(g) for g in quoted],
        "max_gap": params.max_gap,
        "fail_gap": params.fail_gap,
        "min_ratio": params.min_ratio,
    }
    statements = "; ".join(_describe(g, task, params) for g in quoted[:_MAX_QUOTED])
    more = f" (+{len(quoted) - _MAX_QUOTED} more)" if len(quoted) > _MAX_QUOTED else ""
    severities = [_judgement(g, task, params)[1] for g in quoted]
    if severities[0] is not None:
        severity = "high" if "high" in severities else "medium"
        return Finding(
            "group_gap", severity, f"{column!r}: {statements}{more}.", (column,), evidence
        )
    what = (
        "These measurements cross their limits, but the differences are"
        if len(quoted) > 1
        else "This measurement crosses its limit, but the difference is"
    )
    return Finding(
        "inconclusive_gap",
        "low",
        f"{column!r}: {statements}{more}. {what} within what sampling noise can produce on "
        "groups of these sizes: more test rows are needed to tell.",
        (column,),
        evidence,
    )


def _gap_evidence(gap: _Gap) -> dict[str, Any]:
    return {
        "metric": gap.metric.key,
        "comparison": gap.comparison,
        "reference_group": None if gap.reference is None else gap.reference.label,
        "low_group": gap.low.label,
        "low_value": gap.low_value,
        "low_base_rate": gap.low.point.get(BASE_RATE),
        "high_group": gap.high.label,
        "high_value": gap.high_value,
        "high_base_rate": gap.high.point.get(BASE_RATE),
        "gap": gap.gap,
        "ci_low": gap.ci[0],
        "ci_high": gap.ci[1],
        "p_value": gap.p_value,
        "ratio": gap.ratio,
    }


def _small_groups_finding(column: str, small: list[_Group], params: GroupMetricsParams) -> Finding:
    shown = ", ".join(f"{g.label!r} ({_rows(g)})" for g in small[:5])
    more = f" (+{len(small) - 5} more)" if len(small) > 5 else ""
    return Finding(
        "small_groups",
        "low",
        f"{column!r}: {shown}{more} have fewer than {params.min_group_rows} test rows: too small "
        "to judge, so they are shown but left out of the gaps.",
        (column,),
        {
            "groups": [g.label for g in small],
            "rows": [g.n for g in small],
            "effective_rows": [g.n_effective for g in small],
            "min_group_rows": params.min_group_rows,
        },
    )


def _rows(group: _Group) -> str:
    if group.n_effective == group.n:
        return f"{group.n} rows"
    return f"{group.n} rows, {group.n_effective:.0f} effective"


# --- Sensitive columns as model inputs -----------------------------------------------------


def _input_findings(ctx: AuditContext, column: str, codes: np.ndarray) -> list[Finding]:
    """Notes when the sensitive column is a model input, or inputs stand in for it."""
    with_model = ctx.model is not None and bool(ctx.model_features)
    inputs = ctx.model_features if with_model else ctx.roles.features
    whose = "the model's" if with_model else "the data's (the model's own inputs are not known)"
    findings = []
    if column in inputs:
        findings.append(
            Finding(
                "sensitive_is_input",
                "low",
                f"{column!r} is one of {whose} inputs: predictions can depend on group "
                "membership directly, and the gaps here are measured with it in. Whether "
                "the model may use it depends on the use and on the rules that apply to it.",
                (column,),
                {"model_given": with_model},
            )
        )
    proxies = _proxies(ctx, column, codes, [c for c in inputs if c not in ctx.roles.sensitive])
    if proxies:
        shown = ", ".join(f"{name!r} ({measure} {value:.2f})" for name, measure, value in proxies)
        findings.append(
            Finding(
                "proxy_inputs",
                "low",
                f"{column!r}: {shown} among {whose} inputs are strongly associated with it: "
                "the model can tell its groups apart through them, with or without the column "
                f"itself (limits: Cramer's V {_PROXY_MIN_CRAMERS_V:g}, correlation ratio "
                f"{_PROXY_MIN_CORRELATION_RATIO:g}).",
                (column, *(name for name, _, _ in proxies)),
                {
                    "proxies": [
                        {"column": name, "measure": measure, "value": value}
                        for name, measure, value in proxies
                    ]
                },
            )
        )
    return findings


def _proxies(
    ctx: AuditContext, column: str, codes: np.ndarray, inputs: list[str]
) -> list[tuple[str, str, float]]:
    """Inputs whose association with the groups reaches its limit, strongest first."""
    n = len(codes)
    rows = np.arange(n)
    if n > _PROXY_SAMPLE_ROWS:
        rng = rng_for(ctx.evaluation.seed, f"{CHECK_ID}:proxies")
        rows = np.sort(rng.choice(n, _PROXY_SAMPLE_ROWS, replace=False))
    groups = codes[rows]
    found = []
    for name in inputs:
        values = ctx.test[name].iloc[rows]
        is_numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(
            values
        )
        if is_numeric and values.nunique() > MAX_DISTINCT_UNBINNED:
            value, measure, limit = (
                _correlation_ratio(values.to_numpy(dtype=float, na_value=np.nan), groups),
                "correlation ratio",
                _PROXY_MIN_CORRELATION_RATIO,
            )
        else:
            value, measure, limit = _cramers_v(values, groups), "Cramer's V", _PROXY_MIN_CRAMERS_V
        if value is not None and value >= limit:
            found.append((name, measure, value))
    return sorted(found, key=lambda item: -item[2])[:_MAX_QUOTED]


def _cramers_v(values: pd.Series, groups: np.ndarray) -> float | None:
    """Bergsma's bias-corrected Cramer's V (missing values a category of their own)."""
    categories, _ = pd.factorize(values, use_na_sentinel=False)
    n = len(categories)
    if n < 2 or len(np.unique(categories)) > _PROXY_MAX_DISTINCT_SHARE * n:
        return None
    table = pd.crosstab(categories, groups).to_numpy()
    r, k = table.shape
    if r < 2 or k < 2:
        return None
    chi2 = stats.chi2_contingency(table, correction=False)[0]
    phi2 = max(0.0, chi2 / n - (k - 1) * (r - 1) / (n - 1))
    r_corrected = r - (r - 1) ** 2 / (n - 1)
    k_corrected = k - (k - 1) ** 2 / (n - 1)
    denominator = min(r_corrected - 1, k_corrected - 1)
    return float(np.sqrt(phi2 / denominator)) if denominator > 0 else None


def _correlation_ratio(values: np.ndarray, groups: np.ndarray) -> float | None:
    """The correlation ratio eta: sqrt(between-group / total variance) of a numeric input."""
    finite = np.isfinite(values)
    x, g = values[finite], groups[finite]
    total = float(((x - x.mean()) ** 2).sum()) if x.size else 0.0
    if total == 0:
        return None
    _, inverse, counts = np.unique(g, return_inverse=True, return_counts=True)
    means = np.bincount(inverse, weights=x) / counts
    between = float((counts * (means - x.mean()) ** 2).sum())
    return float(np.sqrt(between / total))


# --- Output ----------------------------------------------------------------------------------


def _group_table(
    index: int,
    column: str,
    groups: list[_Group],
    reference: _Group | None,
    quoted: list[_Gap],
    metrics: tuple[_Metric, ...],
    binned: bool,
    favourable: Any,
    params: GroupMetricsParams,
) -> Table:
    """One block of rows per group, the reference group and the groups of the finding first:
    a printed report keeps those blocks whatever its row limit (``print_first``)."""
    leading = list(
        dict.fromkeys(
            g.label
            for g in [reference, *(p for gap in quoted for p in (gap.low, gap.high))]
            if g is not None
        )
    )
    order = sorted(
        groups,
        key=lambda g: (
            leading.index(g.label) if g.label in leading else len(leading),
            -g.n_effective,
        ),
    )
    weighted = any(g.n_effective != g.n for g in groups)
    has_base_rate = any(m.key == BASE_RATE for m in metrics)
    rows = []
    for g in order:
        for metric in metrics:
            value = g.point[metric.key]
            rows.append(
                (
                    metric.key,
                    g.label,
                    g.n,
                    *((g.n_effective,) if weighted else ()),
                    value if np.isfinite(value) else None,
                    *g.interval[metric.key],
                    *((_finite_or_none(g.point[BASE_RATE]),) if has_base_rate else ()),
                    _group_note(g, reference),
                )
            )
    columns = (
        "metric",
        "group",
        "n_rows",
        *(("effective_rows",) if weighted else ()),
        "value",
        "ci_low",
        "ci_high",
        *((BASE_RATE,) if has_base_rate else ()),
        "note",
    )
    cut = " (numeric, cut at its quartiles)" if binned else ""
    intervals = (
        "Wilson intervals for rates, bootstrap for the rest"
        if any(m.share is None for m in metrics)
        else "Wilson intervals"
    )
    outcome = (
        f"; selection rate = share predicted {str(favourable)!r}, base rate = share labelled "
        f"{str(favourable)!r}"
        if favourable is not None
        else ""
    )
    return Table(
        f"group_metrics_{index}",
        f"Metrics by group of {column!r}{cut}, {params.confidence:.0%} {intervals}{outcome}",
        columns,
        tuple(rows),
        print_first=sum(g.label in leading for g in groups) * len(metrics),
    )


def _finite_or_none(value: float) -> float | None:
    return value if np.isfinite(value) else None


def _group_note(group: _Group, reference: _Group | None) -> str:
    notes = ["reference group"] if group is reference else []
    if not group.judged:
        notes.append("too small to judge")
    return ", ".join(notes)


def _gap_table(
    gaps: list[_Gap], largest: _Gap | None, task: str, params: GroupMetricsParams
) -> Table:
    """The gaps, the headline one first and then the flagged ones: a printed report keeps
    those rows whatever its row limit (``print_first``)."""
    ranked = []  # (rank, row): 0 the headline gap, 1 flagged, 2 the rest
    for column in dict.fromkeys(g.column for g in gaps):
        column_gaps = [g for g in gaps if g.column == column]
        for g in column_gaps:
            ranked.append(
                (_rank(g, largest, task, params), _gap_row(g, g.metric.key, task, params))
            )
        extremes = [
            g for g in column_gaps if g.metric.key in _EQUALIZED_ODDS_PARTS and g.reference is None
        ]
        if len(extremes) == 2:
            larger = max(extremes, key=lambda g: g.gap)
            row = _gap_row(larger, "equalized_odds", task, params)
            ranked.append((2, (*row[:-1], f"= {larger.metric.label} gap")))
    ranked.sort(key=lambda item: item[0])  # stable: columns and metrics keep their order
    has_base_rate = task == "binary"
    return Table(
        "group_gaps",
        "Largest differences between groups: the highest against the lowest group, and the "
        "most serious difference from the reference group"
        + ("; base rate gap: the same pair's difference in label rates" if has_base_rate else "")
        + " (intervals and p-values: simultaneous over the group pairs and metrics of each "
        "column)",
        (
            "column",
            "metric",
            "comparison",
            "lower_group",
            "lower_value",
            "higher_group",
            "higher_value",
            "gap",
            *(("base_rate_gap",) if has_base_rate else ()),
            "ci_low",
            "ci_high",
            "p_value",
            "ratio",
            "judgement",
        ),
        tuple(row for _, row in ranked),
        print_first=sum(rank < 2 for rank, _ in ranked),
    )


_EQUALIZED_ODDS_PARTS = frozenset({"true_positive_rate", "false_positive_rate"})


def _rank(gap: _Gap, largest: _Gap | None, task: str, params: GroupMetricsParams) -> int:
    if gap is largest:
        return 0
    return 1 if _judgement(gap, task, params)[0] == "flagged" else 2


def _gap_row(gap: _Gap, metric: str, task: str, params: GroupMetricsParams) -> tuple:
    """A row of the gap table (binary: with the pair's difference in label rates)."""
    base_rate_gap = (
        (gap.high.point[BASE_RATE] - gap.low.point[BASE_RATE],) if task == "binary" else ()
    )
    return (
        gap.column,
        metric,
        gap.comparison,
        gap.low.label,
        gap.low_value,
        gap.high.label,
        gap.high_value,
        gap.gap,
        *base_rate_gap,
        gap.ci[0],
        gap.ci[1],
        gap.p_value,
        gap.ratio,
        _judgement(gap, task, params)[0],
    )


def _measurements(
    gaps: list[_Gap], largest: _Gap | None, task: str, n_small: int, params: GroupMetricsParams
) -> tuple[Measurement, ...]:
    out = [
        Measurement(
            keys.MAX_GROUP_GAP.key,
            None if largest is None else largest.gap,
            None if largest is None else largest.ci[0],
            None if largest is None else largest.ci[1],
            False,
            note=None if largest is None else _card_note(largest, task, params),
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


def _card_note(gap: _Gap, task: str, params: GroupMetricsParams) -> str:
    """What the headline gap is, in a few words: the pair, and what its interval says."""
    verdict = _judgement(gap, task, params)[0]
    if verdict == "inconclusive":
        verdict = "inconclusive: the interval includes 0"
    return (
        f"{gap.metric.label}, {gap.low.label!r} vs {gap.high.label!r} of {gap.column!r}; {verdict}"
    )


def _summary(
    ctx: AuditContext,
    gaps: list[_Gap],
    largest: _Gap | None,
    task: str,
    favourable: Any,
    params: GroupMetricsParams,
) -> str:
    """The summary; it quotes ``largest`` (the headline measurement) with its interval."""
    columns = ctx.roles.sensitive
    names = ", ".join(repr(c) for c in columns[:_MAX_QUOTED])
    if len(columns) > _MAX_QUOTED:
        names += f" (+{len(columns) - _MAX_QUOTED} more)"
    if largest is None:
        return (
            f"No two groups of {names} have {params.min_group_rows} or more test rows with the "
            "metrics defined: nothing was compared."
        )
    outcome = ""
    if favourable is not None:
        default = "" if params.favourable_class is not None else ", the positive class"
        outcome = f" Selection rate = share predicted {str(favourable)!r}{default}."
    headline = (
        f"The largest difference is in {largest.column!r}: {_describe(largest, task, params)}; "
        f"{_verdict_words(largest, task, params)}"
    )
    verdicts = {id(g): _judgement(g, task, params)[0] for g in gaps}
    if "flagged" not in verdicts.values():
        return (
            f"Metrics compared between groups of {names} at the model's predicted labels. "
            f"{headline}{_others(gaps, largest, verdicts)}.{outcome}"
        )
    flagged = [g for g in gaps if verdicts[id(g)] == "flagged"]
    worst = max(flagged, key=lambda g: (_judgement(g, task, params)[1] == "high", g.gap))
    n_columns = len({g.column for g in flagged})
    lead = (
        f"{n_columns} of {len(columns)} sensitive "
        f"{'column' if len(columns) == 1 else 'columns'} {'has' if n_columns == 1 else 'have'} "
        "a gap beyond tolerance that sampling noise does not explain"
    )
    if worst is largest:
        return f"{lead}. {headline}.{outcome}"
    return (
        f"{lead}; the most serious is in {worst.column!r}: "
        f"{_describe(worst, task, params, interval=False)}. {headline}.{outcome}"
    )


def _others(gaps: list[_Gap], largest: _Gap, verdicts: dict[int, str]) -> str:
    """What the differences other than the largest add, when none is flagged."""
    beyond = sum(verdicts[id(g)] == "inconclusive" for g in gaps if g is not largest)
    if beyond:
        also = " either" if verdicts[id(largest)] == "inconclusive" else ""
        return (
            f"; {beyond} other difference(s) beyond a limit cannot be told apart from sampling "
            f"noise{also}"
        )
    if verdicts[id(largest)] == "within limit":
        return "; no difference is beyond its limit"
    return "; no other difference is beyond its limit"


def _verdict_words(gap: _Gap, task: str, params: GroupMetricsParams) -> str:
    verdict = _judgement(gap, task, params)[0]
    if verdict == "flagged":
        return "beyond its limit, and sampling noise does not explain it"
    if verdict == "inconclusive":
        return (
            "beyond its limit, but the interval includes 0: it cannot be told apart from "
            "sampling noise on groups of these sizes"
        )
    return "within its limit"
