"""``data.constant_columns``: frozen columns and dead feeds found; sparse flags stay quiet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _factories_quality import clean_split, context, plant_value

from auditor.checks.data.constant_columns import ConstantColumnsParams, constant_columns
from auditor.errors import InputError
from auditor.registry import build_params, load_registry

SPEC = load_registry()["data.constant_columns"]


def serious(result) -> list[tuple]:
    return [(f.code, f.severity, f.columns) for f in result.findings if f.severity != "low"]


def everywhere(frame: pd.DataFrame, column: str, value) -> pd.DataFrame:
    return plant_value(frame, column, np.arange(len(frame)), value)


@pytest.mark.parametrize("declare_roles", [True, False], ids=["roles", "inferred"])
def test_clean_realistic_table_passes(seed, declare_roles):
    train, test = clean_split(4000, seed)
    result = constant_columns(
        context(train, test, declare_roles=declare_roles), ConstantColumnsParams()
    )
    assert result.status == "pass", result.summary
    assert serious(result) == []
    assert "No feature column holds a single value" in result.summary


def test_constant_in_both_splits_warns(seed):
    train, test = clean_split(4000, seed)
    ctx = context(everywhere(train, "plan", "basic"), everywhere(test, "plan", "basic"))
    result = constant_columns(ctx, ConstantColumnsParams())
    assert result.status == "warn"
    assert serious(result) == [("constant", "medium", ("plan",))]


def test_dead_feed_in_test_fails(seed):
    train, test = clean_split(4000, seed)
    result = constant_columns(
        context(train, everywhere(test, "credit_score", 0)), ConstantColumnsParams()
    )
    assert result.status == "fail"
    assert serious(result) == [("constant_in_test", "high", ("credit_score",))]
    finding = result.findings[0]
    assert finding.evidence["train_share_of_value"] == 0.0
    assert finding.evidence["test_rows"] == len(test)


def test_frozen_on_the_train_mode_fails_when_chance_cannot_explain_it(seed):
    train, test = clean_split(4000, seed)
    result = constant_columns(
        context(train, everywhere(test, "region", "north")), ConstantColumnsParams()
    )
    assert serious(result) == [("constant_in_test", "high", ("region",))]
    # About 30% of train rows are 'north': 0.3 ** 1000 is no accident.
    assert result.findings[0].evidence["chance"] < 1e-100


def test_small_test_set_missing_a_rare_flag_is_only_informational():
    train, test = clean_split(4000, 0)
    train = everywhere(train, "is_vip", 0)
    train = plant_value(train, "is_vip", np.arange(0, len(train), 200), 1)  # 0.5% of rows
    test = everywhere(test.iloc[:100].reset_index(drop=True), "is_vip", 0)
    result = constant_columns(context(train, test), ConstantColumnsParams())
    assert result.status == "pass"
    (finding,) = [f for f in result.findings if f.columns == ("is_vip",)]
    assert (finding.code, finding.severity) == ("constant_in_test", "low")
    assert finding.evidence["chance"] == pytest.approx(0.995**100, rel=0.05)


def test_constant_in_train_but_varied_in_test_warns(seed):
    train, test = clean_split(4000, seed)
    result = constant_columns(
        context(everywhere(train, "channel", "web"), test), ConstantColumnsParams()
    )
    assert serious(result) == [("constant_in_train", "medium", ("channel",))]


def test_sparse_flag_is_quiet_and_near_constant_is_informational():
    train, test = clean_split(6000, 0)
    # is_vip is a 1% flag: nothing reported. 'plan' set to one value but on 3 train rows.
    almost = everywhere(train, "plan", "basic")
    almost = plant_value(almost, "plan", np.array([5, 50, 500]), "plus")
    result = constant_columns(context(almost, test), ConstantColumnsParams())
    assert result.status == "pass"
    assert [(f.code, f.severity, f.columns) for f in result.findings] == [
        ("near_constant", "low", ("plan",))
    ]


@pytest.mark.parametrize(
    ("others", "reported"), [(4, True), (5, False)], ids=["at_threshold", "below"]
)
def test_near_constant_threshold_boundary(others, reported):
    train, test = clean_split(6000, 0)
    train = everywhere(train.iloc[:4000].reset_index(drop=True), "plan", "basic")
    train = plant_value(train, "plan", np.arange(others), "plus")
    # 4 others of 4,000 rows: top share 0.999 exactly, at the default threshold.
    result = constant_columns(context(train, test), ConstantColumnsParams())
    codes = [(f.code, f.columns) for f in result.findings]
    assert (("near_constant", ("plan",)) in codes) is reported


def test_alpha_decides_between_dead_feed_and_chance():
    train, test = clean_split(4000, 0)
    train = everywhere(train, "is_vip", 0)
    train = plant_value(train, "is_vip", np.arange(0, len(train), 50), 1)  # 2% of rows
    test = everywhere(test.iloc[:300].reset_index(drop=True), "is_vip", 0)
    ctx = context(train, test)
    chance = 0.98**300  # about 0.0023
    strict = constant_columns(ctx, ConstantColumnsParams(alpha=1e-4))
    lenient = constant_columns(ctx, ConstantColumnsParams(alpha=0.01))
    assert [f.severity for f in strict.findings if f.columns == ("is_vip",)] == ["low"]
    assert [f.severity for f in lenient.findings if f.columns == ("is_vip",)] == ["high"]
    assert lenient.findings[0].evidence["chance"] == pytest.approx(chance, rel=0.05)


def test_empty_column_is_left_to_missing_values_and_missingness_is_a_value():
    train, test = clean_split(4000, 0)
    test = everywhere(test, "amount", np.nan)
    # One value plus missing cells is not constant: missingness may carry information.
    half = plant_value(train, "plan", np.arange(0, len(train), 2), "basic")
    half.loc[1::2, "plan"] = None
    result = constant_columns(context(half, test), ConstantColumnsParams())
    assert serious(result) == []


def test_test_only_constant_column_warns():
    _, test = clean_split(4000, 0)
    result = constant_columns(
        context(None, everywhere(test, "plan", "basic")), ConstantColumnsParams()
    )
    assert serious(result) == [("constant", "medium", ("plan",))]
    assert result.tables[0].columns == (
        "column",
        "test_distinct_values",
        "test_top_share",
        "finding",
    )


def test_share_parameter_rejects_percentages():
    with pytest.raises(InputError, match="Write 0.999 for 99.9%"):
        build_params(SPEC, {"min_top_share": 99.9})
