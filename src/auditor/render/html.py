"""The HTML report: jinja2 with autoescape and StrictUndefined, figures as inline PNG.

The template receives the result as plain JSON data plus a small view model; all text that
comes from the data (column names, class labels, messages) is escaped by jinja. Every value the
template prints goes through ``_display`` first: long unbroken words are cut and free text is
capped (``formatting.prose``), so no value can stall the PDF's layout. Names print through the
``name`` filter: cut to 80 characters, the whole name in a tooltip.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from auditor import keys
from auditor.render import narrative
from auditor.render.formatting import (
    MISSING,
    STATUS_LABELS,
    formatter_for,
    humanize,
    interval,
    is_shortened,
    number,
    prose,
    shorten,
)
from auditor.render.templates import image_inliner, render_report, report_loader
from auditor.result import CATEGORIES, AuditResult, CheckResult

logger = logging.getLogger("auditor")

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
_NARRATIVE_ORDER = {
    keys.HOLDOUT: 0,
    keys.CROSS_VALIDATION: 1,
    keys.CALIBRATION: 2,
    keys.OVERFIT: 3,
}
# Tables show this many rows on screen and fewer on paper; audit.json keeps them all.
_MAX_TABLE_ROWS = 50
_MAX_PRINTED_ROWS = 12
# Wider tables print in a smaller type to fit the page, the widest in a smaller one still.
_NARROW_TABLE_COLUMNS = 8
_WIDE_TABLE_COLUMNS = 12
_HEATMAP_TABLES = {"pair_heatmap"}
# Long tables of lifts (one row per slice) shade their lift column only.
_LIFT_TABLES = {"pair_lifts"}
# Text cells longer than this (slice descriptions) get a wider column.
_LONG_TEXT_CHARS = 40
_QUIET_CATEGORIES = {"data", "leakage"}
# The cover page has room for this many issues; the rest are in their sections.
_COVER_ISSUES = 4
_COVER_PACKAGES = ("scikit-learn", "pandas", "numpy")


def _environment(template_dir: Path | None = None):
    """The report's jinja environment: a sandbox (user templates are outside code) that
    autoescapes, with ``template_dir``'s templates before the built-in ones."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(
        loader=report_loader(template_dir),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_display,
    )
    env.filters["num"] = number
    env.filters["name"] = _name
    env.filters["short"] = shorten
    if template_dir is not None:
        env.globals["inline_image"] = image_inliner(template_dir)
    return env


def _display(value: Any) -> Any:
    """What the template prints for a value: text shortened for display (``prose``); markup
    built here (names with their tooltip) and figures' data URIs as they are."""
    from markupsafe import Markup

    if isinstance(value, Markup) or not isinstance(value, str) or value.startswith("data:"):
        return value
    return prose(value)


def _name(value: Any):
    """A name from the data (column, slice, group, category, file): at most 80 characters,
    the whole name in a tooltip when it was cut."""
    from markupsafe import Markup, escape

    if value is None:
        return ""
    if not is_shortened(value):
        return escape(str(value))
    return Markup('<span title="{}">{}</span>').format(str(value), shorten(value))


def render_html(result: AuditResult, template_dir: Path | None = None) -> str:
    """Render the self-contained HTML report of ``result``, with the templates of
    ``template_dir`` (a branded report) before the built-in ones."""
    from auditor.metrics import METRICS_BY_KEY

    # The JSON form (sorted keys), so a report rendered now and one re-rendered from
    # audit.json list mappings in the same order: byte-identical output.
    data = json.loads(result.to_json())
    data["manifest"] = _manifest_view(data["manifest"])
    data["tool"] = {"name": "auditor", "version": "unknown", **data["tool"]}
    labels = {key: spec.label for key, spec in METRICS_BY_KEY.items()}
    guide = _guidance(data["manifest"].get("guidance"))
    objects = {c.id: c for c in result.checks}
    sections = []
    for category in CATEGORIES:
        checks = [c for c in data["checks"] if c["category"] == category]
        if not checks:
            continue
        checks.sort(key=_reading_order)
        sections.append(
            {
                "category": category,
                "title": SECTION_TITLES[category],
                "counts": _counts(checks),
                "reading": narrative.section_reading(category, checks, data),
                "checks": [
                    _check_view(objects[c["id"]], c, guide.get(c["id"], {}), labels) for c in checks
                ],
            }
        )

    remedies = {check_id: text.get("remedy", "") for check_id, text in guide.items()}
    issues = narrative.priority_issues(data, remedies, limit=len(data["checks"]))
    return render_report(
        _environment(template_dir),
        dict(
            r=data,
            verdict=narrative.verdict(data),
            conditions=narrative.gate_conditions(data),
            gate_reasons=narrative.gate_reasons(data),
            counts=_counts(data["checks"]),
            headline=_headline(result, data, labels),
            issues=issues[:_COVER_ISSUES],
            more_issues=issues[_COVER_ISSUES:],
            weakest_slice=narrative.weakest_slice(data),
            not_checked=narrative.not_checked(data),
            decisions=narrative.decisions(data),
            sections=sections,
            status_labels=STATUS_LABELS,
            packages={
                name: data["manifest"]["packages"][name]
                for name in _COVER_PACKAGES
                if name in data["manifest"]["packages"]
            },
        ),
        template_dir,
    )


def _manifest_view(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest with every key the template prints, for results written without some."""
    view = dict(manifest)
    for key, default in (("seed", "unknown"), ("python", "unknown"), ("command", "")):
        if view.get(key) is None:
            view[key] = default
    view.setdefault("model", None)
    if not isinstance(view.get("packages"), Mapping):
        view["packages"] = {}
    if not isinstance(view.get("notes"), list):
        view["notes"] = []
    columns = view.get("columns") if isinstance(view.get("columns"), Mapping) else {}
    inferred = columns.get("inferred")
    view["columns"] = {**columns, "inferred": inferred if isinstance(inferred, Mapping) else {}}
    return view


def _guidance(stored: Any) -> dict[str, dict[str, str]]:
    """The rationale and remedy of each check as stored in audit.json, keeping only text."""
    if not isinstance(stored, Mapping):
        return {}
    return {
        str(check_id): {
            key: str(text[key]) for key in ("rationale", "remedy") if text.get(key) is not None
        }
        for check_id, text in stored.items()
        if isinstance(text, Mapping)
    }


def _reading_order(check: dict) -> tuple[int, int]:
    """Data and leakage checks (many, alike) list problems first; the other sections read
    in their narrative order, the headline measurement first."""
    rank = narrative.STATUS_ORDER.index(check["status"])
    return (
        rank if check["category"] in _QUIET_CATEGORIES else 0,
        _NARRATIVE_ORDER.get(check["id"], len(_NARRATIVE_ORDER)),
    )


def _counts(checks: list[dict]) -> str:
    """``21 passed, 2 warned, 1 was skipped`` in the order that needs attention first."""
    statuses = [c["status"] for c in checks]
    return ", ".join(
        f"{statuses.count(s)} {'skipped' if s == 'skipped' else narrative.STATUS_WORDS[s]}"
        for s in narrative.STATUS_ORDER
        if s in statuses
    )


def _headline(result: AuditResult, data: dict, labels: dict[str, str]) -> list[dict[str, str]]:
    holdout = result.check(keys.HOLDOUT)
    if holdout is None or not holdout.measurements:
        return []
    from auditor.engine.headline import headline_metric

    wanted = [
        headline_metric(result.headline, result.task),
        "balanced_accuracy",
        "average_precision",
        "root_mean_squared_error",
    ]
    weighted_by = (result.headline or {}).get("weighted_by")
    weighted = "" if weighted_by is None else f" (weighted by {shorten(weighted_by)})"
    shown = []
    for key in dict.fromkeys(wanted):
        m = holdout.measurement(key)
        if m is not None and m.value is not None:
            shown.append(
                {
                    "label": labels[key] + weighted,
                    "value": number(m.value),
                    "ci": interval(m.ci_low, m.ci_high),
                }
            )
    baseline = _best_baseline(data)
    if baseline is not None:
        shown.insert(1, baseline)
    n_rows = holdout.measurement(keys.N_TEST_ROWS.key)
    if n_rows is not None:
        shown.append({"label": "Test rows", "value": number(n_rows.value), "ci": ""})
    return shown[:4]


def _best_baseline(data: dict) -> dict[str, str] | None:
    """The best baseline's score on the test rows, to read the headline metric against."""
    found = narrative.best_baseline(data)
    if found is None or found[1]["ci_low"] is None:
        return None
    name, best = found
    return {
        "label": f"Best baseline ({name})" if name else "Best baseline",
        "value": number(best["value"]),
        "ci": interval(best["ci_low"], best["ci_high"]),
    }


def _check_view(
    obj: CheckResult, check: dict, guide: dict[str, str], labels: dict[str, str]
) -> dict[str, Any]:
    from auditor.render.figures import curve_png

    return {
        **check,
        # Passing data and leakage checks fold their evidence away (and drop it from the PDF):
        # readers need the problems, and the full tables stay in the HTML and audit.json.
        "quiet": check["status"] in {"pass", "skipped"} and check["category"] in _QUIET_CATEGORIES,
        "why": guide.get("rationale", "") if check["status"] in {"pass", "warn", "fail"} else "",
        "remedy": guide.get("remedy", ""),
        "measurements": [
            {
                "label": labels.get(m["key"]) or humanize(m["key"]),
                "value": formatter_for(m["key"])(m["value"]),
                "ci": interval(m["ci_low"], m["ci_high"], formatter_for(m["key"])),
                "direction": {True: "higher is better", False: "lower is better"}.get(
                    m.get("greater_is_better"), ""
                ),
                "note": m.get("note") or "",
            }
            for m in check["measurements"]
        ],
        "figures": [
            {"src": _figure(curve_png, curve), "title": curve.title, "caption": curve.caption}
            for curve in obj.curves
        ],
        "tables": [_table_view(t) for t in check["tables"]],
    }


def _figure(draw, curve) -> str:
    """The figure's data URI; a figure that cannot be drawn becomes a note, not a lost report.

    ``figures.py`` draws missing and odd values on purpose; this is the last line of defence
    for anything it did not foresee, so one figure never costs the audit its report.
    """
    from auditor.render.figures import placeholder_png

    try:
        return draw(curve)
    except Exception as exc:  # noqa: BLE001 - any failure of one figure must not stop the report
        logger.warning(
            "The figure %r could not be drawn: %s: %s", curve.key, type(exc).__name__, exc
        )
        return placeholder_png(f"This figure could not be drawn ({type(exc).__name__}).")


def _heat(value: Any) -> str:
    """Cell shading for a lift: transparent at 1x, full orange (colour-blind safe) at 3x."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return ""
    try:
        lift = float(value)
    except OverflowError:
        lift = math.inf
    if math.isnan(lift):
        return ""
    alpha = min(1.0, max(0.0, (lift - 1) / 2))
    return f"background-color: rgba(213, 94, 0, {alpha:.2f})"


@dataclass(frozen=True, slots=True)
class _DisplayColumn:
    """A column as printed: its header, how a row's cell reads, and how it is laid out."""

    header: str
    cell: Callable[[Sequence[Any]], str]
    numeric: bool
    long_text: bool
    # Position of the raw value whose lift shades the cell (heat maps, lift columns).
    shaded_by: int | None = None


def _plain_cell(position: int, fmt: Callable[[Any], str], row: Sequence[Any]) -> str:
    return fmt(row[position])


def _interval_cell(position: int, fmt: Callable[[Any], str], row: Sequence[Any]) -> str:
    return interval(row[position], row[position + 1], fmt) or MISSING


def _display_columns(table: dict, rows: list) -> list[_DisplayColumn]:
    """The printed columns of ``table``; ``x_ci_low`` beside ``x_ci_high`` read as one.

    audit.json keeps both numbers; a reader needs one ``[low, high]`` interval, and two
    fewer columns keep wide tables (slices, groups) within the page.
    """
    columns = list(table["columns"])
    # The heat map's columns are feature names (data, shown as given); its cells are lifts.
    heatmap = table["key"] in _HEATMAP_TABLES
    out = []
    i = 0
    while i < len(columns):
        column = columns[i]
        prefix = column.removesuffix("ci_low")
        if column.endswith("ci_low") and columns[i + 1 : i + 2] == [prefix + "ci_high"]:
            fmt = formatter_for(prefix.rstrip("_") or "value")
            out.append(
                _DisplayColumn(
                    humanize(prefix + "95%_interval"),
                    partial(_interval_cell, i, fmt),
                    True,
                    False,
                )
            )
            i += 2
            continue
        values = [row[i] for row in rows]
        out.append(
            _DisplayColumn(
                column if heatmap or "_" not in column else humanize(column),
                partial(_plain_cell, i, formatter_for(column)),
                bool(rows) and all(isinstance(v, (int, float)) or v is None for v in values),
                any(isinstance(v, str) and len(v) > _LONG_TEXT_CHARS for v in values),
                i if heatmap or (table["key"] in _LIFT_TABLES and column == "lift") else None,
            )
        )
        i += 1
    return out


def _table_view(table: dict) -> dict[str, Any]:
    # The leading rows that carry the check's finding show and print whatever the limits.
    must_print = table.get("print_first") or 0
    rows = table["rows"][: max(_MAX_TABLE_ROWS, must_print)]
    columns = _display_columns(table, rows)
    return {
        "title": table["title"],
        "columns": [c.header for c in columns],
        "classes": [
            "num" if c.numeric else ("text long" if c.long_text else "text") for c in columns
        ],
        "shades": [
            ["" if c.shaded_by is None else _heat(row[c.shaded_by]) for c in columns]
            for row in rows
        ],
        "rows": [[c.cell(row) for c in columns] for row in rows],
        "total_rows": len(table["rows"]),
        # A table barely over the cap prints whole: cutting one or two rows saves no page.
        "printed_rows": max(
            must_print,
            _MAX_PRINTED_ROWS if len(rows) > _MAX_PRINTED_ROWS + 3 else len(rows),
        ),
        "css": " ".join(
            filter(
                None,
                (
                    {"confusion_matrix": "cm", "pair_heatmap": "heatmap"}.get(table["key"]),
                    "wide" if len(columns) > _NARROW_TABLE_COLUMNS else None,
                    "widest" if len(columns) > _WIDE_TABLE_COLUMNS else None,
                ),
            )
        ),
    }
