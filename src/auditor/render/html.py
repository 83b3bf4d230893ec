"""The HTML report: jinja2 with autoescape and StrictUndefined, figures as inline PNG.

The template receives the result as plain JSON data plus a small view model; all text that
comes from the data (column names, class labels, messages) is escaped by jinja.
"""

from __future__ import annotations

import json
from typing import Any

from auditor.result import CATEGORIES, AuditResult, CheckResult

# The category titles, in report order.
SECTION_TITLES = {
    "data": "Data quality",
    "leakage": "Leakage",
    "performance": "Performance",
    "baseline": "Baselines",
    "slices": "Failure slices",
    "fairness": "Group metrics",
    "explain": "Explanations",
    "regression": "Comparison with a reference audit",
}
STATUS_LABELS = {
    "pass": "✓ PASS",
    "warn": "! WARN",
    "fail": "✗ FAIL",
    "error": "⚠ ERROR",
    "skipped": "– SKIPPED",
}
_SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}
_MAX_TABLE_ROWS = 50
_HEATMAP_TABLES = {"pair_heatmap"}
_QUIET_CATEGORIES = {"data", "leakage"}
_MAX_TOP_FINDINGS = 6


def format_number(value: Any) -> str:
    """Readable numbers: thousands separators, three decimals for values below one."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int) or float(value).is_integer() and abs(value) >= 1:
        return f"{value:,.0f}"
    magnitude = abs(value)
    if magnitude < 1:
        return f"{value:.3f}"
    if magnitude < 100:
        return f"{value:.3g}" if magnitude < 10 else f"{value:.1f}"
    return f"{value:,.0f}"


def format_share(value: Any) -> str:
    """A fraction in [0, 1] as a percentage."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return format_number(value)
    return f"{value:.1%}" if 0 < abs(value) < 0.001 or abs(value) >= 0.1 else f"{value:.2%}"


def _formatter(key: str):
    """Shares (keys ending in ``share``, by the naming convention) read as percentages."""
    return format_share if key.endswith("share") else format_number


def _interval(low: Any, high: Any, fmt=format_number) -> str:
    return "" if low is None or high is None else f"[{fmt(low)}, {fmt(high)}]"


# Words of measurement keys that read as acronyms in labels.
_ACRONYMS = {"auc": "AUC", "roc": "ROC", "cv": "CV", "ece": "ECE", "f1": "F1", "sd": "SD"}


def _humanize(key: str) -> str:
    """``max_missing_share`` -> ``Max missing share``; ``n_rows`` -> ``Rows``; ``cv`` -> ``CV``."""
    words = key.split("_")
    if words[0] == "n" and len(words) > 1:
        words = words[1:]
    text = " ".join(words).capitalize().split(" ")
    return " ".join(_ACRONYMS.get(w.lower(), w) for w in text)


def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("auditor", "report_templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = format_number
    return env


def render_html(result: AuditResult) -> str:
    """Render the self-contained HTML report of ``result``."""
    from auditor.metrics import METRICS_BY_KEY
    from auditor.registry import load_registry

    registry = load_registry()
    # The JSON form (sorted keys), so a report rendered now and one re-rendered from
    # audit.json list mappings in the same order: byte-identical output.
    data = json.loads(result.to_json())
    labels = {key: spec.label for key, spec in METRICS_BY_KEY.items()}
    sections = []
    for category in CATEGORIES:
        checks = [
            (obj, plain)
            for obj, plain in zip(result.checks, data["checks"], strict=True)
            if obj.category == category
        ]
        if not checks:
            continue
        statuses = [obj.status for obj, _ in checks]
        counts = ", ".join(f"{statuses.count(s)} {s}" for s in STATUS_LABELS if s in statuses)
        sections.append(
            {
                "category": category,
                "title": SECTION_TITLES[category],
                "counts": counts,
                "checks": [
                    _check_view(obj, plain, registry.get(obj.id), labels) for obj, plain in checks
                ],
            }
        )
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            r=data,
            verdict_text=_verdict_text(data),
            headline=_headline(result, labels),
            top_findings=_top_findings(data),
            sections=sections,
            status_labels=STATUS_LABELS,
        )
    )


def _verdict_text(data: dict) -> str:
    gate = data["gate"]
    if gate is not None and not gate["passed"]:
        return "Do not ship yet: the audit gate failed."
    return {
        "pass": "No check raised a problem at its threshold.",
        "warn": "Passed with warnings: review them before shipping.",
        "fail": "Checks failed: review them before shipping.",
    }[data["verdict"]]


def _headline(result: AuditResult, labels: dict[str, str]) -> list[dict[str, str]]:
    holdout = result.check("performance.holdout_metrics")
    if holdout is None or not holdout.measurements:
        return []
    from auditor.metrics import PRIMARY_METRIC

    wanted = [
        PRIMARY_METRIC[result.task],
        "balanced_accuracy",
        "average_precision",
        "root_mean_squared_error",
    ]
    shown = []
    for key in dict.fromkeys(wanted):
        m = holdout.measurement(key)
        if m is not None and m.value is not None:
            shown.append(
                {
                    "label": labels[key],
                    "value": format_number(m.value),
                    "ci": _interval(m.ci_low, m.ci_high),
                }
            )
    baseline = _best_baseline(result)
    if baseline is not None:
        shown.insert(1, baseline)
    n_rows = holdout.measurement("n_test_rows")
    if n_rows is not None:
        shown.append({"label": "Test rows", "value": format_number(n_rows.value), "ci": ""})
    return shown[:4]


def _best_baseline(result: AuditResult) -> dict[str, str] | None:
    """The best baseline's score on the test rows, to read the headline metric against."""
    check = result.check("baseline.comparison")
    m = None if check is None else check.measurement("best_baseline_score")
    if m is None or m.value is None or m.ci_low is None or not check.tables:
        return None
    # The scores table names each baseline; the best is the row holding its score.
    names = [row[0] for row in check.tables[0].rows[1:] if row[1] == m.value]
    label = f"Best baseline ({names[0]})" if names else "Best baseline"
    return {"label": label, "value": format_number(m.value), "ci": _interval(m.ci_low, m.ci_high)}


def _top_findings(data: dict) -> list[dict[str, str]]:
    rows = [
        {
            "severity": f["severity"],
            "message": f["message"],
            "check_id": c["id"],
            "check_title": c["title"],
        }
        for c in data["checks"]
        for f in c["findings"]
    ]
    rows += [
        {
            "severity": "high",
            "message": c["summary"],
            "check_id": c["id"],
            "check_title": c["title"],
        }
        for c in data["checks"]
        if c["status"] == "error"
    ]
    rows.sort(key=lambda row: _SEVERITY_RANK[row["severity"]])
    return [row for row in rows if row["severity"] != "low"][:_MAX_TOP_FINDINGS]


def _check_view(obj: CheckResult, check: dict, spec: Any, labels: dict[str, str]) -> dict[str, Any]:
    from auditor.render.figures import curve_png

    return {
        **check,
        # Passing data and leakage checks fold their evidence away (and drop it from the PDF):
        # readers need the problems, and the full tables stay in the HTML and audit.json.
        "quiet": check["status"] in {"pass", "skipped"} and check["category"] in _QUIET_CATEGORIES,
        "why": spec.rationale
        if spec is not None and check["status"] in {"pass", "warn", "fail"}
        else "",
        "remedy": spec.remedy if spec is not None else "",
        "measurements": [
            {
                "label": labels.get(m["key"]) or _humanize(m["key"]),
                "value": _formatter(m["key"])(m["value"]),
                "ci": _interval(m["ci_low"], m["ci_high"], _formatter(m["key"])),
                "direction": {True: "higher is better", False: "lower is better", None: ""}[
                    m["greater_is_better"]
                ],
            }
            for m in check["measurements"]
        ],
        "figures": [
            {"src": curve_png(curve), "title": curve.title, "caption": curve.caption}
            for curve in obj.curves
        ],
        "tables": [_table_view(t) for t in check["tables"]],
    }


def _heat(value: Any) -> str:
    """Cell shading for a lift: transparent at 1x, full orange (colour-blind safe) at 3x."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return ""
    alpha = min(1.0, max(0.0, (value - 1) / 2))
    return f"background-color: rgba(213, 94, 0, {alpha:.2f})"


def _table_view(table: dict) -> dict[str, Any]:
    rows = table["rows"]
    numeric = [
        bool(rows) and all(isinstance(row[i], (int, float)) or row[i] is None for row in rows)
        for i in range(len(table["columns"]))
    ]
    # The heat map's columns are feature names (data, shown as given); its cells are lifts.
    heatmap = table["key"] in _HEATMAP_TABLES
    return {
        "title": table["title"],
        "columns": table["columns"]
        if heatmap
        else [_humanize(c) if "_" in c else c for c in table["columns"]],
        "shades": [
            [_heat(cell) if heatmap else "" for cell in row] for row in rows[:_MAX_TABLE_ROWS]
        ],
        "numeric": numeric,
        "rows": [
            [_formatter(column)(cell) for column, cell in zip(table["columns"], row, strict=True)]
            for row in rows[:_MAX_TABLE_ROWS]
        ],
        "hidden_rows": max(0, len(rows) - _MAX_TABLE_ROWS),
        "css": "cm" if table["key"] == "confusion_matrix" else "",
    }
