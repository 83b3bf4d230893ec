"""Reading a time column, and ordering rows by time (shared by drift and leakage checks).

A time column may hold datetimes, dates written as text (ISO 8601 or another format that
``auditor.roles.date_format`` recognises), Unix timestamps or plain numbers (a year, a
period index). ``time_values`` reads any of them as floats that order like the times:
seconds since 1970 for dates, the numbers themselves otherwise.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from auditor.roles import date_format, parse_dates, value_kind

# Unix timestamps (2001-09-09 to 2036-07-18) in seconds or milliseconds read as dates.
_EPOCH_RANGES = ((1e9, 2.1e9, 1.0), (1e12, 2.1e12, 1e-3))
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

    kind: str  # "datetime", "text", "epoch", "number"
    text_format: str | None = None
    epoch_scale: float = 1.0

    def read(self, series: pd.Series) -> TimeValues:
        if self.kind == "datetime":
            return TimeValues(_datetime_seconds(series), True, "datetimes")
        if self.kind == "text":
            parsed = parse_dates(series.astype("object"), self.text_format)
            shown = "ISO 8601" if self.text_format == "ISO8601" else self.text_format
            return TimeValues(_datetime_seconds(parsed), True, f"dates written as {shown}")
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        if self.kind == "epoch":
            return TimeValues(values * self.epoch_scale, True, "Unix timestamps")
        return TimeValues(values, False, "numbers")


def time_reader(series: pd.Series) -> TimeReader | None:
    """Decide how ``series`` holds times, or None when it does not look like times at all."""
    kind = value_kind(series)
    if kind == "datetime":
        return TimeReader("datetime")
    if kind == "text":
        found = date_format(series, share=0.9)
        if found is not None:
            return TimeReader("text", text_format=found[0])
        numbers = pd.to_numeric(series.dropna().iloc[:1000], errors="coerce")
        if len(numbers) and numbers.notna().all():
            return _numeric_reader(pd.to_numeric(series, errors="coerce"))
        return None
    if kind in ("integer", "number"):
        return _numeric_reader(series)
    return None


def read_times(series: pd.Series, reader: TimeReader | None = None) -> TimeValues | None:
    """``series`` as ``TimeValues`` (read with ``reader``, or the reader it suggests)."""
    reader = reader or time_reader(series)
    return None if reader is None else reader.read(series)


def _numeric_reader(series: pd.Series) -> TimeReader:
    values = series.dropna()
    if len(values):
        low, high = float(values.min()), float(values.max())
        for lo, hi, scale in _EPOCH_RANGES:
            if lo <= low and high <= hi:
                return TimeReader("epoch", epoch_scale=scale)
    return TimeReader("number")


def _datetime_seconds(series: pd.Series) -> np.ndarray:
    """Datetimes (naive read as UTC, or tz-aware) as float seconds since 1970; NaN if missing."""
    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        series = pd.to_datetime(series, errors="coerce", utc=True)
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    missing = series.isna().to_numpy()
    seconds = series.to_numpy(dtype="datetime64[ns]").astype(np.int64) / 1e9
    seconds[missing] = np.nan
    return seconds


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
        train_t = read_times(_head(train[column]))
        if train_t is None:
            continue
        reader = time_reader(_head(train[column]))
        test_t = read_times(_head(test[column]), reader)
        a, b = train_t.values, test_t.values
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        if a.size < 10 or b.size < 10:
            continue
        q1, q3 = np.quantile(a, [0.25, 0.75])
        gap = abs(float(np.median(b) - np.median(a))) / max(float(q3 - q1), 1e-12)
        if gap > best_gap:
            best, best_gap = column, gap
    return best


def _head(series: pd.Series) -> pd.Series:
    """Up to ``_CHOICE_SAMPLE`` evenly spaced rows (deterministic)."""
    n = len(series)
    if n <= _CHOICE_SAMPLE:
        return series
    return series.iloc[np.linspace(0, n - 1, _CHOICE_SAMPLE).astype(np.intp)]
