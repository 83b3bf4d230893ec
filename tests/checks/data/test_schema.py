"""``data.schema``: a declared pandera schema, or the kinds of values train had."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from auditor.errors import InputError
from auditor.inputs import load_inputs
from auditor.registry import build_params, load_registry
from auditor.runner import run_check
from auditor.schemas import read_schema
from auditor.spec import AuditSpec

SPEC = load_registry()["data.schema"]

SCHEMA_YAML = """\
schema_type: dataframe
columns:
  age:
    dtype: float64
    nullable: true
    in_range: {min_value: 0, max_value: 120}
  income:
    dtype: float64
    greater_than_or_equal_to: 0
  plan:
    dtype: str
    isin: [basic, plus, pro]
  region:
    dtype: str
    nullable: false
  y:
    dtype: int64
coerce: true
"""


def make_split(seed: int, n_train: int = 600, n_test: int = 300):
    """A clean (train, test) pair that fits SCHEMA_YAML."""
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "income": np.round(rng.lognormal(10, 0.5, n), 2),
            "plan": rng.choice(["basic", "plus", "pro"], n),
            "region": rng.choice(["north", "south", "east", "west"], n),
            "signed_on": (
                pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 700, n), "D")
            ).strftime("%Y-%m-%d"),
            "y": rng.integers(0, 2, n),
        }
    )
    return (
        frame.iloc[:n_train].reset_index(drop=True),
        frame.iloc[n_train:].reset_index(drop=True),
    )


def run(train, test, schema_path: Path | None = None, **params):
    spec = AuditSpec(target="y", schema=None if schema_path is None else str(schema_path))
    ctx = load_inputs(spec, train=train, test=test).context
    return run_check(ctx, SPEC, build_params(SPEC, params))


def by_column(result) -> dict:
    findings = {}
    for finding in result.findings:
        assert len(finding.columns) == 1
        assert finding.columns[0] not in findings, "one finding per column"
        findings[finding.columns[0]] = finding
    return findings


def counts(finding) -> dict:
    return {(f["split"], f["check"]): f["n_failures"] for f in finding.evidence["failures"]}


@pytest.fixture
def schema_file(tmp_path) -> Path:
    path = tmp_path / "schema.yaml"
    path.write_text(SCHEMA_YAML, encoding="utf-8")
    return path


# --- declared schema -------------------------------------------------------------------------


def test_declared_schema_passes_clean_data(schema_file, seed):
    train, test = make_split(seed)
    result = run(train, test, schema_file)
    assert result.status == "pass", result.summary
    assert result.findings == ()
    assert "passes the declared schema (5 columns" in result.summary


def test_declared_schema_collects_every_failure_with_exact_counts(schema_file, seed):
    train, test = make_split(seed)
    test["age"] = test["age"].astype(object)
    test.loc[[3, 7, 11], "age"] = "unknown"  # wrong type in 3 rows
    train.loc[[5, 6], "age"] = 150  # out of [0, 120] in 2 train rows
    test.loc[[1, 2, 4, 8], "income"] = -1.0  # below 0 in 4 rows
    test.loc[[0, 9], "plan"] = "gold"  # not an allowed category
    test.loc[[10, 12, 14], "region"] = None  # nulls in a non-nullable column
    train.loc[[20], "income"] = -5.0  # and one failure in train: both splits are validated

    result = run(train, test, schema_file)

    assert result.status == "fail"
    findings = by_column(result)
    assert set(findings) == {"age", "income", "plan", "region"}
    # The range check cannot run on the unconverted test column: only its type is reported.
    assert counts(findings["age"]) == {
        ("test", "coerce_dtype('float64')"): 3,
        ("train", "in_range(0, 120)"): 2,
    }
    assert findings["age"].code == "schema_violation"  # two kinds of failure
    assert counts(findings["income"]) == {
        ("test", "greater_than_or_equal_to(0)"): 4,
        ("train", "greater_than_or_equal_to(0)"): 1,
    }
    assert findings["income"].code == "out_of_domain"
    assert counts(findings["plan"]) == {("test", "isin(['basic', 'plus', 'pro'])"): 2}
    assert counts(findings["region"]) == {("test", "not_nullable"): 3}
    assert findings["region"].code == "null_not_allowed"
    assert all(f.severity == "high" for f in result.findings)

    income = {f["split"]: f for f in findings["income"].evidence["failures"]}
    assert income["test"]["example_rows"] == [1, 2, 4, 8]
    assert income["train"]["example_rows"] == [20]
    assert income["test"]["example_values"] == ["-1.0"]
    assert findings["income"].evidence["n_failures"] == 5
    assert "greater_than_or_equal_to(0) fails on 4 test rows (rows 1, 2, 4, 8)" in (
        findings["income"].message
    )
    assert result.measurement("n_columns_violating").value == 4
    assert result.measurement("n_failures").value == 3 + 2 + 5 + 2 + 3
    json.dumps([f.evidence for f in result.findings], allow_nan=False)


def test_declared_schema_reports_a_missing_column_and_a_whole_column_type(tmp_path, seed):
    path = tmp_path / "strict.yaml"
    path.write_text(
        "schema_type: dataframe\ncolumns:\n  age: {dtype: int64}\n  segment: {dtype: str}\n",
        encoding="utf-8",
    )
    train, test = make_split(seed)
    test["age"] = test["age"] + 0.5
    findings = by_column(run(train, test, path))
    assert findings["segment"].code == "missing_column"
    assert {f["split"] for f in findings["segment"].evidence["failures"]} == {"train", "test"}
    assert findings["age"].code == "wrong_type"
    (failure,) = findings["age"].evidence["failures"]
    assert (failure["split"], failure["n_failures"]) == ("test", None)
    assert "has dtype 'float64' in test" in findings["age"].message


@pytest.mark.parametrize(("severity", "status"), [("medium", "warn"), ("low", "pass")])
def test_declared_severity_is_a_parameter(schema_file, severity, status, seed):
    train, test = make_split(seed)
    test.loc[[0], "plan"] = "gold"
    result = run(train, test, schema_file, severity=severity)
    assert result.status == status
    assert [f.severity for f in result.findings] == [severity]


def test_an_unknown_severity_is_an_input_error():
    with pytest.raises(
        InputError, match=r"'severity' must be one of low, medium, high, got 'fatal'"
    ):
        build_params(SPEC, {"severity": "fatal"})


@pytest.mark.parametrize(
    ("text", "match"),
    [
        pytest.param("columns: [unclosed", "is not valid YAML", id="bad_yaml"),
        pytest.param("- a\n- b\n", "has no 'columns' table", id="a_list"),
        pytest.param(
            "columns:\n  a: {dtype: int64, isn: [1, 2]}\n",
            r"column 'a' has unknown key 'isn'; did you mean 'isin'\?",
            id="misspelt_check",
        ),
        pytest.param(
            "columns: {a: {}}\ncoerse: true\n", "did you mean 'coerce'", id="misspelt_option"
        ),
        pytest.param(
            "columns:\n  a:\n    checks: [{value: 1, options: {check_name: nope}}]\n",
            "is not a valid pandera schema",
            id="unknown_check_in_list",
        ),
        pytest.param(
            "columns:\n  a: {dtype: not_a_type}\n", "is not a valid pandera schema", id="bad_dtype"
        ),
    ],
)
def test_an_invalid_schema_file_is_an_input_error(tmp_path, text, match):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=match) as caught:
        read_schema(path)
    assert "\n" not in str(caught.value)
    assert "auditor schema infer" in str(caught.value)


def test_a_missing_schema_file_is_an_input_error_before_loading_data(tmp_path, seed):
    train, test = make_split(seed)
    spec = AuditSpec(target="y", schema=str(tmp_path / "nope.yaml"))
    with pytest.raises(InputError, match=r"--schema '.*nope.yaml' does not exist"):
        load_inputs(spec, train=train, test=test)


# --- inferred schema -------------------------------------------------------------------------


def test_inferred_mode_passes_drift_missingness_and_storage_changes(seed):
    train, test = make_split(seed)
    rng = np.random.default_rng(seed + 1)
    test["income"] = test["income"] * 3 + 50_000  # ranges drift: not a schema change
    test["age"] = test["age"].where(rng.random(len(test)) > 0.02)  # ints become floats + NaN
    test.loc[[0, 1], "plan"] = "enterprise"  # a new category: data.unseen_categories' job
    test["region"] = test["region"].astype("string[pyarrow]")  # other text storage
    test["plan"] = test["plan"].astype("category")
    test.loc[[5], "signed_on"] = None
    result = run(train, test)
    assert result.status == "pass", [f.message for f in result.findings]
    assert "Every test value has the kind of its train column (5 columns" in result.summary


def test_inferred_mode_flags_a_numeric_column_arriving_as_text(seed):
    train, test = make_split(seed)
    test["income"] = test["income"].map(lambda v: f"{v:,.2f}")  # '12,345.67'
    result = run(train, test)
    assert result.status == "fail"
    (finding,) = result.findings
    assert (finding.code, finding.severity, finding.columns) == (
        "type_changed",
        "high",
        ("income",),
    )
    assert counts(finding) == {("test", "kind(numbers)"): len(test)}
    assert finding.evidence["failures"][0]["example_rows"] == list(range(10))
    assert "holds text in 300 test rows (rows 0, 1, 2, 3, 4, ...) where train holds numbers" in (
        finding.message
    )


def test_inferred_mode_counts_only_the_stray_values_of_a_mixed_column(seed):
    train, test = make_split(seed)
    test["income"] = test["income"].astype(object)
    test.loc[[4, 40], "income"] = "n/a"
    test.loc[[44], "income"] = "1200"
    (finding,) = run(train, test).findings
    assert counts(finding) == {("test", "kind(numbers)"): 3}
    assert finding.evidence["failures"][0]["example_rows"] == [4, 40, 44]
    assert "1 of them are numbers written as text" in finding.message


def test_inferred_mode_flags_text_arriving_as_numbers(seed):
    train, test = make_split(seed)
    test["region"] = np.arange(len(test)) % 4
    (finding,) = run(train, test).findings
    assert (finding.code, finding.columns) == ("type_changed", ("region",))
    assert counts(finding) == {("test", "kind(text)"): len(test)}


def test_inferred_mode_flags_numbers_written_as_text_in_train(seed):
    train, test = make_split(seed)
    train["income"] = train["income"].map(str)  # the train file was parsed differently
    (finding,) = run(train, test).findings
    assert (finding.code, finding.columns) == ("type_changed", ("income",))
    assert counts(finding) == {("test", "kind(text)"): len(test)}
    assert "where train holds numbers written as text" in finding.message


def test_inferred_mode_accepts_codes_read_back_as_numbers(seed):
    train, test = make_split(seed)
    train["rooms"] = np.array(["1", "2", "3", "4+"])[np.arange(len(train)) % 4]
    test["rooms"] = np.arange(len(test)) % 3 + 1  # no '4+' in test: the CSV reads numbers
    assert run(train, test).status == "pass"
    test.loc[[8, 9], "rooms"] = 7  # a number train never held
    (finding,) = run(train, test).findings
    assert counts(finding) == {("test", "kind(text)"): 2}


def test_inferred_mode_warns_on_fractions_in_a_whole_number_column(seed):
    train, test = make_split(seed)
    test["age"] = test["age"].astype(float)
    test.loc[[2, 3], "age"] = [33.5, 41.25]
    result = run(train, test)
    assert result.status == "warn"
    (finding,) = result.findings
    assert (finding.code, finding.severity) == ("fractional_values", "medium")
    assert counts(finding) == {("test", "kind(whole numbers)"): 2}


def test_inferred_mode_flags_dates_that_no_longer_parse(seed):
    train, test = make_split(seed)
    test.loc[[1, 2, 3], "signed_on"] = pd.to_datetime(test.loc[[1, 2, 3], "signed_on"]).dt.strftime(
        "%d/%m/%Y"
    )
    (finding,) = run(train, test).findings
    assert (finding.code, finding.columns) == ("unparseable_dates", ("signed_on",))
    assert counts(finding) == {("test", "dates(ISO 8601)"): 3}


def test_inferred_mode_flags_a_missing_column(seed):
    train, test = make_split(seed)
    (finding,) = run(train, test.drop(columns="region")).findings
    assert (finding.code, finding.severity, finding.columns) == (
        "missing_column",
        "high",
        ("region",),
    )


def test_without_train_or_schema_the_check_is_skipped(seed):
    _, test = make_split(seed)
    ctx = load_inputs(AuditSpec(target="y"), test=test).context
    result = run_check(ctx, SPEC, build_params(SPEC, {}))
    assert result.status == "skipped"
    assert "--schema" in result.skip_reason
    assert "--train" in result.skip_reason


def test_a_declared_schema_validates_test_alone(schema_file, seed):
    _, test = make_split(seed)
    test.loc[[0], "income"] = -3.0
    ctx = load_inputs(AuditSpec(target="y", schema=str(schema_file)), test=test).context
    result = run_check(ctx, SPEC, build_params(SPEC, {}))
    assert result.status == "fail"
    assert counts(result.findings[0]) == {("test", "greater_than_or_equal_to(0)"): 1}


def test_declared_validation_leaves_the_frames_untouched(schema_file, seed):
    train, test = make_split(seed)
    test["age"] = test["age"].astype(object)
    test.loc[[1], "age"] = "old"
    spec = AuditSpec(target="y", schema=str(schema_file))
    ctx = load_inputs(spec, train=train, test=test).context
    before = {
        n: (ctx_frame.dtypes.to_dict(), ctx_frame.copy())
        for n, ctx_frame in (("train", ctx.train), ("test", ctx.test))
    }
    result = run_check(ctx, SPEC, build_params(SPEC, {}))
    assert result.summary == "1 column ('age') breaks the declared schema: 1 failing value."
    for name, (dtypes, frame) in before.items():
        after = getattr(ctx, name)
        assert after.dtypes.to_dict() == dtypes
        pd.testing.assert_frame_equal(after, frame)
