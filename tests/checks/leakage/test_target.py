"""leakage.target: planted leaks are found by column; clean look-alikes stay quiet."""

from __future__ import annotations

import dataclasses

import _factories_target as factories
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from auditor.checks._univariate import Cells, auc_from_cells, make_target, score_cells
from auditor.checks.leakage.target import TargetParams, target
from auditor.errors import InputError
from auditor.inputs import load_inputs
from auditor.spec import AuditSpec, ColumnRolesSpec

ROLES = {
    "default": ColumnRolesSpec(id="application_id", time="application_date"),
    "tier": ColumnRolesSpec(id="application_id", time="application_date"),
    "price": ColumnRolesSpec(id="application_id", time="application_date"),
}


def _ctx(train, test, label, *, roles=False, with_train=True):
    spec = AuditSpec(target=label, columns=ROLES[label] if roles else ColumnRolesSpec())
    return load_inputs(spec, train=train if with_train else None, test=test).context


def _run(train, test, label, *, roles=False, **params):
    return target(_ctx(train, test, label, roles=roles), TargetParams(**params))


def _flagged(outcome) -> dict[str, object]:
    return {f.columns[0]: f for f in outcome.findings}


# --- clean controls ------------------------------------------------------------------------


@pytest.mark.parametrize("roles", [False, True], ids=["inferred_roles", "declared_roles"])
@pytest.mark.parametrize(
    ("make", "label"),
    [(factories.loans, "default"), (factories.tickets, "tier"), (factories.houses, "price")],
    ids=["binary", "multiclass", "regression"],
)
def test_clean_tables_with_a_strong_legitimate_feature_pass(make, label, roles, seed):
    train, test = make(seed=seed)
    outcome = _run(train, test, label, roles=roles)
    assert outcome.status == "pass", outcome.summary
    assert outcome.findings == ()
    top = outcome.tables[0].rows[0]
    assert top[0] == "credit_score"  # the strong legitimate feature, measured honestly
    if label == "default":
        assert 0.65 < top[3] < 0.85
        assert outcome.summary.startswith("No single feature reaches ROC AUC 0.92 on its own")
        assert "'credit_score'" in outcome.summary


def test_segments_where_the_majority_class_is_common_by_chance_are_not_flagged(seed):
    # Students default at a fifth of the base rate, and 60 loans without a default at a 15%
    # rate happen by chance (0.85^60 = 6e-5): ordinary segments, not leaks.
    train, test = factories.loans(seed=seed)
    rng = np.random.default_rng(seed)
    defaulted = train["default"] == 1
    student = rng.random(len(train)) < np.where(defaulted, 0.04, 0.2)
    lucky = np.flatnonzero(~defaulted)[rng.permutation(int((~defaulted).sum()))[:60]]
    segment = np.where(student, "student", "general")
    segment[lucky] = "vip"
    train = train.assign(segment=segment)
    assert _run(train, test, "default").status == "pass"


def test_a_value_that_means_the_majority_class_on_thousands_of_rows_fails(seed):
    # A post-outcome field: 'no new charge' (0) on every row that did not reoffend... and on
    # none of those that did. The majority class is pure there far beyond chance.
    train, test = factories.loans(seed=seed)
    rng = np.random.default_rng(seed)
    marker = np.where(train["default"] == 0, 0, rng.integers(1, 4, len(train)))
    marker = np.where(rng.random(len(train)) < 0.3, rng.integers(1, 4, len(train)), marker)
    marker[train["default"].to_numpy() == 1] = rng.integers(1, 4, int(train["default"].sum()))
    outcome = _run(train.assign(new_charges=marker), test, "default")
    assert outcome.status == "fail"
    (finding,) = [f for f in outcome.findings if f.columns == ("new_charges",)]
    assert (finding.code, finding.severity) == ("pure_segment", "high")
    assert finding.evidence["purity"] == 1.0


def test_identifiers_are_left_to_the_identifier_check(seed):
    train, test = factories.loans(seed=seed)
    train = factories.plant_ids_in_label_order(train, "default")
    train, test = factories.add_customers(train, seed), factories.add_customers(test, seed)
    outcome = _run(train, test, "default")
    assert outcome.status == "pass"
    scored = {row[0]: row for row in outcome.tables[0].rows}
    assert "application_id" not in scored
    assert "customer_ref" not in scored
    assert scored["customer_id"][1] == "emptiness"  # a repeating key: only its emptiness
    assert scored["application_date"][1] == "date"  # scored although not a feature


def test_unusual_column_types_are_scored(seed):
    train, test = factories.loans(seed=seed)
    rng = np.random.default_rng(seed)
    n = len(train)
    odd = {
        "is_default_flag": train["default"].astype(bool) & (rng.random(n) < 0.5),
        "grade": pd.Categorical(rng.choice(list("abc"), n)),
        "n_children": pd.array(np.where(rng.random(n) < 0.1, None, rng.integers(0, 5, n)), "Int64"),
        "applied_at": pd.to_datetime(train["application_date"]).dt.tz_localize("UTC"),
        "mixed": [1 if r < 0.5 else "a" for r in rng.random(n)],
        "with_inf": np.where(rng.random(n) < 0.1, np.inf, rng.normal(size=n)),
    }
    train = train.assign(**odd)
    test = test.assign(**{k: pd.Series(v).iloc[: len(test)].to_numpy() for k, v in odd.items()})
    outcome = _run(train, test, "default")
    scored = {row[0]: row[1] for row in outcome.tables[0].rows}
    assert scored["applied_at"] == "date"
    assert scored["n_children"] == "number"
    assert scored["grade"] == "category"
    assert list(_flagged(outcome)) == ["is_default_flag"]  # True only for defaults
    assert _flagged(outcome)["is_default_flag"].evidence["level"] == "True"


# --- planted leaks -------------------------------------------------------------------------


@pytest.mark.parametrize("roles", [False, True], ids=["inferred_roles", "declared_roles"])
def test_noisy_copy_of_the_label_fails(roles, seed):
    train, test = factories.loans(seed=seed)
    train = factories.plant_label_copy(train, "default", seed)
    outcome = _run(train, test, "default", roles=roles)
    assert outcome.status == "fail"
    assert list(_flagged(outcome)) == ["recovery_score"]
    finding = _flagged(outcome)["recovery_score"]
    assert (finding.code, finding.severity) == ("too_predictive", "high")
    assert finding.evidence["auc"] >= 0.97
    assert finding.message.startswith("'recovery_score' alone (by its value) reaches ROC AUC")
    assert outcome.measurements[0].key == "max_single_feature_auc"
    assert outcome.measurements[0].value == pytest.approx(finding.evidence["auc"])


@pytest.mark.parametrize("roles", [False, True], ids=["inferred_roles", "declared_roles"])
def test_post_outcome_date_filled_only_for_positives_fails_by_its_emptiness(roles, seed):
    train, test = factories.loans(seed=seed)
    train = factories.plant_post_outcome_date(train, "default", seed)
    outcome = _run(train, test, "default", roles=roles)
    assert outcome.status == "fail"
    assert list(_flagged(outcome)) == ["collections_date"]
    finding = _flagged(outcome)["collections_date"]
    assert "alone (missing or not) reaches ROC AUC" in finding.message
    assert finding.evidence["missing_auc"] >= 0.99
    assert finding.evidence["scored_as"] == "date"


def test_post_outcome_date_filled_for_some_positives_fails_as_a_pure_segment(seed):
    train, test = factories.loans(seed=seed)
    train = factories.plant_post_outcome_date(train, "default", seed, coverage=0.3)
    outcome = _run(train, test, "default")
    finding = _flagged(outcome)["collections_date"]
    assert list(_flagged(outcome)) == ["collections_date"]
    assert (finding.code, finding.severity) == ("pure_segment", "high")
    assert finding.evidence["level"] == "(filled in)"
    assert finding.evidence["purity"] == 1.0
    assert 0.2 < finding.evidence["class_coverage"] < 0.4
    assert "'collections_date' is filled in on" in finding.message


@pytest.mark.parametrize("coverage", [1.0, 0.3], ids=["every_default", "some_defaults"])
def test_status_level_that_equals_the_label_fails(coverage, seed):
    train, test = factories.loans(seed=seed)
    train = factories.plant_status_level(train, "default", seed, coverage=coverage)
    outcome = _run(train, test, "default")
    assert outcome.status == "fail"
    assert list(_flagged(outcome)) == ["status"]
    finding = _flagged(outcome)["status"]
    assert "'charged_off'" in finding.message
    if coverage < 1:
        assert finding.code == "pure_segment"
        assert finding.evidence["level"] == "'charged_off'"
        assert finding.evidence["class"] == "1"


def test_small_pure_level_warns_and_its_size_floor_applies(seed):
    train, test = factories.loans(n=8000, seed=seed)
    train = factories.plant_status_level(train, "default", seed, coverage=0.06)
    outcome = _run(train, test, "default")
    finding = _flagged(outcome)["status"]
    rows = finding.evidence["level_rows"]
    assert (finding.severity, outcome.status) == ("medium", "warn")
    assert finding.evidence["class_coverage"] < 0.1
    assert _run(train, test, "default", min_level_rows=rows + 1).status == "pass"
    assert _run(train, test, "default", min_level_rows=rows).status == "warn"


def test_regression_value_derived_from_the_target_fails(seed):
    train, test = factories.houses(seed=seed)
    train = factories.plant_derived_value(train, "price", seed)
    outcome = _run(train, test, "price")
    assert outcome.status == "fail"
    assert list(_flagged(outcome)) == ["assessed_value"]
    finding = _flagged(outcome)["assessed_value"]
    assert finding.evidence["rank_r2"] >= 0.9
    assert "rank R²" in finding.message
    assert outcome.measurements[0].key == "max_single_feature_rank_r2"


def test_regression_column_filled_only_for_expensive_rows_fails_by_its_emptiness(seed):
    train, test = factories.houses(seed=seed)
    expensive = train["price"] > train["price"].quantile(0.8)
    # A constant when filled: only whether the cell is empty carries the signal.
    train = train.assign(luxury_tax=np.where(expensive, 1.0, np.nan))
    outcome = _run(train, test, "price")
    finding = _flagged(outcome)["luxury_tax"]
    assert finding.severity == "high"
    assert finding.evidence["missing_auc"] == pytest.approx(1.0)
    assert "Whether 'luxury_tax' is empty" in finding.message


def test_multiclass_noisy_copy_of_the_label_fails(seed):
    train, test = factories.tickets(seed=seed)
    rng = np.random.default_rng(seed)
    codes = train["tier"].map({"low": 0, "medium": 1, "high": 2, "vip": 3}).to_numpy()
    train = train.assign(resolution_minutes=codes * 100 + rng.normal(0, 25, len(train)))
    outcome = _run(train, test, "tier")
    assert list(_flagged(outcome)) == ["resolution_minutes"]
    assert "macro one-vs-rest ROC AUC" in outcome.findings[0].message


# --- thresholds, parameters, sampling --------------------------------------------------------


def test_threshold_boundaries_are_inclusive(seed):
    train, test = factories.loans(seed=seed)
    train = factories.plant_label_copy(train, "default", seed, noise=0.6)
    ctx = _ctx(train, test, "default")
    value = target(ctx, TargetParams()).measurements[0].value
    assert 0.85 < value < 0.97  # a weaker copy of the label: between the default thresholds
    assert target(ctx, TargetParams(warn_at=value, fail_at=0.99)).status == "warn"
    assert target(ctx, TargetParams(warn_at=value + 1e-6, fail_at=0.99)).status == "pass"
    assert target(ctx, TargetParams(warn_at=0.5, fail_at=value)).status == "fail"


def test_warning_threshold_above_failure_threshold_is_an_input_error(binary_split):
    train, test = binary_split
    ctx = load_inputs(AuditSpec(target="y"), train=train, test=test).context
    with pytest.raises(InputError, match=r"warn_at=0.99, fail_at=0.97"):
        target(ctx, TargetParams(warn_at=0.99))


def test_sampling_is_seeded_and_stratified(seed):
    train, test = factories.loans(n=12_000, seed=seed)
    train = factories.plant_post_outcome_date(train, "default", seed)
    ctx = _ctx(train, test, "default")
    params = TargetParams(max_rows=4000)
    first, second = target(ctx, params), target(ctx, params)
    assert first == second
    assert "4,000 of 9,000 train rows" in first.summary
    assert list(_flagged(first)) == ["collections_date"]


def test_without_training_data_the_test_rows_are_scored(seed):
    train, test = factories.loans(seed=seed)
    test = factories.plant_label_copy(test, "default", seed)
    ctx = _ctx(None, test, "default", with_train=False)
    outcome = target(ctx, TargetParams())
    assert list(_flagged(outcome)) == ["recovery_score"]
    assert "test rows" in outcome.summary


def test_long_level_names_are_cut_in_messages(seed):
    train, test = factories.loans(seed=seed)
    long_name = "charged_off_" + "x" * 200
    train = factories.plant_status_level(train, "default", seed, coverage=0.3)
    train["status"] = train["status"].replace("charged_off", long_name)
    finding = _flagged(_run(train, test, "default"))["status"]
    assert long_name not in finding.message
    assert len(finding.evidence["level"]) <= 40


def test_params_document_themselves():
    for field in dataclasses.fields(TargetParams):
        assert field.metadata["doc"].strip()
    assert (TargetParams().warn_at, TargetParams().fail_at) == (0.92, 0.97)


# --- the scoring helpers against scikit-learn ---------------------------------------------------


def test_auc_from_cells_matches_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    score = rng.integers(0, 12, 300) / 7.0  # many ties
    y = (rng.random(300) < 0.2 + 0.05 * score).astype(int)
    cells = np.unique(score, return_inverse=True)[1]
    positives = np.bincount(cells, weights=y)
    rows = np.bincount(cells).astype(float)
    expected = roc_auc_score(y, score)
    assert auc_from_cells(np.unique(score), positives, rows) == pytest.approx(expected)


def test_out_of_fold_score_matches_a_direct_computation(seed):
    rng = np.random.default_rng(seed)
    n = 2000
    level = rng.integers(0, 30, n)
    y = pd.Series((rng.random(n) < 0.1 + 0.02 * (level % 5)).astype(int))
    tgt = make_target(y, "binary", (0, 1), 5, rng)
    outcome = score_cells(Cells(level, 30, "levels", tuple(range(30))), tgt)
    # The same out-of-fold target encoding, row by row.
    prior = y.mean()
    oof = np.empty(n)
    for k in range(5):
        held = tgt.folds == k
        stats = pd.DataFrame({"level": level[~held], "y": y[~held]}).groupby("level")["y"]
        count, total = stats.count(), stats.sum()
        rate = (total + 20 * prior) / (count + 20)
        oof[held] = pd.Series(level[held]).map(rate).fillna(prior).to_numpy()
    assert outcome.value == pytest.approx(roc_auc_score(y, oof))


# --- strong but ordinary associations (UCI Adult: age 18, a low-paid occupation) ---------


def _census(seed: int, n: int = 20_000) -> pd.DataFrame:
    """Income that rises smoothly with age: nobody under 21 earns much, as in census data."""
    rng = np.random.default_rng(seed)
    age = rng.integers(17, 80, n).astype(float)
    rich = rng.random(n) < np.clip((age - 21) / 60, 0.0, 0.45)
    return pd.DataFrame(
        {
            "age": age,
            "hours": rng.normal(40, 10, n).round(),
            "occupation": rng.choice(["a", "b", "c", "d"], n),
            "income": np.where(rich, ">50K", "<=50K"),
        }
    )


def test_a_pure_age_along_a_smooth_trend_is_not_a_leak(seed):
    frame = _census(seed)
    assert (frame.loc[frame["age"] == 18, "income"] == "<=50K").all()
    outcome = _run(frame.iloc[:15_000], frame.iloc[15_000:], "income")
    assert "age" not in _flagged(outcome), _flagged(outcome).get("age")


def test_a_sentinel_value_amid_mixed_neighbours_is_still_flagged(seed):
    frame = _census(seed)
    rng = np.random.default_rng(seed + 1)
    # Hours filled in with 99 only for the rich, after the fact: a value that stands out.
    marked = (frame["income"] == ">50K").to_numpy() & (rng.random(len(frame)) < 0.08)
    frame.loc[marked, "hours"] = 99.0
    frame.loc[~marked & (frame["hours"] >= 99), "hours"] = 98.0
    outcome = _run(frame.iloc[:15_000], frame.iloc[15_000:], "income")
    finding = _flagged(outcome)["hours"]
    assert finding.severity in {"medium", "high"}
    assert finding.evidence["level"] == "99.0"


@pytest.mark.parametrize(("exceptions", "severity"), [(1, "low"), (0, "medium")])
def test_a_small_majority_segment_with_exceptions_is_a_note(seed, exceptions, severity):
    frame = _census(seed)
    rows = frame.index[frame["age"] > 30][:150]
    frame.loc[rows, "occupation"] = "house servant"
    frame.loc[rows, "income"] = "<=50K"
    frame.loc[rows[:exceptions], "income"] = ">50K"
    outcome = _run(frame.iloc[:15_000], frame.iloc[15_000:], "income")
    finding = _flagged(outcome)["occupation"]
    assert finding.evidence["level"] == "'house servant'"
    assert finding.severity == severity
