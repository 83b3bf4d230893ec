"""Every metric in ``auditor.metrics.METRICS`` against scikit-learn.

The weighted form of each metric must equal scikit-learn on the unweighted data (weights of
one), and on the data with rows repeated as often as an integer count weight says: the
second property is what makes the bootstrap (count weights) correct.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np
import pytest
from sklearn import metrics as skm

from auditor.metrics import METRICS, METRICS_BY_KEY, EvalData

N_ROWS = 300
TOL = {"rel": 1e-12, "abs": 1e-12}


@dataclass(frozen=True)
class Case:
    """One synthetic task: labels, probabilities (maybe tied) and predictions."""

    name: str
    task: str
    classes: tuple = ()
    positive: int = 1
    tied: bool = False
    offset: float = 0.0


CASES = (
    Case("binary", "binary", (0, 1)),
    Case("binary_tied_scores", "binary", (0, 1), tied=True),
    Case("binary_positive_is_index_0", "binary", ("bad", "good"), positive=0),
    Case("multiclass_3_strings", "multiclass", ("high", "low", "medium")),
    Case(
        "multiclass_4_strings_tied_scores",
        "multiclass",
        ("bronze", "gold", "platinum", "silver"),
        tied=True,
    ),
    Case("regression", "regression"),
    # Targets far from zero relative to their spread (prices in cents, timestamps, years).
    Case("regression_large_offset", "regression", offset=1e7),
)


def make_eval(case: Case, seed: int) -> EvalData:
    """Seeded targets and informative, imperfect predictions for ``case``."""
    rng = np.random.default_rng(seed)
    if case.task == "regression":
        y = case.offset + 2.0 * rng.normal(size=N_ROWS)
        y_pred = y + 1.5 * rng.normal(size=N_ROWS)
        return EvalData("regression", y, y_pred)
    k = len(case.classes)
    y = rng.integers(0, k, size=N_ROWS)
    if case.task == "binary":
        is_pos = y == case.positive
        p_pos = np.clip(0.35 * is_pos + 0.65 * rng.random(N_ROWS), 0.0, 1.0)
        if case.tied:
            p_pos = np.round(p_pos, 1)
        proba = np.empty((N_ROWS, 2))
        proba[:, case.positive] = p_pos
        proba[:, 1 - case.positive] = 1.0 - p_pos
        y_pred = np.where(p_pos >= 0.5, case.positive, 1 - case.positive)
    else:
        logits = rng.normal(size=(N_ROWS, k)) + 1.5 * np.eye(k)[y]
        proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        if case.tied:
            # Probabilities in tenths: many tied scores, and exact zeros.
            proba = np.array([rng.multinomial(10, row) for row in proba]) / 10.0
        y_pred = proba.argmax(axis=1)
    return EvalData(case.task, y, y_pred, proba, case.classes, case.positive)


def _labels(d: EvalData) -> tuple[np.ndarray, np.ndarray, object]:
    classes = np.asarray(d.classes)
    return classes[d.y], classes[d.y_pred], d.classes[d.positive]


def _binary(fn):
    def oracle(d: EvalData) -> float:
        y, y_pred, pos = _labels(d)
        return fn(y, y_pred, d.proba[:, d.positive], pos)

    return oracle


def _multi(fn):
    def oracle(d: EvalData) -> float:
        y, y_pred, _ = _labels(d)
        return fn(y, y_pred, d.proba, list(d.classes))

    return oracle


def _regression(fn):
    return lambda d: fn(d.y, d.y_pred)


# scikit-learn's value of each metric, computed on the original labels (not indices).
ORACLES = {
    "roc_auc": _binary(lambda y, _, s, pos: skm.roc_auc_score(y == pos, s)),
    "average_precision": _binary(
        lambda y, _, s, pos: skm.average_precision_score(y, s, pos_label=pos)
    ),
    "brier_score": _binary(lambda y, _, s, pos: skm.brier_score_loss(y, s, pos_label=pos)),
    "f1": _binary(lambda y, yp, _, pos: skm.f1_score(y, yp, pos_label=pos)),
    "precision": _binary(lambda y, yp, _, pos: skm.precision_score(y, yp, pos_label=pos)),
    "recall": _binary(lambda y, yp, _, pos: skm.recall_score(y, yp, pos_label=pos)),
    "roc_auc_ovr": _multi(
        lambda y, _, p, labels: skm.roc_auc_score(
            y, p, multi_class="ovr", average="macro", labels=labels
        )
    ),
    "log_loss": _multi(lambda y, _, p, labels: skm.log_loss(y, y_proba=p, labels=labels)),
    "accuracy": _multi(lambda y, yp, _, __: skm.accuracy_score(y, yp)),
    "balanced_accuracy": _multi(lambda y, yp, _, __: skm.balanced_accuracy_score(y, yp)),
    "f1_macro": _multi(lambda y, yp, _, __: skm.f1_score(y, yp, average="macro")),
    "matthews_corrcoef": _multi(lambda y, yp, _, __: skm.matthews_corrcoef(y, yp)),
    "r2": _regression(skm.r2_score),
    "mean_absolute_error": _regression(skm.mean_absolute_error),
    "root_mean_squared_error": _regression(skm.root_mean_squared_error),
    "mean_absolute_percentage_error": _regression(skm.mean_absolute_percentage_error),
}


def _metric_params(cases=CASES, exclude=()):
    return [
        pytest.param(case, m, id=f"{case.name}-{m.key}")
        for case in cases
        for m in METRICS
        if case.task in m.tasks and m.key not in exclude
    ]


def test_every_metric_has_an_oracle():
    assert set(ORACLES) == set(METRICS_BY_KEY)


@pytest.mark.parametrize(("case", "metric"), _metric_params())
def test_metric_equals_sklearn_unweighted(case, metric, seed):
    d = make_eval(case, seed)
    ours = metric.weighted(d, np.ones((1, d.n)))
    assert ours.shape == (1,)
    assert ours[0] == pytest.approx(ORACLES[metric.key](d), **TOL)


def test_tied_cases_really_have_ties(seed):
    # Guards the tie cases above: rounded scores must repeat, or the ties go untested.
    for case in (c for c in CASES if c.tied):
        d = make_eval(case, seed)
        assert np.unique(d.proba[:, 0]).size <= 11


@pytest.mark.parametrize("case", [c for c in CASES if c.task != "regression"], ids=lambda c: c.name)
def test_log_loss_is_finite_and_matches_sklearn_with_probabilities_0_and_1(case, seed):
    d = make_eval(case, seed)
    k = len(d.classes)
    proba = d.proba.copy()
    # Rows 0-9: certain and right; rows 10-19: certain and wrong.
    proba[:10] = np.eye(k)[d.y[:10]]
    proba[10:20] = np.eye(k)[(d.y[10:20] + 1) % k]
    d = replace(d, proba=proba)
    ours = METRICS_BY_KEY["log_loss"].weighted(d, np.ones((1, d.n)))[0]
    assert np.isfinite(ours)
    assert ours == pytest.approx(ORACLES["log_loss"](d), **TOL)


def _scorer_name(key: str) -> str:
    names = skm.get_scorer_names()
    return next(name for name in (key, f"neg_{key}") if name in names)


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.key)
def test_greater_is_better_matches_sklearn_scorer_sign(metric):
    scorer = skm.get_scorer(_scorer_name(metric.key))
    assert metric.greater_is_better is (scorer._sign > 0)


# --- count weights equal repeated rows --------------------------------------------------


def _random_counts(d: EvalData, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 4, size=(3, d.n)).astype(float)


def _class_absent(d: EvalData, rng: np.random.Generator) -> np.ndarray:
    """Resamples where no row of class 0 is drawn and no row is predicted as class 0."""
    W = _random_counts(d, rng)
    W[:, (d.y == 0) | (d.y_pred == 0)] = 0.0
    return W


def _class_absent_from_truth(d: EvalData, rng: np.random.Generator) -> np.ndarray:
    """Resamples without a row of true class 0; class 0 is still predicted for some rows."""
    W = _random_counts(d, rng)
    W[:, d.y == 0] = 0.0
    return W


MULTICLASS = tuple(c for c in CASES if c.task == "multiclass")
WEIGHT_PARAMS = [
    pytest.param(_random_counts, *p.values, id=f"random_counts-{p.id}") for p in _metric_params()
] + [
    pytest.param(scheme, *p.values, id=f"{scheme.__name__.strip('_')}-{p.id}")
    for scheme in (_class_absent, _class_absent_from_truth)
    # ROC AUC is undefined for a class with no rows: see the test below.
    for p in _metric_params(MULTICLASS, exclude=("roc_auc_ovr",))
]


def _repeated(d: EvalData, counts: np.ndarray) -> EvalData:
    rows = np.repeat(np.arange(d.n), counts.astype(int))
    proba = None if d.proba is None else d.proba[rows]
    return replace(d, y=d.y[rows], y_pred=d.y_pred[rows], proba=proba)


@pytest.mark.parametrize(("weights", "case", "metric"), WEIGHT_PARAMS)
def test_count_weights_equal_repeated_rows(weights, case, metric, seed):
    d = make_eval(case, seed)
    W = weights(d, np.random.default_rng(seed + 1))
    ours = metric.weighted(d, W)
    assert ours.shape == (W.shape[0],)
    with warnings.catch_warnings():
        # scikit-learn warns when predictions name a class that the resample lacks.
        warnings.simplefilter("ignore", UserWarning)
        expected = [ORACLES[metric.key](_repeated(d, counts)) for counts in W]
    assert ours == pytest.approx(expected, **TOL)


@pytest.mark.parametrize("case", MULTICLASS, ids=lambda c: c.name)
def test_roc_auc_ovr_is_undefined_when_a_resample_lacks_a_class(case, seed):
    d = make_eval(case, seed)
    W = _class_absent_from_truth(d, np.random.default_rng(seed + 1))
    assert np.isnan(METRICS_BY_KEY["roc_auc_ovr"].weighted(d, W)).all()
