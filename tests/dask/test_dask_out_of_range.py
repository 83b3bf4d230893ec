"""``data.out_of_range``'s robust rules on every row (``--engine dask``) against the
in-memory check on the same rows.

Planted in 16,000 rows (train and test, row groups of 400): a placeholder -1 in 0.5% of a
column of eight values and -999 in 0.5% of the ages, incomes capped with 3% of the rows at the cap, sign-flipped amounts, five
latencies a thousand times the rest, and a clean column. The rules that count (codes,
caps, negatives, extremes) must give the in-memory findings, rows per split and status;
the median and robust standard deviation are exact for a column whose values the main
pass counts (or whole numbers below 512, one per float bin), and within a float bin (1/256
of their size) for a continuous one. A seeded
sample of 1,000 rows per split (what the engine read before) misses or miscounts them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed")

from tests.dask.test_dask_engine import check_on_both_engines  # noqa: E402

import auditor  # noqa: E402
from auditor.engine.partitioned import partials  # noqa: E402

CHECK = "data.out_of_range"
PLANTED = {
    "rooms": "sentinel_value",
    "age": "sentinel_value",
    "income": "top_coded",
    "amount": "negative_values",
    "latency": "extreme_values",
}


def planted_split(n: int, rng: np.random.Generator) -> pd.DataFrame:
    rooms = rng.integers(1, 9, n).astype(float)  # few values: counted by value
    rooms[rng.random(n) < 0.005] = -1  # "not applicable"
    age = rng.integers(18, 91, n).astype(float)
    age[rng.random(n) < 0.005] = -999  # "unknown"
    income = np.minimum(rng.lognormal(10.5, 0.54, n).round(2), 99_999.0)  # ~3% at the cap
    amount = rng.gamma(2.0, 50.0, n).round(2)
    flipped = rng.random(n) < 0.003
    amount[flipped] = -amount[flipped]
    latency = rng.normal(100, 10, n)
    return pd.DataFrame(
        {
            "rooms": rooms,
            "age": age,
            "income": income,
            "amount": amount,
            "latency": latency,
            "clean": rng.normal(0, 1, n),
            "label": rng.integers(0, 2, n),
        }
    )


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(11)
    train, test = planted_split(4000, rng), planted_split(12_000, rng)
    test.loc[[1_003, 4_517, 9_998], "latency"] = [1.2e5, 0.9e5, 1.5e5]  # in three row groups
    train.loc[[77, 3_100], "latency"] = [1.1e5, 1.3e5]
    return train, test


@pytest.fixture(scope="module")
def both(cluster, frames, tmp_path_factory):
    train, test = frames
    return check_on_both_engines(
        cluster, tmp_path_factory.mktemp("out_of_range"), CHECK, test, train
    )


def summary(check) -> list[tuple]:
    """Each finding less its example rows and the quantiles an extreme value's message
    quotes (the median and robust standard deviation, compared within their bound below)."""
    return [
        (
            f.code,
            f.severity,
            f.columns,
            f.evidence["rows_by_split"],
            f.message.split(" Example")[0].split(" robust standard deviations (")[0],
        )
        for f in check.findings
    ]


def test_robust_rules_on_every_row_equal_the_in_memory_check(both, frames):
    ours, theirs = both
    assert summary(ours) == summary(theirs)
    assert {f.columns[0]: f.code for f in theirs.findings} == PLANTED  # "clean" not flagged
    assert ours.status == theirs.status == "warn"
    assert ours.summary == theirs.summary
    extreme = [next(f for f in c.findings if f.code == "extreme_values") for c in both]
    # The limit is the lowest isolated value, center + (value - center): equal to rounding.
    assert extreme[0].evidence["high_limit"] == pytest.approx(extreme[1].evidence["high_limit"])
    assert extreme[0].evidence["low_limit"] is extreme[1].evidence["low_limit"] is None
    # Each planted problem's rows, per split, from the frames themselves.
    rows = {f.columns[0]: f.evidence["rows_by_split"] for f in ours.findings}
    for column in PLANTED:
        assert rows[column] == every_row(frames, column), column
    assert rows["latency"] == {"test": 3, "train": 2}


def test_table_equals_within_the_float_bin_bound(both):
    ours, theirs = both
    for a, b in zip(ours.tables[0].rows, theirs.tables[0].rows, strict=True):
        column, values, median, robust_sd, *rest = a
        assert (column, values, *rest) == (b[0], b[1], *b[4:]), column
        if column in ("rooms", "age"):  # exact: counted by value, or one value per float bin
            assert (median, robust_sd) == pytest.approx((b[2], b[3]), rel=1e-12)
        else:  # quantiles of the float bins: each within 1/256 of its size
            assert abs(median - b[2]) <= abs(b[2]) / 256, column
            # the quartiles within 1/256 of theirs, at most |median| + 2 sd from zero
            bound = 2 * (abs(b[2]) + 2 * b[3]) / 256 / 1.349
            assert abs(robust_sd - b[3]) <= bound, column


def test_rows_used_says_every_row(both):
    ours, _ = both
    used = {m.key: m for m in ours.measurements}["rows_used"]
    assert used.note == "all 12,000 test rows"


FLAGGED = {
    "rooms": lambda v: v == -1,
    "age": lambda v: v == -999,
    "income": lambda v: v == 99_999,
    "amount": lambda v: v < 0,
    "latency": lambda v: v > 1e4,
}


def every_row(frames, column: str) -> dict[str, int]:
    train, test = frames
    return {
        name: int(FLAGGED[column](f[column]).sum())
        for name, f in (("test", test), ("train", train))
    }


def test_a_sample_of_1000_rows_misses_or_miscounts(frames, seed):
    train, test = frames
    sampled = auditor.audit(
        test=test.sample(1000, random_state=seed),
        train=train.sample(1000, random_state=seed),
        target="label",
        select=[CHECK],
    )
    check = next(c for c in sampled.checks if c.id == CHECK)
    found = {f.columns[0]: f.evidence["rows"] for f in check.findings}
    for column in PLANTED:  # 5 to 471 rows of 16,000: an eighth of them at best
        assert found.get(column, 0) < sum(every_row(frames, column).values()), column


def test_tail_counts_merge_to_the_whole_column():
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.normal(size=3000), [-999.0] * 4, [np.inf, np.nan]])
    query = partials.TailQuery(
        ranges=((-1.0, 1.0), (2.0, np.inf)),
        valued=((-np.inf, -2.0),),
        lowest=5,
        largest=7,
        smallest=9,
        exclude=(-999.0,),
    )
    whole = partials.tail_counts(pd.Series(values), query)
    parts = [partials.tail_counts(pd.Series(p), query) for p in np.array_split(values, 7)]
    merged = parts[0]
    for part in parts[1:]:
        merged = merged + part
    assert merged.ranges.tolist() == whole.ranges.tolist()
    assert merged.valued[0].sort_index().to_dict() == whole.valued[0].sort_index().to_dict()
    finite = values[np.isfinite(values) & (values != -999.0)]
    np.testing.assert_array_equal(merged.largest, np.sort(finite)[::-1][:7])
    np.testing.assert_array_equal(merged.smallest, np.sort(finite)[:9])
    np.testing.assert_array_equal(merged.lowest, np.sort(values[values >= 0])[:5])
