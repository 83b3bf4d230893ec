"""``explain.feature_importance``: shap paths, encoded columns traced back, dominance, fallbacks."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer, make_column_transformer
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import auditor
from auditor.checks.explain import feature_importance as fi
from auditor.engine import explainers
from auditor.inputs import load_inputs
from auditor.io.models import load_model
from auditor.spec import AuditSpec

CHECK_ID = "explain.feature_importance"
NUMERIC = ["x0", "x1", "x2", "x3"]


def make_frame(n: int, seed: int, *, leak: bool = False) -> pd.DataFrame:
    """Four numeric features of equal strength and a weaker categorical; optionally a leak.

    The leak is the label plus a little noise: the kind of column a post-outcome field is.
    """
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, 4)), columns=NUMERIC)
    frame["colour"] = rng.choice(["red", "green", "blue"], size=n)
    logit = frame[NUMERIC].sum(axis=1) * 0.8 + 0.5 * (frame["colour"] == "red")
    frame["y"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    if leak:
        frame["leak"] = frame["y"] + rng.normal(0, 0.3, size=n)
    return frame


def split(frame: pd.DataFrame, n_train: int = 1200):
    train, test = frame.iloc[:n_train], frame.iloc[n_train:].reset_index(drop=True)
    return train.drop(columns="y"), train["y"], test


def one_hot_pipeline(estimator):
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["colour"]), remainder="passthrough"
    )
    return make_pipeline(encode, estimator)


def check_of(model, test: pd.DataFrame, target: str = "y", seed: int = 0, **params):
    result = auditor.audit(
        test=test,
        target=target,
        model=model,
        seed=seed,
        select=[CHECK_ID],
        checks={CHECK_ID: params} if params else None,
    )
    check = result.check(CHECK_ID)
    assert check.status != "error", check.error
    return check


def context_of(model, test: pd.DataFrame, target: str = "y", seed: int = 0):
    return load_inputs(AuditSpec(target=target, seed=seed), test=test, model=model).context


def explained(ctx, **params):
    """The check's explanation object (per-row values, base value), within a long budget."""
    settings = fi.FeatureImportanceParams(**params)
    return explainers.explain(
        ctx,
        max_rows=settings.max_rows,
        background_rows=settings.background_rows,
        deadline=time.perf_counter() + 600,
    )


def table_rows(check) -> list[dict]:
    table = next(t for t in check.tables if t.key == "feature_importance")
    return [dict(zip(table.columns, row, strict=True)) for row in table.rows]


class LabelsOnly(ClassifierMixin, BaseEstimator):
    """A classifier that gives labels only: no probabilities, no decision scores."""

    def fit(self, X, y):
        self.model_ = one_hot_pipeline(LogisticRegression()).fit(X, y)
        self.classes_ = self.model_.classes_
        self.feature_names_in_ = self.model_.feature_names_in_
        return self

    def predict(self, X):
        return self.model_.predict(X)


class ProbaOnly(LabelsOnly):
    """A classifier of no family shap knows (not a tree, not linear), with probabilities."""

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


@pytest.fixture(scope="module")
def clean():
    return split(make_frame(1800, 0))


@pytest.fixture(scope="module")
def leaky():
    return split(make_frame(1800, 1, leak=True))


@pytest.fixture(scope="module")
def forest(clean):
    X, y, _ = clean
    return RandomForestClassifier(n_estimators=50, max_depth=8, random_state=0).fit(X[NUMERIC], y)


@pytest.fixture(scope="module")
def loans(request):
    paths = request.getfixturevalue("loans")
    model = load_model(paths["model"])
    test = pd.read_csv(paths["test"])
    check = check_of(model, test, target="default")
    return model, test, check


# --- The exact tree path ---------------------------------------------------------------------


def test_a_random_forest_is_explained_with_the_tree_algorithm(forest, clean):
    _, _, test = clean
    check = check_of(forest, test[[*NUMERIC, "y"]])
    assert check.status == "pass", check.summary
    assert "shap's exact tree algorithm" in check.summary
    assert "all 600 test rows" in check.summary
    assert {row["feature"] for row in table_rows(check)} == set(NUMERIC)
    assert sum(row["importance_share"] for row in table_rows(check)) == pytest.approx(1)
    assert check.measurement("n_explained_rows").value == 600
    assert check.measurement("top_feature_share").value < 0.4


def test_tree_values_add_up_to_the_forest_probability(forest, clean):
    _, _, test = clean
    ctx = context_of(forest, test[[*NUMERIC, "y"]])
    explanation = explained(ctx)
    assert explanation.method == "tree"
    rows = explanation.rows[:25]
    expected = forest.predict_proba(test.loc[rows, NUMERIC])[:, ctx.positive]
    total = explanation.values[:25].sum(axis=1) + explanation.base_value
    np.testing.assert_allclose(total, expected, atol=1e-6)


def test_tree_values_of_the_pipeline_add_up_to_its_log_odds(loans):
    model, test, _ = loans
    ctx = context_of(model, test, target="default")
    explanation = explained(ctx, max_rows=50)
    assert explanation.method == "tree"
    X = test.iloc[explanation.rows][list(model.feature_names_in_)]
    total = explanation.values.sum(axis=1) + explanation.base_value
    np.testing.assert_allclose(total, model.decision_function(X), atol=1e-6)


def test_one_hot_columns_of_the_pipeline_are_summed_back_to_their_source_column(loans):
    model, test, check = loans
    rows = table_rows(check)
    features = list(model.feature_names_in_)
    assert sorted(row["feature"] for row in rows) == sorted(features)
    encoder = model.named_steps["prep"].named_transformers_["cat"]
    expected_columns = dict.fromkeys(features, 1)
    for column, categories in zip(encoder.feature_names_in_, encoder.categories_, strict=True):
        expected_columns[column] = len(categories)
    assert {row["feature"]: row["model_columns"] for row in rows} == expected_columns
    width = model[:-1].transform(test[features].head(1)).shape[1]
    assert sum(expected_columns.values()) == width
    assert f"its {width} encoded columns summed back to {len(features)} original columns" in (
        check.summary
    )


def test_the_bundled_loan_model_is_explained_quickly_and_passes(loans):
    _, test, check = loans
    assert check.status == "pass", check.summary
    assert check.measurement("top_feature_share").value < 0.5
    assert check.measurement("n_explained_rows").value == len(test)
    # Path-dependent TreeSHAP on 1,500 rows of a 150-tree model, shap's import included.
    assert check.duration_s < 10


def test_a_multiclass_tree_model_sums_importance_over_classes(seed):
    rng = np.random.default_rng(seed)
    n = 900
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    y = np.digitize(X["a"] + 0.5 * X["b"] + rng.normal(0, 0.5, n), [-0.5, 0.5])
    model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X[:600], y[:600])
    test = X[600:].assign(y=y[600:]).reset_index(drop=True)
    ctx = context_of(model, test)
    explanation = explained(ctx)
    assert explanation.values.shape == (300, 3, 3)
    total = explanation.values.sum(axis=1) + explanation.base_value
    X_explained = test.iloc[explanation.rows][["a", "b", "c"]]
    np.testing.assert_allclose(total, model.decision_function(X_explained), atol=1e-6)
    np.testing.assert_allclose(
        explanation.importance, np.abs(explanation.values).sum(axis=2).mean(axis=0)
    )
    check = check_of(model, test)
    assert [row["feature"] for row in table_rows(check)][0] == "a"
    assert "of the predicted class" in check.curves[0].x_label


# --- Dominance -------------------------------------------------------------------------------

ESTIMATORS = {
    "linear": lambda: LogisticRegression(),
    "tree": lambda: HistGradientBoostingClassifier(max_iter=50, random_state=0),
}


@pytest.mark.parametrize("kind", list(ESTIMATORS))
def test_a_leaked_copy_of_the_label_is_flagged(kind, leaky):
    X, y, test = leaky
    model = one_hot_pipeline(ESTIMATORS[kind]()).fit(X, y)
    check = check_of(model, test)
    assert check.status == "warn", check.summary
    (finding,) = check.findings
    assert (finding.code, finding.severity, finding.columns) == (
        "dominant_feature",
        "medium",
        ("leak",),
    )
    share = check.measurement("top_feature_share").value
    assert share >= 0.6
    assert finding.evidence == {"share": share, "warn_share": 0.6, "method": kind}
    assert f"'leak' carries {share:.0%} of the model's total importance (warn at 60%)" in (
        finding.message
    )
    assert "leakage.target" in finding.message


@pytest.mark.parametrize("kind", list(ESTIMATORS))
def test_a_clean_model_with_comparable_features_is_not_flagged(kind, clean):
    X, y, test = clean
    model = one_hot_pipeline(ESTIMATORS[kind]()).fit(X, y)
    check = check_of(model, test)
    assert check.status == "pass", check.summary
    assert check.findings == ()
    shares = [row["importance_share"] for row in table_rows(check)]
    assert max(shares) < 0.4
    assert sorted(row["feature"] for row in table_rows(check)) == sorted([*NUMERIC, "colour"])


def test_warn_share_is_the_threshold(leaky):
    X, y, test = leaky
    model = one_hot_pipeline(LogisticRegression()).fit(X, y)
    share = check_of(model, test).measurement("top_feature_share").value
    assert check_of(model, test, warn_share=round(share + 0.01, 2)).status == "pass"
    assert check_of(model, test, warn_share=round(share - 0.01, 2)).status == "warn"


@pytest.mark.parametrize(("sample", "target"), [("housing", "price"), ("tickets", "priority")])
def test_the_bundled_linear_models_pass(sample, target, request):
    paths = request.getfixturevalue(sample)
    check = check_of(load_model(paths["model"]), pd.read_csv(paths["test"]), target=target)
    assert check.status == "pass", check.summary
    assert "linear explainer" in check.summary
    assert check.measurement("top_feature_share").value < 0.5


# --- Fallbacks -------------------------------------------------------------------------------


def test_a_model_giving_only_labels_falls_back_to_permutation_importance(clean):
    X, y, test = clean
    check = check_of(LabelsOnly().fit(X, y), test)
    assert check.status == "pass", check.summary
    assert check.summary.startswith(
        "shap could not explain the model (the LabelsOnly gives neither probabilities nor "
        "scores, only labels, which shap cannot attribute to features), so permutation "
        "importance was measured instead."
    )
    table = check.tables[0]
    assert table.columns == ("feature", "mean_score_decrease", "std", "importance_share")
    assert "Balanced accuracy" in table.title
    assert sorted(row[0] for row in table.rows) == sorted([*NUMERIC, "colour"])
    assert check.curves == ()
    assert check.measurement("n_explained_rows").value == 600


def test_without_shap_permutation_importance_is_used(clean, monkeypatch):
    def no_shap():
        raise ImportError("No module named 'shap'")

    monkeypatch.setattr(explainers, "_import_shap", no_shap)
    X, y, test = clean
    check = check_of(one_hot_pipeline(LogisticRegression()).fit(X, y), test)
    assert check.summary.startswith(
        "shap could not explain the model (shap could not be imported (No module named 'shap'))"
    )
    assert "ROC AUC" in check.tables[0].title


def test_other_models_are_explained_model_agnostically_in_original_columns(clean):
    X, y, test = clean
    model = ProbaOnly().fit(X, y)
    small = test.head(200)
    check = check_of(model, small, max_rows=60)
    assert "shap's model-agnostic permutation explainer" in check.summary
    assert sorted(row["feature"] for row in table_rows(check)) == sorted([*NUMERIC, "colour"])
    assert check.curves


def test_the_agnostic_values_add_up_and_leave_numpys_global_state_alone(clean):
    X, y, test = clean
    model = ProbaOnly().fit(X, y)
    ctx = context_of(model, test.head(200))
    before = np.random.get_state()[1].copy()
    explanation = explained(ctx, max_rows=40)
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    assert explanation.method == "permutation_shap"
    frame = test.head(200).iloc[explanation.rows][[*NUMERIC, "colour"]]
    total = explanation.values.sum(axis=1) + explanation.base_value
    np.testing.assert_allclose(total, model.predict_proba(frame)[:, 1], atol=1e-9)


def test_untraceable_encoded_columns_fall_back_to_the_original_columns(clean):
    X, y, test = clean
    encode = make_column_transformer(
        (OneHotEncoder(sparse_output=False), ["colour"]), remainder="passthrough"
    )
    # PCA components mix every input column: none can be traced to one source.
    model = make_pipeline(encode, PCA(n_components=3), LogisticRegression()).fit(X, y)
    check = check_of(model, test.head(200), max_rows=40)
    assert "could not be traced to an original column" in check.summary
    assert "model-agnostic permutation explainer" in check.summary
    assert sorted(row["feature"] for row in table_rows(check)) == sorted([*NUMERIC, "colour"])


def test_native_categorical_splits_are_not_read_by_the_tree_algorithm(clean):
    X, y, test = clean
    codes = {"red": 0, "green": 1, "blue": 2}
    X = X.assign(colour=X["colour"].map(codes))
    model = HistGradientBoostingClassifier(
        max_iter=20, categorical_features=[4], random_state=0
    ).fit(X, y)
    small = test.head(200).assign(colour=lambda d: d["colour"].map(codes))
    check = check_of(model, small, max_rows=40)
    assert "does not read the native categorical splits" in check.summary
    assert "model-agnostic permutation explainer" in check.summary


# --- Tracing encoded columns -----------------------------------------------------------------


def test_encoded_columns_are_traced_to_their_source_columns():
    frame = pd.DataFrame(
        {
            "age": [30.0, 40.0, 50.0, 60.0],
            "age_band": ["young", "young", "old", "old"],
            "income": [1.0, np.nan, 3.0, 4.0],
            "note": ["a", "b", "c", "d"],
            "x": [1.0, 2.0, 3.0, 4.0],
        }
    )
    ct = ColumnTransformer(
        [
            ("onehot", OneHotEncoder(), ["age_band"]),
            ("imp", SimpleImputer(add_indicator=True), ["income"]),
            ("scale", StandardScaler(), ["age"]),
            ("skip", "drop", ["note"]),
        ],
        remainder="passthrough",
    )
    pre = Pipeline([("ct", ct), ("scale", StandardScaler())]).fit(frame)
    features = list(frame.columns)
    names, weights = explainers._source_weights(pre, features)
    assert np.allclose(weights.sum(axis=1), 1)
    sources = {
        name: features[int(np.argmax(row))] for name, row in zip(names, weights, strict=True)
    }
    assert sources == {
        "onehot__age_band_old": "age_band",
        "onehot__age_band_young": "age_band",
        "imp__income": "income",
        "imp__missingindicator_income": "income",
        "scale__age": "age",
        "remainder__x": "x",
    }


def test_an_output_built_from_several_columns_is_shared_between_them():
    assert explainers._match_sources("age income", ["age", "income", "x"]) == [0, 1]
    with pytest.raises(explainers._Unexplainable, match="'pca0' could not be traced"):
        explainers._match_sources("pca0", ["a", "c"])


# --- The figure and the budget ---------------------------------------------------------------


def test_the_summary_figure_puts_the_most_important_feature_on_top(loans):
    _, _, check = loans
    (curve,) = check.curves
    assert (curve.key, curve.kind) == ("shap_summary", "scatter")
    ranked = [row["feature"] for row in table_rows(check)]
    k = min(12, len(ranked))
    assert curve.y_tick_labels == tuple(reversed(ranked[:k]))
    points = sum(len(s.x) for s in curve.series)
    assert points <= 2000
    assert {s.name for s in curve.series} <= {
        "low value",
        "middle value",
        "high value",
        "category or missing",
    }
    ys = np.concatenate([s.y for s in curve.series])
    assert np.all(np.abs(ys - np.round(ys)) <= 0.3 + 1e-9)
    assert set(np.round(ys).astype(int)) == set(range(k))
    assert curve.x_label == "Effect on the prediction: SHAP value in log-odds of 'default' = 1"
    # Within a feature's row, low values sit in the lower band and high values in the upper
    # one, so the value is read from the position, not from the colour alone.
    offsets = {s.name: np.asarray(s.y) - np.round(s.y) for s in curve.series}
    assert np.all(offsets["low value"] < -0.1)
    assert np.all(offsets["high value"] > 0.1)
    assert np.all(np.abs(offsets["middle value"]) < 0.1)


def test_levels_split_a_numeric_column_in_thirds_and_keep_categories_apart():
    levels = fi._levels(pd.Series([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, np.nan]))
    assert levels.tolist() == [0, 0, 1, 1, 2, 2, 3]
    assert fi._levels(pd.Series([0, 1, 0, 1])).tolist() == [0, 2, 0, 2]
    assert fi._levels(pd.Series(["a", "b"])).tolist() == [3, 3]


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now


def test_a_slow_model_explains_a_ladder_count_of_rows_within_the_budget(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(explainers, "time", clock)

    def explain_rows(part):  # 0.1 s per row
        clock.now += 0.1 * (part.stop - part.start)
        return np.zeros((part.stop - part.start, 3))

    values, limited = explainers._in_budget(explain_rows, 2000, deadline=10.0)
    assert limited
    assert len(values) == 100  # 5 rows measured, then the 100 that 10 s afford
    assert clock.now == pytest.approx(10.0)


def test_a_fast_model_explains_every_sampled_row():
    values, limited = explainers._in_budget(
        lambda part: np.ones((part.stop - part.start, 2)), 777, 1e12
    )
    assert (values.shape, limited) == ((777, 2), False)


def test_the_result_is_reproducible(forest, clean):
    _, _, test = clean
    first = check_of(forest, test[[*NUMERIC, "y"]], max_rows=200)
    second = check_of(forest, test[[*NUMERIC, "y"]], max_rows=200)
    assert (first.tables, first.curves, first.summary) == (
        second.tables,
        second.curves,
        second.summary,
    )
    assert first.measurement("n_explained_rows").value == 200
