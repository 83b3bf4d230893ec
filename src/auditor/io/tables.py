"""Reading tabular data (CSV, Parquet) into pandas, with one-line errors for bad files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from auditor.errors import InputError, preview
from auditor.io.files import existing_file

CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")


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
