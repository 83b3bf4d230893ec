"""leakage.group_overlap: leaking group splits and copied ids are found; clean splits pass."""

from __future__ import annotations

import _factories_overlap as fx
import numpy as np
import pandas as pd
import pytest

from auditor.checks.leakage.group_overlap import GroupOverlapParams, group_overlap
from auditor.inputs import load_inputs
from auditor.registry import SkipCheck
from auditor.spec import AuditSpec, ColumnRolesSpec

DECLARED = ColumnRolesSpec(id="application_id", group="customer_id", time="application_date")


def _run(train, test, *, roles=DECLARED, **params):
    ctx = load_inputs(AuditSpec(target=fx.TARGET, columns=roles), train=train, test=test).context
    return group_overlap(ctx, GroupOverlapParams(**params))


def _serious(outcome):
    return [f for f in outcome.findings if f.severity != "low"]


@pytest.fixture(scope="module")
def table():
    return fx.realistic_table(4000, 31)


@pytest.fixture(scope="module")
def grouped(table):
    return fx.group_split(table, 131)


@pytest.mark.parametrize("roles", [DECLARED, ColumnRolesSpec()], ids=["declared", "undeclared"])
def test_a_group_split_passes_without_findings(grouped, roles):
    outcome = _run(*grouped, roles=roles)
    assert outcome.status == "pass"
    assert outcome.findings == ()
    assert outcome.summary.startswith("No value of")
    assert "'customer_id'" in outcome.summary


@pytest.mark.parametrize(("n_groups", "status"), [(2, "warn"), (12, "fail")])
def test_groups_leaking_through_a_declared_group_split_are_counted(grouped, n_groups, status):
    train, test = fx.leak_groups(*grouped, n_groups, seed=n_groups)
    outcome = _run(train, test)
    assert outcome.status == status
    (finding,) = _serious(outcome)
    assert finding.code == "shared_groups"
    assert finding.columns == ("customer_id",)
    assert finding.evidence["shared_values"] == n_groups
    shared = test["customer_id"].isin(set(train["customer_id"]))
    assert finding.evidence["shared_test_rows"] == int(shared.sum())
    assert finding.evidence["example_test_rows"] == list(np.flatnonzero(shared)[:10])


def test_an_undeclared_entity_column_leaking_through_its_split_warns(grouped):
    train, test = fx.leak_groups(*grouped, 12, seed=32)
    outcome = _run(train, test, roles=ColumnRolesSpec())
    assert outcome.status == "warn"
    (finding,) = _serious(outcome)
    assert (finding.code, finding.columns) == ("shared_groups", ("customer_id",))
    assert finding.evidence["shared_values"] == 12
    assert "--group-column 'customer_id'" in finding.message


def test_a_random_split_ignoring_an_undeclared_entity_column_is_information(table):
    train, test = fx.random_split(table, 33)
    outcome = _run(train, test, roles=ColumnRolesSpec())
    assert outcome.status == "pass"
    (finding,) = outcome.findings
    assert (finding.code, finding.severity, finding.columns) == (
        "split_not_by_group",
        "low",
        ("customer_id",),
    )
    assert finding.evidence["share"] == pytest.approx(
        finding.evidence["random_split_share"], abs=0.05
    )


def test_a_row_split_ignoring_the_declared_group_fails_when_most_test_rows_are_known(table):
    # Several rows per customer split at random: most test rows belong to a customer the
    # model was trained on, which is what declaring the group asks the audit to catch.
    train, test = fx.random_split(table, 33)
    outcome = _run(train, test)
    (finding,) = _serious(outcome)
    assert finding.code == "split_not_by_group"
    assert finding.evidence["share"] >= 0.5
    assert (outcome.status, finding.severity) == ("fail", "high")
    assert "ignores the declared group column 'customer_id'" in finding.message
    assert "fail at 50% of test rows" in finding.message


def test_below_the_fail_share_an_ignored_declared_group_warns(table):
    train, test = fx.random_split(table, 34)
    outcome = _run(train, test, fail_ignored_share=0.99)
    (finding,) = _serious(outcome)
    assert (outcome.status, finding.code, finding.severity) == (
        "warn",
        "split_not_by_group",
        "medium",
    )


@pytest.mark.parametrize("roles", [DECLARED, ColumnRolesSpec()], ids=["declared", "undeclared"])
def test_entities_recurring_across_a_time_split_are_information(table, roles):
    train, test = fx.time_split(table, shuffle_seed=35)
    outcome = _run(train, test, roles=roles)
    assert outcome.status == "pass"
    assert [f.code for f in outcome.findings] == ["entities_recur_over_time"]


def test_rows_copied_with_their_id_are_found(grouped):
    train, test = grouped
    planted, positions = fx.copy_train_rows(train, test, 9, seed=36, new_ids=False)
    outcome = _run(train, planted)
    copied = [f for f in outcome.findings if f.code == "copied_rows_with_id"]
    assert len(copied) == 1
    assert copied[0].columns == ("application_id",)
    assert copied[0].evidence["identical_rows"] == 9
    assert copied[0].evidence["example_test_rows"] == [int(p) for p in positions]
    assert outcome.status == "fail"


def test_ids_numbered_separately_in_each_file_are_information(grouped):
    train, test = (frame.copy() for frame in grouped)
    train["application_id"] = np.arange(len(train))
    test["application_id"] = np.arange(len(test))
    outcome = _run(train, test)
    assert outcome.status == "pass"
    assert [f.code for f in outcome.findings] == ["ids_restart_per_file"]


def test_a_declared_id_naming_different_rows_in_both_splits_is_a_shared_entity(grouped):
    train, test = (frame.copy() for frame in grouped)
    test.loc[:19, "application_id"] = train["application_id"].to_numpy()[:20]
    outcome = _run(train, test, roles=ColumnRolesSpec(id="application_id"))
    (finding,) = _serious(outcome)
    assert (finding.code, finding.columns) == ("shared_ids", ("application_id",))
    assert finding.evidence["shared_values"] == 20
    assert outcome.status == "fail"  # 20 of ~800 test rows is above 1%


@pytest.mark.parametrize(("fail_share", "status"), [(0.01, "fail"), (0.5, "warn")])
def test_fail_share(grouped, fail_share, status):
    train, test = fx.leak_groups(*grouped, 12, seed=37)
    assert _run(train, test, fail_share=fail_share).status == status


def test_missing_group_values_are_not_entities(grouped):
    train, test = (frame.copy() for frame in grouped)
    train["customer_id"] = train["customer_id"].astype(float)
    test["customer_id"] = test["customer_id"].astype(float)
    train.loc[:9, "customer_id"] = np.nan
    test.loc[:9, "customer_id"] = np.nan
    outcome = _run(train, test)
    assert outcome.status == "pass"
    assert outcome.findings == ()


def test_without_a_group_or_id_the_check_skips():
    rng = np.random.default_rng(38)
    frame = pd.DataFrame({"x": rng.normal(size=300), fx.TARGET: rng.integers(0, 2, 300)})
    with pytest.raises(SkipCheck, match="no group column"):
        _run(frame.iloc[:200], frame.iloc[200:].reset_index(drop=True), roles=ColumnRolesSpec())
