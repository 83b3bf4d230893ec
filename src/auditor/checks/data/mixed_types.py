"""``data.mixed_types``: numbers and text (or several Python types) in one column."""

from __future__ import annotations

import decimal
import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd

from auditor.checks._common import rows_used, status_from
from auditor.checks._common import splits as present_splits
from auditor.context import AuditContext
from auditor.registry import CheckOutcome, SkipCheck, param, register_check
from auditor.result import Finding, Measurement, Table

CHECK_ID = "data.mixed_types"
# What "parses as a number" means: decimal notation with an optional sign, decimal point and
# exponent, surrounding spaces allowed, or inf/infinity. Text spellings of missing values
# ("nan", "N/A", "null") are text: a cast would silently turn them into missing values.
_NUMBER = r"^\s*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity)\s*$"
# A low-cardinality column whose text tokens all contain a digit ("3+", "10-20") is an
# ordinal code, not a polluted number column.
_MAX_CODE_LEVELS = 20
_MAX_EXAMPLE_TOKENS = 5
_MAX_TOKEN_CHARS = 20


@dataclass(frozen=True, slots=True)
class MixedTypesParams:
    """Thresholds of ``data.mixed_types``.

    Parameters
    ----------
    min_numeric_share : float, default=0.9
        Warn when at least this share of a column's non-missing values are numbers and at
        least one is not.
    min_partly_numeric_share : float, default=0.5
        Report (informational) a column where numbers are at least this share but below
        ``min_numeric_share``.
    """

    min_numeric_share: float = param(
        0.9,
        "Warn when at least this share of a text column's non-missing values are numbers and "
        "at least one is not (a number column polluted with text).",
        share=True,
    )
    min_partly_numeric_share: float = param(
        0.5,
        "Report, for information, a column whose values are numbers in at least this share "
        "of rows, below min_numeric_share.",
        share=True,
    )


@register_check(
    CHECK_ID,
    title="Numbers and text mixed in one column",
    needs=("test",),
    params=MixedTypesParams,
    rationale=(
        "A column of numbers with a few words in it ('unknown', 'N/A', '12 kg') is read as "
        "text, so the model treats every number as a separate category, or a conversion "
        "silently turns the words into blanks. Columns holding different kinds of values "
        "(numbers and text) break encoders and hide data-entry problems."
    ),
    remedy=(
        "Look at the text values quoted in the finding: turn placeholders into proper missing "
        "values, fix units or typing errors at the source, and store the column as numbers."
    ),
)
def mixed_types(ctx: AuditContext, params: MixedTypesParams) -> CheckOutcome:
    """Classify every non-missing value of text and object columns as number or text.

    Notes
    -----
    Only columns not stored as numbers can mix kinds: text, object and category columns
    among the features. Each distinct value is classified once (numbers, text that parses
    as a decimal number, other text, or another Python type such as dates or booleans), so
    the counts are exact, not sampled. Per column and split:

    - ``numbers_with_text`` (medium): at least ``min_numeric_share`` of the non-missing
      values are numbers and at least one is not: the typical number column polluted by
      placeholders. Low-cardinality columns (at most 20 distinct values) whose text values
      all contain a digit ('0', '1', '2', '3+') are ordinal codes and reported as ``low``.
    - ``mixed_python_types`` (medium): an object column holding values of several Python
      types (numbers and strings, strings and dates ...), as in-memory frames allow.
    - ``partly_numeric`` (low): numbers are between ``min_partly_numeric_share`` and
      ``min_numeric_share`` of the values: a code list mixing numeric and other codes is
      common, so this is informational.

    Codes such as 'A1' (never numbers) and ZIP codes (always numbers) are not reported.
    """
    columns = [c for c in ctx.roles.features if _may_mix(ctx, c)]
    if not columns:
        raise SkipCheck("no feature column is stored as text or objects")
    splits = present_splits(ctx)
    findings: list[Finding] = []
    table_rows = []
    on_all_rows = []
    for column in columns:
        # --engine dask: every row's value counts where they were kept, else the sample's.
        profiles = {
            name: _all_rows_profile(ctx, name, frame[column])
            for name, frame in splits.items()
            if column in frame
        }
        if all(p is not None for p in profiles.values()):
            on_all_rows.append(column)
        else:
            profiles = {
                name: _profile(frame[column]) for name, frame in splits.items() if column in frame
            }
        finding = _finding(column, profiles, params)
        if finding is not None:
            findings.append(finding)
        for name, profile in profiles.items():
            table_rows.append(
                (
                    column,
                    name,
                    profile.n_values,
                    profile.n_numbers,
                    profile.n_text,
                    profile.n_other,
                    ", ".join(profile.types),
                    finding.code if finding is not None else "",
                )
            )
    used = rows_used(ctx, on_all_rows, columns)
    return CheckOutcome(
        status=status_from(findings),
        summary=_summary(findings, columns, params),
        findings=tuple(findings),
        measurements=(
            Measurement(
                "n_mixed_type_columns",
                float(sum(f.severity != "low" for f in findings)),
                greater_is_better=False,
            ),
            *(() if used is None else (used,)),
        ),
        tables=(
            Table(
                "value_kinds_by_column",
                "Kinds of values in text and object columns",
                (
                    "column",
                    "split",
                    "values",
                    "numbers",
                    "text",
                    "other_kinds",
                    "python_types",
                    "finding",
                ),
                tuple(table_rows),
            ),
        ),
    )


def _may_mix(ctx: AuditContext, column: str) -> bool:
    """True when some split stores ``column`` as text, objects or categories."""
    for frame in present_splits(ctx).values():
        dtype = frame[column].dtype
        if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(dtype):
            return True
        if pd.api.types.is_string_dtype(dtype):
            return True
    return False


@dataclass(frozen=True, slots=True)
class _Profile:
    n_values: int = 0
    n_numbers: int = 0  # numeric objects plus text that parses as a number
    n_text: int = 0  # text that does not parse as a number
    n_other: int = 0  # booleans, dates, bytes and other objects
    n_distinct: int = 0
    types: tuple[str, ...] = ()  # Python type families present: number, text, other
    text_tokens: tuple[tuple[str, int], ...] = ()  # most frequent non-numeric text, counts
    text_has_digits: bool = False


def _holds_objects(dtype) -> bool:
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    )


def _typed_profile(n: int, dtype) -> _Profile:
    """A column stored as numbers (or booleans, dates): ``n`` values of one kind."""
    kind = "number" if pd.api.types.is_numeric_dtype(dtype) else "other"
    return _Profile(n, n if kind == "number" else 0, 0, 0 if kind == "number" else n, 0, (kind,))


def _all_rows_profile(ctx: AuditContext, split: str, series: pd.Series) -> _Profile | None:
    """``--engine dask``: the profile of every row of ``split`` (``series`` is the sample's
    column), or None when the engine did not keep its counts."""
    full = ctx.all_rows
    if full is None:
        return None
    column = series.name
    if not _holds_objects(series.dtype):
        return _typed_profile(full.rows[split] - full.missing[split].get(column, 0), series.dtype)
    counts = full.levels.get(split, {}).get(column)
    return None if counts is None else _profile_of_counts(counts)


def _profile(series: pd.Series) -> _Profile:
    dtype = series.dtype
    if not _holds_objects(dtype):
        return _typed_profile(int(series.notna().sum()), dtype)
    counts = series.value_counts(dropna=True, sort=False)
    return _profile_of_counts(counts[counts.to_numpy() > 0])  # categories absent from rows


def _profile_of_counts(counts: pd.Series) -> _Profile:
    """The profile of a text, object or category column from its rows per value."""
    values = np.asarray(counts.index.astype(object), dtype=object)
    weights = counts.to_numpy(dtype=np.int64)
    if len(values) == 0:
        return _Profile()
    inferred = pd.api.types.infer_dtype(values, skipna=True)
    if inferred == "string":
        kinds = np.full(len(values), "text", dtype=object)
    else:
        kinds = np.array([_kind(v) for v in values], dtype=object)
    is_text = kinds == "text"
    parses = np.zeros(len(values), dtype=bool)
    if is_text.any():
        parses[is_text] = _parses_as_number(values[is_text])
    is_number = (kinds == "number") | parses
    is_word = is_text & ~parses
    word_values, word_counts = values[is_word], weights[is_word]
    top = np.argsort(-word_counts, kind="stable")[:_MAX_EXAMPLE_TOKENS]
    tokens = tuple((str(word_values[i]), int(word_counts[i])) for i in top)
    return _Profile(
        n_values=int(weights.sum()),
        n_numbers=int(weights[is_number].sum()),
        n_text=int(word_counts.sum()),
        n_other=int(weights[kinds == "other"].sum()),
        n_distinct=len(values),
        types=tuple(sorted(set(kinds.tolist()))),
        text_tokens=tokens,
        text_has_digits=bool(
            is_word.any()
            and pd.Series(word_values.astype(str)).str.contains(r"\d", regex=True).all()
        ),
    )


def _kind(value: object) -> str:
    if isinstance(value, bool | np.bool_):
        return "other"
    if isinstance(value, numbers.Number | decimal.Decimal):
        return "number"
    if isinstance(value, str):
        return "text"
    return "other"


def _parses_as_number(values: np.ndarray) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    array = pa.array(values, type=pa.string())
    matched = pc.match_substring_regex(array, _NUMBER, ignore_case=True)
    return matched.to_numpy(zero_copy_only=False).astype(bool)


def _short(token: str) -> str:
    return token if len(token) <= _MAX_TOKEN_CHARS else token[: _MAX_TOKEN_CHARS - 1] + "…"


def _finding(
    column: str, profiles: dict[str, _Profile], params: MixedTypesParams
) -> Finding | None:
    verdicts = {name: _verdict(p, params) for name, p in profiles.items()}
    ranked = sorted(
        (v for v in verdicts.values() if v is not None),
        key=lambda v: ("low", "medium", "high").index(v[1]),
        reverse=True,
    )
    if not ranked:
        return None
    code, severity = ranked[0]
    involved = {name: p for name, p in profiles.items() if verdicts[name] is not None}
    tokens: dict[str, int] = {}
    for p in involved.values():
        for token, count in p.text_tokens:
            tokens[token] = tokens.get(token, 0) + count
    shown = [_short(t) for t in sorted(tokens, key=lambda t: -tokens[t])[:_MAX_EXAMPLE_TOKENS]]
    where = "; ".join(
        f"{name}: {p.n_numbers:,} numbers, {p.n_text:,} text, {p.n_other:,} other of "
        f"{p.n_values:,} values"
        for name, p in involved.items()
    )
    examples = ", ".join(repr(t) for t in shown)
    if code == "mixed_python_types":
        kinds = sorted({k for p in involved.values() for k in p.types})
        message = (
            f"{column!r} holds values of several kinds ({', '.join(kinds)}) in one column "
            f"({where})" + (f"; text values include {examples}." if shown else ".")
        )
    elif code == "numbers_with_text":
        message = (
            f"{column!r} is mostly numbers but some values are text ({where}; warning when "
            f"numbers are at least {params.min_numeric_share:.0%} and any value is not). "
            f"Text values: {examples}."
        )
    elif code == "numeric_codes":
        message = (
            f"{column!r} mixes numbers with a few coded values containing digits ({examples}); "
            f"it looks like an ordinal code list ({where})."
        )
    else:
        message = (
            f"{column!r} holds numbers in part of its values only ({where}); text values "
            f"include {examples}."
        )
    return Finding(
        code,
        severity,
        message,
        (column,),
        {
            "text_examples": shown,
            "by_split": {
                name: {
                    "values": p.n_values,
                    "numbers": p.n_numbers,
                    "text": p.n_text,
                    "other": p.n_other,
                }
                for name, p in involved.items()
            },
            "warn_at_numeric_share": params.min_numeric_share,
        },
    )


def _verdict(profile: _Profile, params: MixedTypesParams) -> tuple[str, str] | None:
    if profile.n_values == 0:
        return None
    numeric_share = profile.n_numbers / profile.n_values
    if profile.n_text and numeric_share >= params.min_numeric_share:
        if profile.n_distinct <= _MAX_CODE_LEVELS and profile.text_has_digits:
            return "numeric_codes", "low"
        return "numbers_with_text", "medium"
    kinds = set(profile.types)
    if len(kinds) > 1:
        return "mixed_python_types", "medium"
    if profile.n_text and numeric_share >= params.min_partly_numeric_share:
        return "partly_numeric", "low"
    return None


def _summary(findings: list[Finding], columns: list[str], params: MixedTypesParams) -> str:
    serious = [f for f in findings if f.severity != "low"]
    if serious:
        names = ", ".join(repr(f.columns[0]) for f in serious[:5])
        more = f" (+{len(serious) - 5} more)" if len(serious) > 5 else ""
        return (
            f"{len(serious)} column(s) mix numbers and text or several kinds of values: "
            f"{names}{more}."
        )
    return (
        f"No column is at least {params.min_numeric_share:.0%} numbers with some text, and "
        f"none holds several kinds of Python values, across {len(columns)} text or object "
        "feature columns" + (f" ({len(findings)} reported for information)." if findings else ".")
    )
