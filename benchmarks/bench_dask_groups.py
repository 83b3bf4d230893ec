"""Per-row-group cost of the group metrics' partials of ``--engine dask``.

Times, on one row group of the synthetic data of ``make_dask_dataset.py`` (a numeric column
``f00`` as the sensitive column, ``region`` as a categorical one), the pieces each row group
pays when ``--sensitive`` names such columns:

- the pass before the main one: rows per float bin, range and value counts of a numeric
  sensitive column (``number_spread``), then with reading that column and the label from
  a local Parquet file of one row group;
- classification: the quartile group of each row and its (true, predicted) cells;
- regression: the holdout partial alone, then with the residual sums of the groups of one
  numeric (quartiles) and one categorical column, from the same Poisson weights.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_dask_groups.py --rows 250000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from make_dask_dataset import make_file

from auditor.engine.partitioned.groups import quantile_edges
from auditor.engine.partitioned.hashing import row_hashes
from auditor.engine.partitioned.partials import (
    cut_groups,
    group_cells,
    number_spread,
    regression_partial,
)
from auditor.engine.partitioned.run import _spread
from auditor.engine.partitioned.source import RowGroup


def best_ms(func, repeats: int) -> float:
    """The fastest of ``repeats`` runs, in ms: the cost without the other jobs' noise."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return 1000 * min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=250_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--replicates", type=int, default=200)
    args = parser.parse_args()
    table = make_file(0, args.rows)
    frame = table.to_pandas()
    numeric, categorical = frame["f00"].astype(float), frame["region"]
    spread = number_spread(numeric)
    edges = quantile_edges(spread, (0.0, 0.25, 0.5, 0.75, 1.0))
    y = frame["label"].to_numpy(np.int64)
    y_pred = frame["prediction"].to_numpy(np.int64)
    hashes = row_hashes(frame, 0)
    target = frame["proba_1"].to_numpy() * 100  # a regression target and its prediction
    predicted = target + numeric.to_numpy()
    print(f"{args.rows:,} rows; {len(spread.histogram):,} float bins in the numeric column")
    folder = tempfile.TemporaryDirectory()
    path = Path(folder.name) / "part.parquet"
    pq.write_table(table, path)
    rows = {
        "numeric spread (pass before the main one)": lambda: number_spread(numeric),
        "  with reading the label and the column": lambda: _spread(
            RowGroup(str(path), 0, args.rows), "label", ("f00",), {}
        ),
        "classification: quartile groups and their cells": lambda: group_cells(
            cut_groups(numeric, edges[1:-1]), y, y_pred, 2
        ),
        "classification: categorical groups' cells": lambda: group_cells(categorical, y, y_pred, 2),
        "regression holdout partial alone": lambda: regression_partial(
            target, predicted, hashes, args.replicates
        ),
        "regression, with the sums of 2 sensitive columns": lambda: regression_partial(
            target,
            predicted,
            hashes,
            args.replicates,
            {"f00": cut_groups(numeric, edges[1:-1]), "region": categorical},
        ),
    }
    for name, func in rows.items():
        print(f"{name:<52} {best_ms(func, args.repeats):8.1f} ms")
    folder.cleanup()


if __name__ == "__main__":
    main()
