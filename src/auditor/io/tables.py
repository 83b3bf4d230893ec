"""Reading tabular data (CSV, Parquet) into pandas, with one-line errors for bad files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from auditor.errors import InputError, preview
from auditor.io.files import existing_file

CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
_NESTED = (list, tuple, dict, set, np.ndarray)


def read_table(path: str | Path, *, source: str = "table") -> pd.DataFrame:
    """Read a CSV or Parquet file into a DataFrame.

    Parameters
    ----------
    path : str or Path
        The file; its suffix chooses the reader (``.csv``, ``.csv.gz``, ``.tsv``,
        ``.parquet``, ``.pq``).
    source : str, default="table"
        Where the path came from (``--train``, ``train =`` ...), named in errors.

    Raises
    ------
    InputError
        The file is missing, empty, unreadable, or has duplicate or empty column names.
    """
    path = existing_file(path, source)
    name = path.name.lower()
    if path.stat().st_size == 0:
        raise InputError(
            f"{source} {path.name!r} is empty. Pass a file with a header row and data rows."
        )
    try:
        if name.endswith(PARQUET_SUFFIXES):
            frame = pd.read_parquet(path)
        elif name.endswith(CSV_SUFFIXES):
            sep = "\t" if name.endswith(".tsv") else ","
            _reject_duplicate_header(path, sep, source)
            frame = pd.read_csv(path, sep=sep, low_memory=False)
        else:
            raise InputError(
                f"{source} {path.name!r} has an unknown file type. "
                "Pass a .csv, .csv.gz, .tsv or .parquet file."
            )
    except InputError:
        raise
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"{source} {path.name!r} could not be read as a table ({first_line}). "
            "Check that it is a valid CSV (comma-separated, UTF-8) or Parquet file."
        ) from None
    return check_frame(frame, source=f"{source} {path.name!r}")


def check_frame(frame: pd.DataFrame, *, source: str) -> pd.DataFrame:
    """Validate a loaded or in-memory frame: rows present, column names unique strings."""
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        raise InputError(
            f"{source} has no data rows. Pass a table with a header row and data rows."
        )
    names = [str(c) for c in frame.columns]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InputError(
            f"{source} has duplicate column names {preview(duplicated)}. Rename them so each is unique."
        )
    if any(n.strip() == "" for n in names):
        raise InputError(f"{source} has a column with an empty name. Give every column a name.")
    if list(frame.columns) != names:
        frame = frame.set_axis(names, axis=1)
    return frame.reset_index(drop=True)


def _reject_duplicate_header(path: Path, sep: str, source: str) -> None:
    # pandas silently renames a repeated header 'x' to 'x.1'; the user should know.
    header = pd.read_csv(path, sep=sep, header=None, nrows=1, dtype=str).iloc[0].tolist()
    duplicated = sorted({h for h in header if header.count(h) > 1}, key=str)
    if duplicated:
        raise InputError(
            f"{source} {path.name!r} has duplicate column names {preview(duplicated)}. "
            "Rename them so each is unique."
        )


def from_user_frame(frame, *, source: str) -> pd.DataFrame:
    """Accept a pandas or polars DataFrame from the Python API and return pandas."""
    if isinstance(frame, pd.DataFrame):
        return check_frame(frame.copy(deep=False), source=source)
    if type(frame).__module__.startswith("polars"):
        return check_frame(frame.to_pandas(), source=source)
    raise InputError(
        f"{source} must be a pandas or polars DataFrame or a file path; got {type(frame).__name__}."
    )


def nested_columns_as_text(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Turn columns holding lists, dicts or arrays (Parquet list/struct) into JSON text.

    Checks compare, count and hash values; a list cannot be hashed. As text, equal nested
    values still compare equal and the column is treated as categorical. Returns the frame
    and the names of the columns converted.
    """
    converted = []
    for column in frame.columns:
        series = frame[column]
        # infer_dtype scans in C and says "mixed" for lists and dicts: only such columns
        # pay for a per-value look (1M x 10 text columns: 0.08 s instead of 1.9 s).
        if (
            not pd.api.types.is_object_dtype(series.dtype)
            or pd.api.types.infer_dtype(series, skipna=True) != "mixed"
        ):
            continue
        if not series.map(lambda v: isinstance(v, _NESTED)).any():
            continue
        converted.append(column)
        frame = frame.assign(**{column: series.map(_as_json_text)})
    return frame, converted


def _as_json_text(value: Any) -> Any:
    if isinstance(value, _NESTED):
        return json.dumps(_plain(value), sort_keys=True, default=str)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value.item() if isinstance(value, np.generic) else value
