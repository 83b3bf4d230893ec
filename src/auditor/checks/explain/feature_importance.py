"""``explain.feature_importance``: which features the model relies on, and whether one dominates."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from auditor.context import AuditContext
from auditor.engine import explainers
from auditor.engine.explainers import METHOD_TEXT, PERMUTATION_REPEATS, Explanation
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
    explanation = explainers.explain(
        ctx, max_rows=params.max_rows, background_rows=params.background_rows, deadline=deadline
    )
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


def _importance_table(explanation: Explanation, order: np.ndarray, shares: np.ndarray) -> Table:
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
            f"{PERMUTATION_REPEATS} shuffles), most important first",
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
    ctx: AuditContext, explanation: Explanation, order: np.ndarray, shares: np.ndarray
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
    method = METHOD_TEXT[explanation.method]
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
