"""Time ``explain.feature_importance`` on a 100-tree random forest and 100,000 test rows.

Run ``python benchmarks/bench_shap.py`` (add ``--help`` for the sizes). Fully grown trees
on 100,000 rows are the expensive case for exact TreeSHAP (thousands of leaves per tree,
about a second per explained row on one core); the check samples rows to stay within its
default 30 s budget and reports how many it explained. Not a test: it prints timings.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier

import auditor

CHECK_ID = "explain.feature_importance"


def make_data(n: int, n_features: int, seed: int) -> pd.DataFrame:
    """Numeric features, a label from a noisy logistic model of the first five."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    weights = np.r_[np.linspace(1.0, 0.2, min(5, n_features)), np.zeros(max(0, n_features - 5))]
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ weights)))).astype(int)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(n_features)])
    frame["y"] = y
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="train rows and test rows")
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--max-depth", type=int, default=None, help="default: fully grown")
    parser.add_argument("--budget", type=float, default=30.0, help="time_budget_s of the check")
    parser.add_argument("--n-jobs", type=int, default=os.cpu_count() or 1, help="for the fit")
    args = parser.parse_args()

    train = make_data(args.rows, args.features, seed=0)
    test = make_data(args.rows, args.features, seed=1)
    started = time.perf_counter()
    model = RandomForestClassifier(
        n_estimators=args.trees, max_depth=args.max_depth, n_jobs=args.n_jobs, random_state=0
    ).fit(train.drop(columns="y"), train["y"])
    fitted = time.perf_counter() - started
    leaves = np.mean([tree.tree_.n_leaves for tree in model.estimators_])
    print(f"fit: {fitted:.1f} s ({args.trees} trees, {leaves:,.0f} leaves per tree on average)")

    started = time.perf_counter()
    result = auditor.audit(
        test=test,
        target="y",
        model=model,
        select=[CHECK_ID],
        checks={CHECK_ID: {"time_budget_s": args.budget}},
    )
    total = time.perf_counter() - started
    check = result.check(CHECK_ID)
    explained = int(check.measurement("n_explained_rows").value)
    print(
        f"check: {check.duration_s:.1f} s (budget {args.budget:g} s); whole audit call {total:.1f} s"
    )
    print(f"explained rows: {explained:,} of {len(test):,}; status {check.status}")
    print(f"summary: {check.summary}")


if __name__ == "__main__":
    main()
