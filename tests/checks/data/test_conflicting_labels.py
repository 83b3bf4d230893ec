"""``data.conflicting_labels``: relabelled copies found; chance conflicts of coarse data not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _factories_quality import TARGETS, clean_split, context, plant_copies, split

from auditor.checks.data.conflicting_labels import ConflictingLabelsParams, conflicting_labels
from auditor.inputs import load_inputs
from auditor.spec import AuditSpec

TASKS = ["binary", "multiclass", "regression"]


def findings(result) -> list[tuple]:
    return [(f.severity, f.evidence["split"], f.evidence["rows"]) for f in result.findings]


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("declare_roles", [True, False], ids=["roles", "inferred"])
def test_clean_realistic_table_passes(seed, task, declare_roles):
    train, test = clean_split(3000, seed, task)
    ctx = context(train, test, task, declare_roles=declare_roles)
    result = conflicting_labels(ctx, ConflictingLabelsParams())
    assert result.status == "pass", result.summary
    assert result.findings == ()


@pytest.mark.parametrize("task", TASKS)
def test_relabelled_copies_are_found_exactly(seed, task):
    train, test = clean_split(4000, seed, task)
    planted = plant_copies(train, 30, seed, flip_target=TARGETS[task])
    result = conflicting_labels(context(planted, test, task), ConflictingLabelsParams())
    assert result.status == "warn"
    # Each copy conflicts with its original: 60 rows, 30 pairs.
    assert findings(result) == [("medium", "train", 60)]
    assert result.findings[0].evidence["conflicting_pairs"] == 30
    assert result.findings[0].columns == ()
    y = planted[TARGETS[task]]
    examples = result.findings[0].evidence["example_rows"]
    content = planted.drop(columns=["customer_id", TARGETS[task]])
    for position in examples:
        same = (content == content.iloc[position]) | (
            content.isna() & content.iloc[position].isna()
        )
        twins = np.flatnonzero(same.all(axis=1))
        assert len(twins) == 2
        assert y.iloc[twins[0]] != y.iloc[twins[1]]


def test_copies_with_the_same_label_are_not_conflicts():
    train, test = clean_split(4000, 0)
    result = conflicting_labels(
        context(plant_copies(train, 30, 1), test), ConflictingLabelsParams()
    )
    assert result.findings == ()


def test_many_conflicts_fail_and_test_split_is_named():
    train, test = clean_split(4000, 0)
    planted = plant_copies(test, 40, 2, flip_target="default")
    result = conflicting_labels(context(train, planted), ConflictingLabelsParams())
    assert result.status == "fail"
    assert findings(result) == [("high", "test", 80)]


def test_regression_tolerance_in_interquartile_ranges():
    train, test = clean_split(4000, 0, "regression")
    copies = train.iloc[:20].copy()
    iqr = train["spend"].quantile(0.75) - train["spend"].quantile(0.25)
    copies["customer_id"] += 10**6
    close = pd.concat([train, copies.assign(spend=copies["spend"] + 0.05 * iqr)], ignore_index=True)
    far = pd.concat([train, copies.assign(spend=copies["spend"] + 0.2 * iqr)], ignore_index=True)
    params = ConflictingLabelsParams()
    assert conflicting_labels(context(close, test, "regression"), params).findings == ()
    assert findings(conflicting_labels(context(far, test, "regression"), params)) == [
        ("medium", "train", 40)
    ]
    loose = ConflictingLabelsParams(min_target_gap=0.3)
    assert conflicting_labels(context(far, test, "regression"), loose).findings == ()


def test_coarse_table_conflicts_by_chance_and_passes():
    rng = np.random.default_rng(0)
    n = 20_000
    a = rng.choice(list("abc"), n)
    frame = pd.DataFrame(
        {
            "a": a,
            "b": rng.choice(list("xyz"), n, p=[0.7, 0.2, 0.1]),
            "c": rng.integers(0, 5, n),
            "age": rng.integers(18, 80, n),
            "y": (rng.random(n) < 0.2 + 0.1 * (a == "a")).astype(int),
        }
    )
    train, test = split(frame, 0.25, 1)
    ctx = load_inputs(AuditSpec(target="y"), train=train, test=test).context
    result = conflicting_labels(ctx, ConflictingLabelsParams())
    assert result.status == "pass"
    rows = {row[0]: row for row in result.tables[0].rows}
    assert rows["train"][3] > 5000
    assert rows["train"][7] == "expected by chance"


@pytest.mark.parametrize(
    ("pairs", "expected"), [(1, []), (2, [("low", "train", 4)])], ids=["2_rows", "4_rows"]
)
def test_min_rows_boundary(pairs, expected):
    train, test = clean_split(6000, 0)
    planted = plant_copies(train, pairs, 5, flip_target="default")
    result = conflicting_labels(context(planted, test), ConflictingLabelsParams())
    assert findings(result) == expected
