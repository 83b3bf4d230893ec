"""The Dask engine against the in-memory engine on a dataset that fits in memory.

Run (a cluster as in docs/scale.md, or none for a LocalCluster)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_dask_equality.py \\
        --rows 100000 --files 3 [--address tcp://127.0.0.1:8786]

Writes ``--files`` files of ``--rows`` rows (row groups of a fifth of a file) from
``make_dask_dataset.make_file``, audits them with both engines (holdout metrics and missing
values) and prints one Markdown row per measurement: both values and intervals, the
difference, and the ROC AUC binning bound the Dask engine computed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_dask_dataset import make_file  # noqa: E402

import auditor  # noqa: E402
from auditor.api import run_audit  # noqa: E402
from auditor.spec import AuditSpec, EngineSettings  # noqa: E402

CHECKS = ["performance.holdout_metrics", "data.missing_values"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=3)
    parser.add_argument("--address", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        tables = [make_file(i, args.rows) for i in range(args.files)]
        for i, table in enumerate(tables):
            pq.write_table(table, folder / f"part-{i}.parquet", row_group_size=args.rows // 5)
        frame = pd.concat([t.to_pandas() for t in tables], ignore_index=True)
        started = time.perf_counter()
        memory = auditor.audit(
            test=frame.drop(columns=["prediction", "proba_1"]),
            predictions=frame[["prediction", "proba_1"]],
            target="label",
            select=CHECKS,
        )
        memory_s = time.perf_counter() - started
        started = time.perf_counter()
        dask = run_audit(
            AuditSpec(
                test=str(folder),
                target="label",
                engine=EngineSettings(name="dask", address=args.address),
            ),
            select=CHECKS,
        )
        dask_s = time.perf_counter() - started
    bound = next(n for n in dask.manifest["notes"] if "logit bins" in n)
    print(f"{len(frame):,} rows; in-memory {memory_s:.1f} s, dask {dask_s:.1f} s; {bound}\n")
    print("| check | measurement | in-memory [95% CI] | dask [95% CI] | difference |")
    print("|---|---|---|---|---:|")
    for ours, theirs in zip(dask.checks, memory.checks, strict=True):
        by_key = {m.key: m for m in theirs.measurements}
        for m in ours.measurements:
            if m.key not in by_key:
                continue
            t = by_key[m.key]

            def show(x):
                ci = "" if x.ci_low is None else f" [{x.ci_low:.5f}, {x.ci_high:.5f}]"
                return f"{x.value:.6g}{ci}"

            print(f"| {ours.id} | {m.key} | {show(t)} | {show(m)} | {abs(m.value - t.value):.1e} |")


if __name__ == "__main__":
    main()
