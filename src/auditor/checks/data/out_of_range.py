"""``data.out_of_range``: impossible or extreme numeric values.

Declared domains (``age>=0``) are checked exactly. Without them, robust rules look for the
values a data-entry or pipeline error leaves behind, while tolerating the heavy tails of
genuine amounts and incomes: negatives in a column that cannot be negative, placeholder
codes (-1, 999, -9999), values far beyond the rest of the tail, and infinities.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from auditor.checks._common import splits as present_splits
from auditor.checks._common import status_from
from auditor.context import AuditContext
from auditor.engine.kinds import as_float
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
# Placeholder codes written as numbers: -1 and repeated nines.
_NINES = (-1, *(s * (10**k - 1) for k in range(1, 10) for s in (1, -1)))
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

    With ``--engine dask`` the declared domains' and the infinite values' rows, and the
    table's values, minimum, maximum and negatives, are counted on every row; the robust
    rules (codes, caps, negatives, extremes), the median and the robust standard deviation
    read the seeded sample. Findings counted on every row give no example rows.
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
    findings: list[Finding] = []
    table_rows = []
    on_all_rows = []
    for column in [*columns, *dict.fromkeys(domain_columns)]:
        values = {
            name: as_float(frame[column])
            for name, frame in splits.items()
            if column in frame.columns
        }
        column_domains = [(op, bound, text) for c, op, bound, text in domains if c == column]
        full = _all_rows_counts(ctx, column, values, column_domains)
        if full is not None:
            on_all_rows.append(column)
        column_findings, row = _column(column, values, column_domains, params, rng, full)
        findings.extend(column_findings)
        table_rows.append(row)
    flagged_columns = {f.columns[0] for f in findings if f.code != "top_coded"}
    used = ()
    if on_all_rows:
        n_test = ctx.all_rows.rows["test"]
        used = (
            Measurement(
                "rows_used",
                float(n_test),
                note=(
                    f"all {n_test:,} test rows for declared domains, infinite values and each "
                    f"column's values, range and negatives; a seeded sample of "
                    f"{len(ctx.test):,} rows for the robust rules and the median and spread"
                ),
            ),
        )
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


def _column(
    column: str,
    values: dict[str, np.ndarray],
    domains: list[tuple[str, float, str]],
    params: OutOfRangeParams,
    rng: np.random.Generator,
    full: dict[str, tuple[Any, int]] | None = None,
) -> tuple[list[Finding], tuple]:
    findings: list[Finding] = []
    # Masks per split of the rows each rule flags; one finding per rule and column.
    for index, (op, bound, text) in enumerate(domains):
        masks = {
            name: ~np.isnan(v) & ~_OPS[op](np.where(np.isnan(v), bound, v), bound)
            for name, v in values.items()
        }
        finding = _finding(
            column,
            "outside_declared_domain",
            "high",
            masks,
            values,
            f"violate the declared domain {text!r}",
            {"domain": text},
            None if full is None else {n: (c.violations[index], r) for n, (c, r) in full.items()},
        )
        if finding is not None:
            findings.append(finding)

    infinite = {name: np.isinf(v) for name, v in values.items()}
    finding = _finding(
        column,
        "infinite_values",
        "medium",
        infinite,
        values,
        "are infinite (+inf or -inf), usually a division by zero",
        {},
        None if full is None else {n: (c.infinite, r) for n, (c, r) in full.items()},
    )
    if finding is not None:
        findings.append(finding)

    pooled = np.concatenate([v[np.isfinite(v)] for v in values.values()])
    if len(pooled) == 0:
        return findings, (column, 0, None, None, None, None, 0, 0, "")
    center, scale = _robust_center_scale(pooled, rng)

    sentinels = _sentinels(pooled, center, scale, params)
    if sentinels:
        masks = {name: np.isin(v, sentinels) for name, v in values.items()}
        shown = ", ".join(f"{s:g}" for s in sentinels)
        finding = _finding(
            column,
            "sentinel_value",
            "medium",
            masks,
            values,
            f"hold {shown}, a number that usually codes 'unknown' or 'not applicable' "
            "and lies apart from the column's other values",
            {"codes": [float(s) for s in sentinels]},
        )
        if finding is not None:
            findings.append(finding)

    cap = _top_code(pooled, params)
    if cap is not None:
        finding = _finding(
            column,
            "top_coded",
            "low",
            {name: v == cap for name, v in values.items()},
            values,
            f"hold {cap:g}, the column's maximum, with other values running up to just below "
            "it: a cap (a top-code recording every larger value as itself) or a natural "
            "maximum. It is not a code for 'unknown': keep it; if it is a cap, the model "
            "cannot tell the values above it apart",
            {"cap": cap},
        )
        if finding is not None:
            findings.append(finding)

    negative_reason = _negative_reason(column, pooled, sentinels, center, scale, params)
    if negative_reason is not None:
        masks = {
            name: (v < 0) & ~np.isin(v, sentinels) & np.isfinite(v) for name, v in values.items()
        }
        finding = _finding(column, "negative_values", "medium", masks, values, negative_reason, {})
        if finding is not None:
            findings.append(finding)

    limits = _extreme_limits(pooled[~np.isin(pooled, sentinels)], center, scale, params)
    if limits != (None, None):
        low, high = limits
        above = math.inf if high is None else high
        below = -math.inf if low is None else low
        masks = {
            name: np.isfinite(v) & ~np.isin(v, sentinels) & ((v >= above) | (v <= below))
            for name, v in values.items()
        }
        sides = []
        if high is not None:
            sides.append(f"at or above {high:.6g}")
        if low is not None:
            sides.append(f"at or below {low:.6g}")
        finding = _finding(
            column,
            "extreme_values",
            "medium",
            masks,
            values,
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
    n_values, low, high = int(len(pooled)), float(pooled.min()), float(pooled.max())
    negative = int((pooled < 0).sum())
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


def _finding(
    column: str,
    code: str,
    severity: str,
    masks: dict[str, np.ndarray],
    values: dict[str, np.ndarray],
    what: str,
    extra: dict,
    all_rows: dict[str, tuple[int, int]] | None = None,
) -> Finding | None:
    """The finding of a rule's ``masks`` per split; ``all_rows``: per split, the rows it
    flags and the split's rows, counted on every row (``--engine dask``), with no example."""
    counts = {name: int(mask.sum()) for name, mask in masks.items()}
    rows = {name: len(v) for name, v in values.items()}
    examples = {
        name: [int(i) for i in np.flatnonzero(mask)[:5]]
        for name, mask in masks.items()
        if counts[name]
    }
    shown = "; ".join(f"{name} {', '.join(map(str, rows_))}" for name, rows_ in examples.items())
    shown = f" Example row positions (0-based): {shown}."
    if all_rows is not None:
        counts = {name: flagged for name, (flagged, _) in all_rows.items()}
        rows = {name: n for name, (_, n) in all_rows.items()}
        examples, shown = {}, ""
    total = sum(counts.values())
    if total == 0:
        return None
    where = ", ".join(f"{counts[n]:,} of {rows[n]:,} {n} rows" for n in masks if counts[n])
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


def _robust_center_scale(values: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """Median and a robust standard deviation, with fallbacks for columns of few values."""
    sample = values
    if len(values) > _QUANTILE_SAMPLE:
        sample = values[rng.integers(0, len(values), _QUANTILE_SAMPLE)]
    q = np.quantile(sample, [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99])
    center = float(q[3])
    for spread, width in ((q[4] - q[2], 1.349), (q[5] - q[1], 2.563), (q[6] - q[0], 4.653)):
        if spread > 0:
            return center, float(spread / width)
    deviations = np.abs(sample - center)
    deviations = deviations[deviations > 0]
    return center, float(np.median(deviations)) if len(deviations) else 0.0


def _top_code(values: np.ndarray, params: OutOfRangeParams) -> float | None:
    """A cap: the maximum, repeated, with the values below it running up close to it.

    Incomes recorded as at most 99,999 pile up on 99,999 while the rest of the tail reaches
    just below it; a code for "unknown" (999 as an age) lies far beyond the largest real
    value instead.
    """
    top = float(values.max())
    if top <= 0:
        return None
    count = int((values == top).sum())
    near = values[(values < top) & (values >= _CAP_REACH * top)]
    if count < params.min_code_rows or len(near) == 0:
        return None
    # A pile-up: the maximum repeats far more often than the values just below it do (an
    # integer column's maximum repeats about as often as its neighbours).
    _, near_counts = np.unique(near, return_counts=True)
    return top if count >= _CODE_DOMINANCE * float(near_counts.mean()) else None


def _sentinels(
    values: np.ndarray, center: float, scale: float, params: OutOfRangeParams
) -> list[float]:
    candidates = values[np.isin(values, _NINES)]
    if len(candidates) == 0:
        return []
    codes, counts = np.unique(candidates, return_counts=True)
    negative_values, negative_counts = np.unique(values[values < 0], return_counts=True)
    non_negative_distinct = len(np.unique(values[values >= 0][:100_000]))
    cap = _top_code(values, params)
    found = []
    for code, count in zip(codes, counts, strict=True):
        if count < params.min_code_rows or code == cap:
            continue
        if (
            code < 0
            and non_negative_distinct >= 3
            and _dominates(code, negative_values, negative_counts)
        ):
            # The only negative value of a non-negative column, or one repeated far more
            # often than any other negative (-1 among a few sign-flipped values).
            found.append(float(code))
            continue
        if scale <= 0 or abs(code - center) < params.min_robust_z * scale:
            continue
        low, high = sorted((code / 2, code * 2))
        neighbours = int(((values >= low) & (values <= high)).sum()) - int(count)
        if count > neighbours:
            found.append(float(code))
    return found


def _dominates(code: float, negatives: np.ndarray, counts: np.ndarray) -> bool:
    if len(negatives) == 1:
        return True
    mine = int(counts[negatives == code][0])
    others = counts[negatives != code]
    return mine >= _CODE_DOMINANCE * int(others.max()) and mine >= others.sum()


def _name_words(name: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(name))
    return [w for w in re.split(r"[^0-9a-zA-Z]+", spaced.lower()) if w]


def _negative_reason(
    column: str,
    values: np.ndarray,
    sentinels: list[float],
    center: float,
    scale: float,
    params: OutOfRangeParams,
) -> str | None:
    negative = values[(values < 0) & ~np.isin(values, sentinels)]
    if len(negative) == 0:
        return None
    share = len(negative) / len(values)
    words = _name_words(column)
    named = not any(w in _SIGNED_WORDS for w in words) and (
        any(w in _NON_NEGATIVE_WORDS for w in words)
        or (len(words) > 1 and words[0] in _NON_NEGATIVE_PREFIXES)
    )
    if named and share <= params.max_named_negative_share:
        mirrored = _mirrors_the_positives(values, negative)
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
    typical = float(np.median(-negative))
    near_zero = int(((values >= 0) & (values < typical)).sum())
    # The comparison means something only when the column's lower bulk reaches zero.
    reaches_zero = float(np.quantile(values, 0.05)) <= scale
    if (
        reaches_zero
        and near_zero >= _MIN_NEAR_ZERO
        and len(negative) < _MAX_ISOLATION_RATIO * near_zero
    ):
        return (
            f"are negative in a column otherwise non-negative, and isolated: {near_zero:,} "
            f"values lie between 0 and {typical:.4g} but only these below 0"
        )
    kept = values[~np.isin(values, sentinels)]
    if (
        center > 0
        and _opens_a_hole(kept, negative)
        and _gap_is_significant(center - kept, len(negative), _ZERO_GAP_ALPHA_FACTOR * params.alpha)
    ):
        nearest = float(kept[kept >= 0].min())
        return (
            f"are negative in a column otherwise non-negative, and set apart: nothing lies "
            f"between them and {nearest:.4g}, a gap the column's lower tail cannot explain"
        )
    return None


def _mirrors_the_positives(values: np.ndarray, negative: np.ndarray) -> bool:
    """Whether the negatives' sizes lie within the bulk of the positive values."""
    positive = values[values > 0]
    if len(positive) < _MIN_NEAR_ZERO or len(negative) < _MIN_MIRRORED:
        return False
    low, high = np.quantile(positive, [0.05, 0.95])
    return bool(np.mean((-negative >= low) & (-negative <= high)) >= 0.8)


def _opens_a_hole(values: np.ndarray, negative: np.ndarray) -> bool:
    """Whether zero sits in a hole wider than the steps between the lowest values above it.

    Rounded values (temperatures to 0.1) have ties and fixed steps, which the spacing test
    cannot judge: a gap of one step at zero is no hole.
    """
    lowest = np.unique(values[values >= 0])[: _LOW_DISTINCT + 1]
    if len(lowest) < 2:
        return True
    step = float(np.diff(lowest).max())
    return float(lowest[0] - negative.max()) > _MIN_HOLE_STEPS * step


def _gap_is_significant(deviations: np.ndarray, rank: int, alpha: float) -> bool:
    """Whether the gap below the ``rank`` largest deviations is beyond the tail's shape.

    The rank is fixed in advance (the number of negative values), so one test is made:
    ``a * rank * log(d_rank / d_{rank+1}) > log(1 / alpha)`` with ``a`` the trimmed Hill
    estimate from the following ranks (see ``_tail_limit``).
    """
    tail = deviations[deviations > 0]
    reference = min(max(50, rank), len(tail) - rank - 1, int(_MAX_REFERENCE_SHARE * len(tail)))
    if reference < _MIN_REFERENCE:
        return False
    size = rank + reference + 1
    top = np.sort(np.partition(tail, len(tail) - size)[len(tail) - size :])[::-1]
    gaps = np.log(top[:-1] / top[1:])
    tail_index = _tail_index(gaps, rank, reference)
    gap = float(gaps[rank - 1])
    # The gap holding zero is size-biased (a fixed point falls in long gaps more often), so
    # under a Pareto tail the statistic is Gamma(2, 1): P(T > t) = (1 + t) exp(-t).
    statistic = tail_index * rank * gap
    return gap > 0 and (1 + statistic) * math.exp(-statistic) < alpha


def _extreme_limits(
    values: np.ndarray, center: float, scale: float, params: OutOfRangeParams
) -> tuple[float | None, float | None]:
    """The (low, high) limits beyond which values are extreme; None where there are none."""
    if scale <= 0 or len(values) == 0:
        return None, None
    high = _tail_limit(values - center, scale, len(values), params)
    low = _tail_limit(center - values, scale, len(values), params)
    return (None if low is None else center - low), (None if high is None else center + high)


def _tail_limit(
    deviations: np.ndarray, scale: float, n: int, params: OutOfRangeParams
) -> float | None:
    """The smallest deviation of the isolated top group of one tail, or None."""
    tail = deviations[deviations > 0]
    threshold = params.min_robust_z * scale
    n_candidates = int((tail > threshold).sum())
    if n_candidates == 0:
        return None
    ranks = min(n_candidates, max(1, int(_MAX_TAIL_SHARE * n)))
    reference = min(max(50, ranks), len(tail) - ranks - 1, int(_MAX_REFERENCE_SHARE * len(tail)))
    if reference < _MIN_REFERENCE:
        return None
    size = ranks + reference + 1
    top = np.sort(np.partition(tail, len(tail) - size)[len(tail) - size :])[::-1]
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
