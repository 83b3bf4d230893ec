"""The Dask engine (``--engine dask``) against the in-memory engine, on a few thousand rows.

One in-process cluster (one worker, one thread; ``conftest.cluster``) serves every Dask
test of a test process, so the whole file costs a few seconds on every ``make test``. What
it pins down:

- equality: counts and counts-based metrics exactly, the Brier score and log loss to float
  rounding, ROC AUC within its computed binning bound (and 1e-4); intervals within
  Monte-Carlo error of the in-memory bootstrap (the resamples differ: Poisson by row hash
  against multinomial);
- partitioning does not matter: one file of one row group gives the same audit as nine
  row groups in three files, intervals included (float sums up to the order of addition);
- the refusals and errors: a corrupt file is one line naming it, weights are refused.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed")
pyarrow_parquet = pytest.importorskip("pyarrow.parquet")

from typer.testing import CliRunner  # noqa: E402

import auditor  # noqa: E402
from auditor.api import run_audit  # noqa: E402
from auditor.cli.app import app  # noqa: E402
from auditor.errors import InputError  # noqa: E402
from auditor.result_schema import validate_result  # noqa: E402
from auditor.spec import AuditSpec, EngineSettings  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from make_dask_dataset import make_file  # noqa: E402

CHECKS = ["performance.holdout_metrics", "data.missing_values", "data.class_imbalance"]
COUNTS = (
    "accuracy",
    "balanced_accuracy",
    "f1",
    "precision",
    "recall",
    "matthews_corrcoef",
    "n_test_rows",
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> dict:
    """Three files of 1,200 rows in row groups of 500; the same rows as one frame."""
    root = tmp_path_factory.mktemp("scored")
    parts = root / "parts"
    parts.mkdir()
    tables = [make_file(i, 1200) for i in range(3)]
    for i, table in enumerate(tables):
        pyarrow_parquet.write_table(table, parts / f"part-{i}.parquet", row_group_size=500)
    import pyarrow as pa

    whole = pa.concat_tables(tables)
    single = root / "single.parquet"
    pyarrow_parquet.write_table(whole, single)
    frame = pd.read_parquet(single)
    return {"parts": parts, "single": single, "frame": frame}


def dask_audit(address: str, test: Path, **spec) -> auditor.AuditResult:
    engine = EngineSettings(name="dask", address=address)
    return run_audit(
        AuditSpec(test=str(test), target="label", engine=engine, **spec), select=CHECKS
    )


def measurements(result, check_id: str) -> dict:
    check = next(c for c in result.checks if c.id == check_id)
    return {m.key: m for m in check.measurements}


@pytest.fixture(scope="module")
def both(cluster, dataset):
    frame = dataset["frame"]
    memory = auditor.audit(
        test=frame.drop(columns=["prediction", "proba_1"]),
        predictions=frame[["prediction", "proba_1"]],
        target="label",
        select=CHECKS,
    )
    return dask_audit(cluster, dataset["parts"]), memory


def test_point_estimates_equal_the_in_memory_engine(both):
    dask_result, memory = both
    ours = measurements(dask_result, "performance.holdout_metrics")
    theirs = measurements(memory, "performance.holdout_metrics")
    for key in COUNTS:
        assert ours[key].value == pytest.approx(theirs[key].value, rel=1e-12), key
    for key in ("brier_score", "log_loss"):
        assert ours[key].value == pytest.approx(theirs[key].value, rel=1e-9), key
    bound = dask_result.checks and float(
        next(n for n in dask_result.manifest["notes"] if "logit bins" in n)
        .split("within ")[1]
        .split(" of")[0]
    )
    assert abs(ours["roc_auc"].value - theirs["roc_auc"].value) <= min(bound, 1e-4)
    assert ours["average_precision"].value == pytest.approx(
        theirs["average_precision"].value, abs=1e-3
    )
    assert ours["rows_used"].value == 3600


def test_intervals_agree_within_monte_carlo_error(both):
    dask_result, memory = both
    ours = measurements(dask_result, "performance.holdout_metrics")
    theirs = measurements(memory, "performance.holdout_metrics")
    for key in ("roc_auc", "log_loss", "brier_score", "balanced_accuracy", "f1"):
        width = theirs[key].ci_high - theirs[key].ci_low
        # 200 Poisson against 1,000 multinomial replicates: each end moves by a few % of the
        # width from Monte-Carlo error alone; 25% is far beyond it, far below a wrong interval.
        assert abs(ours[key].ci_low - theirs[key].ci_low) < 0.25 * width, key
        assert abs(ours[key].ci_high - theirs[key].ci_high) < 0.25 * width, key
    for key in ("accuracy", "precision", "recall"):  # Wilson intervals on exact counts
        assert ours[key].ci_low == pytest.approx(theirs[key].ci_low, rel=1e-12)


@pytest.mark.parametrize("check", ["data.missing_values", "data.class_imbalance"])
def test_data_checks_count_every_row(both, check):
    dask_result, memory = both
    ours = measurements(dask_result, check)
    theirs = measurements(memory, check)
    for key, m in theirs.items():
        assert ours[key].value == m.value, key
    assert ours["rows_used"].note == "all 3,600 test rows"


def test_the_audit_does_not_depend_on_the_partitioning(cluster, dataset, both):
    dask_result, _ = both
    single = dask_audit(cluster, dataset["single"])
    assert single.manifest["engine"]["partitions"] == {"test": 1}
    assert dask_result.manifest["engine"]["partitions"] == {"test": 9}
    for check in CHECKS:
        a, b = measurements(single, check), measurements(dask_result, check)
        assert a.keys() == b.keys()
        for key in a:
            # Counts are equal; float sums equal up to the order of addition (1e-15).
            for field in ("value", "ci_low", "ci_high"):
                got, want = getattr(a[key], field), getattr(b[key], field)
                assert (got is None) == (want is None), (check, key, field)
                if got is not None:
                    assert got == pytest.approx(want, rel=1e-12, abs=1e-15), (check, key)
    engine = single.manifest["engine"]
    assert engine["row_digest"] == dask_result.manifest["engine"]["row_digest"]
    # The dataset's identity for `auditor compare`: same rows, same sha256, any seed.
    assert single.inputs[0].sha256 == dask_result.inputs[0].sha256
    assert (
        dask_audit(cluster, dataset["single"], seed=7).inputs[0].sha256 == single.inputs[0].sha256
    )
    assert engine["rows"] == {"test": 3600}
    assert engine["workers"] == 1


def test_cli_writes_a_valid_audit_json(cluster, dataset, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "audit",
            "--test",
            str(dataset["parts"]),
            "--target",
            "label",
            "--engine",
            "dask",
            "--engine-address",
            cluster,
            "--select",
            "data.missing_values",
            "--format",
            "json",
            "--out-dir",
            str(out),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads((out / "audit.json").read_text())
    validate_result(data, source="audit.json")
    assert data["manifest"]["engine"]["name"] == "dask"
    assert data["inputs"][0]["rows"] == 3600


def test_a_corrupt_file_is_one_line_naming_it(cluster, dataset, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for path in sorted(dataset["parts"].iterdir())[:2]:
        (broken / path.name).write_bytes(path.read_bytes())
    (broken / "part-9.parquet").write_bytes(b"PAR1 not really parquet")
    with pytest.raises(InputError, match=r"part-9\.parquet"):
        dask_audit(cluster, broken)


def test_weights_are_refused_in_one_line(cluster, dataset):
    from auditor.spec import ColumnRolesSpec

    with pytest.raises(InputError, match="--weight-column"):
        dask_audit(cluster, dataset["parts"], columns=ColumnRolesSpec(weight="f00"))


def test_partials_merge_exactly_whatever_the_split():
    from auditor.engine.partitioned.hashing import row_hashes
    from auditor.engine.partitioned.partials import regression_partial

    rng = np.random.default_rng(0)
    y = rng.normal(1000, 1, 3000)
    y_pred = y + rng.normal(0, 0.5, 3000)
    hashes = row_hashes(pd.DataFrame({"y": y}), 0)
    whole, _ = regression_partial(y, y_pred, hashes, 100)
    parts = [slice(0, 7), slice(7, 2000), slice(2000, 3000)]
    merged, _ = regression_partial(y[parts[0]], y_pred[parts[0]], hashes[parts[0]], 100)
    for part in parts[1:]:
        merged = merged + regression_partial(y[part], y_pred[part], hashes[part], 100)[0]
    np.testing.assert_allclose(merged.m2, whole.m2, rtol=1e-9)
    np.testing.assert_allclose(merged.sums, whole.sums, rtol=1e-12)
    from sklearn.metrics import r2_score

    from auditor.engine.partitioned.holdout import regression_scores

    assert regression_scores(merged)["r2"].value == pytest.approx(r2_score(y, y_pred), rel=1e-9)


def write_parts(frame: pd.DataFrame, folder: Path, files: int = 2) -> Path:
    folder.mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(frame)), files)):
        frame.iloc[part].to_parquet(folder / f"part-{i}.parquet", row_group_size=400)
    return folder


def check_on_both_engines(
    cluster: str,
    folder: Path,
    check: str,
    test: pd.DataFrame,
    train: pd.DataFrame | None = None,
    *,
    files: tuple[int, int] = (2, 2),
    **options,
):
    """``check`` audited on the same rows by the Dask engine (the frames written under
    ``folder`` in ``files`` test and train files, a sample of 1,000 rows) and in memory:
    (the Dask engine's CheckResult, the in-memory one)."""
    options = {"target": "label", "select": [check], **options}
    split_parts = {"test": write_parts(test, folder / "test", files=files[0])}
    if train is not None:
        split_parts["train"] = write_parts(train, folder / "train", files=files[1])
    engine = {"name": "dask", "address": cluster, "sample_rows": 1000}
    ours = auditor.audit(**split_parts, engine=engine, **options)
    theirs = auditor.audit(test=test, train=train, **options)
    return tuple(next(c for c in r.checks if c.id == check) for r in (ours, theirs))


def compare_holdout(address: str, frame: pd.DataFrame, folder: Path, **exact_to) -> None:
    predictions = [c for c in frame.columns if c == "prediction" or c.startswith("proba_")]
    memory = auditor.audit(
        test=frame.drop(columns=predictions),
        predictions=frame[predictions],
        target="label",
        select=["performance.holdout_metrics"],
    )
    ours = measurements(dask_audit(address, folder), "performance.holdout_metrics")
    theirs = measurements(memory, "performance.holdout_metrics")
    assert set(theirs) <= set(ours)
    for key, m in theirs.items():
        tolerance = exact_to.get(key, 1e-9)
        assert ours[key].value == pytest.approx(m.value, rel=tolerance, abs=tolerance), key


def test_multiclass_on_every_row(cluster, tmp_path):
    rng = np.random.default_rng(1)
    n, classes = 1500, np.array(["a", "b", "c"])
    logits = rng.normal(size=(n, 3))
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    label = np.array([rng.choice(3, p=p) for p in proba])
    frame = pd.DataFrame({"x": rng.normal(size=n), "label": classes[label]})
    frame["prediction"] = classes[proba.argmax(axis=1)]
    for j, c in enumerate(classes):
        frame[f"proba_{c}"] = proba[:, j]
    compare_holdout(cluster, frame, write_parts(frame, tmp_path / "multi"), roc_auc_ovr=1e-4)


def test_regression_on_every_row(cluster, tmp_path):
    rng = np.random.default_rng(2)
    n = 1500
    x = rng.normal(size=n)
    frame = pd.DataFrame({"x": x, "label": 100 + 3 * x + rng.normal(size=n)})
    frame["prediction"] = 100 + 3 * x
    compare_holdout(cluster, frame, write_parts(frame, tmp_path / "reg"))


def test_a_model_scores_each_partition_on_the_workers(cluster, tmp_path):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    n = 1500
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    frame["label"] = (frame.a + rng.normal(size=n) > 0).astype(int)
    model = LogisticRegression().fit(frame[["a", "b"]], frame.label)
    folder = write_parts(frame, tmp_path / "scored")
    memory = auditor.audit(test=frame, model=model, target="label", select=CHECKS)
    engine = EngineSettings(name="dask", address=cluster)
    ours = run_audit(
        AuditSpec(test=str(folder), target="label", engine=engine),
        objects={"model": model},
        select=CHECKS,
    )
    a = measurements(ours, "performance.holdout_metrics")
    b = measurements(memory, "performance.holdout_metrics")
    for key in ("accuracy", "f1", "matthews_corrcoef", "n_test_rows"):
        assert a[key].value == b[key].value, key
    assert a["log_loss"].value == pytest.approx(b["log_loss"].value, rel=1e-9)
    assert a["roc_auc"].value == pytest.approx(b["roc_auc"].value, abs=1e-4)


def test_the_python_api_takes_an_engine_table(cluster, dataset):
    result = auditor.audit(
        test=dataset["parts"],
        target="label",
        engine={"name": "dask", "address": cluster},
        select=["data.missing_values"],
    )
    assert result.manifest["engine"]["rows"] == {"test": 3600}
    with pytest.raises(InputError, match="sample_rows"):
        auditor.audit(
            test=dataset["parts"], target="label", engine={"name": "dask", "sample_rows": 5}
        )


def test_the_sample_holds_every_class_however_rare(cluster, tmp_path):
    rng = np.random.default_rng(4)
    n = 8000
    label = np.where(rng.random(n) < 0.5, "a", "b").astype(object)
    label[17] = "c"  # one row of class c, which the 1,000-row Bernoulli sample misses
    proba = rng.dirichlet([1, 1, 1], n)
    frame = pd.DataFrame({"x": rng.normal(size=n), "label": label})
    frame["prediction"] = np.array(["a", "b", "c"])[proba.argmax(axis=1)]
    for j, c in enumerate("abc"):
        frame[f"proba_{c}"] = proba[:, j]
    folder = write_parts(frame, tmp_path / "rare")
    from auditor.engine.partitioned.hashing import raw_row_hashes, seeded, uniform

    as_read = pd.concat([pd.read_parquet(f) for f in sorted(folder.iterdir())], ignore_index=True)
    # Row 17 is outside the Bernoulli sample: only the per-label rows bring class c in.
    assert uniform(seeded(raw_row_hashes(as_read), 0), 1)[17] >= 1000 / n
    engine = EngineSettings(name="dask", address=cluster, sample_rows=1000)
    result = run_audit(
        AuditSpec(test=str(folder), target="label", engine=engine),
        select=["performance.holdout_metrics", "data.class_imbalance"],
    )
    ours = measurements(result, "performance.holdout_metrics")
    assert ours["n_test_rows"].value == n
    assert {"roc_auc_ovr", "log_loss", "accuracy"} <= set(ours)
    by_class = next(t for c in result.checks for t in c.tables if t.key == "rows_by_class")
    assert [(row[0], row[1]) for row in by_class.rows] == [
        ("a", int((label == "a").sum())),
        ("b", int((label == "b").sum())),
        ("c", 1),
    ]


def test_a_train_split_is_counted_on_every_row_too(cluster, dataset, tmp_path):
    frame = dataset["frame"]
    train = write_parts(frame.drop(columns=["prediction", "proba_1"]).iloc[:2400], tmp_path / "tr")
    engine = EngineSettings(name="dask", address=cluster)
    result = run_audit(
        AuditSpec(test=str(dataset["parts"]), train=str(train), target="label", engine=engine),
        select=["data.missing_values", "data.class_imbalance", "data.constant_columns"],
    )
    assert result.manifest["engine"]["rows"] == {"test": 3600, "train": 2400}
    missing = next(c for c in result.checks if c.id == "data.missing_values")
    table = {row[0]: row[1:] for row in missing.tables[0].rows}
    f03 = frame["f03"].isna()
    assert table["f03"][0] == int(f03.iloc[:2400].sum())  # train_missing, every train row
    assert table["f03"][2] == int(f03.sum())  # test_missing, every test row
    assert all(c.status != "error" for c in result.checks)


def test_exact_codes_of_a_partition_are_those_of_the_whole_column():
    from auditor.checks._row_keys import column_codes
    from auditor.engine.row_keys import exact_column_codes

    columns = {
        "float": pd.Series([1.5, np.nan, -0.0, 0.0, 3.0, 1.5]),
        "int": pd.Series([3, 1, 2, 3, 0, 1]),
        "nullable": pd.Series([3, None, 2, 3, 0, 1], dtype="Int64"),
        "mixed": pd.Series([3, "3", 3.0, None, True, "a"], dtype=object),
        "text": pd.Series(["a", "b", None, "a", "A", " a"]),
        "category": pd.Series(["x", "y", "x", None, "y", "x"], dtype="category"),
        "bool": pd.Series([True, False, True, True, False, False]),
        "when": pd.to_datetime(["2026-01-01", None, "2026-01-02", "2026-01-01", None, None]),
    }
    for name, series in columns.items():
        whole = column_codes(pd.Series(series))[0]
        np.testing.assert_array_equal(exact_column_codes(pd.Series(series)), whole, name)
        # Codes are a function of each value alone: a partition's are the whole column's.
        part = pd.Series(series).iloc[3:].reset_index(drop=True)
        np.testing.assert_array_equal(exact_column_codes(part), whole[3:], name)


def test_train_test_overlap_counts_every_row(cluster, dataset, tmp_path, monkeypatch):
    from auditor.engine.partitioned import overlap

    frame = dataset["frame"]
    fresh = pd.read_parquet(_write_table(make_file(5, 1500), tmp_path / "fresh.parquet"))
    # 60 copies of test rows, and 5 train rows twice (10 train rows repeat another).
    train = pd.concat(
        [fresh, frame.drop(columns=["prediction", "proba_1"]).iloc[100:160], fresh.iloc[:5]],
        ignore_index=True,
    )
    folder = write_parts(train, tmp_path / "train")
    monkeypatch.setattr(overlap, "_ROWS_PER_BUCKET", 1000)  # 5,165 rows: 8 buckets
    check = "leakage.train_test_overlap"
    memory = auditor.audit(
        test=frame.drop(columns=["prediction", "proba_1"]),
        predictions=frame[["prediction", "proba_1"]],
        train=train,
        target="label",
        select=[check],
    )
    engine = EngineSettings(
        name="dask", address=cluster, sample_rows=1000, bootstrap_replicates=100
    )
    result = run_audit(
        AuditSpec(test=str(dataset["parts"]), train=str(folder), target="label", engine=engine),
        select=[check],
    )
    assert result.manifest["engine"]["sample_rows"]["test"] < 3600  # the sample is not all
    ours, theirs = measurements(result, check), measurements(memory, check)
    assert ours["test_rows_in_train"].value == theirs["test_rows_in_train"].value == 60
    for key in ("test_share_in_train", "chance_share"):
        assert ours[key].value == pytest.approx(theirs[key].value, rel=1e-12), key
    assert theirs["chance_share"].value == pytest.approx(10 / len(train), rel=1e-12)
    assert ours["rows_used"].note == "all 3,600 test rows against all 1,565 train rows"
    mine, in_memory = (next(c for c in r.checks if c.id == check) for r in (result, memory))
    assert mine.status == in_memory.status == "warn"


def _write_table(table, path: Path) -> Path:
    pyarrow_parquet.write_table(table, path)
    return path


def test_category_counts_of_every_row(cluster, tmp_path, monkeypatch):
    from auditor.engine.partitioned import partials

    rng = np.random.default_rng(6)

    def split(n: int, new_share: float) -> pd.DataFrame:
        color = rng.choice(list("abcd"), n).astype(object)
        color[rng.random(n) < new_share] = "e"  # a category train never saw
        code = rng.integers(1, 9, n).astype(str).astype(object)
        code[rng.random(n) < 0.01] = "N/A"  # a placeholder in a number column
        return pd.DataFrame(
            {
                "x": rng.normal(size=n),
                "color": color,
                "code": code,
                "free": [f"note {i % 400}" for i in range(n)],  # 400 values: past the cap
                "label": rng.integers(0, 2, n),
            }
        )

    train, test = split(3000, 0.0), split(3000, 0.02)
    monkeypatch.setattr(partials, "MAX_LEVELS", 100)
    checks = ["data.unseen_categories", "data.mixed_types"]
    memory = auditor.audit(test=test, train=train, target="label", select=checks)
    engine = EngineSettings(name="dask", address=cluster, sample_rows=1000)
    spec = AuditSpec(
        test=str(write_parts(test, tmp_path / "test")),
        train=str(write_parts(train, tmp_path / "train")),
        target="label",
        engine=engine,
    )
    result = run_audit(spec, select=checks)
    assert result.manifest["engine"]["sample_rows"]["test"] < 3000

    def rows(audit, check: str, column: str) -> list:
        table = next(c for c in audit.checks if c.id == check).tables[0]
        return [row for row in table.rows if row[0] == column]

    for check in checks:  # color and code on every row; free (past the cap) on the sample
        for column in ("color", "code"):
            assert rows(result, check, column) == rows(memory, check, column), (check, column)
        note = measurements(result, check)["rows_used"].note
        assert note == "all 3,000 test rows for 2 of 3 columns; a seeded sample of " + (
            f"{result.manifest['engine']['sample_rows']['test']:,} rows for 'free'"
        )
    assert rows(result, "data.unseen_categories", "color")[0][3] == int((test.color == "e").sum())


def test_group_metrics_count_every_row(cluster, tmp_path):
    from auditor.spec import ColumnRolesSpec

    rng = np.random.default_rng(7)
    n = 4000
    group = rng.choice(np.array(["a", "b", "c", "d"], dtype=object), n, p=[0.5, 0.3, 0.19, 0.01])
    group[rng.random(n) < 0.03] = None  # the (missing) group
    score = 1 / (1 + np.exp(-(rng.normal(size=n) + (group == "b") * 0.6)))
    frame = pd.DataFrame({"x": rng.normal(size=n), "grp": group})
    frame["label"] = (rng.random(n) < score).astype(int)
    frame["proba_1"] = score
    frame["prediction"] = (score >= 0.5).astype(int)
    check = ["fairness.group_metrics"]
    memory = auditor.audit(
        test=frame.drop(columns=["prediction", "proba_1"]),
        predictions=frame[["prediction", "proba_1"]],
        target="label",
        sensitive=["grp"],
        select=check,
    )
    engine = EngineSettings(
        name="dask", address=cluster, sample_rows=1000, bootstrap_replicates=100
    )
    spec = AuditSpec(
        test=str(write_parts(frame, tmp_path / "groups")),
        target="label",
        engine=engine,
        columns=ColumnRolesSpec(sensitive=("grp",)),
    )
    result = run_audit(spec, select=check)
    assert result.manifest["engine"]["sample_rows"]["test"] < 2000
    ours, theirs = (next(c for c in r.checks if c.id == check[0]) for r in (result, memory))
    assert ours.status == theirs.status
    # Per group: rows, every rate and its Wilson interval, exactly (counts).
    for a, b in zip(ours.tables, theirs.tables, strict=True):
        assert a.columns == b.columns
        assert len(a.rows) == len(b.rows)
        for got, want in zip(a.rows, b.rows, strict=True):
            for x, y in zip(got, want, strict=True):
                if isinstance(y, float) and isinstance(x, float):
                    assert x == pytest.approx(y, rel=1e-12, abs=1e-15, nan_ok=True), (a.key, got)
                else:
                    assert x == y, (a.key, got, want)
    m_ours, m_theirs = measurements(result, check[0]), measurements(memory, check[0])
    for key, m in m_theirs.items():
        assert m_ours[key].value == pytest.approx(m.value, rel=1e-12), key
    # The selection-rate ratio's bootstrap interval: multinomial draws of the cells, not of
    # the rows; the same distribution, so the ends agree within Monte-Carlo error.
    ratio, want = m_ours["min_selection_rate_ratio"], m_theirs["min_selection_rate_ratio"]
    width = want.ci_high - want.ci_low
    assert abs(ratio.ci_low - want.ci_low) < 0.25 * width
    assert abs(ratio.ci_high - want.ci_high) < 0.25 * width
    assert m_ours["rows_used"].note == "all 4,000 test rows"


def test_declared_domains_and_infinities_on_every_row(cluster, tmp_path):
    rng = np.random.default_rng(8)

    def split(n: int, negatives: int, infinite: int) -> pd.DataFrame:
        age = rng.integers(18, 90, n).astype(float)
        age[rng.choice(n, negatives, replace=False)] = -5.0  # violates age>=0
        ratio = rng.lognormal(size=n)
        ratio[rng.choice(n, infinite, replace=False)] = np.inf  # a division by zero
        return pd.DataFrame({"age": age, "ratio": ratio, "label": rng.integers(0, 2, n)})

    train, test = split(2000, 3, 2), split(4000, 7, 5)
    check = "data.out_of_range"
    options = {"checks": {check: {"domains": ["age>=0"]}}}
    ours, theirs = check_on_both_engines(cluster, tmp_path, check, test, train, **options)
    for code in ("outside_declared_domain", "infinite_values"):
        a, b = (next(f for f in c.findings if f.code == code) for c in (ours, theirs))
        assert a.evidence["rows_by_split"] == b.evidence["rows_by_split"], code
        assert a.severity == b.severity
        assert a.message == b.message.split(" Example row positions")[0], code
    assert theirs.findings[0].evidence["rows_by_split"] == {"test": 7, "train": 3}
    for a, b in zip(ours.tables[0].rows, theirs.tables[0].rows, strict=True):
        # every row's; the median and robust sd compared in test_dask_out_of_range.py
        assert (a[0], a[1], *a[4:]) == (b[0], b[1], *b[4:])
    assert ours.status == theirs.status == "fail"
    assert {m.key: m for m in ours.measurements}["rows_used"].note == "all 4,000 test rows"


def test_constant_columns_from_every_row(cluster, tmp_path):
    rng = np.random.default_rng(9)

    def split(n: int, dead: bool) -> pd.DataFrame:
        flag = np.full(n, "n", dtype=object)
        flag[rng.choice(n, 2, replace=False)] = "y"  # near-constant: 2 rows of another value
        return pd.DataFrame(
            {
                "x": rng.normal(size=n),  # continuous: the check's screen, as in memory
                "dead": np.full(n, 3) if dead else rng.integers(0, 5, n),  # a feed gone dead
                "flag": flag,
                "same": np.full(n, "k", dtype=object),  # constant everywhere
                "label": rng.integers(0, 2, n),
            }
        )

    train, test = split(2000, dead=False), split(4000, dead=True)
    check = "data.constant_columns"
    ours, theirs = check_on_both_engines(cluster, tmp_path, check, test, train)
    assert [(f.code, f.severity, f.message, f.evidence) for f in ours.findings] == [
        (f.code, f.severity, f.message, f.evidence) for f in theirs.findings
    ]
    assert {f.code for f in theirs.findings} == {"constant_in_test", "near_constant", "constant"}
    assert ours.tables == theirs.tables
    assert ours.status == theirs.status == "fail"
    assert {m.key: m for m in ours.measurements}["rows_used"].note == "all 4,000 test rows"


def _calibration_equals_in_memory(result, scores: np.ndarray, outcomes: np.ndarray) -> int:
    """The Dask check's bins, ECE and Brier parts against the in-memory code given the same
    bins (read off the table: a bin starts at its lowest score); returns the bins."""
    from auditor.stats.calibration import brier_decomposition, reliability_bins, weighted_ece

    check = next(c for c in result.checks if c.id == "performance.calibration")
    ours = {m.key: m for m in check.measurements}
    rows = next(t for t in check.tables if t.key == "reliability_bins").rows
    bins = np.searchsorted(np.array([r[1] for r in rows[1:]]), scores, side="right")
    expected = reliability_bins(scores, outcomes, bins)
    assert len(rows) == len(expected)
    for row, b in zip(rows, expected, strict=True):
        assert row[3] == b.rows  # counts exact
        assert (row[1], row[2]) == (b.score_low, b.score_high)
        assert row[4] == pytest.approx(b.mean_score, rel=1e-12, abs=1e-12)
        assert row[5] == pytest.approx(b.observed, rel=1e-12, abs=1e-12)
    ece = weighted_ece(scores, outcomes, bins, np.ones((1, scores.size)))[0]
    assert ours["expected_calibration_error"].value == pytest.approx(ece, abs=1e-12)
    if "brier_reliability" in ours:
        parts = brier_decomposition(scores, outcomes, bins)
        for key in ("score", "reliability", "resolution", "uncertainty"):
            value = ours[f"brier_{key}"].value
            assert value == pytest.approx(
                getattr(parts, f"brier_{key}" if key == "score" else key), abs=1e-12
            ), key
    assert ours["rows_used"].value == scores.size
    assert ours["rows_used"].note.startswith(f"all {scores.size:,} test rows")
    # The edges are every row's quantiles, each off by at most the rows of its logit bin.
    from auditor.engine.partitioned.partials import FINE_BINS, score_bins
    from auditor.stats.calibration import quantile_bins

    exact = np.cumsum(np.bincount(quantile_bins(scores, len(rows))))[:-1]
    ours_below = np.cumsum([r[3] for r in rows])[:-1]
    fine = score_bins(scores, FINE_BINS)
    ranked = fine[np.argsort(scores, kind="stable")]
    for edge_rows, our_rows in zip(exact, ours_below, strict=True):
        # the logit bins of the order statistics on either side of the exact edge
        sides = np.isin(fine, ranked[[edge_rows - 1, edge_rows]])
        assert abs(int(our_rows) - int(edge_rows)) <= np.count_nonzero(sides)
    return len(rows)


def test_calibration_bins_every_row(cluster, dataset, tmp_path):
    select = ["performance.calibration"]
    engine = EngineSettings(name="dask", address=cluster, sample_rows=1000)
    binary = run_audit(
        AuditSpec(test=str(dataset["parts"]), target="label", engine=engine), select=select
    )
    frame = dataset["frame"]
    scores = frame["proba_1"].to_numpy(dtype=float)
    assert _calibration_equals_in_memory(binary, scores, (frame.label == 1).to_numpy(float)) == 10

    rng = np.random.default_rng(7)
    n, classes = 900, np.array(["a", "b", "c"])
    proba = rng.dirichlet([2, 1, 1], size=n)
    label = (proba.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1)
    multi = pd.DataFrame({"x": rng.normal(size=n), "label": classes[label]})
    multi["prediction"] = classes[proba.argmax(axis=1)]
    for j, c in enumerate(classes):
        multi[f"proba_{c}"] = proba[:, j]
    result = run_audit(
        AuditSpec(
            test=str(write_parts(multi, tmp_path / "multi")),
            target="label",
            engine=EngineSettings(name="dask", address=cluster, sample_rows=300),
        ),
        select=select,
    )
    top = proba.argmax(axis=1)
    _calibration_equals_in_memory(result, proba[np.arange(n), top], (label == top).astype(float))


def test_feature_drift_on_every_row(cluster, tmp_path, monkeypatch):
    from auditor.checks.data import feature_drift
    from auditor.engine.partitioned.partials import float_bin_values, float_bins

    rng = np.random.default_rng(8)

    def split(n: int, shifted: bool) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "region": rng.choice(list("nsew"), n, p=[0.1, 0.2, 0.3, 0.4] if shifted else None),
                "items": rng.poisson(2.5 if shifted else 1.5, n),  # 0 .. ~10: discrete
                "member": rng.random(n) < 0.3,
                "amount": rng.lognormal(3.2 if shifted else 3.0, 1.0, n),  # continuous
                "label": rng.integers(0, 2, n),
            }
        )

    train, test = split(3000, False), split(2500, True)
    check = "data.feature_drift"
    memory = auditor.audit(test=test, train=train, target="label", select=[check])
    engine = EngineSettings(name="dask", address=cluster, sample_rows=1000)
    spec = AuditSpec(
        test=str(write_parts(test, tmp_path / "test")),
        train=str(write_parts(train, tmp_path / "train")),
        target="label",
        engine=engine,
    )
    compared = {}  # a continuous column's comparison
    binned = feature_drift._compare_binned

    def spy(ctx, column, a, b, *args):
        compared[column] = binned(ctx, column, a, b, *args)[1]
        return True, compared[column]

    monkeypatch.setattr(feature_drift, "_compare_binned", spy)
    result = run_audit(spec, select=[check])

    def by_column(audit) -> tuple[dict, dict]:
        found = next(c for c in audit.checks if c.id == check)
        evidence = {f.columns[0]: f.evidence for f in found.findings}
        return {row[0]: row for row in found.tables[0].rows}, evidence

    (ours, our_evidence), (theirs, their_evidence) = by_column(result), by_column(memory)
    for column in ("region", "items", "member"):  # from every row's value counts
        assert ours[column][:2] == theirs[column][:2], column  # kind
        assert ours[column][7] == theirs[column][7], column  # result
        for i in (3, 4, 6):  # PSI, KS (None for categories), p-value
            expected = theirs[column][i]
            assert ours[column][i] == (
                expected if expected is None else pytest.approx(expected, rel=1e-9, abs=1e-12)
            ), (column, i)
        if column in their_evidence:
            for key in ("psi", "psi_sampling_bias", "ks", "train_rows", "test_rows"):
                assert our_evidence[column][key] == pytest.approx(their_evidence[column][key])
    assert (ours["region"][7], ours["items"][7], ours["member"][7]) == ("medium", "high", "ok")
    assert our_evidence["items"]["test_rows"] == 2500
    assert measurements(result, check)["rows_used"].note == "all 2,500 test rows"

    # A continuous column: every row counted in every train row's decile cells, snapped to
    # float bins (the bin holding each exact decile's lower order statistic); the in-memory
    # PSI code on every row binned alike gives the same PSI.
    ordered = np.sort(train.amount.to_numpy())
    lower = np.floor((ordered.size - 1) * np.linspace(0, 1, 11)[1:-1]).astype(int)
    cut = np.unique(float_bins(ordered[lower]))
    exact = np.quantile(ordered, np.linspace(0, 1, 11)[1:-1])
    assert (np.abs(float_bin_values(cut) - exact) <= exact / 256 + 1e-12).all()
    cells = [
        np.bincount(np.searchsorted(cut, float_bins(x), side="right"), minlength=cut.size + 1)
        for x in (train.amount.to_numpy(), test.amount.to_numpy())
    ]
    psi, psi_p, bias = feature_drift._psi(*cells)
    amount = compared["amount"]
    assert (amount.kind, amount.n_ref, amount.n_cur) == ("continuous", 3000, 2500)
    assert (amount.psi, amount.psi_p, amount.psi_bias) == pytest.approx((psi, psi_p, bias))
    assert abs(amount.psi - psi) < 1e-12
    # KS: the in-memory code on the binned values exactly; the raw KS within the bound.
    a, b = train.amount.to_numpy(), test.amount.to_numpy()
    ks, ks_p = feature_drift._ks(float_bins(a), float_bins(b))
    assert abs(amount.ks - ks) < 1e-12
    assert amount.ks_p == pytest.approx(ks_p, rel=1e-9)
    raw_ks, _ = feature_drift._ks(a, b)
    assert amount.ks <= raw_ks <= amount.ks + amount.ks_bound
    # Scale change: the in-memory code on the values cut to their float bins, exactly; the
    # raw values' within log(256/255) on the log scale.
    cut_a, cut_b = (float_bin_values(float_bins(x)) for x in (a, b))
    assert abs(amount.scale - feature_drift._scale(cut_a, cut_b)) < 1e-12
    assert abs(amount.scale - feature_drift._scale(a, b)) <= np.log(256 / 255)
    assert ours["amount"][7] == theirs["amount"][7] == "ok"  # x1.226 here, x1.226 in memory
