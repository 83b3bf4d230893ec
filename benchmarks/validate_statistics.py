"""Validate auditor's statistics by simulation, through the checks themselves.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/validate_statistics.py [--runs 400]
[--only proportions]``

1. Coverage. A fixed scoring function is applied to test sets of 1,000 rows drawn from a
   known population; the true metric is its value on 2,000,000 rows. The 95% bootstrap
   intervals of ``performance.holdout_metrics`` should cover it in 93-97% of the runs.
2. Level of the paired tests. ``baseline.comparison`` compares the model with a user
   baseline of *equal* skill; each test should claim "the model is better" in at most
   about 5% of the runs (the bootstrap interval is two-sided 95%, so about 2.5%):
   a. two fixed scoring functions of equal AUC (the folds then carry no refitting noise);
   b. two logistic regressions of equal expected skill, refitted on every fold.
3. Calibration. How often ``performance.calibration`` warns on calibrated probabilities
   (should be about 0), how often its p-value falls below 0.05 (about 5%), and the coverage
   of its bias-corrected ECE interval for a miscalibrated model.

4. Proportions at the edges. Accuracy of test sets of 30, 100 and 1,000 rows whose rows
   are right with probability 0.5, 0.9, 0.99 and 1.0: coverage of the Wilson score interval
   the check reports, beside the percentile bootstrap it replaced (which collapses to a
   point when every row is right), unweighted and with lognormal sample weights (Wilson on
   Kish's effective size). At 1.0 every interval covers; the mean lower bound shows which
   of them admits any doubt.

This is a script, not a test: it takes minutes. tests/test_statistical_validity.py runs
small versions of 1 and 2.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from auditor.inputs import load_inputs
from auditor.metrics import METRICS_BY_KEY, EvalData
from auditor.registry import build_params, load_registry
from auditor.runner import run_check
from auditor.spec import AuditSpec
from auditor.stats.calibration import quantile_bins, weighted_ece

REGISTRY = load_registry()
BINARY_KEYS = (
    "roc_auc",
    "average_precision",
    "log_loss",
    "brier_score",
    "accuracy",
    "balanced_accuracy",
    "f1",
    "matthews_corrcoef",
)
REGRESSION_KEYS = ("r2", "mean_absolute_error", "root_mean_squared_error")


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def run(check_id, *, test, target="y", train=None, model=None, predictions=None, **kw):
    ctx = load_inputs(
        AuditSpec(target=target),
        train=train,
        test=test,
        model=model,
        predictions=predictions,
        baseline_model=kw.pop("baseline_model", None),
    ).context
    spec = REGISTRY[check_id]
    return run_check(ctx, spec, build_params(spec, kw))


# --- 1. coverage -----------------------------------------------------------------------------


def binary_population(n, rng):
    x = rng.normal(size=n)
    y = (rng.random(n) < sigmoid(1.5 * x - 1)).astype(int)
    return x, y, sigmoid(1.2 * x - 0.8)  # a fixed, slightly miscalibrated model


def regression_population(n, rng):
    x = rng.normal(size=n)
    return x, 2 * x + rng.normal(size=n), 1.8 * x + 0.2


def true_values(task, keys):
    rng = np.random.default_rng(987654)
    if task == "binary":
        _, y, p = binary_population(2_000_000, rng)
        data = EvalData("binary", y, (p >= 0.5).astype(int), np.column_stack([1 - p, p]), (0, 1))
    else:
        _, y, pred = regression_population(2_000_000, rng)
        data = EvalData("regression", y, pred)
    ones = np.ones((1, data.n))
    return {k: float(METRICS_BY_KEY[k].weighted(data, ones)[0]) for k in keys}


def coverage(runs, n):
    out = {}
    for task, keys in (("binary", BINARY_KEYS), ("regression", REGRESSION_KEYS)):
        truth = true_values(task, keys)
        hits = dict.fromkeys(keys, 0)
        widths = {k: [] for k in keys}
        rng = np.random.default_rng(1 if task == "binary" else 2)
        for _ in range(runs):
            if task == "binary":
                x, y, p = binary_population(n, rng)
                predictions = pd.DataFrame({"prediction": (p >= 0.5).astype(int), "proba_1": p})
            else:
                x, y, pred = regression_population(n, rng)
                predictions = pd.DataFrame({"prediction": pred})
            test = pd.DataFrame({"x": x, "y": y})
            result = run("performance.holdout_metrics", test=test, predictions=predictions)
            for key in keys:
                m = result.measurement(key)
                hits[key] += m.ci_low <= truth[key] <= m.ci_high
                widths[key].append(m.ci_high - m.ci_low)
        for key in keys:
            out[(task, key)] = (truth[key], hits[key] / runs, float(np.mean(widths[key])))
    return out


# --- 2. level of the paired tests --------------------------------------------------------------


class FixedScore(ClassifierMixin, BaseEstimator):
    """Scores sigmoid(column): "fitting" learns only the classes, so refits are identical."""

    def __init__(self, column="x1"):
        self.column = column

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        p = sigmoid(X[self.column].to_numpy())
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]


def equal_skill_frame(n, rng, n_noise=4):
    x = rng.normal(size=(n, 2))
    frame = pd.DataFrame(x, columns=["x1", "x2"])
    for j in range(2 * n_noise):
        frame[f"n{j}"] = rng.normal(size=n)
    frame["y"] = (rng.random(n) < sigmoid(x.sum(axis=1))).astype(int)
    return frame


class Columns(ClassifierMixin, BaseEstimator):
    """Logistic regression on a fixed subset of the columns."""

    def __init__(self, columns=("x1",)):
        self.columns = columns

    def fit(self, X, y):
        self.model_ = LogisticRegression(max_iter=1000).fit(X[list(self.columns)], y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X[list(self.columns)])

    def predict(self, X):
        return self.model_.predict(X[list(self.columns)])


def null_rejections(runs, kind):
    rng = np.random.default_rng(3 if kind == "fixed" else 4)
    counts = {"bootstrap better": 0, "bootstrap worse": 0, "t better": 0, "t worse": 0}
    counts |= {"check passes (claims the model is better)": 0}
    for _ in range(runs):
        whole = equal_skill_frame(1000, rng)
        train, test = (
            whole.iloc[:500].reset_index(drop=True),
            whole.iloc[500:].reset_index(drop=True),
        )
        if kind == "fixed":
            model, baseline = FixedScore("x1"), FixedScore("x2")
        else:
            model = Columns(("x1", "n0", "n1", "n2", "n3"))
            baseline = Columns(("x2", "n4", "n5", "n6", "n7"))
        model.fit(train.drop(columns="y"), train["y"])
        baseline.fit(train.drop(columns="y"), train["y"])
        result = run(
            "baseline.comparison", train=train, test=test, model=model, baseline_model=baseline
        )
        row = next(r for r in result.tables[1].rows if r[0].startswith("Your baseline"))
        _, _, low, high, _, _, t_p, _ = row
        counts["bootstrap better"] += low > 0
        counts["bootstrap worse"] += high < 0
        counts["t better"] += t_p < 0.05
        counts["t worse"] += 1 - t_p < 0.05
        user = [f for f in result.findings if f.evidence.get("baseline") == "user"]
        counts["check passes (claims the model is better)"] += not user
    return {k: v / runs for k, v in counts.items()}


# --- 3. calibration ----------------------------------------------------------------------------


def calibration(runs, n):
    rng = np.random.default_rng(5)
    warned = p_below = 0
    for _ in range(runs):
        p = rng.beta(1.2, 3.0, n)
        y = (rng.random(n) < p).astype(int)
        result = run(
            "performance.calibration",
            test=pd.DataFrame({"x": rng.normal(size=n), "y": y}),
            predictions=pd.DataFrame({"prediction": (p >= 0.5).astype(int), "proba_1": p}),
        )
        warned += result.status == "warn"
        p_below += result.measurement("calibration_p_value").value < 0.05
    # Coverage of the ECE interval for a miscalibrated model (reported p = true p ** 0.8).
    big = rng.beta(1.2, 3.0, 2_000_000)
    big_y = (rng.random(big.size) < big).astype(float)
    reported = big**0.8
    true_ece = float(
        weighted_ece(reported, big_y, quantile_bins(reported, 10), np.ones((1, big.size)))[0]
    )
    hits = 0
    for _ in range(runs):
        p = rng.beta(1.2, 3.0, n)
        y = (rng.random(n) < p).astype(int)
        result = run(
            "performance.calibration",
            test=pd.DataFrame({"x": rng.normal(size=n), "y": y}),
            predictions=pd.DataFrame({"prediction": (p >= 0.5).astype(int), "proba_1": p**0.8}),
        )
        m = result.measurement("expected_calibration_error")
        hits += m.ci_low <= true_ece <= m.ci_high
    return warned / runs, p_below / runs, true_ece, hits / runs


# --- 4. proportion intervals at the edges ------------------------------------------------------


def proportion_coverage(runs, sizes=(30, 100, 1000), truths=(0.5, 0.9, 0.99, 1.0)):
    """Per (n, truth, weighting): coverage and mean lower bound of Wilson and of the bootstrap.

    The intervals come from ``HoldoutScore`` with the replicates drawn as the audit draws
    them, so this measures what ``performance.holdout_metrics`` prints.
    """
    from auditor.evaluation import HoldoutScore
    from auditor.stats.bootstrap import bootstrap_statistics
    from auditor.stats.intervals import effective_sample_size

    accuracy = METRICS_BY_KEY["accuracy"]
    rng = np.random.default_rng(4)
    out = {}
    for n in sizes:
        for truth in truths:
            for weighted in (False, True):
                tally = {"wilson": [0, 0.0], "bootstrap": [0, 0.0]}
                for _ in range(runs):
                    y = rng.integers(0, 2, size=n)
                    right = rng.random(n) < truth
                    data = EvalData("binary", y, np.where(right, y, 1 - y), None, (0, 1))
                    w = rng.lognormal(0.0, 1.0, size=n) if weighted else np.ones(n)
                    value = float(accuracy.weighted(data, w[None, :])[0])
                    replicates = bootstrap_statistics(
                        {"a": lambda W, d=data, w=w: accuracy.weighted(d, W * w)},
                        n,
                        n_resamples=1000,
                        rng=rng,
                    )["a"]
                    trials = effective_sample_size(w if weighted else None, n)
                    for name, score in (
                        ("wilson", HoldoutScore(value, replicates, trials)),
                        ("bootstrap", HoldoutScore(value, replicates)),
                    ):
                        low, high = score.interval()
                        if low is None:  # the collapsed bootstrap: the point itself
                            low = high = value
                        tally[name][0] += low <= truth <= high
                        tally[name][1] += low
                out[(n, truth, weighted)] = {
                    name: (hits / runs, lows / runs) for name, (hits, lows) in tally.items()
                }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument(
        "--only", choices=("coverage", "null", "calibration", "proportions"), default=None
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore", category=FutureWarning)
    sections = {
        "coverage": print_coverage,
        "null": print_null_rejections,
        "calibration": print_calibration,
        "proportions": print_proportions,
    }
    for name, section in sections.items():
        if args.only in (None, name):
            started = time.perf_counter()
            section(args)
            print(f"   ({time.perf_counter() - started:.0f} s)\n")


def print_coverage(args) -> None:
    print(f"1. Coverage of 95% bootstrap intervals ({args.runs} runs of {args.rows} test rows)")
    print(f"   {'task':<11}{'metric':<26}{'truth':>9}{'coverage':>10}{'mean width':>12}")
    for (task, key), (truth, share, width) in coverage(args.runs, args.rows).items():
        print(f"   {task:<11}{key:<26}{truth:>9.4f}{share:>10.1%}{width:>12.4f}")


def print_null_rejections(args) -> None:
    for kind, title in (
        ("fixed", "two fixed scores of equal AUC"),
        ("refit", "two logistic regressions of equal expected skill, refitted per fold"),
    ):
        print(f"2{'a' if kind == 'fixed' else 'b'}. Null rejections, {title} ({args.runs} runs)")
        for name, share in null_rejections(args.runs, kind).items():
            print(f"   {name:<44}{share:>8.1%}")


def print_calibration(args) -> None:
    warned, p_below, true_ece, hits = calibration(args.runs, 1500)
    print(f"3. Calibration ({args.runs} runs of 1,500 rows)")
    print(f"   calibrated model: warned {warned:.1%}, calibration p < 0.05 in {p_below:.1%}")
    print(f"   miscalibrated (p ** 0.8, true ECE {true_ece:.4f}): ECE interval coverage {hits:.1%}")


def print_proportions(args) -> None:
    print(f"4. Accuracy intervals at the edges ({args.runs} runs per cell; 95% nominal)")
    print(
        f"   {'rows':>6}{'truth':>7}  {'weights':<10}{'Wilson cover':>13}{'mean low':>10}"
        f"{'bootstrap cover':>17}{'mean low':>10}"
    )
    for (n, truth, weighted), by in proportion_coverage(args.runs).items():
        (w_cover, w_low), (b_cover, b_low) = by["wilson"], by["bootstrap"]
        print(
            f"   {n:>6,}{truth:>7.2f}  {'lognormal' if weighted else 'none':<10}"
            f"{w_cover:>13.1%}{w_low:>10.3f}{b_cover:>17.1%}{b_low:>10.3f}"
        )


if __name__ == "__main__":
    main()
