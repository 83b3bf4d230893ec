"""Data schemas in pandera's YAML format: read a declared one, infer an editable one.

pandera is imported inside the functions: importing this module stays cheap, and
``auditor --help`` never loads pandera.

An inferred schema is a starting point for a human to edit, so it only states what is
plausible beyond the sample it was inferred from:

- **types**, coerced (``coerce: true``): a column of whole numbers read as floats because of
  a missing value still validates as ``Int64``, and text stored as ``object`` or as
  ``string`` validates as text. A value that cannot be converted is a failure.
- **nullability**: ``nullable: false`` only for a column with no missing value over at least
  1,000 rows; otherwise ``true``. A complete small sample is weak evidence that a value is
  required: a 1% missing rate leaves 200 rows complete one time in eight.
- **categories** (``isin``) for text columns with at most 50 distinct values, only when no
  value occurs exactly once: by the Good-Turing estimate, the chance that new data holds a
  value the sample never showed is then close to zero.
- **a lower bound of 0** (``greater_than_or_equal_to: 0``) for numeric columns that are
  never negative *and* look like quantities (they reach 0, hold whole numbers, or are
  strongly right-skewed, like amounts). The sample's own minimum and maximum are never
  written as bounds: they would turn ordinary drift into errors.

Dates written as text stay text (``str``): pandera's date coercion guesses formats and
would reject valid data written in another convention.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from auditor.errors import InputError
from auditor.io.files import existing_file
from auditor.roles import value_kind

MAX_CATEGORIES = 50
# A column complete over at least this many rows is declared non-nullable.
MIN_ROWS_FOR_REQUIRED = 1000
# A numeric column never below 0 whose skewness exceeds this is treated as an amount.
_SKEW_FOR_AMOUNT = 1.0

_SCHEMA_HINT = "Write one with `auditor schema infer DATA -o schema.yaml` and edit it."


def read_schema(path: str | Path, *, source: str = "--schema") -> Any:
    """Read a pandera ``DataFrameSchema`` from a YAML file.

    Parameters
    ----------
    path : str or Path
        The YAML file, in the format of ``DataFrameSchema.to_yaml()``.
    source : str, default="--schema"
        Where the path came from, named in errors.

    Returns
    -------
    pandera.api.pandas.container.DataFrameSchema

    Raises
    ------
    InputError
        The file is missing, is not YAML, or does not describe a pandera schema.
    """
    import yaml

    path = existing_file(path, source)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{source} {path.name!r} is not UTF-8 text. {_SCHEMA_HINT}") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise InputError(
            f"{source} {path.name!r} is not valid YAML ({problem}{line}). {_SCHEMA_HINT}"
        ) from None
    if not isinstance(data, Mapping) or not isinstance(data.get("columns"), (Mapping, list)):
        raise InputError(
            f"{source} {path.name!r} is not a pandera DataFrameSchema: it has no 'columns' "
            f"table. {_SCHEMA_HINT}"
        )
    if data.get("schema_type", "dataframe") != "dataframe":
        raise InputError(
            f"{source} {path.name!r} has schema_type {data.get('schema_type')!r}; expected "
            f"'dataframe'. {_SCHEMA_HINT}"
        )
    from pandera.io import pandas_io

    _reject_unknown_keys(data, f"{source} {path.name!r}")
    try:
        return pandas_io.deserialize_schema(data)
    except Exception as exc:  # noqa: BLE001 - pandera raises many types for a bad schema
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise InputError(
            f"{source} {path.name!r} is not a valid pandera schema "
            f"({type(exc).__name__}: {message}). {_SCHEMA_HINT}"
        ) from None


# Keys pandera reads at the top of a schema file and on a column; anything else it ignores
# silently, so a typo ('isn:' for 'isin:') would switch a check off without a word.
_SCHEMA_KEYS = frozenset(
    {
        "schema_type", "version", "api", "dataframe_library", "columns", "checks", "index",
        "multiindex", "dtype", "coerce", "strict", "name", "ordered", "unique",
        "report_duplicates", "unique_column_names", "add_missing_columns", "title",
        "description", "drop_invalid_rows", "metadata",
    }
)  # fmt: skip
_COLUMN_KEYS = frozenset(
    {
        "title", "description", "dtype", "nullable", "checks", "name", "unique", "coerce",
        "required", "regex", "default", "report_duplicates", "drop_invalid_rows", "metadata",
    }
)  # fmt: skip


def _reject_unknown_keys(data: Mapping[str, Any], where: str) -> None:
    import difflib

    from pandera.api.checks import Check

    def reject(key: object, valid: set[str], owner: str, what: str) -> None:
        close = difflib.get_close_matches(str(key), sorted(valid), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else "."
        raise InputError(
            f"{where}{owner} has unknown key {str(key)!r}{hint} Use {what}. {_SCHEMA_HINT}"
        )

    for key in data:
        if key not in _SCHEMA_KEYS:
            reject(key, set(_SCHEMA_KEYS), "", "a pandera DataFrameSchema option")
    checks = {k for k in dir(Check) if not k.startswith("_") and callable(getattr(Check, k))}
    columns = data["columns"]
    items = columns.items() if isinstance(columns, Mapping) else enumerate(columns)
    for name, column in items:
        if column is None:
            continue
        if not isinstance(column, Mapping):
            raise InputError(
                f"{where} column {str(name)!r} must be a table of options and checks, "
                f"got {type(column).__name__}. {_SCHEMA_HINT}"
            )
        for key in column:
            if key not in _COLUMN_KEYS and key not in checks:
                reject(
                    key,
                    set(_COLUMN_KEYS) | checks,
                    f" column {str(column.get('name', name))!r}",
                    "a pandera check name (isin, in_range, greater_than_or_equal_to ...) "
                    "or a column option (dtype, nullable ...)",
                )


def infer_schema(frame: pd.DataFrame, *, description: str | None = None) -> Any:
    """Infer an editable pandera ``DataFrameSchema`` from ``frame`` (see the module notes).

    Parameters
    ----------
    frame : DataFrame
        The data to describe, typically the training set.
    description : str, optional
        Stored in the schema's ``description``.

    Returns
    -------
    pandera.api.pandas.container.DataFrameSchema
    """
    import pandera.pandas as pa

    columns = {}
    for name in frame.columns:
        series = frame[name]
        kind = value_kind(series)
        dtype = _dtype(series, kind)
        checks = []
        if kind == "text":
            levels = _categories(series)
            if levels is not None:
                checks.append(pa.Check.isin(levels))
        elif kind in ("integer", "number") and _non_negative_quantity(series, kind):
            checks.append(pa.Check.greater_than_or_equal_to(0))
        required = len(series) >= MIN_ROWS_FOR_REQUIRED and not series.isna().any()
        columns[str(name)] = pa.Column(dtype, checks=checks or None, nullable=not required)
    return pa.DataFrameSchema(columns, coerce=True, description=description)


def schema_to_yaml(schema: Any, *, header: str = "") -> str:
    """Serialize ``schema`` to pandera's YAML, after ``header`` written as comment lines."""
    text = schema.to_yaml()
    comments = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comments + text


def _dtype(series: pd.Series, kind: str) -> str | None:
    if kind == "integer":
        return "Int64"  # pandas' nullable integer: a missing value does not force floats
    if kind == "number":
        return "float64"
    if kind == "boolean":
        return "boolean"
    if kind == "text":
        return "str"
    if kind == "datetime" and pd.api.types.is_datetime64_any_dtype(series.dtype):
        tz = getattr(series.dtype, "tz", None)
        return "datetime64[ns]" if tz is None else f"datetime64[ns, {tz}]"
    return None  # empty, mixed or other kinds: no type is asserted


def _categories(series: pd.Series) -> list[str] | None:
    """The sorted distinct values, when few and none seen only once (Good-Turing)."""
    counts = series.dropna().astype(str).value_counts()
    if counts.empty or len(counts) > MAX_CATEGORIES or (counts == 1).any():
        return None
    return sorted(counts.index)


def _non_negative_quantity(series: pd.Series, kind: str) -> bool:
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    values = values[np.isfinite(values)]
    if values.size == 0 or values.min() < 0:
        return False
    if values.min() == 0 or kind == "integer":
        return True
    spread = values.std()
    if spread == 0:
        return False
    skew = float(np.mean(((values - values.mean()) / spread) ** 3))
    return skew > _SKEW_FOR_AMOUNT
