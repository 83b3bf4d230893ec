"""Explanations of the model: shap when it reads the model, permutation importance otherwise.

Owns the method dispatch, the encoding of the rows as the model's last step sees them, the
time budget, and the mapping of encoded columns back to the original ones.
``explain.feature_importance`` decides what the importance shares mean and draws them.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from auditor import progress
from auditor.context import AuditContext
from auditor.metrics import METRICS_BY_KEY, primary_metric
from auditor.stats.random import rng_for

# The seed streams keep the check's name, so the explained rows stay those of earlier audits.
_STREAM = "explain.feature_importance"
# Rows are explained in chunks, the first one small, to measure the cost per row.
_FIRST_CHUNK = 5
_MAX_CHUNK = 1000
# A budget-limited run explains a row count from this ladder, so that small speed
# differences between machines rarely change which rows are explained.
_ROW_LADDER = tuple(
    sorted({int(m * 10**e) for e in range(7) for m in (1, 1.5, 2, 3, 5, 7)} - {1, 2, 3})
)
# Permutation importance: shuffles per feature, and the fewest rows worth scoring.
PERMUTATION_REPEATS = 5
_MIN_PERMUTATION_ROWS = 50
# Scikit-learn tree ensembles that shap's exact tree algorithm reads natively.
_SKLEARN_TREES = frozenset(
    {
        "DecisionTreeClassifier",
        "DecisionTreeRegressor",
        "RandomForestClassifier",
        "RandomForestRegressor",
        "ExtraTreesClassifier",
        "ExtraTreesRegressor",
        "GradientBoostingClassifier",
        "GradientBoostingRegressor",
        "HistGradientBoostingClassifier",
        "HistGradientBoostingRegressor",
    }
)
_OTHER_TREE_LIBRARIES = frozenset({"xgboost", "lightgbm", "catboost"})
_LINEAR_MODULES = ("sklearn.linear_model", "sklearn.svm._classes")
METHOD_TEXT = {
    "tree": "shap's exact tree algorithm (TreeExplainer)",
    "linear": "shap's linear explainer (LinearExplainer, features taken as independent)",
    "permutation_shap": "shap's model-agnostic permutation explainer (PermutationExplainer)",
    "permutation_importance": "permutation importance (scikit-learn)",
}


class _Unexplainable(Exception):  # noqa: N818 - a reason to try the next method, not an error
    """This method cannot explain the model; the message says why (for the summary)."""


@dataclass
class Explanation:
    """Importance per original feature, with per-row values when shap produced them."""

    method: str
    features: list[str]
    importance: np.ndarray  # (p,)
    rows: np.ndarray  # positions in ctx.test of the explained rows
    unit: str
    values: np.ndarray | None = None  # (n, p) or (n, p, k) signed, per original feature
    base_value: Any = None
    importance_std: np.ndarray | None = None
    n_model_columns: np.ndarray | None = None  # encoded columns summed into each feature
    budget_limited: bool = False
    notes: list[str] = field(default_factory=list)


def explain(
    ctx: AuditContext, *, max_rows: int, background_rows: int, deadline: float
) -> Explanation:
    """Explain ``ctx.model`` on a seeded sample of test rows with the best method that applies.

    shap's exact tree or linear explainer when the model (or a pipeline's last step) is one
    they read, else shap's permutation explainer, else scikit-learn's permutation importance;
    each method that cannot explain the model leaves its reason in ``notes``. Importance is
    summed back onto the original columns through the pipeline's encoders.
    """
    rng = rng_for(ctx.seed, _STREAM)
    rows = rng.permutation(len(ctx.test))[:max_rows]
    X = ctx.features_for_model(ctx.test).iloc[rows].reset_index(drop=True)
    notes: list[str] = []
    progress.step(f"explaining the model on {len(X):,} test rows")
    try:
        shap = _import_shap()
    except ImportError as exc:
        notes.append(f"shap could not be imported ({exc})")
        return _permutation_importance(ctx, X, rows, deadline, notes)

    estimator, preprocessing = _split_pipeline(ctx.model)
    specific = _is_tree(estimator) or _is_linear(estimator)
    if specific:
        try:
            matrix, weights = _encoded_matrix(preprocessing, X, list(ctx.model_features))
            if _is_tree(estimator):
                explanation = _tree_explanation(shap, ctx, estimator, matrix, rows, deadline)
            else:
                explanation = _linear_explanation(shap, ctx, estimator, matrix, rows, deadline)
        except _Unexplainable as exc:
            notes.append(str(exc))
        except Exception as exc:  # noqa: BLE001 - shap raises many types for models it cannot read; the next method is tried and the reason reported
            notes.append(
                f"{METHOD_TEXT['tree' if _is_tree(estimator) else 'linear']} failed on the "
                f"{type(estimator).__name__} ({_error_text(exc)})"
            )
        else:
            return _to_original_columns(explanation, weights, list(ctx.model_features), notes)
    try:
        return _agnostic_explanation(shap, ctx, X, rows, background_rows, deadline, notes)
    except _Unexplainable as exc:
        notes.append(str(exc))
    except Exception as exc:  # noqa: BLE001 - as above: any shap failure falls back, with its reason
        notes.append(f"{METHOD_TEXT['permutation_shap']} failed ({_error_text(exc)})")
    return _permutation_importance(ctx, X, rows, deadline, notes)


def _import_shap():
    with warnings.catch_warnings():
        # shap's plotting module calls matplotlib colormap methods that newer matplotlib
        # deprecates, at import time; the plots are never used here.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"shap\.plots")
        warnings.filterwarnings("ignore", category=PendingDeprecationWarning, module=r"shap\.plots")
        import shap
    return shap


def _error_text(exc: BaseException) -> str:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message[:200]}" if message else type(exc).__name__


def _split_pipeline(model: Any) -> tuple[Any, Any]:
    """(final estimator, preprocessing pipeline or None)."""
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline) and len(model.steps) >= 2:
        final = model.steps[-1][1]
        if final is not None and final != "passthrough":
            return final, model[:-1]
    return model, None


def _is_tree(estimator: Any) -> bool:
    kind = type(estimator)
    if kind.__module__.startswith("sklearn.") and kind.__name__ in _SKLEARN_TREES:
        return True
    return kind.__module__.split(".")[0] in _OTHER_TREE_LIBRARIES


def _is_linear(estimator: Any) -> bool:
    kind = type(estimator)
    return (
        kind.__module__.startswith(_LINEAR_MODULES)
        and getattr(estimator, "coef_", None) is not None
        and getattr(estimator, "intercept_", None) is not None
    )


def _in_budget(
    explain_rows: Callable[[slice], np.ndarray], n: int, deadline: float
) -> tuple[np.ndarray, bool]:
    """Explain rows ``0..n`` in growing chunks while the budget lasts; (values, limited).

    After each chunk the cost per row of that chunk (the first one includes warm-up) sets
    how many rows the remaining time affords; a shortfall rounds the count down to the
    ladder. The first chunk always runs.
    """
    parts, done, target, chunk = [], 0, n, _FIRST_CHUNK
    while done < target:
        size = min(chunk, target - done)
        started = time.perf_counter()
        parts.append(np.asarray(explain_rows(slice(done, done + size)), dtype=float))
        now = time.perf_counter()
        done += size
        if now >= deadline:
            break
        affordable = done + (deadline - now) / max((now - started) / size, 1e-9)
        target = n if affordable >= n else max(done, _ladder_floor(affordable))
        chunk = min(size * 4, _MAX_CHUNK)
    return np.concatenate(parts, axis=0), done < n


def _ladder_floor(count: float) -> int:
    return max((step for step in _ROW_LADDER if step <= count), default=_ROW_LADDER[0])


def _tree_explanation(shap, ctx, estimator, matrix, rows, deadline) -> Explanation:
    categorical = getattr(estimator, "is_categorical_", None)
    if categorical is not None and np.any(categorical):
        raise _Unexplainable(
            f"shap's tree algorithm does not read the native categorical splits of the "
            f"{type(estimator).__name__}"
        )
    # Path-dependent TreeSHAP: exact, and needs no background data.
    explainer = shap.TreeExplainer(estimator)
    output = getattr(explainer.model, "tree_output", None)
    kind = {"probability": "probability", "log_odds": "log-odds"}.get(output, "raw score")
    return _explained("tree", explainer, kind, ctx, matrix, rows, deadline)


def _explained(method, explainer, kind, ctx, matrix, rows, deadline) -> Explanation:
    """Run a shap explainer on ``matrix`` within the time budget, in the model's columns."""
    with _feature_name_warnings_ignored():
        values, limited = _in_budget(
            lambda part: explainer.shap_values(matrix[part]), len(matrix), deadline
        )
    values, base = _oriented(values, explainer.expected_value, ctx)
    return Explanation(
        method=method,
        features=[],
        importance=np.empty(0),
        rows=rows[: len(values)],
        unit=_unit(ctx, kind),
        values=values,
        base_value=base,
        budget_limited=limited,
    )


def _linear_explanation(shap, ctx, estimator, matrix, rows, deadline) -> Explanation:
    if np.asarray(estimator.coef_).shape[-1] != matrix.shape[1]:
        raise _Unexplainable(
            f"the {type(estimator).__name__}'s coefficients do not match its input columns"
        )
    # The mean of the explained rows is the reference point (features taken as independent).
    explainer = shap.LinearExplainer(
        estimator, (matrix.mean(axis=0), np.cov(matrix, rowvar=False).reshape(matrix.shape[1], -1))
    )
    logistic = type(estimator).__name__.startswith("LogisticRegression") or (
        getattr(estimator, "loss", None) == "log_loss"
    )
    kind = "log-odds" if logistic else "score"
    return _explained("linear", explainer, kind, ctx, matrix, rows, deadline)


@contextmanager
def _feature_name_warnings_ignored():
    """Ignore scikit-learn's warning that an array has no column names, and only it.

    The encoded matrix is passed to the final estimator as an array on purpose; one fitted
    on a DataFrame (``set_output(transform="pandas")``) warns about it on every call.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="X does not have valid feature names", category=UserWarning
        )
        yield


def _oriented(values: np.ndarray, base: Any, ctx: AuditContext) -> tuple[np.ndarray, Any]:
    """Values toward the positive class (binary), per class (multiclass) or the value."""
    base = np.atleast_1d(np.asarray(base, dtype=float))
    if ctx.task == "binary":
        if values.ndim == 3:
            return values[:, :, ctx.positive], float(base[ctx.positive])
        # One output: the margin of the model's second class.
        sign = 1.0 if ctx.positive == 1 else -1.0
        return sign * values, sign * float(base[0])
    if ctx.task == "multiclass":
        if values.ndim != 3 or values.shape[2] != len(ctx.classes):
            raise _Unexplainable("the explanation does not have one output per class")
        return values, base
    return values, float(base[0])


def _unit(ctx: AuditContext, kind: str) -> str:
    if ctx.task == "regression":
        return f"predicted {ctx.target!r}"
    if ctx.task == "binary":
        return f"{kind} of {ctx.target!r} = {ctx.positive_class!r}"
    # Multiclass margins are per-class scores (logits), not log-odds of one class.
    kind = "logit score" if kind == "log-odds" else kind
    return f"{kind} of the predicted class"


# --- Encoded columns back to the original ones -----------------------------------------------


def _encoded_matrix(preprocessing, X: pd.DataFrame, features: list[str]):
    """The final estimator's input matrix and its (encoded x original) source weights."""
    if preprocessing is None:
        try:
            return X.to_numpy(dtype=float, na_value=np.nan), np.eye(len(features))
        except (TypeError, ValueError):
            raise _Unexplainable(
                "the model takes non-numeric columns directly, which shap's tree and linear "
                "explainers cannot read"
            ) from None
    names, weights = _source_weights(preprocessing, features)
    encoded = preprocessing.transform(_model_input(preprocessing, X))
    if hasattr(encoded, "toarray"):  # a scipy sparse matrix (one-hot encoders' default)
        encoded = encoded.toarray()
    try:
        matrix = np.asarray(encoded, dtype=float)
    except (TypeError, ValueError):
        raise _Unexplainable("the preprocessing outputs non-numeric columns") from None
    if matrix.ndim != 2 or matrix.shape[1] != len(names):
        raise _Unexplainable(
            f"the preprocessing outputs {matrix.shape[-1]} columns but names {len(names)}"
        )
    return matrix, weights


def _source_weights(preprocessing, features: list[str]) -> tuple[list[str], np.ndarray]:
    """Names of the encoded columns and which original columns each comes from.

    Row ``j`` of the weights spreads encoded column ``j`` over the original columns (one 1
    for a one-hot or scaled column; equal parts for a column built from several, like an
    interaction); every row sums to 1, so summed SHAP values stay additive.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    steps = (
        [step for _, step in preprocessing.steps]
        if isinstance(preprocessing, Pipeline)
        else [preprocessing]
    )
    names, weights = list(features), np.eye(len(features))
    for step in steps:
        if step is None or (isinstance(step, str) and step == "passthrough"):
            continue
        if isinstance(step, ColumnTransformer):
            names, mapping = _column_transformer_sources(step, names)
        else:
            names, mapping = _step_sources(step, names)
        weights = mapping @ weights
    return names, weights


def _named_outputs(transformer, names_in: list[str], what: str) -> list[str]:
    try:
        return [str(n) for n in _feature_names_out(transformer, names_in)]
    except (AttributeError, TypeError, ValueError) as exc:
        raise _Unexplainable(
            f"{what} does not name its output columns ({_error_text(exc)})"
        ) from None


def _column_transformer_sources(ct, names_in: list[str]) -> tuple[list[str], np.ndarray]:
    names_out = _named_outputs(ct, names_in, "the ColumnTransformer")
    mapping = np.zeros((len(names_out), len(names_in)))
    for name, transformer, columns in ct.transformers_:
        block = ct.output_indices_.get(name)
        if block is None or block.stop <= block.start:
            continue
        if isinstance(transformer, str) and transformer == "drop":
            continue
        inputs = _column_positions(columns, names_in)
        input_names = [names_in[i] for i in inputs]
        for j in range(block.start, block.stop):
            out = names_out[j].removeprefix(f"{name}__")
            sources = _match_sources(out, input_names)
            for s in sources:
                mapping[j, inputs[s]] = 1.0 / len(sources)
    if not np.allclose(mapping.sum(axis=1), 1.0):
        raise _Unexplainable("some encoded columns could not be traced to an original column")
    return names_out, mapping


def _step_sources(step, names_in: list[str]) -> tuple[list[str], np.ndarray]:
    names_out = _named_outputs(step, names_in, f"the preprocessing step {type(step).__name__}")
    mapping = np.zeros((len(names_out), len(names_in)))
    for j, out in enumerate(names_out):
        sources = _match_sources(out, names_in)
        mapping[j, sources] = 1.0 / len(sources)
    return names_out, mapping


def _feature_names_out(transformer, names_in: list[str]):
    # A transformer fitted on a DataFrame checks the names it is given against its own.
    if getattr(transformer, "feature_names_in_", None) is not None:
        return transformer.get_feature_names_out()
    return transformer.get_feature_names_out(np.asarray(names_in, dtype=object))


def _column_positions(columns: Any, names_in: list[str]) -> list[int]:
    if isinstance(columns, str):
        columns = [columns]
    if isinstance(columns, slice):
        if isinstance(columns.start, str) or isinstance(columns.stop, str):
            start = names_in.index(columns.start) if columns.start is not None else 0
            stop = names_in.index(columns.stop) + 1 if columns.stop is not None else None
            return list(range(len(names_in)))[start:stop]
        return list(range(len(names_in)))[columns]
    array = np.asarray(columns)
    if array.dtype == bool:
        return [int(i) for i in np.flatnonzero(array)]
    if array.dtype.kind in "iu":
        return [int(i) for i in array]
    try:
        return [names_in.index(str(c)) for c in array]
    except ValueError:
        raise _Unexplainable(
            "the ColumnTransformer selects columns that are not among its inputs"
        ) from None


def _match_sources(out: str, inputs: list[str]) -> list[int]:
    """Positions in ``inputs`` of the column(s) the output column ``out`` is made from."""
    if len(inputs) == 1:
        return [0]
    if out in inputs:
        return [inputs.index(out)]
    # One-hot style: '<input>_<category>'; the longest input name wins ('age_band' over 'age').
    prefixed = [i for i, name in enumerate(inputs) if out.startswith(f"{name}_")]
    if prefixed:
        return [max(prefixed, key=lambda i: len(inputs[i]))]
    # Names inside the output name as whole words ('missingindicator_age', 'age income').
    found = [
        i
        for i, name in enumerate(inputs)
        if re.search(rf"(?<![A-Za-z0-9]){re.escape(name)}(?![A-Za-z0-9])", out)
    ]
    found = [i for i in found if not any(inputs[i] in inputs[j] for j in found if j != i)]
    if found:
        return found
    raise _Unexplainable(f"the encoded column {out!r} could not be traced to an original column")


def _to_original_columns(
    explanation: Explanation, weights: np.ndarray, features: list[str], notes: list[str]
) -> Explanation:
    values = explanation.values
    values = np.einsum("npk,po->nok", values, weights) if values.ndim == 3 else values @ weights
    explanation.values = values
    explanation.features = features
    explanation.importance = _mean_abs(values)
    explanation.n_model_columns = (weights > 0).sum(axis=0)
    explanation.notes = notes
    return explanation


def _mean_abs(values: np.ndarray) -> np.ndarray:
    """Mean |SHAP value| per feature; multiclass: summed over the classes."""
    magnitude = np.abs(values)
    if magnitude.ndim == 3:
        magnitude = magnitude.sum(axis=2)
    return magnitude.mean(axis=0)


# --- Model-agnostic fallbacks ----------------------------------------------------------------


@dataclass(frozen=True)
class _Codec:
    """Original columns as a float matrix for shap's maskers, and back to a DataFrame.

    Categories become integer codes (missing: NaN); numbers stay numbers. Decoding restores
    each column's dtype, so the model sees the frame it was fitted on.
    """

    columns: list[str]
    dtypes: dict[str, Any]
    categories: dict[str, Any]

    @classmethod
    def fit(cls, frame: pd.DataFrame) -> _Codec:
        categories = {}
        for column in frame.columns:
            values = frame[column]
            if not (
                pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
            ):
                categories[column] = pd.factorize(values)[1]
        return cls(list(frame.columns), dict(frame.dtypes), categories)

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(frame), len(self.columns)))
        for j, column in enumerate(self.columns):
            if column in self.categories:
                codes = self.categories[column].get_indexer(frame[column])
                out[:, j] = np.where(codes < 0, np.nan, codes)
            else:
                out[:, j] = frame[column].to_numpy(dtype=float, na_value=np.nan)
        return out

    def decode(self, matrix: np.ndarray) -> pd.DataFrame:
        data = {}
        for j, column in enumerate(self.columns):
            if column in self.categories:
                codes = np.where(np.isnan(matrix[:, j]), -1, matrix[:, j]).astype(np.intp)
                labels = np.asarray(self.categories[column], dtype=object)
                series = pd.Series(pd.api.extensions.take(labels, codes, allow_fill=True))
                # An all-present column gets its dtype back (a bool column cannot hold NaN).
                data[column] = series if (codes < 0).any() else series.astype(self.dtypes[column])
            else:
                series = pd.Series(matrix[:, j])
                try:
                    data[column] = series.astype(self.dtypes[column])
                except (TypeError, ValueError):  # missing values in an integer column
                    data[column] = series
        return pd.DataFrame(data, columns=self.columns)


def _model_input(model: Any, frame: pd.DataFrame) -> Any:
    """A frame for a model fitted on one; an array for a model fitted on an array."""
    return frame if getattr(model, "feature_names_in_", None) is not None else frame.to_numpy()


def _agnostic_explanation(shap, ctx, X, rows, background_rows, deadline, notes) -> Explanation:
    model = ctx.model
    if ctx.task == "regression":
        output, kind = model.predict, ""
    elif hasattr(model, "predict_proba"):
        output, kind = model.predict_proba, "probability"
    elif hasattr(model, "decision_function"):
        output, kind = model.decision_function, "decision score"
    else:
        raise _Unexplainable(
            f"the {type(model).__name__} gives neither probabilities nor scores, only labels, "
            "which shap cannot attribute to features"
        )
    codec = _Codec.fit(X)
    encoded = codec.encode(X)

    def predict(matrix: np.ndarray) -> np.ndarray:
        out = np.asarray(output(_model_input(model, codec.decode(matrix))), dtype=float)
        if ctx.task == "binary":
            if out.ndim == 2:
                return out[:, ctx.positive]
            return out if ctx.positive == 1 else -out
        return out

    rng = rng_for(ctx.seed, _STREAM + ".background")
    background = encoded[
        np.sort(rng.choice(len(encoded), min(background_rows, len(encoded)), replace=False))
    ]
    masker = shap.maskers.Independent(background, max_samples=len(background))
    # One antithetic permutation per row: exact for additive models, and the cheapest
    # estimate; the global importance averages it over many rows.
    max_evals = 2 * len(codec.columns) + 1
    # shap's permutation explainer seeds and draws from numpy's global generator; keep the
    # caller's global state as it was.
    state = np.random.get_state()
    try:
        explainer = shap.PermutationExplainer(predict, masker, seed=int(rng.integers(2**31 - 1)))
        values, limited = _in_budget(
            lambda part: explainer(encoded[part], max_evals=max_evals, silent=True).values,
            len(encoded),
            deadline,
        )
        # The average output over the background rows: what the values add up from.
        base = np.asarray(predict(background), dtype=float).mean(axis=0)
    finally:
        np.random.set_state(state)
    if ctx.task == "multiclass" and (values.ndim != 3 or values.shape[2] != len(ctx.classes)):
        raise _Unexplainable("the model's output does not have one column per class")
    return Explanation(
        method="permutation_shap",
        features=list(codec.columns),
        importance=_mean_abs(values),
        rows=rows[: len(values)],
        unit=_unit(ctx, kind),
        values=values,
        base_value=base if base.ndim else float(base),
        budget_limited=limited,
        notes=notes,
    )


def _permutation_importance(ctx, X, rows, deadline, notes) -> Explanation:
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import get_scorer

    data = ctx.test_eval
    metric = primary_metric(data)
    y = data.y if data.task == "regression" else np.asarray(list(ctx.classes))[data.y]
    y = y[rows]
    inputs = _model_input(ctx.model, X)
    # Time one prediction to choose how many rows the shuffles can afford.
    probe = min(len(X), 200)
    started = time.perf_counter()
    ctx.model.predict(inputs[:probe])
    per_row = max((time.perf_counter() - started) / probe, 1e-9)
    cost_per_row = per_row * (1 + X.shape[1] * PERMUTATION_REPEATS)
    affordable = max(deadline - time.perf_counter(), 0) / cost_per_row
    n = len(X)
    if affordable < n:
        n = min(n, max(_MIN_PERMUTATION_ROWS, _ladder_floor(affordable)))
    seed = int(rng_for(ctx.seed, _STREAM + ".permutation").integers(2**31 - 1))
    result = permutation_importance(
        ctx.model,
        inputs[:n],
        y[:n],
        scoring=get_scorer(metric),
        n_repeats=PERMUTATION_REPEATS,
        random_state=seed,
        n_jobs=ctx.n_jobs,
    )
    return Explanation(
        method="permutation_importance",
        features=list(X.columns),
        importance=result.importances_mean,
        importance_std=result.importances_std,
        rows=rows[:n],
        unit=f"decrease in {METRICS_BY_KEY[metric].label} when the feature is shuffled",
        budget_limited=n < len(X),
        notes=notes,
    )


# --- Output ----------------------------------------------------------------------------------
