"""Helpers shared by checks: status from findings, row hashing, row examples."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from auditor.result import Finding, Status

# Findings quote at most this many example row positions: evidence stays small.
MAX_EXAMPLE_ROWS = 10


def status_from(findings: Iterable[Finding]) -> Status:
    """``fail`` if any finding is high severity, ``warn`` if any is medium, else ``pass``."""
    severities = {f.severity for f in findings}
    if "high" in severities:
        return "fail"
    return "warn" if "medium" in severities else "pass"


def row_hashes(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """A 64-bit hash per row over ``columns`` (values and their types; NaN equals NaN)."""
    if not columns:
        return np.zeros(len(frame), dtype=np.uint64)
    return pd.util.hash_pandas_object(frame[list(columns)], index=False).to_numpy()


def example_rows(positions: Iterable[int], limit: int = MAX_EXAMPLE_ROWS) -> list[int]:
    """The first ``limit`` row positions (0-based, in file order) as plain ints."""
    out = []
    for position in positions:
        if len(out) == limit:
            break
        out.append(int(position))
    return out


def splits(ctx) -> dict[str, pd.DataFrame]:
    """The splits present, train first: ``{"train": ..., "test": ...}`` or ``{"test": ...}``."""
    return {"test": ctx.test} if ctx.train is None else {"train": ctx.train, "test": ctx.test}
