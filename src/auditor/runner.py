"""Run the selected checks: missing inputs skip a check, a crash becomes an ``error`` result."""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from auditor.context import AuditContext
from auditor.errors import NotApplicable
from auditor.progress import step
from auditor.registry import NEEDS, CheckSpec, build_params
from auditor.result import CATEGORIES, CheckResult


def order_checks(specs: Iterable[CheckSpec]) -> list[CheckSpec]:
    """Checks in report order: by category (data first), then by id."""
    return sorted(specs, key=lambda s: (CATEGORIES.index(s.category), s.id))


def run_checks(
    ctx: AuditContext, specs: Iterable[CheckSpec], params: Mapping[str, Any]
) -> list[CheckResult]:
    """Run every check in ``specs`` against ``ctx``; never raises for a failing check.

    ``params`` maps check ids to validated parameter objects (see ``build_params``).
    """
    ordered = order_checks(specs)
    results = []
    for number, spec in enumerate(ordered, 1):
        step(f"check {number}/{len(ordered)}: {spec.id}")
        results.append(run_check(ctx, spec, params.get(spec.id) or build_params(spec, {})))
    return results


def run_check(ctx: AuditContext, spec: CheckSpec, params: Any) -> CheckResult:
    """Run one check and wrap its outcome (or its skip or crash) in a CheckResult."""
    base = {
        "id": spec.id,
        "category": spec.category,
        "title": spec.title,
        "params": dataclasses.asdict(params),
    }
    missing = [need for need in sorted(spec.needs) if need not in ctx.available]
    if missing:
        reason = "; ".join(NEEDS[need] for need in missing)
        return CheckResult(
            **base, status="skipped", summary=f"Skipped: {reason}.", skip_reason=reason
        )
    if ctx.task not in spec.tasks:
        reason = f"it does not apply to {ctx.task} tasks"
        return CheckResult(
            **base, status="skipped", summary=f"Skipped: {reason}.", skip_reason=reason
        )
    started = time.perf_counter()
    try:
        outcome = spec.func(ctx, params)
    except NotApplicable as skip:
        reason = str(skip)
        return CheckResult(
            **base,
            status="skipped",
            summary=f"Skipped: {reason}.",
            skip_reason=reason,
            duration_s=time.perf_counter() - started,
        )
    except Exception as exc:  # noqa: BLE001 - a crashing check must never stop the audit
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return CheckResult(
            **base,
            status="error",
            summary=f"The check crashed: {type(exc).__name__}: {message}",
            error={
                "type": type(exc).__name__,
                "message": message,
                "where": _where(exc),
            },
            duration_s=time.perf_counter() - started,
        )
    return CheckResult(
        **base,
        status=outcome.status,
        summary=outcome.summary,
        findings=outcome.findings,
        measurements=outcome.measurements,
        tables=outcome.tables,
        curves=outcome.curves,
        duration_s=time.perf_counter() - started,
    )


def _where(exc: BaseException) -> str:
    """The innermost frames as 'file.py:line in function', without absolute paths."""
    frames = traceback.extract_tb(exc.__traceback__)[-4:]
    return " > ".join(f"{Path(f.filename).name}:{f.lineno} in {f.name}" for f in frames)
