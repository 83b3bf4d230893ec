"""What kind of values a column holds: the one classification roles, schemas and the time
reader share."""

from __future__ import annotations

import numpy as np
import pandas as pd


def value_kind(series: pd.Series) -> str:
    """The kind of values a column holds, whatever their storage.

    Returns one of ``"integer"``, ``"number"`` (other real numbers), ``"boolean"``,
    ``"datetime"``, ``"text"``, ``"empty"`` (no non-null value) or ``"other"`` (mixed kinds,
    durations, bytes ...). Object columns are classified by their values, so a column of
    Python bools with a missing value is ``"boolean"``, as is a ``bool`` column.
    """
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return value_kind(pd.Series(dtype.categories))
    kind = getattr(dtype, "kind", "O")
    if kind == "b":
        return "boolean"
    if kind in "iu":
        return "integer"
    if kind in "fc":
        return "number"
    if kind == "M":
        return "datetime"
    if kind in "US":
        return "text"
    if kind == "m":
        return "other"
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return "text"
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    return {
        "string": "text",
        "integer": "integer",
        "floating": "number",
        "mixed-integer-float": "number",
        "decimal": "number",
        "boolean": "boolean",
        "datetime": "datetime",
        "datetime64": "datetime",
        "date": "datetime",
        "empty": "empty",
    }.get(inferred, "other")


def as_float(series: pd.Series) -> np.ndarray:
    """A column as floats: numbers as they are, booleans as 0/1, text parsed, else missing.

    ``data.out_of_range`` reads columns this way, in memory and in the Dask engine's counts.
    """
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=float, na_value=np.nan)
    if not pd.api.types.is_numeric_dtype(series.dtype):
        series = pd.to_numeric(series, errors="coerce")
    return series.to_numpy(dtype=float, na_value=np.nan)
