"""``data.out_of_range``: impossible values found; heavy tails and drift are not impossible."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _factories_quality import clean_split, context, plant_value, rows_at

from auditor.checks.data.out_of_range import OutOfRangeParams, out_of_range
from auditor.errors import InputError
from auditor.inputs import load_inputs
from auditor.registry import build_params, load_registry
from auditor.spec import AuditSpec

SPEC = load_registry()["data.out_of_range"]


def findings(result) -> list[tuple]:
    return [(f.code, f.severity, f.columns, f.evidence["rows_by_split"]) for f in result.findings]


@pytest.fixture(scope="module")
def split_4000():
    return clean_split(4000, 0)


@pytest.mark.parametrize("task", ["binary", "regression"])
@pytest.mark.parametrize("declare_roles", [True, False], ids=["roles", "inferred"])
def test_clean_realistic_table_passes(seed, task, declare_roles):
    # Lognormal incomes, Pareto amounts, a balance and temperatures crossing zero.
    train, test = clean_split(4000, seed, task)
    result = out_of_range(
        context(train, test, task, declare_roles=declare_roles), OutOfRangeParams()
    )
    assert result.status == "pass", [f.message for f in result.findings]
    assert result.findings == ()


@pytest.mark.parametrize("n", [2000, 50_000])
def test_heavy_tailed_columns_pass(n):
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "income": rng.lognormal(10, 1.5, n),
            "claim_amount": (rng.pareto(1.2, n) + 1) * 100,
            "returns": rng.standard_t(3, n),
            "wait": rng.weibull(0.6, n),
            "temperature": rng.normal(12, 5, n).round(1),  # about 0.8% below zero
            "y": rng.integers(0, 2, n),
        }
    )
    ctx = load_inputs(AuditSpec(target="y"), test=frame).context
    result = out_of_range(ctx, OutOfRangeParams())
    assert result.findings == (), [f.message for f in result.findings]


def test_negative_age_is_found_exactly(split_4000):
    train, test = split_4000
    rows = rows_at(len(test), 5, 1)
    result = out_of_range(context(train, plant_value(test, "age", rows, -7)), OutOfRangeParams())
    assert result.status == "warn"
    assert findings(result) == [("negative_values", "medium", ("age",), {"test": 5})]
    assert result.findings[0].evidence["example_rows"] == {"test": rows.tolist()}


def test_isolated_negatives_in_a_neutrally_named_column_are_found(split_4000):
    train, test = split_4000
    planted = plant_value(test, "credit_score", rows_at(len(test), 3, 2), -5)
    result = out_of_range(context(train, planted), OutOfRangeParams())
    assert findings(result) == [("negative_values", "medium", ("credit_score",), {"test": 3})]


def test_flipped_signs_in_a_column_crowded_near_zero_are_found(split_4000):
    train, test = split_4000
    rows = rows_at(len(test), 5, 3)
    flipped = test.copy()
    flipped.loc[rows, "utilization"] = -flipped.loc[rows, "utilization"]
    result = out_of_range(context(train, flipped), OutOfRangeParams())
    assert findings(result) == [("negative_values", "medium", ("utilization",), {"test": 5})]


@pytest.mark.parametrize(
    ("column", "code", "count"),
    [
        ("age", 999, 20),
        ("credit_score", -999, 10),
        ("n_accounts", 9999, 10),
        ("tenure_months", -1, 30),
    ],
)
def test_placeholder_codes_are_found(split_4000, column, code, count):
    train, test = split_4000
    planted = plant_value(test, column, rows_at(len(test), count, 4), code)
    result = out_of_range(context(train, planted), OutOfRangeParams())
    assert findings(result) == [("sentinel_value", "medium", (column,), {"test": count})]
    assert result.findings[0].evidence["codes"] == [float(code)]


def test_astronomical_values_are_found_exactly(split_4000):
    train, test = split_4000
    result = out_of_range(
        context(plant_value(train, "income", rows_at(len(train), 3, 5), 1e9), test),
        OutOfRangeParams(),
    )
    assert findings(result) == [("extreme_values", "medium", ("income",), {"train": 3})]


def test_infinite_values_are_found(split_4000):
    train, test = split_4000
    planted = plant_value(test, "balance", rows_at(len(test), 2, 6), np.inf)
    result = out_of_range(context(train, planted), OutOfRangeParams())
    assert findings(result) == [("infinite_values", "medium", ("balance",), {"test": 2})]


def test_values_beyond_the_train_range_are_drift_not_errors(split_4000):
    train, test = split_4000
    drifted = test.assign(
        income=test["income"] * 3, age=test["age"] + 30, balance=test["balance"] - 4000
    )
    result = out_of_range(context(train, drifted), OutOfRangeParams())
    assert result.findings == ()


def test_declared_domains_fail_exactly(split_4000):
    train, test = split_4000
    params = build_params(SPEC, {"domains": ["age>=18", "age<=75", "utilization <= 0.5"]})
    result = out_of_range(context(train, test), params)
    assert result.status == "fail"

    def count(mask_of):
        return {s: int(mask_of(f).sum()) for s, f in (("train", train), ("test", test))}

    assert findings(result) == [
        ("outside_declared_domain", "high", ("age",), count(lambda f: f["age"] > 75)),
        (
            "outside_declared_domain",
            "high",
            ("utilization",),
            count(lambda f: f["utilization"] > 0.5),
        ),
    ]
    assert result.findings[0].evidence["domain"] == "age<=75"


def test_invalid_domain_is_an_input_error():
    with pytest.raises(InputError, match=r"'age=>0' is not like \"age>=0\""):
        build_params(SPEC, {"domains": ["age=>0"]})


def test_domain_on_an_unknown_column_is_an_input_error(split_4000):
    train, test = split_4000
    with pytest.raises(InputError, match="names 'agee', which is not a column"):
        out_of_range(context(train, test), OutOfRangeParams(domains=("agee>=0",)))


def test_min_robust_z_parameter(split_4000):
    train, test = split_4000
    planted = plant_value(test, "temperature", rows_at(len(test), 1, 7), 300.0)
    assert findings(out_of_range(context(train, planted), OutOfRangeParams())) == [
        ("extreme_values", "medium", ("temperature",), {"test": 1})
    ]  # 300 degrees is about 47 robust standard deviations out
    strict = OutOfRangeParams(min_robust_z=60)
    assert out_of_range(context(train, planted), strict).findings == ()


def _ages(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 91, n).astype(float),
            "income": rng.lognormal(10.5, 0.6, n).round(),
            "default": rng.integers(0, 2, n),
        }
    )


def _spoil_ages(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """-1 on 1% of rows and sign-flipped ages on another 1%: 2% impossible ages."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    picked = rng.permutation(len(out))
    out.loc[picked[: len(out) // 100], "age"] = -1.0
    flipped = picked[len(out) // 100 : len(out) // 50]
    out.loc[flipped, "age"] = -out.loc[flipped, "age"]
    return out


def test_minus_one_and_flipped_signs_in_an_age_are_found_in_both_splits():
    train, test = _spoil_ages(_ages(5000, 1), 1), _spoil_ages(_ages(5000, 2), 2)
    result = out_of_range(context(train, test, "binary"), OutOfRangeParams())
    by_code = {f.code: f for f in result.findings}
    assert set(by_code) == {"sentinel_value", "negative_values"}
    assert by_code["sentinel_value"].evidence["codes"] == [-1.0]
    assert by_code["sentinel_value"].evidence["rows_by_split"] == {"train": 50, "test": 50}
    assert by_code["negative_values"].evidence["rows_by_split"] == {"train": 50, "test": 50}
    assert "sign flipped" in by_code["negative_values"].message
    assert result.status == "warn"


def test_a_standardised_age_is_not_called_impossible():
    train, test = _ages(3000, 3), _ages(3000, 4)
    for frame in (train, test):
        frame["age"] = (frame["age"] - 54) / 21  # half negative: rescaled, not wrong
    result = out_of_range(context(train, test, "binary"), OutOfRangeParams())
    assert not [f for f in result.findings if f.columns == ("age",)]


def test_a_cap_is_told_apart_from_a_code_for_unknown():
    train, test = _ages(5000, 5), _ages(5000, 6)
    for frame in (train, test):
        frame["income"] = frame["income"].clip(upper=99_999)
        frame.loc[frame.index[:40], "age"] = 999.0  # unknown age, far beyond the real ones
    result = out_of_range(context(train, test, "binary"), OutOfRangeParams())
    by_column = {f.columns[0]: f for f in result.findings}
    capped = by_column["income"]
    assert (capped.code, capped.severity, capped.evidence["cap"]) == ("top_coded", "low")[:2] + (
        99_999.0,
    )
    assert "not a code for 'unknown'" in capped.message
    assert "Capped (top-coded, kept as they are): 'income' at 99999." in result.summary
    assert (by_column["age"].code, by_column["age"].evidence["codes"]) == (
        "sentinel_value",
        [999.0],
    )
