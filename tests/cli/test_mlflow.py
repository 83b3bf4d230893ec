"""--mlflow logs the audit to an MLflow run (tested against a local file store)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from auditor.cli.app import app

mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is not installed")
ROC_AUC = "performance.holdout_metrics.roc_auc"


@pytest.fixture
def tracking(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    # MLflow 3 keeps the file store behind this switch; it is what a local test needs.
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    return mlflow.tracking.MlflowClient()


def _audit_with_mlflow(loans, out_dir, formats):
    args = ["audit", "--config", str(loans["config"]), "--select", "performance.holdout_metrics"]
    return CliRunner().invoke(
        app, [*args, "--format", formats, "--out-dir", str(out_dir), "--mlflow"]
    )


def test_audit_logs_measurements_verdict_and_reports(loans, tmp_path, tracking):
    result = _audit_with_mlflow(loans, tmp_path / "out", "json,md")
    assert result.exit_code == 0, result.output
    run_id = result.output.split("Logged to MLflow run ")[1].split()[0]
    run = tracking.get_run(run_id)
    assert 0.5 < run.data.metrics[ROC_AUC] < 1
    assert run.data.metrics[f"{ROC_AUC}.ci_low"] < run.data.metrics[ROC_AUC]
    assert run.data.tags["auditor.verdict"] == "pass"
    assert run.data.tags["auditor.gate_passed"] == "true"
    artifacts = {a.path for a in tracking.list_artifacts(run_id, "auditor")}
    assert artifacts == {"auditor/audit.json", "auditor/summary.md"}
    assert mlflow.active_run() is None


def test_audit_logs_into_an_active_run_without_ending_it(loans, tmp_path, tracking):
    with mlflow.start_run() as active:
        result = _audit_with_mlflow(loans, tmp_path / "out", "json")
        assert result.exit_code == 0, result.output
        assert mlflow.active_run().info.run_id == active.info.run_id
    assert ROC_AUC in tracking.get_run(active.info.run_id).data.metrics
