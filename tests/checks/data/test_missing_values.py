"""``data.missing_values``: planted missingness is found exactly; clean data passes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from auditor.checks.data.missing_values import MissingValuesParams
from auditor.errors import InputError
from auditor.inputs import load_inputs
from auditor.registry import build_params, load_registry
from auditor.runner import run_check
from auditor.spec import AuditSpec

SPEC = load_registry()["data.missing_values"]


def make_frame(n: int, seed: int) -> pd.DataFrame:
    """A table without missing values: three numeric features, one text feature, a target."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "c": rng.exponential(size=n),
            "colour": rng.choice(["red", "green", "blue"], size=n),
            "y": rng.integers(0, 2, size=n),
        }
    )


def plant(frame: pd.DataFrame, column: str, count: int, seed: int) -> pd.DataFrame:
    """Blank exactly ``count`` cells of ``column`` at seeded random rows."""
    frame = frame.copy()
    rows = np.random.default_rng(seed).choice(len(frame), size=count, replace=False)
    frame.loc[rows, column] = np.nan if frame[column].dtype.kind == "f" else None
    return frame


def run(test, train=None, params=None):
    ctx = load_inputs(AuditSpec(target="y"), train=train, test=test).context
    return run_check(ctx, SPEC, params or MissingValuesParams())


def described(result) -> list[tuple]:
    """Each finding as (code, severity, columns): one per column and problem."""
    return [(f.code, f.severity, f.columns) for f in result.findings]


def test_column_empty_in_test_fails(seed):
    train = make_frame(1000, seed)
    test = plant(make_frame(1000, seed + 1), "b", 1000, seed)
    result = run(test, train)
    assert result.status == "fail"
    assert described(result) == [
        ("mostly_missing", "medium", ("b",)),
        ("missing_share_differs", "high", ("b",)),
    ]
    assert "missing in 0.0% of train rows and 100.0% of test rows" in result.findings[0].message
    assert result.measurement("max_missing_share").value == 1.0
    assert result.measurement("n_columns_with_missing").value == 1.0
    (table,) = result.tables
    assert table.columns == (
        "column",
        "train_missing",
        "train_share",
        "test_missing",
        "test_share",
    )
    assert table.rows == (("b", 0, 0.0, 1000, 1.0),)


def test_a_mostly_missing_column_warns_once_with_both_splits(seed):
    train = plant(make_frame(1000, seed), "colour", 600, seed)
    test = plant(make_frame(1000, seed + 1), "colour", 550, seed + 1)
    result = run(test, train)
    assert result.status == "warn"
    (finding,) = result.findings
    assert (finding.code, finding.severity, finding.columns) == (
        "mostly_missing",
        "medium",
        ("colour",),
    )
    assert (finding.evidence["train_share"], finding.evidence["test_share"]) == (0.6, 0.55)
    assert "missing in 60.0% of train rows and 55.0% of test rows" in finding.message
    assert result.summary == "1 missing-value problem(s) in 1 column(s)."


def test_a_column_empty_everywhere_warns_and_does_not_fail(seed):
    # Nothing in it can mislead the model: it wastes a column, it does not block a release.
    train = plant(make_frame(500, seed), "b", 500, seed)
    test = plant(make_frame(500, seed + 1), "b", 500, seed + 1)
    result = run(test, train)
    assert result.status == "warn"
    assert described(result) == [("all_missing", "medium", ("b",))]


def test_a_missingness_gap_in_a_column_the_model_ignores_warns(seed):
    from sklearn.linear_model import LogisticRegression

    train = plant(make_frame(1000, seed), "a", 20, seed)
    test = plant(make_frame(1000, seed + 1), "a", 300, seed)
    model = LogisticRegression().fit(train[["b", "c"]], train["y"])
    ctx = load_inputs(AuditSpec(target="y"), train=train, test=test, model=model).context
    result = run_check(ctx, SPEC, MissingValuesParams())
    assert result.status == "warn"
    assert described(result) == [("missing_share_differs", "medium", ("a",))]
    assert "the model does not take it as an input" in result.findings[0].message


def test_missing_share_that_differs_between_splits_fails_on_that_column_only(seed):
    train = plant(plant(make_frame(1000, seed), "a", 20, seed), "c", 30, seed)
    test = plant(plant(make_frame(1000, seed + 1), "a", 300, seed), "c", 35, seed)
    result = run(test, train)
    assert result.status == "fail"
    assert described(result) == [("missing_share_differs", "high", ("a",))]
    evidence = result.findings[0].evidence
    assert (evidence["train_share"], evidence["test_share"]) == (0.02, 0.3)
    assert evidence["gap"] == pytest.approx(0.28, abs=1e-15)
    # A two-sided two-proportion z-test is the chi-squared test of the 2x2 table.
    table = [[20, 980], [300, 700]]
    expected_p = stats.chi2_contingency(table, correction=False).pvalue
    assert evidence["p_value"] == pytest.approx(expected_p, rel=1e-9)


def test_light_random_missingness_passes(seed):
    rng = np.random.default_rng(seed)
    train, test = make_frame(1000, seed), make_frame(1000, seed + 1)
    for frame in (train, test):
        for column in ("a", "colour"):
            frame.loc[rng.random(len(frame)) < 0.03, column] = None
    result = run(test, train)
    assert result.status == "pass"
    assert result.findings == ()
    assert result.measurement("n_columns_with_missing").value == 2.0
    counts = {c: (int(train[c].isna().sum()), int(test[c].isna().sum())) for c in ("a", "colour")}
    assert {row[0]: (row[1], row[3]) for row in result.tables[0].rows} == counts
    assert result.measurement("max_missing_share").value == max(
        max(train[c].isna().mean(), test[c].isna().mean()) for c in ("a", "colour")
    )
    assert result.summary.startswith("2 of 4 columns have missing values")


def test_no_missing_values_passes_with_an_empty_table(seed):
    result = run(make_frame(200, seed), make_frame(200, seed + 1))
    assert (result.status, result.findings, result.tables[0].rows) == ("pass", (), ())
    assert result.summary == "No missing values in 4 columns."
    assert result.measurement("max_missing_share").value == 0.0


@pytest.mark.parametrize(
    ("n_missing", "warn_share", "status"),
    [
        pytest.param(50, 0.5, "warn", id="at_0.5"),
        pytest.param(49, 0.5, "pass", id="below_0.5"),
        pytest.param(30, 0.3, "warn", id="at_0.3"),
        pytest.param(29, 0.3, "pass", id="below_0.3"),
        pytest.param(7, 0.07, "warn", id="at_0.07"),
        pytest.param(6, 0.07, "pass", id="below_0.07"),
    ],
)
def test_warn_share_boundary(n_missing, warn_share, status, seed):
    test = plant(make_frame(100, seed), "b", n_missing, seed)
    result = run(test, params=MissingValuesParams(warn_share=warn_share))
    assert result.status == status
    expected = [("mostly_missing", "medium", ("b",))] if status == "warn" else []
    assert described(result) == expected
    assert result.tables[0].columns == ("column", "test_missing", "test_share")


@pytest.mark.parametrize(
    ("n_train", "n_test", "flagged"),
    [
        pytest.param(100, 200, True, id="10pct_vs_20pct_at_limit"),
        pytest.param(200, 300, True, id="20pct_vs_30pct_at_limit"),
        pytest.param(600, 700, True, id="60pct_vs_70pct_at_limit"),
        pytest.param(201, 300, False, id="just_below_limit"),
    ],
)
def test_max_share_gap_boundary(n_train, n_test, flagged, seed):
    # 1,000 rows per split: a 10-point gap has p < 1e-6, so only the gap decides.
    train = plant(make_frame(1000, seed), "b", n_train, seed)
    test = plant(make_frame(1000, seed + 1), "b", n_test, seed + 1)
    result = run(test, train, MissingValuesParams(max_share_gap=0.1, warn_share=0.9))
    gap_findings = [f for f in result.findings if f.code == "missing_share_differs"]
    assert len(gap_findings) == int(flagged)
    assert result.status == ("fail" if flagged else "pass")


@pytest.mark.parametrize(
    ("params", "missing", "code"),
    [
        # 30% missing in both splits: a warning only once warn_share is lowered below it.
        pytest.param(
            MissingValuesParams(warn_share=0.25),
            {"train": (1000, 300), "test": (1000, 300)},
            "mostly_missing",
            id="warn_share",
        ),
        # 2% vs 10% on 1,000 rows: an 8-point gap, flagged once the limit is 5 points.
        pytest.param(
            MissingValuesParams(max_share_gap=0.05),
            {"train": (1000, 20), "test": (1000, 100)},
            "missing_share_differs",
            id="max_share_gap",
        ),
        # 5% vs 17% on 100 rows: p = 0.007, flagged at alpha 0.01 but not at 0.001.
        pytest.param(
            MissingValuesParams(alpha=0.01),
            {"train": (100, 5), "test": (100, 17)},
            "missing_share_differs",
            id="alpha",
        ),
    ],
)
def test_custom_params_change_the_outcome(params, missing, code, seed):
    (n_train, k_train), (n_test, k_test) = missing["train"], missing["test"]
    train = plant(make_frame(n_train, seed), "c", k_train, seed)
    test = plant(make_frame(n_test, seed + 1), "c", k_test, seed + 1)
    assert run(test, train).findings == ()
    result = run(test, train, params)
    assert result.findings
    assert {f.code for f in result.findings} == {code}
    assert {f.columns for f in result.findings} == {("c",)}
    assert result.params == {
        "warn_share": params.warn_share,
        "max_share_gap": params.max_share_gap,
        "alpha": params.alpha,
    }


@pytest.mark.parametrize(
    "target_kind", ["binary", "regression"], ids=["binary_target", "regression_target"]
)
def test_unlabelled_rows_are_left_out_and_the_target_is_not_audited(target_kind, seed):
    train, test = make_frame(300, seed), make_frame(300, seed + 1)
    if target_kind == "regression":
        for frame in (train, test):
            frame["y"] = frame["a"] * 3.0 + frame["c"]
    test["y"] = test["y"].astype(float)
    test.loc[:9, "y"] = np.nan
    ctx = load_inputs(AuditSpec(target="y"), train=train, test=test).context
    assert ctx.task == target_kind
    assert len(ctx.test) == 290
    result = run_check(ctx, SPEC, MissingValuesParams())
    assert (result.status, result.findings, result.tables[0].rows) == ("pass", (), ())


@pytest.mark.parametrize(
    ("given", "match"),
    [
        pytest.param(
            {"max_share_gap": 10}, r"share between 0 and 1, got 10.*Write 0\.1 for 10%", id="pct"
        ),
        pytest.param(
            {"alpha": -0.1}, r"'alpha' is a share between 0 and 1, got -0\.1\.$", id="neg"
        ),
        pytest.param({"warn_share": True}, r"'warn_share' must be like 0\.5, got True", id="bool"),
    ],
)
def test_invalid_params_say_how_to_fix_them(given, match):
    with pytest.raises(InputError, match=match):
        build_params(SPEC, given)
