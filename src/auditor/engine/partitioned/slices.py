"""The slice search's confirmation on every row: a pass that counts the candidates.

The search (``slices.discover``) runs in memory on the seeded sample's rows of the
*search half*; the halves are drawn by row hash (by the hash of the group's value when a
group column is declared), so every row of the dataset belongs to one half whatever the
partitioning, and no row of the confirmation half took part in the search. This pass
then reads every row, computes its error as the check defines it, evaluates each
candidate's conditions as the report states them, and sums ``slices.row_sums`` per half;
the sums merge by addition, and ``slices.confirm_counted`` judges the candidates from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from auditor.engine.partitioned.hashing import seeded, uniform
from auditor.engine.row_keys import exact_column_codes
from auditor.slices.encoding import ConditionMasks
from auditor.slices.errors import expected_errors, per_row_errors
from auditor.slices.procedure import row_sums

HALF_STREAM = 2


@dataclass(frozen=True)
class SliceQuery:
    """What the pass counts (pickled to the workers).

    ``conditions``: one tuple of ``{"column", "op", "value"}`` per set of rows, as
    ``slices.conditions_of`` writes them; ``numeric``: the columns read as numbers;
    ``threshold``: losses above it are the search's flags; ``shift``: the outcome's shift
    for ``row_sums``.
    """

    error: str
    conditions: tuple[tuple[dict[str, Any], ...], ...]
    numeric: tuple[str, ...]
    group: str | None
    threshold: float | None
    shift: float


def in_search_half(
    frame: pd.DataFrame, hashes: np.ndarray, group: str | None, seed: int
) -> np.ndarray:
    """Whether each row is in the search half: by its hash, or its group value's with a
    group column (the same entity never on both sides)."""
    if group is not None:
        hashes = seeded(exact_column_codes(frame[group]), seed)
    return uniform(hashes, HALF_STREAM) < 0.5


def slice_partition(group: Any, plan: Any, query: SliceQuery, model: Any, storage: dict):
    """The ``row_sums`` of one row group: shape (sets + 1, 2 halves, 7) (runs on a worker)."""
    from auditor.engine.partitioned.run import evaluation, labelled_rows

    frame, _, raw = labelled_rows(group, plan, storage)
    data = evaluation(frame, plan, model, f"{group.path} (row group {group.index})")
    search_half = in_search_half(frame, seeded(raw, plan.seed), query.group, plan.seed)
    rows, errors, losses, _ = per_row_errors(query.error, data)
    expected = expected_errors(query.error, data)
    if rows is not None:
        frame, search_half = frame.iloc[rows], search_half[rows]
    if losses is None:
        flags = np.asarray(errors, dtype=bool)
        outcome = flags.astype(np.float64)
    else:
        flags = losses > query.threshold
        outcome = losses
    masks = ConditionMasks(frame, query.numeric)
    inside = np.zeros((len(query.conditions), len(frame)), dtype=bool)
    for j, conditions in enumerate(query.conditions):
        inside[j] = masks(conditions)
    return row_sums(
        inside, search_half, flags, outcome, None if expected is None else expected, query.shift
    )
