"""Write a synthetic scored-traffic dataset as partitioned Parquet for the Dask engine.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/make_dask_dataset.py DIR --files 30``

Each file ``part-00000.parquet`` ... holds ``--rows-per-file`` rows (default 1,000,000) in
row groups of ``--row-group`` rows (default 250,000): 19 float64 features ``f00`` .. ``f18``
(``f03`` 2% missing), one categorical ``region`` (6 values), the binary label ``label`` drawn
from a logistic model of the features, and the model's outputs as the predictions file
convention names them: ``proba_1`` and ``prediction``. The first ``k`` files are the first
``k`` million rows, so one directory serves every size of the scaling table (by glob).
Each file is drawn from its own seed: the same command writes the same bytes.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

N_NUMERIC = 19
REGIONS = np.array(["north", "south", "east", "west", "centre", "islands"])


def median_ms(func, repeats: int) -> float:
    """The median wall time of ``repeats`` calls of ``func``, in milliseconds (the partial
    costs the Dask benchmarks report per row group)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def make_file(index: int, rows: int, seed: int = 0, dtype: str = "float64") -> pa.Table:
    rng = np.random.default_rng([seed, index])
    X = rng.standard_normal((rows, N_NUMERIC), dtype=np.float32).astype(dtype)
    region = rng.integers(0, len(REGIONS), rows)
    weights = np.linspace(1.0, -0.5, N_NUMERIC).astype(np.float32) * 0.4
    logit = X.astype(np.float32) @ weights + (region == 2) * 0.5 - 1.0
    truth = 1 / (1 + np.exp(-logit))
    label = (rng.random(rows) < truth).astype(np.int8)
    # The model knows the logit up to noise: a realistic ROC AUC near 0.8.
    score = 1 / (1 + np.exp(-(logit + rng.normal(0, 0.6, rows))))
    columns = {f"f{j:02d}": X[:, j] for j in range(N_NUMERIC)}
    missing = rng.random(rows) < 0.02
    columns["f03"] = np.where(missing, np.nan, columns["f03"]).astype(dtype)
    columns["region"] = pa.array(REGIONS[region]).dictionary_encode()
    columns["label"] = label
    columns["proba_1"] = score.astype(np.float64)
    columns["prediction"] = (score >= 0.5).astype(np.int8)
    return pa.table(columns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--files", type=int, default=30)
    parser.add_argument("--rows-per-file", type=int, default=1_000_000)
    parser.add_argument("--row-group", type=int, default=250_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--dtype",
        default="float64",
        help="of the features: float64 (default) makes 30M rows 4.6 GiB in pandas",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for i in range(args.files):
        path = args.out / f"part-{i:05d}.parquet"
        if path.exists():
            continue
        table = make_file(i, args.rows_per_file, args.seed, args.dtype)
        tmp = path.with_suffix(".tmp")
        pq.write_table(table, tmp, row_group_size=args.row_group)
        tmp.rename(path)
        print(f"{path.name} {time.perf_counter() - started:.1f}s", flush=True)


if __name__ == "__main__":
    main()
