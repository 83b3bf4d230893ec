"""Reading a time column: one decision per column, shared by every reader.

A time column may hold datetimes, dates written as text, Unix timestamps or plain numbers
(a year, a period index). How it is read is decided once, from every value of the column
(train and test together), so the cross-validation folds, the temporal checks and the role
inference order the same rows the same way.

Text is parsed with one explicit format per column (never pandas' per-value inference,
which can read ``03/01/2024`` as 3 January on one row and ``13/01/2024`` as 13 January on
the next). Day and month order is decided from the whole column:

- a value whose first field is above 12 makes the order day-first (month-first no longer
  parses it), one whose second field is above 12 makes it month-first;
- when both orders parse every value and some value reads differently (``03/01/2024``),
  the column is *ambiguous* and is read month-first, as pandas does by default; the
  decision is recorded (``TimeReading.note``) so the report can say so;
- ISO 8601 (``2024-03-01``), year-first and month-name formats are never ambiguous, and
  dotted dates (``01.03.2024``) are read day-first, the only convention that writes them.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from auditor.engine.kinds import value_kind

# A cheap screen before trying date formats: digits separated like a date, or a month name.
DATE_SHAPE = re.compile(
    r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|\d{4}-\d{2}(?!\d)"
    r"|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d"
    r"|\d\s+(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
)
# Formats tried, in order; pandas' ISO 8601 parser covers dates, times, 'T' and offsets.
# Month-first and day-first twins are both listed; which one a column uses is decided by
# ``choose_date_format`` from all its values, not by this order.
DATE_FORMATS = (
    "ISO8601",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M:%S",
    "%d.%m.%Y",
    "%d.%m.%Y %H:%M",
    "%m-%d-%Y",
    "%d-%m-%Y",
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M:%S",
    "%m/%d/%y",
    "%d/%m/%y",
    "%b %d, %Y",
    "%d %b %Y",
    "%B %d, %Y",
    "%d %B %Y",
)
# Unix timestamps between 2001-09-09 and 2036-07-18: (unit, low, high, seconds per unit).
EPOCH_RANGES = (("seconds", 1e9, 2.1e9, 1.0), ("milliseconds", 1e12, 2.1e12, 1e-3))
# Share of sampled text values that must parse with one format for the column to be dates.
TEXT_DATE_SHARE = 0.9
_SAMPLE = 2000


def _swapped(fmt: str) -> str:
    return fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


def _dayfirst(fmt: str) -> bool | None:
    """True/False for numeric day-and-month formats; None where the order cannot be confused."""
    if "%d" not in fmt or "%m" not in fmt or fmt.startswith("%Y"):
        return None
    return fmt.index("%d") < fmt.index("%m")


# Each format whose day and month can be read the other way round, with that other format.
_TWIN = {f: _swapped(f) for f in DATE_FORMATS if _swapped(f) != f and _swapped(f) in DATE_FORMATS}


@dataclass(frozen=True, slots=True)
class DateFormat:
    """The format a column's dates are written in.

    ``share`` is the share of the examined values it parses; ``dayfirst`` is None for
    formats where day and month cannot be confused (ISO 8601, year first, month names);
    ``ambiguous`` says both orders parse every value and read some differently, the
    month-first reading being chosen; ``example`` is then the first such value.
    """

    format: str
    share: float
    dayfirst: bool | None
    ambiguous: bool = False
    example: str | None = None


def parse_dates(series: pd.Series, fmt: str) -> pd.Series:
    """Parse text with ``fmt`` into UTC datetimes; values that do not parse become NaT."""
    with warnings.catch_warnings():
        # pandas 2.2 warns about mixed offsets and day-first ambiguity; both are handled
        # here by parsing to UTC with an explicit format.
        warnings.simplefilter("ignore")
        return pd.to_datetime(series, format=fmt, errors="coerce", utc=True)


def choose_date_format(
    values: pd.Series, *, share: float = TEXT_DATE_SHARE, whole: pd.Series | None = None
) -> DateFormat | None:
    """The format at least ``share`` of the text ``values`` parse with, or None.

    ``values`` is a sample of non-null strings (it picks the format); day and month order
    is then settled on every distinct value of ``whole`` (default: ``values``), so a single
    ``13/01/2024`` anywhere in the column makes it day-first.
    """
    text = _as_text(values.dropna())
    if text.empty or text.str.contains(DATE_SHAPE).mean() < share:
        return None
    best, best_share = "", -1.0
    for fmt in DATE_FORMATS:
        parsed_share = float(parse_dates(text, fmt).notna().mean())
        if parsed_share > best_share:
            best, best_share = fmt, parsed_share
        if parsed_share == 1.0:
            break
    if best_share < share:
        return None
    if best not in _TWIN:
        return DateFormat(best, best_share, _dayfirst(best))
    return _settle_day_month(best, text, values if whole is None else whole)


def _settle_day_month(fmt: str, sample: pd.Series, whole: pd.Series) -> DateFormat:
    month_first, day_first = (_TWIN[fmt], fmt) if _dayfirst(fmt) else (fmt, _TWIN[fmt])
    distinct = _as_text(pd.Series(pd.unique(whole.dropna()), dtype=object))
    by_month, by_day = parse_dates(distinct, month_first), parse_dates(distinct, day_first)
    ok_month, ok_day = by_month.notna().to_numpy(), by_day.notna().to_numpy()
    example = None
    if ok_day.sum() > ok_month.sum():
        chosen, ambiguous = day_first, False
    else:
        # Month-first is pandas' default: kept when it reads at least as many values.
        chosen = month_first
        differ = ok_month & ok_day & (by_month != by_day).to_numpy()
        ambiguous = bool((ok_month == ok_day).all() and differ.any())
        if ambiguous:
            example = str(distinct.iloc[int(np.argmax(differ))])
    parsed_share = float(parse_dates(sample, chosen).notna().mean())
    return DateFormat(chosen, parsed_share, _dayfirst(chosen), ambiguous, example)


@dataclass(frozen=True, slots=True)
class TimeFormat:
    """How one time column is read; decided once by ``decide_time_format``.

    ``kind`` is ``"datetime"`` (a datetime dtype or datetime objects), ``"text"`` (dates
    written as text in ``format``), ``"epoch"`` (Unix timestamps, ``scale`` seconds per
    unit), ``"number"`` (a year, a period index) or ``"none"`` (not times at all).
    """

    kind: str
    format: str | None = None
    dayfirst: bool | None = None
    ambiguous: bool = False
    example: str | None = None
    scale: float = 1.0

    @property
    def is_date(self) -> bool:
        """Whether the order key is seconds since 1970 (rather than plain numbers)."""
        return self.kind in ("datetime", "text", "epoch")

    @property
    def label(self) -> str:
        """The format for the record: a ``strftime`` format, ``ISO8601`` or the kind."""
        if self.kind == "text":
            return str(self.format)
        if self.kind == "epoch":
            return "unix seconds" if self.scale == 1.0 else "unix milliseconds"
        return self.kind

    def describe(self) -> str:
        """How the column is read, for messages: 'dates written as %d/%m/%Y' ..."""
        if self.kind == "text":
            shown = "ISO 8601" if self.format == "ISO8601" else self.format
            return f"dates written as {shown}"
        return {
            "datetime": "datetimes",
            "epoch": "Unix timestamps",
            "number": "numbers",
        }.get(self.kind, "not times")

    def parse(self, series: pd.Series) -> pd.Series:
        """``series`` read this way: naive UTC datetimes (NaT when unreadable), or floats.

        Datetimes for ``datetime`` and ``text``; floats for ``epoch`` (seconds since 1970)
        and ``number`` (the numbers themselves), NaN when missing or unreadable.
        """
        if self.kind == "none":
            return pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns]")
        if isinstance(series.dtype, pd.CategoricalDtype):
            series = series.astype(object)
        if self.kind == "datetime":
            return _naive_utc(series)
        if self.kind == "text":
            return _naive_utc(parse_dates(series.astype(object), str(self.format)))
        numbers = pd.to_numeric(series, errors="coerce")
        values = pd.Series(numbers, index=series.index).to_numpy(dtype=float, na_value=np.nan)
        return pd.Series(values * self.scale, index=series.index)


def decide_time_format(series: pd.Series) -> TimeFormat:
    """Decide from every value of ``series`` how it holds times (see the module notes)."""
    kind = _kind(series)
    if kind == "datetime":
        return TimeFormat("datetime")
    if kind == "number":
        return _numeric_format(pd.to_numeric(series, errors="coerce"))
    if kind == "text":
        sample = _spread(series)
        found = choose_date_format(sample, whole=series)
        if found is not None:
            return TimeFormat("text", found.format, found.dayfirst, found.ambiguous, found.example)
        numbers = pd.to_numeric(sample.iloc[:1000], errors="coerce")
        if len(numbers) and numbers.notna().all():
            return _numeric_format(pd.to_numeric(series, errors="coerce"))
    return TimeFormat("none")


def order_key(parsed: pd.Series) -> np.ndarray:
    """Floats that order like the parsed times: seconds since 1970 for datetimes (any
    resolution, no nanosecond overflow), the numbers themselves otherwise; NaN if missing."""
    if not pd.api.types.is_datetime64_any_dtype(parsed.dtype):
        return parsed.to_numpy(dtype=float, na_value=np.nan)
    values = parsed.to_numpy()
    unit, count = np.datetime_data(values.dtype)
    per_second = np.timedelta64(1, "s") / np.timedelta64(count, unit)
    seconds = values.view(np.int64) / per_second
    seconds[np.isnat(values)] = np.nan
    return seconds


@dataclass(frozen=True)
class TimeReading:
    """One time column read with one decision, for every split it appears in.

    ``values`` maps a split name (``"train"``, ``"test"``) to its parsed values (see
    ``TimeFormat.parse``); ``unparsed`` counts the non-missing values that did not parse.
    """

    column: Any  # the column name (a string in a table read from a file)
    how: TimeFormat
    values: Mapping[str, pd.Series]
    unparsed: int

    def key(self, split: str) -> np.ndarray:
        """``order_key`` of one split's values."""
        return order_key(self.values[split])

    @property
    def record(self) -> dict[str, Any]:
        """The decision as small JSON values."""
        return {
            "column": self.column,
            "kind": self.how.kind,
            "format": self.how.label,
            "dayfirst": self.how.dayfirst,
            "ambiguous": self.how.ambiguous,
            "unparsed": self.unparsed,
        }

    @property
    def note(self) -> str | None:
        """What the audit assumed about the column, when day and month were ambiguous."""
        if not self.how.ambiguous or self.how.example is None:
            return None
        read = pd.to_datetime(self.how.example, format=str(self.how.format))
        return (
            f"Time column {self.column!r}: day and month are ambiguous in every value "
            f"({self.how.example}); read as month/day ({read.day} {read:%B}), as pandas does. "
            f"Write ISO dates ({read:%Y-%m-%d}) to remove the doubt."
        )


def read_time(column: Any, parts: Mapping[str, pd.Series]) -> TimeReading:
    """Read ``column`` in each of ``parts`` (by split name) with one decision from them all."""
    present = [s for s in parts.values() if len(s)]
    whole = pd.concat(present, ignore_index=True) if present else pd.Series(dtype=object)
    how = decide_time_format(whole)
    values = {name: how.parse(series) for name, series in parts.items()}
    unparsed = sum(
        int((parts[name].notna().to_numpy() & parsed.isna().to_numpy()).sum())
        for name, parsed in values.items()
    )
    return TimeReading(column, how, values, unparsed)


def read_time_column(series: pd.Series, column: str | None = None) -> tuple[pd.Series, dict]:
    """One series read as times: the parsed values and the decision's ``record``."""
    reading = read_time(series.name if column is None else column, {"values": series})
    return reading.values["values"], reading.record


# --- helpers -------------------------------------------------------------------------------


def _kind(series: pd.Series) -> str:
    """``"datetime"``, ``"number"``, ``"text"`` or ``"none"`` (booleans, mixed, empty ...)."""
    return _TIME_KINDS.get(value_kind(series), "none")


_TIME_KINDS = {"integer": "number", "number": "number", "datetime": "datetime", "text": "text"}


def _numeric_format(numbers: pd.Series) -> TimeFormat:
    values = numbers.dropna()
    if len(values):
        low, high = float(values.min()), float(values.max())
        for _, lo, hi, scale in EPOCH_RANGES:
            if lo <= low and high <= hi:
                return TimeFormat("epoch", scale=scale)
    return TimeFormat("number")


def _naive_utc(series: pd.Series) -> pd.Series:
    """Datetimes as naive UTC (tz-aware converted; objects parsed); NaT when unreadable."""
    if not (
        isinstance(series.dtype, pd.DatetimeTZDtype)
        or pd.api.types.is_datetime64_any_dtype(series.dtype)
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            series = pd.to_datetime(series, errors="coerce", utc=True)
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    return series


def _spread(series: pd.Series, size: int = _SAMPLE) -> pd.Series:
    """Up to ``size`` non-null values, evenly spaced over the rows (deterministic)."""
    values = series.dropna()
    if len(values) > size:
        values = values.iloc[np.linspace(0, len(values) - 1, size).astype(np.intp)]
    return values


def _as_text(values: pd.Series) -> pd.Series:
    """Python strings in an object Series: ``re`` look-arounds work whatever the storage."""
    return pd.Series(values.astype(str).to_numpy(dtype=object), index=values.index, dtype=object)
