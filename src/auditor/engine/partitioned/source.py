"""Parquet datasets as lists of row groups: a directory, a glob or an fsspec URL.

One task reads one row group, and only the columns its pass needs: on workers of 1.5 GiB
the peak memory is a row group's columns, not a file's. A read that fails is one
``PartitionReadError`` naming the file and the row group.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd


class PartitionReadError(Exception):
    """A file or row group of a Parquet dataset could not be read (the message names it)."""


@dataclass(frozen=True, slots=True)
class RowGroup:
    path: str  # as fsspec names it, the protocol included for remote files
    index: int
    rows: int


def list_files(source: str, storage_options: dict[str, Any] | None = None) -> list[str]:
    """The Parquet files of ``source``, sorted: one file, every ``*.parquet`` under a
    directory (hidden files and ``_SUCCESS``-style markers left out), or a glob's matches."""
    import fsspec

    fs, _, paths = fsspec.get_fs_token_paths(source, storage_options=storage_options or {})
    files: list[str] = []
    for path in paths:
        if fs.isdir(path):
            files += [
                p
                for p in fs.find(path)
                if p.endswith((".parquet", ".parq", ".pq"))
                and not any(part.startswith((".", "_")) for part in p.split("/"))
            ]
        else:
            files.append(path)
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    if protocol not in ("file", "local"):
        files = [f"{protocol}://{p}" for p in files]
    return sorted(files)


def row_groups_of(path: str, storage_options: dict[str, Any] | None = None) -> list[RowGroup]:
    """The row groups of one file from its footer (a worker task: footers only)."""
    import fsspec
    import pyarrow.parquet as pq

    try:
        with fsspec.open(path, "rb", **(storage_options or {})) as handle:
            meta = pq.ParquetFile(handle).metadata
            return [
                RowGroup(path, i, meta.row_group(i).num_rows) for i in range(meta.num_row_groups)
            ]
    except Exception as exc:  # noqa: BLE001 - any failure is the file's, named in one line
        raise PartitionReadError(f"{path}: {_first_line(exc)}") from None


def schema_of(path: str, storage_options: dict[str, Any] | None = None) -> list[str]:
    """The column names of one file."""
    return list(_arrow_schema(path, storage_options).names)


def number_columns_of(path: str, storage_options: dict[str, Any] | None = None) -> list[str]:
    """The columns of one file stored as integers, decimals or floats (not booleans)."""
    import pyarrow.types as pat

    return [
        f.name
        for f in _arrow_schema(path, storage_options)
        if pat.is_integer(f.type) or pat.is_floating(f.type) or pat.is_decimal(f.type)
    ]


def _arrow_schema(path: str, storage_options: dict[str, Any] | None):
    import fsspec
    import pyarrow.parquet as pq

    try:
        with fsspec.open(path, "rb", **(storage_options or {})) as handle:
            return pq.ParquetFile(handle).schema_arrow
    except Exception as exc:  # noqa: BLE001
        raise PartitionReadError(f"{path}: {_first_line(exc)}") from None


def read_row_group(
    group: RowGroup, columns: list[str] | None, storage_options: dict[str, Any] | None = None
) -> pd.DataFrame:
    """One row group as a pandas frame, ``columns`` only."""
    import fsspec
    import pyarrow.parquet as pq

    try:
        with fsspec.open(group.path, "rb", **(storage_options or {})) as handle:
            table = pq.ParquetFile(handle).read_row_group(group.index, columns=columns)
        return table.to_pandas()
    except Exception as exc:  # noqa: BLE001
        raise PartitionReadError(
            f"{group.path} (row group {group.index}): {_first_line(exc)}"
        ) from None


def read_labelled(
    group: RowGroup,
    columns: list[str] | None,
    target: str,
    storage_options: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, int]:
    """One row group's rows that have a label (``columns`` only, the target among them or
    added), renumbered from 0, and how many rows were left out: every pass reads the same
    rows, so their counts and positions agree. No copy when every row has a label."""
    wanted = None if columns is None else list(dict.fromkeys([*columns, target]))
    frame = read_row_group(group, wanted, storage_options)
    labelled = frame[target].notna().to_numpy()
    dropped = int((~labelled).sum())
    if dropped:
        frame = frame.loc[labelled].reset_index(drop=True)
    return frame, dropped


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:300]}" if text else type(exc).__name__
