"""``data.out_of_range``: impossible or extreme numeric values.

Declared domains (``age>=0``) are checked exactly. Without them, robust rules look for the
values a data-entry or pipeline error leaves behind, while tolerating the heavy tails of
genuine amounts and incomes: negatives in a column that cannot be negative, placeholder
codes (-1, 999, -9999), values far beyond the rest of the tail, and infinities.
"""

from __future__ import annotations

import contextlib
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from auditor.checks._common import splits as present_splits
from auditor.checks._common import status_from
from auditor.context import AuditContext
from auditor.engine.kinds import as_float
from auditor.engine.placeholder_codes import PLACEHOLDER_CODES
from auditor.errors import InputError
from auditor.registry import CheckOutcome, SkipCheck, param, register_check
from auditor.result import Finding, Measurement, Table
from auditor.stats.random import rng_for

CHECK_ID = "data.out_of_range"
_DOMAIN = re.compile(
    r"^\s*(?P<column>[^<>=]+?)\s*(?P<op>>=|<=|>|<)\s*"
    r"(?P<bound>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$"
)
_OPS = {
    ">=": np.greater_equal,
    ">": np.greater,
    "<=": np.less_equal,
    "<": np.less,
}
# Words in a column name that say its values cannot be negative, and words that say they can.
_NON_NEGATIVE_TEXT = """
age ages count counts cnt amount amounts amt price prices income incomes salary salaries wage
wages revenue revenues cost costs fee fees qty quantity quantities num number total duration
length height weight width depth area size distance dist years months weeks days hours minutes
seconds tenure population volume rooms kg km m2 sqft visits clicks views pages bytes children
dependents employees sales spend spending premium rent mileage miles
"""
_SIGNED_TEXT = """
change diff difference delta net profit loss gain return returns growth balance pnl margin
adjustment correction offset residual error shift log z
"""
_NON_NEGATIVE_WORDS = frozenset(_NON_NEGATIVE_TEXT.split())
_SIGNED_WORDS = frozenset(_SIGNED_TEXT.split())
_NON_NEGATIVE_PREFIXES = ("n", "num", "nb", "no", "cnt", "count", "total")
# Quantiles come from a seeded sample of at most this many values: exact enough for a
# robust scale, and fast on a million rows.
_QUANTILE_SAMPLE = 200_000
# The gap test looks at most at this share of a tail: larger groups are a population.
_MAX_TAIL_SHARE = 0.01
_MIN_REFERENCE = 20
# The Hill estimate uses ranks within this share of the tail: deeper ranks describe the bulk.
_MAX_REFERENCE_SHARE = 0.1
_MIN_GAP_RATIO = 2.0
# Negatives found by their values alone (neutral names) must be this rare and this isolated.
_MAX_ISOLATION_RATIO = 0.02
_MIN_NEAR_ZERO = 50
# The gap at zero is one test at a place fixed in advance, where the extreme-value test
# searches up to 1% of a tail with a correction: it runs at ten times the rate alpha.
_ZERO_GAP_ALPHA_FACTOR = 10
_LOW_DISTINCT = 20
_MIN_HOLE_STEPS = 3
# A repeated maximum is a cap when the values below it reach this close to it.
_CAP_REACH = 0.8
# A negative code among other negatives repeats at least this many times more than any.
_CODE_DOMINANCE = 5
# Negatives read as sign-flipped positives: at least this many, 80% within the positives' bulk.
_MIN_MIRRORED = 5


@dataclass(frozen=True, slots=True)
class OutOfRangeParams:
    """Thresholds of ``data.out_of_range``.

    Parameters
    ----------
    domains : tuple of str, default=()
        Declared domains such as ``"age>=0"`` or ``"utilization<=1"``.
    min_robust_z : float, default=20.0
        Extreme values must lie at least this many robust standard deviations from the
        median.
    alpha : float, default=1e-4
        False-alarm rate per column tail of the gap test.
    max_negative_share : float, default=0.01
        Negatives found by their values alone are reported up to this share of rows.
    max_named_negative_share : float, default=0.1
        Negatives in a column named like a quantity that cannot be negative (an age, an
        amount, a count) are reported up to this share of rows.
    min_code_rows : int, default=3
        A placeholder code (-1, 999, -9999 ...) must repeat on at least this many rows.
    """

    domains: tuple[str, ...] = param(
        (),
        'Declared domains, each "<column> <op> <number>" with op one of >=, >, <=, <, for '
        'example ["age>=0", "age<=120", "utilization<=1"] (column names without <, > or =). '
        "Violations fail.",
    )
    min_robust_z: float = param(
        20.0,
        "Extreme values must lie at least this many robust standard deviations "
        "(interquartile range / 1.349) from the median, and be cut off from the rest of the "
        "tail by a gap that its shape cannot explain.",
        minimum=1,
    )
    alpha: float = param(
        1e-4,
        "False-alarm rate of the gap test per column tail: the chance that a genuine "
        "heavy tail (incomes, amounts) is reported.",
        share=True,
    )
    max_negative_share: float = param(
        0.01,
        "Negative values in a column that is non-negative everywhere else are reported up to "
        "this share of rows; beyond it they are taken as part of the column's meaning.",
        share=True,
    )
    max_named_negative_share: float = param(
        0.1,
        "Negative values in a column named like a quantity that cannot be negative (an age, "
        "amount, count or duration) are reported up to this share of rows; beyond it the "
        "column is taken as rescaled (a standardised age is half negative).",
        share=True,
    )
    min_code_rows: int = param(
        3,
        "A placeholder code such as -1, 999 or -9999 must repeat on at least this many rows "
        "to be reported.",
        minimum=1,
    )

    def __post_init__(self) -> None:
        _parse_domains(self.domains)


def _parse_domains(domains: tuple[str, ...]) -> list[tuple[str, str, float, str]]:
    """Parse declared domains into (column, op, bound, text); raise InputError when invalid."""
    parsed = []
    for text in domains:
        match = _DOMAIN.match(str(text))
        if match is None:
            raise InputError(
                f'[checks."{CHECK_ID}"] domain {text!r} is not like "age>=0": write a column '
                "name, one of >=, >, <=, < and a number."
            )
        parsed.append((match["column"], match["op"], float(match["bound"]), str(text).strip()))
    return parsed


def declared_domains(params: OutOfRangeParams) -> list[tuple[str, str, float]]:
    """``(column, op, bound)`` of each declared domain (``--engine dask`` counts their
    violations on every row)."""
    return [(column, op, bound) for column, op, bound, _ in _parse_domains(params.domains)]


@register_check(
    CHECK_ID,
    title="Impossible or extreme values",
    needs=("test",),
    params=OutOfRangeParams,
    rationale=(
        "Values that cannot be true (a negative age, an income of a billion, 999 standing for "
        "'unknown') distort what the model learns and how its errors are measured. They "
        "usually come from data entry, unit mix-ups or placeholder codes rather than from "
        "real cases."
    ),
    remedy=(
        "Look at the rows quoted in the finding. Replace placeholder codes with missing "
        "values, correct unit or typing errors at the source, and declare each column's valid "
        "range (domains) so future data is checked against it."
    ),
)
def out_of_range(ctx: AuditContext, params: OutOfRangeParams) -> CheckOutcome:
    """Find impossible values in the numeric features, declared or by robust rules.

    Notes
    -----
    Train and test values are pooled for the statistics, so a test set that drifted beyond
    the train range is not called impossible (``data.feature_drift`` measures drift); rows
    are counted per split. Rules, each one finding per column:

    - ``outside_declared_domain`` (high): a value violating a declared domain.
    - ``infinite_values`` (medium): +inf or -inf, the trace of a division by zero.
    - ``sentinel_value`` (medium): a placeholder code, -1 or repeated nines (99, -999,
      9999 ...), on at least ``min_code_rows`` rows: -1 or a negative code when it is the
      only negative value of a column with at least three distinct non-negative values;
      any code when it lies ``min_robust_z`` robust standard deviations from the median
      and repeats more often than all other values between half and twice its size.
    - ``top_coded`` (low): the maximum repeated on at least ``min_code_rows`` rows while
      the other values run up to within 20% of it (incomes capped at 99,999): a cap, told
      apart from a code for "unknown", which lies far beyond the largest real value. A
      negative code also counts when it repeats five times more than any other negative
      value (-1 among a few sign-flipped values).
    - ``negative_values`` (medium): negatives on at most ``max_named_negative_share`` of
      rows in a column whose name says it cannot be negative (age, amount, price, count,
      ``n_``/``num_`` ...), unless it also says it can (balance, change, net ...), said to
      be sign-flipped when their sizes lie within the positives' bulk; or, on at most
      ``max_negative_share`` of rows,
      whatever the name, negatives that are isolated: fewer than 2% as many as the values
      between zero and their median size (in a column whose lowest 5% reach within one
      robust standard deviation of zero), or below a hole at zero that the lower tail
      cannot explain (the gap test below, at the one rank fixed by the number of
      negatives, at ``10 * alpha``, with the size-biased Gamma(2, 1) null of a gap that
      holds a fixed point, and wider than three steps between the lowest distinct values
      so that rounded values are not judged by their ties).
    - ``extreme_values`` (medium): the top (or bottom) values, at least ``min_robust_z``
      robust standard deviations (IQR / 1.349) from the median, separated from the rest
      of the tail by a gap its shape cannot explain. For the ``i``-th largest deviation
      ``d_i``, ``i * log(d_i / d_{i+1})`` is exponential with rate ``a`` under a Pareto
      tail (Rényi's representation); ``a`` is a trimmed Hill estimate from the following
      ranks (within the top 10% of the tail), lowered by two standard errors. A gap counts
      when ``a * i * log(d_i / d_{i+1}) > log(i * H_M / alpha)`` (a Bonferroni correction
      weighted towards the top ranks, ``H_M`` the harmonic number of the ``M`` ranks
      tested, at most 1% of the values) and ``d_i / d_{i+1} >= 2``. Lognormal and Pareto
      tails, however long, keep their gaps within what their shape predicts; a group of
      more than 1% of the values is a population, not an error.

    References: Rényi (1953), on the theory of order statistics; Hill (1975), a simple
    general approach to inference about the tail of a distribution; Bhattacharya, Kallitsis
    and Stoev (2019), data-adaptive trimming of the Hill estimator.

    No finding does not mean the values are right: values can be wrong and plausible.

    With ``--engine dask`` every rule reads every row. The main pass counts, per column and
    split, the finite values, range, negatives, infinities, domain violations, the rows of
    the maximum and of each placeholder code, and the rows per value (up to 10,000 values)
    or per float bin; the median and robust standard deviation come from these (exact from
    the values, within 1/256 of each quantile's size from the bins). What a rule then asks
    (rows in a range, rows per value below zero or below a cap, the lowest distinct
    values, a tail's largest values) a light pass counts on every row, reading only the
    columns that ask; a range of more than 1,000,000 distinct values sends the column's
    rules to the seeded sample, and ``rows_used`` names it. Findings counted on every
    row give no example rows.
    """
    columns = [c for c in ctx.roles.numeric if c in ctx.test.columns]
    domains = _parse_domains(params.domains)
    splits = present_splits(ctx)
    known = set(ctx.test.columns)
    for column, _, _, text in domains:
        if column not in known:
            raise InputError(
                f'[checks."{CHECK_ID}"] domain {text!r} names {column!r}, which is not a '
                "column of the test data. Fix the column name."
            )
    domain_columns = [c for c, _, _, _ in domains if c not in columns]
    if not columns and not domain_columns:
        raise SkipCheck("there are no numeric feature columns")
    rng = rng_for(ctx.seed, CHECK_ID)
    ordered = [*columns, *dict.fromkeys(domain_columns)]
    inputs = {}
    for column in ordered:
        values = {
            name: as_float(frame[column])
            for name, frame in splits.items()
            if column in frame.columns
        }
        column_domains = [(op, bound, text) for c, op, bound, text in domains if c == column]
        full = _all_rows_counts(ctx, column, values, column_domains)
        view = None if full is None else _every_row_view(ctx, column, full)
        inputs[column] = (values, column_domains, full, view or _InMemory(values, rng))
    done = _run_rules(inputs, ctx, params, rng)
    findings = [f for column in ordered for f in done[column][0]]
    table_rows = [done[column][1] for column in ordered]
    flagged_columns = {f.columns[0] for f in findings if f.code != "top_coded"}
    used = ()
    if any(full is not None for _, _, full, _ in inputs.values()):
        used = (_rows_used(ctx, inputs),)
    return CheckOutcome(
        status=status_from(findings),
        summary=_summary(findings, len(table_rows), params),
        findings=tuple(findings),
        measurements=(
            Measurement(
                "n_columns_out_of_range", float(len(flagged_columns)), greater_is_better=False
            ),
            *used,
        ),
        tables=(
            Table(
                "range_by_column",
                "Robust range and flagged values by numeric column",
                (
                    "column",
                    "values",
                    "median",
                    "robust_sd",
                    "min",
                    "max",
                    "negative",
                    "flagged_rows",
                    "findings",
                ),
                tuple(table_rows),
            ),
        ),
    )


# The light passes the robust rules can need: what the main pass told decides the counts
# near codes, zero and the tails; those decide the extreme values' rows.
_MAX_TAIL_PASSES = 3


def _run_rules(
    inputs: dict[str, tuple],
    ctx: AuditContext,
    params: OutOfRangeParams,
    rng: np.random.Generator,
) -> dict[str, tuple[list[Finding], tuple]]:
    """Each column's findings and table row. Columns counted on every row (``--engine
    dask``) ask the passes what their rules need: the rules run, a light pass counts what
    they asked of every column at once, and they run again, until none asks more (three
    passes at most: what the main pass tells; the counts those answers decide, such as the
    rows near zero and the tails' largest values; the extreme values' rows). A column
    whose counted range holds too many distinct values reads the sample instead."""
    done: dict[str, tuple[list[Finding], tuple]] = {}
    for *_, view in inputs.values():
        if isinstance(view, _EveryRow):
            # A median deviation's values are asked with the rest.
            with contextlib.suppress(_UnansweredError):
                _first_questions(view, *_robust_center_scale(view), params)
    pending = dict(inputs)
    for passes in range(_MAX_TAIL_PASSES + 1):
        asking: dict[str, _EveryRow] = {}
        for column, (values, domains, full, view) in pending.items():
            try:
                done[column] = _column(column, values, domains, params, view, full)
            except _UnansweredError:
                asking[column] = view
            except _TooManyValuesError:
                view = _InMemory(values, rng)
                inputs[column] = (values, domains, full, view)
                done[column] = _column(column, values, domains, params, view, full)
        pending = {c: pending[c] for c in asking}
        if passes == _MAX_TAIL_PASSES:
            # A rule still asking after every pass it can need reads the sample: bounded
            # work whatever the data, rather than a loop that trusts the rules to settle.
            for column in asking:
                values, domains, full, _ = inputs[column]
                inputs[column] = (values, domains, full, _InMemory(values, rng))
                done[column] = _column(column, values, domains, params, inputs[column][3], full)
        elif asking:
            splits = {name for view in asking.values() for name in view.counts}
            answers = ctx.all_rows.count_tails(
                {
                    name: {c: v.question() for c, v in asking.items() if name in v.counts}
                    for name in sorted(splits)
                }
            )
            for column, view in asking.items():
                view.learn({name: answers[name][column] for name in view.counts})
    return done


def _rows_used(ctx: AuditContext, inputs: dict[str, tuple]) -> Measurement:
    n_test = ctx.all_rows.rows["test"]
    sampled = [c for c, (_, _, _, view) in inputs.items() if isinstance(view, _InMemory)]
    if not sampled:
        return Measurement("rows_used", float(n_test), note=f"all {n_test:,} test rows")
    shown = ", ".join(repr(c) for c in sampled[:5]) + (
        f" (+{len(sampled) - 5} more)" if len(sampled) > 5 else ""
    )
    return Measurement(
        "rows_used",
        float(n_test),
        note=(
            f"all {n_test:,} test rows for declared domains, infinite values, each column's "
            f"values, range and negatives, and the robust rules of {len(inputs) - len(sampled)} "
            f"of {len(inputs)} columns; a seeded sample of {len(ctx.test):,} rows for the "
            f"robust rules and the median and spread of {shown}"
        ),
    )


def _all_rows_counts(
    ctx: AuditContext,
    column: str,
    values: dict[str, np.ndarray],
    domains: list[tuple[str, float, str]],
) -> dict[str, tuple[Any, int]] | None:
    """``--engine dask``: per split, the column's counts on every row (the engine's
    ``NumericCounts``) and the split's rows; None in memory, or for a split the engine did
    not count the column of."""
    full = ctx.all_rows
    if full is None:
        return None
    counted = [(c, op, bound) for c, op, bound in full.domains if c == column]
    if counted != [(column, op, bound) for op, bound, _ in domains]:
        return None
    out = {}
    for name in values:
        counts = full.numeric.get(name, {}).get(column)
        if counts is None:
            return None
        out[name] = (counts, full.rows[name])
    return out


# Closed ranges of the values the rules count: the negatives are the floats up to the one
# just below zero.
_NEGATIVE = (-math.inf, -math.ulp(0.0))
_POSITIVE = (math.ulp(0.0), math.inf)
# The lowest distinct values asked of a pass at once: the hole test's 21, the codes among
# them, and the three that tell a non-negative column.
_LOWEST_ASKED = 64


def _below(x: float) -> float:
    return math.nextafter(x, -math.inf)


def _above(x: float) -> float:
    return math.nextafter(x, math.inf)


def _neighbourhood(code: float) -> tuple[float, float]:
    """The values between half and twice a code's size, which it must outnumber."""
    low, high = sorted((code / 2, code * 2))
    return low, high


def _near_cap(top: float) -> tuple[float, float]:
    """The values below a repeated maximum that reach within 20% of it."""
    return _CAP_REACH * top, _below(top)


def _side(center: float, sign: int) -> tuple[float, float]:
    """The values above (sign 1) or below (-1) the center."""
    return (_above(center), math.inf) if sign > 0 else (-math.inf, _below(center))


def _beyond(center: float, threshold: float, sign: int) -> tuple[float, float]:
    """The values more than ``threshold`` above (sign 1) or below (-1) the center."""
    return (
        (_above(center + threshold), math.inf)
        if sign > 0
        else (-math.inf, _below(center - threshold))
    )


def _total(rows: dict[str, int]) -> int:
    return sum(rows.values())


def _counted_median(values: np.ndarray, rows: np.ndarray) -> float:
    """``np.median`` of ``values`` (increasing) repeated ``rows`` times each."""
    cum = np.cumsum(rows)
    n = int(cum[-1])
    middle = values[np.searchsorted(cum, [(n - 1) // 2, n // 2], side="right")]
    return float(np.mean(middle))  # as numpy: the mean of the two middle values


class _UnansweredError(Exception):
    """The passes have not yet counted what a rule asks (``--engine dask``)."""


class _TooManyValuesError(Exception):
    """A range holds more distinct values than a pass counts: the rules read the sample."""


class _InMemory:
    """A column's finite values, train and test pooled, as the robust rules ask about them;
    rows are counted per split, with the flagged rows' positions as examples."""

    def __init__(self, values: dict[str, np.ndarray], rng: np.random.Generator) -> None:
        self.values = values
        self.pooled = np.concatenate([v[np.isfinite(v)] for v in values.values()])
        self.n = len(self.pooled)
        self.low = float(self.pooled.min()) if self.n else math.inf
        self.high = float(self.pooled.max()) if self.n else -math.inf
        self._rng = rng
        self._sample = self.pooled

    def robust_quantiles(self, levels: list[float]) -> np.ndarray:
        # Quantiles of a seeded sample of at most _QUANTILE_SAMPLE values.
        if self.n > _QUANTILE_SAMPLE:
            self._sample = self.pooled[self._rng.integers(0, self.n, _QUANTILE_SAMPLE)]
        return np.quantile(self._sample, levels)

    def median_deviation(self, center: float) -> float:
        deviations = np.abs(self._sample - center)
        deviations = deviations[deviations > 0]
        return float(np.median(deviations)) if len(deviations) else 0.0

    def quantile(self, levels: list[float], *, positive: bool = False) -> np.ndarray:
        return np.quantile(self.pooled[self.pooled > 0] if positive else self.pooled, levels)

    def rows(self, low: float, high: float) -> dict[str, int]:
        return {
            name: int((np.isfinite(v) & (v >= low) & (v <= high)).sum())
            for name, v in self.values.items()
        }

    def values_in(self, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
        inside = self.pooled[(self.pooled >= low) & (self.pooled <= high)]
        return np.unique(inside, return_counts=True)

    def lowest(self, k: int) -> np.ndarray:
        return np.unique(self.pooled[self.pooled >= 0])[:k]

    def extremes(self, m: int, exclude: tuple[float, ...], sign: int) -> np.ndarray:
        """The ``m`` largest (sign 1; decreasing) or smallest (-1; increasing) values not in
        ``exclude``."""
        kept = self.pooled[~np.isin(self.pooled, exclude)]
        return -sign * np.sort(np.partition(-sign * kept, m - 1)[:m])

    def codes(self) -> tuple[np.ndarray, np.ndarray]:
        return np.unique(self.pooled[np.isin(self.pooled, PLACEHOLDER_CODES)], return_counts=True)

    def flagged(
        self, ranges: list[tuple[float, float]], exclude: tuple[float, ...]
    ) -> tuple[dict[str, int], dict[str, int], dict[str, list[int]]]:
        """Per split, the rows in any of ``ranges`` and not in ``exclude``, the split's
        rows, and the first flagged rows' positions."""
        masks = {
            name: np.isfinite(v)
            & ~np.isin(v, exclude)
            & np.logical_or.reduce([(v >= low) & (v <= high) for low, high in ranges])
            for name, v in self.values.items()
        }
        examples = {
            name: [int(i) for i in np.flatnonzero(mask)[:5]]
            for name, mask in masks.items()
            if mask.any()
        }
        counts = {name: int(mask.sum()) for name, mask in masks.items()}
        return counts, {name: len(v) for name, v in self.values.items()}, examples


class _EveryRow:
    """A column's finite values on every row (``--engine dask``), as ``_InMemory`` answers
    for the rows in memory: the main pass's counts (range, negatives, the maximum's rows,
    each placeholder code's rows) and its rows per value or per float bin (quantiles), and
    what the light passes of ``ctx.all_rows.count_tails`` counted. A question no pass has
    answered yet is noted and raises ``_UnansweredError``: the check then runs one pass for the
    questions of every column, and asks again."""

    def __init__(self, counts: dict[str, Any], rows: dict[str, int], spread: pd.Series) -> None:
        from auditor.engine.partitioned.partials import TailQuery

        self.counts = counts
        self.split_rows = rows
        self.n = sum(c.finite for c in counts.values())
        self.low = min(c.low for c in counts.values())
        self.high = max(c.high for c in counts.values())
        self.spread = spread  # rows per value (exact) or per float bin's lowest |value|
        self._ranges: dict[tuple[float, float], dict[str, int]] = {}
        self._valued: dict[tuple[float, float], pd.Series | None] = {}
        self._lowest: tuple[int, np.ndarray] = (0, np.empty(0))
        self._extremes: dict[int, tuple[int, tuple, dict[str, np.ndarray]]] = {}
        self._asked = TailQuery()

    # The questions of the next pass.
    def ask(self, **more: Any) -> None:
        from dataclasses import replace

        asked = self._asked
        self._asked = replace(
            asked,
            ranges=tuple(dict.fromkeys((*asked.ranges, *more.get("ranges", ())))),
            valued=tuple(dict.fromkeys((*asked.valued, *more.get("valued", ())))),
            lowest=max(asked.lowest, more.get("lowest", 0)),
            largest=max(asked.largest, more.get("largest", 0)),
            smallest=max(asked.smallest, more.get("smallest", 0)),
            exclude=more.get("exclude", asked.exclude),
        )

    def question(self) -> Any:
        return self._asked

    def learn(self, answers: dict[str, Any]) -> None:
        """Take one pass's answers (per split, ``TailCounts``) to ``question()``."""
        from auditor.engine.partitioned.partials import (
            MAX_COUNTED_VALUES,
            TailQuery,
            merge_level_counts,
        )

        asked = self._asked
        for i, key in enumerate(asked.ranges):
            self._ranges[key] = {name: int(a.ranges[i]) for name, a in answers.items()}
        for i, key in enumerate(asked.valued):
            merged = None
            for a in answers.values():
                merged = (
                    a.valued[i]
                    if merged is None
                    else merge_level_counts(merged, a.valued[i], MAX_COUNTED_VALUES)
                )
            self._valued[key] = merged
        if asked.lowest:
            found = np.unique(np.concatenate([a.lowest for a in answers.values()]))
            self._lowest = (asked.lowest, found[: asked.lowest])
        for sign, m in ((1, asked.largest), (-1, asked.smallest)):
            if m:
                self._extremes[sign] = (
                    m,
                    asked.exclude,
                    {name: a.largest if sign > 0 else a.smallest for name, a in answers.items()},
                )
        self._asked = TailQuery()

    def robust_quantiles(self, levels: list[float]) -> np.ndarray:
        return self.quantile(levels)

    def median_deviation(self, center: float) -> float:
        below, below_rows = self.values_in(-math.inf, _below(center))
        above, above_rows = self.values_in(_above(center), math.inf)
        deviations = np.concatenate([center - below, above - center])
        if not len(deviations):
            return 0.0
        order = np.argsort(deviations, kind="stable")
        rows = np.concatenate([below_rows, above_rows])[order]
        return _counted_median(deviations[order], rows)

    def quantile(self, levels: list[float], *, positive: bool = False) -> np.ndarray:
        from auditor.engine.partitioned.partials import counted_quantile

        spread = self.spread[self.spread.index > 0] if positive else self.spread
        return counted_quantile(spread.index.to_numpy(float), spread.to_numpy(), levels)

    def rows(self, low: float, high: float) -> dict[str, int]:
        if (low, high) == _NEGATIVE:
            return {name: c.negative for name, c in self.counts.items()}
        if low == high == self.high:
            return {
                name: c.at_high if c.high == self.high else 0 for name, c in self.counts.items()
            }
        if low == high and low in PLACEHOLDER_CODES:
            at = PLACEHOLDER_CODES.index(low)
            return {name: c.codes[at] for name, c in self.counts.items()}
        if (low, high) not in self._ranges:
            self.ask(ranges=((low, high),))
            raise _UnansweredError
        return self._ranges[(low, high)]

    def values_in(self, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
        if (low, high) not in self._valued:
            self.ask(valued=((low, high),))
            raise _UnansweredError
        counts = self._valued[(low, high)]
        if counts is None:
            raise _TooManyValuesError
        counts = counts.groupby(counts.index.astype(float)).sum().sort_index()
        return counts.index.to_numpy(float), counts.to_numpy()

    def lowest(self, k: int) -> np.ndarray:
        asked, found = self._lowest
        if asked < k:
            self.ask(lowest=max(k, _LOWEST_ASKED))
            raise _UnansweredError
        return found[:k]

    def extremes(self, m: int, exclude: tuple[float, ...], sign: int) -> np.ndarray:
        asked, excluded, found = self._extremes.get(sign, (0, (), {}))
        if asked < m or excluded != tuple(exclude):
            self.ask(exclude=tuple(exclude), **{"largest" if sign > 0 else "smallest": m})
            raise _UnansweredError
        pooled = np.sort(np.concatenate(list(found.values())))
        return (pooled[::-1] if sign > 0 else pooled)[:m]

    def codes(self) -> tuple[np.ndarray, np.ndarray]:
        rows = np.sum([c.codes for c in self.counts.values()], axis=0)
        present = rows > 0
        return np.array(PLACEHOLDER_CODES, dtype=float)[present], rows[present]

    def flagged(
        self, ranges: list[tuple[float, float]], exclude: tuple[float, ...]
    ) -> tuple[dict[str, int], dict[str, int], dict[str, list[int]]]:
        counts = dict.fromkeys(self.counts, 0)
        for low, high in ranges:
            for name, rows in self.rows(low, high).items():
                counts[name] += rows
            for code in exclude:
                if low <= code <= high:
                    for name, rows in self.rows(code, code).items():
                        counts[name] -= rows
        return counts, dict(self.split_rows), {}


def _every_row_view(ctx: AuditContext, column: str, full: dict[str, tuple[Any, int]]):
    """The ``_EveryRow`` of a column counted on every row: its quantiles from the value
    counts where the main pass counted every value of it (exact), else from its float bins
    (within 1/256 of each quantile's magnitude); None without either (the rules then read
    the sample)."""
    from auditor.engine.partitioned.partials import float_bin_values

    all_rows = ctx.all_rows
    if all_rows.count_tails is None:
        return None
    levels = [all_rows.levels.get(name, {}).get(column) for name in full]
    if all(counts is not None for counts in levels):
        pooled = pd.concat(levels)
        values = as_float(pd.Series(pooled.index))
        spread = pd.Series(pooled.to_numpy(), index=values).groupby(level=0).sum()
        spread = spread[np.isfinite(spread.index.to_numpy(float))]
    else:
        bins = [all_rows.histograms.get(name, {}).get(column) for name in full]
        if any(b is None for b in bins):
            return None
        pooled = pd.concat(bins)
        spread = (
            pd.Series(pooled.to_numpy(), index=float_bin_values(pooled.index.to_numpy()))
            .groupby(level=0)
            .sum()
        )
    if not len(spread):
        return None
    return _EveryRow(
        {name: counts for name, (counts, _) in full.items()},
        {name: rows for name, (_, rows) in full.items()},
        spread.sort_index(),
    )


def _first_questions(view: _EveryRow, center: float, scale: float, params: OutOfRangeParams):
    """Note what the rules will ask of a column counted on every row, as far as the main
    pass tells, so that one pass answers most of it (the rules ask the rest)."""
    codes, rows = view.codes()
    view.ask(
        ranges=tuple(
            _neighbourhood(c) for c, r in zip(codes, rows, strict=True) if r >= params.min_code_rows
        )
    )
    negatives = _total(view.rows(*_NEGATIVE))
    if negatives or (codes < 0).any():
        view.ask(lowest=_LOWEST_ASKED, valued=(_NEGATIVE,))
    if negatives:
        view.ask(ranges=(_POSITIVE, _side(center, -1)))
    at_high = _total(view.rows(view.high, view.high))
    if view.high > 0 and at_high >= params.min_code_rows:
        view.ask(valued=(_near_cap(view.high),))
    threshold = params.min_robust_z * scale
    for sign, end in ((1, view.high - center), (-1, center - view.low)):
        if scale > 0 and end > threshold:
            view.ask(ranges=(_side(center, sign), _beyond(center, threshold, sign)))


def _column(
    column: str,
    values: dict[str, np.ndarray],
    domains: list[tuple[str, float, str]],
    params: OutOfRangeParams,
    view: _InMemory | _EveryRow,
    full: dict[str, tuple[Any, int]] | None = None,
) -> tuple[list[Finding], tuple]:
    findings: list[Finding] = []
    # The declared domains and infinities per split, from the rows or every row's counts.
    for index, (op, bound, text) in enumerate(domains):
        masks = {
            name: ~np.isnan(v) & ~_OPS[op](np.where(np.isnan(v), bound, v), bound)
            for name, v in values.items()
        }
        finding = _finding(
            column,
            "outside_declared_domain",
            "high",
            *_counted(masks, values, full, lambda c, i=index: c.violations[i]),
            f"violate the declared domain {text!r}",
            {"domain": text},
        )
        if finding is not None:
            findings.append(finding)
    infinite = {name: np.isinf(v) for name, v in values.items()}
    finding = _finding(
        column,
        "infinite_values",
        "medium",
        *_counted(infinite, values, full, lambda c: c.infinite),
        "are infinite (+inf or -inf), usually a division by zero",
        {},
    )
    if finding is not None:
        findings.append(finding)

    if view.n == 0:
        return findings, (column, 0, None, None, None, None, 0, 0, "")
    center, scale = _robust_center_scale(view)

    sentinels = _sentinels(view, center, scale, params)
    if sentinels:
        shown = ", ".join(f"{s:g}" for s in sentinels)
        finding = _finding(
            column,
            "sentinel_value",
            "medium",
            *view.flagged([(s, s) for s in sentinels], ()),
            f"hold {shown}, a number that usually codes 'unknown' or 'not applicable' "
            "and lies apart from the column's other values",
            {"codes": [float(s) for s in sentinels]},
        )
        if finding is not None:
            findings.append(finding)

    cap = _top_code(view, params)
    if cap is not None:
        finding = _finding(
            column,
            "top_coded",
            "low",
            *view.flagged([(cap, cap)], ()),
            f"hold {cap:g}, the column's maximum, with other values running up to just below "
            "it: a cap (a top-code recording every larger value as itself) or a natural "
            "maximum. It is not a code for 'unknown': keep it; if it is a cap, the model "
            "cannot tell the values above it apart",
            {"cap": cap},
        )
        if finding is not None:
            findings.append(finding)

    excluded = tuple(sentinels)
    negative_reason = _negative_reason(column, view, excluded, center, scale, params)
    if negative_reason is not None:
        finding = _finding(
            column,
            "negative_values",
            "medium",
            *view.flagged([_NEGATIVE], excluded),
            negative_reason,
            {},
        )
        if finding is not None:
            findings.append(finding)

    low, high = _extreme_limits(view, excluded, center, scale, params)
    if (low, high) != (None, None):
        sides, ranges = [], []
        if high is not None:
            sides.append(f"at or above {high:.6g}")
            ranges.append((high, math.inf))
        if low is not None:
            sides.append(f"at or below {low:.6g}")
            ranges.append((-math.inf, low))
        finding = _finding(
            column,
            "extreme_values",
            "medium",
            *view.flagged(ranges, excluded),
            f"are {' or '.join(sides)}, more than {params.min_robust_z:g} robust standard "
            f"deviations ({scale:.4g}) from the median ({center:.6g}) and cut off from the "
            "rest of the values by a gap the column's tail cannot explain",
            {
                "median": center,
                "robust_sd": scale,
                "low_limit": low,
                "high_limit": high,
                "min_robust_z": params.min_robust_z,
            },
        )
        if finding is not None:
            findings.append(finding)

    flagged_rows = sum(int(f.evidence["rows"]) for f in findings if f.code != "top_coded")
    n_values, low, high = view.n, view.low, view.high
    negative = _total(view.rows(*_NEGATIVE))
    if full is not None:  # every row's
        every = [c for c, _ in full.values()]
        n_values = sum(c.finite for c in every)
        low, high = min(c.low for c in every), max(c.high for c in every)
        negative = sum(c.negative for c in every)
    row = (
        column,
        n_values,
        float(center),
        float(scale),
        low,
        high,
        negative,
        flagged_rows,
        ", ".join(f.code for f in findings if f.columns == (column,)),
    )
    return findings, row


def _counted(
    masks: dict[str, np.ndarray],
    values: dict[str, np.ndarray],
    full: dict[str, tuple[Any, int]] | None,
    count: Any,
) -> tuple[dict[str, int], dict[str, int], dict[str, list[int]]]:
    """Per split, the rows a rule's ``masks`` flag, the split's rows and the first flagged
    positions; with ``full`` (``--engine dask``), ``count`` of every row's counts, and no
    example."""
    if full is not None:
        return (
            {name: int(count(c)) for name, (c, _) in full.items()},
            {name: n for name, (_, n) in full.items()},
            {},
        )
    examples = {
        name: [int(i) for i in np.flatnonzero(mask)[:5]]
        for name, mask in masks.items()
        if mask.any()
    }
    return (
        {name: int(mask.sum()) for name, mask in masks.items()},
        {name: len(v) for name, v in values.items()},
        examples,
    )


def _finding(
    column: str,
    code: str,
    severity: str,
    counts: dict[str, int],
    rows: dict[str, int],
    examples: dict[str, list[int]],
    what: str,
    extra: dict,
) -> Finding | None:
    """The finding of a rule that flags ``counts`` of ``rows`` per split; ``examples``: the
    first flagged positions per split (none when counted on every row)."""
    total = sum(counts.values())
    if total == 0:
        return None
    shown = "; ".join(f"{name} {', '.join(map(str, rows_))}" for name, rows_ in examples.items())
    shown = f" Example row positions (0-based): {shown}." if examples else ""
    where = ", ".join(f"{counts[n]:,} of {rows[n]:,} {n} rows" for n in counts if counts[n])
    return Finding(
        code,
        severity,
        f"{column!r}: {where} {what}.{shown}",
        (column,),
        {
            "rows": total,
            "rows_by_split": {n: c for n, c in counts.items() if c},
            "example_rows": examples,
            **extra,
        },
    )


def _robust_center_scale(view: _InMemory | _EveryRow) -> tuple[float, float]:
    """Median and a robust standard deviation, with fallbacks for columns of few values."""
    q = view.robust_quantiles([0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99])
    center = float(q[3])
    for spread, width in ((q[4] - q[2], 1.349), (q[5] - q[1], 2.563), (q[6] - q[0], 4.653)):
        if spread > 0:
            return center, float(spread / width)
    return center, view.median_deviation(center)


def _top_code(view: _InMemory | _EveryRow, params: OutOfRangeParams) -> float | None:
    """A cap: the maximum, repeated, with the values below it running up close to it.

    Incomes recorded as at most 99,999 pile up on 99,999 while the rest of the tail reaches
    just below it; a code for "unknown" (999 as an age) lies far beyond the largest real
    value instead.
    """
    top = view.high
    if top <= 0 or _total(view.rows(top, top)) < params.min_code_rows:
        return None
    _, near_counts = view.values_in(*_near_cap(top))
    if len(near_counts) == 0:
        return None
    # A pile-up: the maximum repeats far more often than the values just below it do (an
    # integer column's maximum repeats about as often as its neighbours).
    count = _total(view.rows(top, top))
    return top if count >= _CODE_DOMINANCE * float(near_counts.mean()) else None


def _sentinels(
    view: _InMemory | _EveryRow, center: float, scale: float, params: OutOfRangeParams
) -> list[float]:
    codes, counts = view.codes()
    if len(codes) == 0:
        return []
    cap = _top_code(view, params)
    found = []
    for code, count in zip(codes, counts, strict=True):
        if count < params.min_code_rows or code == cap:
            continue
        if code < 0 and len(view.lowest(3)) >= 3 and _dominates(view, float(code), int(count)):
            # The only negative value of a non-negative column, or one repeated far more
            # often than any other negative (-1 among a few sign-flipped values).
            found.append(float(code))
            continue
        if scale <= 0 or abs(code - center) < params.min_robust_z * scale:
            continue
        neighbours = _total(view.rows(*_neighbourhood(code))) - int(count)
        if count > neighbours:
            found.append(float(code))
    return found


def _dominates(view: _InMemory | _EveryRow, code: float, mine: int) -> bool:
    others = _total(view.rows(*_NEGATIVE)) - mine
    if others == 0:  # the only negative value
        return True
    if mine < others:
        return False
    negatives, counts = view.values_in(*_NEGATIVE)
    return mine >= _CODE_DOMINANCE * int(counts[negatives != code].max())


def _name_words(name: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(name))
    return [w for w in re.split(r"[^0-9a-zA-Z]+", spaced.lower()) if w]


def _kept_rows(
    view: _InMemory | _EveryRow, low: float, high: float, sentinels: tuple[float, ...]
) -> int:
    """The values in ``[low, high]`` that are not placeholder codes."""
    inside = _total(view.rows(low, high))
    return inside - sum(_total(view.rows(s, s)) for s in sentinels if low <= s <= high)


def _negative_reason(
    column: str,
    view: _InMemory | _EveryRow,
    sentinels: tuple[float, ...],
    center: float,
    scale: float,
    params: OutOfRangeParams,
) -> str | None:
    n_negative = _kept_rows(view, *_NEGATIVE, sentinels)
    if n_negative == 0:
        return None
    share = n_negative / view.n
    words = _name_words(column)
    named = not any(w in _SIGNED_WORDS for w in words) and (
        any(w in _NON_NEGATIVE_WORDS for w in words)
        or (len(words) > 1 and words[0] in _NON_NEGATIVE_PREFIXES)
    )
    if named and share <= params.max_named_negative_share:
        mirrored = _mirrors_the_positives(view, sentinels, n_negative)
        return (
            f"are negative, which a column named like {column!r} cannot be"
            + (" (they look like positive values with the sign flipped)" if mirrored else "")
            + f" (reported up to {params.max_named_negative_share:.0%} of rows)"
        )
    if share > params.max_negative_share:
        return None
    # A column that genuinely crosses zero has about as many values just below zero as just
    # above, and its lower tail runs smoothly through zero. Misplaced negatives (a flipped
    # sign, a typo) are far fewer than the values just above zero, or sit below a hole at
    # zero that the shape of the lower tail cannot explain.
    negatives, rows = view.values_in(*_NEGATIVE)
    kept = ~np.isin(negatives, sentinels)
    negatives, rows = negatives[kept], rows[kept]
    typical = _counted_median(-negatives[::-1], rows[::-1])
    # The comparison means something only when the column's lower bulk reaches zero.
    reaches_zero = float(view.quantile([0.05])[0]) <= scale
    if reaches_zero:
        near_zero = _total(view.rows(0.0, _below(typical)))
        if near_zero >= _MIN_NEAR_ZERO and n_negative < _MAX_ISOLATION_RATIO * near_zero:
            return (
                f"are negative in a column otherwise non-negative, and isolated: "
                f"{near_zero:,} values lie between 0 and {typical:.4g} but only these below 0"
            )
    if center <= 0:
        return None
    lowest = view.lowest(_LOW_DISTINCT + 1 + len(sentinels))
    lowest = lowest[~np.isin(lowest, sentinels)][: _LOW_DISTINCT + 1]
    if _opens_a_hole(lowest, float(negatives.max())) and _gap_is_significant(
        view, sentinels, center, n_negative, _ZERO_GAP_ALPHA_FACTOR * params.alpha
    ):
        return (
            f"are negative in a column otherwise non-negative, and set apart: nothing lies "
            f"between them and {float(lowest[0]):.4g}, a gap the column's lower tail cannot "
            "explain"
        )
    return None


def _mirrors_the_positives(
    view: _InMemory | _EveryRow, sentinels: tuple[float, ...], n_negative: int
) -> bool:
    """Whether the negatives' sizes lie within the bulk of the positive values."""
    if n_negative < _MIN_MIRRORED or _total(view.rows(*_POSITIVE)) < _MIN_NEAR_ZERO:
        return False
    low, high = view.quantile([0.05, 0.95], positive=True)
    return bool(_kept_rows(view, -high, -low, sentinels) / n_negative >= 0.8)


def _opens_a_hole(lowest: np.ndarray, largest_negative: float) -> bool:
    """Whether zero sits in a hole wider than the steps between the lowest values above it
    (``lowest``: the lowest distinct values at or above zero).

    Rounded values (temperatures to 0.1) have ties and fixed steps, which the spacing test
    cannot judge: a gap of one step at zero is no hole.
    """
    if len(lowest) < 2:
        return True
    step = float(np.diff(lowest).max())
    return float(lowest[0] - largest_negative) > _MIN_HOLE_STEPS * step


def _gap_is_significant(
    view: _InMemory | _EveryRow,
    sentinels: tuple[float, ...],
    center: float,
    rank: int,
    alpha: float,
) -> bool:
    """Whether the gap below the ``rank`` lowest values (their deviations below the center)
    is beyond the lower tail's shape.

    The rank is fixed in advance (the number of negative values), so one test is made:
    ``a * rank * log(d_rank / d_{rank+1}) > log(1 / alpha)`` with ``a`` the trimmed Hill
    estimate from the following ranks (see ``_tail_limit``).
    """
    n_tail = _kept_rows(view, *_side(center, -1), sentinels)
    reference = min(max(50, rank), n_tail - rank - 1, int(_MAX_REFERENCE_SHARE * n_tail))
    if reference < _MIN_REFERENCE:
        return False
    top = center - view.extremes(rank + reference + 1, sentinels, -1)
    gaps = np.log(top[:-1] / top[1:])
    tail_index = _tail_index(gaps, rank, reference)
    gap = float(gaps[rank - 1])
    # The gap holding zero is size-biased (a fixed point falls in long gaps more often), so
    # under a Pareto tail the statistic is Gamma(2, 1): P(T > t) = (1 + t) exp(-t).
    statistic = tail_index * rank * gap
    return gap > 0 and (1 + statistic) * math.exp(-statistic) < alpha


def _extreme_limits(
    view: _InMemory | _EveryRow,
    sentinels: tuple[float, ...],
    center: float,
    scale: float,
    params: OutOfRangeParams,
) -> tuple[float | None, float | None]:
    """The (low, high) limits beyond which values are extreme; None where there are none."""
    n = view.n - sum(_total(view.rows(s, s)) for s in sentinels)
    if scale <= 0 or n == 0:
        return None, None
    high = _tail_limit(view, sentinels, center, scale, n, 1, params)
    low = _tail_limit(view, sentinels, center, scale, n, -1, params)
    return (None if low is None else center - low), (None if high is None else center + high)


def _tail_limit(
    view: _InMemory | _EveryRow,
    sentinels: tuple[float, ...],
    center: float,
    scale: float,
    n: int,
    sign: int,
    params: OutOfRangeParams,
) -> float | None:
    """The smallest deviation from the center of the isolated top group of one tail (sign
    1: above the center, -1: below), or None."""
    threshold = params.min_robust_z * scale
    end = view.high - center if sign > 0 else center - view.low
    if end <= threshold:  # no value lies beyond the threshold
        return None
    n_candidates = _kept_rows(view, *_beyond(center, threshold, sign), sentinels)
    if n_candidates == 0:
        return None
    n_tail = _kept_rows(view, *_side(center, sign), sentinels)
    ranks = min(n_candidates, max(1, int(_MAX_TAIL_SHARE * n)))
    reference = min(max(50, ranks), n_tail - ranks - 1, int(_MAX_REFERENCE_SHARE * n_tail))
    if reference < _MIN_REFERENCE:
        return None
    top = sign * (view.extremes(ranks + reference + 1, sentinels, sign) - center)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = top[:-1] / top[1:]
        gaps = np.log(ratios)
    tail_index = _tail_index(gaps, ranks, reference)
    i = np.arange(1, ranks + 1, dtype=float)
    ratios, gaps = ratios[:ranks], gaps[:ranks]
    with np.errstate(invalid="ignore"):
        statistic = np.where(gaps > 0, tail_index * i * gaps, 0.0)
    harmonic = float(np.sum(1.0 / i))
    cutoff = np.log(i * harmonic / params.alpha)
    significant = (statistic > cutoff) & (ratios >= _MIN_GAP_RATIO) & (top[:ranks] > threshold)
    if not significant.any():
        return None
    last = int(np.flatnonzero(significant)[-1])
    return float(top[last])


def _tail_index(gaps: np.ndarray, skip: int, reference: int) -> float:
    """A cautious trimmed Hill estimate of the tail index from ranks skip+1..skip+reference.

    Under a Pareto tail the scaled log-spacings ``j * log(d_j / d_{j+1})`` are exponential
    with rate ``a`` (Rényi); their mean estimates ``1 / a`` with relative error about
    ``1 / sqrt(reference)``. Two standard errors are taken off ``a`` so that estimation
    noise does not make ordinary gaps look significant.
    """
    j = np.arange(skip + 1, skip + reference + 1, dtype=float)
    spread = float((j * gaps[skip : skip + reference]).sum())
    if spread <= 0:
        return math.inf
    return reference / spread * max(0.5, 1 - 2 / math.sqrt(reference))


def _summary(findings: list[Finding], n_columns: int, params: OutOfRangeParams) -> str:
    caps = [f for f in findings if f.code == "top_coded"]
    capped = (
        " Capped (top-coded, kept as they are): "
        + ", ".join(f"{f.columns[0]!r} at {f.evidence['cap']:g}" for f in caps[:5])
        + "."
        if caps
        else ""
    )
    problems = [f for f in findings if f.code != "top_coded"]
    if problems:
        columns = list(dict.fromkeys(f.columns[0] for f in problems))
        shown = ", ".join(repr(c) for c in columns[:5])
        more = f" (+{len(columns) - 5} more)" if len(columns) > 5 else ""
        return f"Impossible or extreme values in {len(columns)} column(s): {shown}{more}.{capped}"
    declared = f" and {len(params.domains)} declared domain(s)" if params.domains else ""
    return (
        f"No placeholder code, infinite value, misplaced negative or value cut off more than "
        f"{params.min_robust_z:g} robust standard deviations beyond the rest of its tail, "
        f"across {n_columns} numeric columns{declared}.{capped}"
    )
