"""leakage.train_test_overlap: planted copies are counted exactly; clean splits stay quiet."""

from __future__ import annotations

import _factories_overlap as fx
import numpy as np
import pandas as pd
import pytest

from auditor.checks._row_keys import judge_matches
from auditor.checks.leakage.train_test_overlap import TrainTestOverlapParams, train_test_overlap
from auditor.inputs import load_inputs
from auditor.registry import SkipCheck
from auditor.spec import AuditSpec, ColumnRolesSpec

DECLARED = ColumnRolesSpec(id="application_id", group="customer_id", time="application_date")


def _run(train, test, *, declared=True, **params):
    spec = AuditSpec(target=fx.TARGET, columns=DECLARED if declared else ColumnRolesSpec())
    ctx = load_inputs(spec, train=train, test=test).context
    return train_test_overlap(ctx, TrainTestOverlapParams(**params))


@pytest.fixture(scope="module")
def table():
    return fx.realistic_table(4000, 7)


@pytest.fixture(scope="module")
def split(table):
    return fx.random_split(table, 107)


@pytest.mark.parametrize("declared", [True, False], ids=["declared", "undeclared"])
@pytest.mark.parametrize("how", ["random", "time", "time_shuffled", "group"])
def test_clean_splits_pass_without_findings(table, how, declared):
    train, test = {
        "random": lambda: fx.random_split(table, 108),
        "time": lambda: fx.time_split(table),
        "time_shuffled": lambda: fx.time_split(table, shuffle_seed=109),
        "group": lambda: fx.group_split(table, 110),
    }[how]()
    outcome = _run(train, test, declared=declared)
    assert outcome.status == "pass"
    assert outcome.findings == ()
    assert outcome.summary.startswith("No test row repeats a train row across")


@pytest.mark.parametrize(
    ("count", "fail_share", "status"),
    # 800 test rows: a rate there is known to +/- 3.5%, so copies fail from 28 rows.
    [(1, 0.005, "warn"), (5, 0.005, "warn"), (27, 0.001, "warn"), (40, 0.001, "fail")],
)
def test_planted_copies_with_new_ids_are_counted_exactly(split, count, fail_share, status):
    train, test = split
    planted, positions = fx.copy_train_rows(train, test, count, seed=count)
    outcome = _run(train, planted, fail_share=fail_share)
    assert outcome.status == status
    (finding,) = outcome.findings
    assert finding.code == "test_rows_in_train"
    assert finding.columns == ()
    assert finding.evidence["rows"] == count
    assert finding.evidence["example_test_rows"] == [int(p) for p in positions[:10]]
    # The quoted train rows are the sources of the quoted test rows.
    for test_row, train_row in zip(
        finding.evidence["example_test_rows"], finding.evidence["example_train_rows"], strict=True
    ):
        left = planted.drop(columns="application_id").iloc[test_row]
        right = train.drop(columns="application_id").iloc[train_row]
        pd.testing.assert_series_equal(left, right, check_names=False)
    assert "chance explains none" in finding.message
    assert f"{count:,} of {len(test):,} test rows" in finding.message


def test_copies_are_found_without_declared_roles(split):
    train, test = split
    planted, _ = fx.copy_train_rows(train, test, 40, seed=3)
    outcome = _run(train, planted, declared=False)
    assert outcome.status == "fail"
    assert outcome.findings[0].evidence["rows"] == 40


def test_an_undeclared_reference_column_does_not_hide_copies(split):
    train, test = (frame.copy() for frame in split)
    train["reference"] = [f"R{i:07d}" for i in range(len(train))]
    test["reference"] = [f"T{i:07d}" for i in range(len(test))]
    planted, _ = fx.copy_train_rows(train, test, 12, seed=4)
    planted["reference"] = test["reference"]
    outcome = _run(train, planted)
    assert outcome.findings[0].evidence["rows"] == 12


def test_missing_values_match_missing_values(split):
    train, test = split
    with_gaps = np.flatnonzero(train["income"].isna().to_numpy())[:5]
    out = test.copy()
    for column in out.columns.drop("application_id"):
        values = out[column].to_numpy(copy=True)
        values[:5] = train[column].to_numpy()[with_gaps]
        out[column] = values
    finding = _run(train, out).findings[0]
    assert finding.evidence["rows"] == 5


def test_integers_read_as_decimals_because_of_a_gap_still_match(split):
    train, test = (frame.copy() for frame in split)
    train["age"] = train["age"].astype(float)
    train.loc[3, "age"] = np.nan  # how a CSV reader stores an integer column with a gap
    planted, _ = fx.copy_train_rows(train, test, 8, seed=5)
    planted["age"] = planted["age"].astype("int64")
    outcome = _run(train, planted)
    assert outcome.findings[0].evidence["rows"] == 8


def test_whole_decimals_with_gaps_in_one_split_only_still_match(split):
    train, test = (frame.copy() for frame in split)
    train["age"] = train["age"].astype(float)
    test["age"] = test["age"].astype(float)
    train.loc[3, "age"] = np.nan  # both decimal columns; only train has a gap
    planted, _ = fx.copy_train_rows(train, test, 8, seed=7)
    outcome = _run(train, planted)
    assert [f.code for f in outcome.findings] == ["test_rows_in_train"]
    assert outcome.findings[0].evidence["rows"] == 8


def test_a_column_retyped_to_decimals_is_reported_and_defers_to_near_duplicates(split):
    train, test = split
    planted, _ = fx.copy_train_rows(train, test, 8, seed=6)
    planted["age"] = planted["age"].astype(float)
    outcome = _run(train, planted)
    assert outcome.status == "pass"
    (finding,) = outcome.findings
    assert (finding.code, finding.severity, finding.columns) == (
        "number_type_differs",
        "low",
        ("age",),
    )


def test_chance_repeats_of_coarse_tables_are_not_copies():
    table = fx.coarse_table(3000, 8)
    train, test = fx.random_split(table, 9)
    outcome = _run(train, test, declared=False)
    assert outcome.status == "pass"
    assert outcome.findings == ()
    assert "in line with" in outcome.summary
    assert outcome.measurements[1].value > 0.9  # almost every test row repeats a train row


def test_copies_beyond_chance_in_a_coarse_table_with_rare_combinations_are_found():
    rng = np.random.default_rng(10)
    table = fx.coarse_table(3000, 11)
    table["city"] = rng.integers(0, 400, size=len(table)).astype(str)  # rare combinations
    train, test = fx.random_split(table, 12)
    planted, _ = fx.copy_train_rows(train, test, 60, seed=13)
    outcome = _run(train, planted, declared=False)
    assert outcome.status == "fail"
    finding = outcome.findings[0]
    assert finding.evidence["rows"] >= 60  # the copies, plus any chance repeats
    assert finding.evidence["excess_rows"] <= 60


@pytest.mark.parametrize(("offset", "status"), [(-1e-6, "fail"), (0.0, "fail"), (1e-6, "warn")])
def test_fail_share_is_a_share_of_the_test_rows(split, offset, status):
    train, test = split
    planted, _ = fx.copy_train_rows(train, test, 40, seed=14)
    share = 40 / len(test)
    assert _run(train, planted, fail_share=share + offset).status == status


def test_min_rows_turns_a_few_copies_into_information(split):
    train, test = split
    planted, _ = fx.copy_train_rows(train, test, 2, seed=15)
    outcome = _run(train, planted, min_rows=3)
    assert outcome.status == "pass"
    assert [f.severity for f in outcome.findings] == ["low"]
    assert "too few to report" in outcome.summary


def test_without_feature_columns_the_check_skips():
    frame = pd.DataFrame({"application_id": range(200), fx.TARGET: [0, 1] * 100})
    with pytest.raises(SkipCheck, match="no feature column"):
        _run(frame.iloc[:150], frame.iloc[150:].reset_index(drop=True), declared=False)


def test_judge_matches_attributes_the_within_train_rate_to_chance():
    # 30% of train rows repeat another; 32% of test rows repeat a train row: chance.
    matches = judge_matches(320, 1000, 3000, 10_000, 0.5, independent=0.0)
    assert matches.expected_share == pytest.approx(0.3)
    assert matches.severity(fail_share=0.001, min_rows=1, alpha=0.001) is None
    # 60% is twice the chance rate: copies.
    matches = judge_matches(600, 1000, 3000, 10_000, 0.5, independent=0.0)
    assert matches.severity(fail_share=0.001, min_rows=1, alpha=0.001) == "high"
    assert matches.excess_rows == pytest.approx(300)


def test_judge_matches_trusts_independence_only_when_it_rules_chance_out():
    # No repeat inside train and continuous columns: one copy is evidence.
    sure = judge_matches(1, 2000, 0, 8000, 0.5, independent=1e-12)
    assert sure.p_value < 1e-6
    # No repeat inside train, but independent columns would repeat now and then: half a
    # row of prior keeps a single match from being significant.
    unsure = judge_matches(1, 2000, 0, 8000, 0.5, independent=1e-4)
    assert unsure.p_value > 0.05
