"""leakage.temporal: contaminated time splits fail; clean and random splits do not."""

from __future__ import annotations

import datetime as dt

import _factories_overlap as fx
import numpy as np
import pandas as pd
import pytest

from auditor.checks.leakage.temporal import TemporalParams, temporal
from auditor.inputs import load_inputs
from auditor.registry import SkipCheck
from auditor.spec import AuditSpec, ColumnRolesSpec

TIME = "application_date"


def _run(train, test, *, time=TIME, **params):
    spec = AuditSpec(target=fx.TARGET, columns=ColumnRolesSpec(time=time))
    ctx = load_inputs(spec, train=train, test=test).context
    return temporal(ctx, TemporalParams(**params))


@pytest.fixture(scope="module")
def table():
    return fx.realistic_table(3000, 41)


@pytest.fixture(scope="module")
def by_time(table):
    return fx.time_split(table, shuffle_seed=141)


def test_a_clean_time_split_passes(by_time):
    train, test = by_time
    outcome = _run(train, test)
    assert outcome.status == "pass"
    assert outcome.findings == ()
    assert outcome.summary.startswith("Every test row is dated on or after the last training day")
    (periods,) = outcome.tables
    assert periods.rows[0][3] == train[TIME].min()
    assert periods.rows[0][4] == train[TIME].max()
    assert periods.rows[1][3] == test[TIME].min()
    assert periods.rows[1][4] == test[TIME].max()


def test_rows_of_the_boundary_day_may_be_in_both_splits(by_time):
    train, test = by_time
    assert train[TIME].max() == test[TIME].min()  # the split cut through one day
    train, test = train.copy(), test.copy()
    # Times of day within the boundary day do not count as crossing it.
    last_day = train[TIME] == train[TIME].max()
    train[TIME] = train[TIME] + " 00:00:00"
    train.loc[last_day, TIME] = train.loc[last_day, TIME].str.replace("00:00:00", "23:59:00")
    test[TIME] = test[TIME] + " 00:00:00"
    assert _run(train, test).status == "pass"


@pytest.mark.parametrize(("count", "status"), [(3, "pass"), (8, "warn"), (60, "fail")])
def test_future_rows_in_train_are_counted(by_time, count, status):
    train, test = by_time
    boundary = test[TIME].min()
    later = test[test[TIME] > boundary]
    moved = later.sample(count, random_state=count)
    train2 = pd.concat([train, moved], ignore_index=True)
    test2 = test.drop(index=moved.index).reset_index(drop=True)
    outcome = _run(train2, test2, fail_share=0.01)
    assert outcome.status == status
    (finding,) = outcome.findings
    assert (finding.code, finding.columns) == ("future_rows_in_train", (TIME,))
    assert finding.evidence["rows"] == count
    assert finding.evidence["example_train_rows"] == list(
        range(len(train), len(train) + min(count, 10))
    )
    assert finding.severity == {"pass": "low", "warn": "medium", "fail": "high"}[status]


def test_test_rows_from_the_training_period_are_counted(by_time):
    train, test = by_time
    earlier = train[train[TIME] < train[TIME].max()].sample(25, random_state=42)
    test2 = pd.concat([test, earlier], ignore_index=True)
    outcome = _run(train.drop(index=earlier.index).reset_index(drop=True), test2)
    assert outcome.status == "fail"
    (finding,) = outcome.findings
    assert finding.code == "test_rows_in_train_period"
    assert finding.evidence["rows"] == 25
    assert finding.evidence["example_test_rows"] == list(range(len(test), len(test) + 10))


def test_a_random_split_on_the_declared_time_column_warns(table):
    train, test = fx.random_split(table, 43)
    outcome = _run(train, test)
    assert outcome.status == "warn"
    (finding,) = outcome.findings
    assert (finding.code, finding.severity, finding.columns) == ("same_period", "medium", (TIME,))
    assert "trained on the future of the rows it is tested on" in finding.message
    # About half of the training rows postdate a random test row.
    assert finding.evidence["train_share_after_test_row"] == pytest.approx(0.5, abs=0.05)


def test_a_random_split_fails_at_the_chosen_future_share(table):
    outcome = _run(*fx.random_split(table, 44), fail_future_share=0.4)
    assert outcome.status == "fail"
    assert outcome.findings[0].severity == "high"


def test_a_test_period_before_the_training_period_fails(by_time):
    train, test = by_time
    outcome = _run(test, train)
    assert outcome.status == "fail"
    assert [f.code for f in outcome.findings] == ["test_before_train"]


def _retimed(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    out = frame.copy()
    stamps = pd.to_datetime(out[TIME]) + pd.to_timedelta(np.arange(len(out)) % 24, unit="h")
    out[TIME] = {
        "datetime": lambda: stamps,
        "datetime_tz": lambda: stamps.dt.tz_localize(dt.timezone(dt.timedelta(hours=2))),
        "iso_text": lambda: stamps.dt.strftime("%Y-%m-%dT%H:%M:%S"),
        "day_first_text": lambda: stamps.dt.strftime("%d/%m/%Y"),
        "epoch_seconds": lambda: (stamps - pd.Timestamp("1970-01-01")) // pd.Timedelta("1s"),
        "period_number": lambda: stamps.dt.year * 100 + stamps.dt.month,
    }[kind]()
    return out


@pytest.mark.parametrize(
    "kind",
    ["datetime", "datetime_tz", "iso_text", "day_first_text", "epoch_seconds", "period_number"],
)
def test_time_columns_of_every_kind_are_read(by_time, kind):
    train, test = (_retimed(f, kind) for f in by_time)
    if kind == "period_number":  # months: the boundary month is shared like a boundary day
        test = test[test[TIME] > train[TIME].max()].reset_index(drop=True)
    assert _run(train, test).status == "pass"
    # 40 test rows from the third month of the test period on move into train (a shared
    # boundary period is never counted).
    month = pd.to_datetime(by_time[1][TIME]).dt.to_period("M")
    later = np.flatnonzero((month > month.min() + 1).to_numpy())[:40]
    moved = by_time[1].iloc[later]
    moved = _retimed(moved.reset_index(drop=True), kind)
    rest = test[~test["application_id"].isin(moved["application_id"])]
    outcome = _run(pd.concat([train, moved], ignore_index=True), rest.reset_index(drop=True))
    assert outcome.status == "fail"
    assert outcome.findings[0].code == "future_rows_in_train"
    assert outcome.findings[0].evidence["rows"] == 40


def test_missing_times_are_reported_and_left_out(by_time):
    train, test = (frame.copy() for frame in by_time)
    train.loc[:4, TIME] = None
    outcome = _run(train, test)
    assert outcome.status == "pass"
    (finding,) = outcome.findings
    assert (finding.code, finding.severity) == ("unreadable_times", "low")
    assert finding.evidence == {"train": 5, "test": 0}


def test_a_column_without_times_skips(table):
    train, test = fx.random_split(table, 44)
    with pytest.raises(SkipCheck, match="neither dates nor numbers"):
        _run(train, test, time="region")


def _with_dates(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Add a release date after the application on 90% of its filled rows (filled on 60%),
    and a birth date and an account-opening date that precede it (clean look-alikes)."""
    rng = np.random.default_rng(seed)
    n = len(frame)
    applied = pd.to_datetime(frame[TIME])
    out = frame.copy()
    offset = np.where(rng.random(n) < 0.9, rng.integers(10, 400, n), -rng.integers(1, 30, n))
    released = applied + pd.to_timedelta(offset, unit="D")
    out["release_date"] = released.where(rng.random(n) < 0.6).dt.strftime("%Y-%m-%d")
    out["birth_date"] = (applied - pd.to_timedelta(rng.integers(7000, 25000, n), unit="D")).dt.date
    out["account_opened"] = (applied - pd.to_timedelta(rng.integers(0, 900, n), unit="D")).dt.date
    return out


def test_a_date_recorded_after_the_time_column_is_flagged_and_earlier_dates_are_not(table):
    train, test = fx.time_split(_with_dates(table, 45), shuffle_seed=145)
    outcome = _run(train, test)
    assert outcome.status == "warn"
    (finding,) = outcome.findings
    assert (finding.code, finding.severity, finding.columns) == (
        "dates_after_prediction_time",
        "medium",
        ("release_date",),
    )
    assert finding.evidence["share_after"] == pytest.approx(0.9, abs=0.03)
    assert finding.evidence["rows_compared"] == pytest.approx(0.6 * len(table), rel=0.05)
    assert "recorded after the moment of prediction" in finding.message


def test_dates_after_the_time_column_on_a_minority_of_rows_are_not_flagged(table):
    frame = _with_dates(table, 46)
    applied = pd.to_datetime(frame[TIME])
    late = np.random.default_rng(46).random(len(frame)) < 0.3
    shift = np.where(late, 30, -30)
    frame["release_date"] = (applied + pd.to_timedelta(shift, unit="D")).dt.strftime("%Y-%m-%d")
    outcome = _run(*fx.time_split(frame, shuffle_seed=146))
    assert outcome.findings == ()


def test_a_later_date_the_model_takes_as_input_fails(table):
    from sklearn.compose import make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    train, test = fx.time_split(_with_dates(table, 47), shuffle_seed=147)
    # The pipeline takes the release date among its inputs (and ignores it after that).
    encode = make_column_transformer((SimpleImputer(), ["income", "age"]), remainder="drop")
    model = make_pipeline(encode, LogisticRegression(max_iter=500))
    model.fit(train[["income", "age", "release_date"]], train[fx.TARGET])
    spec = AuditSpec(target=fx.TARGET, columns=ColumnRolesSpec(time=TIME))
    ctx = load_inputs(spec, train=train, test=test, model=model).context
    assert "release_date" in ctx.model_features
    outcome = temporal(ctx, TemporalParams())
    (finding,) = outcome.findings
    assert (outcome.status, finding.severity, finding.evidence["model_input"]) == (
        "fail",
        "high",
        True,
    )
    assert "the model takes it as an input" in finding.message
