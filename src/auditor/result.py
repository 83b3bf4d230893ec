"""The audit result: plain, frozen, JSON-serializable data (schema_version 1, stable).

Everything a renderer or the gate needs is here as numbers, strings and lists: curve
points, matrices and tables, never pixels or markup. ``read_result`` and
``AuditResult.to_json`` round-trip exactly, so ``auditor render audit.json`` re-creates a
report without the data or the model.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Literal

from auditor.errors import InputError

SCHEMA_VERSION = 1

Status = Literal["pass", "warn", "fail", "skipped", "error"]
Severity = Literal["low", "medium", "high"]
TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")
STATUSES: tuple[str, ...] = ("pass", "warn", "fail", "skipped", "error")
SEVERITIES: tuple[str, ...] = ("low", "medium", "high")
# Most severe first: how findings are ordered wherever they are ranked.
SEVERITY_RANK: dict[str, int] = {"high": 0, "medium": 1, "low": 2}
CATEGORIES: tuple[str, ...] = (
    "data",
    "leakage",
    "performance",
    "baseline",
    "slices",
    "fairness",
    "explain",
    "regression",
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found by a check, about some columns, rows or the model."""

    code: str
    severity: Severity
    message: str
    columns: tuple[str, ...] = ()
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Measurement:
    """A number a check measured, with its interval when one was computed.

    ``note`` (optional, added within schema version 1) says in a few words what the number
    is or what its interval means, where the key alone does not (which pair a gap is
    between, that its interval includes 0); renderers print it beside the value.
    """

    key: str
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    greater_is_better: bool | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Table:
    """A rectangular table; cells are JSON scalars.

    ``print_first`` (added within schema version 1) is how many leading rows carry the
    check's finding: a renderer that shortens the table keeps at least these.
    """

    key: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    print_first: int = 0


@dataclass(frozen=True, slots=True)
class Series:
    """One line or point cloud of a curve; ``y_low``/``y_high`` carry an interval band.

    ``counts`` (optional, added within schema version 1) is how many rows stand behind each
    point, e.g. the size of each bin of a reliability diagram; figures draw it as bars.
    """

    name: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    y_low: tuple[float, ...] | None = None
    y_high: tuple[float, ...] | None = None
    counts: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class Curve:
    """The data behind one figure (ROC, PR, residuals, reliability ...).

    ``kind`` tells the renderer how to draw it: ``line``, ``step`` or ``scatter``; or
    ``interval``: estimates at the series' x positions with ``y_low``/``y_high`` drawn as
    error bars (a comparison of a few estimates, usually with ``x_tick_labels``). In a
    ``scatter``, a series with ``y_low``/``y_high`` summarises the points (their mean,
    binned medians) and is drawn as a line with its band.
    ``x_tick_labels``/``y_tick_labels`` name integer positions 0, 1, ... on an axis whose
    values are categories (features of a beeswarm, baselines of a comparison).
    """

    key: str
    title: str
    kind: Literal["line", "step", "scatter", "interval"]
    x_label: str
    y_label: str
    series: tuple[Series, ...]
    caption: str = ""
    x_tick_labels: tuple[str, ...] = ()
    y_tick_labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one check, in the shape every check shares."""

    id: str
    category: str
    title: str
    status: Status
    summary: str
    findings: tuple[Finding, ...] = ()
    measurements: tuple[Measurement, ...] = ()
    tables: tuple[Table, ...] = ()
    curves: tuple[Curve, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    skip_reason: str | None = None
    error: Mapping[str, str] | None = None

    def measurement(self, key: str) -> Measurement | None:
        """Return the measurement named ``key``, or None when the check did not compute it."""
        return next((m for m in self.measurements if m.key == key), None)


@dataclass(frozen=True, slots=True)
class InputFile:
    """One input of the audit, identified by name and content hash (never an absolute path)."""

    role: Literal["train", "test", "model", "predictions", "baseline_model", "challenger"]
    file_name: str
    rows: int | None
    columns: int | None
    sha256: str | None


@dataclass(frozen=True, slots=True)
class GateVerdict:
    """Whether the gate passed, and every reason it did not."""

    passed: bool
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AuditResult:
    """Everything an audit found; the stable, versioned contract (see docs/result.md)."""

    tool: Mapping[str, str]
    created_at: str
    task: Literal["binary", "multiclass", "regression"]
    target: str
    verdict: Literal["pass", "warn", "fail"]
    checks: tuple[CheckResult, ...]
    inputs: tuple[InputFile, ...]
    gate: GateVerdict | None
    manifest: Mapping[str, Any]
    schema_version: int = SCHEMA_VERSION
    # The primary metric and why, whether probabilities exist, the best baseline: decided
    # once by the engine (engine/headline.py) and read by the gate and every renderer.
    headline: Mapping[str, Any] | None = None

    def check(self, check_id: str) -> CheckResult | None:
        """Return the result of ``check_id``, or None when it did not run."""
        return next((c for c in self.checks if c.id == check_id), None)

    def to_dict(self) -> dict[str, Any]:
        """Return the result as plain JSON-compatible data (NaN and inf become None)."""
        return _plain(self)

    def to_json(self) -> str:
        """Serialize deterministically: sorted keys, no NaN, two-space indent."""
        return json.dumps(self.to_dict(), allow_nan=False, sort_keys=True, indent=2) + "\n"

    def _repr_html_(self) -> str:
        """The static HTML report, for Jupyter, VS Code, Colab and Databricks notebooks."""
        from auditor.render.notebook import notebook_html

        return notebook_html(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """One line for IPython's text form, which a notebook stores beside the HTML: the
        dataclass repr would hold every curve and table (hundreds of kilobytes)."""
        gate = "no gate" if self.gate is None else f"gate passed={self.gate.passed}"
        printer.text(
            f"AuditResult(verdict={self.verdict!r}, target={self.target!r}, "
            f"checks={len(self.checks)}, {gate})"
        )

    @property
    def exit_code(self) -> int:
        """0 when the gate passed (or no gate ran and the verdict is not fail), else 1."""
        if self.gate is not None:
            return 0 if self.gate.passed else 1
        return 1 if self.verdict == "fail" else 0


def status_from(findings: Sequence[Finding]) -> Status:
    """``fail`` if any finding is high severity, ``warn`` if any is medium, else ``pass``."""
    severities = {f.severity for f in findings}
    if "high" in severities:
        return "fail"
    return "warn" if "medium" in severities else "pass"


def overall_verdict(checks: Sequence[CheckResult]) -> Literal["pass", "warn", "fail"]:
    """``fail`` if any check failed or errored, else ``warn`` if any warned, else ``pass``."""
    statuses = {c.status for c in checks}
    if statuses & {"fail", "error"}:
        return "fail"
    return "warn" if "warn" in statuses else "pass"


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    # numpy scalars and other number-likes: keep them numbers, never strings.
    if hasattr(value, "item"):
        return _plain(value.item())
    raise TypeError(f"{type(value).__name__} is not JSON-serializable in an audit result")


def read_result(path: str | Path) -> AuditResult:
    """Read an ``audit.json`` written by any auditor with the same schema major version,
    upgraded to what this version writes (see ``upgraded``).

    The file is checked against the result schema (``auditor.result_schema``) before anything
    is built from it: a file that is too large, not JSON, or not the shape of a result raises
    InputError naming the JSON path of the first problem and the fix.
    """
    from auditor.result_schema import MAX_BYTES

    path = Path(path)
    try:
        size = path.stat().st_size
        text = None if size > MAX_BYTES else path.read_bytes().decode("utf-8")
        data = None if text is None else json.loads(text)
    except FileNotFoundError:
        raise InputError(
            f"{path.name!r} does not exist. Pass the audit.json an audit wrote."
        ) from None
    except OSError as exc:
        raise InputError(
            f"{path.name!r} cannot be read ({exc.strerror or type(exc).__name__}). "
            "Pass the audit.json an audit wrote."
        ) from None
    except RecursionError:
        raise InputError(
            f"{path.name!r} is nested too deeply to be an audit result. "
            "Pass the audit.json an audit wrote."
        ) from None
    except (UnicodeDecodeError, ValueError) as exc:
        # json.JSONDecodeError is a ValueError, as is an integer of more than 4,300 digits.
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(
            f"{path.name!r} is not valid JSON ({first_line}). Pass the audit.json an audit wrote."
        ) from None
    if text is None:
        raise InputError(
            f"{path.name!r} holds {size:,} bytes, more than the {MAX_BYTES // 2**20} MB "
            "an audit.json may hold. Pass the audit.json an audit wrote."
        )
    return upgraded(
        result_from_dict(data, source=path.name), headline_missing="headline" not in data
    )


def result_from_dict(data: Mapping[str, Any], *, source: str = "the result") -> AuditResult:
    """Rebuild an ``AuditResult`` from its JSON form, after checking its shape.

    Keys this version does not know are ignored (later versions may add keys within schema
    version 1); a missing or malformed key raises InputError naming its JSON path.
    """
    from auditor.result_schema import validate_result

    validate_result(data, source=source)
    try:
        gate = data.get("gate")
        return AuditResult(
            schema_version=data["schema_version"],
            tool=dict(data["tool"]),
            created_at=data["created_at"],
            task=data["task"],
            target=data["target"],
            verdict=data["verdict"],
            checks=tuple(_check_from_dict(c) for c in data["checks"]),
            inputs=tuple(
                InputFile(i["role"], i["file_name"], i["rows"], i["columns"], i["sha256"])
                for i in data["inputs"]
            ),
            gate=None if gate is None else GateVerdict(gate["passed"], tuple(gate["reasons"])),
            manifest=data["manifest"],
            headline=data.get("headline"),
        )
    except (KeyError, TypeError) as exc:  # pragma: no cover - the schema check comes first
        raise InputError(
            f"{source!r} is not a complete auditor result: {exc!r} is wrong or missing."
        ) from None


def upgraded(result: AuditResult, *, headline_missing: bool = False) -> AuditResult:
    """``result`` with what files of older versions lack, so renderers read all alike.

    Files written before audit.json carried each check's rationale and remedy get them from
    the check registry (the one case where reading a result imports the checks); files
    written before the headline block get it derived from their checks.
    """
    if headline_missing:
        from auditor.engine.headline import headline_of_old_result

        result = replace(result, headline=headline_of_old_result(result.task, result.checks))
    if "guidance" in result.manifest:
        return result
    from auditor.registry import guidance, load_registry

    manifest = {**result.manifest, "guidance": guidance(result.checks, load_registry())}
    return replace(result, manifest=manifest)


def _tuple_or_none(values: Sequence[float] | None) -> tuple[float, ...] | None:
    return None if values is None else tuple(values)


def _check_from_dict(c: Mapping[str, Any]) -> CheckResult:
    return CheckResult(
        id=c["id"],
        category=c["category"],
        title=c["title"],
        status=c["status"],
        summary=c["summary"],
        findings=tuple(
            Finding(f["code"], f["severity"], f["message"], tuple(f["columns"]), f["evidence"])
            for f in c["findings"]
        ),
        measurements=tuple(
            Measurement(
                m["key"],
                m["value"],
                m.get("ci_low"),
                m.get("ci_high"),
                m.get("greater_is_better"),
                m.get("note"),
            )
            for m in c["measurements"]
        ),
        tables=tuple(
            Table(
                t["key"],
                t["title"],
                tuple(t["columns"]),
                tuple(tuple(r) for r in t["rows"]),
                t.get("print_first", 0),
            )
            for t in c["tables"]
        ),
        curves=tuple(
            Curve(
                key=cv["key"],
                title=cv["title"],
                kind=cv["kind"],
                x_label=cv["x_label"],
                y_label=cv["y_label"],
                caption=cv["caption"],
                x_tick_labels=tuple(cv.get("x_tick_labels", ())),
                y_tick_labels=tuple(cv.get("y_tick_labels", ())),
                series=tuple(
                    Series(
                        s["name"],
                        tuple(s["x"]),
                        tuple(s["y"]),
                        _tuple_or_none(s["y_low"]),
                        _tuple_or_none(s["y_high"]),
                        _tuple_or_none(s.get("counts")),
                    )
                    for s in cv["series"]
                ),
            )
            for cv in c["curves"]
        ),
        params=c["params"],
        duration_s=c["duration_s"],
        skip_reason=c["skip_reason"],
        error=c["error"],
    )
