"""All data and leakage checks on a realistic 1,000,000 x 30 table: time and peak memory.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_data_checks.py [--rows 1000000]

The table mixes heavy-tailed numerics, counts, categoricals with rare levels, light random
missingness, an id, a date and a binary target; train is the first 80% of rows by date.
Peak memory is the process's maximum resident set size (data included).
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pandas as pd

from auditor.inputs import load_inputs
from auditor.registry import build_params, load_registry
from auditor.runner import run_check
from auditor.spec import AuditSpec, ColumnRolesSpec


def make_table(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {
        "row_id": np.arange(n),
        "event_date": pd.Timestamp("2022-01-01")
        + pd.to_timedelta(np.sort(rng.integers(0, 1000, n)), unit="D"),
    }
    for i in range(11):
        data[f"num_{i}"] = rng.normal(size=n)
    for i in range(5):
        data[f"amount_{i}"] = np.round(rng.lognormal(8, 1.2, size=n), 2)
    for i in range(5):
        data[f"count_{i}"] = rng.poisson(2 + i, size=n)
    levels = [f"level_{k}" for k in range(40)]
    weights = 1 / np.arange(1, 41) ** 1.2
    for i in range(6):
        data[f"cat_{i}"] = rng.choice(
            levels[: 5 + 6 * i], size=n, p=weights[: 5 + 6 * i] / weights[: 5 + 6 * i].sum()
        )
    frame = pd.DataFrame(data)
    for column in ("num_3", "amount_1", "cat_2"):
        frame.loc[rng.random(n) < 0.02, column] = np.nan
    logit = frame["num_0"] - 0.5 * frame["num_1"] + 0.3 * (frame["cat_0"] == "level_0") - 1.5
    frame["target"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame["event_date"] = frame["event_date"].dt.strftime("%Y-%m-%d")
    return frame


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    frame = make_table(args.rows)
    cut = int(0.8 * len(frame))
    train, test = frame.iloc[:cut].reset_index(drop=True), frame.iloc[cut:].reset_index(drop=True)
    print(
        f"table: {len(frame):,} rows x {frame.shape[1]} columns (train {len(train):,}, test {len(test):,})"
    )
    spec = AuditSpec(target="target", columns=ColumnRolesSpec(id="row_id", time="event_date"))
    started = time.perf_counter()
    ctx = load_inputs(spec, train=train, test=test).context
    print(f"  load and role inference: {time.perf_counter() - started:.2f} s")
    registry = load_registry()
    total = 0.0
    for check_id in sorted(c for c in registry if c.startswith(("data.", "leakage."))):
        check = registry[check_id]
        result = run_check(ctx, check, build_params(check, {}))
        total += result.duration_s
        print(f"  {check_id:32} {result.duration_s:6.2f} s  {result.status}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"all data and leakage checks: {total:.1f} s; peak RSS {peak:,.0f} MiB (data included)")


if __name__ == "__main__":
    main()
