"""Shared fixtures: the seed, the bundled sample data, tiny fitted models."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data"


@pytest.fixture
def seed() -> int:
    """The test seed: 0, or AUDITOR_TEST_SEED to sweep seeds and catch lucky passes."""
    return int(os.environ.get("AUDITOR_TEST_SEED", "0"))


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def loans() -> dict[str, Path]:
    """Paths of the bundled binary sample (loan defaults)."""
    return {
        "train": SAMPLE / "loans_train.csv",
        "test": SAMPLE / "loans_test.csv",
        "model": SAMPLE / "loan_model.skops",
        "config": SAMPLE / "audit.toml",
    }


@pytest.fixture(scope="session")
def housing() -> dict[str, Path]:
    """Paths of the bundled regression sample (house prices, target 'price')."""
    return {
        "train": SAMPLE / "housing_train.csv",
        "test": SAMPLE / "housing_test.csv",
        "model": SAMPLE / "housing_model.skops",
    }


@pytest.fixture(scope="session")
def tickets() -> dict[str, Path]:
    """Paths of the bundled multiclass sample (ticket priority, target 'priority')."""
    return {
        "train": SAMPLE / "tickets_train.csv",
        "test": SAMPLE / "tickets_test.csv",
        "model": SAMPLE / "tickets_model.skops",
    }


def make_binary_frame(n: int, seed: int, n_features: int = 4) -> pd.DataFrame:
    """A clean binary table: numeric features, a categorical, a signal of moderate strength."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    colour = rng.choice(["red", "green", "blue"], size=n)
    logit = X[:, 0] - 0.8 * X[:, 1] + 0.5 * (colour == "red")
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(n_features)])
    frame["colour"] = colour
    frame["y"] = y
    return frame


@pytest.fixture(scope="session")
def binary_split() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test) of a clean binary table, 1,200 / 600 rows, seed 0."""
    frame = make_binary_frame(1800, 0)
    return frame.iloc[:1200].reset_index(drop=True), frame.iloc[1200:].reset_index(drop=True)


@pytest.fixture(scope="session")
def binary_model(binary_split):
    """A logistic-regression pipeline fitted on ``binary_split``'s train rows."""
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    train, _ = binary_split
    features = train.drop(columns="y")
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["colour"]), remainder="passthrough"
    )
    return make_pipeline(encode, LogisticRegression()).fit(features, train["y"])
