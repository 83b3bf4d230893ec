"""Baseline models and their scores, measured the way the model's are.

The baselines (dummies, a linear model with standard preprocessing, the user's
``--baseline-model``) are fitted on the training rows and refitted on the audit's folds by
the same code as the model, and scored on the same bootstrap resamples of the test rows,
so every difference to the model is paired. ``baseline.comparison`` decides what the
differences mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from auditor.context import AuditContext, Predictions
from auditor.evaluation import (
    CrossValidation,
    HoldoutScore,
    cross_fit,
    cv_folds,
    fit_on_train,
    score_on_test_rows,
)
from auditor.metrics import EvalData, MetricSpec
from auditor.stats.random import rng_for

# One-hot columns for categories seen in less than this share of rows are merged: the
# linear baseline stays narrow on high-cardinality columns.
_MIN_CATEGORY_SHARE = 0.01


@dataclass(frozen=True, slots=True)
class Baseline:
    """A baseline: ``role`` is "trivial" (dummy), "linear" or "user" (--baseline-model)."""

    name: str
    label: str
    role: str
    estimator: Any
    features: tuple[str, ...]


def baseline_features(ctx: AuditContext) -> tuple[str, ...]:
    """Columns the built-in baselines use: the model's inputs, else the feature columns."""
    if ctx.model_features:
        return tuple(ctx.model_features)
    frames = [f for f in (ctx.train, ctx.test) if f is not None]
    return tuple(c for c in ctx.roles.features if all(c in f.columns for f in frames))


def as_text(X: pd.DataFrame) -> pd.DataFrame:
    """Categorical values as text (missing stays NaN), so mixed-type columns encode alike."""
    frame = pd.DataFrame(X)
    columns = {}
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.StringDtype):
            # Already text: converting a pandas string column to Python objects cost more
            # than the linear baseline's fit on large tables.
            columns[name] = column
            continue
        values = column.astype(object)
        if pd.api.types.infer_dtype(column, skipna=True) != "string":
            values = values.map(str, na_action="ignore")
        columns[name] = values.where(column.notna(), np.nan)
    return pd.DataFrame(columns, index=frame.index)


class CategoryEncoder(TransformerMixin, BaseEstimator):
    """Most-frequent imputation, then one-hot encoding with rare categories merged.

    Equivalent to ``SimpleImputer(strategy="most_frequent")`` followed by
    ``OneHotEncoder(handle_unknown="ignore", min_frequency=min_frequency)`` on the values
    as text: categories seen in fewer than ``min_frequency`` of the rows share one
    "infrequent" column, categories never seen encode as zeros. It counts with pandas'
    hashed ``value_counts``; scikit-learn counts text with Python's ``Counter``, which made
    this baseline cost more than a boosted model's fit on large tables.
    """

    def __init__(self, min_frequency: float = _MIN_CATEGORY_SHARE):
        self.min_frequency = min_frequency

    def fit(self, X, y=None):
        frame = as_text(X)
        self.fill_, self.frequent_, self.infrequent_ = [], [], []
        for column in frame.columns:
            counts = frame[column].value_counts(sort=False).copy()
            # The mode, ties broken by the smallest value as SimpleImputer does.
            fill = min(counts.index[counts == counts.max()]) if len(counts) else "missing"
            counts[fill] = counts.get(fill, 0) + int(frame[column].isna().sum())
            frequent = counts.index[counts >= self.min_frequency * len(frame)]
            self.fill_.append(fill)
            self.frequent_.append(pd.Index(sorted(frequent)))
            self.infrequent_.append(frozenset(counts.index.difference(frequent)))
        return self

    def transform(self, X):
        return self._encode(as_text(X))

    def fit_transform(self, X, y=None):
        frame = as_text(X)
        return self.fit(frame)._encode(frame)

    def _encode(self, frame: pd.DataFrame):
        from scipy import sparse

        blocks = []
        for j, column in enumerate(frame.columns):
            values = frame[column].fillna(self.fill_[j])
            codes = self.frequent_[j].get_indexer(values)
            width = len(self.frequent_[j]) + bool(self.infrequent_[j])
            if self.infrequent_[j]:
                rare = values.isin(self.infrequent_[j]).to_numpy()
                codes = np.where(rare, width - 1, codes)
            rows = np.flatnonzero(codes >= 0)
            blocks.append(
                sparse.csr_matrix(
                    (np.ones(rows.size), (rows, codes[rows])), shape=(len(values), width)
                )
            )
        return sparse.hstack(blocks, format="csr")


def linear_baseline(ctx: AuditContext, features: tuple[str, ...]) -> Any:
    """A linear model with standard preprocessing: LogisticRegression or Ridge."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    reference = ctx.train if ctx.train is not None else ctx.test
    numeric = [
        c
        for c in features
        if pd.api.types.is_numeric_dtype(reference[c])
        and not pd.api.types.is_bool_dtype(reference[c])
    ]
    categorical = [c for c in features if c not in numeric]
    parts = []
    if numeric:
        parts.append(
            ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric)
        )
    if categorical:
        parts.append(("categorical", CategoryEncoder(), categorical))
    model = Ridge() if ctx.task == "regression" else LogisticRegression(max_iter=1000)
    return make_pipeline(ColumnTransformer(parts), model)


def standard_baselines(ctx: AuditContext) -> list[Baseline]:
    """Dummies, a linear model and the user's --baseline-model, for the task."""
    from sklearn.dummy import DummyClassifier, DummyRegressor

    features = baseline_features(ctx)
    # A dummy reads no column: refitting it on an empty frame skips copying the features.
    no_columns: tuple[str, ...] = ()
    if ctx.task == "regression":
        out = [
            Baseline(
                "mean", "Dummy (mean)", "trivial", DummyRegressor(strategy="mean"), no_columns
            ),
            Baseline(
                "median", "Dummy (median)", "trivial", DummyRegressor(strategy="median"), no_columns
            ),
        ]
    else:
        seed = int(rng_for(ctx.seed, "baseline.comparison.stratified").integers(2**31 - 1))
        out = [
            Baseline(
                "prior", "Dummy (prior)", "trivial", DummyClassifier(strategy="prior"), no_columns
            ),
            Baseline(
                "most_frequent",
                "Dummy (most frequent)",
                "trivial",
                DummyClassifier(strategy="most_frequent"),
                no_columns,
            ),
            Baseline(
                "stratified",
                "Dummy (stratified)",
                "trivial",
                DummyClassifier(strategy="stratified", random_state=seed),
                no_columns,
            ),
        ]
    if features:
        label = "Ridge regression" if ctx.task == "regression" else "Logistic regression"
        out.append(Baseline("linear", label, "linear", linear_baseline(ctx, features), features))
    if ctx.baseline_model is not None:
        out.append(
            Baseline(
                "user",
                f"Your baseline ({type(ctx.baseline_model).__name__})",
                "user",
                ctx.baseline_model,
                tuple(ctx.baseline_features),
            )
        )
    return out


def merged_rows_statistic(metric: MetricSpec, data: EvalData):
    """``metric.weighted`` on ``data``, with identical rows merged when there are few kinds.

    Every metric is a statistic of count weights, so rows with the same target and the same
    predictions can be merged into one row carrying the sum of their weights: the value is
    unchanged. A dummy baseline predicts the same for every row, so its bootstrap shrinks
    from the test rows to a handful of merged rows.
    """
    parts = [data.y[:, None], np.asarray(data.y_pred, dtype=float)[:, None]]
    if data.proba is not None:
        parts.append(data.proba)
    _, first, inverse = np.unique(np.hstack(parts), axis=0, return_index=True, return_inverse=True)
    if first.size > data.n // 4:
        return partial(metric.weighted, data)
    merge = np.zeros((data.n, first.size))
    merge[np.arange(data.n), inverse.ravel()] = 1.0
    merged = EvalData(
        data.task,
        data.y[first],
        data.y_pred[first],
        None if data.proba is None else data.proba[first],
        data.classes,
        data.positive,
    )
    return lambda W: metric.weighted(merged, W @ merge)


class BaselineUnavailableError(Exception):
    """A baseline could not be scored; the message says why, as a phrase."""


def test_predictions(ctx: AuditContext, baseline: Baseline, metric: MetricSpec) -> Predictions:
    """The baseline's predictions for the test rows, fitted on the training rows (memoized).

    Raises
    ------
    BaselineUnavailableError
        No training rows, the fit failed, or the predictions lack what ``metric`` needs.
    """
    if baseline.role == "user":
        predictions = ctx.baseline_predictions
    elif ctx.train is None:
        raise BaselineUnavailableError("no training rows to fit it on")
    else:
        fit = fit_on_train(ctx, f"baseline:{baseline.name}", baseline.estimator, baseline.features)
        if not fit.ok:
            raise BaselineUnavailableError(f"fit on the training rows: {fit.error}")
        predictions = fit.valid
    if not usable(metric, predictions):
        raise BaselineUnavailableError(f"it gives no probabilities, which {metric.label} needs")
    return predictions


def usable(metric: MetricSpec, predictions: Predictions | None) -> bool:
    return predictions is not None and (not metric.needs_proba or predictions.proba is not None)


def holdout_scores(
    ctx: AuditContext, metric: MetricSpec, predictions: dict[str, Predictions]
) -> dict[str, HoldoutScore]:
    """``metric`` of each baseline's test predictions, on the model's bootstrap resamples."""
    data = {name: ctx.eval_data(ctx.test[ctx.target], p) for name, p in predictions.items()}
    statistics = {name: merged_rows_statistic(metric, d) for name, d in data.items()}
    shares_of = (
        {name: metric.share_of(d) for name, d in data.items()}
        if metric.share_of is not None
        else None
    )
    return score_on_test_rows(ctx, statistics, shares_of) if statistics else {}


def refits(ctx: AuditContext, baseline: Baseline) -> CrossValidation:
    """The baseline refitted on the audit's folds (memoized), as the model is.

    Raises
    ------
    auditor.errors.NotApplicable
        The data cannot support the folds.
    """
    return ctx.memoized(
        f"cv:baseline:{baseline.name}",
        partial(
            cross_fit, ctx, baseline.label, baseline.estimator, baseline.features, cv_folds(ctx)
        ),
    )
