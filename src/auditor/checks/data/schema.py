"""``data.schema``: values that break the declared schema, or types that changed since train.

Two modes:

- **Declared** (``--schema schema.yaml``, a pandera YAML schema): train and test are each
  validated with pandera, collecting every failure (``lazy=True``), never only the first.
  Every violation (type, nullability, ``isin`` categories, ``in_range`` or other domains,
  required columns) is a finding, high severity by default.
- **Inferred** (no schema, train given): the *kind* of values of each train column (whole
  numbers, numbers, true/false, datetimes, text, dates written as text) is the contract the
  test set must keep. Only a change of kind is flagged: numbers arriving as text, text
  arriving as numbers, whole numbers arriving with fractions, dates that no longer parse, a
  column gone. Storage differences are not changes (``int64`` vs ``float64`` because of a
  missing value, ``object`` vs ``string`` text), and neither are ranges, categories or
  missing values: train's minimum and maximum are not bounds (that would turn ordinary
  drift into errors), and those properties have their own checks (``data.out_of_range``,
  ``data.unseen_categories``, ``data.missing_values``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from auditor.checks._common import MAX_EXAMPLE_ROWS, status_from
from auditor.checks._common import splits as present_splits
from auditor.context import AuditContext
from auditor.errors import InputError, preview
from auditor.registry import CheckOutcome, SkipCheck, param, register_check
from auditor.result import SEVERITIES, Finding, Measurement, Table
from auditor.roles import date_format, parse_dates, sample_values, value_kind

# Failure examples quote at most this many values, each cut to this many characters.
_MAX_EXAMPLE_VALUES = 3
_MAX_VALUE_CHARS = 40
_MAX_CHECK_CHARS = 60
_NUMERIC_TEXT_SHARE = 0.95

_KIND_WORDS = {
    "integer": "whole numbers",
    "number": "numbers",
    "boolean": "true/false values",
    "datetime": "datetimes",
    "text": "text",
    "dates": "dates written as text",
}
# Kinds of test values that keep a train column's contract (before any value-level test).
_COMPATIBLE = {
    "integer": {"integer", "number"},
    "number": {"integer", "number"},
    "boolean": {"boolean"},
    "datetime": {"datetime"},
    "text": {"text"},
}


@dataclass(frozen=True, slots=True)
class SchemaParams:
    severity: str = param(
        "high",
        "Severity of a violation of a declared schema (--schema): high fails the check, "
        "medium warns, low only notes it.",
    )

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise InputError(
                f"[checks.\"data.schema\"] key 'severity' must be one of "
                f"{', '.join(SEVERITIES)}, got {self.severity!r}."
            )


@dataclass(slots=True)
class _Failure:
    """One failing check on one column of one split."""

    split: str
    column: str | None
    check: str
    code: str
    severity: str
    n_failures: int | None  # None: the whole column fails (its type), not single rows
    rows: list[int] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    detail: str = ""

    def to_evidence(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "split": self.split,
            "check": self.check,
            "n_failures": self.n_failures,
            "example_rows": list(self.rows),
        }
        if self.examples:
            out["example_values"] = list(self.examples)
        return out


@register_check(
    "data.schema",
    title="Schema and value types",
    needs=("test",),
    params=SchemaParams,
    rationale=(
        "A model is fitted on columns of a given type and domain. A numeric column that "
        "arrives as text, a category outside the agreed list or a missing value where none is "
        "allowed breaks the model or silently changes its predictions."
    ),
    remedy=(
        "Fix the pipeline that produces the data (parsing, joins, encodings), or update the "
        "schema when the change is intended. Write a schema to declare with `auditor schema "
        "infer DATA -o schema.yaml`."
    ),
)
def schema(ctx: AuditContext, params: SchemaParams) -> CheckOutcome:
    """Validate the splits against the declared pandera schema, or test against train's types.

    Notes
    -----
    With ``--schema``, each split is validated by pandera with ``lazy=True`` and every
    failure case is counted: one finding per column, listing each failing check with its
    count of failing rows and up to 10 example row positions (0-based, in file order). A
    failure pandera reports for the column as a whole (its dtype) has no row count.

    Without a schema, the kind of values of each train column is inferred (by dtype, or by
    the values of an ``object`` column) and the test values of another kind are counted.
    No finding means every test value has the kind of its train column; it says nothing
    about ranges, categories or missing values, which have their own checks.
    """
    declared = getattr(ctx, "schema", None)
    if declared is not None:
        failures = []
        for split, frame in present_splits(ctx).items():
            failures.extend(_declared_failures(declared, frame, split, params.severity))
        n_columns = len(declared.columns)
        clean = (
            f"Every row of {_split_names(ctx)} passes the declared schema "
            f"({n_columns} columns: types, nullability and domains)."
        )
        mode = "declared"
    elif ctx.train is not None:
        failures = _inferred_failures(ctx)
        n_columns = len([c for c in ctx.train.columns if c != ctx.target])
        clean = (
            f"Every test value has the kind of its train column ({n_columns} columns: numbers, "
            "text, true/false, dates). Ranges, categories and missing values are left to their "
            "own checks."
        )
        mode = "inferred"
    else:
        raise SkipCheck(
            "no schema was given (--schema) and there is no training data (--train) to "
            "infer one from"
        )
    findings = _findings(failures, mode)
    n_failures = sum(f.n_failures or 0 for f in failures)
    if findings:
        named = [f.columns[0] for f in findings if f.columns]
        subject = (
            f"{len(findings)} column{'s' if len(findings) > 1 else ''} ({preview(named)})"
            if named
            else "Rows"
        )
        summary = (
            f"{subject} break{'' if len(findings) > 1 or not named else 's'} the {mode} schema"
            + (
                f": {n_failures:,} failing value{'s' if n_failures > 1 else ''}"
                if n_failures
                else ""
            )
            + "."
        )
    else:
        summary = clean
    table_rows = tuple(
        (
            f.column if f.column is not None else "(rows)",
            f.split,
            f.check,
            f.n_failures,
            ", ".join(str(r) for r in f.rows),
        )
        for f in failures
    )
    return CheckOutcome(
        status=status_from(findings),
        summary=summary,
        findings=tuple(findings),
        measurements=(
            Measurement("n_columns_violating", float(len(findings)), greater_is_better=False),
            Measurement("n_failures", float(n_failures), greater_is_better=False),
        ),
        tables=(
            Table(
                "schema_failures",
                f"Failures against the {mode} schema",
                ("column", "split", "check", "n_failures", "example_rows"),
                table_rows,
            ),
        ),
    )


def _split_names(ctx: AuditContext) -> str:
    return "test" if ctx.train is None else "train and test"


# --- declared schema (pandera) -------------------------------------------------------------


def _declared_failures(
    declared: Any, frame: pd.DataFrame, split: str, severity: str
) -> list[_Failure]:
    from pandera.errors import SchemaErrors

    try:
        declared.validate(frame, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return []
    return _failures_from_cases(cases, split, severity)


def _failures_from_cases(cases: pd.DataFrame, split: str, severity: str) -> list[_Failure]:
    """Group pandera's failure cases by column and check into counted failures."""
    cases = cases.reset_index(drop=True)
    check = cases["check"].astype(str)
    column = cases["column"].astype(object).where(cases["column"].notna(), None)
    # Column-presence failures name the column in failure_case, not in column.
    about_column = check.isin(["column_in_dataframe", "column_in_schema"])
    column = column.where(~about_column, cases["failure_case"].astype(object))
    frame = pd.DataFrame(
        {
            "column": column.map(lambda c: None if c is None else str(c)),
            "check": check,
            "value": cases["failure_case"],
            "row": pd.to_numeric(cases["index"], errors="coerce"),
        }
    )
    # With coerce=True pandera reports a type failure twice, as coerce_dtype(...) and as
    # dtype(...). Keep the coerce rows that name failing rows, and the dtype row that names
    # the column's actual dtype when the whole column failed to convert.
    is_coerce = frame["check"].str.startswith("coerce_dtype(")
    is_dtype = frame["check"].str.startswith("dtype(")
    whole = frame["row"].isna()
    coerced_rows = set(frame.loc[is_coerce & ~whole, "column"])
    typed_whole = set(frame.loc[is_dtype & whole, "column"])
    duplicate = (is_dtype & ~whole & frame["column"].isin(coerced_rows)) | (
        is_coerce & whole & frame["column"].isin(typed_whole)
    )
    frame = frame.loc[~duplicate]
    typed = set(frame.loc[is_coerce | is_dtype, "column"].dropna())
    failures = []
    for (col, name), group in frame.groupby(
        [frame["column"].fillna("\0"), "check"], sort=False, dropna=False
    ):
        col = None if col == "\0" else col
        rows = group["row"].dropna()
        code = _declared_code(name)
        label = _short_check(name)
        if code in ("missing_column", "unexpected_column"):
            failures.append(_Failure(split, col, label, code, severity, None))
            continue
        if rows.empty:
            value = group["value"].iloc[0]
            if code == "wrong_type":
                found = f"has dtype {value!r}" if isinstance(value, str) else "cannot be converted"
                detail = f"{label} fails: the column {found} in {split}"
            elif col in typed:
                continue  # a domain check that could not run on values of the wrong type
            else:
                detail = f"{label} could not be evaluated on {split} ({_clip(str(value))})"
            failures.append(_Failure(split, col, label, code, severity, None, detail=detail))
            continue
        failures.append(
            _Failure(
                split,
                col,
                label,
                code,
                severity,
                len(group),
                rows=sorted(int(r) for r in rows)[:MAX_EXAMPLE_ROWS],
                examples=_example_values(group.loc[group["row"].notna(), "value"]),
            )
        )
    return failures


def _declared_code(check: str) -> str:
    if check == "column_in_dataframe":
        return "missing_column"
    if check == "column_in_schema":
        return "unexpected_column"
    if check.startswith(("coerce_dtype(", "dtype(")):
        return "wrong_type"
    if check == "not_nullable":
        return "null_not_allowed"
    if check in ("field_uniqueness", "dataframe_column_labels_unique") or "unique" in check:
        return "duplicate_values"
    return "out_of_domain"


def _short_check(check: str) -> str:
    """pandera's check label, with a long argument list (``isin([...])``) shortened."""
    if len(check) <= _MAX_CHECK_CHARS:
        return check
    head = check.split("(", 1)[0]
    return f"{head}(...)"


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 3] + "..."


def _example_values(values: pd.Series) -> list[str]:
    shown = []
    for value in values:
        text = _clip(repr(value.item() if hasattr(value, "item") else value))
        if text not in shown:
            shown.append(text)
        if len(shown) == _MAX_EXAMPLE_VALUES:
            break
    return shown


# --- inferred contract: kinds of values ----------------------------------------------------


def _inferred_failures(ctx: AuditContext) -> list[_Failure]:
    train, test = ctx.train, ctx.test
    date_columns = set(ctx.roles.dates) | ({ctx.roles.time} - {None})
    failures = []
    for column in train.columns:
        if column == ctx.target:
            continue
        if column not in test.columns:
            failures.append(
                _Failure("test", column, "column_in_dataframe", "missing_column", "high", None)
            )
            continue
        expected = value_kind(train[column])
        if expected == "text" and column in date_columns:
            failure = _date_text_failure(train[column], test[column], column)
        elif expected in _COMPATIBLE:
            failure = _kind_failure(train[column], test[column], column, expected)
        else:
            failure = None  # empty, mixed or other kinds in train: no contract to keep
        if failure is not None:
            failures.append(failure)
    return failures


def _kind_failure(train: pd.Series, test: pd.Series, column: str, expected: str) -> _Failure | None:
    actual = value_kind(test)
    if actual == "empty":
        return None
    if actual in _COMPATIBLE[expected]:
        if expected == "integer" and actual == "number":
            return _fraction_failure(test, column)
        return None
    if actual == "other":  # mixed kinds: count value by value
        bad = test.notna().to_numpy() & ~_values_of_kind(test, _COMPATIBLE[expected])
    else:
        bad = test.notna().to_numpy()
    train_words = _KIND_WORDS[expected]
    if expected == "text" and bad.any():
        if _looks_numeric(train):
            # Train holds numbers written as text, test holds numbers: one of the splits
            # was parsed differently, whichever is right.
            train_words = "numbers written as text"
        else:
            # A code column of train ('1', '2', '4+') read back as numbers when the test
            # rows lack the non-numeric codes: numbers train held as text keep the contract.
            bad = bad & ~_numbers_seen_as_text(test, train)
    if not bad.any():
        return None
    found = "mixed values" if actual == "other" else _KIND_WORDS.get(actual, actual)
    bad_values = test[bad]
    detail = f"holds {found} in {_rows(bad)}{{rows}} where train holds {train_words}"
    if expected in ("integer", "number"):
        as_numbers = int(pd.to_numeric(bad_values.astype(str), errors="coerce").notna().sum())
        if as_numbers:
            detail += f"; {as_numbers:,} of them are numbers written as text"
    return _Failure(
        "test",
        column,
        f"kind({_KIND_WORDS[expected]})",
        "type_changed",
        "high",
        int(bad.sum()),
        rows=[int(r) for r in np.flatnonzero(bad)[:MAX_EXAMPLE_ROWS]],
        examples=_example_values(bad_values),
        detail=detail,
    )


def _fraction_failure(test: pd.Series, column: str) -> _Failure | None:
    values = pd.to_numeric(test, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        bad = np.isfinite(values) & (np.mod(values, 1) != 0)
    if not bad.any():
        return None
    return _Failure(
        "test",
        column,
        "kind(whole numbers)",
        "fractional_values",
        "medium",
        int(bad.sum()),
        rows=[int(r) for r in np.flatnonzero(bad)[:MAX_EXAMPLE_ROWS]],
        examples=_example_values(test[bad]),
        detail=(
            f"holds fractional numbers in {_rows(bad)}{{rows}} where train holds whole numbers"
        ),
    )


def _date_text_failure(train: pd.Series, test: pd.Series, column: str) -> _Failure | None:
    """Dates written as text in train that no longer parse (with train's format) in test."""
    found = date_format(train)
    if found is None:
        return None
    fmt = found[0]
    train_ok = parse_dates(train, fmt).notna().to_numpy() | train.isna().to_numpy()
    if not train_ok.all():
        return None  # train itself is not clean dates: no contract to keep
    actual = value_kind(test)
    if actual in ("empty", "datetime"):
        return None
    present = test.notna().to_numpy()
    if actual == "text":
        bad = present & parse_dates(test, fmt).isna().to_numpy()
    elif actual == "other":
        is_text = _values_of_kind(test, {"text"})
        parsed = parse_dates(test.where(is_text), fmt).notna().to_numpy()
        bad = present & ~(parsed | _values_of_kind(test, {"datetime"}))
    else:
        bad = present
    if not bad.any():
        return None
    shown = "ISO 8601" if fmt == "ISO8601" else fmt
    return _Failure(
        "test",
        column,
        f"dates({shown})",
        "unparseable_dates",
        "high",
        int(bad.sum()),
        rows=[int(r) for r in np.flatnonzero(bad)[:MAX_EXAMPLE_ROWS]],
        examples=_example_values(test[bad]),
        detail=(
            f"{_rows(bad)}{{rows}} hold values that do not parse as {shown} dates, "
            "while every train value does"
        ),
    )


def _numbers_seen_as_text(test: pd.Series, train: pd.Series) -> np.ndarray:
    """Per test value: True when it is a number that train holds written as text."""
    distinct = pd.Series(train.dropna().unique()).astype(str)
    known = pd.to_numeric(distinct, errors="coerce").dropna().unique()
    if len(known) == 0:
        return np.zeros(len(test), dtype=bool)
    kinds = _values_of_kind(test, {"number"}) & test.notna().to_numpy()
    numbers = pd.to_numeric(test.where(kinds), errors="coerce")
    return (kinds & numbers.isin(known).to_numpy()).astype(bool)


def _looks_numeric(train: pd.Series) -> bool:
    sample = sample_values(train)
    if sample.empty:
        return False
    parsed = pd.to_numeric(sample.astype(str), errors="coerce")
    return bool(parsed.notna().mean() >= _NUMERIC_TEXT_SHARE)


def _values_of_kind(series: pd.Series, kinds: set[str]) -> np.ndarray:
    """Per value: True when it is of one of ``kinds`` (or missing). Used on mixed columns."""
    types: list[type | tuple[type, ...]] = []
    if kinds & {"integer", "number"}:
        types += [numbers.Real, decimal.Decimal]
    if "boolean" in kinds:
        types += [bool, np.bool_]
    if "datetime" in kinds:
        types += [dt.date, np.datetime64]
    if "text" in kinds:
        types += [str]
    own = value_kind(series)
    if own not in ("other", "empty"):  # one kind throughout: no need to look value by value
        numeric = {"integer", "number"}
        same = own in kinds or (own in numeric and bool(kinds & numeric))
        return np.full(len(series), same, dtype=bool)
    wanted = tuple(types)
    allow_bool = "boolean" in kinds
    values = series.to_numpy(dtype=object)
    return np.fromiter(
        (
            v is None
            or (isinstance(v, float) and v != v)
            or (isinstance(v, wanted) and (allow_bool or not isinstance(v, (bool, np.bool_))))
            for v in values
        ),
        dtype=bool,
        count=len(values),
    )


def _rows(mask: np.ndarray, split: str = "test") -> str:
    n = int(mask.sum())
    return f"{n:,} {split} row" + ("" if n == 1 else "s")


# --- findings ------------------------------------------------------------------------------


def _findings(failures: list[_Failure], mode: str) -> list[Finding]:
    """One finding per column (and one for row-level schema checks), worst severity first."""
    by_column: dict[str | None, list[_Failure]] = {}
    for failure in failures:
        by_column.setdefault(failure.column, []).append(failure)
    findings = []
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    for column, group in by_column.items():
        codes = {f.code for f in group}
        code = codes.pop() if len(codes) == 1 else "schema_violation"
        severity = max((f.severity for f in group), key=rank.__getitem__)
        parts = [_describe(f) for f in group]
        subject = f"{column!r}" if column is not None else "Rows"
        message = f"{subject} breaks the {mode} schema: " + "; ".join(parts) + "."
        findings.append(
            Finding(
                code,
                severity,
                message,
                () if column is None else (column,),
                {
                    "mode": mode,
                    "n_failures": sum(f.n_failures or 0 for f in group),
                    "failures": [f.to_evidence() for f in group],
                },
            )
        )
    findings.sort(key=lambda f: -rank[f.severity])
    return findings


def _describe(failure: _Failure) -> str:
    if failure.code == "missing_column":
        return f"the column is missing from the {failure.split} data"
    if failure.code == "unexpected_column":
        return f"the column is in the {failure.split} data but not in the schema"
    text = failure.detail or (
        f"{failure.check} fails on {failure.n_failures:,} {failure.split} "
        + ("row" if failure.n_failures == 1 else "rows")
        + "{rows}"
    )
    shown = ""
    if failure.rows:
        shown = f" ({'row' if len(failure.rows) == 1 else 'rows'} "
        shown += ", ".join(str(r) for r in failure.rows[:5])
        shown += ", ...)" if (failure.n_failures or 0) > 5 else ")"
    return text.replace("{rows}", shown) if "{rows}" in text else text + shown
