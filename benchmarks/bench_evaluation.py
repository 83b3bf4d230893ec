"""How much an audit costs on top of cross-validating the model once.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_evaluation.py [--rows 50000]``

A HistGradientBoosting pipeline (one-hot categories, gradient boosting) on a synthetic binary
table of ``--rows`` training rows x 20 features (16 numeric, 4 categorical) and a quarter as
many test rows. It times, on the same machine and one process each:

- a bare ``sklearn.model_selection.cross_validate`` with 5 shuffled stratified folds (the
  reference cost);
- ``auditor.audit(..., select=["performance", "baseline"])``: holdout metrics, 5-fold
  cross-validation (training-fold predictions included), overfitting, calibration and the
  baselines (three dummies and a linear model, refitted on the same folds and on the
  training rows);
- the full audit (every registered check).

The ratio audit / cross_validate is the cost of auditing; the target is under 1.5 for the
evaluation checks.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

import auditor

CATEGORICAL = ["region", "channel", "product", "segment"]


def make_table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 16))
    frame = pd.DataFrame(X, columns=[f"num_{i:02d}" for i in range(16)])
    levels = {"region": 6, "channel": 4, "product": 12, "segment": 3}
    codes = {c: rng.integers(0, k, n) for c, k in levels.items()}
    for column, k in levels.items():
        frame[column] = np.array([f"{column}_{j}" for j in range(k)])[codes[column]]
    logit = (
        0.9 * X[:, 0]
        - 0.7 * X[:, 1]
        + 0.6 * X[:, 2] * X[:, 3]
        + 0.5 * np.sin(2 * X[:, 4])
        + 0.3 * (codes["product"] % 3 == 0)
        - 0.4 * (codes["segment"] == 2)
        - 1.2
    )
    frame["target"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def make_model():
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), CATEGORICAL), remainder="passthrough"
    )
    return make_pipeline(encode, HistGradientBoostingClassifier(random_state=0))


def timed(label: str, func, repeat: int):
    """The result of ``func``, and its fastest wall and CPU times over ``repeat`` runs.

    Everything runs in this process (n_jobs=1, OMP_NUM_THREADS=1), so CPU time measures the
    work even when other processes share the machine; noise only ever adds time.
    """
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        value = func()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    print(f"{label:<52}{min(walls):>7.1f} s wall {min(cpus):>7.1f} s CPU")
    return value, min(walls), min(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (fastest kept)")
    args = parser.parse_args()
    train = make_table(args.rows, 0)
    test = make_table(args.rows // 4, 1)
    X, y = train.drop(columns="target"), train["target"]
    # Shuffled stratified folds, as the audit draws them: with early stopping the boosting
    # stops at a different iteration on other folds, which would blur the comparison.
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    print(f"{args.rows:,} training rows, {len(test):,} test rows, {X.shape[1]} features\n")

    model, fit_s, fit_cpu = timed("fit the model once", lambda: make_model().fit(X, y), args.repeat)
    _, cv_s, cv_cpu = timed(
        "bare cross_validate, 5 folds (reference)",
        lambda: cross_validate(make_model(), X, y, cv=folds, scoring="roc_auc", n_jobs=1),
        args.repeat,
    )
    evaluation, evaluation_s, evaluation_cpu = timed(
        "auditor.audit(select=['performance', 'baseline'])",
        lambda: auditor.audit(
            train=train,
            test=test,
            target="target",
            model=model,
            select=["performance", "baseline"],
        ),
        args.repeat,
    )
    full, full_s, full_cpu = timed(
        "auditor.audit() (every check)",
        lambda: auditor.audit(train=train, test=test, target="target", model=model),
        args.repeat,
    )
    print("\ncost of auditing, audit / cross_validate (wall, CPU):")
    print(f"   evaluation checks  {evaluation_s / cv_s:.2f}x  {evaluation_cpu / cv_cpu:.2f}x")
    print(f"   full audit         {full_s / cv_s:.2f}x  {full_cpu / cv_cpu:.2f}x")
    print(f"(one fit of the model: {fit_s:.1f} s wall, {fit_cpu:.1f} s CPU)\n")
    for title, result in (("evaluation checks", evaluation), ("full audit", full)):
        print(f"{title}: verdict {result.verdict}")
        durations = result.manifest["durations"]
        print("   " + ", ".join(f"{k} {v:.1f}" for k, v in durations.items()))
        for check in sorted(result.checks, key=lambda c: -c.duration_s)[:12]:
            print(f"   {check.duration_s:>7.2f} s  {check.status:<8} {check.id}")


if __name__ == "__main__":
    main()
