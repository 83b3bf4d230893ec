"""The Markdown summary: verdict, gate reasons, headline metrics and the findings table.

Written for a CI job summary or a pull-request comment (GitHub-flavoured Markdown). Text
from the data is escaped so that a column name cannot break the table or inject markup.
"""

from __future__ import annotations

from auditor.metrics import METRICS_BY_KEY, PRIMARY_METRIC
from auditor.render.formatting import STATUS_LABELS, number
from auditor.result import AuditResult, CheckResult

_MD_SPECIAL = str.maketrans(
    {
        "\\": "\\\\",
        "|": "\\|",
        "`": "\\`",
        "*": "\\*",
        "_": "\\_",
        "[": "\\[",
        "]": "\\]",
        "<": "&lt;",
        ">": "&gt;",
        "#": "\\#",
        "\n": " ",
        "\r": " ",
    }
)
_HEADLINE_KEYS = (
    "roc_auc",
    "roc_auc_ovr",
    "average_precision",
    "balanced_accuracy",
    "log_loss",
    "r2",
    "root_mean_squared_error",
    "mean_absolute_error",
)


def escape_md(text: str) -> str:
    """Escape Markdown and HTML specials; fold newlines so a table row stays one line."""
    return str(text).translate(_MD_SPECIAL)


def render_markdown(result: AuditResult) -> str:
    """Render the Markdown summary of ``result``."""
    gate = result.gate
    lines = [
        f"# auditor: {result.verdict.upper()} — model predicting {escape_md(result.target)}",
        "",
    ]
    if gate is not None:
        lines.append(
            "**Gate: passed.**"
            if gate.passed
            else f"**Gate: FAILED** ({len(gate.reasons)} reasons)"
        )
        lines += [f"- {escape_md(reason)}" for reason in gate.reasons]
        lines.append("")
    holdout = result.check("performance.holdout_metrics")
    if holdout is not None and holdout.measurements:
        primary = PRIMARY_METRIC[result.task]
        keys = [primary, *(k for k in _HEADLINE_KEYS if k != primary)]
        lines += ["| Metric | Value | 95% interval |", "|---|---:|---:|"]
        for key in keys:
            m = holdout.measurement(key)
            if m is None or m.value is None:
                continue
            interval = "—" if m.ci_low is None else f"[{number(m.ci_low)}, {number(m.ci_high)}]"
            lines.append(f"| {METRICS_BY_KEY[key].label} | {number(m.value)} | {interval} |")
        lines.append("")
    lines += ["| Status | Check | Summary |", "|---|---|---|"]
    for check in result.checks:
        lines.append(
            f"| {STATUS_LABELS[check.status]} | `{check.id}` | {escape_md(check.summary)} |"
        )
    findings = [
        (check, f) for check in result.checks for f in check.findings if f.severity != "low"
    ]
    if findings:
        lines += ["", "| Severity | Check | Columns | Finding |", "|---|---|---|---|"]
        for check, f in findings:
            columns = ", ".join(escape_md(c) for c in f.columns) or "—"
            lines.append(f"| {f.severity} | `{check.id}` | {columns} | {escape_md(f.message)} |")
    inputs = ", ".join(f"{escape_md(i.role)} {escape_md(i.file_name)}" for i in result.inputs)
    lines += [
        "",
        f"<sub>auditor {escape_md(result.tool['version'])} · {result.created_at} · seed "
        f"{result.manifest.get('seed')} · {inputs}</sub>",
        "",
    ]
    return "\n".join(lines)


def render_comparison(
    comparison: CheckResult, reference: AuditResult, candidate: AuditResult
) -> str:
    """Render a ``regression.compare`` result as Markdown: deltas, then what got worse."""
    verdict = {"pass": "no regression", "warn": "worse (warnings)", "fail": "WORSE"}[
        comparison.status
    ]
    lines = [
        f"# auditor compare: {verdict}",
        "",
        f"Reference: {escape_md(_inputs(reference))} ({reference.created_at}); "
        f"candidate: {escape_md(_inputs(candidate))} ({candidate.created_at}).",
        "",
        escape_md(comparison.summary),
        "",
    ]
    table = comparison.tables[0]
    lines += ["| Metric | Reference | Candidate | Delta | Tolerance |", "|---|---:|---:|---:|---:|"]
    for label, ref, ref_low, ref_high, cand, cand_low, cand_high, delta, allowed in table.rows:
        lines.append(
            f"| {label} | {_with_interval(ref, ref_low, ref_high)} | {_with_interval(cand, cand_low, cand_high)} "
            f"| {delta:+.4f} | {number(allowed)} |"
        )
    if comparison.findings:
        lines += ["", "| Severity | What changed |", "|---|---|"]
        lines += [f"| {f.severity} | {escape_md(f.message)} |" for f in comparison.findings]
    return "\n".join(lines) + "\n"


def _inputs(result: AuditResult) -> str:
    model = next((i.file_name for i in result.inputs if i.role in {"model", "predictions"}), "?")
    test = next((i.file_name for i in result.inputs if i.role == "test"), "?")
    return f"{model} on {test}"


def _with_interval(value: float, low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return number(value)
    return f"{number(value)} [{number(low)}, {number(high)}]"
