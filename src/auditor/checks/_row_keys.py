"""Row keys that compare rows *across* splits: exact copies and near copies.

Each row of train and test gets 64-bit keys computed from its values only, so the keys of
the two splits are comparable whatever the storage types of each file:

- the **exact** key: every value as it is; numbers compare as numbers across files (a column
  read as ``float`` because it has a missing value still equals the ``int`` column of the
  other file), but a column of whole numbers stored as integers in one split and as decimals
  in the other (without missing values to explain it) is a change of type: no row is then
  an exact copy, and the copies are near copies;
- the **near** keys, one per rounding level (2, 3 and 4 decimals): numbers rounded (so a
  value rounded to 2, 3 or 4 decimals, or moved by 1e-9, keeps its key at that level),
  numbers written as text read as numbers, text stripped, lower-cased, inner whitespace
  collapsed. A row rounded to ``k`` decimals matches its original at level ``k`` exactly,
  which a single coarse grid cannot promise (a value near a grid boundary would fall on
  the other side).

Keys are mixed column by column with the splitmix64 finaliser; a collision of two 64-bit
keys among a million rows has a probability of about 1e-8.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from auditor.checks._common import row_content_columns
from auditor.engine.row_keys import GOLDEN as _GOLDEN
from auditor.engine.row_keys import MISSING as _MISSING
from auditor.engine.row_keys import TAG_INT as _TAG_INT
from auditor.engine.row_keys import as_text as _as_text
from auditor.engine.row_keys import is_number as _is_number
from auditor.engine.row_keys import is_numeric_dtype as _is_numeric_dtype
from auditor.engine.row_keys import mix
from auditor.engine.row_keys import number_codes as _number_codes
from auditor.engine.row_keys import text_codes as _text_codes

NEAR_DECIMALS = (2, 3, 4)
# Train rows (evenly spaced) on which per-column agreement rates are measured.
_AGREEMENT_SAMPLE = 50_000


@dataclass(frozen=True, slots=True)
class SplitKeys:
    """Keys of one split: ``exact`` and one array per level of ``NEAR_DECIMALS``."""

    exact: np.ndarray
    near: tuple[np.ndarray, ...]


@dataclass(frozen=True, slots=True)
class RowKeys:
    """Comparable row keys of train and test over ``columns``.

    ``retyped`` lists the columns whose whole numbers are integers in one split and
    decimals in the other (so exact keys never match; near keys do). ``chance_exact`` and
    ``chance_near`` estimate the probability that a row drawn like the train rows matches
    some train row (exactly, or at some rounding level) if columns were independent:
    ``1 - (1 - a)**n_train`` where ``a`` is the product over columns of the probability that
    two train rows agree on the column (measured on an evenly spaced sample of train rows).
    """

    columns: tuple[str, ...]
    train: SplitKeys
    test: SplitKeys
    retyped: tuple[str, ...]
    chance_exact: float = 0.0
    chance_near: float = 0.0
    # The probability that two train rows agree on every column (exact): ``chance_exact``
    # is ``1 - (1 - agreement_exact)**n_train``, to be rescaled to another number of rows.
    agreement_exact: float = 0.0


def key_columns(ctx) -> list[str]:
    """The feature columns rows are compared on: features minus undeclared row identifiers.

    The target, ids (declared or inferred), entity, group, time and date columns are not
    features. A column unique on every train row and holding no floats (a reference number
    nobody declared) is left out too: a copied row with a new reference is still a copy.
    """
    train, test = ctx.train, ctx.test
    content = set(row_content_columns(ctx, train, with_target=False))
    return [c for c in ctx.roles.features if c in content and c in test.columns]


def row_keys(ctx) -> RowKeys:
    """Exact and near keys of every train and test row (computed once per audit)."""
    return ctx.memoized("leakage.row_keys", lambda: _row_keys(ctx))


def _row_keys(ctx) -> RowKeys:
    columns = key_columns(ctx)
    frames = {"train": ctx.train, "test": ctx.test}
    levels = 1 + len(NEAR_DECIMALS)
    keys = {
        name: [np.zeros(len(f), np.uint64) for _ in range(levels)] for name, f in frames.items()
    }
    n_train = len(ctx.train)
    sample = np.unique(np.linspace(0, n_train - 1, min(n_train, _AGREEMENT_SAMPLE)).astype(np.intp))
    agreement = np.ones(levels)
    retyped = []
    for j, column in enumerate(columns):
        salt = mix(np.array([j + 1], dtype=np.uint64) * _GOLDEN)[0]
        is_retyped = _retyped(frames["train"][column], frames["test"][column])
        if is_retyped:
            retyped.append(column)
        for name, frame in frames.items():
            codes = column_codes(frame[column], retype_tag=is_retyped and name == "test")
            mixed: dict[int, np.ndarray] = {}  # levels often share one array (whole numbers)
            rates: dict[int, float] = {}
            for level, code in enumerate(codes):
                if id(code) not in mixed:
                    mixed[id(code)] = mix(code ^ salt)
                    if name == "train":
                        rates[id(code)] = _pair_agreement(code[sample])
                keys[name][level] = mix(keys[name][level] ^ mixed[id(code)])
                if name == "train":
                    agreement[level] *= rates[id(code)]
    # A row matches one of n_train independent rows with probability 1 - (1 - a)^n_train.
    chance = -np.expm1(n_train * np.log1p(-np.minimum(agreement, 1.0 - 1e-16)))
    return RowKeys(
        tuple(columns),
        SplitKeys(keys["train"][0], tuple(keys["train"][1:])),
        SplitKeys(keys["test"][0], tuple(keys["test"][1:])),
        tuple(retyped),
        chance_exact=float(chance[0]),
        chance_near=float(chance[1:].max()) if levels > 1 else float(chance[0]),
        agreement_exact=float(agreement[0]),
    )


def chance_for_rows(agreement: float, n_train: int) -> float:
    """``1 - (1 - agreement)**n_train``: a row matches one of ``n_train`` independent rows."""
    return float(-np.expm1(n_train * np.log1p(-min(agreement, 1.0 - 1e-16))))


def _pair_agreement(codes: np.ndarray) -> float:
    """The share of pairs of ``codes`` that are equal (unbiased: a row is not its own pair)."""
    m = codes.size
    if m < 2:
        return 1.0
    _, counts = np.unique(codes, return_counts=True)
    counts = counts.astype(float)
    return float(np.sum(counts * (counts - 1)) / (m * (m - 1.0)))


def _retyped(train: pd.Series, test: pd.Series) -> bool:
    """Whether one split stores the column as integers and the other as decimals.

    A decimal column with a missing value is how a CSV reader stores an integer column with
    a gap: that explains the type, and is not a change of type.
    """
    kinds = {train.dtype.kind, test.dtype.kind}
    if not (kinds & set("iu")) or "f" not in kinds:
        return False
    decimal = train if train.dtype.kind == "f" else test
    return not bool(decimal.isna().any())


def column_codes(series: pd.Series, *, retype_tag: bool = False) -> list[np.ndarray]:
    """Per-row 64-bit codes of one column: ``[exact, near at each NEAR_DECIMALS]``.

    ``retype_tag`` marks the exact codes of a split whose number type differs from the
    other split's, so that no exact match is possible on this column.
    """
    dtype = series.dtype
    if _is_numeric_dtype(dtype):
        values = series.to_numpy(dtype=float, na_value=np.nan)
        exact = _number_codes(values)
        if retype_tag:
            exact = exact ^ _TAG_INT
        whole = np.isnan(values) | (values == np.round(values))
        if whole.all():
            return [exact] + [_number_codes(values)] * len(NEAR_DECIMALS)
        return [exact] + [_number_codes(np.round(values, k)) for k in NEAR_DECIMALS]
    if pd.api.types.is_datetime64_any_dtype(dtype):
        values = series.to_numpy(dtype="datetime64[ns]").astype(np.int64).view(np.uint64)
        code = np.where(series.isna().to_numpy(), _MISSING, values ^ _TAG_INT)
        return [code] * (1 + len(NEAR_DECIMALS))
    return _level_codes(series)


def _level_codes(series: pd.Series) -> list[np.ndarray]:
    """Codes of a text, boolean, categorical or mixed column, computed on its distinct values."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    values = pd.Series(np.asarray(uniques, dtype=object), dtype=object)
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        is_number = np.zeros(len(values), dtype=bool)
        is_text = np.ones(len(values), dtype=bool)
    else:
        is_number = values.map(_is_number).to_numpy(dtype=bool)
        is_text = values.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
    numbers = np.full(len(values), np.nan)
    if is_number.any():
        numbers[is_number] = values[is_number].astype(float).to_numpy()

    # Exact: numbers by their float bits (3 == 3.0), anything else by its type and text.
    exact = np.empty(len(values), dtype=np.uint64)
    exact[is_number] = _number_codes(numbers[is_number])
    if (~is_number).any():
        exact[~is_number] = _text_codes(values[~is_number].map(_as_text))

    # Near: text cleaned (spaces, case), numbers written as text read as numbers.
    canonical = values.map(_as_text)
    if is_text.any():
        cleaned = values[is_text].astype(str).str.split().str.join(" ").str.lower()
        parsed = pd.to_numeric(cleaned, errors="coerce").to_numpy(
            dtype=float, na_value=np.nan, copy=True
        )
        parsed[np.isinf(parsed)] = np.nan  # 'inf' is a word here, not a number
        numbers[is_text] = parsed
        canonical[is_text] = "str:" + cleaned
    numeric = ~np.isnan(numbers)
    text_codes = _text_codes(canonical)
    near = [
        np.where(numeric, _number_codes(np.round(numbers, k)), text_codes) for k in NEAR_DECIMALS
    ]

    def per_row(levels: np.ndarray) -> np.ndarray:
        return np.append(levels, _MISSING)[codes]  # code -1 (missing) reads the last entry

    return [per_row(exact)] + [per_row(level) for level in near]


# --- matches beyond chance ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Matches:
    """Test rows that match train rows, against the number chance explains.

    ``expected_share`` is the share of train rows that match another train row the same
    way (the chance rate: test rows drawn like train rows match train rows about as
    often); ``allowed_share`` adds the margin (and half a row of prior, so a rate measured
    as zero is not taken as exactly zero); ``p_value`` is the binomial probability of
    ``observed`` or more matches at the allowed rate.
    """

    observed: int
    n: int
    expected_share: float
    allowed_share: float
    p_value: float
    within_share: float = 0.0
    independent_share: float = 0.0

    @property
    def share(self) -> float:
        return self.observed / self.n if self.n else 0.0

    @property
    def expected_rows(self) -> float:
        return self.expected_share * self.n

    @property
    def excess_rows(self) -> float:
        """Matches beyond the chance rate (the estimated number of copies)."""
        return max(0.0, self.observed - self.expected_rows)

    @property
    def excess_share(self) -> float:
        return self.excess_rows / self.n if self.n else 0.0

    def fail_share(self, fail_share: float, n_test: int | None = None) -> float:
        """The share of the test rows from which copies fail: ``fail_share``, and at least
        the half-width of a 95% interval of a rate measured on the ``n_test`` test rows (by
        default ``n``), at its widest (a rate of one half). Fewer copies cannot move an
        accuracy-like metric beyond its interval, so they warn rather than fail."""
        rows = self.n if n_test is None else n_test
        return max(fail_share, 1.96 * math.sqrt(0.25 / rows) if rows else 1.0)

    def severity(
        self, *, fail_share: float, min_rows: int, alpha: float, n_test: int | None = None
    ) -> str | None:
        """``high``, ``medium``, ``low`` or None (see the checks' Notes).

        Copies beyond chance fail when they are at least ``fail_share`` of the test rows,
        ``min_rows`` rows, and enough rows to move a metric beyond its interval on the
        ``n_test`` test rows (``fail_share()``); fewer warn.
        """
        if self.observed == 0 or self.observed <= self.allowed_share * self.n:
            return None
        significant = self.p_value < alpha
        enough = self.fail_share(fail_share, n_test)
        if significant and self.excess_share >= enough and self.excess_rows >= min_rows:
            return "high"
        if significant and self.excess_rows >= min_rows:
            return "medium"
        return "low"


def judge_matches(
    observed: int, n: int, within_train: int, n_train: int, margin: float, independent: float = 1.0
) -> Matches:
    """Compare ``observed`` matching test rows of ``n`` with the chance rate.

    The chance rate is the larger of the within-train rate (``within_train`` of ``n_train``
    train rows match another train row) and ``independent``, the rate if columns were
    independent. When no train row matches another, half a row of prior is added to the
    allowance unless independence rules chance matches out (fewer than 0.01 expected among
    the train rows): continuous columns make a chance match all but impossible, and one copy
    is then evidence.
    """
    from scipy import stats

    within = within_train / n_train if n_train else 0.0
    expected = max(within, min(independent, 1.0))
    prior = 0.0
    if within_train == 0 and independent * n_train >= 0.01:
        prior = 0.5 / max(n_train, 1)
    allowed = min(1.0, max(expected, prior) * (1.0 + margin))
    p_value = float(stats.binom.sf(observed - 1, n, allowed)) if observed > 0 else 1.0
    return Matches(
        int(observed),
        int(n),
        float(expected),
        float(allowed),
        p_value,
        float(within),
        float(min(independent, 1.0)),
    )


def chance_text(matches: Matches, what: str) -> str:
    """How the chance rate was estimated, for a message: '4.1% expected by chance (...)'."""
    parts = [f"{matches.within_share:.2%} of train rows {what} another train row"]
    if matches.independent_share > matches.within_share:
        parts.append(f"{matches.independent_share:.2%} if the columns were independent")
    return f"{matches.expected_share:.2%} expected by chance ({'; '.join(parts)})"


def repeated(keys: np.ndarray) -> np.ndarray:
    """Whether each key occurs more than once in ``keys``."""
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return counts[inverse] > 1


def first_positions(reference: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """For each of ``keys`` (all present in ``reference``), its first position there."""
    order = np.argsort(reference, kind="stable")
    found = np.searchsorted(reference[order], keys)
    return order[found]


def isin(keys: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Whether each of ``keys`` occurs in ``reference`` (hash-based, fast for uint64)."""
    return pd.Series(keys, copy=False).isin(reference).to_numpy()
