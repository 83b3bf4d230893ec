"""The one time-column reader: day/month decided once per column, shared by every reader.

Issue #13: on ``03/01/2024``-style values the cross-validation folds read 1 March while the
temporal checks read 3 January. Every reader now goes through ``auditor.engine.time``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

import auditor
from auditor.checks._timeline import split_times
from auditor.checks.leakage.temporal import TemporalParams, temporal
from auditor.engine.time import order_key, read_time, read_time_column
from auditor.evaluation import cv_folds, time_values
from auditor.inputs import load_inputs
from auditor.roles import date_format
from auditor.spec import AuditSpec, ColumnRolesSpec

TIME = "application_date"
AMBIGUOUS_NOTE = "day and month are ambiguous in every value"


def _small_dates(n: int, months: range, year: int) -> list[dt.date]:
    """``n`` dates in time order, every day and month at most 12 (so DD/MM reads as MM/DD)."""
    pool = sorted(dt.date(year, m, d) for m in months for d in range(1, 13))
    return [pool[i] for i in np.linspace(0, len(pool) - 1, n).astype(int)]


def _dated(binary_split, written: str, *, odd: str | None = None):
    """(train, test): train dated January to June, test July to December, written with
    ``written``; ``odd`` replaces the last test value (a look-alike that settles the order)."""
    train, test = (frame.copy() for frame in binary_split)
    train[TIME] = [d.strftime(written) for d in _small_dates(len(train), range(1, 7), 2023)]
    test[TIME] = [d.strftime(written) for d in _small_dates(len(test), range(7, 13), 2023)]
    if odd is not None:
        test.loc[len(test) - 1, TIME] = odd
    return train, test


CASES = {
    # all days and months <= 12: both orders parse every value; month-first, as pandas.
    "ambiguous": ("%d/%m/%Y", None, "%m/%d/%Y", False, True),
    # the same look, one test value with day 13: day-first, for train too.
    "day_13": ("%d/%m/%Y", "13/12/2023", "%d/%m/%Y", True, False),
    # month-first values, one with a second field above 12: month-first, not ambiguous.
    "month_first": ("%m/%d/%Y", "12/13/2023", "%m/%d/%Y", False, False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_folds_and_temporal_check_read_the_same_order(binary_split, binary_model, case):
    written, odd, fmt, dayfirst, ambiguous = CASES[case]
    train, test = _dated(binary_split, written, odd=odd)
    spec = AuditSpec(target="y", columns=ColumnRolesSpec(time=TIME))
    ctx = load_inputs(spec, train=train, test=test, model=binary_model).context

    reading = ctx.time_reading(TIME)
    assert reading.record == {
        "column": TIME,
        "kind": "text",
        "format": fmt,
        "dayfirst": dayfirst,
        "ambiguous": ambiguous,
        "unparsed": 0,
    }
    # The temporal check's reading and the folds' reading are the same numbers ...
    train_t, test_t = split_times(ctx, TIME)
    np.testing.assert_array_equal(train_t.values, reading.key("train"))
    np.testing.assert_array_equal(test_t.values, reading.key("test"))
    # ... and the folds are time-ordered on them: every fitting row before every validation row.
    folds = cv_folds(ctx)
    assert folds.scheme.startswith("5-fold time-ordered")
    for fit_rows, valid_rows in zip(folds.train, folds.valid, strict=True):
        assert train_t.values[fit_rows].max() < train_t.values[valid_rows].min()

    # Train was written from January-June dates; an ambiguous column reads them swapped.
    meant = _small_dates(len(train), range(1, 7), 2023)
    read = [dt.date(2023, d.day, d.month) for d in meant] if ambiguous else meant
    assert reading.values["train"].dt.date.tolist() == read

    outcome = temporal(ctx, TemporalParams())
    if ambiguous:
        assert ctx.notes[-1] == (
            f"Time column {TIME!r}: day and month are ambiguous in every value (02/01/2023); "
            "read as month/day (1 February), as pandas does. "
            "Write ISO dates (2023-02-01) to remove the doubt."
        )
        # Read month-first, both splits span the year: the check and the folds agree on it.
        assert [f.code for f in outcome.findings] == ["same_period"]
    else:
        assert not any(AMBIGUOUS_NOTE in note for note in ctx.notes)
        assert outcome.status == "pass"


@pytest.mark.parametrize("case", list(CASES))
def test_the_manifest_notes_an_ambiguous_time_column_only(binary_split, binary_model, case):
    written, odd, _, _, ambiguous = CASES[case]
    train, test = _dated(binary_split, written, odd=odd)
    result = auditor.audit(
        train=train,
        test=test,
        target="y",
        model=binary_model,
        time_column=TIME,
        select=["leakage.temporal", "performance.cross_validation"],
    )
    assert result.check("performance.cross_validation").status != "error"
    assert result.check("leakage.temporal").status != "error"
    noted = [n for n in result.manifest["notes"] if AMBIGUOUS_NOTE in n]
    assert len(noted) == (1 if ambiguous else 0)
    if ambiguous:
        assert noted[0].startswith(f"Time column {TIME!r}: day and month are ambiguous")


def test_the_order_is_decided_from_every_value_of_the_column():
    """One value with day 13, beyond the 2,000-value sample, makes the column day-first."""
    days = pd.date_range("2020-01-01", periods=5000, freq="D")
    small = days[(days.day <= 12)]
    values = pd.Series(small.strftime("%d/%m/%Y"))
    assert date_format(values)[0] == "%m/%d/%Y"  # ambiguous: month-first
    values.iloc[1001] = "13/05/2021"  # not among the evenly spaced sample
    assert date_format(values)[0] == "%d/%m/%Y"
    parsed, record = read_time_column(values, "signed")
    assert (record["dayfirst"], record["ambiguous"]) == (True, False)
    assert parsed.iloc[0] == pd.Timestamp("2020-01-01")
    assert parsed.iloc[1001] == pd.Timestamp("2021-05-13")


def test_the_decision_spans_train_and_test():
    reading = read_time(
        "d", {"train": pd.Series(["03/01/2024", "04/01/2024"]), "test": pd.Series(["25/01/2024"])}
    )
    assert reading.how.dayfirst is True
    assert reading.values["train"].tolist() == [
        pd.Timestamp("2024-01-03"),
        pd.Timestamp("2024-01-04"),
    ]
    assert reading.note is None


def test_iso_dates_are_never_ambiguous():
    parsed, record = read_time_column(pd.Series(["2024-03-01", "2024-01-03", None]), "d")
    assert record == {
        "column": "d",
        "kind": "text",
        "format": "ISO8601",
        "dayfirst": None,
        "ambiguous": False,
        "unparsed": 0,
    }
    assert parsed.iloc[0] == pd.Timestamp("2024-03-01")
    assert pd.isna(parsed.iloc[2])


@pytest.mark.parametrize("tz", [None, "Europe/Paris"])
def test_typed_datetimes_are_read_as_naive_utc(tz):
    stamps = pd.Series(pd.to_datetime(["2024-03-01 12:00", "2024-01-03 00:30", None]))
    if tz is not None:
        stamps = stamps.dt.tz_localize(tz)
    parsed, record = read_time_column(stamps, "d")
    assert (record["kind"], record["format"], record["ambiguous"]) == (
        "datetime",
        "datetime",
        False,
    )
    assert pd.api.types.is_datetime64_dtype(parsed.dtype)  # naive
    shift = pd.Timedelta(hours=1 if tz else 0)
    assert parsed.iloc[0] == pd.Timestamp("2024-03-01 12:00") - shift
    assert pd.isna(parsed.iloc[2])
    assert record["unparsed"] == 0


@pytest.mark.parametrize(
    ("values", "kind", "key"),
    [
        ([2021, 2019, None, 2020], "number", [2021.0, 2019.0, np.nan, 2020.0]),
        (["2021", "2019", "2020", "2018"], "number", [2021.0, 2019.0, 2020.0, 2018.0]),
        ([1_700_000_000, 1_700_086_400], "epoch", [1_700_000_000.0, 1_700_086_400.0]),
        ([1_700_000_000_000, 1_700_086_400_000], "epoch", [1_700_000_000.0, 1_700_086_400.0]),
    ],
    ids=["years", "years_as_text", "epoch_seconds", "epoch_milliseconds"],
)
def test_numeric_time_columns_keep_a_numeric_order_key(values, kind, key):
    parsed, record = read_time_column(pd.Series(values), "t")
    assert record["kind"] == kind
    np.testing.assert_array_equal(order_key(parsed), key)


def test_unparseable_values_are_nat_and_counted():
    values = pd.Series([f"{d:02d}/01/2024" for d in range(1, 13)] * 2 + ["unknown", None])
    parsed, record = read_time_column(values, "d")
    assert (record["format"], record["unparsed"]) == ("%m/%d/%Y", 1)
    assert parsed.isna().tolist() == [False] * 24 + [True, True]


def test_a_column_without_times_reads_as_nothing():
    parsed, record = read_time_column(pd.Series(["north", "south", "east"]), "region")
    assert record["kind"] == "none"
    assert parsed.isna().all()


def test_standalone_readers_agree_on_ambiguous_text():
    """The two single-series entry points (folds' and the checks') give the same order."""
    from auditor.checks._timeline import read_times

    values = pd.Series(["03/01/2024", "02/01/2024", "01/03/2024", "12/02/2024"])
    np.testing.assert_array_equal(time_values(values), read_times(values).values)
    # Month-first: 1 March, 1 February, 3 January, 2 December.
    assert np.argsort(time_values(values)).tolist() == [2, 1, 0, 3]
