"""``data.constant_columns`` with the Dask engine: its cost per row group, and an audit.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_dask_constant.py [--audit]``

One row group of the benchmark dataset's width (``make_dask_dataset.make_file``: 19 float
features such as the continuous ``f00``, a category, the label and the predictions) plus
``spiky``, 99.95% zeros and rare lognormal values. Prints the median over repeats, in ms,
of: the main pass's screen (taking the check's rows out of a row group: 2,000 rows over
120 row groups is 17 each), and the count pass's task on one column, reading it included:
every value of ``spiky``, and the rows of ``f00`` holding 0.0 (a value another split's
screen found constant).

``--audit`` audits instead 300,000 test and 200,000 train rows (three files each, row groups
of 100,000) with both engines (a LocalCluster of one worker), and prints each engine's
findings, table and ``rows_used``: ``spend`` 99.9% zeros and rare lognormal values (100
of them per row group: past the numeric cap, so the main pass does not count it),
``sensor`` 0.0 on every test row and continuous in train (30% zeros), ``amount``
continuous. It runs with an auditor from before this engine counted such columns too.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_dask_dataset import make_file, median_ms  # noqa: E402


def _audit_split(rng: np.random.Generator, rows: int, test: bool):
    import pandas as pd

    spend = np.zeros(rows)
    rare = rng.choice(rows, rows // 1000, replace=False)
    spend[rare] = rng.lognormal(3, 1, rare.size)
    continuous = np.where(rng.random(rows) < 0.3, 0.0, rng.normal(20, 5, rows))
    return pd.DataFrame(
        {
            "spend": spend,
            "sensor": np.zeros(rows) if test else continuous,
            "amount": rng.lognormal(size=rows),
            "label": rng.integers(0, 2, rows),
        }
    )


def _audits(sample_rows: int) -> None:
    from distributed import LocalCluster

    import auditor

    check = "data.constant_columns"
    rng = np.random.default_rng(0)
    frames = {"train": _audit_split(rng, 200_000, False), "test": _audit_split(rng, 300_000, True)}
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=False) as cluster,
        tempfile.TemporaryDirectory() as folder,
    ):
        paths = {}
        for name, frame in frames.items():
            paths[name] = Path(folder) / name
            paths[name].mkdir()
            for i, rows in enumerate(np.array_split(np.arange(len(frame)), 3)):
                frame.iloc[rows].to_parquet(
                    paths[name] / f"part-{i}.parquet", row_group_size=100_000
                )
        engine = {"name": "dask", "address": cluster.scheduler_address, "sample_rows": sample_rows}
        runs = {
            "in-memory": auditor.audit(**frames, target="label", select=[check]),
            "dask": auditor.audit(
                **{n: str(p) for n, p in paths.items()},
                target="label",
                engine=engine,
                select=[check],
            ),
        }
    for engine_name, result in runs.items():
        outcome = next(c for c in result.checks if c.id == check)
        print(f"{engine_name}: {outcome.status}")
        for finding in outcome.findings:
            print(f"  {finding.code} {finding.severity}: {finding.message}")
        for row in outcome.tables[0].rows:
            print(f"  table {row}")
        used = [m.note for m in outcome.measurements if m.key == "rows_used"]
        print(f"  rows_used: {used[0] if used else 'every row (in memory)'}")


def _costs(rows: int, repeats: int) -> None:
    from auditor.engine.partitioned.run import _count_values, _CountPlan
    from auditor.engine.partitioned.source import read_row_group, row_groups_of

    rng = np.random.default_rng(0)
    spiky = np.zeros(rows)
    rare = rng.choice(rows, rows // 2000, replace=False)
    spiky[rare] = rng.lognormal(size=rare.size)
    table = make_file(0, rows).append_column("spiky", pa.array(spiky))
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "part.parquet")
        pq.write_table(table, path, row_group_size=rows)
        group = row_groups_of(path)[0]
        frame = read_row_group(group, None, {})
        inside = np.linspace(0, rows - 1, 17).astype(np.intp)
        figures = {
            "screen rows out of the row group (main pass)": median_ms(
                lambda: frame.iloc[inside], repeats
            ),
            "count every value of 'spiky' (read included)": median_ms(
                lambda: _count_values(group, _CountPlan("label", ("spiky",), {}), {}), repeats
            ),
            "count the rows of 'f00' holding 0.0 (read included)": median_ms(
                lambda: _count_values(group, _CountPlan("label", (), {"f00": (0.0,)}), {}),
                repeats,
            ),
            **{
                f"of which reading {column!r} and the label": median_ms(
                    lambda column=column: read_row_group(group, [column, "label"], {}), repeats
                )
                for column in ("spiky", "f00")
            },
        }
    for what, ms in figures.items():
        print(f"{what:55s} {ms:7.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=250_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--audit", action="store_true", help="the audits instead of the costs")
    parser.add_argument("--sample-rows", type=int, default=1000)
    args = parser.parse_args()
    if args.audit:
        _audits(args.sample_rows)
    else:
        _costs(args.rows, args.repeats)


if __name__ == "__main__":
    main()
