"""Shared cross-validation: folds that follow the data, refits against scikit-learn, failures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_validate
from sklearn.tree import DecisionTreeClassifier

from _factories_evaluation import (
    TASKS,
    CountingClassifier,
    FailsOnFewRows,
    FailsWithoutSentinel,
    context,
    fitted,
    linear_model,
    run,
    split,
)
from auditor import evaluation
from auditor.errors import NotApplicable
from auditor.evaluation import (
    AllFitsFailedError,
    cv_folds,
    cv_metrics,
    fold_scores,
    model_cv,
    predict_frame,
    time_values,
)
from auditor.spec import EvaluationSettings


def _scorer(key: str) -> tuple[str, float]:
    """The scikit-learn scorer name of a metric key and the sign that undoes ``neg_``."""
    from sklearn.metrics import get_scorer_names

    if key in get_scorer_names():
        return key, 1.0
    return f"neg_{key}", -1.0


@pytest.fixture(scope="module", params=TASKS)
def refitted(request):
    task = request.param
    train, test = split(task, 0)
    model = fitted(linear_model(task), train)
    return task, train, model, context(train, test, model)


def test_fold_scores_equal_sklearn_cross_validate_on_the_same_folds(refitted):
    task, train, model, ctx = refitted
    cv = model_cv(ctx)
    metrics = cv_metrics(ctx, has_proba=task != "regression")
    folds = list(zip(cv.folds.train, cv.folds.valid, strict=True))
    names = {m.key: _scorer(m.key) for m in metrics}
    expected = cross_validate(
        clone(model),
        train[list(ctx.model_features)],
        train["y"],
        cv=folds,
        scoring=[name for name, _ in names.values()],
        return_train_score=True,
    )
    valid = fold_scores(ctx, cv, metrics)
    fit_rows = fold_scores(ctx, cv, metrics, part="train")
    for j, metric in enumerate(metrics):
        name, sign = names[metric.key]
        np.testing.assert_allclose(
            valid[:, j], sign * expected[f"test_{name}"], rtol=0, atol=1e-10, err_msg=metric.key
        )
        np.testing.assert_allclose(
            fit_rows[:, j], sign * expected[f"train_{name}"], rtol=0, atol=1e-10
        )
    assert len(metrics) >= 4


def test_random_folds_partition_the_rows_and_stratify(refitted):
    task, train, _, ctx = refitted
    folds = cv_folds(ctx)
    assert folds.n_folds == 5
    assert folds.source == "train"
    every = np.sort(np.concatenate(folds.valid))
    np.testing.assert_array_equal(every, np.arange(len(train)))
    for fit_rows, valid_rows in zip(folds.train, folds.valid, strict=True):
        assert not set(fit_rows) & set(valid_rows)
        assert len(fit_rows) + len(valid_rows) == len(train)
    if task != "regression":
        assert folds.scheme.startswith("5-fold stratified")
        for label in train["y"].unique():
            counts = [int((train["y"].iloc[v] == label).sum()) for v in folds.valid]
            assert max(counts) - min(counts) <= 1
    else:
        assert folds.scheme.startswith("5-fold shuffled")


def test_repeats_reshuffle_and_depend_on_the_seed():
    train, test = split("binary", 0)
    model = fitted(linear_model("binary"), train)
    four_by_three = EvaluationSettings(folds=4, repeats=3)
    folds = cv_folds(context(train, test, model, evaluation=four_by_three))
    assert folds.n_folds == 12
    assert folds.repeat == (1,) * 4 + (2,) * 4 + (3,) * 4
    assert "repeated 3 times" in folds.scheme
    first, second = (sorted(tuple(v) for v in folds.valid[4 * r : 4 * r + 4]) for r in range(2))
    assert first != second
    same = cv_folds(context(train, test, model, evaluation=four_by_three))
    other = cv_folds(context(train, test, model, seed=1, evaluation=four_by_three))
    # [evaluation] seed overrides the audit seed for the folds alone.
    pinned = EvaluationSettings(folds=4, repeats=3, seed=0)
    assert all(
        np.array_equal(a, b)
        for a, b in zip(
            folds.valid,
            cv_folds(context(train, test, model, seed=1, evaluation=pinned)).valid,
            strict=True,
        )
    )
    assert all(np.array_equal(a, b) for a, b in zip(folds.valid, same.valid, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(folds.valid, other.valid, strict=True))


def _with_groups(frame: pd.DataFrame, n_groups: int, seed: int) -> pd.DataFrame:
    out = frame.copy()
    out["customer"] = np.random.default_rng(seed).integers(0, n_groups, len(out))
    return out


@pytest.mark.parametrize(
    ("task", "scheme"),
    [("binary", "stratified group"), ("multiclass", "stratified group"), ("regression", "group")],
)
def test_group_folds_never_put_a_group_on_both_sides(task, scheme):
    train, test = split(task, 1)
    train, test = _with_groups(train, 60, 1), _with_groups(test, 60, 2)
    model = fitted(linear_model(task), train.drop(columns="customer"))
    folds = cv_folds(context(train, test, model, columns=_roles(group="customer")))
    assert folds.scheme == f"5-fold {scheme} cross-validation by 'customer'"
    groups = train["customer"].to_numpy()
    for fit_rows, valid_rows in zip(folds.train, folds.valid, strict=True):
        assert not set(groups[fit_rows]) & set(groups[valid_rows])
    assert sorted(np.concatenate(folds.valid)) == list(range(len(train)))


def _roles(**declared):
    from auditor.spec import ColumnRolesSpec

    return ColumnRolesSpec(**declared)


def test_group_folds_are_not_stratified_when_a_class_is_rarer_than_the_folds():
    train, test = split("binary", 2)
    train, test = _with_groups(train, 40, 3), _with_groups(test, 40, 4)
    train.loc[3:, "y"] = 0
    train.loc[[0, 1, 2], "y"] = 1  # 3 positives: fewer than 5 folds
    model = fitted(linear_model("binary"), train.drop(columns="customer"))
    folds = cv_folds(context(train, test, model, columns=_roles(group="customer")))
    assert folds.scheme == "5-fold group cross-validation by 'customer'"
    assert any("rarest class has 3 rows" in note for note in folds.notes)


def _dated(frame: pd.DataFrame, seed: int, n_days: int = 40) -> pd.DataFrame:
    """Add an ISO date column with many rows per day (ties), in random row order."""
    out = frame.copy()
    days = np.random.default_rng(seed).integers(0, n_days, len(out))
    out["day"] = (pd.Timestamp("2024-01-01") + pd.to_timedelta(days, unit="D")).strftime("%Y-%m-%d")
    return out


@pytest.mark.parametrize("as_type", ["text", "datetime", "number"])
def test_time_folds_never_train_on_the_future(as_type):
    train, test = split("binary", 3)
    train, test = _dated(train, 5), _dated(test, 6)
    if as_type == "datetime":
        train["day"] = pd.to_datetime(train["day"])
        test["day"] = pd.to_datetime(test["day"])
    elif as_type == "number":
        train["day"] = pd.to_datetime(train["day"]).dt.day_of_year
        test["day"] = pd.to_datetime(test["day"]).dt.day_of_year
    model = fitted(linear_model("binary"), train.drop(columns="day"))
    folds = cv_folds(context(train, test, model, columns=_roles(time="day")))
    assert folds.scheme.startswith("5-fold time-ordered cross-validation on 'day'")
    t = time_values(train["day"])
    for fit_rows, valid_rows in zip(folds.train, folds.valid, strict=True):
        # Strict: a day with many rows (a tie) never straddles a boundary.
        assert t[fit_rows].max() < t[valid_rows].min()
    # Expanding window: each fold fits on every earlier row.
    for earlier, later in zip(folds.train[:-1], folds.train[1:], strict=True):
        assert set(earlier) < set(later)
    validated = np.concatenate(folds.valid)
    assert len(set(validated)) == len(validated)
    sizes = [len(v) for v in folds.valid]
    assert max(sizes) < 2 * min(sizes)  # slices of about n/6 rows, moved to day boundaries


def test_time_folds_leave_out_unparsable_times_and_need_enough_distinct_times():
    train, test = split("binary", 4)
    train, test = _dated(train, 7), _dated(test, 8)
    train.loc[:9, "day"] = None
    model = fitted(linear_model("binary"), train.drop(columns="day"))
    folds = cv_folds(context(train, test, model, columns=_roles(time="day")))
    assert "10 rows without a usable 'day' value were left out" in " ".join(folds.notes)
    assert not set(range(10)) & set(np.concatenate([*folds.train, *folds.valid]))

    few = _dated(train, 9, n_days=4)
    ctx = context(few, _dated(test, 9, n_days=4), model, columns=_roles(time="day"))
    with pytest.raises(NotApplicable, match="'day' has 4 distinct values; 5 time-ordered folds"):
        cv_folds(ctx)


def test_time_folds_with_groups_drop_validation_rows_of_groups_seen_earlier():
    train, test = split("binary", 5, n_train=800)
    train, test = _dated(_with_groups(train, 300, 1), 10), _dated(_with_groups(test, 300, 2), 11)
    model = fitted(linear_model("binary"), train.drop(columns=["day", "customer"]))
    ctx = context(train, test, model, columns=_roles(time="day", group="customer"))
    folds = cv_folds(ctx)
    groups = train["customer"].to_numpy()
    for fit_rows, valid_rows in zip(folds.train, folds.valid, strict=True):
        assert not set(groups[fit_rows]) & set(groups[valid_rows])
    assert any("group also appears in the earlier fitting rows" in n for n in folds.notes)


def test_cross_validation_runs_on_the_test_rows_without_training_data():
    train, test = split("regression", 6)
    model = fitted(linear_model("regression"), train)
    folds = cv_folds(context(None, test, model))
    assert folds.source == "test"
    assert folds.describe().endswith("on the 400 test rows (no training data was given)")


def test_too_few_rows_for_the_folds_skip():
    train, test = split("binary", 7, n_train=8, n_test=50)
    train.loc[:3, "y"], train.loc[4:, "y"] = 0, 1
    model = fitted(linear_model("binary"), train)
    with pytest.raises(NotApplicable, match="8 train rows are too few for 5-fold"):
        cv_folds(context(train, test, model))


def test_failed_fits_are_recorded_and_the_other_folds_scored():
    train, test = split("binary", 8)
    model = fitted(FailsWithoutSentinel(sentinel=float(train["x0"].iloc[0])), train)
    ctx = context(train, test, model)
    cv = model_cv(ctx)
    assert cv.n_failed == 1
    assert cv.failure_groups() == [("ValueError: planted failure: the sentinel row is missing", 1)]
    failed = next(i for i, fit in enumerate(cv.fits) if not fit.ok)
    assert 0 in cv.folds.valid[failed]
    scores = fold_scores(ctx, cv, cv_metrics(ctx, has_proba=True))
    assert np.isnan(scores[failed]).all()
    assert np.isfinite(np.delete(scores, failed, axis=0)).all()


def test_every_fit_failing_raises_saying_the_model_is_misconfigured():
    train, test = split("binary", 9)
    ctx = context(train, test, fitted(FailsOnFewRows(min_rows=500), train))
    with pytest.raises(AllFitsFailedError, match="All 5 cross-validation fits") as raised:
        model_cv(ctx)
    assert "very likely misconfigured" in str(raised.value)
    assert "5 fits raised TypeError: unsupported parameter combination" in str(raised.value)


def test_the_evaluation_checks_share_one_set_of_fits():
    train, test = split("binary", 10)
    ctx = context(train, test, fitted(CountingClassifier(), train))
    CountingClassifier.fits = 0
    statuses = [
        run(ctx, check).status
        for check in ("performance.cross_validation", "performance.overfit", "baseline.comparison")
    ]
    assert "error" not in statuses
    assert CountingClassifier.fits == 5


def test_unseeded_estimators_refit_reproducibly():
    train, test = split("binary", 11)
    model = fitted(
        RandomForestClassifier(n_estimators=5, random_state=None), train.drop(columns="colour")
    )
    first, second = (
        fold_scores(ctx, model_cv(ctx), cv_metrics(ctx, True))
        for ctx in (
            context(train.drop(columns="colour"), test.drop(columns="colour"), model)
            for _ in range(2)
        )
    )
    np.testing.assert_array_equal(first, second)
    seeded = RandomForestClassifier(random_state=7)
    assert evaluation._with_fixed_seeds(clone(seeded), 3).random_state == 7
    assert evaluation._with_fixed_seeds(clone(model), 3).random_state == 3


def test_probabilities_are_placed_by_class_when_a_fit_lacks_a_class():
    train, _ = split("multiclass", 12)
    two = train[train["y"] != "medium"]
    X = two[["x0", "x1"]]
    model = LogisticRegression(max_iter=1000).fit(X, two["y"])
    out = predict_frame(model, X, "multiclass", ("high", "low", "medium"))
    raw = model.predict_proba(X)  # columns in model.classes_ order: high, low
    np.testing.assert_array_equal(out.proba[:, :2], raw)
    np.testing.assert_array_equal(out.proba[:, 2], 0.0)


def test_parallel_refits_equal_sequential_refits():
    train, test = split("binary", 13)
    model = fitted(linear_model("binary"), train)
    sequential = context(train, test, model)
    parallel = context(train, test, model, n_jobs=2)
    metrics = cv_metrics(sequential, True)
    np.testing.assert_array_equal(
        fold_scores(sequential, model_cv(sequential), metrics),
        fold_scores(parallel, model_cv(parallel), metrics),
    )


def test_in_sample_scores_use_a_seeded_sample_of_large_fitting_sets(monkeypatch):
    monkeypatch.setattr(evaluation, "MAX_IN_SAMPLE_ROWS", 100)
    train, test = split("binary", 14)
    ctx = context(train, test, fitted(linear_model("binary"), train))
    cv = model_cv(ctx)
    for fit, fit_rows in zip(cv.fits, cv.folds.train, strict=True):
        assert len(fit.train_rows) == 100
        assert set(fit.train_rows) <= set(fit_rows)
        assert len(fit.train.y_pred) == 100
    again = model_cv(context(train, test, fitted(linear_model("binary"), train)))
    assert all(
        np.array_equal(a.train_rows, b.train_rows) for a, b in zip(cv.fits, again.fits, strict=True)
    )
    assert np.isfinite(fold_scores(ctx, cv, cv_metrics(ctx, True), part="train")).all()


@pytest.mark.parametrize("task", ["binary", "multiclass"])
@pytest.mark.parametrize(
    "make",
    [
        lambda: HistGradientBoostingClassifier(max_iter=30, random_state=0),
        lambda: RandomForestClassifier(n_estimators=20, random_state=0),
        lambda: DecisionTreeClassifier(max_depth=4, random_state=0),
    ],
    ids=["hgb", "forest", "tree"],
)
def test_labels_read_from_probabilities_are_what_predict_returns(task, make):
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    train, test = split(task, 41)
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["colour"]),
        remainder="passthrough",
    )
    for model in (make_pipeline(encode, make()), make()):
        columns = (
            list(train.columns.drop("y")) if hasattr(model, "steps") else ["x0", "x1", "x2", "x3"]
        )
        model.fit(train[columns], train["y"])
        classes = tuple(model.classes_)
        assert evaluation._labels_are_argmax(model)
        out = predict_frame(model, test[columns], task, classes)
        assert np.array_equal(out.y_pred, model.predict(test[columns]))
        assert np.allclose(out.proba, model.predict_proba(test[columns]))


def test_other_classifiers_and_subclasses_still_run_predict():
    class Thresholded(HistGradientBoostingClassifier):
        def predict(self, X):
            return np.where(self.predict_proba(X)[:, 1] > 0.8, self.classes_[1], self.classes_[0])

    train, test = split("binary", 42)
    columns = ["x0", "x1", "x2", "x3"]
    model = Thresholded(max_iter=20).fit(train[columns], train["y"])
    assert not evaluation._labels_are_argmax(model)
    out = predict_frame(model, test[columns], "binary", tuple(model.classes_))
    assert np.array_equal(out.y_pred, model.predict(test[columns]))
