"""The checks the Dask engine runs on every row, against the in-memory engine.

Run (a cluster as in docs/scale.md, or none for a LocalCluster)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_dask_all_rows.py \\
        --rows 100000 --files 3 --sample-rows 50000 [--address tcp://127.0.0.1:8786] \\
        [--sensitive region age ratio]

Writes ``--files`` test files and as many train files of ``--rows`` rows (row groups of a
fifth of a file) from ``make_dask_dataset.make_file``, with planted problems: 500 test rows
copied into train, a category train never saw, a placeholder in a code column, a feed
constant in test, a near-constant flag, negative ages against the declared domain
``age>=0``, infinities. Audits both with both engines and prints, per check, the
measurements of each and the Dask engine's ``rows_used``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_dask_dataset import make_file  # noqa: E402

import auditor  # noqa: E402

CHECKS = [
    "leakage.train_test_overlap",
    "data.constant_columns",
    "data.unseen_categories",
    "data.mixed_types",
    "data.out_of_range",
    "fairness.group_metrics",
]


def planted(index: int, rows: int, test: bool) -> pd.DataFrame:
    frame = make_file(index, rows).to_pandas()
    rng = np.random.default_rng([7, index])
    channel = rng.choice(np.array(["web", "shop", "phone"], dtype=object), rows)
    if test:
        channel[rng.random(rows) < 0.002] = "partner"  # never seen in train
    frame["channel"] = channel
    code = rng.integers(1, 9, rows).astype(str).astype(object)
    code[rng.random(rows) < 0.001] = "N/A"
    frame["code"] = code
    frame["dead"] = 3 if test else rng.integers(0, 5, rows)
    flag = np.zeros(rows, dtype=np.int8)
    flag[rng.choice(rows, 20, replace=False)] = 1  # 20 rows in a file: near-constant
    frame["flag"] = flag
    age = rng.integers(18, 90, rows).astype(float)
    age[rng.choice(rows, 15, replace=False)] = -1.0
    frame["age"] = age
    ratio = rng.lognormal(size=rows)
    ratio[rng.choice(rows, 4, replace=False)] = np.inf
    frame["ratio"] = ratio
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=3)
    parser.add_argument("--sample-rows", type=int, default=50_000)
    parser.add_argument("--address", default=None)
    parser.add_argument(
        "--sensitive",
        nargs="+",
        default=["region"],
        help="sensitive columns: region (text), age (whole numbers), ratio (lognormal)",
    )
    args = parser.parse_args()
    predictions = ["prediction", "proba_1"]
    tests = [planted(i, args.rows, True) for i in range(args.files)]
    trains = [
        planted(100 + i, args.rows, False).drop(columns=predictions) for i in range(args.files)
    ]
    copies = tests[0].drop(columns=predictions).iloc[:500]
    trains[0] = pd.concat([copies, trains[0].iloc[500:]], ignore_index=True)
    test, train = (pd.concat(frames, ignore_index=True) for frames in (tests, trains))
    options = {
        "target": "label",
        "sensitive": args.sensitive,
        "checks": {"data.out_of_range": {"domains": ["age>=0"]}},
        "select": CHECKS,
    }
    with tempfile.TemporaryDirectory() as tmp:
        folders = {}
        for name, frames in (("test", tests), ("train", trains)):
            folders[name] = Path(tmp) / name
            folders[name].mkdir()
            for i, frame in enumerate(frames):
                frame.to_parquet(folders[name] / f"part-{i}.parquet", row_group_size=args.rows // 5)
        started = time.perf_counter()
        memory = auditor.audit(
            test=test.drop(columns=predictions),
            predictions=test[predictions],
            train=train,
            **options,
        )
        memory_s = time.perf_counter() - started
        started = time.perf_counter()
        engine = {"name": "dask", "sample_rows": args.sample_rows}
        if args.address:
            engine["address"] = args.address
        dask = auditor.audit(test=folders["test"], train=folders["train"], engine=engine, **options)
        dask_s = time.perf_counter() - started
    print(
        f"in-memory {memory_s:.1f} s, dask {dask_s:.1f} s; rows {dask.manifest['engine']['rows']}"
    )
    print("| check | measurement | in-memory | dask | equal |")
    print("|---|---|---:|---:|---|")
    for check in CHECKS:
        ours = {m.key: m for c in dask.checks if c.id == check for m in c.measurements}
        theirs = {m.key: m for c in memory.checks if c.id == check for m in c.measurements}
        for key, m in theirs.items():
            got = ours[key].value if key in ours else None
            print(f"| {check} | {key} | {m.value:.6g} | {got:.6g} | {got == m.value} |")
        print(f"| {check} | rows_used | | {ours['rows_used'].note} | |")
    print_group_tables(memory, dask)


def print_group_tables(memory, dask) -> None:
    """Per sensitive column, the groups of each engine, and between their groups of the same
    label the largest difference in rows and in a metric's value (a numeric column's cuts
    can differ by a float bin, and then so do its groups' labels)."""
    tables = [
        {t.title: t for c in result.checks if c.id == "fairness.group_metrics" for t in c.tables}
        for result in (memory, dask)
    ]
    for title, theirs in tables[0].items():
        ours = tables[1].get(title)
        if ours is None or "value" not in theirs.columns:
            continue
        at = theirs.columns.index
        memory_rows, dask_rows = (
            {(r[at("metric")], r[at("group")]): (r[at("n_rows")], r[at("value")]) for r in t.rows}
            for t in (theirs, ours)
        )
        shared = [k for k in memory_rows if k in dask_rows]
        rows = max(abs(dask_rows[k][0] - memory_rows[k][0]) for k in shared) if shared else None
        value = max(
            (
                abs(dask_rows[k][1] - memory_rows[k][1])
                for k in shared
                if None not in (dask_rows[k][1], memory_rows[k][1])
            ),
            default=None,
        )
        sizes = [
            dict((g, n) for (_, g), (n, _) in found.items()) for found in (memory_rows, dask_rows)
        ]
        print(
            f"{title.split(' (')[0].split(',')[0]}: groups (rows) in memory {sizes[0]}, dask "
            f"{sizes[1]}; groups of the same label differ by {rows} rows and {value} in value"
        )


if __name__ == "__main__":
    main()
