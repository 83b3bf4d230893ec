"""Turn an AuditSpec (paths) or in-memory objects into a validated AuditContext.

Every input problem is raised here as one ``InputError`` line, before any check runs and
before anything is written.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from auditor.context import (
    AuditContext,
    Challenger,
    Predictions,
    detect_task,
    encode_labels,
    sorted_labels,
)
from auditor.errors import InputError, preview
from auditor.evaluation import PredictionError, check_probabilities, predict_frame
from auditor.io.files import sha256_of
from auditor.io.models import load_model
from auditor.io.tables import from_user_frame, nested_columns_as_text, read_table
from auditor.progress import size_text, step
from auditor.result import InputFile
from auditor.roles import ColumnRoles, resolve_roles
from auditor.schemas import read_schema
from auditor.spec import AuditSpec

PROBA_PREFIX = "proba_"


@dataclass(frozen=True, slots=True)
class LoadedInputs:
    context: AuditContext
    files: tuple[InputFile, ...]
    durations: dict[str, float]


def load_inputs(
    spec: AuditSpec,
    *,
    train: Any = None,
    test: Any = None,
    model: Any = None,
    predictions: Any = None,
    baseline_model: Any = None,
    challengers: Sequence[Any] | None = None,
) -> LoadedInputs:
    """Load and validate everything the audit needs.

    Objects passed as keywords (frames, a fitted estimator, a predictions frame) take the
    place of the spec's paths; the Python API uses them, the CLI passes paths.
    ``challengers`` replaces the spec's list; each item is a path or a fitted estimator.
    """
    started = time.perf_counter()
    files: list[InputFile] = []
    notes: list[str] = []
    test_source = test if test is not None else spec.test
    if test_source is None:
        raise InputError(
            "No test data was given. Pass --test PATH (the rows to evaluate the model on)."
        )
    if spec.target is None:
        raise InputError(
            "No target column was given. Pass --target COLUMN (the label the model predicts)."
        )
    schema = None if spec.schema is None else read_schema(spec.schema, source="--schema")
    test_df = _table(test_source, "test", "--test", files, notes)
    train_source = train if train is not None else spec.train
    train_df = (
        None if train_source is None else _table(train_source, "train", "--train", files, notes)
    )
    frames = {"test": test_df} if train_df is None else {"train": train_df, "test": test_df}
    for name, frame in frames.items():
        if spec.target not in frame.columns:
            raise InputError(
                f"--target {spec.target!r} is not a column of the {name} data; columns are "
                f"{preview(frame.columns)}. Pass one of them to --target."
            )
    loaded_at = time.perf_counter()

    model_obj = model
    if model_obj is None and spec.model is not None:
        step(f"loading the model {Path(spec.model).name}")
        model_obj = load_model(spec.model, trust_model=spec.trust_model, notes=notes)
        files.append(_file_input("model", Path(spec.model), None, None))
    elif model_obj is not None and not callable(getattr(model_obj, "predict", None)):
        raise InputError(
            f"model must be a fitted estimator with a predict method; got {type(model_obj).__name__}."
        )
    predictions_source = predictions if predictions is not None else spec.predictions
    if model_obj is not None and predictions_source is not None:
        raise InputError("Both a model and predictions were given. Pass one of them, not both.")
    pred_df = None
    if predictions_source is not None:
        pred_df = _table(predictions_source, "predictions", "--predictions", files, notes)
    loading = {"trust_model": spec.trust_model, "files": files, "notes": notes}
    baseline_source = baseline_model if baseline_model is not None else spec.baseline_model
    baseline_obj = _user_model(
        baseline_source,
        flag="--baseline-model",
        keyword="baseline_model",
        role="baseline_model",
        **loading,
    )
    challenger_objs = {
        name: _user_model(
            source, flag="--challenger", keyword=f"challengers[{i}]", role="challenger", **loading
        )
        for i, (name, source) in enumerate(
            _challenger_sources(challengers if challengers is not None else spec.challengers)
        )
    }
    model_loaded_at = time.perf_counter()

    if pred_df is not None:
        # Align with the test file as given, then drop the same unlabelled rows from both.
        pred_df = _aligned_prediction_rows(pred_df, test_df, spec)
        pred_df = pred_df.loc[test_df[spec.target].notna().to_numpy()].reset_index(drop=True)
    test_df = _drop_missing_target(test_df, spec.target, "test", notes)
    if train_df is not None:
        train_df = _drop_missing_target(train_df, spec.target, "train", notes)
    frames = {"test": test_df} if train_df is None else {"train": train_df, "test": test_df}

    has_proba_columns = pred_df is not None and any(
        str(c).startswith(PROBA_PREFIX) for c in pred_df.columns
    )
    labelled = (
        test_df[spec.target]
        if train_df is None
        else pd.concat([train_df[spec.target], test_df[spec.target]])
    )
    if spec.task is not None:
        task, reason = spec.task, "declared with --task"
    else:
        task, reason = detect_task(labelled, model=model_obj, has_proba_columns=has_proba_columns)
    notes.append(f"Task: {task} ({reason}).")

    roles = resolve_roles(spec.columns, frames, spec.target)
    if roles.weight is not None:
        for name, frame in frames.items():
            if roles.weight in frame.columns:
                check_weights(frame[roles.weight], name)
        unweighted_train = train_df is not None and roles.weight not in train_df.columns
        notes.append(
            f"Metrics, intervals and rates are weighted by column {roles.weight!r}"
            + (
                "; the training data has no such column, so cross-validation scores are not."
                if unweighted_train
                else "."
            )
        )
    classes: tuple = ()
    positive = 1
    if task != "regression":
        classes = _classes(model_obj, labelled, task, spec.target)
        positive = _positive_index(classes, spec.positive_class, task)
        for name, frame in frames.items():
            encode_labels(frame[spec.target], classes, source=f"the {name} target {spec.target!r}")
            if frame[spec.target].nunique() < 2:
                raise InputError(
                    f"The {name} target {spec.target!r} has a single class "
                    f"({_plain_scalar(frame[spec.target].iloc[0])!r}); classification metrics need at least two. "
                    "Check the target column and the row filter that produced the file."
                )
        if task == "binary":
            notes.append(
                f"Positive class: {classes[positive]!r} (set positive_class to change it)."
            )
    elif not pd.api.types.is_numeric_dtype(test_df[spec.target]):
        raise InputError(
            f"--target {spec.target!r} is not numeric, so it cannot be a regression target. "
            "Pass --task binary or --task multiclass, or choose a numeric target."
        )

    model_features: tuple[str, ...] = ()
    preds = None
    if model_obj is not None:
        model_features = _model_features(model_obj, test_df, spec.target, roles)
        step(f"predicting {len(test_df):,} test rows")
        preds = predict(
            model_obj, test_df[list(model_features)], task=task, classes=classes, source="test"
        )
    elif pred_df is not None:
        preds = _predictions_from_rows(pred_df, spec, task, classes)
    baseline_features: tuple[str, ...] = ()
    baseline_preds = None
    compared = {"test": test_df, "target": spec.target, "roles": roles, "task": task}
    if baseline_obj is not None:
        baseline_features, baseline_preds = _compared_model_predictions(
            baseline_obj, source="test (baseline model)", classes=classes, **compared
        )
    challenger_models = tuple(
        Challenger(
            name,
            estimator,
            *_compared_model_predictions(
                estimator, source=f"test (challenger {name!r})", classes=classes, **compared
            ),
        )
        for name, estimator in challenger_objs.items()
    )
    predicted_at = time.perf_counter()

    context = AuditContext(
        test=test_df,
        train=train_df,
        target=spec.target,
        task=task,
        roles=roles,
        model=model_obj,
        predictions=preds,
        classes=classes,
        positive=positive,
        seed=spec.seed,
        evaluation=replace(spec.evaluation, seed=spec.evaluation_seed),
        decision=spec.decision,
        n_jobs=spec.n_jobs,
        model_features=model_features,
        notes=tuple(notes),
        schema=schema,
        baseline_model=baseline_obj,
        baseline_features=baseline_features,
        baseline_predictions=baseline_preds,
        baseline_name="" if baseline_obj is None else _model_name(baseline_source),
        challengers=challenger_models,
    )
    durations = {
        "load_data_s": loaded_at - started,
        "load_model_s": model_loaded_at - loaded_at,
        "predict_s": predicted_at - model_loaded_at,
    }
    return LoadedInputs(context, tuple(files), durations)


def _user_model(
    source: Any,
    *,
    flag: str,
    keyword: str,
    role: str,
    trust_model: bool,
    files: list[InputFile],
    notes: list[str],
) -> Any:
    """A model the candidate is compared with (--baseline-model, --challenger).

    A path is loaded under the same trust policy as --model (skops; pickle only with
    --trust-model) and recorded as an input with ``role``; an object from the API must be a
    fitted estimator. ``flag`` and ``keyword`` name the source in errors.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        loaded = load_model(path, trust_model=trust_model, source=flag, notes=notes)
        files.append(_file_input(role, path, None, None))
        return loaded
    if source is not None and not callable(getattr(source, "predict", None)):
        raise InputError(
            f"{keyword} must be a fitted estimator with a predict method; "
            f"got {type(source).__name__}."
        )
    return source


def _model_name(source: Any) -> str:
    """How reports name a compared model: its file's stem (``prod`` for prod.skops; the
    suffix adds nothing and breaks figure labels), or its estimator's type."""
    return Path(source).stem if isinstance(source, (str, Path)) else type(source).__name__


def _challenger_sources(sources: Sequence[Any]) -> list[tuple[str, Any]]:
    """(name, path or estimator) per challenger.

    Names label the report's rows, so an estimator given in memory is numbered, and two
    files of one name (in different folders) are told apart by their position.
    """
    named = []
    for i, source in enumerate(sources):
        name = _model_name(source)
        if not isinstance(source, (str, Path)):
            name = f"challenger {i + 1} ({name})"
        taken = [n for n, _ in named]
        named.append((f"{name} (#{i + 1})" if name in taken else name, source))
    return named


def _compared_model_predictions(
    model: Any,
    *,
    test: pd.DataFrame,
    target: str,
    roles: ColumnRoles,
    task: str,
    classes: tuple,
    source: str,
) -> tuple[tuple[str, ...], Predictions]:
    """The columns a compared model takes and its predictions for the test rows."""
    features = _model_features(model, test, target, roles)
    return features, predict(model, test[list(features)], task=task, classes=classes, source=source)


def _plain_scalar(value: Any) -> Any:
    """A numpy scalar as the Python value it holds, so messages read ``1``, not ``np.int64(1)``."""
    return value.item() if hasattr(value, "item") else value


def _table(
    source: Any, role: str, flag: str, files: list[InputFile], notes: list[str]
) -> pd.DataFrame:
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_file():
            step(f"reading {path.name} ({size_text(path.stat().st_size)})")
        frame = read_table(source, source=flag)
        files.append(_file_input(role, Path(source), *frame.shape))
    else:
        frame = from_user_frame(source, source=f"{role} frame")
        digest = hashlib.sha256(
            pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()
        ).hexdigest()
        files.append(InputFile(role, f"<{role} DataFrame>", frame.shape[0], frame.shape[1], digest))
    frame, nested = nested_columns_as_text(frame)
    if nested:
        notes.append(
            f"The {role} columns {preview(nested)} hold lists or records; the checks read "
            "them as JSON text."
        )
    return frame


def _file_input(role: str, path: Path, rows: int | None, columns: int | None) -> InputFile:
    return InputFile(role, path.name, rows, columns, sha256_of(path))


def _drop_missing_target(
    frame: pd.DataFrame, target: str, name: str, notes: list[str]
) -> pd.DataFrame:
    missing = frame[target].isna()
    if missing.all():
        raise InputError(
            f"Every row of the {name} data has a missing target {target!r}. Pass labelled data."
        )
    if missing.any():
        notes.append(
            f"{int(missing.sum())} {name} rows with a missing target were left out of the audit."
        )
        return frame.loc[~missing].reset_index(drop=True)
    return frame


def _classes(model: Any, labelled: pd.Series, task: str, target: str) -> tuple:
    if model is not None and hasattr(model, "classes_"):
        return tuple(_plain_scalar(c) for c in model.classes_)
    classes = sorted_labels(labelled)
    if task == "binary" and len(classes) > 2:
        raise InputError(
            f"--task binary was given but target {target!r} has {len(classes)} classes "
            f"({preview(classes)}). Pass --task multiclass."
        )
    return classes


def _positive_index(classes: tuple, positive_class: str | None, task: str) -> int:
    if task != "binary":
        return 1
    if positive_class is None:
        return 1  # scikit-learn's convention: the greater of the two sorted labels
    matches = [i for i, c in enumerate(classes) if str(c) == str(positive_class)]
    if not matches:
        raise InputError(
            f"positive_class {positive_class!r} is not one of the classes {preview(classes)}. "
            "Pass one of them."
        )
    return matches[0]


def check_weights(weights: pd.Series, split: str) -> None:
    """Sample weights must be numbers, present, finite and non-negative, not all zero."""
    column = weights.name
    fix = f"Fix the column or drop --weight-column {column!r}."
    if not pd.api.types.is_numeric_dtype(weights) or pd.api.types.is_bool_dtype(weights):
        raise InputError(
            f"--weight-column {column!r} in the {split} data holds {weights.dtype} values, "
            f"not numbers. {fix}"
        )
    values = weights.to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"--weight-column {column!r} has {int(bad.sum()):,} missing, infinite or negative "
            f"values in the {split} data (first at row {row}: {values[row]!r}); weights must be "
            f"finite and non-negative. {fix}"
        )
    if values.sum() <= 0:
        raise InputError(f"--weight-column {column!r} is zero on every {split} row. {fix}")


def _model_features(
    model: Any, test: pd.DataFrame, target: str, roles: ColumnRoles
) -> tuple[str, ...]:
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        needed = [str(n) for n in names]
        missing = [n for n in needed if n not in test.columns]
        if missing:
            raise InputError(
                f"The model expects columns {preview(missing)} that the test data lacks. "
                "Pass the data the model was trained on, with the same column names."
            )
        if target in needed:
            raise InputError(
                f"The model takes the target {target!r} as an input feature. "
                "Refit it without the target column."
            )
        if roles.weight in needed:
            raise InputError(
                f"The model takes the weight column {roles.weight!r} as an input feature. "
                "Declare another --weight-column, or refit the model without it."
            )
        return tuple(needed)
    # Fitted on a bare array: every column but the target, identifiers and weights, in order.
    left_out = {target, *roles.id, roles.weight}
    candidates = tuple(c for c in test.columns if c not in left_out)
    expected = getattr(model, "n_features_in_", None)
    if expected is not None and expected != len(candidates):
        raise InputError(
            f"The model was fitted on {expected} features but the test data has {len(candidates)} "
            f"besides the target, id and weight columns ({preview(candidates)}). Pass matching "
            "data, or "
            "fit the model on a DataFrame so its feature names are known."
        )
    return candidates


def predict(model: Any, X: pd.DataFrame, *, task: str, classes: tuple, source: str) -> Predictions:
    """Predict labels (or values) and, for classifiers that can, class probabilities.

    The model is the user's code: anything it raises, and any output a predictions file
    could not hold (``evaluation.predict_frame`` checks it, as for every refit), is an
    InputError naming the model and the problem.
    """
    who = f"The model ({source} rows)"
    try:
        predictions = predict_frame(model, X, task, classes)
    except PredictionError as exc:
        raise InputError(f"{who} {exc}") from None
    except Exception as exc:  # noqa: BLE001 - the user's model may raise anything
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"The model failed to predict on the {source} data ({type(exc).__name__}: {message[:300]}). "
            "Check that the columns and their types match what the model was trained on."
        ) from None
    if task != "regression":
        encode_labels(pd.Series(predictions.y_pred), classes, source=f"{who} predict")
    return predictions


def _predictions_name(spec: AuditSpec) -> str:
    return Path(spec.predictions).name if spec.predictions else "predictions"


def _aligned_prediction_rows(
    pred: pd.DataFrame, test: pd.DataFrame, spec: AuditSpec
) -> pd.DataFrame:
    """The predictions file's rows in test-row order: joined on --id-column or row for row."""
    name = _predictions_name(spec)
    if "prediction" not in pred.columns:
        raise InputError(
            f"{name!r} has no 'prediction' column; columns are {preview(pred.columns)}. "
            "Add the predicted label (or value) as a column named 'prediction'."
        )
    id_column = spec.columns.id
    if id_column is not None and id_column in pred.columns and id_column in test.columns:
        return _join_on_id(pred, test, id_column, name)
    if len(pred) != len(test):
        raise InputError(
            f"{name!r} has {len(pred)} rows but the test data has {len(test)}. Predictions must align "
            "row for row with the test file, or share its --id-column to be joined on."
        )
    return pred


def _predictions_from_rows(
    pred: pd.DataFrame, spec: AuditSpec, task: str, classes: tuple
) -> Predictions:
    name = _predictions_name(spec)
    if task == "regression":
        values = pd.to_numeric(pred["prediction"], errors="coerce")
        if values.isna().any():
            raise InputError(
                f"{name!r} column 'prediction' has {int(values.isna().sum())} non-numeric or missing values."
            )
        return Predictions(y_pred=values.to_numpy(dtype=float))
    if pred["prediction"].isna().any():
        raise InputError(
            f"{name!r} column 'prediction' has missing values. Every test row needs a prediction."
        )
    encode_labels(pred["prediction"], classes, source=f"{name!r} column 'prediction'")
    return Predictions(
        y_pred=pred["prediction"].to_numpy(), proba=_proba_columns(pred, classes, task, name)
    )


def _join_on_id(pred: pd.DataFrame, test: pd.DataFrame, id_column: str, name: str) -> pd.DataFrame:
    if pred[id_column].duplicated().any():
        raise InputError(
            f"{name!r} repeats values of {id_column!r}. Give each test row one prediction."
        )
    keys = test[[id_column]]
    numeric = [pd.api.types.is_numeric_dtype(f[id_column]) for f in (keys, pred)]
    if numeric[0] != numeric[1]:
        # 17 in a CSV test file and "17" in a Parquet predictions file name the same row.
        keys = keys.astype({id_column: str})
        pred = pred.astype({id_column: str})
    joined = keys.merge(pred, on=id_column, how="left", indicator=True)
    missing = int((joined["_merge"] != "both").sum())
    if missing:
        raise InputError(
            f"{missing} test rows have no prediction in {name!r} when joined on {id_column!r}. "
            "Predict every test row."
        )
    return joined.drop(columns="_merge")


def _proba_columns(pred: pd.DataFrame, classes: tuple, task: str, name: str) -> np.ndarray | None:
    columns = {
        str(c)[len(PROBA_PREFIX) :]: c for c in pred.columns if str(c).startswith(PROBA_PREFIX)
    }
    if not columns:
        return None
    wanted = [str(c) for c in classes]
    unknown = [label for label in columns if label not in wanted]
    if unknown:
        raise InputError(
            f"{name!r} has probability columns for unknown classes {preview(unknown)}; "
            f"classes are {preview(classes)}. Name them proba_<class>."
        )
    if task == "binary" and len(columns) == 1:
        (label,) = columns
        p = _probabilities(pred[columns[label]], name, columns[label])
        proba = np.column_stack([1 - p, p]) if label == wanted[1] else np.column_stack([p, 1 - p])
        return proba
    missing = [label for label in wanted if label not in columns]
    if missing:
        raise InputError(
            f"{name!r} lacks probability columns for classes {preview(missing)}. "
            "Give one proba_<class> column per class (binary: the positive class alone is enough)."
        )
    proba = np.column_stack(
        [_probabilities(pred[columns[label]], name, columns[label]) for label in wanted]
    )
    try:
        check_probabilities(proba, f"{name!r} (one proba_<class> column per class)")
    except PredictionError as exc:
        raise InputError(str(exc)) from None
    return proba


def _probabilities(column: pd.Series, name: str, label: str) -> np.ndarray:
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    if np.isnan(values).any() or (values < 0).any() or (values > 1).any():
        raise InputError(
            f"{name!r} column {label!r} must hold probabilities in [0, 1] with no missing values."
        )
    return values
