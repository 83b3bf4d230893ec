"""``data.feature_drift``: feature distributions that differ between train and test."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from auditor.checks._common import all_rows_levels, rows_used, status_from
from auditor.checks._timeline import order_column, split_times
from auditor.context import AuditContext
from auditor.errors import InputError
from auditor.registry import CheckOutcome, param, register_check
from auditor.result import Finding, Measurement, Table
from auditor.stats.pvalues import p_equals
from auditor.stats.random import rng_for

CHECK_ID = "data.feature_drift"
# A numeric column with at most this many distinct train values is compared value by value.
MAX_DISCRETE_VALUES = 20
# Quantile bins of a continuous column (fewer for small samples, so bins hold ~25 rows).
N_BINS = 10
# A category is kept apart when it holds this share of either split (and this many rows);
# rarer ones are pooled into one cell.
MIN_LEVEL_SHARE = 0.005
MIN_LEVEL_ROWS = 10
MAX_LEVELS = 100
# Columns with fewer present values than this in a split are not compared.
MIN_VALUES = 20
# Significance level (per column) of the comparison with the latest train rows.
RECENT_ALPHA = 0.01
# A numeric column this rank-correlated with the time order of the train rows follows time.
FOLLOWS_TIME = 0.9
_TIME_PROXY_SAMPLE = 20_000
# Calendar parts: a column named like this drifts by construction in a time-ordered split.
_CALENDAR_WORDS = frozenset(
    {
        "year",
        "yr",
        "month",
        "mth",
        "quarter",
        "qtr",
        "week",
        "weekday",
        "dow",
        "doy",
        "hour",
        "season",
        "vintage",
        "cohort",
    }
)
_LABEL_CHARS = 30
_SEVERITY_RANK = {None: 0, "low": 1, "medium": 2, "high": 3}


@dataclass(frozen=True, slots=True)
class FeatureDriftParams:
    """Thresholds of ``data.feature_drift``.

    Parameters
    ----------
    warn_psi, fail_psi : float, default=0.1, 0.25
        Population stability index that warns / fails.
    warn_ks, fail_ks : float, default=0.15, 0.25
        Kolmogorov-Smirnov statistic (numeric columns) that warns / fails.
    warn_scale_change, fail_scale_change : float, default=0.25, 0.5
        Typical relative change of magnitudes at the same percentiles (continuous columns).
    alpha : float, default=0.0001
        Family-wise significance level (Bonferroni over the compared columns).
    max_rows : int, default=100000
        Rows sampled per split.
    recent_share : float, default=0.25
        Share of the latest train rows also compared with test.
    """

    warn_psi: float = param(
        0.1,
        "Warn when a column's population stability index (PSI) between train and test reaches "
        "this (the industry rule: below 0.1 no real change, 0.1-0.25 moderate).",
        minimum=0,
    )
    fail_psi: float = param(0.25, "Fail when the PSI reaches this (a major shift).", minimum=0)
    warn_ks: float = param(
        0.15,
        "Warn when a numeric column's Kolmogorov-Smirnov statistic (the largest gap between "
        "the two cumulative distributions) reaches this.",
        share=True,
    )
    fail_ks: float = param(
        0.25, "Fail when the Kolmogorov-Smirnov statistic reaches this.", share=True
    )
    warn_scale_change: float = param(
        0.25,
        "Warn when the magnitudes of a continuous column's values at the same percentiles are "
        "typically this much larger (or smaller, by the inverse factor) in test: 0.25 means "
        "x1.25 or /1.25.",
        minimum=0,
    )
    fail_scale_change: float = param(
        0.5, "Fail when that typical relative change reaches this (x1.5 or /1.5).", minimum=0
    )
    alpha: float = param(
        0.0001,
        "Family-wise significance level: a difference must also be significant at alpha "
        "divided by the number of compared columns, so small tables do not flag noise.",
        share=True,
    )
    max_rows: int = param(
        100_000, "Compare seeded random samples of at most this many rows per split.", minimum=1000
    )
    recent_share: float = param(
        0.25,
        "Also compare test with this latest share of the train rows (by the time column, a "
        "date column, or row order) and keep the smaller drift, so a steady trend over the "
        "training period is not mistaken for a shift.",
        share=True,
    )


@register_check(
    CHECK_ID,
    title="Features whose distribution differs between train and test",
    needs=("train",),
    params=FeatureDriftParams,
    rationale=(
        "A model learns the patterns of its training data. When a feature is distributed "
        "differently in the test data (amounts in another currency or unit, a category that "
        "suddenly dominates, a sensor recalibrated), the test score describes a different "
        "population, and production data may differ again. A large shift in one column often "
        "means a processing error rather than a real change."
    ),
    remedy=(
        "Check how the shifted column is produced in each split (units, scaling, category "
        "codes, filters). If the change is real, retrain on recent data, weight recent rows "
        "more, or monitor the feature after deployment."
    ),
)
def feature_drift(ctx: AuditContext, params: FeatureDriftParams) -> CheckOutcome:
    """Compare each feature's distribution in train and test with effect sizes and tests.

    Notes
    -----
    Features exclude the target, ids, entity, group, time and date columns. Missing values
    are left out (``data.missing_values`` compares them). Each split is sampled (seeded) to
    ``max_rows`` rows.

    Effect sizes, each gated by a significance test at ``alpha`` divided by the number of
    compared columns (Bonferroni), so small tables do not flag noise and huge tables do not
    flag trivial differences:

    - **PSI** (population stability index, ``sum((q - p) * ln(q / p))`` over cells, with
      half a row added to every cell) on 10 train-quantile bins of a continuous column, on
      the values of a numeric column with at most 20 distinct values (plus a cell for test
      values never seen in train), or on the categories of a text column (categories below
      0.5% of both splits pooled). Tested with Pearson's chi-squared test on the same cells.
      0.1 and 0.25 are the usual warning and failure levels; they are compared with the PSI
      beyond its sampling bias (two samples of one distribution have an expected PSI of about
      ``(cells - 1) * (1/n_train + 1/n_test)``, 0.04 for 10 cells and 300 test rows).
    - **KS**: the Kolmogorov-Smirnov statistic of a numeric column (asymptotic p-value).
    - **Scale change** (continuous columns): the median over the deciles of the magnitudes
      ``|x|`` of ``log(test decile / train decile)``, reported as a factor; it sees a column
      rescaled by 1.5 whatever its spread, where PSI and KS of a very wide, heavy-tailed
      column barely move. Tested with the Mann-Whitney rank test on the non-zero magnitudes.

    A column warns or fails when any effect reaches its level and is significant. Test is
    compared with all train rows and with the latest ``recent_share`` of them (ordered by
    the time column, the undeclared date column that best separates the splits, or row
    order); the milder of the two comparisons counts (the latest rows lower the level only
    when their difference from test is below the levels or not significant even at 0.01, so
    the lower power of their smaller sample cannot hide a shift on its own), so a steady
    trend across the training period (amounts growing a few percent a year in a
    time-ordered split) is not reported as a shift, while a shift of the test rows shows
    against both. Columns that follow time (Spearman correlation >= 0.9 with the time order
    of the train rows) and calendar parts (``year``, ``month`` ...) differ by construction
    in a time-ordered split: they are reported as information only, unless the time column
    shows that test and train cover the same period.

    With ``--engine dask`` a categorical column, and a numeric column of at most 20
    distinct train values, are compared from every row's value counts (PSI, chi-squared,
    the discrete KS: what the same rows give in memory); a continuous column from every
    row's float bins (PSI in every train row's decile cells snapped to them, the KS, the
    scale change and its rank test of the binned values, within stated bounds); the latest
    train rows and the notes on columns that follow time read the seeded sample.
    """
    if (
        params.warn_psi > params.fail_psi
        or params.warn_ks > params.fail_ks
        or (params.warn_scale_change > params.fail_scale_change)
    ):
        raise InputError(
            f'[checks."{CHECK_ID}"] warning levels must not exceed failure levels; got '
            f"warn_psi={params.warn_psi}, fail_psi={params.fail_psi}, warn_ks={params.warn_ks}, "
            f"fail_ks={params.fail_ks}, warn_scale_change={params.warn_scale_change}, "
            f"fail_scale_change={params.fail_scale_change}."
        )
    train, test = ctx.train, ctx.test
    columns = [c for c in ctx.roles.features if c in test.columns]
    rng = rng_for(ctx.seed, CHECK_ID)
    train_pos = _sample(len(train), params.max_rows, rng)
    test_pos = _sample(len(test), params.max_rows, rng)
    order, order_name, test_later = _time_order(ctx, train_pos, test_pos)
    recent = _recent(order, params.recent_share)
    alpha = params.alpha / max(len(columns), 1)

    results = []
    on_all_rows, compared = [], []
    for column in columns:
        ref = train[column].iloc[train_pos]
        cur = test[column].iloc[test_pos]
        # --engine dask: categorical and discrete columns from every row's value counts.
        counted, full = _compare_all_rows(ctx, column, ref, cur, params, alpha)
        if not counted:
            full = _compare(ref, cur, params, alpha)
        if full is None:
            continue
        compared.append(column)
        chosen = full
        if recent is not None and full.severity is not None:
            # The latest rows lower the level only when their difference from test is smaller
            # or not even nominally significant (at RECENT_ALPHA, not the Bonferroni level): the
            # smaller sample's lower power alone must not hide a shift.
            late = _compare(ref.iloc[recent], cur, params, RECENT_ALPHA)
            if late is not None and _SEVERITY_RANK[late.severity] < _SEVERITY_RANK[full.severity]:
                chosen = dataclasses.replace(late, reference="latest train rows")
        if counted and chosen is full:  # the latest train rows are the sample's
            on_all_rows.append(column)
        note = None
        if chosen.severity is not None and test_later is not False:
            # Only a split known to be random in time makes such a column's drift real.
            note = _by_construction(column, ref, order)
        results.append((column, chosen, note))

    findings = [_finding(column, c, note, params, order_name) for column, c, note in results]
    findings = [f for f in findings if f is not None]
    flagged = [f for f in findings if f.severity != "low"]
    n = len(results)
    if flagged:
        summary = (
            f"{len(flagged)} of {n} features are distributed differently in test than in train "
            f"(PSI >= {params.warn_psi:g}, KS >= {params.warn_ks:g} or values x{1 + params.warn_scale_change:g}, "
            "and significant)."
        )
    else:
        summary = (
            f"No feature's distribution differs between train and test beyond PSI "
            f"{params.warn_psi:g}, KS {params.warn_ks:g} or a scale change of "
            f"x{1 + params.warn_scale_change:g} ({n} features compared"
            + (
                f" on {params.max_rows:,}-row samples"
                if max(len(train), len(test)) > params.max_rows
                else ""
            )
            + ")."
        )
    psis = [c.psi for _, c, _ in results]
    kss = [c.ks for _, c, _ in results if c.ks is not None]
    used = rows_used(ctx, on_all_rows, compared)
    return CheckOutcome(
        status=status_from(findings),
        summary=summary,
        findings=tuple(findings),
        measurements=(
            Measurement("max_psi", max(psis) if psis else 0.0, greater_is_better=False),
            Measurement(
                "max_ks", max(kss) if kss else 0.0, greater_is_better=False, note=_ks_note(results)
            ),
            Measurement("n_drifted_features", float(len(flagged)), greater_is_better=False),
            *(() if used is None else (used,)),
        ),
        tables=(
            Table(
                "drift_by_feature",
                "Drift by feature (test against train)",
                (
                    "column",
                    "kind",
                    "compared_with",
                    "psi",
                    "ks",
                    "scale_factor",
                    "p_value",
                    "result",
                ),
                tuple(
                    (
                        column,
                        c.kind,
                        c.reference,
                        round(c.psi, 4),
                        None if c.ks is None else round(c.ks, 4),
                        None if c.scale is None else round(float(np.exp(c.scale)), 4),
                        c.p_value,
                        "info" if note and c.severity else (c.severity or "ok"),
                    )
                    for column, c, note in results
                ),
            ),
        ),
    )


@dataclass(frozen=True, slots=True)
class Comparison:
    """Effect sizes of one column between a reference sample and the test sample."""

    kind: str
    psi: float
    psi_p: float
    ks: float | None
    ks_p: float | None
    scale: float | None  # median log ratio of deciles
    severity: str | None  # the worst level reached by a significant effect
    reason: str  # which effect reached it
    reference: str = "all train rows"
    n_ref: int = 0
    n_cur: int = 0
    level: tuple | None = None  # (label, train share, test share) of the most changed category
    signed: bool = False  # the scale change is of magnitudes |x| (a column with negative values)
    scale_p: float | None = None
    psi_bias: float = 0.0  # PSI expected from sampling alone (see ``_psi``)
    ks_bound: float | None = None  # --engine dask: binned KS, at most this below the raw one

    @property
    def p_value(self) -> float:
        """The smallest p-value of the tests run (chi-squared on cells, KS, rank test)."""
        return min(p for p in (self.psi_p, self.ks_p, self.scale_p) if p is not None)


def _compare(
    ref: pd.Series, cur: pd.Series, params: FeatureDriftParams, alpha: float
) -> Comparison | None:
    numeric = pd.api.types.is_numeric_dtype(ref.dtype) and not pd.api.types.is_bool_dtype(ref.dtype)
    if (
        numeric
        and pd.api.types.is_numeric_dtype(cur.dtype)
        and not pd.api.types.is_bool_dtype(cur.dtype)
    ):
        a = ref.to_numpy(dtype=float, na_value=np.nan)
        b = cur.to_numpy(dtype=float, na_value=np.nan)
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        if a.size < MIN_VALUES or b.size < MIN_VALUES:
            return None
        return _compare_numbers(a, b, params, alpha)
    a, b = ref.dropna(), cur.dropna()
    if len(a) < MIN_VALUES or len(b) < MIN_VALUES:
        return None
    return _compare_levels(a, b, params, alpha)


def _compare_numbers(a: np.ndarray, b: np.ndarray, params, alpha) -> Comparison:
    distinct = np.unique(a)
    if distinct.size <= MAX_DISCRETE_VALUES:
        kind = "discrete"
        code_a = np.searchsorted(distinct, a)
        pos = np.minimum(np.searchsorted(distinct, b), distinct.size - 1)
        code_b = np.where(distinct[pos] == b, pos, distinct.size)  # unseen values: last cell
        n_cells = distinct.size + 1
    else:
        kind = "continuous"
        bins = int(min(N_BINS, max(2, min(a.size, b.size) // 25)))
        edges = np.unique(np.quantile(a, np.linspace(0, 1, bins + 1)[1:-1]))
        code_a = np.searchsorted(edges, a, side="right")
        code_b = np.searchsorted(edges, b, side="right")
        n_cells = edges.size + 1
    psi, psi_p, bias = _psi(
        np.bincount(code_a, minlength=n_cells), np.bincount(code_b, minlength=n_cells)
    )
    ks, ks_p = _ks(a, b)
    scale = _scale(a, b) if kind == "continuous" else None
    scale_p = _scale_p(a, b, scale, params)
    severity, reason = _severity(psi - bias, psi_p, ks, ks_p, scale, scale_p, params, alpha)
    return Comparison(
        kind,
        psi,
        psi_p,
        ks,
        ks_p,
        scale,
        severity,
        reason,
        n_ref=a.size,
        n_cur=b.size,
        signed=bool(a.min() < 0),
        scale_p=scale_p,
        psi_bias=bias,
    )


def _compare_all_rows(
    ctx, column: str, ref: pd.Series, cur: pd.Series, params, alpha
) -> tuple[bool, Comparison | None]:
    """``--engine dask``: the comparison of every row: a text, category or boolean
    column, and a numeric one of at most ``MAX_DISCRETE_VALUES`` train values, from the
    value counts, as ``_compare`` computes it from the same rows; a continuous column from
    its float bins (``_compare_binned``). ``(False, None)`` when the counts were not kept:
    the column then reads the sample."""
    if ctx.all_rows is None:
        return False, None
    numeric = all(
        pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)
        for s in (ref, cur)
    )
    if numeric:
        return _compare_numbers_all_rows(ctx, column, ref, cur, params, alpha)
    levels = all_rows_levels(ctx, column)
    if levels is None:
        return False, None
    a, b = levels["train"], levels["test"]
    if a.sum() < MIN_VALUES or b.sum() < MIN_VALUES:
        return True, None
    table = pd.concat([a.rename("a"), b.rename("b")], axis=1).fillna(0)
    return True, _levels_comparison(
        table["a"].to_numpy(np.int64),
        table["b"].to_numpy(np.int64),
        np.asarray(table.index, dtype=object),
        params,
        alpha,
    )


def _compare_numbers_all_rows(
    ctx, column: str, ref: pd.Series, cur: pd.Series, params, alpha
) -> tuple[bool, Comparison | None]:
    """A numeric column on every row: discrete (at most ``MAX_DISCRETE_VALUES`` train
    values) from the value counts, exactly; continuous from the float bins."""
    a = ctx.all_rows.levels.get("train", {}).get(column)
    values_a, counts_a = (None, None) if a is None else _finite_counts(a)
    if values_a is None or values_a.size > MAX_DISCRETE_VALUES:
        sample_a = ref.to_numpy(dtype=float, na_value=np.nan)
        sample_b = cur.to_numpy(dtype=float, na_value=np.nan)
        return _compare_binned(
            ctx,
            column,
            sample_a[np.isfinite(sample_a)],
            sample_b[np.isfinite(sample_b)],
            params,
            alpha,
        )
    b = ctx.all_rows.levels.get("test", {}).get(column)
    if b is None:
        return False, None  # test values not counted: the unseen ones cannot be told apart
    values_b, counts_b = _finite_counts(b)
    if counts_a.sum() < MIN_VALUES or counts_b.sum() < MIN_VALUES:
        return True, None
    pos = np.minimum(np.searchsorted(values_a, values_b), values_a.size - 1)
    code_b = np.where(values_a[pos] == values_b, pos, values_a.size)  # unseen: last cell
    cells_a = np.append(counts_a, 0)
    cells_b = np.bincount(code_b, weights=counts_b, minlength=values_a.size + 1).astype(np.int64)
    psi, psi_p, bias = _psi(cells_a, cells_b)
    ks, ks_p = _ks_counts(values_a, counts_a, values_b, counts_b)
    severity, reason = _severity(psi - bias, psi_p, ks, ks_p, None, None, params, alpha)
    return True, Comparison(
        "discrete",
        psi,
        psi_p,
        ks,
        ks_p,
        None,
        severity,
        reason,
        n_ref=int(counts_a.sum()),
        n_cur=int(counts_b.sum()),
        signed=bool(values_a.min() < 0),
        psi_bias=bias,
    )


def _finite_counts(counts: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A numeric column's distinct finite values (increasing, as floats) and their rows."""
    values = np.asarray(counts.index.to_numpy(), dtype=float)
    rows = counts.to_numpy(np.int64)
    keep = np.isfinite(values) & (rows > 0)
    merged = pd.Series(rows[keep]).groupby(values[keep]).sum()  # 1 and 1.0 are one value
    return merged.index.to_numpy(dtype=float), merged.to_numpy(np.int64)


def _ks_counts(
    values_a: np.ndarray, counts_a: np.ndarray, values_b: np.ndarray, counts_b: np.ndarray
) -> tuple[float, float]:
    """``_ks`` of the rows these distinct values and counts stand for, exactly: the
    empirical distribution functions are compared at every distinct value."""
    grid = np.union1d(values_a, values_b)
    n_a, n_b = int(counts_a.sum()), int(counts_b.sum())
    cdf_a = np.cumsum(np.bincount(np.searchsorted(grid, values_a), counts_a, grid.size))
    cdf_b = np.cumsum(np.bincount(np.searchsorted(grid, values_b), counts_b, grid.size))
    d = float(np.abs(np.rint(cdf_a) / n_a - np.rint(cdf_b) / n_b).max())
    en = np.sqrt(n_a * n_b / (n_a + n_b))
    return d, float(stats.kstwobign.sf(d * en))


def _ks_note(results: list) -> str | None:
    """``--engine dask``: how far the binned KS of continuous columns is from the raw one."""
    bounds = [c.ks_bound for _, c, _ in results if c.ks_bound is not None]
    if not bounds:
        return None
    return (
        f"continuous columns on every row: KS of values in bins of 1/256 of a power of two, "
        f"at most {max(bounds):.1e} below the raw values' KS"
    )


def _tests_scale(scale: float | None, params) -> bool:
    """Whether a scale change reaches the warning level, and so gets its rank test."""
    return scale is not None and np.exp(abs(scale)) - 1.0 >= params.warn_scale_change


def _scale_p(a: np.ndarray, b: np.ndarray, scale: float | None, params) -> float | None:
    """The rank test of a scale change that reaches the warning level; None otherwise."""
    if not _tests_scale(scale, params):
        return None
    # Rescaling shifts log|x|: a rank test on the magnitudes is the powerful test here.
    # Zeros stay zeros under rescaling (their share is PSI's business): left out.
    mag_a, mag_b = np.abs(a[a != 0]), np.abs(b[b != 0])
    if mag_a.size < MIN_VALUES or mag_b.size < MIN_VALUES:
        return None
    return float(
        stats.mannwhitneyu(mag_a, mag_b, alternative="two-sided", method="asymptotic").pvalue
    )


def _compare_binned(
    ctx, column: str, a: np.ndarray, b: np.ndarray, params, alpha
) -> tuple[bool, Comparison | None]:
    """``--engine dask``, a continuous column: PSI and KS of every row from the float
    bins (``partials.float_bins``) of each split; ``a``/``b`` the samples' finite values.

    PSI: the cells are cut at every train row's quantile edges (as in memory), each
    snapped to the float bin that holds it (found from the train histogram), so the counts
    are every row's in those cells.
    KS: the distribution functions compared at the float bins' ends (the KS of the binned
    values, at most the raw one's); ``ks_bound`` is how far above it the raw KS can be.
    Scale change: the deciles of |x| of every row cut to its float bin, each within 1/256
    of the raw decile, so the factor is within a factor 1.004 of the raw one's; its rank
    test is Mann-Whitney's on every row's magnitudes cut alike (``_rank_test_binned``)."""
    from auditor.engine.partitioned.partials import float_bins, histogram_quantile_bins

    full = ctx.all_rows
    hist_a = full.histograms.get("train", {}).get(column)
    hist_b = full.histograms.get("test", {}).get(column)
    if hist_a is None or hist_b is None or a.size < MIN_VALUES or b.size < MIN_VALUES:
        return False, None
    keys_a, rows_a = hist_a.index.to_numpy(np.int64), hist_a.to_numpy(np.int64)
    keys_b, rows_b = hist_b.index.to_numpy(np.int64), hist_b.to_numpy(np.int64)
    n_a, n_b = int(rows_a.sum()), int(rows_b.sum())
    if n_a < MIN_VALUES or n_b < MIN_VALUES:
        return True, None
    bins = int(min(N_BINS, max(2, min(n_a, n_b) // 25)))
    cut = np.unique(histogram_quantile_bins(keys_a, rows_a, np.linspace(0, 1, bins + 1)[1:-1]))

    def cells(keys: np.ndarray, rows: np.ndarray) -> np.ndarray:
        code = np.searchsorted(cut, keys, side="right")
        return np.bincount(code, weights=rows, minlength=cut.size + 1).astype(np.int64)

    psi, psi_p, bias = _psi(cells(keys_a, rows_a), cells(keys_b, rows_b))
    ks, ks_p, bound = _ks_binned(keys_a, rows_a, keys_b, rows_b)
    scale = _scale_of(_binned_deciles(keys_a, rows_a), _binned_deciles(keys_b, rows_b))
    scale_p = (
        _rank_test_binned(keys_a, rows_a, keys_b, rows_b) if _tests_scale(scale, params) else None
    )
    severity, reason = _severity(psi - bias, psi_p, ks, ks_p, scale, scale_p, params, alpha)
    return True, Comparison(
        "continuous",
        psi,
        psi_p,
        ks,
        ks_p,
        scale,
        severity,
        reason,
        n_ref=n_a,
        n_cur=n_b,
        signed=bool(keys_a[0] < float_bins(np.zeros(1))[0]),
        scale_p=scale_p,
        psi_bias=bias,
        ks_bound=bound,
    )


def _rank_test_binned(
    keys_a: np.ndarray, rows_a: np.ndarray, keys_b: np.ndarray, rows_b: np.ndarray
) -> float | None:
    """``_scale_p``'s test on every row: Mann-Whitney's two-sided asymptotic p-value of the
    non-zero magnitudes |x| cut to their float bins (``partials.float_bin_values``), from
    the bins' counts; scipy's ``mannwhitneyu`` of the cut values (midranks, the
    tie-corrected variance, the continuity correction), to float rounding.

    Values of one magnitude bin (relative width 1/256) are tied: U moves by at most half
    the (train, test) pairs sharing a bin, against the raw values' U. None below
    ``MIN_VALUES`` non-zero values in either split.
    """
    from scipy import special

    from auditor.engine.partitioned.partials import float_bin_values

    def per_magnitude(keys: np.ndarray, rows: np.ndarray) -> pd.Series:
        return pd.Series(rows).groupby(np.abs(float_bin_values(keys))).sum()

    table = pd.concat(
        [per_magnitude(keys_a, rows_a).rename("a"), per_magnitude(keys_b, rows_b).rename("b")],
        axis=1,
    ).fillna(0)
    table = table.loc[table.index != 0].sort_index()  # zeros stay zeros under rescaling
    a, b = table["a"].to_numpy(float), table["b"].to_numpy(float)
    n_a, n_b = a.sum(), b.sum()
    if n_a < MIN_VALUES or n_b < MIN_VALUES:
        return None
    u_a = float(a @ (np.cumsum(b) - 0.5 * b))  # per train value: test values below, half the ties
    tied, n = a + b, n_a + n_b
    sd = np.sqrt(n_a * n_b / 12 * ((n + 1) - float(np.sum(tied**3 - tied)) / (n * (n - 1))))
    z = (max(u_a, n_a * n_b - u_a) - n_a * n_b / 2 - 0.5) / sd
    return float(np.clip(2 * special.ndtr(-z), 0.0, 1.0))


def _binned_deciles(keys: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``np.quantile(|x|, deciles)`` of the values cut to their float bins
    (``partials.float_bin_values``), from the bins' counts; each within 1/256 below the
    raw values' decile (cutting the mantissa is monotone and shrinks |x| by at most that)."""
    from auditor.engine.partitioned.partials import counted_quantile, float_bin_values

    magnitude = pd.Series(rows).groupby(np.abs(float_bin_values(keys))).sum()
    return counted_quantile(magnitude.index.to_numpy(dtype=float), magnitude.to_numpy(), _DECILES)


def _ks_binned(
    keys_a: np.ndarray, rows_a: np.ndarray, keys_b: np.ndarray, rows_b: np.ndarray
) -> tuple[float, float, float]:
    """KS statistic of binned values (keys increasing with the value), its asymptotic
    p-value, and how much larger the raw values' KS can be: inside a bin each distribution
    function moves from its value at the previous bin's end to its value at this one's."""
    grid = np.union1d(keys_a, keys_b)
    n_a, n_b = int(rows_a.sum()), int(rows_b.sum())
    cdf_a = np.cumsum(np.bincount(np.searchsorted(grid, keys_a), rows_a, grid.size)) / n_a
    cdf_b = np.cumsum(np.bincount(np.searchsorted(grid, keys_b), rows_b, grid.size)) / n_b
    d = float(np.abs(cdf_a - cdf_b).max())
    before_a, before_b = np.r_[0.0, cdf_a[:-1]], np.r_[0.0, cdf_b[:-1]]
    high = float(np.maximum(cdf_a - before_b, cdf_b - before_a).max())
    en = np.sqrt(n_a * n_b / (n_a + n_b))
    return d, float(stats.kstwobign.sf(d * en)), max(high - d, 0.0)


def _compare_levels(a: pd.Series, b: pd.Series, params, alpha) -> Comparison:
    codes, uniques = pd.factorize(
        pd.concat([a.astype(object), b.astype(object)], ignore_index=True), use_na_sentinel=True
    )
    ca, cb = codes[: len(a)], codes[len(a) :]
    n_levels = len(uniques)
    count_a = np.bincount(ca, minlength=n_levels)
    count_b = np.bincount(cb, minlength=n_levels)
    return _levels_comparison(count_a, count_b, uniques, params, alpha)


def _levels_comparison(
    count_a: np.ndarray, count_b: np.ndarray, uniques, params, alpha
) -> Comparison:
    """The comparison of a categorical column from its rows per level in each split."""
    n_a, n_b = int(count_a.sum()), int(count_b.sum())
    n_levels = len(uniques)
    share_a, share_b = count_a / n_a, count_b / n_b
    keep = ((share_a >= MIN_LEVEL_SHARE) | (share_b >= MIN_LEVEL_SHARE)) & (
        count_a + count_b >= MIN_LEVEL_ROWS
    )
    kept = np.flatnonzero(keep)
    if kept.size > MAX_LEVELS:
        kept = kept[np.argsort(-(share_a + share_b)[kept], kind="stable")[:MAX_LEVELS]]
    cell = np.full(n_levels, kept.size, dtype=np.int64)  # pooled cell last
    cell[kept] = np.arange(kept.size)
    cells_a = np.bincount(cell, weights=count_a, minlength=kept.size + 1).astype(np.int64)
    cells_b = np.bincount(cell, weights=count_b, minlength=kept.size + 1).astype(np.int64)
    psi, psi_p, bias = _psi(cells_a, cells_b)
    severity, reason = _severity(psi - bias, psi_p, None, None, None, None, params, alpha)
    level = None
    if kept.size:
        gaps = np.abs(share_b[kept] - share_a[kept])
        top = kept[int(np.argmax(gaps))]
        level = (_label(uniques[top]), float(share_a[top]), float(share_b[top]))
    return Comparison(
        "categorical",
        psi,
        psi_p,
        None,
        None,
        None,
        severity,
        reason,
        n_ref=n_a,
        n_cur=n_b,
        level=level,
        psi_bias=bias,
    )


def _psi(count_a: np.ndarray, count_b: np.ndarray) -> tuple[float, float, float]:
    """PSI (half a row added per cell), the chi-squared p-value, and PSI's sampling bias.

    Over the non-empty cells. Two samples of one distribution have an expected PSI of about
    ``(cells - 1) * (1/n_a + 1/n_b)``, not zero; that bias is returned so the levels can be
    compared with the PSI beyond it.
    """
    used = (count_a + count_b) > 0
    count_a, count_b = count_a[used].astype(float), count_b[used].astype(float)
    if count_a.size < 2:
        return 0.0, 1.0, 0.0
    n_a, n_b = count_a.sum(), count_b.sum()
    p = (count_a + 0.5) / (n_a + 0.5 * count_a.size)
    q = (count_b + 0.5) / (n_b + 0.5 * count_b.size)
    psi = float(np.sum((q - p) * np.log(q / p)))
    total = count_a + count_b
    expected_a = total * n_a / (n_a + n_b)
    expected_b = total * n_b / (n_a + n_b)
    chi2 = float(
        np.sum((count_a - expected_a) ** 2 / expected_a + (count_b - expected_b) ** 2 / expected_b)
    )
    bias = (count_a.size - 1) * (1.0 / n_a + 1.0 / n_b)
    return psi, float(stats.chi2.sf(chi2, count_a.size - 1)), float(bias)


def _ks(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    sa, sb = np.sort(a), np.sort(b)
    grid = np.concatenate([sa, sb])
    gap = np.abs(
        np.searchsorted(sa, grid, side="right") / sa.size
        - np.searchsorted(sb, grid, side="right") / sb.size
    )
    d = float(gap.max())
    en = np.sqrt(sa.size * sb.size / (sa.size + sb.size))
    return d, float(stats.kstwobign.sf(d * en))


def _scale(a: np.ndarray, b: np.ndarray) -> float | None:
    """Median log ratio of test to train deciles of the magnitudes ``|x|``; None if undefined.

    Rescaling a column by ``k`` multiplies every decile of ``|x|`` by ``k``, whatever the
    column's spread or sign; deciles that are zero in either split (zero-inflated columns)
    are skipped, and at least five must remain.
    """
    qa, qb = np.quantile(np.abs(a), _DECILES), np.quantile(np.abs(b), _DECILES)
    return _scale_of(qa, qb)


_DECILES = np.linspace(0.1, 0.9, 9)


def _scale_of(qa: np.ndarray, qb: np.ndarray) -> float | None:
    """``_scale`` from the deciles of the magnitudes in train (``qa``) and test (``qb``)."""
    valid = (qa > 0) & (qb > 0)
    if valid.sum() < 5:
        return None
    return float(np.median(np.log(qb[valid] / qa[valid])))


def _severity(psi, psi_p, ks, ks_p, scale, scale_p, params, alpha) -> tuple[str | None, str]:
    """The worst level reached by a significant effect, and which effect reached it."""
    checks = [("PSI", psi, psi_p, params.warn_psi, params.fail_psi)]
    if ks is not None:
        checks.append(("KS", ks, ks_p, params.warn_ks, params.fail_ks))
    if scale is not None:
        change = float(np.exp(abs(scale)) - 1.0)
        checks.append(
            ("scale change", change, scale_p, params.warn_scale_change, params.fail_scale_change)
        )
    best: tuple[str | None, str] = (None, "")
    for name, value, p_value, warn, fail in checks:
        if p_value is None or p_value >= alpha:
            continue
        level = "high" if value >= fail else ("medium" if value >= warn else None)
        if _SEVERITY_RANK[level] > _SEVERITY_RANK[best[0]]:
            best = (level, name)
    return best


def _sample(n: int, max_rows: int, rng: np.random.Generator) -> np.ndarray:
    if n <= max_rows:
        return np.arange(n)
    return np.sort(rng.choice(n, size=max_rows, replace=False))


def _time_order(
    ctx, train_pos: np.ndarray, test_pos: np.ndarray
) -> tuple[np.ndarray, str, bool | None]:
    """A time key for the sampled train rows, what it is, and whether test comes later.

    The key is the time column (declared, or the undeclared date that best separates the
    splits) or, without one, the row order; NaN where a time is missing. The last value is
    True when most test rows are later than 90% of the train rows, False when they are not,
    and None when no time column is known.
    """
    column = order_column(ctx, ctx.train, ctx.test)
    if column is not None:
        read = split_times(ctx, column)
        if read is not None:
            times = read[0].values[train_pos]
            if np.isfinite(times).mean() >= 0.5:
                test_times = read[1].values[test_pos]
                test_times = test_times[np.isfinite(test_times)]
                later = None
                if test_times.size:
                    cut = np.quantile(times[np.isfinite(times)], 0.9)
                    later = bool(np.mean(test_times >= cut) >= 0.5)
                return times, f"by {column!r}", later
    return train_pos.astype(float), "in file order", None


def _recent(order: np.ndarray, share: float) -> np.ndarray | None:
    """Positions (within the sample) of the latest ``share`` of the train rows."""
    known = np.isfinite(order)
    if share <= 0 or share >= 1 or known.sum() < 2 * MIN_VALUES / share:
        return None
    cut = np.quantile(order[known], 1.0 - share)
    picked = np.flatnonzero(known & (order >= cut))
    return picked if MIN_VALUES <= picked.size < order.size else None


def _by_construction(column: str, ref: pd.Series, order: np.ndarray) -> str | None:
    """Why the column differs by construction in a time-ordered split, or None."""
    words = set(re.split(r"[^a-z0-9]+", re.sub(r"(?<=[a-z])(?=[A-Z])", "_", str(column)).lower()))
    if words & _CALENDAR_WORDS:
        return "it is named like a calendar part, which differs by construction between periods"
    if not pd.api.types.is_numeric_dtype(ref.dtype) or pd.api.types.is_bool_dtype(ref.dtype):
        return None
    values = ref.to_numpy(dtype=float, na_value=np.nan)
    ok = np.isfinite(values) & np.isfinite(order)
    if ok.sum() < MIN_VALUES:
        return None
    idx = np.flatnonzero(ok)
    if idx.size > _TIME_PROXY_SAMPLE:
        idx = idx[np.linspace(0, idx.size - 1, _TIME_PROXY_SAMPLE).astype(np.intp)]
    rho = stats.spearmanr(values[idx], order[idx]).statistic
    if np.isfinite(rho) and abs(rho) >= FOLLOWS_TIME:
        return f"it follows time (Spearman {rho:.2f} with the time order of the train rows)"
    return None


def _finding(column, c: Comparison, note, params, order_name) -> Finding | None:
    if c.severity is None:
        return None
    effects = [f"PSI {c.psi:.3f}"]
    if c.psi_bias >= 0.005:
        effects[0] += f" ({max(c.psi - c.psi_bias, 0.0):.3f} beyond sampling noise)"
    if c.ks is not None:
        effects.append(f"KS {c.ks:.3f}")
    if c.scale is not None:
        noun = "magnitudes" if c.signed else "values"
        effects.append(f"{noun} x{np.exp(c.scale):.2f} at the same percentiles")
    what = ", ".join(effects)
    detail = ""
    if c.level is not None:
        label, before, after = c.level
        detail = f"; the share of {label} moves from {before:.1%} in train to {after:.1%} in test"
    against = (
        "all train rows"
        if c.reference == "all train rows"
        else f"the latest {params.recent_share:.0%} of train rows ({order_name})"
    )
    levels = (
        f"warn at PSI {params.warn_psi:g}"
        + (f" or KS {params.warn_ks:g}" if c.ks is not None else "")
        + (f" or x{1 + params.warn_scale_change:g}" if c.scale is not None else "")
        + f", fail at PSI {params.fail_psi:g}"
        + (f" or KS {params.fail_ks:g}" if c.ks is not None else "")
        + (f" or x{1 + params.fail_scale_change:g}" if c.scale is not None else "")
    )
    p_value = c.p_value
    evidence = {
        "kind": c.kind,
        "reached_by": c.reason,
        "psi": round(c.psi, 6),
        "psi_sampling_bias": round(c.psi_bias, 6),
        "ks": None if c.ks is None else round(c.ks, 6),
        "scale_factor": None if c.scale is None else round(float(np.exp(c.scale)), 6),
        "p_value": p_value,
        "compared_with": c.reference,
        "train_rows": c.n_ref,
        "test_rows": c.n_cur,
        "warn_psi": params.warn_psi,
        "fail_psi": params.fail_psi,
    }
    if note is not None:
        return Finding(
            "differs_by_construction",
            "low",
            f"{column!r} differs between train and test ({what}{detail}), as expected: {note}.",
            (column,),
            evidence,
        )
    return Finding(
        "distribution_shift",
        c.severity,
        f"{column!r} is distributed differently in test than in {against} ({what}{detail}; "
        f"{p_equals('p', p_value)}; {levels}).",
        (column,),
        evidence,
    )


def _label(value) -> str:
    text = repr(value.item() if hasattr(value, "item") else value)
    return text if len(text) <= _LABEL_CHARS else text[: _LABEL_CHARS - 1] + "…"
