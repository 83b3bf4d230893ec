"""Per-row errors of the model on the test rows: what the slice search looks for.

One definition per error kind, so that a slice's error rate, its expectation and the
overall rate it is compared with are computed from the same numbers.
"""

from __future__ import annotations

import numpy as np

from auditor.metrics import EvalData

CLASSIFICATION_ERRORS = ("misclassification", "fnr", "fpr", "log_loss")
REGRESSION_ERRORS = ("absolute_error", "squared_error")
# log_loss clips probabilities as scikit-learn does.
_EPS = np.finfo(np.float64).eps


def per_row_errors(error: str, data: EvalData):
    """Each row's error under ``error``, for the slice search.

    Returns (rows or None, 0/1 errors or None, losses or None, population name): ``rows``
    restricts the search to the true positives ("fnr") or true negatives ("fpr").
    """
    if error == "misclassification":
        return None, data.y_pred != data.y, None, "test"
    if error in ("fnr", "fpr"):
        positive = data.y == data.positive
        rows = np.flatnonzero(positive if error == "fnr" else ~positive)
        wrong = data.y_pred[rows] != data.y[rows]
        label = data.classes[data.positive]
        population = f"true {label!r}" if error == "fnr" else f"true not-{label!r}"
        return rows, wrong, None, population
    if error == "log_loss":
        proba = np.clip(data.proba, _EPS, 1 - _EPS)
        proba = proba / proba.sum(axis=1, keepdims=True)
        return None, None, -np.log(proba[np.arange(data.n), data.y]), "test"
    residual = data.y - data.y_pred
    losses = np.abs(residual) if error == "absolute_error" else residual**2
    return None, None, losses, "test"


def expected_errors(error: str, data: EvalData) -> np.ndarray | None:
    """Each row's probability of error according to the model, or None where undefined.

    Defined for misclassification with class probabilities: one minus the probability of
    the predicted class. Regression predictions and the other errors carry no such
    probability, so the question "does the model err more than it says?" does not apply.
    """
    if error == "misclassification" and data.proba is not None:
        return 1.0 - data.proba[np.arange(data.n), data.y_pred]
    return None
