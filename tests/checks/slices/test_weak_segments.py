"""``slices.weak_segments``: planted failure slices are found, clean data stays quiet."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import auditor
from auditor.checks.slices.weak_segments import describe, format_number
from auditor.errors import InputError
from auditor.registry import build_params, load_registry

CHECK_ID = "slices.weak_segments"
OPS = {"==", "!=", "<", "<=", ">", ">=", "in", "is_null"}


def make_table(n: int, seed: int) -> pd.DataFrame:
    """Mixed features: normal, heavy-tailed with missing values, integers, categories."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10.3, 0.7, n)
    income[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "age": rng.normal(45, 12, n).round(1),
            "income": income,
            "visits": rng.poisson(2.0, n),
            "tenure": rng.exponential(3.0, n),
            "region": rng.choice(["north", "south", "east", "west"], n, p=[0.3, 0.3, 0.2, 0.2]),
            "plan": rng.choice(["basic", "plus", "pro"], n, p=[0.5, 0.3, 0.2]),
            "city": rng.choice([f"c{i}" for i in range(40)], n),
        }
    )


def predictions_with_errors(frame, error_rate, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A binary target and predictions that are wrong with the given per-row probability."""
    rng = np.random.default_rng(seed + 1)
    n = len(frame)
    y = (rng.random(n) < 0.35).astype(int)
    wrong = rng.random(n) < error_rate
    predicted = np.where(wrong, 1 - y, y)
    score = np.clip(np.where(predicted == 1, 0.75, 0.25) + rng.normal(0, 0.05, n), 0.01, 0.99)
    test = frame.assign(y=y)
    predictions = pd.DataFrame({"prediction": predicted, "proba_1": score})
    return test, predictions


def run(test, predictions, seed: int = 0, **params):
    result = auditor.audit(
        test=test,
        target="y",
        predictions=predictions,
        seed=seed,
        checks={CHECK_ID: params} if params else None,
        select=[CHECK_ID],
    )
    return result.check(CHECK_ID)


def rows_of(frame: pd.DataFrame, conditions) -> np.ndarray:
    """Apply a finding's conditions to the frame, as a reader of the JSON would."""
    mask = np.ones(len(frame), dtype=bool)
    for c in conditions:
        column, op, value = frame[c["column"]], c["op"], c["value"]
        if op == "is_null":
            mask &= column.isna().to_numpy()
        elif op == "in":
            mask &= column.isin(value).to_numpy()
        else:
            compare = {
                "==": column.__eq__,
                "!=": column.__ne__,
                "<": column.__lt__,
                "<=": column.__le__,
                ">": column.__gt__,
                ">=": column.__ge__,
            }[op]
            mask &= compare(value).to_numpy(dtype=bool)
    return mask


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return np.count_nonzero(a & b) / max(np.count_nonzero(a | b), 1)


@pytest.fixture(scope="module")
def planted():
    """20,000 rows; errors triple (12% -> 36%) where region == 'east' and income < q30."""
    frame = make_table(20_000, 3)
    threshold = float(np.nanquantile(frame.income, 0.3))
    inside = (frame.region == "east").to_numpy() & (frame.income < threshold).to_numpy()
    test, predictions = predictions_with_errors(frame, np.where(inside, 0.36, 0.12), 3)
    return frame, inside, threshold, run(test, predictions)


def test_planted_two_condition_slice_is_found_first(planted):
    frame, inside, threshold, result = planted
    assert result.status == "fail", result.summary
    top = result.findings[0]
    assert top.code == "weak_slice"
    # Where it errs most is a note; that the model did not expect it either fails the check.
    assert top.severity == "low"
    assert jaccard(rows_of(frame, top.evidence["conditions"]), inside) >= 0.9
    assert set(top.columns) == {"region", "income"}
    assert {"column": "region", "op": "==", "value": "east"} in top.evidence["conditions"]
    lift = top.evidence["lift"]
    assert top.evidence["lift_ci_low"] < 3.0 < top.evidence["lift_ci_high"] or lift > 2.0
    weak = [f for f in result.findings if f.code == "weak_slice"]
    assert result.measurement("n_weak_slices").value == len(weak)
    assert result.measurement("max_slice_lift").value >= lift
    # The uninformative probabilities (25% expected everywhere) did not see it coming either.
    unexpected = [f for f in result.findings if f.code == "unexpected_errors_slice"]
    assert unexpected[0].evidence["description"] == top.evidence["description"]
    assert unexpected[0].severity == "high"
    assert result.measurement("n_unexpected_error_slices").value == len(unexpected)


def test_numeric_range_is_refined_to_real_valued_bounds(planted):
    _, _, threshold, result = planted
    (bound,) = [c for c in result.findings[0].evidence["conditions"] if c["column"] == "income"]
    assert bound["op"] == "<"
    assert isinstance(bound["value"], float)
    # The planted threshold is the 30% quantile: between the 20% and 40% deciles, and the
    # refined bound lands within a fine bin (2%) of it rather than on a decile edge.
    assert bound["value"] == pytest.approx(threshold, rel=0.08)


def test_finding_format(planted):
    frame, _, _, result = planted
    top = result.findings[0]
    evidence = top.evidence
    for key in ("size", "metric", "value", "overall", "ci_low", "ci_high", "p_value", "q_value"):
        assert key in evidence, key
    assert evidence["question"] == "errs_most"
    assert evidence["expected_by_model"] is None  # question 1 compares with the rest only
    # The predictions have (uninformative) probabilities: the model expected ~25% errors.
    (beyond,) = [f for f in result.findings if f.code == "unexpected_errors_slice"]
    assert beyond.evidence["question"] == "errs_beyond_probabilities"
    assert beyond.evidence["expected_by_model"] < beyond.evidence["value"]
    assert beyond.evidence["expected_ratio"] > 1.25
    assert evidence["metric"] == "error_rate"
    assert evidence["ci_low"] <= evidence["value"] <= evidence["ci_high"]
    assert evidence["q_value"] <= 0.05
    assert evidence["size"] == int(rows_of(frame, evidence["conditions"]).sum())
    assert set(evidence["support"]) == {"discovery", "confirmation", "all"}
    assert evidence["support"]["all"] == evidence["size"]
    for condition in evidence["conditions"]:
        assert set(condition) == {"column", "op", "value"}
        assert condition["op"] in OPS
    # "income < 12,340 AND region == 'east': 1,234 rows (6.2%), error 36.1% vs ..."
    text = top.message
    assert text.startswith(evidence["description"] + ": ")
    assert f"{evidence['size']:,} rows" in text
    assert "error " in text
    assert "elsewhere, ×" in text
    assert "q = " in text or "q < 0.001" in text
    keys = {t.key for t in result.tables}
    assert keys == {
        "weak_slices",
        "tested_slices",
        "unexpected_error_slices",
        "pair_heatmap",
    }  # no slice_profiles: the planted features are independent, nothing distinguishes it


def test_pair_heatmap_is_a_square_table_of_features(planted):
    _, _, _, result = planted
    (heat,) = [t for t in result.tables if t.key == "pair_heatmap"]
    features = heat.columns[1:]
    assert [row[0] for row in heat.rows] == list(features)
    cells = {
        (row[0], name): v for row in heat.rows for name, v in zip(features, row[1:], strict=False)
    }
    assert cells[("region", "income")] == cells[("income", "region")]
    assert cells[("region", "income")] > 1.5
    assert all(v is None or v > 0 for v in cells.values())


@pytest.mark.parametrize("table_seed", [11, 12, 13])
def test_clean_data_reports_no_slice(table_seed):
    frame = make_table(10_000, table_seed)
    test, predictions = predictions_with_errors(frame, np.full(len(frame), 0.15), table_seed)
    result = run(test, predictions, seed=table_seed)
    assert result.status == "pass"
    assert result.findings == ()
    assert result.summary.startswith(
        "Where the model errs most: no slice (up to 3 conditions over 7 features, at most 50% "
        "of the rows, at least 50 rows, lift ≥ 1.25) has an error rate significantly above "
        "the rest (BH q ≤ 0.05; searched on 5,000 test rows, confirmed on the other 5,000)."
    )
    assert "Where it errs more than its own probabilities say: no slice" in result.summary
    assert result.measurement("max_slice_lift").value == 1.0
    assert result.measurement("n_weak_slices").value == 0
    # Nothing to show: no pair beats chance with a lift, so no heat map.
    assert not {"pair_heatmap", "pair_lifts"} & {t.key for t in result.tables}


def test_uncertainty_the_model_reports_answers_only_the_first_question():
    # A well-specified logistic model errs most near its decision boundary, and its
    # probabilities say so: that region is where it errs most (question 1), not where it
    # errs more than its probabilities say (question 2).
    from sklearn.linear_model import LogisticRegression

    frame = make_table(12_000, 21)
    rng = np.random.default_rng(21)
    X = np.column_stack([frame.age, np.log(frame.income.fillna(30_000)), frame.tenure])
    logit = 0.15 * (frame.age - 45) - 1.2 * (X[:, 1] - 10.3) + 0.3 * (frame.tenure - 3)
    y = (rng.random(len(frame)) < 1 / (1 + np.exp(-logit.to_numpy()))).astype(int)
    model = LogisticRegression().fit(X[:6000], y[:6000])
    proba = model.predict_proba(X[6000:])
    test = frame.iloc[6000:].reset_index(drop=True).assign(y=y[6000:])
    predictions = pd.DataFrame({"prediction": proba.argmax(axis=1), "proba_1": proba[:, 1]})
    result = run(test, predictions)
    codes = {f.code for f in result.findings}
    assert codes == {"weak_slice"}, result.summary
    top = result.findings[0]
    assert {"income", "age", "tenure"} & set(top.columns)
    assert "Where it errs more than its own probabilities say: no slice" in result.summary


def test_regression_slice_of_large_absolute_errors():
    frame = make_table(12_000, 5)
    rng = np.random.default_rng(5)
    inside = (frame.plan == "pro").to_numpy() & (frame.age > 50).to_numpy()
    y = rng.normal(100, 15, len(frame))
    noise = rng.standard_t(5, len(frame)) * np.where(inside, 12.0, 4.0)
    test = frame.assign(y=y)
    predictions = pd.DataFrame({"prediction": y + noise})
    result = auditor.audit(
        test=test, target="y", predictions=predictions, task="regression", select=[CHECK_ID]
    ).check(CHECK_ID)
    assert result.findings, result.summary
    top = result.findings[0]
    assert top.evidence["metric"] == "mean_absolute_error"
    assert jaccard(rows_of(frame, top.evidence["conditions"]), inside) >= 0.8
    assert "mean absolute error" in top.message
    squared = auditor.audit(
        test=test,
        target="y",
        predictions=predictions,
        task="regression",
        checks={CHECK_ID: {"error": "squared_error"}},
        select=[CHECK_ID],
    ).check(CHECK_ID)
    assert squared.findings[0].evidence["metric"] == "mean_squared_error"


def test_false_negative_rate_searches_the_positive_rows_only():
    frame = make_table(12_000, 7)
    rng = np.random.default_rng(7)
    y = (rng.random(len(frame)) < 0.5).astype(int)
    risky = (frame.region == "west").to_numpy()
    missed = (y == 1) & (rng.random(len(frame)) < np.where(risky, 0.5, 0.15))
    false_alarm = (y == 0) & (rng.random(len(frame)) < 0.15)
    predicted = np.where(missed | false_alarm, 1 - y, y)
    test = frame.assign(y=y)
    predictions = pd.DataFrame({"prediction": predicted})
    fnr = run(test, predictions, error="fnr")
    top = fnr.findings[0]
    assert top.evidence["conditions"] == [{"column": "region", "op": "==", "value": "west"}]
    assert top.evidence["metric"] == "false_negative_rate"
    assert top.evidence["size"] == int(((y == 1) & risky).sum())
    assert "true 1 rows" in top.message
    fpr = run(test, predictions, error="fpr")
    assert fpr.status == "pass", fpr.summary


def test_small_data_uses_the_permutation_mode():
    frame = make_table(1500, 9)
    inside = (frame.plan == "pro").to_numpy()
    test, predictions = predictions_with_errors(frame, np.where(inside, 0.5, 0.1), 9)
    result = run(test, predictions, n_permutations=39)
    assert "over 39 permutations" in result.summary
    top = result.findings[0]
    assert top.evidence["conditions"] == [{"column": "plan", "op": "==", "value": "pro"}]
    assert top.evidence["mode"] == "permutation"
    assert top.evidence["q_value"] == pytest.approx(1 / 40)


def test_log_loss_needs_probabilities():
    frame = make_table(3000, 1)
    test, predictions = predictions_with_errors(frame, np.full(3000, 0.2), 1)
    result = run(test, predictions[["prediction"]], error="log_loss")
    assert result.status == "skipped"
    assert "probabilities" in result.skip_reason
    assert run(test, predictions, error="log_loss").status in {"pass", "warn", "fail"}


@pytest.mark.parametrize(
    ("params", "match"),
    [
        pytest.param(
            {"error": "mse"}, "key 'error' must be one of auto, misclassification", id="error"
        ),
        pytest.param({"fdr_method": "bonferroni"}, "key 'fdr_method' must be one of", id="method"),
        pytest.param({"max_support": 0}, "key 'max_support' must be above 0", id="support"),
        pytest.param({"max_conditions": 4}, "must be 1, 2 or 3", id="depth"),
        pytest.param({"fdr": 5}, "Write 0.05 for 5%", id="share"),
        pytest.param({"n_fine_bins": 5}, "must be at least n_bins", id="bins"),
    ],
)
def test_invalid_parameters_are_input_errors(params, match):
    spec = load_registry()[CHECK_ID]
    with pytest.raises(InputError, match=match):
        build_params(spec, params)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (32437.2, "32,440"),
        (327.73, "327.7"),
        (0.012345, "0.01235"),
        (5.0, "5"),
        (-1234567, "-1,235,000"),
    ],
)
def test_numbers_in_sentences_have_four_significant_digits(value, text):
    assert format_number(value) == text


def test_describe_joins_bounds_of_one_column():
    conditions = [
        {"column": "region", "op": "==", "value": "north"},
        {"column": "income", "op": ">=", "value": 1000.0},
        {"column": "income", "op": "<", "value": 32437.2},
        {"column": "debt", "op": "is_null", "value": None},
        {"column": "city", "op": "in", "value": ["a", "b", "c", "d", "e"]},
        {"column": "odd name", "op": "<=", "value": 3},
    ]
    assert describe(conditions) == (
        "region == 'north' AND 1,000 <= income < 32,440 AND debt is missing AND "
        "city in ('a', 'b', 'c', +2 more) AND 'odd name' <= 3"
    )
    assert math.isfinite(format_number(1.5e-7).count("e") or 1.0)


def test_group_column_splits_by_group_and_still_finds_the_slice():
    frame = make_table(12_000, 31)
    frame["customer"] = [f"cust{i // 4}" for i in range(len(frame))]
    inside = (frame.plan == "pro").to_numpy() & (frame.tenure < 1.5).to_numpy()
    test, predictions = predictions_with_errors(frame, np.where(inside, 0.45, 0.12), 31)
    result = auditor.audit(
        test=test,
        target="y",
        predictions=predictions,
        group_column="customer",
        select=[CHECK_ID],
    ).check(CHECK_ID)
    top = result.findings[0]
    assert "customer" not in top.columns
    assert jaccard(rows_of(frame, top.evidence["conditions"]), inside) >= 0.8
    halves = top.evidence["support"]
    assert halves["discovery"] + halves["confirmation"] == halves["all"]


def test_same_seed_same_result(planted):
    frame, inside, _, first = planted
    test, predictions = predictions_with_errors(frame, np.where(inside, 0.36, 0.12), 3)
    again = run(test, predictions)
    assert (again.summary, again.findings, again.tables) == (
        first.summary,
        first.findings,
        first.tables,
    )
