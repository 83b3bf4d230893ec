"""data.feature_drift: planted shifts are named by column; clean and trending splits pass."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from auditor.checks.data.feature_drift import FeatureDriftParams, _ks, _psi, _scale, feature_drift
from auditor.errors import InputError
from auditor.inputs import load_inputs
from auditor.spec import AuditSpec, ColumnRolesSpec

TARGET = "default"
DECLARED = ColumnRolesSpec(id="application_id", time="application_date")


def make_table(n: int, seed: int, *, years: float = 3.0, trend: float = 0.04) -> pd.DataFrame:
    """A loan-like table in random row order; amounts grow by ``trend`` a year."""
    rng = np.random.default_rng(seed)
    day = rng.integers(0, int(365 * years), size=n)
    growth = (1 + trend) ** (day / 365)
    frame = pd.DataFrame(
        {
            "application_id": rng.permutation(n) + 1,
            "application_date": (
                pd.Timestamp("2021-01-01") + pd.to_timedelta(day, unit="D")
            ).strftime("%Y-%m-%d"),
            "income": np.round(rng.lognormal(10.6, 0.55, size=n) * growth, 2),
            "loan_amount": np.round(rng.lognormal(9.2, 0.9, size=n) * growth, 2),
            "balance": np.where(rng.random(n) < 0.3, 0.0, rng.lognormal(7, 1.2, size=n)),
            "age": rng.integers(18, 80, size=n),
            "n_accounts": rng.poisson(3.0, size=n),
            "score": np.round(rng.normal(680, 60, size=n)),
            "risk": rng.standard_t(4, size=n),
            "channel": rng.choice(["web", "branch", "phone"], size=n, p=[0.6, 0.3, 0.1]),
            "merchant": np.char.add("m", np.minimum(rng.zipf(1.6, size=n), 300).astype(str)),
            "flag": rng.random(n) < 0.15,
        }
    )
    frame.loc[rng.random(n) < 0.02, "income"] = np.nan
    frame[TARGET] = (rng.random(n) < 0.2).astype(int)
    return frame


def random_split(frame, seed, share=0.2):
    is_test = np.random.default_rng(seed).random(len(frame)) < share
    return frame[~is_test].reset_index(drop=True), frame[is_test].reset_index(drop=True)


def time_split(frame, share=0.2, shuffle_seed=None):
    ordered = frame.sort_values("application_date", kind="stable").reset_index(drop=True)
    cut = int(len(ordered) * (1 - share))
    train, test = ordered.iloc[:cut], ordered.iloc[cut:]
    if shuffle_seed is not None:
        rng = np.random.default_rng(shuffle_seed)
        train = train.iloc[rng.permutation(len(train))]
    return train.reset_index(drop=True), test.reset_index(drop=True)


def _run(train, test, *, roles=DECLARED, **params):
    ctx = load_inputs(AuditSpec(target=TARGET, columns=roles), train=train, test=test).context
    return feature_drift(ctx, FeatureDriftParams(**params))


def _flagged(outcome) -> set[str]:
    return {c for f in outcome.findings if f.severity != "low" for c in f.columns}


@pytest.fixture(scope="module")
def table():
    return make_table(6000, 51)


@pytest.mark.parametrize("roles", [DECLARED, ColumnRolesSpec()], ids=["declared", "undeclared"])
@pytest.mark.parametrize("how", ["random", "time", "time_shuffled"])
def test_clean_and_time_ordered_splits_pass(table, how, roles):
    train, test = {
        "random": lambda: random_split(table, 52),
        "time": lambda: time_split(table),
        "time_shuffled": lambda: time_split(table, shuffle_seed=53),
    }[how]()
    outcome = _run(train, test, roles=roles)
    assert outcome.status == "pass", [f.message for f in outcome.findings]
    assert outcome.findings == ()
    compared = {row[0] for row in outcome.tables[0].rows}
    assert "application_date" not in compared
    assert "application_id" not in compared
    assert "income" in compared
    assert "channel" in compared


def _scaled(test, column, factor):
    out = test.copy()
    out[column] = out[column] * factor
    return out


def _shifted(test, column, train):
    out = test.copy()
    out[column] = out[column] + train[column].std()
    return out


def _share(test, column, level, share, seed=54):
    out = test.copy()
    others = np.flatnonzero(out[column].to_numpy() != level)
    need = int(round(share * len(out))) - (len(out) - len(others))
    out.loc[np.random.default_rng(seed).choice(others, need, replace=False), column] = level
    return out


PLANTED = {
    "income x1.5": ("income", lambda tr, te: _scaled(te, "income", 1.5)),
    "loan_amount x1.5": ("loan_amount", lambda tr, te: _scaled(te, "loan_amount", 1.5)),
    "balance x1.5": ("balance", lambda tr, te: _scaled(te, "balance", 1.5)),
    "risk x1.5": ("risk", lambda tr, te: _scaled(te, "risk", 1.5)),
    "n_accounts x1.5": ("n_accounts", lambda tr, te: _scaled(te, "n_accounts", 1.5)),
    "score +1 std": ("score", lambda tr, te: _shifted(te, "score", tr)),
    "age +1 std": ("age", lambda tr, te: _shifted(te, "age", tr)),
    "phone 10% -> 40%": ("channel", lambda tr, te: _share(te, "channel", "phone", 0.4)),
}


@pytest.mark.parametrize("split", ["random", "time_shuffled"])
@pytest.mark.parametrize("plant", list(PLANTED))
def test_planted_shifts_are_named_by_column(table, plant, split):
    train, test = (
        random_split(table, 55) if split == "random" else time_split(table, shuffle_seed=56)
    )
    column, make = PLANTED[plant]
    outcome = _run(train, make(train, test))
    assert outcome.status in {"warn", "fail"}
    assert _flagged(outcome) == {column}
    (finding,) = outcome.findings
    assert finding.code == "distribution_shift"
    assert finding.evidence["p_value"] < 1e-4


def test_a_category_shift_names_the_level(table):
    train, test = random_split(table, 57)
    outcome = _run(train, _share(test, "channel", "phone", 0.4))
    assert outcome.status == "fail"
    assert "the share of 'phone' moves from 10" in outcome.findings[0].message
    assert "to 40.0% in test" in outcome.findings[0].message


def test_a_tiny_but_significant_difference_in_a_big_table_passes():
    big = make_table(60_000, 58)
    train, test = random_split(big, 59)
    test = test.copy()
    test["score"] = test["score"] + 0.08 * train["score"].std()  # significant, effect tiny
    outcome = _run(train, test)
    assert outcome.status == "pass"
    row = next(r for r in outcome.tables[0].rows if r[0] == "score")
    assert row[6] < 1e-6  # significant ...
    assert row[3] < 0.02
    assert row[4] < 0.05


@pytest.mark.parametrize("seed", [60, 61, 62])
def test_small_tables_do_not_flag_noise(seed):
    train, test = random_split(make_table(300, seed), seed + 100)
    assert _run(train, test).status == "pass"


def test_a_steady_trend_is_measured_against_the_latest_train_rows():
    trending = make_table(6000, 63, trend=0.15)
    train, test = time_split(trending, shuffle_seed=64)
    outcome = _run(train, test)
    assert outcome.status == "pass"
    row = next(r for r in outcome.tables[0].rows if r[0] == "income")
    assert row[2] == "latest train rows"
    # Without the comparison with the latest rows, the trend reads as a shift.
    assert _flagged(_run(train, test, recent_share=0.0)) >= {"income"}


def test_columns_that_follow_time_are_information_only(table):
    train, test = (frame.copy() for frame in time_split(table, shuffle_seed=65))
    for frame in (train, test):
        dates = pd.to_datetime(frame["application_date"])
        frame["days_since_launch"] = (dates - pd.Timestamp("2021-01-01")).dt.days
        frame["application_month"] = dates.dt.month
    outcome = _run(train, test)
    assert outcome.status == "pass"
    low = {f.columns[0]: f for f in outcome.findings}
    assert set(low) == {"days_since_launch", "application_month"}
    assert all(f.code == "differs_by_construction" for f in low.values())
    assert "follows time" in low["days_since_launch"].message
    assert "calendar part" in low["application_month"].message


def test_a_calendar_column_drifting_in_a_random_split_is_a_shift(table):
    train, test = (frame.copy() for frame in random_split(table, 72))
    for frame in (train, test):
        frame["application_month"] = pd.to_datetime(frame["application_date"]).dt.month
    test["application_month"] = 12  # every test row in December: not how a random split looks
    outcome = _run(train, test)
    assert outcome.status == "fail"
    assert [(f.code, f.columns) for f in outcome.findings] == [
        ("distribution_shift", ("application_month",))
    ]


def test_missing_values_are_left_to_missing_values(table):
    train, test = random_split(table, 66)
    test = test.copy()
    test.loc[: len(test) // 3, "income"] = np.nan
    assert _run(train, test).status == "pass"


def test_sampling_is_seeded_and_still_finds_a_shift():
    big = make_table(30_000, 67)
    train, test = random_split(big, 68)
    test = _scaled(test, "income", 1.5)
    first = _run(train, test, max_rows=2000)
    second = _run(train, test, max_rows=2000)
    assert first == second
    assert _flagged(first) == {"income"}
    assert "2,000-row samples" not in first.summary  # the summary of a flagged run


def test_psi_matches_its_formula():
    a, b = np.array([50, 30, 20]), np.array([20, 30, 50])
    p, q = (a + 0.5) / (100 + 1.5), (b + 0.5) / (100 + 1.5)
    psi, p_value, bias = _psi(a, b)
    assert psi == pytest.approx(float(np.sum((q - p) * np.log(q / p))))
    chi2 = stats.chi2_contingency(np.vstack([a, b]), correction=False)
    assert p_value == pytest.approx(chi2.pvalue)
    assert bias == pytest.approx(2 * (1 / 100 + 1 / 100))


def test_ks_matches_scipy():
    rng = np.random.default_rng(69)
    a, b = rng.normal(size=3000), rng.normal(0.1, 1.0, size=1000)
    d, p_value = _ks(a, b)
    reference = stats.ks_2samp(a, b, method="asymp")
    assert d == pytest.approx(reference.statistic)
    assert p_value == pytest.approx(reference.pvalue, rel=0.1)


def test_scale_change_does_not_depend_on_spread_or_sign():
    rng = np.random.default_rng(70)
    for sample in (rng.lognormal(0, 2.0, 20_000), rng.standard_t(3, 20_000)):
        assert np.exp(_scale(sample, 1.5 * sample)) == pytest.approx(1.5)


@pytest.mark.parametrize(
    "bad", [{"warn_psi": 0.3, "fail_psi": 0.2}, {"warn_ks": 0.3}, {"warn_scale_change": 0.6}]
)
def test_warning_levels_above_failure_levels_are_rejected(table, bad):
    train, test = random_split(table, 71)
    with pytest.raises(InputError, match="warning levels must not exceed failure levels"):
        _run(train, test, **bad)


def test_params_are_documented():
    for field in dataclasses.fields(FeatureDriftParams):
        assert field.metadata["doc"]
