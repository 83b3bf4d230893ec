"""``slices.weak_segments``: statistically significant slices where the model fails."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from auditor.checks._common import status_from
from auditor.context import AuditContext
from auditor.errors import InputError
from auditor.metrics import EvalData
from auditor.registry import CheckOutcome, SkipCheck, param, register_check
from auditor.result import Finding, Measurement, Table
from auditor.slices import (
    CodedFeature,
    SliceEstimate,
    SliceParams,
    SliceReport,
    encode_frame,
    find_slices,
    plan_search,
    slice_mask,
)
from auditor.slices.encoding import CATEGORICAL
from auditor.slices.errors import (
    CLASSIFICATION_ERRORS,
    REGRESSION_ERRORS,
    expected_errors,
    per_row_errors,
)
from auditor.stats.random import rng_for

CHECK_ID = "slices.weak_segments"
ERRORS = ("auto", "misclassification", "fnr", "fpr", "log_loss", "absolute_error", "squared_error")
FDR_METHODS = ("bh", "by", "holm")
REFERENCES = ("model", "rest")
# What the per-row error is called in sentences.
_METRIC_NAMES = {
    "misclassification": "error",
    "fnr": "false-negative rate",
    "fpr": "false-positive rate",
    "log_loss": "mean log loss",
    "absolute_error": "mean absolute error",
    "squared_error": "mean squared error",
}
_METRIC_KEYS = {
    "misclassification": "error_rate",
    "fnr": "false_negative_rate",
    "fpr": "false_positive_rate",
    "log_loss": "log_loss",
    "absolute_error": "mean_absolute_error",
    "squared_error": "mean_squared_error",
}
_METHOD_NAMES = {"bh": "BH", "by": "BY", "holm": "Holm"}
# The profile table lists this many distinguishing features per slice, those whose total
# variation distance is at least this many times what an unrelated feature shows by chance.
_PROFILE_FEATURES = 3
_PROFILE_CHANCE_FACTOR = 2.0
# The pair heat map shows at most this many features (those searched beyond one condition).
_MAX_HEATMAP_FEATURES = 30
_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


@dataclass(frozen=True, slots=True)
class WeakSegmentsParams:
    error: str = param(
        "auto",
        "Per-row error searched: 'misclassification'; 'fnr' or 'fpr' (binary: misses among "
        "true positives, false alarms among true negatives); 'log_loss' (needs probabilities); "
        "for regression 'absolute_error' or 'squared_error'. 'auto' is misclassification for "
        "classifiers and absolute_error for regression.",
    )
    reference: str = param(
        "model",
        "What a slice's errors are compared with. 'model': the rest of the rows *and* what is "
        "expected of each row: for misclassification with probabilities, the model's own "
        "probability of being wrong (rows where it says it is unsure are no failure); for "
        "regression, the typical error of rows with similar predictions (larger errors on "
        "larger values are no failure). 'rest': the other rows only.",
    )
    min_support_rows: int = param(
        30, "A slice needs at least this many rows of the search half.", minimum=1
    )
    min_support_share: float = param(
        0.01,
        "... and at least this share of the search half (the larger of the two applies).",
        share=True,
    )
    max_conditions: int = param(3, "Most conditions per slice (1 to 3).", minimum=1)
    n_bins: int = param(10, "Quantile bins of numeric features in the search.", minimum=2)
    n_fine_bins: int = param(
        50, "Quantile bins numeric ranges are refined on (real-valued bounds).", minimum=2
    )
    n_keep: int = param(60, "Slices the search keeps before removing duplicates.", minimum=1)
    n_candidates: int = param(
        20, "Slices sent to the confirmation test on the held-out half.", minimum=1
    )
    fdr: float = param(
        0.05, "False discovery rate of the confirmation tests (q-value threshold).", share=True
    )
    fdr_method: str = param(
        "bh",
        "Multiplicity adjustment: 'bh' (Benjamini-Hochberg), 'by' (Benjamini-Yekutieli) or "
        "'holm' (family-wise).",
    )
    min_lift: float = param(
        1.25,
        "Report a slice only if its error is at least this many times the rest's.",
        minimum=1.0,
    )
    min_difference: float = param(
        0.02,
        "... and its error rate exceeds the rest's by at least this much (0/1 errors).",
        share=True,
    )
    min_loss_difference_share: float = param(
        0.1,
        "... and (losses) its mean loss exceeds the rest's by this share of the mean loss.",
        minimum=0.0,
    )
    max_jaccard: float = param(
        0.8, "Two slices sharing this share of their rows (Jaccard) are duplicates.", share=True
    )
    max_reported: int = param(10, "Most slices reported, the most significant first.", minimum=1)
    min_rows_for_split: int = param(
        2000,
        "Below this many rows, search every row and calibrate with permutations instead of "
        "confirming on a held-out half.",
        minimum=0,
    )
    n_permutations: int = param(
        99, "Permutations of the small-data mode (family-wise p-values).", minimum=19
    )
    max_features: int = param(
        30,
        "Features combined into slices of two or three conditions: those with the strongest "
        "single-feature slices.",
        minimum=2,
    )
    fail_lift: float = param(
        2.0,
        "A reported slice whose lift (error ratio to the rest) is at least this at the low "
        "end of its 95% interval, and that holds fail_support of the rows, is high severity "
        "(the check fails); other reported slices are medium (the check warns).",
        minimum=1.0,
    )
    fail_support: float = param(
        0.02, "Share of rows a slice needs for high severity (with fail_lift).", share=True
    )

    def __post_init__(self) -> None:
        where = f'[checks."{CHECK_ID}"]'
        if self.error not in ERRORS:
            raise InputError(
                f"{where} key 'error' must be one of {', '.join(ERRORS)}, got {self.error!r}."
            )
        if self.reference not in REFERENCES:
            raise InputError(
                f"{where} key 'reference' must be one of {', '.join(REFERENCES)}, "
                f"got {self.reference!r}."
            )
        if self.fdr_method not in FDR_METHODS:
            raise InputError(
                f"{where} key 'fdr_method' must be one of {', '.join(FDR_METHODS)}, "
                f"got {self.fdr_method!r}."
            )
        if self.max_conditions > 3:
            raise InputError(
                f"{where} key 'max_conditions' must be 1, 2 or 3, got {self.max_conditions!r}. "
                "Deeper slices are rarely interpretable; use 3."
            )
        if self.n_fine_bins < self.n_bins:
            raise InputError(
                f"{where} key 'n_fine_bins' must be at least n_bins ({self.n_bins}), got "
                f"{self.n_fine_bins!r}."
            )

    def slice_params(self) -> SliceParams:
        names = {f.name for f in dataclasses.fields(SliceParams)}
        return SliceParams(**{k: v for k, v in dataclasses.asdict(self).items() if k in names})


@register_check(
    CHECK_ID,
    title="Weak slices: subgroups with more errors",
    needs=("test", "predictions"),
    params=WeakSegmentsParams,
    rationale=(
        "A good average can hide a group of cases where the model is much worse, such as one "
        "region with low incomes; those users get a model that does not work for them."
    ),
    remedy=(
        "Look at the rows of each slice: collect more training data like them, add features "
        "that describe them, or route them to a fallback; then re-run the audit."
    ),
)
def weak_segments(ctx: AuditContext, params: WeakSegmentsParams) -> CheckOutcome:
    """Find conjunctions of up to three feature conditions where the model errs more.

    Notes
    -----
    The search (``auditor.slices``) runs on a random half of the test rows, stratified on
    the error (whole groups go to one side when a group column is declared): an exact
    level-wise search over quantile bins and categorical levels under the score
    ``T - log M_L`` (one-sided Bernoulli log-likelihood ratio minus the log number of slices
    with that many conditions). The best slices are refined: numeric ranges get real-valued
    bounds, conditions that do not matter are dropped, a missing one is added. Those that
    clear a family-wise screen on the search half are then tested on the other half (one-sided Fisher exact test, or
    Welch t-test for losses) and adjusted with Benjamini-Hochberg; every rate, ratio and
    interval is measured on that half, so they carry no selection bias. Below
    ``min_rows_for_split`` rows, every row is searched and the best score is compared with
    the best scores of ``n_permutations`` searches on permuted errors (family-wise
    p-values; estimates then come from the same rows that chose the slice and are
    optimistic).

    For regression and log loss the search runs on "loss above its 80th percentile" and
    the confirmation tests the mean loss.

    With ``reference = "model"`` (the default) and class probabilities, the null hypothesis
    is that errors follow the model's own predicted probability of being wrong (one minus
    the probability of the predicted class, up to a common factor): the confirmation tests
    the residuals ``error - expected error`` (one-sided Welch), the permutation mode draws
    its null errors where the model expects them, slices enter the search pool only when
    their errors exceed the model's expectation, and a reported slice must also be
    ``min_lift`` times worse than expected, relative to the rest. A well-specified model
    errs more near its decision boundary, and says so; that is not reported as a failure,
    errors the model did not expect are. For regression the expected loss of a row is the
    mean loss of rows with predictions in the same decile, and search and test run on the
    loss relative to it: absolute errors that grow with the predicted value are not a
    failure, a region with errors larger than its predictions explain is.
    ``reference = "rest"`` compares with the other rows only.

    Severity: a reported slice is ``high`` (the check fails) when the low end of the 95%
    interval of its error ratio to the rest is at least ``fail_lift`` and it holds at least
    ``fail_support`` of the rows, ``medium`` (the check warns) otherwise.

    No finding means that no slice of up to ``max_conditions`` conditions with at least the
    minimum support passed the test and the effect floors; smaller or weaker slices may
    still exist.

    References
    ----------
    See ``auditor.slices`` (SliceFinder, SliceLine, Kulldorff's scan statistic,
    Benjamini-Hochberg, Westfall-Young).
    """
    data = ctx.test_eval
    error = _resolve_error(params.error, data)
    rows, errors, losses, population = per_row_errors(error, data)
    columns = [c for c in ctx.roles.features if c in ctx.test.columns and c != ctx.target]
    if not columns:
        raise SkipCheck("the test set has no feature columns to search")
    frame = ctx.test.iloc[rows] if rows is not None else ctx.test
    n = len(frame)
    if n < 2 * params.min_support_rows:
        raise SkipCheck(
            f"only {n:,} {population} rows; a slice search needs at least "
            f"{2 * params.min_support_rows:,}"
        )
    groups = None
    if ctx.roles.group is not None and ctx.roles.group in frame.columns:
        groups = pd.factorize(frame[ctx.roles.group], use_na_sentinel=False)[0]
    rng = rng_for(ctx.seed, CHECK_ID)
    library_params = params.slice_params()
    strata = errors if losses is None else losses > np.quantile(losses, 0.8)
    plan = plan_search(n, strata, groups=groups, rng=rng, params=library_params)
    features = encode_frame(
        frame,
        columns,
        [c for c in columns if c in set(ctx.roles.numeric)],
        count_rows=plan.discovery,
        min_count=plan.min_rows,
        n_bins=params.n_bins,
        n_fine_bins=params.n_fine_bins,
    )
    expected = expected_errors(params.reference, error, data, losses)
    report = find_slices(
        features,
        plan,
        errors=errors,
        losses=losses,
        expected=expected,
        rng=rng,
        params=library_params,
    )
    findings = [
        _finding(rank, s, report, error, params, population)
        for rank, s in enumerate(report.slices, start=1)
    ]
    summary = _summary(report, error, params, len(columns), population, findings, expected)
    numeric_values = {
        f.name: pd.to_numeric(frame[f.name], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        for f in features
        if f.kind != CATEGORICAL
    }
    tables = (
        _slices_table(report, error, findings),
        _tested_table(report, error),
        _profile_table(report, features, numeric_values),
        _pair_heatmap(report, features),
    )
    return CheckOutcome(
        status=status_from(findings),
        summary=summary,
        findings=tuple(findings),
        measurements=_measurements(report),
        tables=tables,
    )


def _resolve_error(error: str, data: EvalData) -> str:
    regression = data.task == "regression"
    if error == "auto":
        return "absolute_error" if regression else "misclassification"
    if regression and error not in REGRESSION_ERRORS:
        raise SkipCheck(
            f"error {error!r} applies to classifiers; use 'absolute_error' or 'squared_error' "
            "for regression"
        )
    if not regression and error not in CLASSIFICATION_ERRORS:
        raise SkipCheck(f"error {error!r} applies to regression; this is a {data.task} task")
    if error in ("fnr", "fpr") and data.task != "binary":
        raise SkipCheck(f"error {error!r} needs a binary task; this is a {data.task} task")
    if error == "log_loss" and data.proba is None:
        raise SkipCheck("error 'log_loss' needs class probabilities, and the predictions have none")
    return error


# --- text ----------------------------------------------------------------------------------


def format_number(value: float) -> str:
    """Four significant digits, thousands separated: 32,437.2 -> '32,440', 0.012345 -> '0.01235'."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    digits = 3 - math.floor(math.log10(abs(value)))
    rounded = round(value, digits)
    if abs(rounded) >= 1000:
        return f"{rounded:,.0f}"
    return f"{rounded:.{max(digits, 0)}f}".rstrip("0").rstrip(".") if digits > 0 else f"{rounded:g}"


def _name(column: str) -> str:
    text = str(column)
    return text if _PLAIN_NAME.match(text) else repr(text)


def _value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, (int, float)):
        return format_number(float(value))
    return repr(value)


def describe(conditions) -> str:
    """``region == 'north' AND 32,400 <= income < 40,100``: conditions as one readable line."""
    parts: list[str] = []
    i = 0
    conditions = list(conditions)
    while i < len(conditions):
        c = conditions[i]
        name, op, value = _name(c["column"]), c["op"], c["value"]
        nxt = conditions[i + 1] if i + 1 < len(conditions) else None
        if (
            op in (">=", ">")
            and nxt is not None
            and nxt["column"] == c["column"]
            and nxt["op"] in ("<", "<=")
        ):
            low = "<=" if op == ">=" else "<"
            parts.append(f"{_value(value)} {low} {name} {nxt['op']} {_value(nxt['value'])}")
            i += 2
            continue
        if op == "is_null":
            parts.append(f"{name} is missing")
        elif op == "in":
            shown = ", ".join(_value(v) for v in value[:3])
            more = f", +{len(value) - 3} more" if len(value) > 3 else ""
            parts.append(f"{name} in ({shown}{more})")
        else:
            parts.append(f"{name} {op} {_value(value)}")
        i += 1
    return " AND ".join(parts)


def _rate(value: float, error: str) -> str:
    if error in REGRESSION_ERRORS or error == "log_loss":
        return format_number(value)
    return f"{value:.1%}"


def _q(q: float) -> str:
    return f"q = {q:.1e}" if q < 0.001 else f"q = {q:.3f}"


def _sentence(s: SliceEstimate, error: str, population: str) -> str:
    rows = f"{s.n_all:,} rows" if population == "test" else f"{s.n_all:,} {population} rows"
    low, high = s.lift_ci
    interval = (
        "" if not (math.isfinite(low) and math.isfinite(high)) else (f" [{low:.2f}, {high:.2f}]")
    )
    return (
        f"{describe(s.conditions)}: {rows} ({s.share:.1%}), {_METRIC_NAMES[error]} "
        f"{_rate(s.value, error)} vs {_rate(s.rest, error)} elsewhere, ×{s.lift:.2f}{interval}, "
        f"{_q(s.q_value)}"
    )


def _summary(report: SliceReport, error, params, n_columns, population, findings, expected) -> str:
    metric = _METRIC_NAMES[error]
    article = "an" if metric[0] in "aeiou" else "a"
    what = f"{article} {metric}" if error != "misclassification" else "an error rate"
    if expected is None:
        above = "above the rest"
    elif error in REGRESSION_ERRORS:
        above = "above the rest and what similar predictions explain"
    else:
        above = "above the rest and the model's own probabilities"
    method = _METHOD_NAMES[params.fdr_method]
    if report.mode == "split":
        test = f"{method} q ≤ {params.fdr:g}"
        rows = (
            f"searched on {report.n_discovery:,} {population} rows, confirmed on the other "
            f"{report.n_confirmation:,}"
        )
    else:
        test = f"family-wise p ≤ {params.fdr:g} over {report.n_permutations} permutations"
        rows = f"{report.n_rows:,} {population} rows"
    conditions = "condition" if params.max_conditions == 1 else "conditions"
    if not findings:
        return (
            f"No slice of up to {params.max_conditions} {conditions} over {n_columns} features "
            f"has {what} significantly {above} ({test}, lift ≥ {params.min_lift:g}, at "
            f"least {report.min_rows:,} rows; {rows})."
        )
    count = len(findings)
    first = report.slices[0]
    noun = "slice has" if count == 1 else "slices have"
    return (
        f"{count} {noun} {what} significantly {above} ({test}; {rows}); the first: "
        f"{describe(first.conditions)}, {_rate(first.value, error)} vs "
        f"{_rate(first.rest, error)}, ×{first.lift:.2f}."
    )


# --- findings, measurements, tables -------------------------------------------------------


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _finding(rank, s: SliceEstimate, report: SliceReport, error, params, population) -> Finding:
    # The pessimistic end of the interval decides, as the gate does for metrics.
    lift_low = s.lift_ci[0] if math.isfinite(s.lift_ci[0]) else s.lift
    high = lift_low >= params.fail_lift and s.share >= params.fail_support
    columns = tuple(dict.fromkeys(c["column"] for c in s.conditions))
    evidence = {
        "rank": rank,
        "conditions": [dict(c) for c in s.conditions],
        "description": describe(s.conditions),
        "size": s.n_all,
        "share": s.share,
        "metric": _METRIC_KEYS[error],
        "value": _finite(s.value),
        "ci_low": _finite(s.value_ci[0]),
        "ci_high": _finite(s.value_ci[1]),
        "overall": _finite(report.overall),
        "rest": _finite(s.rest),
        "expected_by_model": _finite(s.expected),
        "lift": _finite(s.lift),
        "lift_ci_low": _finite(s.lift_ci[0]),
        "lift_ci_high": _finite(s.lift_ci[1]),
        "difference": _finite(s.difference),
        "difference_ci_low": _finite(s.difference_ci[0]),
        "difference_ci_high": _finite(s.difference_ci[1]),
        "p_value": s.p_value,
        "q_value": s.q_value,
        "support": {
            "discovery": s.n_discovery,
            "confirmation": s.n_confirmation if report.mode == "split" else None,
            "all": s.n_all,
        },
        "support_share": {
            "discovery": s.share_discovery,
            "confirmation": _finite(s.share_confirmation),
            "all": s.share,
        },
        "mode": report.mode,
        "estimated_on": "confirmation" if report.mode == "split" else "all",
        "population": population,
        "fail_lift": params.fail_lift,
        "fail_support": params.fail_support,
    }
    return Finding(
        "weak_slice",
        "high" if high else "medium",
        _sentence(s, error, population),
        columns,
        evidence,
    )


def _measurements(report: SliceReport) -> tuple[Measurement, ...]:
    if report.slices:
        worst = max(report.slices, key=lambda s: s.lift)
        lift = Measurement(
            "max_slice_lift",
            _finite(worst.lift),
            _finite(worst.lift_ci[0]),
            _finite(worst.lift_ci[1]),
            greater_is_better=False,
        )
        share = worst.share
    else:
        # No reported slice: no region is confirmed to be worse than the rest.
        lift = Measurement("max_slice_lift", 1.0, greater_is_better=False)
        share = 0.0
    return (
        lift,
        Measurement("max_slice_lift_share", share, greater_is_better=False),
        Measurement("n_weak_slices", float(len(report.slices)), greater_is_better=False),
        Measurement("n_slice_candidates", float(len(report.tested))),
    )


def _slices_table(report: SliceReport, error: str, findings) -> Table:
    return Table(
        "weak_slices",
        f"Slices where the {_METRIC_NAMES[error]} is significantly higher, most significant first",
        _columns(error) + ("severity",),
        tuple(
            _row(rank, s) + (f.severity,)
            for rank, (s, f) in enumerate(zip(report.slices, findings, strict=True), start=1)
        ),
    )


def _tested_table(report: SliceReport, error: str) -> Table:
    return Table(
        "tested_slices",
        "Every candidate slice of the search and its confirmation test",
        _columns(error) + ("reported",),
        tuple(_row(rank, s) + (s.reported,) for rank, s in enumerate(report.tested, start=1)),
    )


def _columns(error: str) -> tuple[str, ...]:
    key = _METRIC_KEYS[error]
    return (
        "rank",
        "slice",
        "rows",
        "share",
        f"{key}_in_slice",
        f"{key}_elsewhere",
        "lift",
        "lift_ci_low",
        "lift_ci_high",
        "p_value",
        "q_value",
    )


def _row(rank: int, s: SliceEstimate) -> tuple:
    return (
        rank,
        describe(s.conditions),
        s.n_all,
        s.share,
        _finite(s.value),
        _finite(s.rest),
        _finite(s.lift),
        _finite(s.lift_ci[0]),
        _finite(s.lift_ci[1]),
        s.p_value,
        s.q_value,
    )


def _profile_table(
    report: SliceReport, features: list[CodedFeature], numeric: dict[str, np.ndarray]
) -> Table:
    """For each reported slice, the other features whose distribution differs most inside it.

    Distributions are compared over the search items (quantile bins, levels, missing) by
    total variation distance; numeric features also get the standardized mean difference
    and the medians inside and outside, categorical ones the level most over-represented.
    Features within twice the distance expected by chance are left out.
    """
    rows = []
    items = [f.item_of_code[f.codes] for f in features]
    totals = [
        np.bincount(codes, minlength=f.n_items) for codes, f in zip(items, features, strict=True)
    ]
    for rank, s in enumerate(report.slices, start=1):
        inside = slice_mask(features, s.predicates)
        n_in = int(inside.sum())
        n_out = inside.size - n_in
        if n_in == 0 or n_out == 0:
            continue
        own = {j for j, _, _ in s.predicates}
        scored = []
        for j, f in enumerate(features):
            if j in own:
                continue
            counts_in = np.bincount(items[j][inside], minlength=f.n_items)
            share_in = counts_in / n_in
            share_out = (totals[j] - counts_in) / n_out
            tv = 0.5 * float(np.abs(share_in - share_out).sum())
            # Expected distance when the feature is unrelated to the slice: the mean absolute
            # difference of two sample shares, sqrt(2/pi) standard errors per item.
            share = totals[j] / inside.size
            chance = 0.5 * float(
                np.sum(np.sqrt(2 / np.pi * share * (1 - share) * (1 / n_in + 1 / n_out)))
            )
            if tv >= _PROFILE_CHANCE_FACTOR * chance:
                scored.append((tv, j, share_in, share_out))
        scored.sort(key=lambda t: (-t[0], t[1]))
        for tv, j, share_in, share_out in scored[:_PROFILE_FEATURES]:
            f = features[j]
            if f.kind == CATEGORICAL:
                top = int(np.argmax(share_in - share_out))
                rows.append(
                    (
                        rank,
                        f.name,
                        tv,
                        None,
                        _item_label(f, top),
                        float(share_in[top]),
                        float(share_out[top]),
                    )
                )
            else:
                x = numeric[f.name]
                rows.append(
                    (rank, f.name, tv, _smd(x[inside], x[~inside]), "median", *_medians(x, inside))
                )
    return Table(
        "slice_profiles",
        "What distinguishes each slice: the other features whose distribution differs most "
        "inside it (inside/outside: median, or share of the level)",
        (
            "rank",
            "feature",
            "total_variation",
            "standardized_mean_difference",
            "level",
            "inside",
            "outside",
        ),
        tuple(rows),
    )


def _item_label(f: CodedFeature, item: int) -> Any:
    if item == f.missing_code:
        return "(missing)"
    if item < len(f.values):
        return f.values[item]
    return "(other levels)"


def _smd(inside: np.ndarray, outside: np.ndarray) -> float | None:
    inside = inside[np.isfinite(inside)]
    outside = outside[np.isfinite(outside)]
    if inside.size < 2 or outside.size < 2:
        return None
    pooled = math.sqrt((inside.var(ddof=1) + outside.var(ddof=1)) / 2)
    if pooled == 0:
        return None
    return float((inside.mean() - outside.mean()) / pooled)


def _medians(x: np.ndarray, inside: np.ndarray) -> tuple[float | None, float | None]:
    def median(values):
        values = values[np.isfinite(values)]
        return float(np.median(values)) if values.size else None

    return median(x[inside]), median(x[~inside])


def _pair_heatmap(report: SliceReport, features: list[CodedFeature]) -> Table:
    """Rows and columns are features; a cell is the lift of the pair's best slice."""
    shown = list(report.searched)[:_MAX_HEATMAP_FEATURES]
    names = tuple(features[j].name for j in shown)
    rows = []
    for j1 in shown:
        cells = []
        for j2 in shown:
            key = (j1,) if j1 == j2 else (min(j1, j2), max(j1, j2))
            lift = report.pair_lift.get(key)
            cells.append(None if lift is None else float(lift))
        rows.append((features[j1].name, *cells))
    where = "the held-out half" if report.mode == "split" else "all test rows"
    return Table(
        "pair_heatmap",
        "Lift of the worst slice of each feature pair (diagonal: of the feature alone), "
        f"measured on {where}; empty where no slice of the pair beats chance",
        ("feature", *names),
        tuple(rows),
    )
