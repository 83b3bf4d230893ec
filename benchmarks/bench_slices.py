"""Benchmark of ``slices.weak_segments``: recovery, false positives, time and memory.

Run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_slices.py [recovery|clean|scale|all]

(a) recovery: planted failure slices of 1 to 3 conditions, support 1/2/5/10% and lift
    1.5/2/3 at 100,000 rows; a hit is a reported slice among the first three whose rows
    have a Jaccard index of at least 0.5 with the planted rows;
(b) clean: tables whose errors do not depend on the features (10,000 and 100,000 rows):
    the share of tables reporting any slice;
(c) scale: time and peak memory of the check at 1,000,000 rows x 20 features.

Tables are realistic: normal, heavy-tailed (log-normal, Pareto), zero-inflated, integer and
partly missing numeric features; categorical features with skewed and rare levels; a
model with a base error rate between 10% and 20%. Conditions of the reported slices are
evaluated on the frame itself (as a user would), never through the search's codes.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import sys
import time
import tracemalloc
from dataclasses import dataclass

import numpy as np
import pandas as pd

from auditor.context import AuditContext, Predictions
from auditor.registry import build_params, load_registry
from auditor.roles import ColumnRoles
from auditor.runner import run_check

CHECK_ID = "slices.weak_segments"
NUMERIC = [
    "age",
    "income",
    "balance",
    "latency_ms",
    "score",
    "tenure",
    "txn_count",
    "ratio",
    "debt",
    "visits",
    "temperature",
    "load",
]
CATEGORICAL = ["region", "plan", "city", "device", "channel", "segment", "is_member", "tier"]


def make_table(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """20 features: 12 numeric (varied shapes, some missing), 8 categorical (rare levels)."""
    cols: dict[str, np.ndarray] = {}
    cols["age"] = np.clip(rng.normal(42, 13, n), 18, 95).round()
    cols["income"] = rng.lognormal(10.5, 0.8, n)
    balance = rng.lognormal(7, 1.5, n)
    balance[rng.random(n) < 0.35] = 0.0  # zero-inflated
    cols["balance"] = balance
    cols["latency_ms"] = rng.pareto(2.5, n) * 50 + 5
    cols["score"] = rng.normal(0, 1, n)
    cols["tenure"] = rng.exponential(4, n)
    cols["txn_count"] = rng.poisson(1.5, n).astype(float)  # few distinct values
    cols["ratio"] = rng.beta(2, 5, n)
    debt = rng.gamma(2, 3000, n)
    debt[rng.random(n) < 0.08] = np.nan  # partly missing
    cols["debt"] = debt
    cols["visits"] = rng.negative_binomial(3, 0.2, n).astype(float)
    cols["temperature"] = rng.uniform(-10, 35, n)
    cols["load"] = rng.standard_t(3, n)
    cols["region"] = rng.choice(
        ["north", "south", "east", "west", "centre"], n, p=[0.3, 0.25, 0.2, 0.15, 0.1]
    )
    cols["plan"] = rng.choice(["basic", "plus", "pro"], n, p=[0.6, 0.3, 0.1])
    city_p = 1 / np.arange(1, 61) ** 1.1
    cols["city"] = rng.choice([f"city_{i:02d}" for i in range(60)], n, p=city_p / city_p.sum())
    cols["device"] = rng.choice(
        ["ios", "android", "web", "desktop", "tv", "other"], n, p=[0.3, 0.3, 0.2, 0.12, 0.05, 0.03]
    )
    cols["channel"] = rng.choice(
        ["organic", "paid", "referral", "email"], n, p=[0.4, 0.3, 0.2, 0.1]
    )
    seg_p = np.r_[np.full(10, 0.08), np.full(10, 0.02)]
    cols["segment"] = rng.choice([f"s{i}" for i in range(20)], n, p=seg_p / seg_p.sum())
    cols["is_member"] = rng.random(n) < 0.4
    tier = rng.choice(["gold", "silver", "bronze", None], n, p=[0.15, 0.35, 0.45, 0.05])
    cols["tier"] = tier
    return pd.DataFrame(cols)


@dataclass
class Planted:
    conditions: list[dict]
    mask: np.ndarray
    support: float


def _level_condition(frame, column, rng, target):
    shares = frame[column].value_counts(normalize=True)
    shares = shares[shares >= 0.01]
    best = shares.index[np.argmin(np.abs(np.log(shares.to_numpy() / target)))]
    return {"column": column, "op": "==", "value": best}, frame[column].to_numpy() == best


def _range_conditions(frame, column, rng, width):
    x = frame[column].to_numpy(dtype=float)
    kind = rng.choice(["upper", "lower", "inner"])
    if kind == "upper":
        low = np.nanquantile(x, 1 - width)
        return [{"column": column, "op": ">=", "value": float(low)}], x >= low
    if kind == "lower":
        high = np.nanquantile(x, width)
        return [{"column": column, "op": "<", "value": float(high)}], x < high
    start = rng.uniform(0.05, 0.95 - width)
    low, high = np.nanquantile(x, [start, start + width])
    return (
        [
            {"column": column, "op": ">=", "value": float(low)},
            {"column": column, "op": "<", "value": float(high)},
        ],
        (x >= low) & (x < high),
    )


def plant(frame: pd.DataFrame, n_conditions: int, support: float, rng) -> Planted:
    """A slice of ``n_conditions`` conditions holding about ``support`` of the rows."""
    continuous = [c for c in NUMERIC if c not in ("txn_count",)]
    for _ in range(200):
        chosen = list(rng.choice(continuous + CATEGORICAL, n_conditions, replace=False))
        # The last condition is a numeric range that brings the support to its target.
        numeric_last = [c for c in chosen if c in continuous]
        if not numeric_last:
            continue
        last = numeric_last[-1]
        others = [c for c in chosen if c != last]
        conditions, mask = [], np.ones(len(frame), dtype=bool)
        for column in others:
            target = support ** (1 / n_conditions) * rng.uniform(0.8, 2.0)
            if column in CATEGORICAL:
                cond, m = _level_condition(frame, column, rng, min(target, 0.6))
                conditions.append(cond)
            else:
                cond, m = _range_conditions(frame, column, rng, min(target, 0.7))
                conditions.extend(cond)
            mask &= m
        width = support / max(mask.mean(), 1e-9)
        if not 0.005 <= width <= 0.8:
            continue
        cond, m = _range_conditions(frame, last, rng, width)
        mask &= m
        if abs(mask.mean() / support - 1) > 0.25:
            continue
        return Planted(conditions + cond, mask, float(mask.mean()))
    raise RuntimeError("could not plant a slice")


def errors_for(n, rng, base, planted=None, lift=1.0):
    p = np.full(n, base)
    if planted is not None:
        p[planted.mask] = min(base * lift, 0.95)
    return rng.random(n) < p


def evaluate_conditions(frame: pd.DataFrame, conditions) -> np.ndarray:
    """Apply finding conditions to the frame, as a user of the JSON would."""
    mask = np.ones(len(frame), dtype=bool)
    for c in conditions:
        col = frame[c["column"]]
        op, v = c["op"], c["value"]
        if op == "is_null":
            m = col.isna().to_numpy()
        elif op == "in":
            m = col.isin(v).to_numpy()
        elif op == "==":
            m = (col == v).to_numpy()
        elif op == "!=":
            m = (col != v).to_numpy()
        elif op == "<":
            m = (col < v).to_numpy()
        elif op == "<=":
            m = (col <= v).to_numpy()
        elif op == ">":
            m = (col > v).to_numpy()
        elif op == ">=":
            m = (col >= v).to_numpy()
        else:
            raise ValueError(op)
        mask &= np.asarray(m, dtype=bool)
    return mask


# Give the check class probabilities (unrelated to the errors, as from a poorly calibrated
# model): --proba. Without them the check compares slices with the other rows only.
WITH_PROBA = False


def run(frame: pd.DataFrame, errors: np.ndarray, seed: int = 0, **params):
    """Run the check on a binary task whose misclassifications are ``errors``."""
    n = len(frame)
    rng = np.random.default_rng(seed + 1)
    y = (rng.random(n) < 0.3).astype(int)
    y_pred = np.where(errors, 1 - y, y)
    proba = None
    if WITH_PROBA:
        confidence = rng.uniform(0.55, 0.99, n)
        positive = np.where(y_pred == 1, confidence, 1 - confidence)
        proba = np.column_stack([1 - positive, positive])
    data = frame.assign(y=y)
    roles = ColumnRoles(
        features=tuple(frame.columns),
        numeric=tuple(c for c in frame.columns if c in NUMERIC),
        categorical=tuple(c for c in frame.columns if c in CATEGORICAL),
    )
    ctx = AuditContext(
        test=data,
        target="y",
        task="binary",
        roles=roles,
        predictions=Predictions(y_pred, proba),
        classes=(0, 1),
        positive=1,
        seed=seed,
    )
    spec = load_registry()[CHECK_ID]
    return run_check(ctx, spec, build_params(spec, params))


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 0.0


def recovery(n: int = 100_000, repeats: int = 1, seed: int = 0, verbose: bool = False):
    grid = list(itertools.product([1, 2, 3], [0.01, 0.02, 0.05, 0.10], [1.5, 2.0, 3.0]))
    rows = []
    started = time.perf_counter()
    for r in range(repeats):
        for i, (L, support, lift) in enumerate(grid):
            rng = np.random.default_rng([seed, r, i])
            frame = make_table(n, rng)
            planted = plant(frame, L, support, rng)
            base = rng.uniform(0.10, 0.20)
            errors = errors_for(n, rng, base, planted, lift)
            result = run(frame, errors, seed=r)
            ranks = [
                jaccard(evaluate_conditions(frame, f.evidence["conditions"]), planted.mask)
                for f in result.findings[:3]
            ]
            hit = any(j >= 0.5 for j in ranks)
            rows.append(
                (
                    L,
                    support,
                    lift,
                    planted.support,
                    base,
                    hit,
                    max(ranks, default=0.0),
                    len(result.findings),
                    result.duration_s,
                )
            )
            if verbose or not hit:
                print(
                    f"L={L} s={support:.2f} lift={lift} actual={planted.support:.3f} base={base:.2f} "
                    f"hit={hit} best_jaccard={max(ranks, default=0):.2f} n_found={len(result.findings)} "
                    f"t={result.duration_s:.1f}s planted={_text(planted.conditions)}"
                )
                for f in result.findings[:3]:
                    print("     ", f.message)
                sys.stdout.flush()
    table = pd.DataFrame(
        rows,
        columns=["L", "support", "lift", "actual", "base", "hit", "jaccard", "n_found", "seconds"],
    )
    print(
        f"\n(a) recovery at {n:,} rows, {len(table)} planted slices, {time.perf_counter() - started:.0f}s"
    )
    print(
        table.pivot_table(index=["L"], columns=["support"], values="hit", aggfunc="mean").round(2)
    )
    print(
        table.pivot_table(index=["lift"], columns=["support"], values="hit", aggfunc="mean").round(
            2
        )
    )
    big = table[table.support >= 0.02]
    print(f"hit rate, support >= 2%: {big.hit.mean():.3f} ({big.hit.sum()}/{len(big)})")
    print(f"hit rate, support 1%:    {table[table.support < 0.02].hit.mean():.3f}")
    print(f"median time per table: {table.seconds.median():.1f}s")
    return table


def _text(conditions):
    return " AND ".join(f"{c['column']} {c['op']} {c['value']!r}" for c in conditions)


def clean(sizes=(10_000, 100_000), seeds: int = 20):
    for n in sizes:
        reported = []
        started = time.perf_counter()
        for s in range(seeds):
            rng = np.random.default_rng([1000 + s, n])
            frame = make_table(n, rng)
            errors = errors_for(n, rng, rng.uniform(0.10, 0.20))
            result = run(frame, errors, seed=s)
            reported.append(len(result.findings))
            if result.findings:
                for f in result.findings:
                    print(f"   clean n={n} seed={s}: {f.message}")
        reported = np.array(reported)
        print(
            f"(b) clean controls at {n:,} rows: {np.count_nonzero(reported)}/{seeds} tables report "
            f"a slice ({reported.sum()} slices), {time.perf_counter() - started:.0f}s"
        )


def scale(n: int = 1_000_000):
    rng = np.random.default_rng(7)
    frame = make_table(n, rng)
    planted = plant(frame, 2, 0.02, rng)
    errors = errors_for(n, rng, 0.15, planted, 2.0)
    usage_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    started = time.perf_counter()
    result = run(frame, errors)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    usage_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"(c) {n:,} rows x {frame.shape[1]} features: {elapsed:.1f}s, tracemalloc peak "
        f"{peak / 2**20:.0f} MiB, process max RSS {usage_after / 1024:.0f} MiB "
        f"(before the check {usage_before / 1024:.0f} MiB); {len(result.findings)} slices"
    )
    for f in result.findings[:3]:
        print("     ", f.message)
    print("      planted:", _text(planted.conditions))


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "what", nargs="?", default="all", choices=["recovery", "clean", "scale", "all"]
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--proba", action="store_true", help="give uninformative probabilities")
    args = parser.parse_args(argv)
    global WITH_PROBA
    WITH_PROBA = args.proba
    if args.what in ("recovery", "all"):
        recovery(args.rows, args.repeats, verbose=args.verbose)
    if args.what in ("clean", "all"):
        clean(seeds=args.seeds)
    if args.what in ("scale", "all"):
        scale()


if __name__ == "__main__":
    main()
