"""Optional experiment tracking: log an audit to MLflow (``auditor[mlflow]``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from auditor.errors import InputError
from auditor.result import AuditResult


def log_to_mlflow(result: AuditResult, files: Sequence[Path]) -> str:
    """Log every measurement, the verdict and the report files to the active MLflow run.

    Without an active run a new one is started and ended here; the tracking URI comes from
    MLflow's own configuration (``MLFLOW_TRACKING_URI``). Returns the run id.
    Measurements are named ``<check id>.<key>``, intervals ``...ci_low`` / ``...ci_high``.
    """
    try:
        import mlflow
    except ImportError:
        raise InputError(
            "--mlflow needs MLflow. Install it with: pip install 'auditor[mlflow]'."
        ) from None
    own_run = mlflow.active_run() is None
    run = mlflow.start_run(run_name=f"auditor: {result.target}") if own_run else mlflow.active_run()
    try:
        metrics = {}
        for check in result.checks:
            for m in check.measurements:
                for suffix, value in (
                    ("", m.value),
                    (".ci_low", m.ci_low),
                    (".ci_high", m.ci_high),
                ):
                    if value is not None:
                        metrics[f"{check.id}.{m.key}{suffix}"] = float(value)
        mlflow.log_metrics(metrics)
        mlflow.set_tags(
            {
                "auditor.verdict": result.verdict,
                "auditor.gate_passed": "none"
                if result.gate is None
                else str(result.gate.passed).lower(),
                "auditor.task": result.task,
                "auditor.target": result.target,
                "auditor.version": result.tool["version"],
            }
        )
        for path in files:
            mlflow.log_artifact(str(path), artifact_path="auditor")
    finally:
        if own_run:
            mlflow.end_run()
    return run.info.run_id
