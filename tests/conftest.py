"""Shared fixtures: the seed, the bundled sample data and its audits, tiny fitted models."""

from __future__ import annotations

import os

# Before numpy, scipy or scikit-learn load: oversubscribed OpenMP threads make the fits of
# this suite many times slower on a small machine, and `pytest` run directly has no Makefile.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

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


@dataclass(frozen=True)
class SampleAudit:
    """One ``auditor audit`` run of a bundled sample, shared by the tests that only read it."""

    name: str
    target: str
    task: str
    out_dir: Path
    exit_code: int
    stdout: str
    stderr: str


# Every format but the PDF, which tests render from audit.json when they need it.
SAMPLE_FORMATS = "html,json,junit,md"


def _audit_sample(tmp_path_factory, name: str, target: str, task: str, args: list) -> SampleAudit:
    from typer.testing import CliRunner

    from auditor.cli.app import app

    out_dir = tmp_path_factory.mktemp(f"{name}-audit") / "out"
    ran = CliRunner().invoke(
        app, ["audit", *map(str, args), "--out-dir", str(out_dir), "--format", SAMPLE_FORMATS]
    )
    return SampleAudit(name, target, task, out_dir, ran.exit_code, ran.stdout, ran.stderr)


@pytest.fixture(scope="session")
def loans_audit(loans, tmp_path_factory) -> SampleAudit:
    """The bundled loans sample audited as ``auditor demo`` does, with its audit.toml."""
    return _audit_sample(
        tmp_path_factory, "loans", "default", "binary", ["--config", loans["config"]]
    )


def _files_audit(paths: dict[str, Path]) -> list:
    return ["--train", paths["train"], "--test", paths["test"], "--model", paths["model"]]


@pytest.fixture(scope="session")
def housing_audit(housing, tmp_path_factory) -> SampleAudit:
    return _audit_sample(
        tmp_path_factory,
        "housing",
        "price",
        "regression",
        [*_files_audit(housing), "--target", "price"],
    )


@pytest.fixture(scope="session")
def tickets_audit(tickets, tmp_path_factory) -> SampleAudit:
    return _audit_sample(
        tmp_path_factory,
        "tickets",
        "priority",
        "multiclass",
        [*_files_audit(tickets), "--target", "priority"],
    )


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
