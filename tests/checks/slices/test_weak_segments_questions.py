"""``slices.weak_segments`` answers two questions; an Adult-like case and a wide table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import auditor

CHECK_ID = "slices.weak_segments"


def adult_like(n: int, seed: int, n_noise_features: int = 0):
    """An easy quarter (young or with capital gains, 0.5% errors), a majority at 8% and a
    hard ~10% region inside it (married with 13+ years of education, 35%)."""
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 13, n).clip(17, 90).round()
    gain = np.where(rng.random(n) < 0.1, rng.lognormal(8, 1, n), 0.0).round()
    education = rng.integers(1, 17, n)
    marital = rng.choice(["married", "never", "divorced"], n, p=[0.5, 0.35, 0.15])
    frame = pd.DataFrame(
        {
            "age": age,
            "capital_gain": gain,
            "education_num": education,
            "hours_per_week": rng.normal(40, 10, n).round(),
            "marital_status": marital,
            "sex": rng.choice(["m", "f"], n, p=[0.67, 0.33]),
        }
    )
    for i in range(n_noise_features):
        frame[f"noise_{i}"] = rng.choice(["a", "b", "c"], n)
    easy = (age < 27) | (gain > 0)
    hard = ~easy & (marital == "married") & (education >= 13)
    rate = np.where(easy, 0.005, np.where(hard, 0.35, 0.08))
    y = (rng.random(n) < 0.3).astype(int)
    predicted = np.where(rng.random(n) < rate, 1 - y, y)
    confidence = rng.uniform(0.8, 0.99, n)  # overconfident everywhere, hard region included
    predictions = pd.DataFrame(
        {"prediction": predicted, "proba_1": np.where(predicted == 1, confidence, 1 - confidence)}
    )
    return frame.assign(y=y), predictions, hard


def run(test, predictions, weights=None, **params):
    """The check's result; with ``weights``, weighted by them (column ``w``)."""
    return auditor.audit(
        test=test if weights is None else test.assign(w=weights),
        target="y",
        predictions=predictions,
        weight_column=None if weights is None else "w",
        seed=0,
        checks={CHECK_ID: params} if params else None,
        select=[CHECK_ID],
    ).check(CHECK_ID)


def rows_of(frame: pd.DataFrame, description_conditions) -> np.ndarray:
    mask = np.ones(len(frame), dtype=bool)
    for c in description_conditions:
        column = frame[c["column"]]
        value = c["value"]
        mask &= {
            "==": column == value,
            ">=": column >= value,
            "<": column < value,
            ">": column > value,
            "<=": column <= value,
        }[c["op"]].to_numpy()
    return mask


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return np.count_nonzero(a & b) / max(np.count_nonzero(a | b), 1)


@pytest.fixture(scope="module")
def adult():
    test, predictions, hard = adult_like(20_000, 1)
    return test, predictions, hard, run(test, predictions)


def test_errs_most_reports_the_hard_region_not_almost_everyone(adult):
    test, predictions, hard, result = adult
    most = [f for f in result.findings if f.evidence["question"] == "errs_most"]
    assert most, result.summary
    assert all(f.evidence["share"] <= 0.5 for f in most)
    top = most[0]
    assert jaccard(rows_of(test, top.evidence["conditions"]), hard) >= 0.8
    # Without the bound the three quarters of the rows outside the easy group are flagged
    # too (a much larger lift against an almost error-free rest): the bound is what works.
    unbounded = run(test, predictions, max_support=1.0)
    shares = [f.evidence["share"] for f in unbounded.findings]
    assert max(shares) > 0.5


def test_summary_and_tables_agree(adult):
    _, _, _, result = adult
    weak = next(t for t in result.tables if t.key == "weak_slices")
    tested = next(t for t in result.tables if t.key == "tested_slices")
    most = [f for f in result.findings if f.evidence["question"] == "errs_most"]
    assert [row[1] for row in weak.rows] == [f.evidence["description"] for f in most]
    confirmed = tested.columns.index("confirmed")
    assert [row[1] for row in tested.rows if row[confirmed] == "yes"] == [
        row[1] for row in weak.rows
    ]
    assert all(row[confirmed].startswith("no: ") for row in tested.rows if row[confirmed] != "yes")
    first, second = result.summary.split(" Where it errs more than its own probabilities say: ")
    assert first.startswith(f"Where the model errs most: {len(most)} slice")
    assert most[0].evidence["description"] in first
    # The model is equally confident everywhere, so the hard region is unexpected too.
    assert second.startswith("1 slice has more errors than the model's probabilities expect")


def test_unflagged_candidate_is_explained_in_the_summary():
    # A strict level keeps the Adult-like hard region from being confirmed on few rows.
    test, predictions, _ = adult_like(2400, 5)
    result = run(test, predictions, fdr=1e-12, min_rows_for_split=0)
    tested = next(t for t in result.tables if t.key == "tested_slices")
    assert tested.rows, result.summary
    assert tested.rows[0][-1].startswith("no: not significant after BH over")
    assert "The strongest candidate, " in result.summary
    assert "is not flagged: not significant after BH over" in result.summary
    assert not [f for f in result.findings if f.evidence["question"] == "errs_most"]


def test_second_question_does_not_apply_without_probabilities(adult):
    test, predictions, _, _ = adult
    result = run(test, predictions[["prediction"]])
    assert result.summary.endswith(
        "Where it errs more than its own probabilities say: does not apply (the predictions "
        "carry no class probabilities)."
    )
    assert "unexpected_error_slices" not in {t.key for t in result.tables}
    assert all(f.code == "weak_slice" for f in result.findings)


def test_wide_pair_lifts_print_as_a_long_table():
    test, predictions, _ = adult_like(20_000, 2, n_noise_features=10)
    result = run(test, predictions)
    keys = {t.key for t in result.tables}
    assert "pair_lifts" in keys
    assert "pair_heatmap" not in keys
    pairs = next(t for t in result.tables if t.key == "pair_lifts")
    assert pairs.columns == ("feature", "other_feature", "slice", "lift", "rows", "share")
    lifts = [row[3] for row in pairs.rows]
    assert lifts == sorted(lifts, reverse=True)
    assert min(lifts) >= 1.25
    assert all(len(t.columns) <= 11 for t in result.tables)


def test_narrow_pair_lifts_are_a_square_heat_map_without_empty_rows(adult):
    _, _, _, result = adult
    heat = next(t for t in result.tables if t.key == "pair_heatmap")
    assert len(heat.columns) - 1 <= 8
    for row in heat.rows:
        assert any(cell is not None for cell in row[1:]), row
    assert all(cell is None or cell >= 1.25 for row in heat.rows for cell in row[1:])


def test_equal_weights_change_no_estimate_and_the_summary_says_weighted(adult):
    test, predictions, _, unweighted = adult
    weighted = run(test, predictions, 2.0)
    assert weighted.summary.startswith(unweighted.summary)
    assert "weighted by 'w'" in weighted.summary
    assert "weighted by" not in unweighted.summary
    # Equal weights are equal rows: every rate, interval and q-value is unchanged.
    for key in ("weak_slices", "tested_slices"):
        ours = next(t for t in weighted.tables if t.key == key).rows
        theirs = next(t for t in unweighted.tables if t.key == key).rows
        assert theirs
        assert len(ours) == len(theirs)
        for mine, other in zip(ours, theirs, strict=True):
            for a, b in zip(mine, other, strict=True):
                assert a == (pytest.approx(b, rel=1e-9) if isinstance(b, float) else b)


def _uniform_errors(n: int, seed: int):
    """Errors at 5% everywhere by row count, in a table with a region R (region == 'r')."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "region": rng.choice(["r", "s", "t", "u"], n, p=[0.15, 0.35, 0.25, 0.25]),
            "size": rng.normal(0, 1, n).round(2),
        }
    )
    y = rng.integers(0, 2, n)
    wrong = rng.random(n) < 0.05
    predictions = pd.DataFrame({"prediction": np.where(wrong, 1 - y, y)})
    return frame.assign(y=y), predictions, wrong


def test_weights_alone_can_plant_a_weak_slice():
    test, predictions, wrong = _uniform_errors(20_000, 4)
    in_region = (test["region"] == "r").to_numpy()
    # Errors in R weigh 8: R's weighted error rate is about 30%, the rest's stays 5%.
    weights = np.where(in_region & wrong, 8.0, 1.0)
    plain = run(test, predictions)
    assert not [f for f in plain.findings if f.code == "weak_slice"]
    weighted = run(test, predictions, weights)
    flagged = [f for f in weighted.findings if f.code == "weak_slice"]
    assert flagged
    first = next(t for t in weighted.tables if t.key == "weak_slices").rows[0]
    found = rows_of(test, flagged[0].evidence["conditions"])
    assert jaccard(found, in_region) >= 0.9, first[1]
    truth = np.average(wrong[found], weights=weights[found])
    rest = np.average(wrong[~found], weights=weights[~found])
    columns = next(t for t in weighted.tables if t.key == "weak_slices").columns
    row = dict(zip(columns, first, strict=True))
    # Measured on the confirmation half: within its interval of the whole table's value.
    assert row["lift_ci_low"] <= truth / rest <= row["lift_ci_high"]
    assert row["error_rate_in_slice"] == pytest.approx(truth, abs=0.05)
    # The share is a share of the weight, not of the rows.
    assert row["share"] == pytest.approx(weights[found].sum() / weights.sum(), abs=0.02)


def test_weights_unrelated_to_errors_raise_nothing():
    test, predictions, _ = _uniform_errors(20_000, 5)
    weights = np.random.default_rng(6).lognormal(0.0, 0.8, len(test))
    result = run(test, predictions, weights)
    assert not [f for f in result.findings if f.severity != "low"]


def test_small_tables_report_the_shares_of_the_second_question_as_shares_of_rows():
    # Below 2,000 rows the search runs in permutation mode, which draws its null errors in
    # proportion to the model's expected errors: those draws must not leak into the shares.
    test, predictions, _ = adult_like(1_500, 2)
    result = run(test, predictions)
    beyond = next(t for t in result.tables if t.key == "unexpected_error_slices")
    assert beyond.rows
    columns = beyond.columns
    for row in beyond.rows:
        cells = dict(zip(columns, row, strict=True))
        assert cells["share"] == pytest.approx(cells["rows"] / len(test))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weights_do_not_invent_slices_in_a_small_table(seed):
    # Below 2,000 rows the permutation test shuffles the searched rows: searching a resample
    # with repeated rows made nearly every weighted small table report slices.
    test, predictions, _ = _uniform_errors(1_200, 10 + seed)
    weights = np.random.default_rng(seed).lognormal(0.0, 1.0, len(test))
    result = run(test, predictions, weights)
    assert "permutation test of this small table counts rows" in result.summary
    assert not result.findings, result.summary
