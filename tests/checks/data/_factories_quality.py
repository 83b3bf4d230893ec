"""Realistic tables and planted data-quality problems for the data checks' tests.

``realistic_table`` builds a table like the ones audits meet: ids, dates, heavy-tailed
amounts, integer counts, a score, rare and common categories, a sparse flag, light random
missingness, and a target with strong legitimate signal. Each ``plant_*`` function returns a
copy with exactly one problem planted, at seeded rows. Everything is pure and seeded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from auditor.inputs import load_inputs
from auditor.spec import AuditSpec, ColumnRolesSpec

TARGETS = {"binary": "default", "multiclass": "tier", "regression": "spend"}
REGIONS = ["north", "south", "east", "west", "central", "islands"]
REGION_P = [0.3, 0.25, 0.2, 0.15, 0.08, 0.02]


def realistic_table(n: int, seed: int, task: str = "binary") -> pd.DataFrame:
    """A clean table of ``n`` rows with one target column named after the task.

    Columns: ``customer_id`` (unique, shuffled), ``signup_date`` (ISO text), ``age``,
    ``income`` (lognormal), ``amount`` (Pareto, cents), ``balance`` (crosses zero),
    ``n_accounts`` (Poisson), ``tenure_months``, ``credit_score``, ``utilization``
    (beta), ``temperature`` (normal, rarely below zero), ``region`` (6 levels, one at 2%),
    ``plan`` (3 levels), ``city`` (Zipf over 400 levels: many rare ones), ``channel``,
    ``is_vip`` (a 1% flag), and the target. About 2% of ``income``, ``tenure_months`` and
    ``channel`` are missing at random.
    """
    rng = np.random.default_rng(seed)
    age = np.clip(rng.normal(42, 13, n).round(), 18, 95).astype(int)
    income = (rng.lognormal(10.8, 0.6, n) / 100).round() * 100
    amount = ((rng.pareto(1.8, n) + 1) * 20).round(2)
    balance = rng.normal(1500, 2500, n).round(2)
    n_accounts = rng.poisson(3, n)
    tenure = rng.integers(0, 240, n).astype(float)
    credit = np.clip(rng.normal(660, 70, n).round(), 300, 850).astype(int)
    utilization = rng.beta(2, 5, n).round(4)
    temperature = rng.normal(18, 6, n).round(1)
    region = rng.choice(REGIONS, size=n, p=REGION_P)
    plan = rng.choice(["basic", "plus", "premium"], size=n, p=[0.6, 0.3, 0.1])
    weights = 1 / np.arange(1, 401) ** 1.1
    city = np.array([f"city_{i:03d}" for i in range(400)])[
        rng.choice(400, size=n, p=weights / weights.sum())
    ]
    channel = rng.choice(["web", "app", "branch", "phone"], size=n, p=[0.5, 0.3, 0.15, 0.05])
    is_vip = (rng.random(n) < 0.01).astype(int)
    start = np.datetime64("2022-01-01")
    signup = (start + rng.integers(0, 900, n).astype("timedelta64[D]")).astype(str)
    logit = (
        -1.5
        + 1.2 * (credit < 600)
        - 0.8 * np.log(income / 50_000)
        + 2.5 * utilization
        - 0.01 * (age - 42)
        + 0.4 * (plan == "basic")
    )
    frame = pd.DataFrame(
        {
            "customer_id": rng.permutation(n) + 10_000,
            "signup_date": signup,
            "age": age,
            "income": income,
            "amount": amount,
            "balance": balance,
            "n_accounts": n_accounts,
            "tenure_months": tenure,
            "credit_score": credit,
            "utilization": utilization,
            "temperature": temperature,
            "region": region,
            "plan": plan,
            "city": city,
            "channel": channel,
            "is_vip": is_vip,
        }
    )
    if task == "binary":
        frame["default"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    elif task == "multiclass":
        score = logit + rng.logistic(size=n)
        frame["tier"] = np.select([score < -1.5, score < 0.5], ["bronze", "silver"], "gold")
    else:
        frame["spend"] = (income * 0.02 + 300 * utilization + rng.normal(0, 200, n)).round(2)
    for column in ("income", "tenure_months", "channel"):
        frame.loc[rng.random(n) < 0.02, column] = np.nan
    return frame


def split(frame: pd.DataFrame, test_share: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded random (train, test) split, indices reset."""
    rng = np.random.default_rng(seed)
    is_test = rng.random(len(frame)) < test_share
    return (
        frame.loc[~is_test].reset_index(drop=True),
        frame.loc[is_test].reset_index(drop=True),
    )


def clean_split(
    n: int, seed: int, task: str = "binary", test_share: float = 0.25
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test) of ``realistic_table``."""
    return split(realistic_table(n, seed, task), test_share, seed + 1)


def context(
    train: pd.DataFrame | None,
    test: pd.DataFrame,
    task: str = "binary",
    *,
    declare_roles: bool = True,
    seed: int = 0,
):
    """An AuditContext for a realistic table; roles declared (id, time) or all inferred."""
    columns = ColumnRolesSpec()
    if declare_roles and "customer_id" in test.columns:
        time = "signup_date" if "signup_date" in test.columns else None
        columns = ColumnRolesSpec(id="customer_id", time=time)
    spec = AuditSpec(target=TARGETS.get(task, task), columns=columns, seed=seed)
    return load_inputs(spec, train=train, test=test).context


def rows_at(n: int, count: int, seed: int) -> np.ndarray:
    """``count`` distinct seeded row positions out of ``n``, sorted."""
    return np.sort(np.random.default_rng(seed).choice(n, size=count, replace=False))


def plant_copies(
    frame: pd.DataFrame, count: int, seed: int, *, flip_target: str | None = None
) -> pd.DataFrame:
    """Append ``count`` copies of distinct existing rows with fresh ids, then shuffle.

    With ``flip_target``, each copy gets a different label: the next class in sorted order
    (classification) or the value shifted by two standard deviations (regression).
    """
    rng = np.random.default_rng(seed)
    copies = frame.iloc[rows_at(len(frame), count, seed)].copy()
    if "customer_id" in frame.columns:
        copies["customer_id"] = frame["customer_id"].max() + 1 + np.arange(count)
    if flip_target is not None:
        y = copies[flip_target]
        if pd.api.types.is_float_dtype(y):
            copies[flip_target] = y + 2 * frame[flip_target].std()
        else:
            classes = sorted(frame[flip_target].unique())
            following = {c: classes[(i + 1) % len(classes)] for i, c in enumerate(classes)}
            copies[flip_target] = y.map(following)
    out = pd.concat([frame, copies], ignore_index=True)
    return out.iloc[rng.permutation(len(out))].reset_index(drop=True)


def plant_value(frame: pd.DataFrame, column: str, rows: np.ndarray, value) -> pd.DataFrame:
    """Set ``column`` to ``value`` on the given row positions (object column if needed)."""
    frame = frame.copy()
    series = frame[column]
    if isinstance(value, str) and not pd.api.types.is_object_dtype(series):
        series = series.astype(object)
    series = series.copy()
    series.iloc[rows] = value
    frame[column] = series
    return frame
