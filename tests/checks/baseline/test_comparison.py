"""``baseline.comparison``: paired tests against dummies, a linear model and a user baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_validate
from sklearn.pipeline import make_pipeline

from _factories_evaluation import (
    context,
    fitted,
    linear_model,
    predictions_frame,
    run,
    split,
)
from auditor.engine.baselines import baseline_features, linear_baseline
from auditor.evaluation import HOLDOUT_STREAM, cv_folds
from auditor.spec import EvaluationSettings
from auditor.stats.bootstrap import resample_weights
from auditor.stats.paired import corrected_resampled_t_test
from auditor.stats.random import rng_for

CHECK_ID = "baseline.comparison"
LABELS = ["Dummy (prior)", "Dummy (most frequent)", "Dummy (stratified)", "Logistic regression"]


@pytest.fixture(scope="module")
def data():
    return split("binary", 50)


@pytest.fixture(scope="module")
def useless(data):
    """A linear model fitted on shuffled labels: it has learned nothing."""
    train, _ = data
    shuffled = train.copy()
    shuffled["y"] = np.random.default_rng(0).permutation(shuffled["y"].to_numpy())
    return fitted(linear_model("binary"), shuffled)


@pytest.fixture(scope="module")
def good(data):
    return fitted(linear_model("binary"), data[0])


def weak_model(train):
    """Logistic regression on x1 alone: better than a dummy, worse than using every feature."""
    only_x1 = make_column_transformer(("passthrough", ["x1"]))
    return fitted(make_pipeline(only_x1, LogisticRegression()), train)


def codes(result) -> list[str]:
    return [f.code for f in result.findings]


def test_a_model_fitted_on_shuffled_labels_fails(data, useless):
    train, test = data
    result = run(context(train, test, useless), CHECK_ID)
    assert result.status == "fail"
    assert codes(result) == ["not_better_than_baseline", "worse_than_linear"]
    assert result.findings[0].evidence["baseline"] in {"prior", "most_frequent", "stratified"}
    # Its refits on the real labels are fine: the folds judge the recipe, not this model.
    assert result.findings[0].evidence["cv_difference"] > 0.2


def test_a_good_model_passes(data, good):
    train, test = data
    result = run(context(train, test, good), CHECK_ID)
    assert result.status == "pass"
    # The model is itself a logistic regression: no better than the linear baseline, no worse.
    assert codes(result) == ["not_better_than_linear"]
    assert [row[0] for row in result.tables[0].rows] == ["Model", *LABELS]
    assert result.measurement("model_score").value == pytest.approx(
        roc_auc_score(test["y"], good.predict_proba(test.drop(columns="y"))[:, 1])
    )
    assert "significantly better than the trivial baselines on both paired tests" in (
        result.summary
    )


def test_a_model_that_beats_the_linear_baseline_has_no_finding():
    train, test = split("binary", 51, n_train=1000, n_test=600)
    for frame in (train, test):
        noise = np.random.default_rng(len(frame)).random(len(frame)) < 0.15
        frame["y"] = ((frame["x0"] * frame["x1"] > 0) ^ noise).astype(int)  # an interaction
    numeric = make_column_transformer(("passthrough", ["x0", "x1", "x2", "x3"]))
    model = make_pipeline(numeric, HistGradientBoostingClassifier(max_iter=50, random_state=0))
    result = run(context(train, test, fitted(model, train)), CHECK_ID)
    assert result.status == "pass"
    assert result.findings == ()
    assert [row[-1] for row in result.tables[1].rows] == ["better on 2 of 2"] * 4


def test_a_model_significantly_worse_than_the_linear_baseline_fails(data):
    train, test = data
    result = run(context(train, test, weak_model(train)), CHECK_ID)
    assert result.status == "fail"
    assert codes(result) == ["worse_than_linear"]
    assert result.measurement("difference_to_best_baseline").ci_high < 0


def test_predictions_only_mode_decides_on_the_test_rows(data, useless, good):
    train, test = data
    failing = run(context(train, test, predictions=predictions_frame(useless, test)), CHECK_ID)
    assert failing.status == "fail"
    assert "No model to refit (predictions only)" in failing.summary
    assert failing.measurement("cv_difference_to_best_baseline") is None
    passing = run(context(train, test, predictions=predictions_frame(good, test)), CHECK_ID)
    assert passing.status == "pass"
    assert "on the paired test." in passing.summary


def test_without_training_data_baselines_are_cross_validated_on_the_test_rows(data, good):
    _, test = data
    result = run(context(None, test, good), CHECK_ID)
    assert result.status == "pass"
    assert result.measurement("difference_to_best_baseline") is None
    assert result.measurement("cv_difference_to_best_baseline") is not None
    without_model = run(context(None, test, predictions=predictions_frame(good, test)), CHECK_ID)
    assert without_model.status == "skipped"
    assert without_model.skip_reason.startswith("baselines need training rows (--train)")


def test_the_corrected_t_test_uses_the_model_and_baseline_scores_on_the_same_folds(data, good):
    train, test = data
    ctx = context(train, test, good)
    result = run(ctx, CHECK_ID)
    folds = list(zip(cv_folds(ctx).train, cv_folds(ctx).valid, strict=True))
    X = train.drop(columns="y")
    scores = {
        name: cross_validate(clone(estimator), X, train["y"], cv=folds, scoring="roc_auc")[
            "test_score"
        ]
        for name, estimator in (
            ("model", good),
            ("linear", linear_baseline(ctx, baseline_features(ctx))),
        )
    }
    expected = corrected_resampled_t_test(
        scores["model"] - scores["linear"], n_train=480, n_test=120
    )
    row = result.tables[1].rows[3]
    assert row[0] == "Logistic regression"
    assert row[5] == pytest.approx(expected.mean, abs=1e-10)
    assert row[6] == pytest.approx(expected.p_value, abs=1e-8)


def test_the_holdout_interval_is_a_paired_bootstrap_of_the_difference(data):
    train, test = data
    model = weak_model(train)
    ctx = context(train, test, model, evaluation=EvaluationSettings(bootstrap_resamples=200))
    result = run(ctx, CHECK_ID)
    baseline = linear_baseline(ctx, baseline_features(ctx)).fit(train.drop(columns="y"), train["y"])
    X = test.drop(columns="y")
    p_model, p_base = model.predict_proba(X)[:, 1], baseline.predict_proba(X)[:, 1]
    differences = [
        roc_auc_score(test["y"], p_model, sample_weight=w)
        - roc_auc_score(test["y"], p_base, sample_weight=w)
        for w in np.vstack(list(resample_weights(len(test), 200, rng_for(0, HOLDOUT_STREAM))))
    ]
    row = result.tables[1].rows[3]
    assert row[1] == pytest.approx(
        roc_auc_score(test["y"], p_model) - roc_auc_score(test["y"], p_base)
    )
    assert (row[2], row[3]) == pytest.approx(tuple(np.quantile(differences, [0.025, 0.975])))
    assert row[4] == pytest.approx(np.mean(np.array(differences) <= 0))


def test_a_user_baseline_the_model_does_not_beat_fails(data, good):
    train, test = data
    result = run(context(train, test, weak_model(train), baseline_model=good), CHECK_ID)
    assert result.status == "fail"
    user = next(f for f in result.findings if f.evidence.get("baseline") == "user")
    assert user.code == "not_better_than_baseline"
    assert result.tables[0].rows[-1][0] == "Your baseline (Pipeline)"


def test_a_user_baseline_the_model_beats_passes(data, good):
    train, test = data
    result = run(context(train, test, good, baseline_model=weak_model(train)), CHECK_ID)
    assert result.status == "pass"
    assert result.tables[1].rows[-1][-1] == "better on 2 of 2"


def test_regression_uses_mean_median_and_ridge():
    train, test = split("regression", 52)
    result = run(context(train, test, fitted(linear_model("regression"), train)), CHECK_ID)
    assert result.status == "pass"
    assert [row[0] for row in result.tables[0].rows] == [
        "Model",
        "Dummy (mean)",
        "Dummy (median)",
        "Ridge regression",
    ]
    assert result.curves[0].kind == "interval"
    assert result.curves[0].x_tick_labels[0] == "Model"


def test_an_inapplicable_metric_is_reported_with_the_valid_ones(data, good):
    train, test = data
    result = run(context(train, test, good), CHECK_ID, metric="r2")
    assert result.status == "error"
    assert (
        "metric 'r2' does not apply to these predictions; use one of roc_auc"
        in (result.error["message"])
    )


# --- --baseline-model: config key, CLI flag, trust policy ------------------------------------


def test_the_config_key_is_resolved_beside_the_config_file(tmp_path):
    from auditor.spec import spec_from_mapping

    spec = spec_from_mapping(
        {"baseline_model": "prod.skops"}, where="audit.toml", base_dir=tmp_path
    )
    assert spec.baseline_model == str(tmp_path / "prod.skops")
    assert spec.to_manifest()["baseline_model"] == "prod.skops"


@pytest.fixture(scope="module")
def files(tmp_path_factory, data, good):
    import skops.io

    train, test = data
    folder = tmp_path_factory.mktemp("baseline_cli")
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    skops.io.dump(good, folder / "model.skops")
    skops.io.dump(weak_model(train), folder / "prod.skops")
    return folder


def test_the_cli_flag_loads_and_compares_the_baseline_model(files):
    import json

    from typer.testing import CliRunner

    from auditor.cli.app import app

    out = files / "out"
    result = CliRunner().invoke(
        app,
        [
            "audit",
            *("--train", str(files / "train.csv"), "--test", str(files / "test.csv")),
            *("--target", "y", "--model", str(files / "model.skops")),
            *("--baseline-model", str(files / "prod.skops")),
            *("--select", CHECK_ID, "--format", "json", "--out-dir", str(out)),
        ],
    )
    assert result.exit_code == 0, result.output
    audit = json.loads((out / "audit.json").read_text())
    assert [f["role"] for f in audit["inputs"]][-1] == "baseline_model"
    assert audit["manifest"]["spec"]["baseline_model"] == "prod.skops"
    (check,) = audit["checks"]
    assert check["tables"][0]["rows"][-1][0] == "Your baseline (Pipeline)"


def test_a_pickled_baseline_model_needs_trust(files, good):
    import joblib
    from typer.testing import CliRunner

    from auditor.cli.app import app

    joblib.dump(good, files / "prod.pkl")
    result = CliRunner().invoke(
        app,
        [
            "audit",
            *("--test", str(files / "test.csv"), "--target", "y"),
            *("--model", str(files / "model.skops")),
            *("--baseline-model", str(files / "prod.pkl"), "--out-dir", str(files / "x")),
        ],
    )
    assert result.exit_code == 2
    assert "--baseline-model 'prod.pkl' is a pickle" in result.output
    assert not (files / "x").exists()


# --- building blocks of the baselines ---------------------------------------------------------


def test_category_encoder_equals_sklearn_imputer_and_one_hot_encoder():
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

    from auditor.engine.baselines import CategoryEncoder, as_text

    rng = np.random.default_rng(0)
    n = 2000
    fit = pd.DataFrame(
        {
            "plan": rng.choice(["free", "pro", "team", "rare"], n, p=[0.6, 0.3, 0.095, 0.005]),
            "mixed": rng.choice(np.array([1, "a", 2.5, "b"], dtype=object), n),
            "flag": rng.choice([True, False], n),
        }
    )
    fit.loc[rng.choice(n, 50, replace=False), "plan"] = None
    later = fit.sample(300, random_state=1).reset_index(drop=True)
    later.loc[:9, "plan"] = "never seen"
    later.loc[10:19, "mixed"] = None
    reference = make_pipeline(
        FunctionTransformer(as_text),
        SimpleImputer(strategy="most_frequent"),
        OneHotEncoder(handle_unknown="ignore", min_frequency=0.01),
    ).fit(fit)
    ours = CategoryEncoder(min_frequency=0.01).fit(fit)
    for frame in (fit, later):
        np.testing.assert_array_equal(
            ours.transform(frame).toarray(), reference.transform(frame).toarray()
        )


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_merging_identical_rows_leaves_a_bootstrap_unchanged(task):
    from auditor.context import Predictions
    from auditor.engine.baselines import merged_rows_statistic
    from auditor.metrics import metrics_for

    train, test = split(task, 53)
    ctx = context(train, test, fitted(linear_model(task), train))
    constant = np.tile(ctx.predictions.proba.mean(axis=0), (len(test), 1))
    labels = np.array(ctx.classes)[constant.argmax(axis=1)]
    data = ctx.eval_data(test["y"], Predictions(labels, constant))
    W = np.vstack(list(resample_weights(len(test), 50, np.random.default_rng(0))))
    for metric in metrics_for(data):
        merged = merged_rows_statistic(metric, data)
        np.testing.assert_allclose(merged(W), metric.weighted(data, W), rtol=1e-12, atol=1e-12)
