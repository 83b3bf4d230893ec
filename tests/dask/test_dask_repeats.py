"""Copies and label conflicts on every row (``data.duplicate_rows``,
``data.conflicting_labels``) with the Dask engine.

Copies of rows scattered over a large table are invisible to a sample: a pair of copies
lands in a sample of s of n rows with probability (s/n)^2. The pass joins every row's
exact key by hash bucket, so the counts are the in-memory check's on every row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed")
pytest.importorskip("pyarrow.parquet")

from tests.dask.test_dask_engine import write_parts  # noqa: E402

import auditor  # noqa: E402
from auditor.api import run_audit  # noqa: E402
from auditor.engine.partitioned.repeats import bucket_repeats  # noqa: E402
from auditor.spec import AuditSpec, EngineSettings  # noqa: E402

CHECKS = ["data.duplicate_rows", "data.conflicting_labels"]


def table(n: int, copies: int, conflicts: int, seed: int = 0) -> pd.DataFrame:
    """Continuous rows (no repeat by chance), ``copies`` copies of earlier rows and
    ``conflicts`` copies with the other label, placed at random positions."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "amount": rng.lognormal(3.0, 1.0, n),
            "region": rng.choice(["north", "south"], n),
            "label": rng.integers(0, 2, n),
        }
    )
    copied = frame.iloc[rng.choice(n, copies + conflicts, replace=False)].copy()
    copied.iloc[copies:, copied.columns.get_loc("label")] ^= 1
    both = pd.concat([frame, copied], ignore_index=True)
    return both.iloc[rng.permutation(len(both))].reset_index(drop=True)


def by_check(result) -> dict:
    return {c.id: c for c in result.checks if c.id in CHECKS}


def test_copies_and_conflicts_count_every_row(cluster, tmp_path):
    frame = table(20_000, copies=150, conflicts=90)
    memory = by_check(auditor.audit(test=frame, target="label", select=CHECKS))
    engine = EngineSettings(name="dask", address=cluster, sample_rows=1000)
    spec = AuditSpec(
        test=str(write_parts(frame, tmp_path / "parts", files=3)), target="label", engine=engine
    )
    ours = by_check(run_audit(spec, select=CHECKS))
    for check in CHECKS:
        a, b = ours[check], memory[check]
        assert a.status == b.status, check
        assert a.tables[0].rows[0][:5] == b.tables[0].rows[0][:5], check  # counts and share
        assert [f.severity for f in a.findings] == [f.severity for f in b.findings], check
        note = next(m for m in a.measurements if m.key == "rows_used").note
        assert note == "all 20,240 test rows"
        assert a.status != "pass", check
    # 150 copies, and each conflicting copy repeats its row's features: 90 more copies of
    # the features (not of the row), 180 rows in conflict and 90 conflicting pairs.
    assert ours["data.duplicate_rows"].tables[0].rows[0][3] == 150
    assert ours["data.conflicting_labels"].tables[0].rows[0][3] == 180
    assert ours["data.conflicting_labels"].tables[0].rows[0][5] == 90


def test_a_sample_would_not_see_them(tmp_path):
    """The same table's sample of 1,000 rows, audited in memory: the copies vanish."""
    frame = table(20_000, copies=150, conflicts=90)
    sample = frame.sample(1000, random_state=0)
    result = by_check(auditor.audit(test=sample, target="label", select=CHECKS))
    assert result["data.duplicate_rows"].status == "pass"
    assert result["data.conflicting_labels"].status == "pass"


def test_bucket_counts_equal_a_direct_count():
    rng = np.random.default_rng(1)
    keys = rng.integers(0, 50, 400).astype(np.uint64)
    labels = rng.integers(0, 3, 400).astype(np.uint64)
    halves = [(keys[:150], labels[:150]), (keys[150:], labels[150:])]
    copies, pairs, conflict_rows, conflict_pairs = bucket_repeats(halves)
    rows = pd.DataFrame({"k": keys, "y": labels})
    per_row = rows.value_counts()
    assert copies == (per_row - 1).sum()
    assert pairs == (per_row * (per_row - 1) / 2).sum()
    groups = rows.groupby("k")
    mixed = groups["y"].nunique() >= 2
    assert conflict_rows == groups.size()[mixed].sum()
    sizes = groups.size()
    same = (per_row * (per_row - 1) / 2).groupby(level="k").sum()
    assert conflict_pairs == ((sizes * (sizes - 1) / 2 - same)[mixed]).sum()
