"""Rows repeated inside one split, on every row: copies (``data.duplicate_rows``) and
identical rows with different labels (``data.conflicting_labels``).

Both checks compare rows on the same columns (``row_content_columns``: all but ids and
the target), the copies with the target as well. Each row gets the exact key of those
columns (``engine.row_keys``, as the overlap pass) and the exact code of its label; rows
are cut into buckets by their key's top bits, so every group of identical rows sits in one
bucket, and one task per bucket counts what both checks need. The sums over buckets are the
counts of the whole split, whatever its partitioning.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from auditor.engine.partitioned.overlap import bucket_starts
from auditor.engine.partitioned.source import RowGroup, read_labelled

# What ``bucket_repeats`` returns, in this order.
REPEAT_COUNTS = ("copies", "identical_pairs", "conflict_rows", "conflict_pairs")


@dataclass(frozen=True)
class RepeatPlan:
    target: str
    columns: tuple[str, ...]  # compared columns, the target left out
    bits: int  # 2**bits buckets


def partition_rows(
    group: RowGroup, plan: RepeatPlan, storage: dict
) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """One row group's (keys, label codes) of its labelled rows, sorted, per bucket."""
    from auditor.engine.row_keys import exact_column_codes, exact_row_keys

    frame, _ = read_labelled(group, list(plan.columns), plan.target, storage)
    keys = exact_row_keys(frame, plan.columns)
    labels = exact_column_codes(frame[plan.target])
    order = np.lexsort((labels, keys))
    keys, labels = keys[order], labels[order]
    if plan.bits == 0:
        return ((keys, labels),)
    cuts = np.searchsorted(keys, bucket_starts(plan.bits))
    return tuple(zip(np.split(keys, cuts), np.split(labels, cuts), strict=True))


def bucket_repeats(parts: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """``REPEAT_COUNTS`` of one bucket: copies of an earlier row (a row seen c times adds
    c - 1) and identical row pairs, target included; rows in groups identical but for the
    label that hold two or more labels, and their pairs with different labels."""
    keys = np.concatenate([k for k, _ in parts]) if parts else np.zeros(0, np.uint64)
    labels = np.concatenate([lab for _, lab in parts]) if parts else np.zeros(0, np.uint64)
    if keys.size == 0:
        return np.zeros(len(REPEAT_COUNTS))
    order = np.lexsort((labels, keys))
    keys, labels = keys[order], labels[order]
    new_key = np.r_[True, keys[1:] != keys[:-1]]
    new_row = new_key | np.r_[True, labels[1:] != labels[:-1]]
    row_counts = np.diff(np.r_[np.flatnonzero(new_row), keys.size]).astype(np.float64)
    key_of_row = (np.cumsum(new_key) - 1)[new_row]  # the key group of each distinct row
    group_rows = np.bincount(key_of_row, weights=row_counts)
    labels_in_group = np.bincount(key_of_row)
    same_label_pairs = np.bincount(key_of_row, weights=row_counts * (row_counts - 1) / 2)
    conflicted = labels_in_group >= 2
    return np.array(
        [
            (row_counts - 1).sum(),
            (row_counts * (row_counts - 1) / 2).sum(),
            group_rows[conflicted].sum(),
            (group_rows * (group_rows - 1) / 2 - same_label_pairs)[conflicted].sum(),
        ]
    )
