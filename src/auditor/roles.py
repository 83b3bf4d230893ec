"""Column roles: which columns are ids, times, groups, sensitive attributes and features.

Declared roles win. Undeclared ids and times are inferred conservatively, and every
inference is recorded with its reason so the report can say what was assumed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from auditor.errors import InputError, preview
from auditor.spec import ColumnRolesSpec

_KEY_NAME = re.compile(
    r"(^|_)(id|uuid|guid|key|number|no|nr)$|^(id|uuid|guid|index|row)$|(?<=[a-z])Id$"
)
_MIN_ROWS_FOR_ID_INFERENCE = 50


@dataclass(frozen=True, slots=True)
class ColumnRoles:
    """Resolved roles. ``features`` are the columns checks treat as model inputs."""

    features: tuple[str, ...]
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    id: tuple[str, ...] = ()
    group: str | None = None
    time: str | None = None
    sensitive: tuple[str, ...] = ()
    inferred: dict[str, str] = field(default_factory=dict)

    def to_manifest(self) -> dict:
        return {
            "features": list(self.features),
            "numeric": list(self.numeric),
            "categorical": list(self.categorical),
            "id": list(self.id),
            "group": self.group,
            "time": self.time,
            "sensitive": list(self.sensitive),
            "inferred": dict(self.inferred),
        }


def resolve_roles(
    declared: ColumnRolesSpec, frames: dict[str, pd.DataFrame], target: str
) -> ColumnRoles:
    """Check declared roles against every frame and infer the undeclared ones."""
    for role, column in (
        ("--id-column", declared.id),
        ("--group-column", declared.group),
        ("--time-column", declared.time),
    ):
        if column is not None:
            _require_column(column, role, frames)
    for column in declared.sensitive:
        _require_column(column, "--sensitive", frames)
    reference = next(iter(frames.values()))
    inferred: dict[str, str] = {}
    ids = [declared.id] if declared.id else []
    if declared.id is None:
        for column in reference.columns:
            reason = _id_reason(reference[column], column)
            if column != target and reason and column not in (declared.group, declared.time):
                ids.append(column)
                inferred[column] = f"identifier: {reason}"
    time = declared.time
    excluded = {target, *ids, *([time] if time else [])}
    features = tuple(c for c in reference.columns if c not in excluded)
    numeric = tuple(c for c in features if _is_numeric(reference[c]))
    categorical = tuple(c for c in features if c not in numeric)
    return ColumnRoles(
        features=features,
        numeric=numeric,
        categorical=categorical,
        id=tuple(ids),
        group=declared.group,
        time=time,
        sensitive=declared.sensitive,
        inferred=inferred,
    )


def _require_column(column: str, role: str, frames: dict[str, pd.DataFrame]) -> None:
    for name, frame in frames.items():
        if column not in frame.columns:
            raise InputError(
                f"{role} {column!r} is not a column of the {name} data; columns are "
                f"{preview(frame.columns)}. Pass one of them to {role}."
            )


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _id_reason(series: pd.Series, name: str) -> str | None:
    """Why ``series`` looks like a row identifier, or None.

    Only columns unique on every row qualify: a unique, key-named column, or a unique
    integer column that increases with the row order. Unique floats (measurements) never do.
    """
    n = len(series)
    if n < _MIN_ROWS_FOR_ID_INFERENCE or series.isna().any() or not series.is_unique:
        return None
    if _KEY_NAME.search(str(name).lower()) or _KEY_NAME.search(str(name)):
        return "unique on every row and named like a key"
    if pd.api.types.is_integer_dtype(series) and series.is_monotonic_increasing:
        return "unique, increasing integers"
    return None
