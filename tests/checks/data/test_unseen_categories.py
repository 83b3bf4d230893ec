"""``data.unseen_categories``: a new category is found; rare values and free text are not."""

from __future__ import annotations

import numpy as np
import pytest
from _factories_quality import clean_split, context, plant_value, rows_at

from auditor.checks.data.unseen_categories import UnseenCategoriesParams, unseen_categories
from auditor.registry import load_registry
from auditor.runner import run_check

SPEC = load_registry()["data.unseen_categories"]


def findings(result) -> list[tuple]:
    return [(f.code, f.severity, f.columns, f.evidence["counted_rows"]) for f in result.findings]


@pytest.mark.parametrize("declare_roles", [True, False], ids=["roles", "inferred"])
@pytest.mark.parametrize("n", [1000, 8000])
def test_clean_table_with_rare_categories_passes(seed, declare_roles, n):
    # 'city' has 400 Zipf-distributed levels: test always holds some never seen in train.
    train, test = clean_split(n, seed)
    result = unseen_categories(
        context(train, test, declare_roles=declare_roles), UnseenCategoriesParams()
    )
    assert result.status == "pass", result.summary
    assert [f for f in result.findings if f.severity != "low"] == []
    city = next(row for row in result.tables[0].rows if row[0] == "city")
    assert city[2] > 0  # new city values exist ...
    assert city[6] == 0  # ... but none counts


@pytest.mark.parametrize("declare_roles", [True, False], ids=["roles", "inferred"])
def test_new_level_of_a_low_cardinality_column_is_found(seed, declare_roles):
    train, test = clean_split(4000, seed)
    rows = rows_at(len(test), len(test) // 100, seed)
    planted = plant_value(test, "region", rows, "far_north")
    ctx = context(train, planted, declare_roles=declare_roles)
    result = unseen_categories(ctx, UnseenCategoriesParams())
    assert result.status == "warn"
    assert findings(result) == [("unseen_categories", "medium", ("region",), len(rows))]
    evidence = result.findings[0].evidence
    assert evidence["counted_categories"] == [{"value": "far_north", "rows": len(rows)}]
    assert evidence["expected_share_good_turing"] == 0.0


def test_new_level_of_a_high_cardinality_column_is_found():
    train, test = clean_split(4000, 0)
    rows = rows_at(len(test), 10, 1)  # 1% of test rows
    result = unseen_categories(
        context(train, plant_value(test, "city", rows, "city_new")), UnseenCategoriesParams()
    )
    assert findings(result) == [("unseen_categories", "medium", ("city",), 10)]
    # Rare cities alone would explain a few percent of new values: the level stands out anyway.
    assert result.findings[0].evidence["expected_share_good_turing"] > 0.01


def test_large_new_level_fails():
    train, test = clean_split(4000, 0)
    rows = rows_at(len(test), len(test) // 10, 2)
    result = unseen_categories(
        context(train, plant_value(test, "plan", rows, "enterprise")), UnseenCategoriesParams()
    )
    assert result.status == "fail"
    assert findings(result) == [("unseen_categories", "high", ("plan",), len(rows))]


def test_a_handful_of_rows_is_informational():
    train, test = clean_split(4000, 0)
    result = unseen_categories(
        context(train, plant_value(test, "region", rows_at(len(test), 3, 3), "far_north")),
        UnseenCategoriesParams(),
    )
    assert result.status == "pass"
    assert [(f.code, f.severity, f.columns) for f in result.findings] == [
        ("new_rare_values", "low", ("region",))
    ]


def test_free_text_column_stays_quiet():
    train, test = clean_split(4000, 0)
    train = train.assign(comment=[f"note {i} about the case" for i in range(len(train))])
    test = test.assign(comment=[f"remark {i} on the file" for i in range(len(test))])
    result = unseen_categories(context(train, test), UnseenCategoriesParams())
    assert result.status == "pass"
    comment = next(row for row in result.tables[0].rows if row[0] == "comment")
    assert comment[4] == 1.0
    assert comment[5] == 1.0


@pytest.mark.parametrize(
    ("offset", "severity"), [(0.0, "medium"), (1e-6, "low")], ids=["at", "just_above"]
)
def test_warn_share_boundary(offset, severity):
    train, test = clean_split(4000, 0)
    rows = rows_at(len(test), 8, 4)
    planted = plant_value(test, "channel", rows, "kiosk")
    share = 8 / int(planted["channel"].notna().sum())
    params = UnseenCategoriesParams(warn_share=share + offset)
    result = unseen_categories(context(train, planted), params)
    assert [f.severity for f in result.findings if f.columns == ("channel",)] == [severity]


def test_min_rows_parameter():
    train, test = clean_split(4000, 0)
    planted = plant_value(test, "region", rows_at(len(test), 8, 5), "far_north")
    ctx = context(train, planted)
    assert findings(unseen_categories(ctx, UnseenCategoriesParams()))[0][1] == "medium"
    assert findings(unseen_categories(ctx, UnseenCategoriesParams(min_rows=9)))[0][1] == "low"


def test_needs_train():
    _, test = clean_split(2000, 0)
    result = run_check(context(None, test), SPEC, UnseenCategoriesParams())
    assert result.status == "skipped"
    assert "--train" in result.skip_reason


def test_missing_values_are_not_categories():
    train, test = clean_split(4000, 0)
    test = test.copy()
    test.loc[np.arange(0, len(test), 3), "plan"] = None
    result = unseen_categories(context(train, test), UnseenCategoriesParams())
    assert all(f.columns != ("plan",) for f in result.findings)
