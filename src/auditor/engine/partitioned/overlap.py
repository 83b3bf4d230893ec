"""Exact train/test overlap on every row: a hash-partitioned join of the rows' exact keys.

Each row group's rows get the exact keys of ``leakage.train_test_overlap``
(``engine.row_keys.exact_row_keys``: the same columns in the same order, the same
normalisation of values), sorted and cut into ``2**bits`` buckets by their top bits. One
task per bucket then holds every train and test key of that bucket (about
``_ROWS_PER_BUCKET`` rows): it counts the train rows whose key repeats another train row's
and the test rows whose key is a train row's. Equal keys fall in one bucket, so the sums
over buckets are the counts of the whole dataset, whatever its partitioning.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from auditor.engine.partitioned.source import RowGroup, read_labelled

_ROWS_PER_BUCKET = 4_000_000  # train and test keys of one bucket task: 64 MB of uint64


@dataclass(frozen=True)
class OverlapPlan:
    target: str
    columns: tuple[str, ...]  # the key columns, in ``key_columns(ctx)``'s order
    bits: int  # 2**bits buckets


def bucket_bits(rows: int, rows_per_bucket: int | None = None) -> int:
    """Buckets of about ``rows_per_bucket`` rows (train and test): ``2**bits`` of them."""
    per_bucket = rows_per_bucket or _ROWS_PER_BUCKET
    return math.ceil(math.log2(rows / per_bucket)) if rows > per_bucket else 0


def bucket_starts(bits: int) -> np.ndarray:
    """The first key of each bucket but the first: keys cut by their top ``bits`` bits."""
    return np.arange(1, 1 << bits, dtype=np.uint64) << np.uint64(64 - bits)


def partition_keys(group: RowGroup, plan: OverlapPlan, storage: dict) -> tuple[np.ndarray, ...]:
    """The sorted exact keys of one row group's labelled rows, one array per bucket."""
    from auditor.engine.row_keys import exact_row_keys

    frame, _ = read_labelled(group, list(plan.columns), plan.target, storage)
    keys = np.sort(exact_row_keys(frame, plan.columns))
    if plan.bits == 0:
        return (keys,)
    return tuple(np.split(keys, np.searchsorted(keys, bucket_starts(plan.bits))))


def bucket_counts(train: list[np.ndarray], test: list[np.ndarray]) -> np.ndarray:
    """[test rows whose key is a train row's, train rows whose key repeats] of one bucket."""
    train_keys = np.concatenate(train) if train else np.zeros(0, np.uint64)
    test_keys = np.concatenate(test) if test else np.zeros(0, np.uint64)
    unique, counts = np.unique(train_keys, return_counts=True)
    repeated = int(counts[counts > 1].sum())
    found = np.searchsorted(unique, test_keys)
    inside = found < unique.size
    in_train = int((unique[found[inside]] == test_keys[inside]).sum())
    return np.array([in_train, repeated], dtype=np.int64)


def bucketed_sums(
    client: Any,
    groups: dict[str, list[RowGroup]],
    partition: Callable[..., tuple],
    plan: Any,
    storage: dict,
    bucket: Callable[..., np.ndarray],
) -> np.ndarray:
    """A hash-partitioned join on Dask: ``partition(group, plan, storage)`` gives one row
    group's items per bucket (``2**plan.bits`` of them); ``bucket(*per_split)`` reduces one
    bucket's items of every split (in ``groups``' order) to an array; the arrays are summed.
    """
    items = {
        name: client.map(
            partition, gs, [plan] * len(gs), [storage] * len(gs), pure=False, retries=1
        )
        for name, gs in groups.items()
    }
    slices = []
    buckets = []
    for b in range(1 << plan.bits):
        per_split = [
            [client.submit(operator.getitem, f, b, pure=False) for f in futures]
            for futures in items.values()
        ]
        slices += [f for split in per_split for f in split]
        buckets.append(client.submit(bucket, *per_split, pure=False))
    try:
        return np.sum(client.gather(buckets), axis=0)
    finally:
        for future in [*(f for fs in items.values() for f in fs), *slices, *buckets]:
            future.release()


def overlap_counts(
    client: Any,
    groups: dict[str, list[RowGroup]],
    plan: OverlapPlan,
    storage: dict,
) -> dict[str, int]:
    """``test_in_train`` and ``train_repeated`` over every row (runs the pass on Dask)."""
    total = bucketed_sums(
        client,
        {name: groups[name] for name in ("train", "test")},
        partition_keys,
        plan,
        storage,
        bucket_counts,
    )
    return {"test_in_train": int(total[0]), "train_repeated": int(total[1])}
