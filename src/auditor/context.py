"""The audit context: validated inputs, the task, column roles and predictions computed once.

Building the context is where every input problem surfaces, as one ``InputError`` line,
before any check runs. Checks receive the context read-only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from auditor.engine.time import TimeReading, read_time
from auditor.errors import InputError, preview
from auditor.metrics import EvalData
from auditor.roles import ColumnRoles
from auditor.spec import DecisionSettings, EvaluationSettings

T = TypeVar("T")

# An integer-valued target with at most this many distinct values is read as classes.
_MAX_CLASSES_FOR_INTEGER_TARGET = 10


@dataclass(frozen=True, slots=True)
class Predictions:
    """Model outputs for the test rows: labels or values, and class probabilities."""

    y_pred: np.ndarray
    proba: np.ndarray | None = None


@dataclass(frozen=True, slots=True)
class Challenger:
    """A model compared with the candidate (``--challenger``), loaded and predicted once."""

    name: str
    estimator: Any
    features: tuple[str, ...]
    predictions: Predictions


@dataclass(frozen=True)
class AuditContext:
    """Read-only inputs shared by every check.

    Attributes
    ----------
    train, test : DataFrame or None
        The splits with the target rows that have a label; index reset.
    task : {"binary", "multiclass", "regression"}
    classes : tuple
        Class labels in the model's order (empty for regression).
    positive : int
        Index into ``classes`` of the positive class (binary).
    evaluation : EvaluationSettings
        Folds, repeats, bootstrap resamples and their seed (resolved: never None), the
        same for every check so that refits and resamples are shared by construction.
    decision : DecisionSettings or None
        The costs and limits of ``[decision]``, or None when none were declared.
    predictions : Predictions or None
        Test-set predictions, from the model (computed once) or from a predictions file.
    baseline_model : estimator or None
        The user's fitted baseline model (``--baseline-model``), with the columns it takes
        (``baseline_features``) and its test-set predictions (``baseline_predictions``);
        ``baseline_name`` names it in reports (its file's stem, or its type).
    challengers : tuple of Challenger
        Other candidate models (``--challenger``), each with its test-set predictions.
    """

    test: pd.DataFrame
    target: str
    task: str
    roles: ColumnRoles
    train: pd.DataFrame | None = None
    model: Any = None
    predictions: Predictions | None = None
    classes: tuple = ()
    positive: int = 1
    seed: int = 0
    evaluation: EvaluationSettings = EvaluationSettings(seed=0)
    decision: DecisionSettings | None = None
    n_jobs: int = 1
    model_features: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    baseline_model: Any = None
    baseline_features: tuple[str, ...] = ()
    baseline_predictions: Predictions | None = None
    baseline_name: str = ""
    challengers: tuple[Challenger, ...] = ()
    schema: Any = None  # the declared pandera DataFrameSchema (--schema), or None
    # --engine dask: statistics of every row (engine.partitioned.run.AllRows) while the
    # frames above hold a seeded sample; None for the in-memory engine.
    all_rows: Any = None
    _memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        # How the declared time column is read is an assumption of the audit, like the
        # task: decided here, once, and recorded in the notes when day and month were
        # ambiguous (the manifest's notes are these notes).
        column = self.roles.time
        if column is None or any(
            frame is not None and column not in frame for frame in (self.train, self.test)
        ):
            return
        note = self.time_reading(column).note
        if note is not None and note not in self.notes:
            object.__setattr__(self, "notes", (*self.notes, note))

    def memoized(self, key: str, compute: Callable[[], T]) -> T:
        """Compute a shared intermediate once per audit (CV folds, refits, baseline fits).

        Checks that need the same expensive result (cross-validated predictions for the
        model and for the baselines, say) call this with the same key.
        """
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def time_reading(self, column: str) -> TimeReading:
        """``column`` read as time in train and test with one decision (memoized).

        The cross-validation folds, the temporal checks and the drift checks all read the
        time column here, so they order the same rows the same way.
        """

        def read() -> TimeReading:
            parts = {
                name: frame[column]
                for name, frame in (("train", self.train), ("test", self.test))
                if frame is not None
            }
            return read_time(column, parts)

        return self.memoized(f"time:{column}", read)

    @property
    def available(self) -> frozenset[str]:
        """The inputs present: what a check's ``needs`` are compared against."""
        have = {"test"}
        if self.train is not None:
            have.add("train")
        if self.model is not None:
            have.add("model")
        if self.predictions is not None:
            have.add("predictions")
            if self.predictions.proba is not None:
                have.add("proba")
        if self.roles.group is not None:
            have.add("group_column")
        if self.roles.time is not None:
            have.add("time_column")
        if self.roles.sensitive:
            have.add("sensitive")
        return frozenset(have)

    @cached_property
    def test_weights(self) -> np.ndarray | None:
        """Sample weights of the test rows (``--weight-column``), or None when unweighted."""
        return self.weights_of(self.test)

    @cached_property
    def train_weights(self) -> np.ndarray | None:
        """Sample weights of the training rows, or None when unweighted or without train."""
        return None if self.train is None else self.weights_of(self.train)

    def weights_of(self, frame: pd.DataFrame) -> np.ndarray | None:
        """The weight column of ``frame`` as floats (validated on load), or None without one."""
        if self.roles.weight is None or self.roles.weight not in frame.columns:
            return None
        return frame[self.roles.weight].to_numpy(dtype=float)

    @property
    def positive_class(self) -> Any:
        return self.classes[self.positive] if self.task == "binary" else None

    @cached_property
    def test_eval(self) -> EvalData:
        """Test targets and predictions encoded for the metrics."""
        if self.predictions is None:
            raise RuntimeError(
                "test_eval needs predictions; declare 'predictions' in the check's needs"
            )
        return self.eval_data(self.test[self.target], self.predictions)

    def eval_data(self, y: pd.Series, predictions: Predictions) -> EvalData:
        """Encode targets and predictions of any rows (test, train, a fold) for the metrics."""
        if self.task == "regression":
            return EvalData(
                "regression",
                y.to_numpy(dtype=float),
                np.asarray(predictions.y_pred, dtype=float),
            )
        return EvalData(
            self.task,
            encode_labels(y, self.classes, source=f"target {self.target!r}"),
            encode_labels(pd.Series(predictions.y_pred), self.classes, source="the predictions"),
            predictions.proba,
            self.classes,
            self.positive,
        )

    def features_for_model(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The columns of ``frame`` the model was fitted on, in its order."""
        return frame[list(self.model_features)]


def encode_labels(values: pd.Series, classes: tuple, *, source: str) -> np.ndarray:
    """Map labels to indices into ``classes``; labels match by value, or by text as a fallback.

    The text fallback lets a CSV's ``1`` match a model class ``'1'`` (or the reverse).
    """
    index = pd.Index(classes)
    codes = index.get_indexer(values)
    if (codes < 0).any():
        text_codes = pd.Index([str(c) for c in classes]).get_indexer(values.astype(str))
        codes = np.where(codes < 0, text_codes, codes)
    if (codes < 0).any():
        unknown = pd.unique(values[codes < 0])
        raise InputError(
            f"{source} has labels {preview(unknown)} that are not among the classes "
            f"{preview(classes)}. Check that the model was trained for this target."
        )
    return codes.astype(np.intp)


def detect_task(
    y: pd.Series, *, model: Any = None, has_proba_columns: bool = False
) -> tuple[str, str]:
    """Infer the task from the model and the target; return (task, reason)."""
    if model is not None and hasattr(model, "classes_"):
        n_classes = len(model.classes_)
        return ("binary" if n_classes == 2 else "multiclass"), f"the model has {n_classes} classes"
    if model is not None and getattr(model, "_estimator_type", None) == "regressor":
        return "regression", "the model is a regressor"
    values = y.dropna()
    n_unique = values.nunique()
    if (
        has_proba_columns
        or not pd.api.types.is_numeric_dtype(values)
        or pd.api.types.is_bool_dtype(values)
    ):
        reason = (
            "the predictions have class probabilities"
            if has_proba_columns
            else "the target is not numeric"
        )
        return ("binary" if n_unique <= 2 else "multiclass"), reason
    integer_valued = bool(np.all(np.mod(values.to_numpy(dtype=float), 1) == 0))
    if integer_valued and n_unique <= _MAX_CLASSES_FOR_INTEGER_TARGET:
        return (
            "binary" if n_unique <= 2 else "multiclass",
            f"the target holds {n_unique} distinct whole numbers",
        )
    return "regression", "the target is numeric with many distinct values"


def sorted_labels(values: pd.Series) -> tuple:
    """Distinct labels in scikit-learn's order (sorted), as Python scalars."""
    unique = pd.unique(values.dropna())
    try:
        ordered = sorted(unique)
    except TypeError:
        ordered = sorted(unique, key=str)
    return tuple(v.item() if hasattr(v, "item") else v for v in ordered)
