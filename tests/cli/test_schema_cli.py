"""``auditor schema infer`` and ``auditor audit --schema``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from auditor.cli.app import app
from auditor.io.tables import read_table
from auditor.schemas import read_schema

runner = CliRunner()


def invoke(*args: str | Path):
    return runner.invoke(app, [str(a) for a in args])


def assert_one_error_line(result, *needles: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0]
    assert "Traceback" not in result.output


def loans(seed: int, n: int = 1200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "loan_id": np.arange(n),
            "age": rng.integers(18, 80, n),
            "income": np.round(rng.lognormal(10, 0.6, n), 2),
            "balance_change": rng.normal(0, 500, n),
            "late_payments": rng.poisson(0.4, n),
            "grade": rng.choice(list("ABCDE"), n),
            "has_guarantor": rng.random(n) < 0.2,
            "note": [f"free text {i}" for i in range(n)],
            "default": rng.integers(0, 2, n),
        }
    )
    frame.loc[rng.random(n) < 0.05, "income"] = np.nan
    return frame


@pytest.fixture
def train_csv(tmp_path, seed) -> Path:
    path = tmp_path / "train.csv"
    loans(seed).to_csv(path, index=False)
    return path


def test_infer_writes_an_editable_schema_that_validates_its_own_data(train_csv, tmp_path):
    out = tmp_path / "schemas" / "schema.yaml"
    result = invoke("schema", "infer", train_csv, "-o", out)
    assert result.exit_code == 0, result.output
    assert f"Wrote {out}" in result.stdout
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Data schema inferred by `auditor schema infer` from train.csv")
    assert "coerce: true" in text
    # Plausible domains only: 0 as a floor for quantities, never the sample's min or max.
    body = "".join(line for line in text.splitlines(True) if not line.startswith("#"))
    for bound in ("less_than", "in_range", "greater_than:"):
        assert bound not in body

    schema = read_schema(out)
    columns = schema.columns
    assert {c: str(columns[c].dtype) for c in ("age", "late_payments", "has_guarantor")} == {
        "age": "Int64",
        "late_payments": "Int64",
        "has_guarantor": "boolean",
    }
    assert columns["income"].nullable
    assert not columns["age"].nullable
    checks = {name: [c.name for c in col.checks] for name, col in columns.items()}
    assert checks["grade"] == ["isin"]
    assert checks["note"] == []  # unique free text: no category list
    assert checks["income"] == ["greater_than_or_equal_to"]  # skewed amount
    assert checks["late_payments"] == ["greater_than_or_equal_to"]  # count, reaches 0
    assert checks["balance_change"] == []  # takes both signs

    data = read_table(train_csv)
    schema.validate(data, lazy=True)  # raises SchemaErrors on any failure


def test_inferred_yaml_round_trips_through_pandera(train_csv, tmp_path):
    from pandera.io import pandas_io

    out = tmp_path / "schema.yaml"
    assert invoke("schema", "infer", train_csv, "-o", out).exit_code == 0
    schema = pandas_io.from_yaml(out.read_text(encoding="utf-8"))
    assert pandas_io.from_yaml(schema.to_yaml()) == schema
    assert schema == read_schema(out)


def test_infer_exits_2_on_a_missing_data_file(tmp_path):
    out = tmp_path / "schema.yaml"
    result = invoke("schema", "infer", tmp_path / "nope.csv", "-o", out)
    assert_one_error_line(result, "nope.csv", "does not exist")
    assert not out.exists()


def test_schema_help_lists_infer():
    result = invoke("schema", "--help")
    assert result.exit_code == 0
    assert "infer" in result.stdout


def _audit(train: Path, test: Path, out_dir: Path, *extra: str | Path):
    return invoke(
        "audit", "--train", train, "--test", test, "--target", "default",
        "--out-dir", out_dir, "--format", "json", "--select", "data.schema", *extra,
    )  # fmt: skip


def test_audit_with_an_inferred_schema_finds_a_planted_violation(train_csv, tmp_path, seed):
    schema_path = tmp_path / "schema.yaml"
    assert invoke("schema", "infer", train_csv, "-o", schema_path).exit_code == 0
    test = loans(seed + 1, n=300)
    test["grade"] = test["grade"].where(np.arange(300) % 50 != 7, "Z")  # 6 rows
    test_csv = tmp_path / "test.csv"
    test.to_csv(test_csv, index=False)

    result = _audit(train_csv, test_csv, tmp_path / "out", "--schema", schema_path)

    assert result.exit_code == 1, result.output
    audit = json.loads((tmp_path / "out" / "audit.json").read_text(encoding="utf-8"))
    (check,) = audit["checks"]
    assert check["status"] == "fail"
    (finding,) = check["findings"]
    assert finding["columns"] == ["grade"]
    assert finding["evidence"]["n_failures"] == 6
    assert audit["manifest"]["spec"]["schema"] == "schema.yaml"


def test_audit_with_the_inferred_schema_passes_clean_data(train_csv, tmp_path, seed):
    schema_path = tmp_path / "schema.yaml"
    assert invoke("schema", "infer", train_csv, "-o", schema_path).exit_code == 0
    test_csv = tmp_path / "test.csv"
    loans(seed + 1, n=300).to_csv(test_csv, index=False)
    result = _audit(train_csv, test_csv, tmp_path / "out", "--schema", schema_path)
    assert result.exit_code == 0, result.output
    assert "PASS     data.schema" in result.stdout


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        pytest.param(None, ("--schema", "missing.yaml", "does not exist"), id="missing"),
        pytest.param("columns: [a, b", ("--schema", "is not valid YAML"), id="invalid_yaml"),
        pytest.param(
            "columns:\n  age: {dtype: Int64, greater_than_or_equel_to: 0}\n",
            ("did you mean 'greater_than_or_equal_to'",),
            id="misspelt_check",
        ),
    ],
)
def test_audit_exits_2_on_a_bad_schema_file(train_csv, tmp_path, content, needles):
    schema_path = tmp_path / "missing.yaml"
    if content is not None:
        schema_path.write_text(content, encoding="utf-8")
    out_dir = tmp_path / "out"
    result = _audit(train_csv, train_csv, out_dir, "--schema", schema_path)
    assert_one_error_line(result, *needles)
    assert not out_dir.exists()


def test_config_schema_path_is_relative_to_the_config_file(train_csv, tmp_path):
    from auditor.spec import load_spec

    config_dir = tmp_path / "conf"
    config_dir.mkdir()
    (config_dir / "audit.toml").write_text('schema = "schema.yaml"\n', encoding="utf-8")
    spec = load_spec(config_dir / "audit.toml")
    assert Path(spec.schema) == config_dir / "schema.yaml"


@pytest.mark.parametrize(("n", "nullable"), [(1200, False), (300, True)])
def test_only_a_large_complete_column_is_declared_required(seed, n, nullable):
    from auditor.schemas import infer_schema

    schema = infer_schema(loans(seed, n=n))
    assert schema.columns["age"].nullable is nullable
    assert schema.columns["income"].nullable is True  # has missing values


@pytest.mark.parametrize("argv", [["schema", "--help"], ["schema", "infer", "--help"]])
def test_schema_help_loads_no_heavy_library(argv):
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        f"""
        import json, sys
        from auditor.cli.app import app
        try:
            app({argv!r}, standalone_mode=False)
        except SystemExit:
            pass
        heavy = ("pandera", "pandas", "numpy", "yaml")
        print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == []
