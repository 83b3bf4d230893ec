"""Exit 1 paths of the gate through the CLI: a planted leak, a crashed check; and repeatability."""

from __future__ import annotations

import dataclasses
import json

import pytest
import skops.io
from typer.testing import CliRunner

from auditor.cli.app import app
from auditor.registry import load_registry


@pytest.fixture
def files(binary_split, binary_model, tmp_path):
    """The clean split as CSVs, a copy of it with 5% of test rows replaced by train rows, a model."""
    train, test = binary_split
    leaked = test.copy()
    leaked.iloc[:30] = train.iloc[:30].to_numpy()
    paths = {name: tmp_path / f"{name}.csv" for name in ("train", "test", "leaked")}
    train.to_csv(paths["train"], index=False)
    test.to_csv(paths["test"], index=False)
    leaked.to_csv(paths["leaked"], index=False)
    paths["model"] = tmp_path / "model.skops"
    skops.io.dump(binary_model, paths["model"])
    return paths


def _audit(files, test_key, tmp_path, *select):
    args = [
        "audit",
        "--train",
        str(files["train"]),
        "--test",
        str(files[test_key]),
        "--target",
        "y",
    ]
    args += ["--model", str(files["model"]), "--format", "json", "--out-dir", str(tmp_path / "out")]
    for name in select:
        args += ["--select", name]
    return CliRunner().invoke(app, args)


def test_planted_train_test_copy_fails_the_gate_with_exit_1(files, tmp_path):
    clean = _audit(files, "test", tmp_path, "leakage.train_test_overlap")
    assert clean.exit_code == 0, clean.output
    leaked = _audit(files, "leaked", tmp_path, "leakage.train_test_overlap")
    assert leaked.exit_code == 1, leaked.output
    assert "leakage.train_test_overlap failed" in leaked.output
    audit = json.loads((tmp_path / "out" / "audit.json").read_text(encoding="utf-8"))
    assert audit["gate"]["passed"] is False


def test_a_crashed_check_fails_the_gate_with_exit_1(files, tmp_path, monkeypatch):
    registry = load_registry()

    def boom(ctx, params):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setitem(
        registry,
        "data.missing_values",
        dataclasses.replace(registry["data.missing_values"], func=boom),
    )
    result = _audit(files, "test", tmp_path, "data.missing_values", "performance.holdout_metrics")
    assert result.exit_code == 1, result.output
    assert "data.missing_values crashed: The check crashed: ZeroDivisionError" in result.output
    audit = json.loads((tmp_path / "out" / "audit.json").read_text(encoding="utf-8"))
    statuses = {c["id"]: c["status"] for c in audit["checks"]}
    assert statuses == {"data.missing_values": "error", "performance.holdout_metrics": "pass"}


def test_the_same_policy_on_the_same_data_gives_the_same_verdict(files, tmp_path):
    checks = ("leakage", "slices", "performance.holdout_metrics", "baseline")
    verdicts = []
    for _ in range(2):
        result = _audit(files, "leaked", tmp_path, *checks)
        audit = json.loads((tmp_path / "out" / "audit.json").read_text(encoding="utf-8"))
        verdicts.append((result.exit_code, audit["verdict"], audit["gate"]["reasons"]))
    assert verdicts[0] == verdicts[1]
    assert verdicts[0][0] == 1
