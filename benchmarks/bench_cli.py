"""Wall time and peak memory of `auditor demo`, report sizes, and `auditor --help` start-up.

Run from the repository root after `make install`:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_cli.py

Each command runs in a fresh process; peak memory is the child's maximum resident set size.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AUDITOR = Path(sys.executable).with_name("auditor")


def timed(args: list[str]) -> tuple[float, float]:
    """Run a command in a new process; return (wall seconds, peak RSS in MiB) of that run."""
    # A fresh interpreter per measurement: RUSAGE_CHILDREN's maximum covers only what ran here.
    code = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "subprocess.run(sys.argv[1:], check=False, stdout=subprocess.DEVNULL)\n"
        "wall = time.perf_counter() - t\n"
        "print(wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )
    wall, peak = out.stdout.split()
    return float(wall), float(peak)


def main() -> None:
    env_threads = os.environ.get("OMP_NUM_THREADS")
    print(f"OMP_NUM_THREADS={env_threads}, cores={os.cpu_count()}, python {sys.version.split()[0]}")
    help_times = [timed([str(AUDITOR), "--help"])[0] for _ in range(7)]
    print(f"auditor --help: median {statistics.median(help_times) * 1000:.0f} ms over 7 runs")
    with tempfile.TemporaryDirectory() as out:
        wall, peak = timed([str(AUDITOR), "demo", "--out-dir", out])
        print(
            f"auditor demo (audit + html + pdf + json): {wall:.2f} s wall, peak RSS {peak:.0f} MiB"
        )
        for name in ("report.html", "report.pdf", "audit.json"):
            path = Path(out) / name
            if path.exists():
                print(f"  {name}: {path.stat().st_size / 1024:.0f} KiB")
        start = time.perf_counter()
        subprocess.run(
            [str(AUDITOR), "render", f"{out}/audit.json", "--format", "pdf", "-o", f"{out}/re.pdf"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        print(f"auditor render --format pdf from audit.json: {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
