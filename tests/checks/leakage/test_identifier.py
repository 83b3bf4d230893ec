"""leakage.identifier: ids that track the label are found by column; ordinary ids are not."""

from __future__ import annotations

import _factories_target as factories
import numpy as np
import pandas as pd
import pytest

from auditor.checks._univariate import id_like_columns
from auditor.checks.leakage.identifier import IdentifierParams, identifier
from auditor.errors import InputError
from auditor.inputs import load_inputs
from auditor.spec import AuditSpec, ColumnRolesSpec

DECLARED = ColumnRolesSpec(id="application_id", time="application_date")
INFERRED = ColumnRolesSpec()


def _ctx(train, test, label="default", *, roles=INFERRED, model=None):
    spec = AuditSpec(target=label, columns=roles)
    return load_inputs(spec, train=train, test=test, model=model).context


def _run(train, test, label="default", *, roles=INFERRED, model=None, **params):
    return identifier(
        _ctx(train, test, label, roles=roles, model=model), IdentifierParams(**params)
    )


def _flagged(outcome) -> dict[str, object]:
    return {f.columns[0]: f for f in outcome.findings}


def _scored(outcome) -> dict[str, tuple]:
    return {row[0]: row for row in outcome.tables[0].rows}


def _with_drift(n: int, seed: int, drift: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Loans whose default rate rises over time by ``drift`` on the log-odds scale."""
    train, test = factories.loans(n=n, seed=seed)
    frame = pd.concat([train, test], ignore_index=True)
    rng = np.random.default_rng(seed + 1)
    days = (pd.to_datetime(frame["application_date"]) - pd.Timestamp("2022-01-01")).dt.days
    logit = -2.2 + 0.02 * (frame["credit_score"].to_numpy() < 650) + drift * days / 730
    frame["default"] = (rng.random(len(frame)) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame.iloc[: len(train)].reset_index(drop=True), frame.iloc[len(train) :].reset_index(
        drop=True
    )


# --- clean ids -----------------------------------------------------------------------------


@pytest.mark.parametrize("roles", [INFERRED, DECLARED], ids=["inferred", "declared"])
def test_sequential_and_random_ids_pass(roles, seed):
    train, test = factories.loans(seed=seed)
    outcome = _run(train, test, roles=roles)
    assert outcome.status == "pass", outcome.summary
    scored = _scored(outcome)
    assert set(scored) == {"application_id", "customer_ref"}
    assert scored["application_id"][3] is True  # monotonic: numbered in date order
    assert scored["customer_ref"][3] is False
    assert all(row[5] < 0.6 for row in scored.values())
    assert outcome.summary.startswith("No id-like column reaches ROC AUC 0.80 against the target")


@pytest.mark.parametrize("drift", [1.0, 2.0], ids=["mild_drift", "strong_drift"])
def test_sequential_ids_under_label_drift_over_time_pass(drift, seed):
    train, test = _with_drift(8000, seed, drift)
    outcome = _run(train, test)
    assert outcome.status == "pass", outcome.summary
    assert 0.5 <= _scored(outcome)["application_id"][5] < 0.75


def test_an_id_that_only_follows_a_drifting_date_is_informational(seed):
    train, test = _with_drift(8000, seed, drift=9.0)
    outcome = _run(train, test)
    assert outcome.status == "pass"
    finding = _flagged(outcome)["application_id"]
    assert (finding.code, finding.severity) == ("id_follows_time", "low")
    assert "follows the date column 'application_date'" in finding.message
    assert finding.evidence["score"] >= 0.8


def test_clean_repeating_customer_key_passes(seed):
    train, test = factories.loans(seed=seed)
    train, test = factories.add_customers(train, seed), factories.add_customers(test, seed + 1)
    outcome = _run(train, test)
    assert outcome.status == "pass"
    assert "customer_id" in _scored(outcome)


def test_a_table_without_ids_passes_and_says_so(binary_split):
    train, test = binary_split
    outcome = _run(train, test, "y")
    assert outcome.status == "pass"
    assert outcome.summary.startswith("No column looks like an identifier among the 5 columns")


# --- planted leaks -------------------------------------------------------------------------


@pytest.mark.parametrize("roles", [INFERRED, DECLARED], ids=["inferred", "declared"])
def test_ids_numbered_in_label_order_fail(roles, seed):
    train, test = factories.loans(seed=seed)
    train = factories.plant_ids_in_label_order(train, "default")
    outcome = _run(train, test, roles=roles)
    assert outcome.status == "fail"
    assert list(_flagged(outcome)) == ["application_id"]
    finding = _flagged(outcome)["application_id"]
    assert (finding.code, finding.severity) == ("id_predicts_target", "high")
    assert finding.evidence["score"] >= 0.99
    assert finding.evidence["unique_share"] == 1.0
    assert finding.message.startswith("Identifier 'application_id' (")
    assert "ROC AUC" in finding.message


def test_text_id_with_a_label_prefix_fails(seed):
    train, test = factories.loans(seed=seed)
    train = factories.plant_label_prefix(train, "default")
    finding = _flagged(_run(train, test))["loan_ref"]
    assert finding.severity == "high"
    assert finding.evidence["scored_as"] == "its letters and symbols (digits masked)"
    assert finding.evidence["why_id_like"] == "100% distinct text codes"


def test_text_id_numbered_in_label_order_fails(seed):
    train, test = factories.loans(seed=seed)
    train = factories.plant_text_ids_in_label_order(train, "default")
    finding = _flagged(_run(train, test))["loan_ref"]
    assert finding.severity == "high"
    assert finding.evidence["scored_as"] == "the number in it"


def test_customer_key_numbered_in_label_order_fails(seed):
    train, test = factories.loans(seed=seed)
    train = factories.plant_customers_in_label_order(train, "default", seed)
    test = factories.add_customers(test, seed)
    outcome = _run(train, test)
    assert list(_flagged(outcome)) == ["customer_id"]
    assert outcome.status == "fail"


def test_near_unique_key_named_feature_in_label_order_fails(seed):
    train, test = factories.loans(seed=seed)
    train = factories.plant_ids_in_label_order(train, "default", column="account_no")
    train.loc[train.index[::40], "account_no"] = train["account_no"].iloc[1::40].to_numpy()
    test = test.assign(account_no=np.arange(len(test)))
    outcome = _run(train, test)
    assert list(_flagged(outcome)) == ["account_no"]
    assert _flagged(outcome)["account_no"].evidence["unique_share"] < 1


def test_regression_ids_in_target_order_fail(seed):
    train, test = factories.houses(seed=seed)
    train = factories.plant_ids_in_label_order(train, "price")
    outcome = _run(train, test, "price")
    finding = _flagged(outcome)["application_id"]
    assert finding.severity == "high"
    assert finding.evidence["metric"] == "rank_r2"
    assert "rank R²" in finding.message
    assert outcome.measurements[0].key == "max_identifier_rank_r2"


def test_an_id_among_the_model_inputs_warns(seed):
    from sklearn.tree import DecisionTreeClassifier

    train, test = factories.loans(seed=seed)
    columns = ["application_id", "credit_score"]
    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(
        train[columns], train["default"]
    )
    outcome = _run(train, test, model=model)
    assert outcome.status == "warn"
    finding = _flagged(outcome)["application_id"]
    assert (finding.code, finding.severity) == ("id_in_model", "medium")
    assert finding.evidence["model_input"] is True
    assert "The model takes identifier 'application_id'" in finding.message
    assert "customer_ref" not in _flagged(outcome)


# --- what looks like an id -------------------------------------------------------------------


def test_unique_measurements_and_free_text_are_not_ids(seed):
    train, test = factories.loans(seed=seed)
    rng = np.random.default_rng(seed)
    extra = {
        "income_cents": rng.permutation(np.arange(len(train)) * 977 + 13),  # unique, sparse
        "note": [f"called on day {i} about the loan" for i in range(len(train))],  # free text
        "seq": rng.permutation(len(train)) + 7,  # a dense counter, not named like a key
    }
    train = train.assign(**extra)
    test = test.assign(income_cents=np.arange(len(test)), note="x", seq=np.arange(len(test)))
    found = id_like_columns(_ctx(train, test), train)
    assert "income_cents" not in found
    assert "note" not in found
    assert found["seq"].reason == "100% distinct whole numbers filling a dense range"


# --- parameters -----------------------------------------------------------------------------


def test_threshold_boundaries_are_inclusive(seed):
    train, test = _with_drift(8000, seed, drift=2.0)
    # Without the date column, nothing explains the id's signal away.
    ctx = _ctx(train.drop(columns="application_date"), test.drop(columns="application_date"))
    value = identifier(ctx, IdentifierParams()).measurements[0].value
    assert identifier(ctx, IdentifierParams(warn_at=value)).status == "warn"
    assert identifier(ctx, IdentifierParams(warn_at=value + 1e-6)).status == "pass"
    assert identifier(ctx, IdentifierParams(warn_at=0.5, fail_at=value)).status == "fail"


def test_warning_threshold_above_failure_threshold_is_an_input_error(binary_split):
    train, test = binary_split
    with pytest.raises(InputError, match=r"warn_at=0.95, fail_at=0.9"):
        _run(train, test, "y", warn_at=0.95)
