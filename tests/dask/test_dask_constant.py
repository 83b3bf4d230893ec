"""``data.constant_columns`` with ``--engine dask``: continuous columns decided on every row.

The in-memory check screens each column on 2,000 evenly spaced rows and counts every row
of a column near-constant there. The Dask engine takes the same screen rows and counts the
values of such a column in a pass of its own when the main pass did not (a continuous
column), so the findings, the table and the status are the in-memory check's.
"""

from __future__ import annotations

import functools
import operator

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed")

from tests.dask.test_dask_engine import check_on_both_engines  # noqa: E402

from auditor.checks.data.constant_columns import SCREEN  # noqa: E402
from auditor.engine.partitioned import partials  # noqa: E402
from auditor.engine.partitioned.run import _screen_plan  # noqa: E402
from auditor.engine.partitioned.source import RowGroup  # noqa: E402

CHECK = "data.constant_columns"
TEST_ROWS, TRAIN_ROWS = 12_000, 4_000
# A row group (write_parts: 400 rows) holding more distinct numbers than this is not counted
# by the main pass. With the real cap (64) a near-constant column would need some 130,000
# rows before one row group held that many rare values.
NUMERIC_CAP = 4


def _spiky(rng: np.random.Generator, n: int, rare: int) -> np.ndarray:
    """Zeros but ``rare`` (at least 4) lognormal values: 4 of them in the row group of rows
    2,000 to 2,399 (5 values, past the cap: the main pass counts the column in no row
    group), the others anywhere, so that most row groups hold none."""
    values = np.zeros(n)
    block = np.arange(2000, 2400)
    rows = np.concatenate(
        [
            rng.choice(block, 4, replace=False),
            rng.choice(np.setdiff1d(np.arange(n), block), rare - 4, replace=False),
        ]
    )
    values[rows] = rng.lognormal(size=rare)
    return values


def _splits(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def split(n: int, rare: int, frozen: bool) -> pd.DataFrame:
        continuous = np.where(rng.random(n) < 0.2, 0.0, rng.lognormal(size=n))
        return pd.DataFrame(
            {
                "spiky": _spiky(rng, n, rare),  # 99.9% zeros in train, 99.95% in test
                "dead_feed": np.zeros(n) if frozen else continuous,  # 0.0 on every test row
                "clean": rng.lognormal(size=n),
                "label": rng.integers(0, 2, n),
            }
        )

    return split(TRAIN_ROWS, 4, frozen=False), split(TEST_ROWS, 6, frozen=True)


def _audits(cluster_address, tmp_path, train, test):
    ours, theirs = check_on_both_engines(
        cluster_address, tmp_path, CHECK, test, train, files=(3, 2)
    )
    return ours, theirs, {m.key: m for m in ours.measurements}["rows_used"].note


def test_continuous_columns_decided_on_every_row(cluster, tmp_path, monkeypatch):
    monkeypatch.setattr(partials, "MAX_NUMERIC_LEVELS", NUMERIC_CAP)
    train, test = _splits(seed=3)
    ours, theirs, rows_used = _audits(cluster, tmp_path, train, test)
    assert [(f.code, f.severity, f.message, f.evidence) for f in ours.findings] == [
        (f.code, f.severity, f.message, f.evidence) for f in theirs.findings
    ]
    found = {f.columns[0]: (f.code, f.severity) for f in theirs.findings}
    assert found == {"spiky": ("near_constant", "low"), "dead_feed": ("constant_in_test", "high")}
    assert ours.tables == theirs.tables
    rows = {row[0]: row for row in theirs.tables[0].rows}
    # Every value of the near-constant column, counted: 1 + 4 (train) and 1 + 6 (test).
    assert rows["spiky"][1:5] == (5, (TRAIN_ROWS - 4) / TRAIN_ROWS, 7, (TEST_ROWS - 6) / TEST_ROWS)
    assert ours.status == theirs.status == "fail"
    assert rows_used == f"all {TEST_ROWS:,} test rows"


def test_a_column_past_the_count_cap_reads_the_sample(cluster, tmp_path, monkeypatch):
    monkeypatch.setattr(partials, "MAX_NUMERIC_LEVELS", NUMERIC_CAP)
    monkeypatch.setattr(partials, "MAX_COUNTED_VALUES", 5)  # test's 'spiky' holds 7 values
    train, test = _splits(seed=3)
    ours, theirs, rows_used = _audits(cluster, tmp_path, train, test)
    assert rows_used.startswith(f"all {TEST_ROWS:,} test rows for 2 of 3 columns")
    assert rows_used.endswith("'spiky'")
    dead = [(f.message, f.evidence) for f in ours.findings if f.columns == ("dead_feed",)]
    assert dead == [(f.message, f.evidence) for f in theirs.findings if f.columns == ("dead_feed",)]


@pytest.mark.parametrize(
    "sizes",
    [[12_000], [5_000, 7_000], [1_000] * 12, [1, 2_999, 4_000, 4_999, 1]],
    ids=["one", "two", "twelve", "uneven"],
)
def test_the_screen_and_the_counts_do_not_depend_on_the_partitioning(sizes):
    _, test = _splits(seed=5)
    test.loc[::7, "label"] = np.nan  # unlabelled rows are left out before the screen
    labelled = test.loc[test["label"].notna()].reset_index(drop=True)
    bounds = np.cumsum([0, *sizes])
    assert bounds[-1] == len(test)
    parts = [test.iloc[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    groups = [RowGroup("part.parquet", i, len(p)) for i, p in enumerate(parts)]
    kept = [p.loc[p["label"].notna()].reset_index(drop=True) for p in parts]
    plan = _screen_plan(SCREEN, groups, {g: len(k) for g, k in zip(groups, kept, strict=True)})
    screen = pd.concat(
        [
            kept[g.index].iloc[plan[(g.path, g.index)][1]]
            for g in groups
            if (g.path, g.index) in plan
        ]
    )
    in_memory = labelled.iloc[SCREEN.positions(len(labelled))]
    pd.testing.assert_frame_equal(screen.reset_index(drop=True), in_memory.reset_index(drop=True))

    merged = functools.reduce(
        operator.add,
        [partials.value_rows(part, ("spiky",), {"dead_feed": (0.0, 1.5)}) for part in kept],
    )
    expected = labelled["spiky"].value_counts()
    assert merged.counted["spiky"].sort_index().to_dict() == expected.sort_index().to_dict()
    assert merged.asked["dead_feed"].tolist() == [len(labelled), 0]
