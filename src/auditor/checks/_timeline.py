"""Ordering rows by time (shared by drift and leakage checks).

A time column may hold datetimes, dates written as text, Unix timestamps or plain numbers
(a year, a period index). How it is read is decided by ``auditor.engine.time`` once per
column for the whole audit (``AuditContext.time_reading``); ``TimeValues`` holds one
split's values as floats that order like the times: seconds since 1970 for dates, the
numbers themselves otherwise.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from auditor.engine.time import TimeFormat, TimeReading, decide_time_format, order_key

# Rows sampled to choose among several date columns.
_CHOICE_SAMPLE = 20_000
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class TimeValues:
    """A time column read as floats: ``values`` (NaN when missing or unreadable).

    ``is_date`` says whether the values are seconds since 1970 (dates, datetimes, Unix
    timestamps) or plain numbers; ``how`` says how the column was read, for messages.
    """

    values: np.ndarray
    is_date: bool
    how: str

    def format(self, value: float) -> str:
        """One value as text: an ISO date (with the time of day when it has one), or a number."""
        if not np.isfinite(value):
            return "missing"
        if not self.is_date:
            return f"{value:g}"
        stamp = dt.datetime.fromtimestamp(float(value), tz=dt.UTC)
        if stamp.hour == stamp.minute == stamp.second == 0:
            return stamp.date().isoformat()
        return stamp.strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True, slots=True)
class TimeReader:
    """How to read one time column, decided once so every split is read the same way."""

    how: TimeFormat

    def read(self, series: pd.Series) -> TimeValues:
        return TimeValues(order_key(self.how.parse(series)), self.how.is_date, self.how.describe())


def time_reader(series: pd.Series) -> TimeReader | None:
    """Decide how ``series`` holds times, or None when it does not look like times at all.

    Prefer ``split_times``: it reads a column of the audit with the decision taken from
    train and test together.
    """
    how = decide_time_format(series)
    return None if how.kind == "none" else TimeReader(how)


def read_times(series: pd.Series, reader: TimeReader | None = None) -> TimeValues | None:
    """``series`` as ``TimeValues`` (read with ``reader``, or the reader it suggests)."""
    reader = reader or time_reader(series)
    return None if reader is None else reader.read(series)


def split_times(ctx, column: str) -> tuple[TimeValues, TimeValues] | None:
    """Train and test values of ``column`` read with the audit's one decision for it, or
    None when it does not hold times."""
    reading: TimeReading = ctx.time_reading(column)
    if reading.how.kind == "none":
        return None
    how = reading.how
    return tuple(
        TimeValues(reading.key(split), how.is_date, how.describe()) for split in ("train", "test")
    )


def order_column(ctx, train: pd.DataFrame, test: pd.DataFrame) -> str | None:
    """The column that orders rows in time: the declared time column, else an inferred date.

    Among several undeclared date columns the one that best separates the splits in time
    (the largest gap between the test and train medians, in train interquartile ranges) is
    chosen: a birth date orders rows less usefully than an application date.
    """
    if ctx.roles.time is not None:
        return ctx.roles.time
    candidates = [c for c in getattr(ctx.roles, "dates", ()) if c in train and c in test]
    best, best_gap = None, -1.0
    for column in candidates:
        read = split_times(ctx, column)
        if read is None:
            continue
        a, b = _head(read[0].values), _head(read[1].values)
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        if a.size < 10 or b.size < 10:
            continue
        q1, q3 = np.quantile(a, [0.25, 0.75])
        gap = abs(float(np.median(b) - np.median(a))) / max(float(q3 - q1), 1e-12)
        if gap > best_gap:
            best, best_gap = column, gap
    return best


def _head(values: np.ndarray) -> np.ndarray:
    """Up to ``_CHOICE_SAMPLE`` evenly spaced values (deterministic)."""
    n = len(values)
    if n <= _CHOICE_SAMPLE:
        return values
    return values[np.linspace(0, n - 1, _CHOICE_SAMPLE).astype(np.intp)]
