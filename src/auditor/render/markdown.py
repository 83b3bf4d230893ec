"""The Markdown summary: verdict, gate reasons, headline metrics and the findings table.

Written for a CI job summary or a pull-request comment (GitHub-flavoured Markdown). Every
field that comes from the result (check ids, titles, summaries, messages, column names, the
target, times, seed, versions, gate reasons) is escaped for Markdown and for the HTML that a
GitHub job summary renders inside it, so a column name cannot break a table or inject markup;
names are cut to 80 characters and free text is shortened like in the HTML report.
"""

from __future__ import annotations

import re
from typing import Any

from auditor import keys
from auditor.engine.headline import headline_metric
from auditor.metrics import METRICS_BY_KEY
from auditor.render.formatting import STATUS_LABELS, interval, number, prose, shorten, signed
from auditor.result import AuditResult, CheckResult

_MD_SPECIAL = str.maketrans(
    {
        "\\": "\\\\",
        "|": "\\|",
        "`": "\\`",
        "*": "\\*",
        "_": "\\_",
        "~": "\\~",
        "[": "\\[",
        "]": "\\]",
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        "#": "\\#",
    }
)
# Line breaks (any kind) and other control characters fold into one space.
_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
# A check id printed as code: only ids of this shape (others are escaped as plain text).
_PLAIN_ID = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")
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


def escape_md(text: Any) -> str:
    """Escape Markdown and HTML specials; fold newlines so a table row stays one line."""
    return _BREAKS.sub(" ", str(text)).translate(_MD_SPECIAL)


def md_name(text: Any) -> str:
    """A name from the data (column, file, target, class), cut to 80 characters and escaped."""
    return escape_md(shorten(text))


def md_text(text: Any) -> str:
    """Free text from the result (summary, message, reason), shortened and escaped."""
    return escape_md(prose(_BREAKS.sub(" ", str(text))))


def md_check_id(check_id: Any) -> str:
    """A check id as code (`data.schema`), or escaped text when it is not of that shape."""
    text = str(check_id)
    return f"`{text}`" if len(text) <= 80 and _PLAIN_ID.match(text) else md_name(text)


def render_markdown(result: AuditResult) -> str:
    """Render the Markdown summary of ``result``."""
    gate = result.gate
    lines = [
        f"# auditor: {escape_md(result.verdict.upper())} — model predicting {md_name(result.target)}",
        "",
    ]
    if gate is not None:
        lines.append(
            "**Gate: passed.**"
            if gate.passed
            else f"**Gate: FAILED** ({len(gate.reasons)} reasons)"
        )
        lines += [f"- {md_text(reason)}" for reason in gate.reasons]
        lines.append("")
    holdout = result.check(keys.HOLDOUT)
    if holdout is not None and holdout.measurements:
        primary = headline_metric(result.headline, result.task)
        shown = [primary, *(k for k in _HEADLINE_KEYS if k != primary)]
        weighted_by = (result.headline or {}).get("weighted_by")
        if weighted_by is not None:
            lines += [f"Metrics are weighted by column `{md_text(weighted_by)}`.", ""]
        lines += ["| Metric | Value | 95% interval |", "|---|---:|---:|"]
        for key in shown:
            m = holdout.measurement(key)
            if m is None or m.value is None:
                continue
            bounds = interval(m.ci_low, m.ci_high) or "—"
            lines.append(f"| {METRICS_BY_KEY[key].label} | {number(m.value)} | {bounds} |")
        lines.append("")
    lines += ["| Status | Check | Summary |", "|---|---|---|"]
    for check in result.checks:
        lines.append(
            f"| {STATUS_LABELS[check.status]} | {md_check_id(check.id)} | {md_text(check.summary)} |"
        )
    findings = [
        (check, f) for check in result.checks for f in check.findings if f.severity != "low"
    ]
    if findings:
        lines += ["", "| Severity | Check | Columns | Finding |", "|---|---|---|---|"]
        for check, f in findings:
            columns = ", ".join(md_name(c) for c in f.columns) or "—"
            lines.append(
                f"| {escape_md(f.severity)} | {md_check_id(check.id)} | {columns} "
                f"| {md_text(f.message)} |"
            )
    inputs = ", ".join(f"{escape_md(i.role)} {md_name(i.file_name)}" for i in result.inputs)
    lines += [
        "",
        f"<sub>auditor {md_name(result.tool.get('version', 'unknown'))} · "
        f"{md_name(result.created_at)} · seed {md_name(result.manifest.get('seed'))} · {inputs}</sub>",
        "",
    ]
    return "\n".join(lines)


def render_comparison(
    comparison: CheckResult, reference: AuditResult, candidate: AuditResult
) -> str:
    """Render a ``regression.compare`` result as a pull-request comment: a verdict line, the
    two audits, and one table of metrics, checks and findings that changed, with each
    side's own gate and leakage checks."""
    own = {(f.code, f.evidence.get("side")): f for f in comparison.findings}
    lines = [
        _comparison_verdict(comparison, own),
        "",
        f"Reference: {_inputs(reference)} ({md_name(reference.created_at)}); "
        f"candidate: {_inputs(candidate)} ({md_name(candidate.created_at)}).",
        "",
        "| What | Reference | Candidate | Delta | Tolerance | Change |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for row in _rows(comparison, "metric_deltas"):
        lines.append(
            f"| {md_name(row['metric'])} "
            f"| {_with_interval(row['reference'], row['reference_low'], row['reference_high'])} "
            f"| {_with_interval(row['candidate'], row['candidate_low'], row['candidate_high'])} "
            f"| {signed(row['delta'])} | {number(row['tolerance'])} "
            f"| {_CHANGE_WORDS.get(row.get('change'), '—')} |"
        )
    for row in _rows(comparison, "check_changes"):
        lines.append(
            f"| {md_check_id(row['check'])} | {escape_md(row['reference'])} "
            f"| {escape_md(row['candidate'])} | — | — | {escape_md(row['change'])} |"
        )
    sides = (("reference", reference), ("candidate", candidate))
    gates = [_own_gate(result, own.get(("gate_failed", side))) for side, result in sides]
    leaks = [_own_leaks(own.get(("leakage_failed", side))) for side, _ in sides]
    findings = [sum(len(c.findings) for c in result.checks) for _, result in sides]
    count = {m.key: m.value for m in comparison.measurements}
    lines += [
        f"| Own gate | {gates[0]} | {gates[1]} | — | — | — |",
        f"| Failed leakage checks | {leaks[0]} | {leaks[1]} | — | — | — |",
        f"| Findings | {findings[0]} | {findings[1]} | {signed(findings[1] - findings[0], 0)} | — "
        f"| {count.get('n_new_findings', 0)} new, {count.get('n_resolved_findings', 0)} resolved |",
    ]
    return "\n".join(lines) + "\n"


_CHANGE_WORDS = {"worse": "worse", "better": "better", "same": "within tolerance"}


def _rows(comparison: CheckResult, key: str) -> list[dict[str, Any]]:
    table = next((t for t in comparison.tables if t.key == key), None)
    return (
        [] if table is None else [dict(zip(table.columns, row, strict=True)) for row in table.rows]
    )


def _comparison_verdict(comparison: CheckResult, own: dict) -> str:
    """``**auditor compare: WORSE.** Worse: ROC AUC; better: Log loss. The reference ...``"""
    changed = {"worse": [], "better": []}
    for row in _rows(comparison, "metric_deltas"):
        if row.get("change") in changed:
            changed[row["change"]].append(md_name(row["metric"]))
    for row in _rows(comparison, "check_changes"):
        if row["change"] in changed:
            changed[row["change"]].append(md_check_id(row["check"]))
    if comparison.status == "pass":
        word = "BETTER" if changed["better"] else "no change beyond tolerance"
    else:
        word = {"fail": "WORSE", "warn": "WORSE (a check now warns)"}.get(
            comparison.status, escape_md(comparison.status)
        )
    sentences = [f"**auditor compare: {word}.**"]
    lists = "; ".join(f"{how}: {_first(names)}" for how, names in changed.items() if names)
    if lists:
        sentences.append(lists[0].upper() + lists[1:] + ".")
    caveats = [
        f"The {side} failed its own gate." for code, side in own if code == "gate_failed"
    ] + [
        f"The {side}'s leakage checks failed: its metrics may be inflated."
        for code, side in own
        if code == "leakage_failed"
    ]
    if ("different_data", None) in own:
        caveats.append(md_text(own[("different_data", None)].message))
    return " ".join([*sentences, *caveats])


def _first(names: list[str], limit: int = 4) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} (+{len(names) - limit} more)"


def _own_gate(result: AuditResult, failed: Any) -> str:
    if result.gate is None:
        return "—"
    if failed is None:
        return "passed"
    n = len(result.gate.reasons)
    return f"FAILED ({n} reason{'' if n == 1 else 's'})"


def _own_leaks(failed: Any) -> str:
    return (
        "none" if failed is None else ", ".join(md_check_id(c) for c in failed.evidence["checks"])
    )


def _inputs(result: AuditResult) -> str:
    model = next((i.file_name for i in result.inputs if i.role in {"model", "predictions"}), "?")
    test = next((i.file_name for i in result.inputs if i.role == "test"), "?")
    return f"{md_name(model)} on {md_name(test)}"


def _with_interval(value: Any, low: Any, high: Any) -> str:
    bounds = interval(low, high)
    return f"{number(value)} {bounds}" if bounds else number(value)
