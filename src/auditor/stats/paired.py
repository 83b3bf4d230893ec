"""Paired comparisons of two models evaluated on the same cross-validation folds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Alternative = Literal["greater", "less", "two-sided"]


@dataclass(frozen=True, slots=True)
class CorrectedTTest:
    """Result of the corrected resampled t-test on per-fold differences."""

    mean: float
    std_error: float
    statistic: float
    df: int
    p_value: float
    ci_low: float | None
    ci_high: float | None


def corrected_resampled_t_test(
    differences: np.ndarray,
    *,
    n_train: float,
    n_test: float,
    alternative: Alternative = "greater",
    confidence: float = 0.95,
) -> CorrectedTTest:
    """Nadeau and Bengio's corrected resampled t-test of per-fold score differences.

    Parameters
    ----------
    differences : array of shape (J,)
        Score of model A minus score of model B on each of J folds (the same folds for
        both). Undefined (NaN) differences are left out.
    n_train, n_test : float
        Rows used to fit and to score on one fold (the mean over folds when they differ).
    alternative : {"greater", "less", "two-sided"}, default="greater"
        "greater" tests H0: mean difference <= 0 against H1: A scores higher.
    confidence : float, default=0.95
        Level of the two-sided interval of the mean difference (with the same correction).

    Notes
    -----
    The folds share training rows, so the J differences are correlated and the plain
    paired t-test, which divides their variance by J, rejects far too often (Dietterich,
    1998). Nadeau and Bengio replace 1/J with ``1/J + n_test/n_train``:

    ``t = mean(d) / sqrt((1/J + n_test/n_train) * var(d))``, with J - 1 degrees of freedom.

    With k-fold cross-validation n_test/n_train = 1/(k-1), which roughly doubles the
    variance of 5 folds. When every difference is equal the statistic is +-inf (or 0 when
    they are all 0, giving p = 0.5 one-sided).

    References
    ----------
    Nadeau, C. and Bengio, Y. (2003). Inference for the generalization error. Machine
    Learning 52(3), 239-281. Bouckaert, R. R. and Frank, E. (2004). Evaluating the
    replicability of significance tests for comparing learning algorithms. PAKDD.
    """
    from scipy import stats

    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d)]
    J = int(d.size)
    if J < 2:
        raise ValueError(f"the corrected t-test needs at least 2 folds, got {J}")
    mean = float(d.mean())
    variance = float(d.var(ddof=1))
    std_error = float(np.sqrt((1.0 / J + n_test / n_train) * variance))
    df = J - 1
    if std_error > 0:
        statistic = mean / std_error
    else:
        statistic = 0.0 if mean == 0 else float(np.copysign(np.inf, mean))
    if alternative == "greater":
        p_value = float(stats.t.sf(statistic, df))
    elif alternative == "less":
        p_value = float(stats.t.cdf(statistic, df))
    else:
        p_value = float(min(1.0, 2 * stats.t.sf(abs(statistic), df)))
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * std_error
    return CorrectedTTest(mean, std_error, statistic, df, p_value, mean - half, mean + half)
