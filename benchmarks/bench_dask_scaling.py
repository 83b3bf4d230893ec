"""Wall time of the Dask engine at 1M, 3M, 10M and 30M rows on one running cluster.

Run (the dataset from ``make_dask_dataset.py``, a cluster started by ``dask scheduler`` and
``dask worker``, see docs/scale.md)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_dask_scaling.py \\
        --data /tmp/auditor_dask/scored --address tcp://127.0.0.1:8786 --sizes 1 3 10 30

Each size is the first ``k`` files (a million rows each), linked into a folder of its own.
Before each run the workers are restarted, so that their peak memory is that run's. The
audit runs as the CLI does (a subprocess under ``/usr/bin/time -v``, whose maximum resident
size is the client's peak), with the checks that read every row by default
(``--select performance.holdout_metrics --select data.missing_values``); ``--all-checks``
runs every check, whose sample-based part costs the same at every size. The table gives
the wall time, the time of the main passes over the rows and of the slice search's
confirmation pass, the workers' CPU, rows per second and peak memory.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

ALL_ROWS_CHECKS = ("performance.holdout_metrics", "data.missing_values")


def link_first_files(data: Path, k: int, root: Path) -> Path:
    folder = root / f"{k}M"
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(data.glob("*.parquet"))[:k]:
        link = folder / path.name
        if not link.exists():
            link.symlink_to(path)
    return folder


def restart_workers(address: str) -> None:
    from distributed import Client

    with Client(address) as client:
        client.restart()


def run(folder: Path, address: str, out: Path, all_checks: bool) -> dict:
    select = [] if all_checks else [a for c in ALL_ROWS_CHECKS for a in ("--select", c)]
    command = [
        "/usr/bin/time",
        "-v",
        str(Path(sys.executable).with_name("auditor")),
        "audit",
        "--test",
        str(folder),
        "--target",
        "label",
        "--engine",
        "dask",
        "--engine-address",
        address,
        "--format",
        "json",
        "--out-dir",
        str(out),
        "--quiet",
        *select,
    ]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(done.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    manifest = json.loads((out / "audit.json").read_text())["manifest"]
    engine = manifest["engine"]
    return {
        "rows": engine["rows"]["test"],
        "wall_s": wall,
        "passes_s": engine["passes_s"],
        "slice_pass_s": engine.get("slice_pass_s", 0.0),
        "worker_cpu_s": sum(engine["cpu_s"]["workers"].values()),
        "rows_per_s": engine["rows"]["test"] / wall,
        "client_mb": int(rss.group(1)) / 1024 if rss else float("nan"),
        "workers_mb": sorted(engine["peak_memory_mb"]["workers"].values()),
        "partitions": engine["partitions"]["test"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 3, 10, 30])
    parser.add_argument("--work", type=Path, default=Path("/tmp/auditor_dask/scaling"))
    parser.add_argument("--all-checks", action="store_true")
    args = parser.parse_args()
    rows = []
    for k in args.sizes:
        folder = link_first_files(args.data, k, args.work / "data")
        restart_workers(args.address)
        result = run(folder, args.address, args.work / f"out-{k}M", args.all_checks)
        rows.append(result)
        print(json.dumps(result), flush=True)
    base = rows[0]
    print(
        "\n| rows | partitions | wall (s) | passes (s) | slice pass (s) | worker CPU (s) | "
        "rows/s | wall / rows vs first | client peak MB | worker peaks MB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        per_row = (r["wall_s"] / r["rows"]) / (base["wall_s"] / base["rows"])
        print(
            f"| {r['rows']:,} | {r['partitions']} | {r['wall_s']:.1f} | {r['passes_s']:.1f} | "
            f"{r['slice_pass_s']:.1f} | {r['worker_cpu_s']:.1f} | {r['rows_per_s']:,.0f} | {per_row:.2f} | {r['client_mb']:.0f} | "
            f"{', '.join(f'{m:.0f}' for m in r['workers_mb'])} |"
        )


if __name__ == "__main__":
    main()
