"""Cross-validation shared by the evaluation checks: folds that follow the data, fits done once.

``performance.cross_validation``, ``performance.overfit`` and ``baseline.comparison`` all
need refits of the model on the same folds; the baselines must be scored on exactly those
folds for a paired comparison. This module builds the folds once per audit, fits clones of
the model (and of each baseline) on them in parallel, and memoizes everything in the
context, so the three checks share one set of fits.

Folds follow the data (see ``cv_folds``): time-ordered when a time column is declared,
grouped when a group column is declared, stratified for classification, shuffled and
seeded otherwise. They are drawn from the training rows, or from the test rows when no
training data was given.

A fit that raises is recorded with its exception, as scikit-learn's ``error_score=np.nan``
does, and the audit goes on; when every fit fails, ``AllFitsFailedError`` is raised, whose
message says the model is very likely misconfigured.
"""

from __future__ import annotations

import time
import warnings
from collections import Counter
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from auditor.context import AuditContext, Predictions
from auditor.errors import NotApplicable, preview
from auditor.metrics import METRICS, METRICS_BY_KEY, MetricSpec, primary_metric_key
from auditor.progress import step
from auditor.stats.random import rng_for

# A declared time column is used when at least this share of its values parse as times.
_MIN_PARSED_TIME_SHARE = 0.95
# Warning messages kept per fit: enough to report, small in memory.
_MAX_WARNINGS = 5
# In-sample scores use at most this many of a fold's fitting rows (a seeded sample): predicting
# every fitting row would cost more than the fit on large data, for no real gain in precision:
# 5,000 rows pin a score to about +-0.01, finer than the training-fit gap needs to be read.
MAX_IN_SAMPLE_ROWS = 5_000


class AllFitsFailedError(RuntimeError):
    """Every cross-validation fit of the model failed: the model is likely misconfigured."""


# --- folds ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Folds:
    """The cross-validation folds: row positions into the training frame.

    Attributes
    ----------
    source : {"train", "test"}
        Which split the folds were drawn from (test only when there is no training data).
    scheme : str
        How the folds were drawn, as a phrase: "5-fold stratified cross-validation".
    train, valid : tuple of arrays
        Positions of each fold's fitting rows and validation rows.
    repeat : tuple of int
        The repetition (1-based) each fold belongs to.
    notes : tuple of str
        What the reader should know about the folds (rows left out, fallbacks).
    """

    source: str
    scheme: str
    train: tuple[np.ndarray, ...]
    valid: tuple[np.ndarray, ...]
    repeat: tuple[int, ...]
    n_rows: int
    notes: tuple[str, ...] = ()

    @property
    def n_folds(self) -> int:
        return len(self.train)

    @property
    def mean_train_rows(self) -> float:
        return float(np.mean([len(t) for t in self.train]))

    @property
    def mean_valid_rows(self) -> float:
        return float(np.mean([len(v) for v in self.valid]))

    def describe(self) -> str:
        """'5-fold stratified cross-validation on the 4,000 training rows'."""
        rows = (
            f"the {self.n_rows:,} training rows"
            if self.source == "train"
            else f"the {self.n_rows:,} test rows (no training data was given)"
        )
        return f"{self.scheme} on {rows}"


def training_frame(ctx: AuditContext) -> tuple[pd.DataFrame, str]:
    """The rows cross-validation runs on: the training data, or the test data without it."""
    return (ctx.train, "train") if ctx.train is not None else (ctx.test, "test")


def cv_folds(ctx: AuditContext) -> Folds:
    """The folds of this audit (memoized): ``[evaluation]`` folds and repeats, following the data.

    - A declared time column: time-ordered expanding-window splits (as scikit-learn's
      ``TimeSeriesSplit``) on whole time values, so every fitting row is strictly earlier
      than every validation row, ties never straddle a boundary, and the model is never
      trained on the future. Rows whose time does not parse are left out. With a group
      column as well, validation rows whose group appears in the fitting rows are dropped.
    - A declared group column: ``StratifiedGroupKFold`` for classification, ``GroupKFold``
      for regression or when a class has fewer rows than folds; no group is on both sides.
    - Otherwise ``StratifiedKFold`` (classification) or ``KFold`` (regression), shuffled
      with a seed derived from the evaluation seed, repeated ``repeats`` times with fresh
      shuffles. Repeats apply to these two only: grouped and time-ordered folds are fixed.

    Raises
    ------
    auditor.errors.NotApplicable
        The data cannot support that many folds (too few rows, groups or times).
    """
    settings = ctx.evaluation
    return ctx.memoized("cv:folds", lambda: _make_folds(ctx, settings.folds, settings.repeats))


def _split_seed(ctx: AuditContext) -> int:
    return int(rng_for(ctx.evaluation.seed, "evaluation.folds").integers(2**31 - 1))


def _make_folds(ctx: AuditContext, n_splits: int, n_repeats: int) -> Folds:
    frame, source = training_frame(ctx)
    n = len(frame)
    if n < 2 * n_splits:
        raise NotApplicable(
            f"{n} {source} rows are too few for {n_splits}-fold cross-validation "
            f"(at least {2 * n_splits} are needed)"
        )
    notes: list[str] = []
    if ctx.roles.time is not None:
        if n_repeats > 1:
            notes.append("Repeats do not apply to time-ordered folds: they ran once.")
        return _time_folds(ctx, frame, source, n_splits, notes)
    if ctx.roles.group is not None:
        if n_repeats > 1:
            notes.append("Repeats do not apply to grouped folds: they ran once.")
        return _group_folds(ctx, frame, source, n_splits, notes)
    return _random_folds(ctx, frame, source, n_splits, n_repeats, notes)


def _least_class_rows(y: pd.Series) -> int:
    return int(y.value_counts().min())


def _random_folds(
    ctx: AuditContext,
    frame: pd.DataFrame,
    source: str,
    n_splits: int,
    n_repeats: int,
    notes: list[str],
) -> Folds:
    from sklearn.model_selection import (
        KFold,
        RepeatedKFold,
        RepeatedStratifiedKFold,
        StratifiedKFold,
    )

    y = frame[ctx.target]
    seed = _split_seed(ctx)
    stratify = ctx.task != "regression"
    if stratify and _least_class_rows(y) < n_splits:
        stratify = False
        notes.append(
            f"The rarest class has {_least_class_rows(y)} rows, fewer than {n_splits} folds: "
            "folds were not stratified, so some may lack a class."
        )
    if stratify and n_repeats > 1:
        splitter: Any = RepeatedStratifiedKFold(
            n_splits=n_splits, n_repeats=n_repeats, random_state=seed
        )
        name = "stratified"
    elif stratify:
        splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        name = "stratified"
    elif n_repeats > 1:
        splitter = RepeatedKFold(n_splits=n_splits, n_repeats=n_repeats, random_state=seed)
        name = "shuffled"
    else:
        splitter = KFold(n_splits=n_splits, shuffle=True, random_state=seed)
        name = "shuffled"
    labels = pd.factorize(y)[0] if stratify else np.zeros(len(frame))
    pairs = list(splitter.split(np.zeros((len(frame), 1)), labels))
    times = f", repeated {n_repeats} times" if n_repeats > 1 else ""
    return Folds(
        source=source,
        scheme=f"{n_splits}-fold {name} cross-validation{times}",
        train=tuple(t for t, _ in pairs),
        valid=tuple(v for _, v in pairs),
        repeat=tuple(1 + i // n_splits for i in range(len(pairs))),
        n_rows=len(frame),
        notes=tuple(notes),
    )


def _group_folds(
    ctx: AuditContext, frame: pd.DataFrame, source: str, n_splits: int, notes: list[str]
) -> Folds:
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

    column = ctx.roles.group
    # Missing group values form one group of their own: they cannot be told apart.
    groups = pd.factorize(frame[column], use_na_sentinel=False)[0]
    n_groups = int(groups.max()) + 1
    if n_groups < 2:
        raise NotApplicable(f"group column {column!r} has a single value; folds need two groups")
    if n_groups < n_splits:
        notes.append(f"Group column {column!r} has {n_groups} groups: {n_groups} folds were used.")
        n_splits = n_groups
    y = frame[ctx.target]
    if ctx.task != "regression" and _least_class_rows(y) >= n_splits:
        splitter: Any = StratifiedGroupKFold(
            n_splits=n_splits, shuffle=True, random_state=_split_seed(ctx)
        )
        name = "stratified group"
        labels = pd.factorize(y)[0]
    else:
        if ctx.task != "regression":
            notes.append(
                f"The rarest class has {_least_class_rows(y)} rows, fewer than {n_splits} "
                "folds: grouped folds were not stratified."
            )
        splitter = GroupKFold(n_splits=n_splits)
        name = "group"
        labels = np.zeros(len(frame))
    pairs = list(splitter.split(np.zeros((len(frame), 1)), labels, groups))
    return Folds(
        source=source,
        scheme=f"{n_splits}-fold {name} cross-validation by {column!r}",
        train=tuple(t for t, _ in pairs),
        valid=tuple(v for _, v in pairs),
        repeat=(1,) * len(pairs),
        n_rows=len(frame),
        notes=tuple(notes),
    )


def time_values(series: pd.Series) -> np.ndarray:
    """Orderable float values of a time column; NaN where a value is missing or unparsable.

    Read by ``auditor.engine.time`` (one format per column, day and month order decided
    from every value): seconds since 1970 for dates, the numbers themselves otherwise. The
    folds of an audit read the column through ``AuditContext.time_reading`` instead, which
    takes the decision from train and test together.
    """
    from auditor.engine.time import order_key, read_time_column

    return order_key(read_time_column(series)[0])


def _time_folds(
    ctx: AuditContext, frame: pd.DataFrame, source: str, n_splits: int, notes: list[str]
) -> Folds:
    column = ctx.roles.time
    # The one reading of the audit, shared with the temporal checks (same rows, same order).
    t = ctx.time_reading(column).key(source)
    known = np.isfinite(t)
    if known.mean() < _MIN_PARSED_TIME_SHARE:
        raise NotApplicable(
            f"only {known.mean():.0%} of time column {column!r} parse as dates or numbers, "
            "so folds cannot be ordered in time"
        )
    if not known.all():
        notes.append(
            f"{int((~known).sum())} rows without a usable {column!r} value were left out of "
            "the time-ordered folds."
        )
    positions = np.flatnonzero(known)
    unique, inverse, counts = np.unique(t[known], return_inverse=True, return_counts=True)
    if unique.size < n_splits + 1:
        raise NotApplicable(
            f"time column {column!r} has {unique.size} distinct values; {n_splits} "
            f"time-ordered folds need at least {n_splits + 1}"
        )
    # Fold i validates on the (i+1)-th of n_splits+1 equal slices of the rows in time order,
    # with boundaries moved to the nearest change of time so that ties stay together.
    rows_before = np.concatenate([[0], np.cumsum(counts)])  # rows with a time index < j
    total = rows_before[-1]
    starts = []
    for i in range(1, n_splits + 1):
        target = total * i / (n_splits + 1)
        j = int(np.argmin(np.abs(rows_before[1:-1] - target))) + 1  # 1..unique.size-1
        if not starts or j > starts[-1]:
            starts.append(j)
    bounds = [*starts, unique.size]
    groups = None
    if ctx.roles.group is not None:
        groups = pd.factorize(frame[ctx.roles.group], use_na_sentinel=False)[0]
    train, valid = [], []
    purged = 0
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        fit_rows = positions[inverse < start]
        check_rows = positions[(inverse >= start) & (inverse < stop)]
        if groups is not None:
            seen = np.isin(groups[check_rows], groups[fit_rows])
            purged += int(seen.sum())
            check_rows = check_rows[~seen]
        if len(fit_rows) and len(check_rows):
            train.append(fit_rows)
            valid.append(check_rows)
    if groups is not None and purged:
        notes.append(
            f"{purged:,} validation rows whose {ctx.roles.group!r} group also appears in the "
            "earlier fitting rows were left out of validation."
        )
    if len(train) < 2:
        raise NotApplicable(f"time column {column!r} does not allow two time-ordered folds")
    return Folds(
        source=source,
        scheme=f"{len(train)}-fold time-ordered cross-validation on {column!r} "
        "(expanding window: each fold trains on earlier rows only)",
        train=tuple(train),
        valid=tuple(valid),
        repeat=(1,) * len(train),
        n_rows=len(frame),
        notes=tuple(notes),
    )


# --- fits ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FoldFit:
    """One fit of a clone on a fold: its predictions, or the exception it raised.

    ``train`` holds in-sample predictions of the fitting rows at ``train_rows`` (positions
    into the training frame: every fitting row, or a seeded sample of
    ``MAX_IN_SAMPLE_ROWS`` of them), when they were asked for.
    """

    fold: int
    fit_time_s: float
    valid: Predictions | None
    train: Predictions | None = None
    error: str | None = None
    warnings: tuple[str, ...] = ()
    train_rows: np.ndarray | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class CrossValidation:
    """Fits of one estimator (the model or a baseline) on every fold of ``folds``."""

    name: str
    folds: Folds
    fits: tuple[FoldFit, ...]

    @property
    def n_failed(self) -> int:
        return sum(not f.ok for f in self.fits)

    def failure_groups(self) -> list[tuple[str, int]]:
        """Distinct errors with their counts, most frequent first (scikit-learn's summary)."""
        return Counter(f.error for f in self.fits if f.error is not None).most_common()

    def warning_groups(self) -> list[tuple[str, int]]:
        """Distinct warnings raised while fitting, with the number of fits raising each."""
        return Counter(w for f in self.fits for w in dict.fromkeys(f.warnings)).most_common()


def _with_fixed_seeds(estimator: Any, seed: int) -> Any:
    """Give every unset ``random_state`` of a clone a seed, so refits are reproducible.

    ``random_state=None`` asks for a fresh random stream on every fit (for example the
    early-stopping split of HistGradientBoosting on large data), which would make two audits
    of the same inputs differ. A fixed seed is one valid draw of that randomness.
    """
    try:
        params = estimator.get_params(deep=True)
    except Exception:  # noqa: BLE001 - a non-sklearn estimator may lack get_params
        return estimator
    unset = {
        key: seed
        for key, value in params.items()
        if value is None and (key == "random_state" or key.endswith("__random_state"))
    }
    if unset:
        estimator.set_params(**unset)
    return estimator


def _class_columns(fitted_classes: Any, classes: tuple) -> np.ndarray:
    """Position in ``classes`` of each of the fitted estimator's classes (value, then text)."""
    index = pd.Index(classes)
    fitted = pd.Index(list(fitted_classes))
    positions = index.get_indexer(fitted)
    if (positions < 0).any():
        text = pd.Index([str(c) for c in classes]).get_indexer([str(c) for c in fitted])
        positions = np.where(positions < 0, text, positions)
    if (positions < 0).any():
        raise PredictionError(f"has classes {list(fitted)}, not all of them in {list(classes)}.")
    return positions


class PredictionError(ValueError):
    """A fitted estimator's output cannot be used; the message is a phrase after its name."""


def predict_frame(estimator: Any, X: pd.DataFrame, task: str, classes: tuple) -> Predictions:
    """Predictions of a fitted estimator, validated; probabilities laid out in ``classes`` order.

    The one prediction path: the user's model on the test rows, refits on folds and the
    baselines all come through here. A fit on rows lacking a class (a small time-ordered
    fold, say) knows fewer classes: its probability columns are placed by class and the
    missing classes get 0.

    Raises
    ------
    PredictionError
        An output a predictions file could not hold: wrong shape, non-finite values,
        probabilities outside [0, 1] or not summing to 1. Whatever ``predict`` itself raises
        propagates unchanged.
    """
    if task != "regression" and _labels_are_argmax(estimator):
        return _predictions_from_proba(estimator, X, classes)
    y_pred = np.asarray(estimator.predict(X))
    if y_pred.ndim != 1 or y_pred.shape[0] != X.shape[0]:
        raise PredictionError(
            f"returned predictions of shape {y_pred.shape} for {X.shape[0]} rows; "
            "expected one prediction per row."
        )
    if task == "regression":
        values = pd.to_numeric(pd.Series(y_pred), errors="coerce").to_numpy(dtype=float)
        if not np.isfinite(values).all():
            raise PredictionError(
                f"returned {int((~np.isfinite(values)).sum())} missing, infinite or "
                "non-numeric predictions. A regression model must predict a finite number per row."
            )
        return Predictions(y_pred=values)
    if not hasattr(estimator, "predict_proba"):
        return Predictions(y_pred=y_pred)
    proba = _aligned(_probabilities(estimator, X, classes), estimator, classes)
    return Predictions(y_pred=y_pred, proba=proba)


# Classifiers whose ``predict`` is, in scikit-learn's own code, the class of highest
# probability (binary: probability above one half): for them the labels are read from
# ``predict_proba`` instead of running the model (and a pipeline's transforms) twice.
# Exact types only: a subclass may override ``predict``.
_ARGMAX_CLASSIFIERS = frozenset(
    {
        (
            "sklearn.ensemble._hist_gradient_boosting.gradient_boosting",
            "HistGradientBoostingClassifier",
        ),
        ("sklearn.ensemble._forest", "RandomForestClassifier"),
        ("sklearn.ensemble._forest", "ExtraTreesClassifier"),
        ("sklearn.tree._classes", "DecisionTreeClassifier"),
        ("sklearn.tree._classes", "ExtraTreeClassifier"),
    }
)


def _labels_are_argmax(estimator: Any) -> bool:
    kind = type(estimator)
    if (kind.__module__, kind.__name__) == ("sklearn.pipeline", "Pipeline"):
        estimator = estimator.steps[-1][1]
        kind = type(estimator)
    return (kind.__module__, kind.__name__) in _ARGMAX_CLASSIFIERS and hasattr(
        estimator, "classes_"
    )


def _predictions_from_proba(estimator: Any, X: pd.DataFrame, classes: tuple) -> Predictions:
    proba = _probabilities(estimator, X, classes)
    fitted = np.asarray(estimator.classes_)
    # Binary as scikit-learn: above one half (a tie is the first class), else the largest.
    winner = (proba[:, 1] > 0.5).astype(np.intp) if len(fitted) == 2 else np.argmax(proba, axis=1)
    return Predictions(y_pred=fitted[winner], proba=_aligned(proba, estimator, classes))


def _probabilities(estimator: Any, X: pd.DataFrame, classes: tuple) -> np.ndarray:
    """``predict_proba``'s output, validated, in the estimator's own class order."""
    raw = np.asarray(estimator.predict_proba(X), dtype=float)
    fitted = getattr(estimator, "classes_", None)
    width = len(classes) if fitted is None else len(fitted)
    if raw.shape != (X.shape[0], width):
        raise PredictionError(
            f"predict_proba returned shape {raw.shape}; expected ({X.shape[0]}, {width})."
        )
    check_probabilities(raw)
    return raw


def _aligned(raw: np.ndarray, estimator: Any, classes: tuple) -> np.ndarray:
    fitted = getattr(estimator, "classes_", None)
    if fitted is None:
        return raw
    proba = np.zeros((raw.shape[0], len(classes)))
    proba[:, _class_columns(fitted, classes)] = raw
    return proba


def check_probabilities(proba: np.ndarray, who: str = "predict_proba") -> None:
    """Rows of class probabilities: finite, within [0, 1], summing to 1 (``who`` gave them)."""
    outside = ~np.isfinite(proba) | (proba < -1e-9) | (proba > 1 + 1e-9)
    if outside.any():
        row, column = (int(i) for i in np.argwhere(outside)[0])
        raise PredictionError(
            f"{who} returned {proba[row, column]:.4g} on row {row}; probabilities must "
            "be finite and within [0, 1]. Check the model's output or pass a predictions file."
        )
    sums = proba.sum(axis=1)
    if not np.allclose(sums, 1.0, atol=1e-3):
        worst = int(np.argmax(np.abs(sums - 1)))
        raise PredictionError(
            f"{who} returned probabilities that sum to {sums[worst]:.4g} on row "
            f"{worst}; each row must sum to 1."
        )


def _fit_and_predict(
    estimator: Any,
    X_fit: pd.DataFrame,
    y_fit: pd.Series,
    X_valid: pd.DataFrame,
    fold: int,
    task: str,
    classes: tuple,
    in_sample: np.ndarray | None,
) -> FoldFit:
    """Fit one clone and predict; may run in a worker process. Never raises for the model.

    ``in_sample``: positions within ``X_fit`` of the fitting rows to predict as well (the
    in-sample score), or None.
    """
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            estimator.fit(X_fit, y_fit)
            fit_time = time.perf_counter() - started
            valid_pred = predict_frame(estimator, X_valid, task, classes)
            train_pred = (
                None
                if in_sample is None
                else predict_frame(estimator, X_fit.iloc[in_sample], task, classes)
            )
        except Exception as exc:  # noqa: BLE001 - a failing fit is a result (error_score=nan)
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            return FoldFit(
                fold=fold,
                fit_time_s=time.perf_counter() - started,
                valid=None,
                error=f"{type(exc).__name__}: {message}" if message else type(exc).__name__,
                warnings=_warning_texts(caught),
            )
    return FoldFit(
        fold=fold,
        fit_time_s=fit_time,
        valid=valid_pred,
        train=train_pred,
        warnings=_warning_texts(caught),
    )


def _warning_texts(caught: list[warnings.WarningMessage]) -> tuple[str, ...]:
    texts = dict.fromkeys(
        f"{w.category.__name__}: {str(w.message).strip().splitlines()[0]}"
        for w in caught
        if str(w.message).strip()
    )
    return tuple(texts)[:_MAX_WARNINGS]


def cross_fit(
    ctx: AuditContext,
    name: str,
    estimator: Any,
    features: tuple[str, ...],
    folds: Folds,
    *,
    with_train: bool = False,
) -> CrossValidation:
    """Fit a clone of ``estimator`` on each fold, in parallel (``ctx.n_jobs`` processes).

    ``estimator`` may be fitted or not: only its parameters are used (``sklearn.clone``).
    """
    from sklearn.base import clone
    from sklearn.utils.parallel import Parallel, delayed

    frame, source = training_frame(ctx)
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise NotApplicable(
            f"the {source} data lacks columns {preview(missing)} that {name} takes, so it "
            "cannot be refitted"
        )
    X = frame[list(features)]
    y = frame[ctx.target]
    seed = _refit_seed(ctx)
    sampler = rng_for(ctx.evaluation.seed, "evaluation.in_sample")
    samples = [
        _in_sample_positions(len(train), sampler) if with_train else None for train in folds.train
    ]
    jobs = (
        delayed(_fit_and_predict)(
            _with_fixed_seeds(clone(estimator), seed),
            X.iloc[train],
            y.iloc[train],
            X.iloc[valid],
            i,
            ctx.task,
            ctx.classes,
            samples[i],
        )
        for i, (train, valid) in enumerate(zip(folds.train, folds.valid, strict=True))
    )
    step(f"refitting {name} on {folds.n_folds} folds of {len(X):,} rows")
    fits = Parallel(n_jobs=ctx.n_jobs)(jobs)
    fits = [
        fit if samples[i] is None else replace(fit, train_rows=folds.train[i][samples[i]])
        for i, fit in enumerate(fits)
    ]
    return CrossValidation(name=name, folds=folds, fits=tuple(fits))


def _in_sample_positions(n_fit: int, rng: np.random.Generator) -> np.ndarray:
    """Positions of the fitting rows whose in-sample predictions are scored (all, or a sample)."""
    if n_fit <= MAX_IN_SAMPLE_ROWS:
        return np.arange(n_fit)
    return np.sort(rng.choice(n_fit, MAX_IN_SAMPLE_ROWS, replace=False))


def _refit_seed(ctx: AuditContext) -> int:
    return int(rng_for(ctx.evaluation.seed, "evaluation.refit").integers(2**31 - 1))


def model_cv(ctx: AuditContext) -> CrossValidation:
    """Cross-validated refits of ``ctx.model`` (memoized; shared by every check).

    Each fold records validation predictions and training-fold predictions (for the
    overfitting gap).

    Raises
    ------
    AllFitsFailedError
        Every fit failed; the message names the most frequent error.
    """
    folds = cv_folds(ctx)
    cv = ctx.memoized(
        "cv:model",
        lambda: cross_fit(ctx, "the model", ctx.model, ctx.model_features, folds, with_train=True),
    )
    if cv.n_failed == len(cv.fits):
        error, count = cv.failure_groups()[0]
        raise AllFitsFailedError(
            f"All {len(cv.fits)} cross-validation fits of the model failed; the model is very "
            f"likely misconfigured. {count} fits raised {error}"
        )
    return cv


# --- scores --------------------------------------------------------------------------------


def cv_metrics(ctx: AuditContext, has_proba: bool) -> tuple[MetricSpec, ...]:
    """The metrics reported on every fold, chosen once from the whole training target.

    The same rule as ``metrics.metrics_for``: the task's metrics, those needing
    probabilities only when there are some, MAPE only without zero targets.
    """
    frame, _ = training_frame(ctx)
    chosen = [m for m in METRICS if ctx.task in m.tasks and (has_proba or not m.needs_proba)]
    if ctx.task == "regression" and (frame[ctx.target].to_numpy(dtype=float) == 0).any():
        chosen = [m for m in chosen if m.key != "mean_absolute_percentage_error"]
    return tuple(chosen)


def has_proba(cv: CrossValidation) -> bool:
    """Whether the fits gave class probabilities (every successful fit does, or none)."""
    return any(f.valid is not None and f.valid.proba is not None for f in cv.fits)


def cv_primary_metric(ctx: AuditContext, cv: CrossValidation) -> MetricSpec:
    """The headline metric of the refits: as ``metrics.primary_metric`` for the holdout."""
    return METRICS_BY_KEY[primary_metric_key(ctx.task, has_proba(cv))]


def fold_scores(
    ctx: AuditContext,
    cv: CrossValidation,
    metrics: tuple[MetricSpec, ...],
    *,
    part: str = "valid",
) -> np.ndarray:
    """Scores (n_folds, n_metrics) on each fold's validation (or fitting) rows; NaN if failed.

    Computed with ``auditor.metrics`` on ``ctx.eval_data``, so keys and definitions are the
    holdout metrics' exactly; weighted by the rows' sample weights when there are some.
    """
    frame, _ = training_frame(ctx)
    y = frame[ctx.target]
    weights = ctx.weights_of(frame)
    out = np.full((len(cv.fits), len(metrics)), np.nan)
    for i, fit in enumerate(cv.fits):
        predictions = fit.valid if part == "valid" else fit.train
        if predictions is None:
            continue
        if part == "valid":
            rows = cv.folds.valid[i]
        else:
            rows = cv.folds.train[i] if fit.train_rows is None else fit.train_rows
        data = ctx.eval_data(y.iloc[rows], predictions)
        point = np.ones((1, data.n)) if weights is None else weights[rows][None, :]
        for j, metric in enumerate(metrics):
            if metric.needs_proba and data.proba is None:
                continue
            out[i, j] = float(metric.weighted(data, point)[0])
    return out


# --- the test rows: one set of bootstrap resamples -----------------------------------------

# The stream of the test-row resamples: every statistic of the test rows is bootstrapped on
# the same resamples, so a model's score and a baseline's are paired row for row, and a
# metric has one interval wherever the report prints it.
HOLDOUT_STREAM = "evaluation.holdout_bootstrap"
# 16M cells: 128 MB of float64 resample counts at most are kept for the whole audit.
_KEPT_RESAMPLE_CELLS = 2**24


# Below this many (effective) test rows a bootstrap interval is too rough to print unqualified.
MIN_BOOTSTRAP_ROWS = 30


@dataclass(frozen=True, slots=True)
class HoldoutScore:
    """A metric on the test rows, its bootstrap replicates and how its interval is taken.

    ``trials`` is set for a proportion of rows (accuracy, precision, recall): the
    (effective) number of rows it is a share of. Its interval is then Wilson's score
    interval, which keeps its coverage at 0 and 1 and at small n, where a percentile
    bootstrap collapses to a point (54 of 54 right: [0.934, 1.000], not [1.000, 1.000]).
    The replicates still serve paired comparisons. ``rows`` is the effective test size.
    """

    value: float
    replicates: np.ndarray
    trials: float | None = None
    rows: float | None = None

    def interval(self, level: float = 0.95) -> tuple[float | None, float | None]:
        """The interval, or (None, None) when none describes the metric (see ``caveat``)."""
        from auditor.stats.bootstrap import percentile_interval
        from auditor.stats.intervals import wilson_interval

        if self.trials is not None:
            if self.trials <= 0 or not np.isfinite(self.value):
                return None, None
            low, high = wilson_interval(self.value * self.trials, self.trials, level)
            return float(low), float(high)
        low, high = percentile_interval(self.replicates, level)
        if low is None or _collapsed(low, high, self.value):
            return None, None
        return low, high

    @property
    def method(self) -> str:
        return "Wilson score interval" if self.trials is not None else "percentile bootstrap"

    def caveat(self, level: float = 0.95) -> str | None:
        """Why the interval is missing or rough, as a clause; None when it can be read as is."""
        if self.trials is not None:
            if self.trials > 0:
                return None
            return "it is a share of no row here (none in its denominator): no interval is given"
        low, _ = self.interval(level)
        if low is None:
            finite = self.replicates[np.isfinite(self.replicates)]
            if finite.size >= 0.95 * self.replicates.size and _collapsed(
                finite.min(), finite.max(), self.value
            ):
                return (
                    f"every bootstrap resample gives {finite[0]:.3f}, so the bootstrap cannot "
                    "say how far the true value may be: no interval is given"
                )
            return "it is undefined on too many bootstrap resamples to give an interval"
        if self.rows is not None and self.rows < MIN_BOOTSTRAP_ROWS:
            return (
                f"the bootstrap interval rests on {self.rows:,.0f} test rows, too few for its "
                "stated coverage: read it as a rough range"
            )
        return None


def _collapsed(low: float, high: float, value: float) -> bool:
    """An interval of no width, up to the rounding that weighted sums leave (1e-16 apart)."""
    return high - low <= 1e-9 * max(1.0, abs(value))


def holdout_bootstrap(ctx: AuditContext, statistics: dict[str, Any]) -> dict[str, np.ndarray]:
    """Replicates of weighted statistics of the test rows, on the audit's resamples.

    Every call draws the same ``[evaluation] bootstrap_resamples`` resamples (from
    ``(evaluation seed, HOLDOUT_STREAM)``), so replicates from separate calls are paired.
    With sample weights each resample's counts multiply the rows' weights.
    """
    from auditor.stats.bootstrap import resample_weights, statistics_on

    n, n_resamples = len(ctx.test), ctx.evaluation.bootstrap_resamples

    def draw():
        return resample_weights(n, n_resamples, rng_for(ctx.evaluation.seed, HOLDOUT_STREAM))

    # Drawing the resamples costs as much as a cheap metric on them: keep them for the next
    # caller when they fit in _KEPT_RESAMPLE_CELLS, draw them again otherwise.
    chunks = (
        ctx.memoized("holdout:resamples", lambda: list(draw()))
        if n * n_resamples <= _KEPT_RESAMPLE_CELLS
        else draw()
    )
    weights = ctx.test_weights
    if weights is not None:
        chunks = (counts * weights for counts in chunks)
    return statistics_on(statistics, chunks)


def point_weights(ctx: AuditContext) -> np.ndarray:
    """The (1, n) weights of a point estimate on the test rows: their sample weights, or ones."""
    weights = ctx.test_weights
    return np.ones((1, len(ctx.test))) if weights is None else weights[None, :]


def score_on_test_rows(
    ctx: AuditContext,
    statistics: dict[str, Any],
    shares_of: dict[str, np.ndarray] | None = None,
) -> dict[str, HoldoutScore]:
    """Each weighted statistic on the test rows, with its replicates on the audit's resamples.

    ``shares_of`` maps the keys of proportions to the rows they are a share of, so that
    their interval is a score interval on those rows' effective number.
    """
    from auditor.stats.intervals import effective_sample_size

    weights = ctx.test_weights
    point = point_weights(ctx)
    replicates = holdout_bootstrap(ctx, statistics)

    def trials(key: str) -> float | None:
        if shares_of is None or key not in shares_of:
            return None
        rows = shares_of[key]
        return effective_sample_size(
            None if weights is None else weights[rows], int(np.count_nonzero(rows))
        )

    rows = effective_sample_size(weights, len(ctx.test))
    return {
        key: HoldoutScore(float(statistic(point)[0]), replicates[key], trials(key), rows)
        for key, statistic in statistics.items()
    }


def _model_scores(ctx: AuditContext, metrics: tuple[MetricSpec, ...]) -> dict[str, HoldoutScore]:
    data = ctx.test_eval
    return score_on_test_rows(
        ctx,
        {m.key: partial(m.weighted, data) for m in metrics},
        {m.key: m.share_of(data) for m in metrics if m.share_of is not None},
    )


def model_holdout_scores(ctx: AuditContext) -> dict[str, HoldoutScore]:
    """Every metric that applies to the model's test predictions, bootstrapped once (memoized).

    Holdout metrics, overfitting and the baseline comparison read their model scores here.
    """
    from auditor.metrics import metrics_for

    return ctx.memoized("holdout:model", lambda: _model_scores(ctx, metrics_for(ctx.test_eval)))


def model_holdout(ctx: AuditContext, metric: MetricSpec) -> HoldoutScore:
    """The model's ``metric`` on the test rows with its replicates on the shared resamples."""
    scores = model_holdout_scores(ctx)
    if metric.key in scores:
        return scores[metric.key]

    def compute() -> HoldoutScore:
        return _model_scores(ctx, (metric,))[metric.key]

    # A metric the task's list leaves out (asked for by a check's parameter): the same
    # resamples, so it stays paired with everything else.
    return ctx.memoized(f"holdout:model:{metric.key}", compute)


# --- fits on the whole training data ---------------------------------------------------------


def fit_on_train(
    ctx: AuditContext, name: str, estimator: Any, features: tuple[str, ...]
) -> FoldFit:
    """Fit a clone of ``estimator`` on the training rows and predict the test rows (memoized).

    Returns a ``FoldFit`` (fold -1) holding the test predictions or the error.
    """
    if ctx.train is None:
        raise RuntimeError("fit_on_train needs training data; check ctx.train first")

    def compute() -> FoldFit:
        from sklearn.base import clone

        seed = _refit_seed(ctx)
        step(f"refitting {name} on {len(ctx.train):,} training rows")
        return _fit_and_predict(
            _with_fixed_seeds(clone(estimator), seed),
            ctx.train[list(features)],
            ctx.train[ctx.target],
            ctx.test[list(features)],
            -1,
            ctx.task,
            ctx.classes,
            None,
        )

    return ctx.memoized(f"holdout:{name}", compute)
