"""--mlflow logs the audit to an MLflow run (tested against a local file store)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from auditor.cli.app import app

mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is not installed")


def test_audit_logs_measurements_verdict_and_reports(loans, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    # MLflow 3 keeps the file store behind this switch; it is what a local test needs.
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    out_dir = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "audit",
            "--config",
            str(loans["config"]),
            "--select",
            "performance.holdout_metrics",
            "--format",
            "json,md",
            "--out-dir",
            str(out_dir),
            "--mlflow",
        ],
    )
    assert result.exit_code == 0, result.output
    run_id = result.output.split("Logged to MLflow run ")[1].split()[0]
    run = mlflow.tracking.MlflowClient().get_run(run_id)
    metrics = run.data.metrics
    assert 0.5 < metrics["performance.holdout_metrics.roc_auc"] < 1
    assert (
        metrics["performance.holdout_metrics.roc_auc.ci_low"]
        < metrics["performance.holdout_metrics.roc_auc"]
    )
    assert run.data.tags["auditor.verdict"] == "pass"
    assert run.data.tags["auditor.gate_passed"] == "true"
    artifacts = {a.path for a in mlflow.tracking.MlflowClient().list_artifacts(run_id, "auditor")}
    assert artifacts == {"auditor/audit.json", "auditor/summary.md"}
    assert mlflow.active_run() is None


def test_audit_logs_into_an_active_run_without_ending_it(loans, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    with mlflow.start_run() as active:
        result = CliRunner().invoke(
            app,
            [
                "audit",
                "--config",
                str(loans["config"]),
                "--select",
                "performance.holdout_metrics",
                "--format",
                "json",
                "--out-dir",
                str(tmp_path / "out"),
                "--mlflow",
            ],
        )
        assert result.exit_code == 0, result.output
        assert mlflow.active_run().info.run_id == active.info.run_id
    logged = mlflow.tracking.MlflowClient().get_run(active.info.run_id).data.metrics
    assert "performance.holdout_metrics.roc_auc" in logged
