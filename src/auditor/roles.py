"""Column roles: which columns are ids, times, groups, sensitive attributes and features.

Declared roles win. Undeclared roles are inferred conservatively from the reference frame
(train when given, else test), and every inference is recorded in ``ColumnRoles.inferred``
with its reason, so the report can say what was assumed ("Column 'x' was treated as an
<reason>"; reasons are phrased to complete that sentence).

What is inferred, and why:

- **Row identifiers** (``id``): unique on every row *and* one of: named like a key
  (``customer_id``, ``CustomerID``, ``uuid`` ...), a leftover pandas index (``Unnamed: 0``),
  increasing or consecutive integers, UUID-shaped strings, or code-shaped strings (no spaces,
  with a digit, like ``TX-000123``). Unique floats (measurements) and free text never are.
- **Entity identifiers** (``entities``): named like a key (or UUID-shaped) but repeating, with
  many distinct values (``customer_id`` in a table of transactions). They are not made the
  group role (a grouped-leakage check should run on a declared entity only), but they are
  left out of ``features``: a drift or unseen-category test on an id is noise.
- **Date columns** (``dates``): datetime dtypes; text where at least 95% of a sample of
  non-null values parse with one date format; integers named like a date that hold Unix
  timestamps. They are left out of ``features`` (a date always "drifts" between a past train
  set and a later test set). Without ``--time-column`` no date becomes the time role:
  temporal checks run on a declared time column only.

Everything else is a feature: numeric when its dtype is numeric (booleans excluded),
categorical otherwise (strings, booleans, categories). Declared id, group, time and weight
columns are not features; declared sensitive columns stay features (they may be model inputs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from auditor.engine.kinds import value_kind as value_kind  # re-exported for the checks
from auditor.engine.time import EPOCH_RANGES, choose_date_format
from auditor.engine.time import parse_dates as parse_dates  # re-exported for the checks
from auditor.errors import InputError, preview
from auditor.spec import ColumnRolesSpec

_KEY_NAME = re.compile(r"(^|_)(id|uuid|guid|key|number|no|nr)$|^(id|uuid|guid|index|row|rownum)$")
_CAMEL_KEY = re.compile(r"(?<=[a-z])(Id|ID|Uuid|UUID|Key|No|Nr)$")
_PANDAS_INDEX = re.compile(r"^Unnamed: \d+$")
_DATE_NAME = re.compile(
    r"(^|_)(date|time|timestamp|datetime|ts|dt|created|updated)$|_(at|on)$|^(date|time|timestamp)_"
)
_CAMEL_DATE = re.compile(r"(?<=[a-z])(Date|Time|Timestamp|At)$")
_UUID = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)
_CODE = re.compile(r"^(?=.*\d)[\w\-:.#/@+]{1,64}$")

_MIN_ROWS_FOR_ID_INFERENCE = 50
_MIN_DISTINCT_FOR_ENTITY = 50
_MIN_DISTINCT_SHARE_FOR_ENTITY = 0.05
_MANY_DISTINCT_FOR_ENTITY = 1000
_DATE_SHARE = 0.95
_MIN_DATE_VALUES = 5
SAMPLE_SIZE = 2000


@dataclass(frozen=True, slots=True)
class ColumnRoles:
    """Resolved roles. ``features`` are the columns checks treat as model inputs.

    Attributes
    ----------
    features : tuple of str
        Every column but the target, ids, entities, the group, the time and date columns.
    numeric, categorical : tuple of str
        ``features`` split by dtype: numeric (booleans excluded) or not.
    id : tuple of str
        Row identifiers, declared or inferred (unique on every row).
    entities : tuple of str
        Inferred entity identifiers (key-named, repeating); not features, not the group.
    dates : tuple of str
        Date or datetime columns other than the declared time column; not features.
    group, time : str or None
        Declared group (entity) and time columns.
    sensitive : tuple of str
        Declared sensitive columns (they stay features).
    weight : str or None
        Declared sample-weight column; never a feature.
    inferred : dict
        Column -> why its role was inferred.
    """

    features: tuple[str, ...]
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    id: tuple[str, ...] = ()
    group: str | None = None
    time: str | None = None
    sensitive: tuple[str, ...] = ()
    inferred: dict[str, str] = field(default_factory=dict)
    dates: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    weight: str | None = None

    def to_manifest(self) -> dict:
        return {
            "features": list(self.features),
            "numeric": list(self.numeric),
            "categorical": list(self.categorical),
            "id": list(self.id),
            "entities": list(self.entities),
            "dates": list(self.dates),
            "group": self.group,
            "time": self.time,
            "sensitive": list(self.sensitive),
            "weight": self.weight,
            "inferred": dict(self.inferred),
        }


def resolve_roles(
    declared: ColumnRolesSpec, frames: dict[str, pd.DataFrame], target: str
) -> ColumnRoles:
    """Check declared roles against every frame and infer the undeclared ones.

    Parameters
    ----------
    declared : ColumnRolesSpec
        The roles the user declared; they always win over inference.
    frames : dict of str to DataFrame
        The splits by name, the reference (train when present) first.
    target : str
        The label column: never a feature, never inferred as anything.

    Raises
    ------
    InputError
        A declared column is missing from one of the frames.
    """
    for role, column in (
        ("--id-column", declared.id),
        ("--group-column", declared.group),
        ("--time-column", declared.time),
    ):
        if column is not None:
            _require_column(column, role, frames)
    if declared.weight is not None:
        # Weights may describe the test population only: training rows may go without.
        _require_column(declared.weight, "--weight-column", {"test": frames["test"]})
    for column in declared.sensitive:
        _require_column(column, "--sensitive", frames)
    reference = next(iter(frames.values()))
    fixed = {
        target,
        declared.id,
        declared.group,
        declared.time,
        declared.weight,
        *declared.sensitive,
    } - {None}

    inferred: dict[str, str] = {}
    ids = [declared.id] if declared.id else []
    entities: list[str] = []
    dates: list[str] = []
    for column in reference.columns:
        if column in fixed:
            continue
        series = reference[column]
        kind = value_kind(series)
        reason = _date_reason(series, column, kind)
        if reason is not None:
            dates.append(column)
            inferred[column] = reason
            continue
        reason = _id_reason(series, column, kind)
        if reason is not None:
            ids.append(column)
            inferred[column] = f"identifier ({reason}); not used as a feature"
            continue
        reason = _entity_reason(series, column, kind)
        if reason is not None:
            entities.append(column)
            inferred[column] = (
                f"entity identifier ({reason}); not used as a feature; declare it with "
                "--group-column to check group leakage"
            )
    if declared.time is None and dates:
        hint = "; declare it with --time-column to check temporal leakage"
        for column in dates:
            inferred[column] += hint

    excluded = {
        target,
        *ids,
        *entities,
        *dates,
        declared.group,
        declared.time,
        declared.weight,
    } - {None}
    every_column = dict.fromkeys(c for frame in frames.values() for c in frame.columns)
    for column in every_column:
        lacking = [name for name, frame in frames.items() if column not in frame.columns]
        if lacking and column not in excluded:
            excluded.add(column)
            inferred[column] = (
                f"missing from the {' and '.join(lacking)} data; not compared between splits"
            )
    features = tuple(c for c in reference.columns if c not in excluded)
    numeric = tuple(c for c in features if _is_numeric(reference[c]))
    categorical = tuple(c for c in features if c not in numeric)
    return ColumnRoles(
        features=features,
        numeric=numeric,
        categorical=categorical,
        id=tuple(ids),
        group=declared.group,
        time=declared.time,
        sensitive=declared.sensitive,
        weight=declared.weight,
        inferred=inferred,
        dates=tuple(dates),
        entities=tuple(entities),
    )


# --- value kinds ---------------------------------------------------------------------------


def sample_values(series: pd.Series, size: int = SAMPLE_SIZE) -> pd.Series:
    """Up to ``size`` non-null values, evenly spaced over the rows (deterministic)."""
    n = len(series)
    if n > 4 * size:
        # Thin out first: dropping missing values of a million-row object column is slow.
        values = series.iloc[np.linspace(0, n - 1, 4 * size).astype(np.intp)].dropna()
        if len(values) < size:
            values = series.dropna()
    else:
        values = series.dropna()
    if len(values) > size:
        values = values.iloc[np.linspace(0, len(values) - 1, size).astype(np.intp)]
    return values


def as_text(values: pd.Series) -> pd.Series:
    """``values`` as Python strings in an object Series (for regexes on a small sample).

    Python's ``re`` runs on object data whatever the original storage; pyarrow-backed
    strings would otherwise go to pyarrow's regex engine, which lacks look-arounds.
    """
    return pd.Series(values.astype(str).to_numpy(dtype=object), index=values.index, dtype=object)


def date_format(series: pd.Series, *, share: float = _DATE_SHARE) -> tuple[str, float] | None:
    """The date format most of the column's text parses with, and the parsed share.

    A sample of non-null values must all be strings; at least ``share`` of them must look
    like dates and parse with one format (pandas' ``"ISO8601"`` or an explicit
    ``strftime`` format). Returns None when the column is not dates written as text.
    """
    if value_kind(series) != "text":
        return None
    return _text_date_format(series, share)


def _text_date_format(series: pd.Series, share: float = _DATE_SHARE) -> tuple[str, float] | None:
    sample = sample_values(series)
    if len(sample) < _MIN_DATE_VALUES:
        return None
    # The sample picks the format; day and month order is settled on the whole column by
    # the time reader's rule (auditor.engine.time), so every reader agrees on it.
    found = choose_date_format(as_text(sample), share=share, whole=series)
    return None if found is None else (found.format, found.share)


# --- inference rules -----------------------------------------------------------------------


def _require_column(column: str, role: str, frames: dict[str, pd.DataFrame]) -> None:
    for name, frame in frames.items():
        if column not in frame.columns:
            raise InputError(
                f"{role} {column!r} is not a column of the {name} data; columns are "
                f"{preview(frame.columns)}. Pass one of them to {role}."
            )


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _words(name: object) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "_", str(name)).strip("_")


def _key_named(name: object) -> bool:
    words = _words(name)
    return bool(_KEY_NAME.search(words.lower()) or _CAMEL_KEY.search(words))


def _date_named(name: object) -> bool:
    words = _words(name)
    return bool(_DATE_NAME.search(words.lower()) or _CAMEL_DATE.search(words))


def _date_reason(series: pd.Series, name: object, kind: str) -> str | None:
    """Why ``series`` (of value kind ``kind``) looks like a date column, or None."""
    if kind == "datetime":
        return "undeclared date column (it holds dates or datetimes); not used as a feature"
    if kind == "text":
        found = _text_date_format(series)
        if found is None:
            return None
        fmt, parsed_share = found
        shown = "ISO 8601" if fmt == "ISO8601" else fmt
        return (
            f"undeclared date column ({parsed_share:.0%} of sampled values parse as "
            f"{shown} dates); not used as a feature"
        )
    if kind == "integer" and _date_named(name):
        values = series.dropna()
        if values.empty:
            return None
        low, high = float(values.min()), float(values.max())
        for unit, lo, hi, _ in EPOCH_RANGES:
            if lo <= low and high <= hi:
                return (
                    f"undeclared date column (named like a date and holding Unix timestamps "
                    f"in {unit}); not used as a feature"
                )
    return None


def _id_reason(series: pd.Series, name: object, kind: str) -> str | None:
    """Why ``series`` looks like a row identifier, or None.

    Only columns unique on every row (no missing value) qualify. Cheap tests (name, dtype,
    a sample) run before the full uniqueness test, so wide tables stay fast.
    """
    n = len(series)
    if n < _MIN_ROWS_FOR_ID_INFERENCE:
        return None
    if kind not in ("integer", "text"):
        return None
    sample = sample_values(series)
    if len(sample) < min(n, SAMPLE_SIZE) or not sample.is_unique or series.isna().any():
        return None  # a repeat already in the sample, or a missing value
    reason = None
    if _key_named(name):
        reason = "unique on every row and named like a key"
    elif _PANDAS_INDEX.match(str(name)):
        reason = "unique on every row and named like a saved pandas index"
    elif kind == "integer":
        if series.is_monotonic_increasing:
            reason = "unique, increasing integers"
        elif float(series.max()) - float(series.min()) == n - 1:
            reason = "unique, consecutive integers"
    else:
        text = as_text(sample)
        if text.str.match(_UUID).all():
            reason = "unique on every row and shaped like a UUID"
        elif text.str.match(_CODE).all() and pd.to_numeric(text, errors="coerce").isna().all():
            reason = "unique on every row and shaped like a code"
    if reason is None or not series.is_unique:
        return None
    return reason


def _entity_reason(series: pd.Series, name: object, kind: str) -> str | None:
    """Why ``series`` looks like a repeating entity key (customer, account ...), or None."""
    if kind not in ("integer", "text"):
        return None
    named = _key_named(name)
    if not named:
        if kind != "text":
            return None
        sample = as_text(sample_values(series))
        if sample.empty or not sample.str.match(_UUID).all():
            return None
    values = series.dropna()
    n_distinct = int(values.nunique())
    if n_distinct < _MIN_DISTINCT_FOR_ENTITY or n_distinct == len(values):
        return None
    if n_distinct < _MANY_DISTINCT_FOR_ENTITY and (
        n_distinct < _MIN_DISTINCT_SHARE_FOR_ENTITY * len(values)
    ):
        return None
    shape = "named like a key" if named else "shaped like a UUID"
    return f"{shape}, with {n_distinct:,} distinct values repeating over {len(values):,} rows"
