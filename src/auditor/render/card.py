"""The model card: ``model_card.json`` in the Model Card Toolkit's schema, and ``model_card.md``.

Both are drawn from audit.json alone. The audit's measurements fill what the Model Card
Toolkit (MCT) leaves to be computed: the data and its hashes, every holdout metric with its
interval, the best baseline, the chosen operating point, the failure slices and the group
gaps, the gate, and the findings that need a decision. What an audit cannot know (owners,
intended and out-of-scope uses, limitations, ethical considerations) comes from the config's
``[model_card]`` table, which the audit records in its manifest (``spec.model_card``).

The JSON follows the MCT JSON schema v0.0.2 (model-card-toolkit 2.x), whose top level admits
no other keys: metric values and interval bounds are strings there, written here with every
digit (``repr``) so they read back as the audit's floats. docs/decisions.md maps each field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from auditor import keys
from auditor.engine.headline import headline_metric
from auditor.metrics import METRICS_BY_KEY
from auditor.render.formatting import (
    STATUS_LABELS,
    formatter_for,
    humanize,
    interval,
    number,
    share,
    signed,
)
from auditor.render.markdown import escape_md, md_check_id, md_name, md_text
from auditor.result import SEVERITY_RANK, AuditResult, CheckResult, Measurement
from auditor.spec import ModelCardText

MCT_SCHEMA_VERSION = "0.0.2"
CARD_JSON, CARD_MARKDOWN = "model_card.json", "model_card.md"
# "Risk team <risk@example.com>": an owner's name and contact in one string.
_OWNER = re.compile(r"^(?P<name>.*?)\s*<(?P<contact>[^<>]*)>\s*$")
# Decision measurements at the chosen threshold, in the order a reader weighs them.
_OPERATING_POINT = (
    "chosen_threshold",
    keys.EXPECTED_COST.key,
    keys.PRECISION_AT_THRESHOLD.key,
    keys.RECALL_AT_THRESHOLD.key,
    "flagged_share_at_threshold",
)
_TASK_WORDS = {
    "binary": "binary classifier",
    "multiclass": "multiclass classifier",
    "regression": "regression model",
}


@dataclass(frozen=True, slots=True)
class _Consideration:
    """A finding of medium or high severity, with what to do about it."""

    check_id: str
    check_title: str
    category: str
    severity: str
    message: str
    remedy: str


@dataclass(frozen=True, slots=True)
class _Card:
    """What the card says, read once from the result; both files are written from it."""

    result: AuditResult
    declared: ModelCardText
    model_name: str
    metrics: tuple[Measurement, ...]
    headline_key: str | None
    operating_point: tuple[Measurement, ...]
    slices: CheckResult | None
    groups: CheckResult | None
    considerations: tuple[_Consideration, ...]

    @property
    def headline(self) -> Mapping[str, Any]:
        return self.result.headline or {}


def render_card(result: AuditResult) -> dict[str, str]:
    """The card's two files, name -> text: ``model_card.md`` and ``model_card.json``."""
    card = _read(result)
    return {
        CARD_MARKDOWN: _markdown(card),
        CARD_JSON: json.dumps(_toolkit_json(card), indent=2, ensure_ascii=False) + "\n",
    }


def _read(result: AuditResult) -> _Card:
    holdout = result.check(keys.HOLDOUT)
    decision = result.check(keys.DECISION)
    chosen = [] if decision is None else [decision.measurement(k) for k in _OPERATING_POINT]
    guidance = result.manifest.get("guidance") or {}
    considerations = sorted(
        (
            _Consideration(
                check.id,
                check.title,
                check.category,
                finding.severity,
                finding.message,
                str((guidance.get(check.id) or {}).get("remedy") or ""),
            )
            for check in result.checks
            for finding in check.findings
            if finding.severity in ("medium", "high")
        ),
        key=lambda c: SEVERITY_RANK[c.severity],
    )
    model = next((i.file_name for i in result.inputs if i.role in ("model", "predictions")), None)
    return _Card(
        result=result,
        declared=_declared(result.manifest),
        model_name=model or f"model predicting {result.target}",
        metrics=()
        if holdout is None
        else tuple(
            m for m in holdout.measurements if m.key in METRICS_BY_KEY and m.value is not None
        ),
        headline_key=None if holdout is None else headline_metric(result.headline, result.task),
        operating_point=tuple(m for m in chosen if m is not None and m.value is not None),
        slices=_ran(result.check(keys.SLICES)),
        groups=_ran(result.check(keys.GROUP_METRICS)),
        considerations=tuple(considerations),
    )


def _declared(manifest: Mapping[str, Any]) -> ModelCardText:
    """The ``[model_card]`` values the audit recorded; empty for audits without them."""
    spec = manifest.get("spec")
    stored = spec.get("model_card") if isinstance(spec, Mapping) else None
    if not isinstance(stored, Mapping):
        return ModelCardText()
    return ModelCardText(
        **{
            f.name: tuple(str(v) for v in stored.get(f.name) or () if isinstance(v, str))
            for f in fields(ModelCardText)
        }
    )


def _ran(check: CheckResult | None) -> CheckResult | None:
    return check if check is not None and check.status not in ("skipped", "error") else None


def _rows(check: CheckResult | None, table_key: str) -> list[dict[str, Any]]:
    table = None if check is None else next((t for t in check.tables if t.key == table_key), None)
    return [] if table is None else [dict(zip(table.columns, r, strict=True)) for r in table.rows]


def _in_slice_key(row: Mapping[str, Any]) -> str:
    """The slice table's error measure (``error_rate``, ``mean_absolute_error`` ...)."""
    return next(k for k in row if k.endswith("_in_slice")).removesuffix("_in_slice")


# --- model_card.json (Model Card Toolkit schema) ----------------------------------------------


def _exact(value: Any) -> str:
    """A number as the schema's string, every digit kept: ``float(text)`` is the value."""
    return repr(float(value)) if not isinstance(value, int) else str(value)


def _metric(
    kind: str, value: Any, low: Any = None, high: Any = None, slice_: str | None = None
) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": kind, "value": _exact(value)}
    if slice_ is not None:
        entry["slice"] = slice_
    if low is not None and high is not None:
        entry["confidence_interval"] = {"lower_bound": _exact(low), "upper_bound": _exact(high)}
    return entry


def _toolkit_json(card: _Card) -> dict[str, Any]:
    result, declared = card.result, card.declared
    model_file = next((i for i in result.inputs if i.role == "model"), None)
    details: dict[str, Any] = {
        "name": card.model_name,
        "overview": _overview(card),
        "documentation": _documentation(card),
        "owners": [_owner(text) for text in declared.owners],
    }
    if model_file is not None and model_file.sha256:
        details["version"] = {"name": f"sha256:{model_file.sha256}"}
    sensitive = list((result.manifest.get("columns") or {}).get("sensitive") or [])
    data = []
    for i in result.inputs:
        if i.role not in ("train", "test"):
            continue
        entry: dict[str, Any] = {"name": i.file_name, "description": _describe_input(i)}
        if sensitive:
            entry["sensitive"] = {"sensitive_data": [str(c) for c in sensitive]}
        data.append(entry)
    parameters: dict[str, Any] = {"data": data, "output_format": _output_format(card)}
    if result.manifest.get("model"):
        parameters["model_architecture"] = str(result.manifest["model"])
    features = result.manifest.get("model_features") or []
    if features:
        parameters["input_format"] = (
            f"A table with the model's {len(features)} feature columns: "
            + ", ".join(str(f) for f in features)
        )
    return {
        "schema_version": MCT_SCHEMA_VERSION,
        "model_details": details,
        "model_parameters": parameters,
        "quantitative_analysis": {"performance_metrics": _performance_metrics(card)},
        "considerations": {
            "use_cases": [{"description": text} for text in declared.intended_use]
            + [{"description": f"Out of scope: {text}"} for text in declared.out_of_scope],
            "limitations": [{"description": text} for text in declared.limitations]
            + [
                {"description": f"{c.check_title} ({c.severity}): {c.message}"}
                for c in card.considerations
                if c.category != "fairness"
            ],
            "tradeoffs": [{"description": text} for text in _tradeoffs(card)],
            "ethical_considerations": [{"name": text} for text in declared.ethical_considerations]
            + [
                {
                    "name": f"{c.check_title} ({c.severity}): {c.message}",
                    "mitigation_strategy": c.remedy,
                }
                for c in card.considerations
                if c.category == "fairness"
            ],
        },
    }


def _owner(text: str) -> dict[str, str]:
    found = _OWNER.match(text)
    if found is None or not found.group("name"):
        return {"name": text}
    return {"name": found.group("name"), "contact": found.group("contact")}


def _performance_metrics(card: _Card) -> list[dict[str, Any]]:
    out = [_metric(m.key, m.value, m.ci_low, m.ci_high) for m in card.metrics]
    best = card.headline.get("best_baseline") or {}
    if card.headline_key is not None and best.get("value") is not None:
        name = str(best.get("name") or "best")
        out.append(
            _metric(
                f"{card.headline_key} of the best baseline ({name})",
                best["value"],
                best.get("ci_low"),
                best.get("ci_high"),
            )
        )
        if best.get("difference") is not None:
            out.append(
                _metric(
                    f"{card.headline_key} difference to the best baseline ({name})",
                    best["difference"],
                    best.get("difference_ci_low"),
                    best.get("difference_ci_high"),
                )
            )
    out += [_metric(m.key, m.value, m.ci_low, m.ci_high) for m in card.operating_point]
    for row in _rows(card.slices, "weak_slices"):
        measure = _in_slice_key(row)
        out.append(_metric(measure, row[f"{measure}_in_slice"], slice_=str(row["slice"])))
        out.append(
            _metric(
                f"{measure} lift",
                row["lift"],
                row["lift_ci_low"],
                row["lift_ci_high"],
                slice_=str(row["slice"]),
            )
        )
    for row in _rows(card.groups, "group_gaps"):
        pair = f"{row['column']}: {row['higher_group']} vs {row['lower_group']}"
        if row["gap"] is not None:
            out.append(
                _metric(f"{row['metric']} gap", row["gap"], row["ci_low"], row["ci_high"], pair)
            )
    return out


def _describe_input(i: Any) -> str:
    size = ", ".join(
        f"{number(n)} {word}"
        for n, word in ((i.rows, "rows"), (i.columns, "columns"))
        if n is not None
    )
    return f"{i.role} data: {size}; SHA-256 {i.sha256 or 'not recorded'}"


def _output_format(card: _Card) -> str:
    result = card.result
    if result.task == "regression":
        return f"A predicted value of {result.target}"
    positive = result.manifest.get("positive_class")
    probabilities = card.headline.get("has_probabilities")
    label = f"A predicted class of {result.target}"
    if result.task == "binary" and positive is not None and probabilities:
        return f"{label}, and the probability of class {positive}"
    return label + (" with a probability per class" if probabilities else "")


def _overview(card: _Card) -> str:
    r = card.result
    gate = "" if r.gate is None else ("; gate passed" if r.gate.passed else "; gate FAILED")
    return (
        f"A {_TASK_WORDS[r.task]} predicting {r.target}, audited by auditor "
        f"{r.tool.get('version', 'unknown')} on {r.created_at}: verdict {r.verdict.upper()}{gate}."
    )


def _documentation(card: _Card) -> str:
    r = card.result
    parts = [_overview(card)]
    if r.gate is not None and r.gate.reasons:
        parts.append("The release gate failed: " + "; ".join(r.gate.reasons) + ".")
    elif r.gate is not None:
        parts.append("The release gate passed.")
    if card.headline.get("why"):
        parts.append(f"Headline metric {card.headline_key}: {card.headline['why']}.")
    return " ".join(parts)


def _tradeoffs(card: _Card) -> list[str]:
    """The chosen operating point as the trade-off it is: what the threshold gains and costs."""
    values = {m.key: m for m in card.operating_point}
    threshold = values.get("chosen_threshold")
    if threshold is None:
        return []
    measured = [
        f"{humanize(k).lower()} {formatter_for(k)(values[k].value)}"
        for k in _OPERATING_POINT[1:]
        if k in values
    ]
    return [
        f"At the threshold {number(threshold.value)} chosen by performance.decision: "
        + ", ".join(measured)
        + " on the test rows."
    ]


# --- model_card.md ------------------------------------------------------------------------------


def _markdown(card: _Card) -> str:
    r, declared = card.result, card.declared
    lines = [f"# Model card: {md_name(card.model_name)}", "", md_text(_overview(card)), ""]
    lines += _details_table(card)
    lines += _declared_section("Intended use", declared.intended_use, "intended_use")
    lines += _declared_section("Out of scope", declared.out_of_scope, "out_of_scope")
    lines += [
        "## Data",
        "",
        "| Role | File | Rows | Columns | SHA-256 |",
        "|---|---|---:|---:|---|",
    ]
    for i in r.inputs:
        lines.append(
            f"| {escape_md(i.role)} | {md_name(i.file_name)} | {number(i.rows)} "
            f"| {number(i.columns)} | {escape_md(i.sha256 or '—')} |"
        )
    sensitive = (r.manifest.get("columns") or {}).get("sensitive") or []
    if sensitive:
        lines += ["", "Sensitive columns: " + ", ".join(md_name(c) for c in sensitive) + "."]
    lines.append("")
    lines += _performance_section(card)
    lines += _operating_point_section(card)
    lines += _slices_section(card)
    lines += _groups_section(card)
    lines += _declared_section("Limitations", declared.limitations, "limitations")
    lines += _declared_section(
        "Ethical considerations", declared.ethical_considerations, "ethical_considerations"
    )
    lines += _considerations_section(card)
    lines += [
        f"<sub>Drawn from audit.json (schema version {r.schema_version}) by auditor "
        f"{md_name(r.tool.get('version', 'unknown'))}; model_card.json holds the same card in "
        f"the Model Card Toolkit schema {MCT_SCHEMA_VERSION}. The audit states what was "
        "measured at which threshold; a check that passed found nothing above its threshold, "
        "which does not prove the absence of a problem.</sub>",
        "",
    ]
    return "\n".join(lines)


def _details_table(card: _Card) -> list[str]:
    r = card.result
    model_file = next((i for i in r.inputs if i.role == "model"), None)
    positive = r.manifest.get("positive_class")
    rows = [
        (
            "Model",
            md_name(card.model_name)
            + (
                f" (SHA-256 {escape_md(model_file.sha256[:12])})"
                if model_file and model_file.sha256
                else ""
            ),
        ),
        ("Architecture", md_text(r.manifest.get("model") or "—")),
        (
            "Task",
            f"{_TASK_WORDS[r.task]} predicting {md_name(r.target)}"
            + (f", positive class {md_name(positive)}" if positive is not None else ""),
        ),
        ("Owners", ", ".join(md_text(o) for o in card.declared.owners) or _undeclared("owners")),
        (
            "Audited",
            f"{md_name(r.created_at)} with auditor {md_name(r.tool.get('version', 'unknown'))}",
        ),
        ("Verdict", STATUS_LABELS[r.verdict]),
        ("Release gate", _gate(r)),
    ]
    return ["## Model details", "", *(f"- **{k}:** {v}" for k, v in rows), ""]


def _gate(r: AuditResult) -> str:
    if r.gate is None:
        return "not applied"
    if r.gate.passed:
        return "passed"
    return "FAILED: " + "; ".join(md_text(reason) for reason in r.gate.reasons)


def _undeclared(key: str) -> str:
    return f"not declared (add {key} to [model_card] in audit.toml)"


def _declared_section(title: str, texts: tuple[str, ...], key: str) -> list[str]:
    body = [f"- {md_text(t)}" for t in texts] or [_undeclared(key).capitalize() + "."]
    return [f"## {title}", "", *body, ""]


def _performance_section(card: _Card) -> list[str]:
    lines = ["## Performance on the test rows", ""]
    if not card.metrics:
        return [*lines, "Not measured: the audit had no model or predictions to score.", ""]
    headline = next((m for m in card.metrics if m.key == card.headline_key), None)
    if headline is not None:
        sentence = (
            f"Headline: **{METRICS_BY_KEY[headline.key].label} {number(headline.value)}** "
            f"{interval(headline.ci_low, headline.ci_high)}".rstrip()
        )
        best = card.headline.get("best_baseline") or {}
        if best.get("value") is not None:
            sentence += (
                f"; best baseline ({md_name(best.get('name') or 'unnamed')}) "
                f"{number(best['value'])} {interval(best.get('ci_low'), best.get('ci_high'))}".rstrip()
            )
            if best.get("difference") is not None:
                sentence += (
                    f", difference {signed(best['difference'])} "
                    + interval(
                        best.get("difference_ci_low"), best.get("difference_ci_high"), signed
                    )
                ).rstrip()
        lines += [sentence + ".", ""]
    weighted_by = card.headline.get("weighted_by")
    if weighted_by is not None:
        lines += [f"Metrics are weighted by column {md_name(weighted_by)}.", ""]
    lines += ["| Metric | Value | 95% interval |", "|---|---:|---:|"]
    lines += [
        f"| {METRICS_BY_KEY[m.key].label} | {number(m.value)} | {interval(m.ci_low, m.ci_high) or '—'} |"
        for m in card.metrics
    ]
    return [*lines, ""]


def _operating_point_section(card: _Card) -> list[str]:
    if not card.operating_point:
        return []
    lines = [
        "## Operating point",
        "",
        "The threshold performance.decision chose from the costs and limits in [decision], "
        "measured on the test rows.",
        "",
        "| Measure | Value | 95% interval |",
        "|---|---:|---:|",
    ]
    for m in card.operating_point:
        fmt = formatter_for(m.key)
        lines.append(
            f"| {humanize(m.key)} | {fmt(m.value)} | {interval(m.ci_low, m.ci_high, fmt) or '—'} |"
        )
    return [*lines, ""]


def _slices_section(card: _Card) -> list[str]:
    lines = ["## Failure slices", ""]
    if card.slices is None:
        return [*lines, _not_run(card.result, keys.SLICES), ""]
    rows = _rows(card.slices, "weak_slices")
    if not rows:
        return [*lines, md_text(card.slices.summary), ""]
    measure = humanize(_in_slice_key(rows[0])).lower()
    lines += [
        md_text(card.slices.summary),
        "",
        f"| Slice | Rows | Share | {measure.capitalize()} in slice | Elsewhere | Lift | 95% interval | q |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    key = _in_slice_key(rows[0])
    for row in rows:
        lines.append(
            f"| {md_name(row['slice'])} | {number(row['rows'])} | {share(row['share'])} "
            f"| {number(row[f'{key}_in_slice'])} | {number(row[f'{key}_elsewhere'])} "
            f"| {number(row['lift'])} | {interval(row['lift_ci_low'], row['lift_ci_high']) or '—'} "
            f"| {formatter_for('q_value')(row['q_value'])} |"
        )
    return [*lines, ""]


def _groups_section(card: _Card) -> list[str]:
    lines = ["## Group metrics", ""]
    if card.groups is None:
        return [*lines, _not_run(card.result, keys.GROUP_METRICS), ""]
    lines += [
        md_text(card.groups.summary),
        "",
        "| Column | Metric | Groups compared | Lower | Higher | Gap | 95% interval | Judgement |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for row in _rows(card.groups, "group_gaps"):
        lines.append(
            f"| {md_name(row['column'])} | {escape_md(humanize(row['metric']))} "
            f"| {md_name(row['lower_group'])} vs {md_name(row['higher_group'])} "
            f"| {number(row['lower_value'])} | {number(row['higher_value'])} "
            f"| {number(row['gap'])} | {interval(row['ci_low'], row['ci_high']) or '—'} "
            f"| {md_text(row['judgement'])} |"
        )
    return [*lines, ""]


def _not_run(result: AuditResult, check_id: str) -> str:
    check = result.check(check_id)
    if check is None:
        return f"Not measured: {check_id} did not run."
    reason = check.skip_reason or (check.error or {}).get("message") or check.summary
    return f"Not measured: {check_id} {check.status} ({md_text(reason)})."


def _considerations_section(card: _Card) -> list[str]:
    lines = ["## Considerations from the audit", ""]
    if not card.considerations:
        return [*lines, "No finding of medium or high severity.", ""]
    for c in card.considerations:
        todo = f" What to do: {md_text(c.remedy)}" if c.remedy else ""
        lines.append(
            f"- **{c.severity.upper()}** {md_text(c.check_title)} ({md_check_id(c.check_id)}): "
            f"{md_text(c.message)}{todo}"
        )
    return [*lines, ""]
