"""Realistic tables for the target and identifier leakage checks, clean or with one problem.

Every generator is pure and seeded. The clean tables have what real data has: a strong
legitimate feature (credit score, ROC AUC about 0.8), heavy-tailed amounts, rare and
high-cardinality categories, light random missingness, a column missing for a reason, a
mild drift of the label over time, a sequential id in date order and a random text id.
The ``plant_*`` functions return a copy with one problem added.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

START = np.datetime64("2022-01-01")


def _split(frame: pd.DataFrame, test_share: float = 0.25) -> tuple[pd.DataFrame, pd.DataFrame]:
    n_test = int(len(frame) * test_share)
    train = frame.iloc[: len(frame) - n_test].reset_index(drop=True)
    test = frame.iloc[len(frame) - n_test :].reset_index(drop=True)
    return train, test


def _uuids(rng: np.random.Generator, n: int) -> np.ndarray:
    digits = np.array(list("0123456789abcdef"))
    raw = digits[rng.integers(0, 16, size=(n, 32))]
    return np.array(
        [
            "-".join(("".join(r[:8]), "".join(r[8:12]), "".join(r[12:16]), "".join(r[16:])))
            for r in raw
        ]
    )


def _common_columns(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Applicant columns shared by every task, and a standard-normal latent risk."""
    days = np.sort(rng.integers(0, 730, size=n))
    risk = rng.normal(size=n)
    credit_score = np.clip(680 - 45 * risk + rng.normal(0, 30, n), 300, 850).round()
    income = np.exp(rng.normal(10.8, 0.6, n) - 0.1 * risk).round(-2)
    purpose_levels = ["debt", "car", "home", "education", "medical", "travel", "wedding", "boat"]
    purpose = rng.choice(purpose_levels, size=n, p=[0.4, 0.2, 0.15, 0.1, 0.08, 0.05, 0.015, 0.005])
    employment = rng.gamma(2.0, 3.0, n).round(1)
    employment[rng.random(n) < 0.03] = np.nan  # light random missingness
    delinquency = rng.random(n) < 0.25 + 0.1 * (risk > 1)
    months_since_delinquency = np.where(delinquency, rng.integers(1, 120, n), np.nan)
    frame = pd.DataFrame(
        {
            "application_id": np.arange(100_001, 100_001 + n),
            "application_date": (START + days).astype("datetime64[D]").astype(str),
            "customer_ref": _uuids(rng, n),
            "age": rng.integers(18, 80, n),
            "income": income,
            "loan_amount": np.exp(rng.normal(9.5, 0.8, n)).round(-1),
            "credit_score": credit_score,
            "debt_to_income": np.clip(rng.beta(2, 5, n) + 0.05 * risk, 0, None).round(3),
            "employment_years": employment,
            "n_open_accounts": rng.poisson(4, n),
            "months_since_delinquency": months_since_delinquency,
            "home_ownership": rng.choice(
                ["rent", "own", "mortgage", "other"], size=n, p=[0.4, 0.2, 0.39, 0.01]
            ),
            "purpose": purpose,
            "region": rng.choice(["north", "south", "east", "west", "centre"], size=n),
            "zip3": np.char.add("z", rng.integers(100, 999, n).astype(str)),
        }
    )
    frame.loc[rng.random(n) < 0.02, "purpose"] = None
    return frame, risk + 0.35 * delinquency + 0.25 * (days / 730)


def loans(n: int = 4000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A clean binary table (target ``default``, about 15% positives), split in date order."""
    rng = np.random.default_rng(seed)
    frame, risk = _common_columns(rng, n)
    logit = -2.2 + 1.3 * risk
    frame["default"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return _split(frame)


def tickets(n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A clean multiclass table (target ``tier``: low / medium / high / vip)."""
    rng = np.random.default_rng(seed)
    frame, risk = _common_columns(rng, n)
    latent = 1.3 * risk + rng.logistic(size=n)
    frame["tier"] = np.select(
        [latent < -1, latent < 1, latent < 2.5], ["low", "medium", "high"], default="vip"
    )
    return _split(frame)


def houses(n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A clean regression table (target ``price``, heavy-tailed)."""
    rng = np.random.default_rng(seed)
    frame, risk = _common_columns(rng, n)
    frame["price"] = np.exp(12 + 0.45 * risk + rng.normal(0, 0.35, n)).round(-2)
    return _split(frame)


# --- planted problems -------------------------------------------------------------------


def _positives(frame: pd.DataFrame, target: str) -> np.ndarray:
    return frame[target].to_numpy() == 1


def plant_label_copy(
    frame: pd.DataFrame, target: str, seed: int, noise: float = 0.3
) -> pd.DataFrame:
    """``recovery_score``: the label plus Gaussian noise (ROC AUC about 0.95-0.99)."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    out["recovery_score"] = (out[target].to_numpy() == 1) + rng.normal(0, noise, len(out))
    return out


def plant_post_outcome_date(
    frame: pd.DataFrame, target: str, seed: int, coverage: float = 1.0
) -> pd.DataFrame:
    """``collections_date``: a date filled only for (a share of) the defaulted loans."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    filled = _positives(out, target) & (rng.random(len(out)) < coverage)
    when = pd.to_datetime(out["application_date"]) + pd.to_timedelta(
        rng.integers(60, 400, len(out)), unit="D"
    )
    out["collections_date"] = when.dt.strftime("%Y-%m-%d").where(filled, None)
    return out


def plant_status_level(
    frame: pd.DataFrame, target: str, seed: int, coverage: float = 1.0
) -> pd.DataFrame:
    """``status``: 'charged_off' for (a share of) the defaulted loans, else ordinary levels."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    status = rng.choice(["current", "paid_off", "late"], size=len(out), p=[0.6, 0.3, 0.1])
    charged = _positives(out, target) & (rng.random(len(out)) < coverage)
    out["status"] = np.where(charged, "charged_off", status)
    return out


def plant_derived_value(
    frame: pd.DataFrame, target: str, seed: int, noise: float = 0.1
) -> pd.DataFrame:
    """``assessed_value``: the regression target times (1 + small noise)."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    out["assessed_value"] = (out[target] * (1 + rng.normal(0, noise, len(out)))).round(-2)
    return out


def plant_ids_in_label_order(
    frame: pd.DataFrame, target: str, column: str = "application_id"
) -> pd.DataFrame:
    """Renumber ``column`` after sorting the rows by the target (row order kept)."""
    out = frame.copy()
    order = np.argsort(out[target].to_numpy(), kind="stable")
    ids = np.empty(len(out), dtype=np.int64)
    ids[order] = np.arange(100_001, 100_001 + len(out))
    out[column] = ids
    return out


def plant_label_prefix(frame: pd.DataFrame, target: str, column: str = "loan_ref") -> pd.DataFrame:
    """A text id whose prefix says the outcome: 'D-000123' for defaults, 'L-000124' else."""
    out = frame.copy()
    prefix = np.where(_positives(out, target), "D-", "L-")
    numbers = pd.Series(np.arange(len(out)) + 1).astype(str).str.zfill(7).to_numpy()
    out[column] = np.char.add(prefix.astype(str), numbers.astype(str))
    return out


def plant_text_ids_in_label_order(
    frame: pd.DataFrame, target: str, column: str = "loan_ref"
) -> pd.DataFrame:
    """A text id 'LN-0000123' numbered after sorting the rows by the target."""
    out = frame.copy()
    order = np.argsort(out[target].to_numpy(), kind="stable")
    numbers = np.empty(len(out), dtype=np.int64)
    numbers[order] = np.arange(1, len(out) + 1)
    out[column] = pd.Series(numbers).astype(str).str.zfill(7).radd("LN-").to_numpy()
    return out


def plant_customers_in_label_order(
    frame: pd.DataFrame, target: str, seed: int, column: str = "customer_id"
) -> pd.DataFrame:
    """A repeating customer key (about 3 rows each) whose numbers follow the label."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    n = len(out)
    order = np.argsort(out[target].to_numpy() + rng.random(n) * 0.5, kind="stable")
    customer = np.empty(n, dtype=np.int64)
    customer[order] = 500_000 + np.arange(n) // 3
    out[column] = customer
    return out


def add_customers(frame: pd.DataFrame, seed: int, column: str = "customer_id") -> pd.DataFrame:
    """A clean repeating customer key: about 3 rows per customer, numbered at random."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    out[column] = 500_000 + rng.integers(0, max(len(out) // 3, 1), len(out))
    return out
