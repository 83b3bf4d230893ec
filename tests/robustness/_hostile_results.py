"""Hand-built audit results for the robustness tests: small, fast, and holding exactly the
hostile (or harmless) values a test is about.

Every result carries its guidance in the manifest, as audit.json does, so rendering it loads
no check module.
"""

from __future__ import annotations

from auditor.result import (
    AuditResult,
    CheckResult,
    Curve,
    Finding,
    GateVerdict,
    InputFile,
    Measurement,
    Series,
    Table,
)

SLICE_COLUMNS = (
    "rank",
    "slice",
    "rows",
    "share",
    "error_rate_in_slice",
    "error_rate_elsewhere",
    "lift",
    "lift_ci_low",
    "lift_ci_high",
    "p_value",
    "q_value",
    "severity",
)


def check(
    check_id: str = "data.missing_values",
    *,
    status: str = "pass",
    title: str = "Missing values",
    summary: str = "No column is missing more than 5% of its values.",
    findings: tuple[Finding, ...] = (),
    measurements: tuple[Measurement, ...] = (),
    tables: tuple[Table, ...] = (),
    curves: tuple[Curve, ...] = (),
    params: dict | None = None,
) -> CheckResult:
    return CheckResult(
        id=check_id,
        category=check_id.split(".")[0],
        title=title,
        status=status,
        summary=summary,
        findings=findings,
        measurements=measurements,
        tables=tables,
        curves=curves,
        params=params or {},
        duration_s=0.01,
    )


def result(
    *checks: CheckResult,
    target: str = "default",
    task: str = "binary",
    gate: GateVerdict | None = None,
    inputs: tuple[InputFile, ...] | None = None,
    manifest: dict | None = None,
    created_at: str = "2025-01-01T00:00:00Z",
    version: str = "0.1.0",
) -> AuditResult:
    guidance = {
        c.id: {"rationale": "Why this check matters.", "remedy": "What to do about it."}
        for c in checks
    }
    return AuditResult(
        tool={"name": "auditor", "version": version},
        created_at=created_at,
        task=task,
        target=target,
        verdict="fail" if any(c.status in {"fail", "error"} for c in checks) else "pass",
        checks=checks,
        inputs=inputs
        if inputs is not None
        else (
            InputFile("test", "test.csv", 1500, 12, "a" * 64),
            InputFile("model", "model.skops", None, None, "b" * 64),
        ),
        gate=gate,
        manifest={
            "seed": 0,
            "python": "3.11",
            "packages": {"scikit-learn": "1.9"},
            "command": "auditor audit",
            "notes": [],
            "columns": {"inferred": {}, "sensitive": []},
            "guidance": guidance,
            **(manifest or {}),
        },
    )


def interval_curve(*series: Series, labels: tuple[str, ...] = ()) -> Curve:
    return Curve(
        "baseline_comparison",
        "Model and baselines",
        "interval",
        "",
        "R²",
        series,
        "Each estimate with its 95% interval.",
        x_tick_labels=labels,
    )


def line_curve(*series: Series, key: str = "threshold_metrics") -> Curve:
    return Curve(key, "Metrics by threshold", "line", "Threshold", "Score", series, "c")


def slice_table(key: str, lift, *, inside: float = 0.47, elsewhere: float = 0.0) -> Table:
    row = (1, "region == 'north'", 523, 0.26, inside, elsewhere, lift, None, None, 1e-9, 1e-9)
    return Table(key, "Weak slices", SLICE_COLUMNS, ((*row, "high"),))


def slices_check(lift, *, inside: float = 0.47, elsewhere: float = 0.0) -> CheckResult:
    return check(
        "slices.weak_segments",
        status="fail",
        title="Weak segments",
        summary="1 slice has an error rate significantly above the rest.",
        tables=(
            slice_table("weak_slices", lift, inside=inside, elsewhere=elsewhere),
            slice_table("tested_slices", lift, inside=inside, elsewhere=elsewhere),
        ),
    )
