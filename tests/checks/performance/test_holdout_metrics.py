"""``performance.holdout_metrics`` on the bundled samples, against scikit-learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

import auditor
from auditor.io.models import load_model

CHECK_ID = "performance.holdout_metrics"
# task -> (sample fixture, target column)
SAMPLES = {
    "binary": ("loans", "default"),
    "multiclass": ("tickets", "priority"),
    "regression": ("housing", "price"),
}
KEYS = {
    "binary": (
        "roc_auc",
        "average_precision",
        "log_loss",
        "brier_score",
        "accuracy",
        "balanced_accuracy",
        "f1",
        "precision",
        "recall",
        "matthews_corrcoef",
    ),
    "multiclass": (
        "roc_auc_ovr",
        "log_loss",
        "accuracy",
        "balanced_accuracy",
        "f1_macro",
        "matthews_corrcoef",
    ),
    "regression": (
        "r2",
        "mean_absolute_error",
        "root_mean_squared_error",
        "mean_absolute_percentage_error",
    ),
}
TASKS = list(SAMPLES)
CLASSIFICATION = ["binary", "multiclass"]


class Sample:
    """One bundled sample: its paths, the model's own predictions, and audits of it."""

    def __init__(self, request, task: str):
        fixture, self.target = SAMPLES[task]
        self.task = task
        self.paths = request.getfixturevalue(fixture)
        self.model = load_model(self.paths["model"])
        self.test = pd.read_csv(self.paths["test"])
        self.X = self.test[list(self.model.feature_names_in_)]
        self.y = self.test[self.target]
        self.y_pred = self.model.predict(self.X)
        self._audits: dict = {}

    def check(self, seed: int = 0, **params):
        key = (seed, tuple(sorted(params.items())))
        if key not in self._audits:
            result = auditor.audit(
                train=self.paths["train"],
                test=self.paths["test"],
                target=self.target,
                model=self.paths["model"],
                seed=seed,
                checks={CHECK_ID: params} if params else None,
                select=[CHECK_ID],
            )
            self._audits[key] = result.check(CHECK_ID)
        return self._audits[key]


@pytest.fixture(scope="module")
def samples(request):
    cache: dict[str, Sample] = {}

    def get(task: str) -> Sample:
        if task not in cache:
            cache[task] = Sample(request, task)
        return cache[task]

    return get


def _scorer_name(key: str) -> str:
    names = skm.get_scorer_names()
    return next(name for name in (key, f"neg_{key}") if name in names)


@pytest.mark.parametrize("task", TASKS)
def test_measures_the_metrics_of_the_task(task, samples):
    check = samples(task).check()
    assert check.status == "pass"
    assert [m.key for m in check.measurements] == [*KEYS[task], "n_test_rows"]
    assert check.measurement("n_test_rows").value == len(samples(task).test)


@pytest.mark.parametrize(
    ("task", "key"), [pytest.param(t, k, id=f"{t}-{k}") for t in TASKS for k in KEYS[t]]
)
def test_value_equals_sklearn_on_the_model_predictions(task, key, samples):
    sample = samples(task)
    scorer = skm.get_scorer(_scorer_name(key))
    expected = scorer._sign * scorer(sample.model, sample.X, sample.y)
    measurement = sample.check().measurement(key)
    assert measurement.value == pytest.approx(expected, rel=1e-12, abs=1e-12)
    assert measurement.greater_is_better is (scorer._sign > 0)


@pytest.mark.parametrize("task", TASKS)
def test_intervals_contain_the_value(task, samples):
    for m in samples(task).check().measurements:
        if m.key == "n_test_rows":
            assert (m.ci_low, m.ci_high) == (None, None)
            continue
        assert m.ci_low is not None, m.key
        assert m.ci_low <= m.value <= m.ci_high, m.key
        assert m.ci_low < m.ci_high, m.key


def _intervals(check) -> dict:
    return {m.key: (m.ci_low, m.ci_high) for m in check.measurements if m.key != "n_test_rows"}


@pytest.mark.parametrize("task", TASKS)
def test_same_seed_same_intervals_other_seed_other_intervals(task, samples):
    sample = samples(task)
    first = sample.check(seed=0)
    again = sample.check(seed=0)  # a fresh audit
    other = sample.check(seed=1)
    assert _intervals(first) == _intervals(again)
    assert _intervals(first) != _intervals(other)
    headline = KEYS[task][0]  # roc_auc, roc_auc_ovr, r2: continuous, so never tied by chance
    assert _intervals(first)[headline] != _intervals(other)[headline]
    assert [m.value for m in first.measurements] == [m.value for m in other.measurements]


@pytest.mark.parametrize("task", CLASSIFICATION)
def test_confusion_matrix_equals_sklearn(task, samples):
    sample = samples(task)
    classes = sample.model.classes_
    table = next(t for t in sample.check().tables if t.key == "confusion_matrix")
    assert table.columns == ("true \\ predicted", *map(str, classes))
    expected = skm.confusion_matrix(sample.y, sample.y_pred, labels=classes)
    assert [row[0] for row in table.rows] == [str(c) for c in classes]
    np.testing.assert_array_equal(np.array([row[1:] for row in table.rows]), expected)


@pytest.mark.parametrize("task", CLASSIFICATION)
def test_classification_report_equals_sklearn(task, samples):
    sample = samples(task)
    classes = sample.model.classes_
    table = next(t for t in sample.check().tables if t.key == "classification_report")
    expected = skm.precision_recall_fscore_support(sample.y, sample.y_pred, labels=classes)
    got = np.array([row[1:] for row in table.rows], dtype=float)
    np.testing.assert_allclose(got, np.column_stack(expected), rtol=1e-12)


@pytest.mark.parametrize("task", CLASSIFICATION)
def test_roc_curves_run_from_origin_to_corner_along_sklearn_points(task, samples):
    sample = samples(task)
    roc = next(c for c in sample.check().curves if c.key == "roc")
    proba = sample.model.predict_proba(sample.X)
    classes = list(sample.model.classes_)
    expected_series = 1 if task == "binary" else len(classes)
    assert len(roc.series) == expected_series
    for i, series in enumerate(roc.series):
        column = 1 if task == "binary" else i
        fpr, tpr, _ = skm.roc_curve(sample.y == classes[column], proba[:, column])
        assert (series.x[0], series.y[0]) == (0.0, 0.0)
        assert (series.x[-1], series.y[-1]) == (1.0, 1.0)
        assert len(series.x) <= 200
        assert set(zip(series.x, series.y, strict=True)) <= set(zip(fpr, tpr, strict=True))
        assert np.all(np.diff(series.x) >= 0)
        assert np.all(np.diff(series.y) >= 0)


def test_regression_tables_and_curves_use_every_test_row(samples):
    sample = samples("regression")
    check = sample.check()
    residuals = sample.y.to_numpy() - sample.y_pred
    (table,) = check.tables
    quantiles = [row[0] for row in table.rows]
    np.testing.assert_allclose(
        [row[1] for row in table.rows], np.quantile(residuals, quantiles), rtol=1e-12
    )
    scatter = next(c for c in check.curves if c.key == "predicted_vs_actual")
    np.testing.assert_array_equal(scatter.series[0].x, sample.y.to_numpy())
    np.testing.assert_array_equal(scatter.series[0].y, sample.y_pred)


@pytest.mark.parametrize("task", CLASSIFICATION)
@pytest.mark.parametrize(("extra", "warns"), [(1, True), (0, False)], ids=["below", "at_limit"])
def test_class_with_fewer_than_min_class_rows_warns(task, extra, warns, samples):
    sample = samples(task)
    counts = sample.y.value_counts()
    smallest, n_smallest = counts.idxmin(), int(counts.min())
    assert (counts == n_smallest).sum() == 1
    check = sample.check(min_class_rows=n_smallest + extra)
    if warns:
        assert check.status == "warn"
        (finding,) = check.findings
        assert (finding.code, finding.severity) == ("small_class", "medium")
        assert finding.evidence == {
            "class": str(smallest),
            "rows": n_smallest,
            "warn_below": n_smallest + 1,
        }
    else:
        assert (check.status, check.findings) == ("pass", ())


def test_regression_has_no_class_findings(samples):
    check = samples("regression").check(min_class_rows=10**6)
    assert (check.status, check.findings) == ("pass", ())


def test_predictions_file_gives_the_model_metrics(samples, tmp_path):
    sample = samples("binary")
    proba = sample.model.predict_proba(sample.X)
    path = tmp_path / "predictions.csv"
    pd.DataFrame({"prediction": sample.y_pred, "proba_1": proba[:, 1]}).to_csv(path, index=False)
    result = auditor.audit(
        train=sample.paths["train"],
        test=sample.paths["test"],
        target=sample.target,
        predictions=path,
        select=[CHECK_ID],
    )
    from_file, from_model = result.check(CHECK_ID), sample.check()
    assert result.task == "binary"
    assert [m.key for m in from_file.measurements] == [m.key for m in from_model.measurements]
    for got, expected in zip(from_file.measurements, from_model.measurements, strict=True):
        got_values = (got.value, got.ci_low, got.ci_high)
        expected_values = (expected.value, expected.ci_low, expected.ci_high)
        assert [v is None for v in got_values] == [v is None for v in expected_values]
        assert [v for v in got_values if v is not None] == pytest.approx(
            [v for v in expected_values if v is not None], rel=1e-12, abs=1e-12
        ), got.key
