"""Row keys from values alone: 64-bit codes of a row's cells that equal across files and
partitions whatever each file's storage types (``leakage.train_test_overlap``'s exact keys).

The codes of a value depend on that value only, never on the rest of its column: the keys
of a partition's rows are those of the same rows in the whole dataset, which is what lets
``--engine dask`` join train and test by key (``engine.partitioned.overlap``). The checks'
row keys (``checks._row_keys``) build their exact and near keys on these codes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
# Tags keep numbers, text, booleans and missing cells apart in a column's codes.
TAG_FLOAT = np.uint64(0x1F3D5B79A2C4E6F8)
TAG_INT = np.uint64(0x6A09E667F3BCC908)
TAG_TEXT = np.uint64(0x3C6EF372FE94F82B)
MISSING = np.uint64(0x5BE0CD19137E2179)


def mix(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: a bijective, well-spread mix of 64-bit integers."""
    x = x ^ (x >> np.uint64(30))
    x = x * M1
    x = x ^ (x >> np.uint64(27))
    x = x * M2
    return x ^ (x >> np.uint64(31))


def number_codes(values: np.ndarray) -> np.ndarray:
    """Codes of float values: their bits (-0.0 read as 0.0), one code for every missing value."""
    clean = values + 0.0
    return np.where(np.isnan(clean), MISSING, clean.view(np.uint64) ^ TAG_FLOAT)


def is_numeric_dtype(dtype) -> bool:
    return (
        pd.api.types.is_numeric_dtype(dtype)
        and not pd.api.types.is_bool_dtype(dtype)
        and not isinstance(dtype, pd.CategoricalDtype)
    )


def text_codes(text: pd.Series) -> np.ndarray:
    return pd.util.hash_array(text.to_numpy(dtype=object)) ^ TAG_TEXT


def as_text(value) -> str:
    """A distinct value as text that keeps its type: 'str:abc', 'bool:True' ..."""
    if isinstance(value, str):
        return "str:" + str(value)
    if isinstance(value, (bool, np.bool_)):
        return f"bool:{bool(value)}"
    return f"{type(value).__name__}:{value}"


def is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def exact_row_keys(frame: pd.DataFrame, columns: list[str] | tuple[str, ...]) -> np.ndarray:
    """The exact keys of ``frame``'s rows over ``columns`` (in this order), as ``row_keys``
    computes them, without the retype tag."""
    keys = np.zeros(len(frame), np.uint64)
    for j, column in enumerate(columns):
        salt = mix(np.array([j + 1], dtype=np.uint64) * GOLDEN)[0]
        keys = mix(keys ^ mix(exact_column_codes(frame[column]) ^ salt))
    return keys


def exact_column_codes(series: pd.Series) -> np.ndarray:
    """The exact codes of a column's values (``checks._row_keys.column_codes(series)[0]``):
    numbers by their float bits (3 == 3.0, -0.0 == 0.0, one code for every missing value),
    datetimes by their nanoseconds, anything else by its type and text."""
    dtype = series.dtype
    if is_numeric_dtype(dtype):
        return number_codes(series.to_numpy(dtype=float, na_value=np.nan))
    if pd.api.types.is_datetime64_any_dtype(dtype):
        values = series.to_numpy(dtype="datetime64[ns]").astype(np.int64).view(np.uint64)
        return np.where(series.isna().to_numpy(), MISSING, values ^ TAG_INT)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    values = pd.Series(np.asarray(uniques, dtype=object), dtype=object)
    numeric = values.map(is_number).to_numpy(dtype=bool)
    exact = np.empty(len(values), dtype=np.uint64)
    if numeric.any():
        exact[numeric] = number_codes(values[numeric].astype(float).to_numpy())
    if (~numeric).any():
        exact[~numeric] = text_codes(values[~numeric].map(as_text))
    return np.append(exact, MISSING)[codes]
