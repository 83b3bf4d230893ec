"""``data.out_of_range`` with the Dask engine: its cost per row group of 250,000 rows.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_dask_out_of_range.py``

One row group of the benchmark dataset's width (``make_dask_dataset.make_file``: 19 float
features and the float ``proba_1``, a category, the label and the predictions). Prints
the median over repeats, in ms, of the main pass's per-column work for the check on the
20 numeric columns (``partials.numeric_counts``, with the maximum's rows and the
placeholder codes' rows; and the float bins, ``partials.float_histogram``, that give the
quantiles of a continuous column), and of one light-pass task on one column as the rules
ask it, reading the column from a local Parquet file included: the first questions of a
column with a -999 code in 0.5% of its rows (the code's neighbourhood, both sides of the
median, the rows per negative value, the lowest distinct values), and the largest values
of a tail (the extreme values' 56).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_dask_dataset import make_file, median_ms  # noqa: E402


def main() -> None:
    from auditor.engine.partitioned import partials
    from auditor.engine.partitioned.run import _tails
    from auditor.engine.partitioned.source import RowGroup

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=250_000)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    table = make_file(0, args.rows)
    rng = np.random.default_rng(0)
    age = rng.integers(18, 91, args.rows).astype(float)
    age[rng.random(args.rows) < 0.005] = -999.0
    table = table.append_column("age", pa.array(age))
    frame = table.to_pandas()
    numeric = [c for c in frame.columns if frame[c].dtype.kind == "f"]

    def main_pass() -> None:
        for column in numeric:
            partials.numeric_counts(frame[column], ())

    def float_bins() -> None:
        for column in numeric:
            partials.float_histogram(frame[column])

    code = -999.0
    first = partials.TailQuery(
        ranges=(
            tuple(sorted((code / 2, code * 2))),
            (math.ulp(0.0), math.inf),
            (-math.inf, math.nextafter(54.0, -math.inf)),
            (math.nextafter(54.0, math.inf), math.inf),
        ),
        valued=((-math.inf, -math.ulp(0.0)),),
        lowest=64,
    )
    largest = partials.TailQuery(largest=56, exclude=(code,))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "part.parquet"
        pq.write_table(table, path, row_group_size=args.rows)
        group = RowGroup(str(path), 0, args.rows)
        timings = {
            f"main pass, numeric counts of {len(numeric)} columns": main_pass,
            f"main pass, float bins of {len(numeric)} columns": float_bins,
            "light pass, first questions of 'age' (read included)": lambda: _tails(
                group, "label", {"age": first}, {}
            ),
            "light pass, 56 largest of 'f00' (read included)": lambda: _tails(
                group, "label", {"f00": largest}, {}
            ),
        }
        for what, func in timings.items():
            print(f"{what}: {median_ms(func, args.repeats):.1f} ms")


if __name__ == "__main__":
    main()
