"""Column roles: declared roles win; ids, entities and dates are inferred with a reason."""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import pytest

from auditor.errors import InputError
from auditor.roles import date_format, resolve_roles, value_kind
from auditor.spec import ColumnRolesSpec

N = 400


def _frame(seed: int, n: int = N) -> pd.DataFrame:
    """A realistic table: keys, a date, measurements, codes and a label."""
    rng = np.random.default_rng(seed)
    dates = pd.Timestamp("2021-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 700, n)), "D")
    return pd.DataFrame(
        {
            "application_id": np.arange(n) + 5000,
            "customer_id": rng.integers(0, n // 4, n),
            "application_date": dates.strftime("%Y-%m-%d"),
            "income": rng.lognormal(10, 0.5, n),
            "id_score": rng.integers(0, 10, n).astype(float),
            "branch_id": rng.integers(0, 5, n),
            "plan": rng.choice(["basic", "plus", "pro"], n),
            "y": rng.integers(0, 2, n),
        }
    )


def _roles(frame: pd.DataFrame, target: str = "y", **declared):
    return resolve_roles(ColumnRolesSpec(**declared), {"train": frame}, target)


def test_undeclared_roles_are_inferred_with_reasons(seed):
    roles = _roles(_frame(seed))
    assert roles.id == ("application_id",)
    assert roles.entities == ("customer_id",)
    assert roles.dates == ("application_date",)
    assert (roles.group, roles.time) == (None, None)
    assert roles.features == ("income", "id_score", "branch_id", "plan")
    assert roles.numeric == ("income", "id_score", "branch_id")
    assert roles.categorical == ("plan",)
    assert set(roles.inferred) == {"application_id", "customer_id", "application_date"}
    assert roles.inferred["application_id"].startswith(
        "identifier (unique on every row and named like a key)"
    )
    assert roles.inferred["customer_id"].startswith("entity identifier (named like a key")
    assert "--group-column" in roles.inferred["customer_id"]
    date_reason = roles.inferred["application_date"]
    assert date_reason.startswith("undeclared date column (100% of sampled values parse as")
    assert "not used as a feature" in date_reason
    assert "--time-column" in date_reason


def test_declared_roles_win(seed):
    frame = _frame(seed)
    frame["row"] = np.arange(N)
    roles = _roles(
        frame,
        id="customer_id",
        group="branch_id",
        time="application_date",
        sensitive=("plan",),
    )
    assert roles.id == ("customer_id", "application_id", "row")
    assert (roles.group, roles.time, roles.sensitive) == (
        "branch_id",
        "application_date",
        ("plan",),
    )
    assert roles.entities == ()
    assert roles.dates == ()
    for declared in ("customer_id", "branch_id", "application_date", "plan"):
        assert declared not in roles.inferred
    # Declared id, group and time are not features; a sensitive column stays one.
    assert roles.features == ("income", "id_score", "plan")


def test_a_declared_time_column_removes_the_hint_from_other_dates(seed):
    frame = _frame(seed)
    frame["closed_on"] = frame["application_date"]
    roles = _roles(frame, time="application_date")
    assert roles.dates == ("closed_on",)
    assert "--time-column" not in roles.inferred["closed_on"]


def test_a_declared_column_missing_from_a_split_is_an_input_error(seed):
    frame = _frame(seed)
    frames = {"train": frame, "test": frame.drop(columns="branch_id")}
    with pytest.raises(InputError, match=r"--group-column 'branch_id' is not a column of the test"):
        resolve_roles(ColumnRolesSpec(group="branch_id"), frames, "y")


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        pytest.param(lambda rng: np.arange(N), "unique, increasing integers", id="row_number"),
        pytest.param(
            lambda rng: rng.permutation(N) + 1, "unique, consecutive integers", id="shuffled"
        ),
        pytest.param(
            lambda rng: [str(uuid.UUID(int=int(v))) for v in rng.integers(0, 2**62, N)],
            "unique on every row and shaped like a UUID",
            id="uuid",
        ),
        pytest.param(
            lambda rng: [f"TX-{v:07d}" for v in rng.permutation(10 * N)[:N]],
            "unique on every row and shaped like a code",
            id="code",
        ),
    ],
)
def test_unique_unnamed_keys_are_identifiers(values, reason, seed):
    frame = _frame(seed)
    frame["ref"] = values(np.random.default_rng(seed))
    roles = _roles(frame)
    assert "ref" in roles.id
    assert roles.inferred["ref"] == f"identifier ({reason}); not used as a feature"
    assert "ref" not in roles.features


def test_a_saved_pandas_index_is_an_identifier(seed):
    frame = _frame(seed)
    frame.insert(0, "Unnamed: 0", np.random.default_rng(seed).permutation(3 * N)[:N])
    assert "Unnamed: 0" in _roles(frame).id


@pytest.mark.parametrize(
    ("name", "values"),
    [
        pytest.param("id_score", lambda rng: rng.integers(0, 10, N), id="key_word_not_at_end"),
        pytest.param("score_id", lambda rng: rng.normal(size=N), id="key_named_unique_floats"),
        pytest.param("x", lambda rng: rng.normal(size=N), id="unique_floats"),
        pytest.param("amount", lambda rng: rng.permutation(10 * N)[:N], id="unique_unsorted_ints"),
        pytest.param("note", lambda rng: [f"note {i} text" for i in range(N)], id="free_text"),
        pytest.param(
            "reading", lambda rng: [f"{v:.4f}" for v in rng.normal(size=N)], id="numbers_as_text"
        ),
        pytest.param("branch_id", lambda rng: rng.integers(0, 5, N), id="low_cardinality_key"),
    ],
)
def test_columns_that_are_not_identifiers(name, values, seed):
    frame = _frame(seed).drop(columns=["id_score", "branch_id"])
    frame[name] = values(np.random.default_rng(seed))
    roles = _roles(frame)
    assert name in roles.features
    assert name not in roles.id + roles.entities + roles.dates
    assert name not in roles.inferred


def test_too_few_rows_infer_no_identifier(seed):
    frame = _frame(seed, n=40)
    assert _roles(frame).id == ()


@pytest.mark.parametrize(
    ("values", "fmt"),
    [
        pytest.param(
            lambda d: d.strftime("%Y-%m-%dT%H:%M:%S") + "Z", "ISO8601", id="iso_with_offset"
        ),
        pytest.param(lambda d: d.strftime("%d/%m/%Y"), "%d/%m/%Y", id="day_first"),
        pytest.param(lambda d: d.strftime("%b %d, %Y"), "%b %d, %Y", id="month_name"),
    ],
)
def test_dates_written_as_text_are_dates(values, fmt, seed):
    frame = _frame(seed)
    days = pd.Timestamp("2020-01-13") + pd.to_timedelta(
        np.random.default_rng(seed).integers(0, 900, N), "D"
    )
    frame["signed"] = list(values(days))
    frame.loc[::10, "signed"] = None
    roles = _roles(frame)
    assert "signed" in roles.dates
    assert date_format(frame["signed"]) == (fmt, 1.0)
    shown = "ISO 8601" if fmt == "ISO8601" else fmt
    assert f"parse as {shown} dates" in roles.inferred["signed"]


def test_mostly_unparseable_text_is_not_a_date(seed):
    frame = _frame(seed)
    frame["when"] = frame["application_date"].where(np.arange(N) % 5 != 0, "unknown")
    roles = _roles(frame)
    assert "when" in roles.categorical
    assert date_format(frame["when"]) is None


def test_datetime_dtypes_and_unix_timestamps_are_dates(seed):
    frame = _frame(seed)
    stamps = pd.to_datetime(frame["application_date"])
    frame["decided"] = stamps
    frame["decided_utc"] = stamps.dt.tz_localize("UTC")
    frame["created_at"] = (stamps - pd.Timestamp("1970-01-01")) // pd.Timedelta("1s")
    frame["amount"] = frame["created_at"]  # same numbers, not named like a date
    roles = _roles(frame)
    assert {"decided", "decided_utc", "created_at"} <= set(roles.dates)
    assert "Unix timestamps in seconds" in roles.inferred["created_at"]
    assert "amount" in roles.numeric


def test_target_is_never_inferred(seed):
    frame = _frame(seed)
    roles = _roles(frame, target="application_id")
    assert "application_id" not in roles.id + roles.features
    assert "application_id" not in roles.inferred


@pytest.mark.parametrize(
    "dtype",
    ["string[pyarrow]", "string[python]", "category", "object", "arrow_string"],
)
def test_text_storage_does_not_change_roles(dtype, seed):
    if dtype == "arrow_string":
        pa = pytest.importorskip("pyarrow")
        dtype = pd.ArrowDtype(pa.string())
    frame = _frame(seed)
    for column in ("application_date", "plan"):
        frame[column] = frame[column].astype(dtype)
    frame["ref"] = pd.Series([f"K{i:05d}" for i in range(N)], dtype=dtype)
    roles = _roles(frame)
    assert roles.dates == ("application_date",)
    assert "ref" in roles.id
    assert "plan" in roles.categorical


@pytest.mark.parametrize(
    ("series", "kind"),
    [
        pytest.param(pd.Series([1, 2, None], dtype="Int64"), "integer", id="Int64"),
        pytest.param(pd.Series([1.0, None]), "number", id="float"),
        pytest.param(pd.Series([True, None, False], dtype=object), "boolean", id="object_bool"),
        pytest.param(pd.Series([True, None], dtype="boolean"), "boolean", id="boolean"),
        pytest.param(pd.Series(["a", None], dtype="string[pyarrow]"), "text", id="string"),
        pytest.param(pd.Series(["a", "b"], dtype="category"), "text", id="category"),
        pytest.param(pd.Series([1, 2], dtype="category"), "integer", id="int_category"),
        pytest.param(pd.Series(pd.to_datetime(["2020-01-01", None])), "datetime", id="datetime"),
        pytest.param(pd.Series([1, "a"], dtype=object), "other", id="mixed"),
        pytest.param(pd.Series([None, None], dtype=object), "empty", id="empty"),
    ],
)
def test_value_kind(series, kind):
    assert value_kind(series) == kind


def test_polars_frames_resolve_like_pandas(seed):
    pl = pytest.importorskip("polars")
    frame = _frame(seed)
    frame["plan"] = frame["plan"].astype("category")
    converted = pl.from_pandas(frame).to_pandas()
    assert _roles(converted) == _roles(frame)
    arrow = pl.from_pandas(frame).to_pandas(use_pyarrow_extension_array=True)
    roles = _roles(arrow)
    assert (roles.id, roles.entities, roles.dates) == (
        ("application_id",),
        ("customer_id",),
        ("application_date",),
    )
    assert roles.categorical == ("plan",)
