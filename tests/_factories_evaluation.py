"""Data, models and contexts for the evaluation tests (folds, refits, calibration, baselines).

Pure and seeded: the same arguments give the same frames and models.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from auditor.inputs import load_inputs
from auditor.registry import build_params, load_registry
from auditor.runner import run_check
from auditor.spec import AuditSpec

TASKS = ("binary", "multiclass", "regression")


def frame(task: str, n: int, seed: int, *, signal: float = 1.0) -> pd.DataFrame:
    """Numeric features x0..x3, a categorical 'colour' and a target 'y' of ``task``.

    The target depends on x0, x1 and colour with strength ``signal`` (0: pure noise).
    """
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    colour = rng.choice(["red", "green", "blue"], size=n)
    out = pd.DataFrame(X, columns=[f"x{i}" for i in range(4)])
    out["colour"] = colour
    linear = signal * (X[:, 0] - 0.8 * X[:, 1] + 0.5 * (colour == "red"))
    if task == "binary":
        out["y"] = (rng.random(n) < 1 / (1 + np.exp(-linear))).astype(int)
    elif task == "multiclass":
        logits = np.column_stack([np.zeros(n), linear, -linear + signal * X[:, 2]])
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        draws = (p.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1)
        out["y"] = np.array(["low", "medium", "high"])[draws]
    else:
        out["y"] = 10 + 3 * linear + rng.normal(size=n)
    return out


def split(task: str, seed: int = 0, *, n_train: int = 600, n_test: int = 400, signal=1.0):
    """(train, test) of ``frame(task, ...)``."""
    whole = frame(task, n_train + n_test, seed, signal=signal)
    return (
        whole.iloc[:n_train].reset_index(drop=True),
        whole.iloc[n_train:].reset_index(drop=True),
    )


def linear_model(task: str):
    """One-hot 'colour' + LogisticRegression (classification) or Ridge (regression)."""
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["colour"]), remainder="passthrough"
    )
    final = Ridge() if task == "regression" else LogisticRegression(max_iter=1000)
    return make_pipeline(encode, final)


def fitted(model, train: pd.DataFrame, target: str = "y"):
    return model.fit(train.drop(columns=target), train[target])


def context(train=None, test=None, model=None, predictions=None, baseline_model=None, **spec):
    """An AuditContext through the real input validation (target 'y')."""
    return load_inputs(
        AuditSpec(target="y", **spec),
        train=train,
        test=test,
        model=model,
        predictions=predictions,
        baseline_model=baseline_model,
    ).context


def run(ctx, check_id: str, **params):
    spec = load_registry()[check_id]
    return run_check(ctx, spec, build_params(spec, params))


def predictions_frame(model, test: pd.DataFrame, target: str = "y") -> pd.DataFrame:
    """A predictions file's content for ``model`` on ``test``: prediction and proba_<class>."""
    X = test.drop(columns=target)
    out = pd.DataFrame({"prediction": model.predict(X)})
    if hasattr(model, "predict_proba"):
        for label, column in zip(model.classes_, model.predict_proba(X).T, strict=True):
            out[f"proba_{label}"] = column
    return out


class FailsWithoutSentinel(ClassifierMixin, BaseEstimator):
    """A logistic regression whose fit raises unless the row with x0 == sentinel is present.

    On k-fold cross-validation exactly one fit fails: the one validating on that row.
    """

    def __init__(self, sentinel: float = 0.0):
        self.sentinel = sentinel

    def fit(self, X, y):
        if not np.isclose(X["x0"].to_numpy(), self.sentinel).any():
            raise ValueError("planted failure: the sentinel row is missing")
        self.model_ = LogisticRegression(max_iter=1000).fit(X[["x0", "x1"]], y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(X[["x0", "x1"]])

    def predict_proba(self, X):
        return self.model_.predict_proba(X[["x0", "x1"]])


class FailsOnFewRows(ClassifierMixin, BaseEstimator):
    """A logistic regression whose fit raises on fewer than ``min_rows`` rows.

    Fitted on a whole training set it works; on every cross-validation fold (fewer rows) it
    raises: a model misconfigured for the data it is refitted on.
    """

    def __init__(self, min_rows: int = 500):
        self.min_rows = min_rows

    def fit(self, X, y):
        if len(X) < self.min_rows:
            raise TypeError("unsupported parameter combination for this many rows")
        self.model_ = LogisticRegression(max_iter=1000).fit(X[["x0", "x1"]], y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(X[["x0", "x1"]])

    def predict_proba(self, X):
        return self.model_.predict_proba(X[["x0", "x1"]])


class CountingClassifier(ClassifierMixin, BaseEstimator):
    """A logistic regression on x0 and x1 that counts its fits (class-wide, n_jobs=1 only)."""

    fits = 0

    def fit(self, X, y):
        type(self).fits += 1
        self.model_ = LogisticRegression(max_iter=1000).fit(X[["x0", "x1"]], y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(X[["x0", "x1"]])

    def predict_proba(self, X):
        return self.model_.predict_proba(X[["x0", "x1"]])
