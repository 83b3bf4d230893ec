"""``data.duplicate_rows``: copied rows found exactly; chance repeats of coarse tables are not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _factories_quality import clean_split, context, plant_copies, split

from auditor.checks._common import chance_agreement_pairs
from auditor.checks.data.duplicate_rows import DuplicateRowsParams, duplicate_rows
from auditor.inputs import load_inputs
from auditor.spec import AuditSpec


def findings(result) -> list[tuple]:
    return [(f.code, f.severity, f.evidence["split"], f.evidence["rows"]) for f in result.findings]


def coarse_table(n: int, seed: int) -> pd.DataFrame:
    """Three categories, a small integer and an age: rows repeat by chance alone."""
    rng = np.random.default_rng(seed)
    a = rng.choice(list("abc"), n)
    return pd.DataFrame(
        {
            "a": a,
            "b": rng.choice(list("xyz"), n, p=[0.7, 0.2, 0.1]),
            "c": rng.integers(0, 5, n),
            "a_group": np.where(a == "a", "A", "B"),  # depends on 'a'
            "age": rng.integers(18, 80, n),
            "y": (rng.random(n) < 0.3).astype(int),
        }
    )


@pytest.mark.parametrize("declare_roles", [True, False], ids=["roles", "inferred"])
def test_clean_realistic_table_passes(seed, declare_roles):
    train, test = clean_split(4000, seed)
    result = duplicate_rows(
        context(train, test, declare_roles=declare_roles), DuplicateRowsParams()
    )
    assert result.status == "pass", result.summary
    assert result.findings == ()
    assert [row[3] for row in result.tables[0].rows] == [0, 0]


@pytest.mark.parametrize("declare_roles", [True, False], ids=["roles", "inferred"])
def test_copies_with_fresh_ids_are_found_exactly(seed, declare_roles):
    train, test = clean_split(4000, seed)
    copied = plant_copies(train, 40, seed)
    result = duplicate_rows(
        context(copied, test, declare_roles=declare_roles), DuplicateRowsParams()
    )
    assert result.status == "warn"
    assert findings(result) == [("duplicate_rows", "medium", "train", 40)]
    finding = result.findings[0]
    assert finding.evidence["expected_pairs_by_chance"] < 1e-6
    # Every example is a copy: the same row content appears earlier in the split.
    content = copied.drop(columns="customer_id")
    for position in finding.evidence["example_rows"]:
        earlier = content.iloc[:position]
        assert (earlier == content.iloc[position]).all(axis=1).sum() + (
            (earlier.isna() & content.iloc[position].isna()).all(axis=1)
        ).sum() >= 1


def test_copies_in_test_are_reported_for_test():
    train, test = clean_split(4000, 0)
    result = duplicate_rows(context(train, plant_copies(test, 10, 1)), DuplicateRowsParams())
    assert findings(result) == [("duplicate_rows", "medium", "test", 10)]
    (share,) = [m.value for m in result.measurements if m.key == "test_duplicate_share"]
    assert share == pytest.approx(10 / (len(test) + 10))


def test_many_copies_fail():
    train, test = clean_split(4000, 0)
    result = duplicate_rows(context(plant_copies(train, 400, 2), test), DuplicateRowsParams())
    assert result.status == "fail"
    assert findings(result) == [("duplicate_rows", "high", "train", 400)]


@pytest.mark.parametrize(
    ("copies", "expected"),
    [(4, []), (5, [("duplicate_rows", "low", "train", 5)])],
    ids=["below_min_rows", "at_min_rows"],
)
def test_min_rows_boundary(copies, expected):
    train, test = clean_split(4000, 0)
    result = duplicate_rows(context(plant_copies(train, copies, 3), test), DuplicateRowsParams())
    assert findings(result) == expected
    assert result.status == "pass"


@pytest.mark.parametrize(
    ("offset", "severity"), [(0.0, "medium"), (1e-6, "low")], ids=["at", "just_above"]
)
def test_warn_share_boundary(offset, severity):
    train, test = clean_split(4000, 0)
    copied = plant_copies(train, 30, 4)
    share = 30 / len(copied)
    result = duplicate_rows(context(copied, test), DuplicateRowsParams(warn_share=share + offset))
    assert [f.severity for f in result.findings] == [severity]


def test_coarse_table_repeats_by_chance_and_passes():
    train, test = split(coarse_table(20_000, 0), 0.25, 1)
    ctx = load_inputs(AuditSpec(target="y"), train=train, test=test).context
    result = duplicate_rows(ctx, DuplicateRowsParams())
    assert result.status == "pass"
    rows = {row[0]: row for row in result.tables[0].rows}
    assert rows["train"][3] > 1000  # thousands of repeats ...
    assert rows["train"][6] == "expected by chance"  # ... all explained by chance


def test_chance_estimate_matches_independent_columns():
    rng = np.random.default_rng(0)
    n = 5000
    frame = pd.DataFrame({"a": rng.integers(0, 10, n), "b": rng.integers(0, 20, n)})
    expected = chance_agreement_pairs(frame, ["a", "b"], rng)
    # Two rows agree on both with probability 1/200: C(5000, 2) / 200 pairs.
    assert expected == pytest.approx(n * (n - 1) / 2 / 200, rel=0.1)


def test_min_chance_ratio_parameter_controls_the_chance_test():
    train, test = split(coarse_table(4000, 1), 0.25, 2)
    ctx = load_inputs(AuditSpec(target="y"), train=train, test=test).context
    assert duplicate_rows(ctx, DuplicateRowsParams()).findings == ()
    result = duplicate_rows(ctx, DuplicateRowsParams(min_chance_ratio=1.0, fail_share=1.0))
    assert {f.evidence["split"] for f in result.findings} <= {"train", "test"}
    assert result.findings
