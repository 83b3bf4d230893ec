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
    conditions_of,
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
from auditor.slices.procedure import (
    CountedRows,
    SearchPlan,
    confirm_counted,
    discover,
    mapped_pairs,
    min_slice_rows,
)
from auditor.stats.digits import decimals_apart
from auditor.stats.pvalues import p_equals
from auditor.stats.random import rng_for

CHECK_ID = "slices.weak_segments"
ERRORS = ("auto", "misclassification", "fnr", "fpr", "log_loss", "absolute_error", "squared_error")
FDR_METHODS = ("bh", "by", "holm")
# The two questions the check answers, as named in findings' evidence.
ERRS_MOST = "errs_most"
ERRS_BEYOND_PROBABILITIES = "errs_beyond_probabilities"
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
# Pair lifts print as a square heat map up to this many features, as a long table of the
# strongest pairs beyond (a wider square prints as letter-stacked columns on paper).
_MAX_SQUARE_FEATURES = 8
_MAX_PAIR_ROWS = 20
# Why a candidate was not flagged, by the requirement it missed (SliceEstimate.rejected_by).
_REJECTIONS = {
    "support": "holds more than {max_support:.0%} of the rows",
    "rows": "too few rows on the confirmation half",
    "significance": "not significant after {method} over {candidates}",
    "lift": "lift below {min_lift:g}",
    "expected": "not {min_lift:g} times the errors the model's probabilities expect",
    "difference": "difference below the absolute floor",
}
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
    max_support: float = param(
        0.5,
        "A slice holds at most this share of the rows: a slice is a minority, 'almost "
        "everyone' is not a slice anyone can act on.",
        share=True,
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
        "A flagged slice whose lift (error ratio to the rest) is at least this at the low "
        "end of its 95% interval, and that holds fail_support of the rows, is high severity "
        "(the check fails); other flagged slices are medium (the check warns). Flagged: with "
        "probabilities, a slice erring beyond them; without, a slice erring most.",
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
        if self.max_support <= 0:
            raise InputError(
                f"{where} key 'max_support' must be above 0, got {self.max_support!r}. "
                "Write 0.5 to let a slice hold up to half of the rows."
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

    Two questions, each searched and confirmed on its own:

    1. *Where does the model err most?* Slices whose error rate (or mean loss) is higher
       than that of the other rows, each holding at most ``max_support`` of the rows.
    2. *Where does it err more than its own probabilities say?* (misclassification with
       class probabilities only) The same, against the errors the model expects: one minus
       the probability of its predicted class.

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

    For the second question the null hypothesis is that errors follow the model's own
    predicted probability of being wrong (up to a common factor): the confirmation tests
    the residuals ``error - expected error`` (one-sided Welch), the permutation mode draws
    its null errors where the model expects them, slices enter the search pool only when
    their errors exceed the model's expectation, and a reported slice must also be
    ``min_lift`` times worse than expected, relative to the rest. A well-specified model
    errs more near its decision boundary, and says so: that answers the first question,
    not the second.

    Severity: a flagged slice is ``high`` (the check fails) when the low end of the 95%
    interval of its error ratio to the rest is at least ``fail_lift`` and it holds at least
    ``fail_support`` of the rows, ``medium`` (the check warns) otherwise. With class
    probabilities the slices of the second question are the flagged ones, and those of the
    first are ``low`` notes (every model errs more somewhere, near its decision boundary at
    least, and says so through its probabilities); without probabilities, or for losses,
    the first question is the only one and its slices are flagged.
    Candidates that were not reported stay in the tables with the requirement they missed.

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
    weights = ctx.test_weights
    if weights is not None and rows is not None:
        weights = weights[rows]
    rng = rng_for(ctx.seed, CHECK_ID)
    library_params = params.slice_params()
    all_rows = ctx.all_rows
    on_every_row = all_rows is not None and all_rows.count_slices is not None
    if on_every_row:
        # Halves by row hash, so that the search half of the sample is a sample of the
        # search half of every row, and the confirmation pass counts the other half.
        in_search = all_rows.search_half if rows is None else all_rows.search_half[rows]
        plan = SearchPlan(
            "split",
            n,
            np.flatnonzero(in_search),
            np.flatnonzero(~in_search),
            min_slice_rows(int(in_search.sum()), library_params),
        )
    else:
        strata = errors if losses is None else losses > np.quantile(losses, 0.8)
        plan = plan_search(n, strata, groups=groups, rng=rng, params=library_params)
    numeric = [c for c in columns if c in set(ctx.roles.numeric)]
    features = encode_frame(
        frame,
        columns,
        numeric,
        count_rows=plan.discovery,
        min_count=plan.min_rows,
        n_bins=params.n_bins,
        n_fine_bins=params.n_fine_bins,
    )
    expected = expected_errors(error, data)
    if on_every_row:
        most, beyond = _confirmed_on_every_row(
            ctx, features, plan, numeric, error, errors, losses, expected, rng, library_params
        )
    else:

        def search(expected: np.ndarray | None) -> SliceReport:
            return find_slices(
                features,
                plan,
                errors=errors,
                losses=losses,
                expected=expected,
                weights=weights,
                rng=rng,
                params=library_params,
                # The pair map illustrates the first question only.
                with_pair_lifts=expected is None,
            )

        most = search(None)
        beyond = None if expected is None else search(expected)
    applies = beyond is not None
    findings = [
        _finding(rank, s, most, error, params, population, ERRS_MOST, applies)
        for rank, s in enumerate(most.slices, start=1)
    ]
    if beyond is not None:
        findings += [
            _finding(rank, s, beyond, error, params, population, ERRS_BEYOND_PROBABILITIES, applies)
            for rank, s in enumerate(beyond.slices, start=1)
        ]
    context = _SearchText(error, params, len(columns), population)
    sentences = [
        _most_sentence(most, context),
        _beyond_sentence(beyond, context, _no_probabilities_reason(error)),
    ]
    if weights is not None:
        search = (
            "the search half is resampled by weight"
            if most.mode == "split"
            else "the permutation test of this small table counts rows"
        )
        sentences.append(
            f"Rates, shares, intervals and tests are weighted by {ctx.roles.weight!r} "
            f"(effective sizes for the tests; {search})."
        )
    summary = " ".join(sentences)
    numeric_values = {
        f.name: pd.to_numeric(frame[f.name], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        for f in features
        if f.kind != CATEGORICAL
    }
    tables = [
        _slices_table(most, error, findings[: len(most.slices)], params),
        _tested_table(most, error, context),
    ]
    if beyond is not None and beyond.tested:
        tables.append(_beyond_table(beyond, context))
    profiles = _profile_table(most, features, numeric_values)
    if profiles.rows:
        tables.append(profiles)
    pairs = _pair_table(most, features, params)
    if pairs is not None:
        tables.append(pairs)
    measurements = _measurements(most, beyond)
    if on_every_row:
        measurements += (
            Measurement(
                "rows_used",
                float(most.n_rows),
                note=f"all {most.n_rows:,} {population} rows for the confirmation and each "
                f"slice's rows; the search on a seeded sample of {most.n_discovery:,} of the "
                f"{most.searched_of:,} rows of its half; the profiles on the sample",
            ),
        )
    return CheckOutcome(
        status=status_from(findings),
        summary=summary,
        findings=tuple(findings),
        measurements=measurements,
        tables=tuple(tables),
    )


def _confirmed_on_every_row(
    ctx: AuditContext,
    features: list[CodedFeature],
    plan: SearchPlan,
    numeric: list[str],
    error: str,
    errors: np.ndarray | None,
    losses: np.ndarray | None,
    expected: np.ndarray | None,
    rng: np.random.Generator,
    params: SliceParams,
) -> tuple[SliceReport, SliceReport | None]:
    """``--engine dask``: both questions searched on the sample's search half, and their
    candidates (and the pair map's slices) confirmed by one pass over every test row."""
    from auditor.engine.partitioned.slices import SliceQuery

    most = discover(features, plan, errors=errors, losses=losses, rng=rng, params=params)
    beyond = (
        None
        if expected is None
        else discover(features, plan, errors=errors, expected=expected, rng=rng, params=params)
    )
    sets: list[tuple[dict[str, Any], ...]] = []

    def counted_as(predicates) -> int:
        sets.append(conditions_of(features, predicates))
        return len(sets) - 1

    most_sets = [counted_as(s.predicates) for s in most.candidates]
    pairs = (
        {}
        if most.search is None
        else {
            combo: counted_as(best.predicates) for combo, best in mapped_pairs(most.search).items()
        }
    )
    beyond_sets = [] if beyond is None else [counted_as(s.predicates) for s in beyond.candidates]
    shift = float(most.outcome[plan.discovery].mean()) if plan.discovery.size else 0.0
    query = SliceQuery(
        error=error,
        conditions=tuple(sets),
        numeric=tuple(numeric),
        group=ctx.roles.group,
        threshold=most.threshold,
        shift=shift,
    )
    counted = CountedRows(ctx.all_rows.count_slices(query), shift)
    most_report = confirm_counted(
        features, most, counted, most_sets, params, with_expected=False, pairs=pairs
    )
    beyond_report = (
        None
        if beyond is None
        else confirm_counted(features, beyond, counted, beyond_sets, params, with_expected=True)
    )
    return most_report, beyond_report


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


def _times(lift: float) -> str:
    """``×3.13``; ``×∞`` when the rest of the rows has no error at all."""
    return f"×{lift:.2f}" if math.isfinite(lift) else "×∞"


def _q(q: float) -> str:
    return p_equals("q", q)


def _sentence(s: SliceEstimate, error: str, population: str) -> str:
    rows = f"{s.n_all:,} rows" if population == "test" else f"{s.n_all:,} {population} rows"
    low, high = s.lift_ci
    decimals = decimals_apart(low, high, 2)
    interval = (
        ""
        if not (math.isfinite(low) and math.isfinite(high))
        else f" [{low:.{decimals}f}, {high:.{decimals}f}]"
    )
    return (
        f"{describe(s.conditions)}: {rows} ({s.share:.1%}), {_METRIC_NAMES[error]} "
        f"{_rate(s.value, error)} vs {_rate(s.rest, error)} elsewhere, {_times(s.lift)}{interval}, "
        f"{_q(s.q_value)}"
    )


@dataclass(frozen=True, slots=True)
class _SearchText:
    """What the sentences of both questions share: the error, the settings, the rows."""

    error: str
    params: WeakSegmentsParams
    n_columns: int
    population: str

    @property
    def what(self) -> str:
        """``an error rate``, ``a mean absolute error``: what a slice has more of."""
        if self.error == "misclassification":
            return "an error rate"
        metric = _METRIC_NAMES[self.error]
        return f"{'an' if metric[0] in 'aeiou' else 'a'} {metric}"

    def test(self, report: SliceReport) -> str:
        """``BH q ≤ 0.05; searched on 5,000 test rows, confirmed on the other 5,000``."""
        if report.mode == "split" and report.searched_of is not None:
            return (
                f"{_METHOD_NAMES[self.params.fdr_method]} q ≤ {self.params.fdr:g}; searched on "
                f"a seeded sample of {report.n_discovery:,} of the {report.searched_of:,} "
                f"{self.population} rows of one half, confirmed on all "
                f"{report.n_confirmation:,} of the other"
            )
        if report.mode == "split":
            return (
                f"{_METHOD_NAMES[self.params.fdr_method]} q ≤ {self.params.fdr:g}; searched on "
                f"{report.n_discovery:,} {self.population} rows, confirmed on the other "
                f"{report.n_confirmation:,}"
            )
        return (
            f"family-wise p ≤ {self.params.fdr:g} over {report.n_permutations} permutations; "
            f"{report.n_rows:,} {self.population} rows"
        )

    def scope(self, report: SliceReport) -> str:
        """``up to 3 conditions over 7 features, at most 50% of the rows, at least 50 rows``."""
        p = self.params
        conditions = "condition" if p.max_conditions == 1 else "conditions"
        return (
            f"up to {p.max_conditions} {conditions} over {self.n_columns} features, at most "
            f"{p.max_support:.0%} of the rows, at least {report.min_rows:,} rows, "
            f"lift ≥ {p.min_lift:g}"
        )

    def why_not(self, s: SliceEstimate, report: SliceReport) -> str:
        """Why a candidate was not flagged: ``not significant after BH over 12 candidates``."""
        p = self.params
        reason = _REJECTIONS[s.rejected_by].format(
            max_support=p.max_support,
            method=_METHOD_NAMES[p.fdr_method] if report.mode == "split" else "permutations",
            candidates=f"{len(report.tested)} candidate{'s' if len(report.tested) != 1 else ''}",
            min_lift=p.min_lift,
        )
        if s.rejected_by == "significance":
            reason += f" ({_q(s.q_value)})"
        return reason


def _most_sentence(report: SliceReport, text: _SearchText) -> str:
    """Question 1 in one or two sentences, agreeing with the tables."""
    head = "Where the model errs most:"
    if report.slices:
        count = len(report.slices)
        first = report.slices[0]
        noun = "slice has" if count == 1 else "slices have"
        return (
            f"{head} {count} {noun} {text.what} significantly above the rest "
            f"({text.test(report)}); the first: {describe(first.conditions)} "
            f"({first.share:.1%} of rows), {_rate(first.value, text.error)} vs "
            f"{_rate(first.rest, text.error)}, {_times(first.lift)}."
        )
    sentence = (
        f"{head} no slice ({text.scope(report)}) has {text.what} significantly above the rest "
        f"({text.test(report)})."
    )
    if report.tested:
        top = report.tested[0]
        sentence += (
            f" The strongest candidate, {describe(top.conditions)} ({top.share:.1%} of rows, "
            f"{_times(top.lift)}), is not flagged: {text.why_not(top, report)}."
        )
    return sentence


def _beyond_sentence(report: SliceReport | None, text: _SearchText, reason: str) -> str:
    """Question 2 in one sentence; one line of why when it does not apply."""
    head = "Where it errs more than its own probabilities say:"
    if report is None:
        return f"{head} does not apply ({reason})."
    if report.slices:
        count = len(report.slices)
        first = report.slices[0]
        noun = "slice has" if count == 1 else "slices have"
        return (
            f"{head} {count} {noun} more errors than the model's probabilities expect "
            f"({text.test(report)}); the first: {describe(first.conditions)}, "
            f"{_rate(first.value, text.error)} where {_rate(first.expected, text.error)} "
            f"was expected, ×{first.expected_ratio:.2f} relative to the rest."
        )
    sentence = f"{head} no slice has significantly more errors than the model expects."
    if report.tested:
        top = report.tested[0]
        sentence += (
            f" The strongest candidate, {describe(top.conditions)}, is not flagged: "
            f"{text.why_not(top, report)}."
        )
    return sentence


def _no_probabilities_reason(error: str) -> str:
    if error in REGRESSION_ERRORS:
        return "regression predictions carry no probability of error"
    if error != "misclassification":
        return f"it is asked of misclassifications, and this search is on {_METRIC_NAMES[error]}"
    return "the predictions carry no class probabilities"


# --- findings, measurements, tables -------------------------------------------------------


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _finding(
    rank,
    s: SliceEstimate,
    report: SliceReport,
    error,
    params,
    population,
    question,
    probabilities_apply: bool,
) -> Finding:
    # The pessimistic end of the interval decides, as the gate does for metrics. Every model
    # errs more somewhere, near its decision boundary at least: with probabilities, where it
    # errs most is reported as a note, and what decides is whether it errs beyond what its
    # probabilities say. Without them the first question is the only one, and decides.
    lift_low = s.lift_ci[0] if math.isfinite(s.lift_ci[0]) else s.lift
    meaningful = s.share >= params.fail_support
    if question == ERRS_MOST and probabilities_apply:
        severity = "low"
    else:
        severity = "high" if lift_low >= params.fail_lift and meaningful else "medium"
    columns = tuple(dict.fromkeys(c["column"] for c in s.conditions))
    evidence = {
        "question": question,
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
        "expected_ratio": _finite(s.expected_ratio),
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
    beyond = question == ERRS_BEYOND_PROBABILITIES
    sentence = _sentence(s, error, population)
    if beyond:
        sentence += (
            f"; the model's probabilities expected {_rate(s.expected, error)}, "
            f"×{s.expected_ratio:.2f} relative to the rest"
        )
    return Finding(
        "unexpected_errors_slice" if beyond else "weak_slice",
        severity,
        sentence,
        columns,
        evidence,
    )


def _measurements(most: SliceReport, beyond: SliceReport | None) -> tuple[Measurement, ...]:
    if most.slices:
        worst = max(most.slices, key=lambda s: s.lift)
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
    out = (
        lift,
        Measurement("max_slice_lift_share", share, greater_is_better=False),
        Measurement("n_weak_slices", float(len(most.slices)), greater_is_better=False),
        Measurement("n_slice_candidates", float(len(most.tested))),
    )
    if beyond is None:
        return out
    return (
        *out,
        Measurement(
            "n_unexpected_error_slices", float(len(beyond.slices)), greater_is_better=False
        ),
    )


def _slices_table(report: SliceReport, error: str, findings, params) -> Table:
    return Table(
        "weak_slices",
        f"Where the model errs most: slices of at most {params.max_support:.0%} of the rows "
        f"whose {_METRIC_NAMES[error]} is significantly higher than the rest's, most "
        "significant first",
        _columns(error) + ("severity",),
        tuple(
            _row(rank, s) + (f.severity,)
            for rank, (s, f) in enumerate(zip(report.slices, findings, strict=True), start=1)
        ),
    )


def _tested_table(report: SliceReport, error: str, text: _SearchText) -> Table:
    return Table(
        "tested_slices",
        "Where the model errs most: every candidate of the search, tested on the held-out "
        "rows; 'confirmed' says why a candidate is not flagged",
        _columns(error) + ("confirmed",),
        tuple(
            _row(rank, s) + (_confirmed(s, report, text),)
            for rank, s in enumerate(report.tested, start=1)
        ),
    )


def _confirmed(s: SliceEstimate, report: SliceReport, text: _SearchText) -> str:
    return "yes" if s.reported else f"no: {text.why_not(s, report)}"


def _beyond_table(report: SliceReport, text: _SearchText) -> Table:
    return Table(
        "unexpected_error_slices",
        "Where it errs more than its own probabilities say: every candidate, its errors "
        "against those the model expects (relative to the rest), tested on the held-out rows",
        (
            "rank",
            "slice",
            "rows",
            "share",
            "error_rate_in_slice",
            "expected_error_rate",
            "error_rate_elsewhere",
            "ratio_to_expected",
            "q_value",
            "confirmed",
        ),
        tuple(
            (
                rank,
                describe(s.conditions),
                s.n_all,
                s.share,
                _finite(s.value),
                _finite(s.expected),
                _finite(s.rest),
                _finite(s.expected_ratio),
                s.q_value,
                _confirmed(s, report, text),
            )
            for rank, s in enumerate(report.tested, start=1)
        ),
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


def _pair_table(
    report: SliceReport, features: list[CodedFeature], params: WeakSegmentsParams
) -> Table | None:
    """Lift of the best slice of each feature pair against the rest, on the held-out rows.

    Only cells whose lift reaches ``min_lift`` are shown, and only the features that have
    one; None when no cell does. Up to ``_MAX_SQUARE_FEATURES`` features the cells form a
    square heat map (diagonal: the feature alone), beyond it a long table of the
    ``_MAX_PAIR_ROWS`` strongest cells, which prints legibly at any number of features.
    """
    # Pairs and single features; the best triples are in the candidate tables.
    cells = {
        combo: cell
        for combo, cell in report.pair_lift.items()
        if len(combo) <= 2 and cell.lift >= params.min_lift
    }
    if not cells:
        return None
    where = "the held-out half" if report.mode == "split" else "all test rows"
    shown = [j for j in report.searched if any(j in combo for combo in cells)]
    if len(shown) > _MAX_SQUARE_FEATURES:
        strongest = sorted(cells.items(), key=lambda item: (-item[1].lift, item[0]))
        return Table(
            "pair_lifts",
            f"Where the model errs most, by feature pair: the {_MAX_PAIR_ROWS} pairs whose best "
            f"slice has the largest lift against the rest, measured on {where}",
            ("feature", "other_feature", "slice", "lift", "rows", "share"),
            tuple(
                (
                    features[combo[0]].name,
                    features[combo[-1]].name if len(combo) > 1 else None,
                    describe(conditions_of(features, cell.predicates)),
                    cell.lift,
                    cell.n_rows,
                    cell.share,
                )
                for combo, cell in strongest[:_MAX_PAIR_ROWS]
            ),
        )
    rows = []
    for j1 in shown:
        row = []
        for j2 in shown:
            cell = cells.get((j1,) if j1 == j2 else (min(j1, j2), max(j1, j2)))
            row.append(None if cell is None else cell.lift)
        rows.append((features[j1].name, *row))
    return Table(
        "pair_heatmap",
        "Where the model errs most, by feature pair: lift against the rest of the best slice "
        f"of each pair (diagonal: of the feature alone), measured on {where}; empty where it "
        f"is below {params.min_lift:g}",
        ("feature", *(features[j].name for j in shown)),
        tuple(rows),
    )
