"""Seeded generators for the split checks: realistic tables, clean splits, planted problems.

``realistic_table`` imitates a loan book: a row id, an application date over several years,
a customer (entity) column, heavy-tailed amounts that grow a few percent a year, counts,
scores, rare categories, light random missingness and a target driven by strong features.
Every planting function is pure (returns new frames) and plants exactly what it says, so
tests can assert exact counts and columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TARGET = "default"
START = pd.Timestamp("2020-01-01")


def realistic_table(
    n: int,
    seed: int,
    *,
    years: float = 3.0,
    trend: float = 0.04,
    missing: float = 0.02,
    rows_per_customer: float = 2.0,
) -> pd.DataFrame:
    """A loan-book-like table of ``n`` rows in random row order.

    Amounts (``income``, ``loan_amount``, ``balance``) grow by ``trend`` a year over the
    ``years`` the applications span; ``missing`` of the cells of four columns are blank.
    """
    rng = np.random.default_rng(seed)
    day = rng.integers(0, int(365 * years), size=n)
    growth = (1.0 + trend) ** (day / 365.0)
    n_customers = max(1, int(n / rows_per_customer))
    region = rng.choice(
        ["north", "south", "east", "west", "centre", "islands", "overseas", "capital"],
        size=n,
        p=[0.25, 0.2, 0.15, 0.15, 0.1, 0.08, 0.02, 0.05],
    )
    zipf = np.minimum(rng.zipf(1.6, size=n), 400)
    frame = pd.DataFrame(
        {
            "application_id": rng.permutation(n) + 100_000,
            "application_date": (START + pd.to_timedelta(day, unit="D")).strftime("%Y-%m-%d"),
            "customer_id": rng.integers(0, n_customers, size=n),
            "income": np.round(rng.lognormal(10.6, 0.55, size=n) * growth, 2),
            "loan_amount": np.round(rng.lognormal(9.2, 0.9, size=n) * growth, 2),
            "balance": np.round(
                np.where(rng.random(n) < 0.3, 0.0, rng.lognormal(7.0, 1.5, size=n)) * growth, 2
            ),
            "age": rng.integers(18, 80, size=n),
            "n_accounts": rng.poisson(3.0, size=n),
            "credit_score": np.clip(rng.normal(680, 60, size=n), 300, 850).round(),
            "debt_ratio": rng.beta(2.0, 5.0, size=n),
            "utilisation": rng.uniform(0, 1, size=n),
            "risk_score": rng.standard_t(4, size=n),
            "tenure_months": rng.integers(0, 240, size=n),
            "region": region,
            "product": rng.choice(
                ["card", "loan", "mortgage", "overdraft"], size=n, p=[0.4, 0.3, 0.2, 0.1]
            ),
            "channel": rng.choice(["web", "branch", "phone"], size=n, p=[0.6, 0.3, 0.1]),
            "employment": rng.choice(
                ["salaried", "self-employed", "retired", "student", "unemployed", "other"],
                size=n,
                p=[0.55, 0.15, 0.12, 0.08, 0.06, 0.04],
            ),
            "merchant": np.char.add("m", zipf.astype(str)),
            "has_guarantor": rng.random(n) < 0.15,
        }
    )
    logit = (
        -2.0
        + 1.5 * (frame["credit_score"].to_numpy() < 620)
        + 2.0 * frame["debt_ratio"].to_numpy()
        + 0.8 * frame["risk_score"].to_numpy().clip(-3, 3)
        - 0.3 * np.log(frame["income"].to_numpy() / 40_000)
        + 0.5 * (frame["employment"].to_numpy() == "unemployed")
    )
    frame[TARGET] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    for column in ("income", "debt_ratio", "risk_score", "credit_score"):
        blank = rng.random(n) < missing
        frame.loc[blank, column] = np.nan
    return frame


def coarse_table(n: int, seed: int) -> pd.DataFrame:
    """Only low-cardinality columns: identical rows are common by chance."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "sex": rng.choice(["f", "m"], size=n),
            "band": rng.choice(["a", "b", "c", "d"], size=n, p=[0.4, 0.3, 0.2, 0.1]),
            "children": rng.poisson(1.0, size=n).clip(0, 4),
            "smoker": rng.random(n) < 0.2,
            "region": rng.choice(["n", "s", "e", "w"], size=n),
        }
    )
    frame[TARGET] = (rng.random(n) < 0.3).astype(int)
    return frame


def random_split(frame: pd.DataFrame, seed: int, test_share: float = 0.2):
    """(train, test) of a seeded random row split."""
    rng = np.random.default_rng(seed)
    is_test = rng.random(len(frame)) < test_share
    return _frames(frame, ~is_test, is_test)


def time_split(frame: pd.DataFrame, test_share: float = 0.2, *, shuffle_seed: int | None = None):
    """(train, test) split by ``application_date``: the latest rows are the test rows.

    Rows of the boundary day may fall on both sides (the split is by row count after a
    stable sort by date). With ``shuffle_seed`` the rows inside each split are shuffled.
    """
    ordered = frame.sort_values("application_date", kind="stable").reset_index(drop=True)
    cut = int(round(len(ordered) * (1 - test_share)))
    train, test = ordered.iloc[:cut], ordered.iloc[cut:]
    if shuffle_seed is not None:
        rng = np.random.default_rng(shuffle_seed)
        train = train.iloc[rng.permutation(len(train))]
        test = test.iloc[rng.permutation(len(test))]
    return train.reset_index(drop=True), test.reset_index(drop=True)


def group_split(
    frame: pd.DataFrame, seed: int, test_share: float = 0.2, column: str = "customer_id"
):
    """(train, test) with every value of ``column`` in one split only."""
    rng = np.random.default_rng(seed)
    groups = frame[column].unique()
    test_groups = set(rng.choice(groups, size=int(len(groups) * test_share), replace=False))
    is_test = frame[column].isin(test_groups).to_numpy()
    return _frames(frame, ~is_test, is_test)


def _frames(frame, train_mask, test_mask):
    return frame[train_mask].reset_index(drop=True), frame[test_mask].reset_index(drop=True)


# --- planted problems ----------------------------------------------------------------------


def copy_train_rows(
    train: pd.DataFrame, test: pd.DataFrame, count: int, seed: int, *, new_ids: bool = True
) -> tuple[pd.DataFrame, np.ndarray]:
    """Replace ``count`` test rows by copies of distinct train rows; return (test, positions).

    With ``new_ids`` the copies keep the replaced test row's ``application_id`` (a copy
    with a fresh id).
    """
    rng = np.random.default_rng(seed)
    source = rng.choice(len(train), size=count, replace=False)
    target = np.sort(rng.choice(len(test), size=count, replace=False))
    out = test.copy()
    for column in out.columns:
        if new_ids and column == "application_id":
            continue
        values = out[column].to_numpy(copy=True)
        values[target] = train[column].to_numpy()[source]
        out[column] = values
    return out, target


def near_copy_train_rows(
    train: pd.DataFrame, test: pd.DataFrame, count: int, seed: int, how: str
) -> tuple[pd.DataFrame, np.ndarray]:
    """Like ``copy_train_rows``, then perturb each copy so it is no longer identical.

    ``how``: ``"epsilon"`` adds 1e-9 to ``debt_ratio``; ``"round2"``/``"round3"``/
    ``"round4"`` round every float column to that many decimals (only rows where that
    changes something are planted); ``"text"`` changes case and adds spaces to ``region``
    and ``product``; ``"retype"`` stores ``age`` as decimals; ``"mixed"`` cycles through all.
    """
    rng = np.random.default_rng(seed)
    floats = ["debt_ratio", "utilisation", "risk_score"]
    out = test.copy()
    if how == "retype":
        out["age"] = out["age"].astype(float)
    source_pool = rng.permutation(len(train))
    target = np.sort(rng.choice(len(test), size=count, replace=False))
    kinds = ["epsilon", "round2", "round3", "round4", "text"] if how == "mixed" else [how]
    chosen = []
    s = 0
    for i, row in enumerate(target):
        kind = kinds[i % len(kinds)]
        while True:
            copy = train.iloc[source_pool[s]].copy()
            s += 1
            if kind == "epsilon":
                before = copy["debt_ratio"]
                copy["debt_ratio"] = before + 1e-9
                if pd.notna(before) and copy["debt_ratio"] != before:
                    break
            elif kind.startswith("round"):
                before = copy[floats].to_numpy(dtype=float)
                copy[floats] = np.round(before, int(kind[-1]))
                if not np.array_equal(before, copy[floats].to_numpy(dtype=float), equal_nan=True):
                    break
            elif kind == "text":
                copy["region"] = f"  {str(copy['region']).upper()} "
                copy["product"] = str(copy["product"]).title()
                break
            elif kind == "retype":
                copy["age"] = float(copy["age"])
                break
        if "application_id" in out:
            copy["application_id"] = out["application_id"].iloc[row]
        chosen.append(copy)
    copies = pd.DataFrame(chosen, columns=out.columns)
    for column in out.columns:
        values = out[column].to_numpy(copy=True)
        if values.dtype != object and copies[column].map(type).eq(str).any():
            values = values.astype(object)
        values[target] = copies[column].to_numpy(dtype=values.dtype)
        out[column] = values
    return out, target


def leak_groups(
    train: pd.DataFrame, test: pd.DataFrame, n_groups: int, seed: int, column: str = "customer_id"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Move one row of each of ``n_groups`` test groups (with two or more rows) into train."""
    rng = np.random.default_rng(seed)
    sizes = test[column].value_counts()
    candidates = sizes[sizes >= 2].index.to_numpy()
    chosen = rng.choice(candidates, size=n_groups, replace=False)
    first = test[test[column].isin(chosen)].drop_duplicates(column)
    return (
        pd.concat([train, first], ignore_index=True),
        test.drop(index=first.index).reset_index(drop=True),
    )


def move_future_rows(
    train: pd.DataFrame, test: pd.DataFrame, count: int, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Move ``count`` test rows (from the test period) into train: future rows in training."""
    rng = np.random.default_rng(seed)
    moved = rng.choice(len(test), size=count, replace=False)
    mask = np.zeros(len(test), dtype=bool)
    mask[moved] = True
    return (
        pd.concat([train, test[mask]], ignore_index=True),
        test[~mask].reset_index(drop=True),
    )


def scale_column(test: pd.DataFrame, column: str, factor: float) -> pd.DataFrame:
    out = test.copy()
    out[column] = out[column] * factor
    return out


def shift_column(
    test: pd.DataFrame, column: str, by_std: float, train: pd.DataFrame
) -> pd.DataFrame:
    out = test.copy()
    out[column] = out[column] + by_std * float(train[column].std())
    return out


def change_share(
    test: pd.DataFrame, column: str, level: str, share: float, seed: int
) -> pd.DataFrame:
    """Relabel random rows of other levels as ``level`` until it holds ``share`` of ``test``."""
    rng = np.random.default_rng(seed)
    out = test.copy()
    is_level = out[column].to_numpy() == level
    need = int(round(share * len(out))) - int(is_level.sum())
    others = np.flatnonzero(~is_level)
    out.loc[rng.choice(others, size=need, replace=False), column] = level
    return out
