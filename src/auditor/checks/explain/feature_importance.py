"""``explain.feature_importance``: which features the model relies on, and whether one dominates."""

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
from auditor.registry import CheckOutcome, SkipCheck, param, register_check
from auditor.result import Curve, Finding, Measurement, Series, Table
from auditor.stats.random import rng_for

CHECK_ID = "explain.feature_importance"
# The summary figure shows at most this many features and points.
_MAX_SHOWN_FEATURES = 12
_MAX_POINTS = 2000
# Vertical place of the points in a feature's row of the summary figure: low, middle and
# high values of the feature in three bands (bottom to top), each with a little jitter, so
# that the value is read from the position as well as from the colour. Categories and
# missing values are spread over the whole row.
_BAND_CENTRES = {0: -0.2, 1: 0.0, 2: 0.2}
_BAND_JITTER = 0.08
_JITTER = 0.28
# Rows are explained in chunks, the first one small, to measure the cost per row.
_FIRST_CHUNK = 5
_MAX_CHUNK = 1000
# A budget-limited run explains a row count from this ladder, so that small speed
# differences between machines rarely change which rows are explained.
_ROW_LADDER = tuple(
    sorted({int(m * 10**e) for e in range(7) for m in (1, 1.5, 2, 3, 5, 7)} - {1, 2, 3})
)
# Permutation importance: shuffles per feature, and the fewest rows worth scoring.
_PERMUTATION_REPEATS = 5
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
_METHOD_TEXT = {
    "tree": "shap's exact tree algorithm (TreeExplainer)",
    "linear": "shap's linear explainer (LinearExplainer, features taken as independent)",
    "permutation_shap": "shap's model-agnostic permutation explainer (PermutationExplainer)",
    "permutation_importance": "permutation importance (scikit-learn)",
}


@dataclass(frozen=True, slots=True)
class FeatureImportanceParams:
    warn_share: float = param(
        0.6,
        "Warn when one feature carries at least this share of the total importance: a single "
        "feature that dominant is often a copy of the target or recorded after the outcome.",
        share=True,
    )
    max_rows: int = param(
        2000, "Explain at most this many test rows (a seeded random sample).", minimum=10
    )
    background_rows: int = param(
        100,
        "Rows of the background sample that stands in for a hidden feature in the "
        "model-agnostic explainer.",
        minimum=10,
    )
    time_budget_s: float = param(
        30.0,
        "Seconds the check may spend; fewer rows are explained when the model is too slow to "
        "explain them all in time.",
        minimum=1,
    )


class _Unexplainable(Exception):  # noqa: N818 - a reason to try the next method, not an error
    """This method cannot explain the model; the message says why (for the summary)."""


@dataclass
class _Explanation:
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


@register_check(
    CHECK_ID,
    title="Feature importance (SHAP)",
    needs=("test", "model"),
    params=FeatureImportanceParams,
    rationale=(
        "Knowing which inputs drive the predictions lets a reviewer judge whether the model "
        "relies on plausible information. A single feature that carries most of the "
        "model's decisions is a common sign of leakage: the label under another name, or a "
        "value recorded after the outcome."
    ),
    remedy=(
        "For a dominating feature, ask when its value becomes known and how it is recorded; "
        "leakage.target measures how well it predicts the target on its own. If it is "
        "legitimate, record why and raise warn_share for this check."
    ),
)
def feature_importance(ctx: AuditContext, params: FeatureImportanceParams) -> CheckOutcome:
    """Explain the model on a sample of test rows with shap, or permutation importance.

    Notes
    -----
    Up to ``max_rows`` seeded random test rows are explained, in chunks, until
    ``time_budget_s`` runs out (then the rows explained so far, rounded down to a fixed
    ladder of counts, are used and the summary says so). The method is the most exact one
    that applies:

    1. scikit-learn tree ensembles (random forests, extra trees, gradient boosting,
       histogram gradient boosting without native categorical splits) and XGBoost,
       LightGBM and CatBoost models: shap's exact tree algorithm (path-dependent
       TreeSHAP, in the model's raw output: probability for forests, log-odds for boosting);
    2. scikit-learn linear models: shap's linear explainer (features independent), in the
       model's margin (log-odds for logistic regression);
    3. anything else that outputs probabilities, scores or values: shap's permutation
       explainer on the whole model in its original columns (one antithetic permutation
       per row, ``background_rows`` background rows stand in for hidden features);
    4. when shap cannot explain the model (not installed, labels only, a failure):
       permutation importance of the headline metric (5 shuffles per feature).

    Pipelines are explained at their final estimator on the encoded matrix; each encoded
    column is traced back to the original column it comes from (from the names the
    ColumnTransformer and the other steps give their outputs) and the values of the one-hot
    columns of a feature are summed (SHAP values are additive). When a column cannot be
    traced, the whole pipeline is explained model-agnostically in its original columns.

    Global importance is the mean absolute SHAP value of each feature (multiclass: summed
    over the classes). Its share of the total is compared with ``warn_share``: strong
    legitimate features rarely exceed 30-50%, while a leaked copy of the label typically
    takes 80% or more. This is a hint, not a proof; ``leakage.target`` tests it directly.
    Importance describes the model's use of a feature, not a causal effect, and correlated
    features share importance between them.

    References
    ----------
    Lundberg et al. (2020), "From local explanations to global understanding with
    explainable AI for trees", Nature Machine Intelligence; Breiman (2001), "Random
    Forests" (permutation importance).
    """
    deadline = time.perf_counter() + params.time_budget_s
    explanation = explain(ctx, params, deadline)
    if not np.isfinite(explanation.importance).all():
        raise SkipCheck(
            "the explanation produced infinite or undefined importances (a feature holds "
            "values near the floating-point limit, such as 1e308)"
        )
    total = float(np.clip(explanation.importance, 0, None).sum())
    shares = (
        np.clip(explanation.importance, 0, None) / total
        if total > 0
        else np.zeros(len(explanation.features))
    )
    order = np.argsort(-explanation.importance, kind="stable")
    top = int(order[0])
    top_name, top_share = explanation.features[top], float(shares[top])

    findings = []
    if total > 0 and len(explanation.features) > 1 and top_share >= params.warn_share:
        findings.append(
            Finding(
                "dominant_feature",
                "medium",
                f"{top_name!r} carries {top_share:.0%} of the model's total importance "
                f"(warn at {params.warn_share:.0%}). A single feature this dominant is often a "
                "copy of the target or a value recorded after the outcome: check when it "
                "becomes known; leakage.target measures it on its own.",
                (top_name,),
                {
                    "share": top_share,
                    "warn_share": params.warn_share,
                    "method": explanation.method,
                },
            )
        )
    curves = ()
    if explanation.values is not None and total > 0:
        curves = (_summary_curve(ctx, explanation, order, shares),)
    return CheckOutcome(
        status="warn" if findings else "pass",
        summary=_summary(ctx, explanation, order, shares, total, params),
        findings=tuple(findings),
        measurements=(
            Measurement("top_feature_share", top_share if total > 0 else None, None, None, False),
            Measurement("n_explained_rows", float(len(explanation.rows))),
        ),
        tables=(_importance_table(explanation, order, shares),),
        curves=curves,
    )


# --- Choosing and running the explainer ------------------------------------------------------


def explain(ctx: AuditContext, params: FeatureImportanceParams, deadline: float) -> _Explanation:
    """Explain ``ctx.model`` on a seeded sample of test rows with the best method that applies."""
    rng = rng_for(ctx.seed, CHECK_ID)
    rows = rng.permutation(len(ctx.test))[: params.max_rows]
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
                f"{_METHOD_TEXT['tree' if _is_tree(estimator) else 'linear']} failed on the "
                f"{type(estimator).__name__} ({_error_text(exc)})"
            )
        else:
            return _to_original_columns(explanation, weights, list(ctx.model_features), notes)
    try:
        return _agnostic_explanation(shap, ctx, X, rows, params, deadline, notes)
    except _Unexplainable as exc:
        notes.append(str(exc))
    except Exception as exc:  # noqa: BLE001 - as above: any shap failure falls back, with its reason
        notes.append(f"{_METHOD_TEXT['permutation_shap']} failed ({_error_text(exc)})")
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


def _tree_explanation(shap, ctx, estimator, matrix, rows, deadline) -> _Explanation:
    categorical = getattr(estimator, "is_categorical_", None)
    if categorical is not None and np.any(categorical):
        raise _Unexplainable(
            f"shap's tree algorithm does not read the native categorical splits of the "
            f"{type(estimator).__name__}"
        )
    # Path-dependent TreeSHAP: exact, and needs no background data.
    explainer = shap.TreeExplainer(estimator)
    with _feature_name_warnings_ignored():
        values, limited = _in_budget(
            lambda part: explainer.shap_values(matrix[part]), len(matrix), deadline
        )
    output = getattr(explainer.model, "tree_output", None)
    kind = {"probability": "probability", "log_odds": "log-odds"}.get(output, "raw score")
    values, base = _oriented(values, explainer.expected_value, ctx)
    return _Explanation(
        method="tree",
        features=[],
        importance=np.empty(0),
        rows=rows[: len(values)],
        unit=_unit(ctx, kind),
        values=values,
        base_value=base,
        budget_limited=limited,
    )


def _linear_explanation(shap, ctx, estimator, matrix, rows, deadline) -> _Explanation:
    if np.asarray(estimator.coef_).shape[-1] != matrix.shape[1]:
        raise _Unexplainable(
            f"the {type(estimator).__name__}'s coefficients do not match its input columns"
        )
    # The mean of the explained rows is the reference point (features taken as independent).
    explainer = shap.LinearExplainer(
        estimator, (matrix.mean(axis=0), np.cov(matrix, rowvar=False).reshape(matrix.shape[1], -1))
    )
    with _feature_name_warnings_ignored():
        values, limited = _in_budget(
            lambda part: explainer.shap_values(matrix[part]), len(matrix), deadline
        )
    logistic = type(estimator).__name__.startswith("LogisticRegression") or (
        getattr(estimator, "loss", None) == "log_loss"
    )
    kind = "log-odds" if logistic else "score"
    values, base = _oriented(values, explainer.expected_value, ctx)
    return _Explanation(
        method="linear",
        features=[],
        importance=np.empty(0),
        rows=rows[: len(values)],
        unit=_unit(ctx, kind),
        values=values,
        base_value=base,
        budget_limited=limited,
    )


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


def _column_transformer_sources(ct, names_in: list[str]) -> tuple[list[str], np.ndarray]:
    try:
        names_out = [str(n) for n in _feature_names_out(ct, names_in)]
    except (AttributeError, TypeError, ValueError) as exc:
        raise _Unexplainable(
            f"the ColumnTransformer does not name its output columns ({_error_text(exc)})"
        ) from None
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
    try:
        names_out = [str(n) for n in _feature_names_out(step, names_in)]
    except (AttributeError, TypeError, ValueError) as exc:
        raise _Unexplainable(
            f"the preprocessing step {type(step).__name__} does not name its output columns "
            f"({_error_text(exc)})"
        ) from None
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
    explanation: _Explanation, weights: np.ndarray, features: list[str], notes: list[str]
) -> _Explanation:
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


def _agnostic_explanation(shap, ctx, X, rows, params, deadline, notes) -> _Explanation:
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

    rng = rng_for(ctx.seed, CHECK_ID + ".background")
    background = encoded[
        np.sort(rng.choice(len(encoded), min(params.background_rows, len(encoded)), replace=False))
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
    return _Explanation(
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


def _permutation_importance(ctx, X, rows, deadline, notes) -> _Explanation:
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
    cost_per_row = per_row * (1 + X.shape[1] * _PERMUTATION_REPEATS)
    affordable = max(deadline - time.perf_counter(), 0) / cost_per_row
    n = len(X)
    if affordable < n:
        n = min(n, max(_MIN_PERMUTATION_ROWS, _ladder_floor(affordable)))
    seed = int(rng_for(ctx.seed, CHECK_ID + ".permutation").integers(2**31 - 1))
    result = permutation_importance(
        ctx.model,
        inputs[:n],
        y[:n],
        scoring=get_scorer(metric),
        n_repeats=_PERMUTATION_REPEATS,
        random_state=seed,
        n_jobs=ctx.n_jobs,
    )
    return _Explanation(
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


def _importance_table(explanation: _Explanation, order: np.ndarray, shares: np.ndarray) -> Table:
    if explanation.method == "permutation_importance":
        rows = tuple(
            (
                explanation.features[i],
                float(explanation.importance[i]),
                float(explanation.importance_std[i]),
                float(shares[i]),
            )
            for i in order
        )
        return Table(
            "feature_importance",
            f"Permutation importance: mean {explanation.unit} (over "
            f"{_PERMUTATION_REPEATS} shuffles), most important first",
            ("feature", "mean_score_decrease", "std", "importance_share"),
            rows,
        )
    columns = explanation.n_model_columns
    rows = tuple(
        (
            explanation.features[i],
            float(explanation.importance[i]),
            float(shares[i]),
            1 if columns is None else int(columns[i]),
        )
        for i in order
    )
    return Table(
        "feature_importance",
        f"Mean |SHAP value| per feature ({explanation.unit}), most important first",
        ("feature", "mean_abs_shap", "importance_share", "model_columns"),
        rows,
    )


def _summary_curve(
    ctx: AuditContext, explanation: _Explanation, order: np.ndarray, shares: np.ndarray
) -> Curve:
    """A beeswarm-like scatter: one row per feature, one point per explained test row."""
    values = explanation.values
    if values.ndim == 3:  # multiclass: each row's value for the class it is predicted
        predicted = ctx.test_eval.y_pred[explanation.rows]
        values = values[np.arange(len(values)), :, predicted]
    shown = [int(i) for i in order[:_MAX_SHOWN_FEATURES] if shares[i] > 0]
    n_points = min(len(values), _MAX_POINTS // len(shown))
    frame = ctx.test.iloc[explanation.rows[:n_points]]
    rng = rng_for(ctx.seed, CHECK_ID + ".jitter")
    groups: dict[str, tuple[list[float], list[float]]] = {
        name: ([], []) for name in _LEVEL_NAMES.values()
    }
    for rank, i in enumerate(shown):
        position = len(shown) - 1 - rank  # the most important feature at the top
        levels = _levels(frame[explanation.features[i]])
        jitter = rng.uniform(-1.0, 1.0, size=n_points)
        for level, name in _LEVEL_NAMES.items():
            mask = levels == level
            centre = position + _BAND_CENTRES.get(level, 0.0)
            spread = _BAND_JITTER if level in _BAND_CENTRES else _JITTER
            groups[name][0].extend(values[:n_points, i][mask].tolist())
            groups[name][1].extend((centre + spread * jitter[mask]).tolist())
    # Six significant digits are beyond what a figure shows; the jitter needs three decimals.
    series = tuple(
        Series(name, tuple(float(f"{x:.6g}") for x in xs), tuple(round(y, 3) for y in ys))
        for name, (xs, ys) in groups.items()
        if xs
    )
    if ctx.task == "binary":
        up = f"towards {ctx.target!r} = {ctx.positive_class!r}"
    elif ctx.task == "regression":
        up = f"a higher {ctx.target!r}"
    else:
        up = "more confidence in the predicted class"
    return Curve(
        "shap_summary",
        "How each feature moves the predictions",
        "scatter",
        f"Effect on the prediction: SHAP value in {explanation.unit}",
        "Feature (most important at the top)",
        series,
        f"Each row of points is a feature, ordered by mean |SHAP value| with the most "
        f"important at the top; each point is one of {n_points:,} explained test rows. A "
        "point right of the dashed zero line means that feature pushed that row's prediction "
        f"up ({up}), left means down; the further from zero, the stronger the push. Within a "
        "feature's row, rows with a high value of the feature sit in the upper band, middle "
        "values in the centre and low values in the lower band (thirds of the rows shown); "
        "categories and missing values spread over the whole row. So high values on the "
        "right mean: the higher the feature, the higher the prediction.",
        y_tick_labels=tuple(explanation.features[i] for i in reversed(shown)),
    )


_LEVEL_NAMES = {0: "low value", 1: "middle value", 2: "high value", 3: "category or missing"}


def _levels(values: pd.Series) -> np.ndarray:
    """0/1/2 for the bottom, middle and top third of a numeric column; 3 otherwise."""
    levels = np.full(len(values), 3)
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return levels
    numbers = values.to_numpy(dtype=float, na_value=np.nan)
    present = np.isfinite(numbers)
    distinct = np.unique(numbers[present])
    if len(distinct) == 0:
        return levels
    if len(distinct) <= 3:
        # Two or three values (a flag, a count): lowest, (middle,) highest.
        codes = np.searchsorted(distinct, numbers[present])
        levels[present] = codes * 2 if len(distinct) == 2 else codes
        return levels
    ranks = pd.Series(numbers[present]).rank(pct=True).to_numpy()
    levels[present] = np.where(ranks <= 1 / 3, 0, np.where(ranks <= 2 / 3, 1, 2))
    return levels


def _summary(ctx, explanation, order, shares, total, params) -> str:
    method = _METHOD_TEXT[explanation.method]
    n_rows, n_test = len(explanation.rows), len(ctx.test)
    coverage = (
        f"all {n_test:,} test rows" if n_rows == n_test else f"{n_rows:,} of {n_test:,} test rows"
    )
    if explanation.budget_limited:
        coverage += f" (as many as the {params.time_budget_s:g} s budget allowed)"
    parts = []
    reasons = "; ".join(explanation.notes)
    if explanation.method == "permutation_importance":
        parts.append(
            f"shap could not explain the model ({reasons}), so permutation importance was measured instead."
        )
    elif explanation.notes:
        parts.append(f"The model-specific explainer could not be used ({reasons}).")
    folded = ""
    if explanation.n_model_columns is not None and int(explanation.n_model_columns.sum()) > len(
        explanation.features
    ):
        folded = (
            f", its {int(explanation.n_model_columns.sum())} encoded columns summed back to "
            f"{len(explanation.features)} original columns"
        )
    verb = "Measured on" if explanation.method == "permutation_importance" else "Explained"
    parts.append(f"{verb} {coverage} with {method}{folded}.")
    if total <= 0:
        parts.append("No feature changes the predictions measurably.")
        return " ".join(parts)
    top = [int(i) for i in order[:3] if shares[i] > 0]
    lead = f"{explanation.features[top[0]]!r} carries {shares[top[0]]:.0%} of the total importance"
    if shares[top[0]] >= params.warn_share and len(explanation.features) > 1:
        lead += f" (warn at {params.warn_share:.0%})"
    if len(top) > 1:
        rest = ", ".join(f"{explanation.features[i]!r} {shares[i]:.0%}" for i in top[1:])
        lead += f"; next: {rest}"
    parts.append(lead + ".")
    return " ".join(parts)
