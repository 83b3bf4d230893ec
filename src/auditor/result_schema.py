"""The shape of audit.json (schema version 1), checked before any dataclass is built.

``auditor render`` and ``auditor compare`` read files that may have been edited, truncated or
written by something else. Every problem is reported as one line that names the JSON path of
the first violation and the fix, e.g. ``'audit.json' is not a valid auditor result:
checks[3].curves[0].series[0] has 12 x values and 11 y values; re-create it with auditor
audit.`` Renderers can then rely on the shape and only have to cope with values (missing,
infinite, long), which they do.

The checks are the ones the readers need, no more: keys that later versions add within
schema version 1 (``counts`` on a series, a ``headline`` block, ``print_first`` on a table,
``note`` on a measurement) are optional or ignored, so
files written by older and newer auditors of the same schema version still load. Hand-written
rather than JSON Schema: the package has no validator dependency, and the rules that matter
most (equal lengths, finite numbers, bounded nesting) are not plain JSON Schema anyway.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from auditor.errors import InputError
from auditor.result import CATEGORIES, SCHEMA_VERSION, SEVERITIES, STATUSES, TASKS

# A file larger than this is not an audit result (a large audit writes well under 5 MB).
MAX_BYTES = 64 * 1024 * 1024
# Free-form values (finding evidence, check parameters, the manifest) nest at most this deep.
MAX_DEPTH = 32

VERDICTS = ("pass", "warn", "fail")
CURVE_KINDS = ("line", "step", "scatter", "interval")
INPUT_ROLES = ("train", "test", "model", "predictions", "baseline_model", "challenger")
FIX = "re-create it with auditor audit"

_SURROGATE = re.compile("[\ud800-\udfff]")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _ShapeError(Exception):
    """The first violation found: where it is, and what is wrong there."""

    def __init__(self, path: str, problem: str, *, missing: bool = False):
        super().__init__(path, problem)
        self.path, self.problem, self.missing = path, problem, missing


def validate_result(data: Any, *, source: str) -> None:
    """Raise InputError (one line: the path of the problem and the fix) unless ``data`` has the
    shape of an audit result this auditor can read."""
    if not isinstance(data, Mapping):
        raise InputError(
            f"{source!r} is not an auditor result: it holds {_kind(data)}, not an object with "
            "a schema_version. Pass the audit.json an audit wrote."
        )
    if "schema_version" not in data:
        raise InputError(f"{source!r} is not an auditor result: it has no schema_version.")
    version = data["schema_version"]
    if isinstance(version, bool) or version != SCHEMA_VERSION:
        raise InputError(
            f"{source!r} has schema_version {version!r}; this auditor reads version "
            f"{SCHEMA_VERSION}. Re-run the audit or use the auditor version that wrote it."
        )
    try:
        _result(data)
    except _ShapeError as problem:
        if problem.missing:
            raise InputError(
                f"{source!r} is not a complete auditor result: '{problem.path}' is missing; {FIX}."
            ) from None
        raise InputError(
            f"{source!r} is not a valid auditor result: {problem.path} {problem.problem}; {FIX}."
        ) from None


# --- the parts of a result ------------------------------------------------------------------


def _result(data: Mapping[str, Any]) -> None:
    tool = _object(_get(data, "tool", ""), "tool")
    _string(_get(tool, "version", "tool"), "tool.version")
    for key, value in tool.items():
        _string(value, _at("tool", key), nullable=True)
    _string(_get(data, "created_at", ""), "created_at")
    _choice(_get(data, "task", ""), TASKS, "task")
    _string(_get(data, "target", ""), "target")
    _choice(_get(data, "verdict", ""), VERDICTS, "verdict")
    seen: dict[str, int] = {}
    for i, check in enumerate(_list(_get(data, "checks", ""), "checks")):
        path = f"checks[{i}]"
        check_id = _check(check, path)
        if check_id in seen:
            raise _ShapeError(
                f"{path}.id", f"repeats {_quote(check_id)}, the id of checks[{seen[check_id]}]"
            )
        seen[check_id] = i
    for i, item in enumerate(_list(_get(data, "inputs", ""), "inputs")):
        _input(item, f"inputs[{i}]")
    gate = data.get("gate")
    if gate is not None:
        gate = _object(gate, "gate")
        _boolean(_get(gate, "passed", "gate"), "gate.passed")
        for i, reason in enumerate(_list(_get(gate, "reasons", "gate"), "gate.reasons")):
            _string(reason, f"gate.reasons[{i}]")
    _free(_object(_get(data, "manifest", ""), "manifest"), "manifest")
    headline = data.get("headline")
    if headline is not None:
        headline = _object(headline, "headline")
        _free(headline, "headline")
        _string(_get(headline, "metric", "headline"), "headline.metric")


def _check(check: Any, path: str) -> str:
    check = _object(check, path)
    check_id = _string(_get(check, "id", path), f"{path}.id")
    _choice(_get(check, "category", path), CATEGORIES, f"{path}.category")
    _string(_get(check, "title", path), f"{path}.title")
    _choice(_get(check, "status", path), STATUSES, f"{path}.status")
    _string(_get(check, "summary", path), f"{path}.summary")
    for i, finding in enumerate(_list(_get(check, "findings", path), f"{path}.findings")):
        _finding(finding, f"{path}.findings[{i}]")
    for i, item in enumerate(_list(_get(check, "measurements", path), f"{path}.measurements")):
        _measurement(item, f"{path}.measurements[{i}]")
    for i, table in enumerate(_list(_get(check, "tables", path), f"{path}.tables")):
        _table(table, f"{path}.tables[{i}]")
    for i, curve in enumerate(_list(_get(check, "curves", path), f"{path}.curves")):
        _curve(curve, f"{path}.curves[{i}]")
    _free(_object(_get(check, "params", path), f"{path}.params"), f"{path}.params")
    _number(_get(check, "duration_s", path), f"{path}.duration_s", nullable=True)
    _string(_get(check, "skip_reason", path), f"{path}.skip_reason", nullable=True)
    error = _get(check, "error", path)
    if error is not None:
        for key, value in _object(error, f"{path}.error").items():
            _string(value, _at(f"{path}.error", key), nullable=True)
    return check_id


def _finding(finding: Any, path: str) -> None:
    finding = _object(finding, path)
    _string(_get(finding, "code", path), f"{path}.code")
    _choice(_get(finding, "severity", path), SEVERITIES, f"{path}.severity")
    _string(_get(finding, "message", path), f"{path}.message")
    for i, column in enumerate(_list(_get(finding, "columns", path), f"{path}.columns")):
        _string(column, f"{path}.columns[{i}]")
    _free(_object(_get(finding, "evidence", path), f"{path}.evidence"), f"{path}.evidence")


def _measurement(item: Any, path: str) -> None:
    item = _object(item, path)
    _string(_get(item, "key", path), f"{path}.key")
    _number(_get(item, "value", path), f"{path}.value", nullable=True)
    for key in ("ci_low", "ci_high"):
        _number(item.get(key), f"{path}.{key}", nullable=True)
    if item.get("greater_is_better") is not None:
        _boolean(item["greater_is_better"], f"{path}.greater_is_better")
    if item.get("note") is not None:
        _string(item["note"], f"{path}.note")


def _table(table: Any, path: str) -> None:
    table = _object(table, path)
    _string(_get(table, "key", path), f"{path}.key")
    _string(_get(table, "title", path), f"{path}.title")
    columns = _list(_get(table, "columns", path), f"{path}.columns")
    for i, column in enumerate(columns):
        _string(column, f"{path}.columns[{i}]")
    for i, row in enumerate(_list(_get(table, "rows", path), f"{path}.rows")):
        row = _list(row, f"{path}.rows[{i}]")
        if len(row) != len(columns):
            raise _ShapeError(
                f"{path}.rows[{i}]",
                f"has {_count(len(row), 'cell')} and the table {_count(len(columns), 'column')}",
            )
        for j, cell in enumerate(row):
            _scalar(cell, f"{path}.rows[{i}][{j}]")
    if table.get("print_first") is not None:
        _integer(table["print_first"], f"{path}.print_first", nullable=False)


def _curve(curve: Any, path: str) -> None:
    curve = _object(curve, path)
    for key in ("key", "title", "x_label", "y_label", "caption"):
        _string(_get(curve, key, path), f"{path}.{key}")
    _choice(_get(curve, "kind", path), CURVE_KINDS, f"{path}.kind")
    for key in ("x_tick_labels", "y_tick_labels"):
        for i, label in enumerate(_list(curve.get(key, []), f"{path}.{key}")):
            _string(label, f"{path}.{key}[{i}]")
    for i, series in enumerate(_list(_get(curve, "series", path), f"{path}.series")):
        _series(series, f"{path}.series[{i}]")


def _series(series: Any, path: str) -> None:
    series = _object(series, path)
    _string(_get(series, "name", path), f"{path}.name")
    x = _numbers(_get(series, "x", path), f"{path}.x")
    optional = {"y_low": _get(series, "y_low", path), "y_high": _get(series, "y_high", path)}
    optional["counts"] = series.get("counts")
    for key, values in (("y", _get(series, "y", path)), *optional.items()):
        if values is None and key != "y":
            continue
        if key == "counts":
            values = _list(values, f"{path}.counts")
            for i, count in enumerate(values):
                _integer(count, f"{path}.counts[{i}]", nullable=True)
        else:
            values = _numbers(values, f"{path}.{key}")
        if len(values) != len(x):
            raise _ShapeError(
                path, f"has {_count(len(x), 'x value')} and {_count(len(values), f'{key} value')}"
            )


def _input(item: Any, path: str) -> None:
    item = _object(item, path)
    _choice(_get(item, "role", path), INPUT_ROLES, f"{path}.role")
    _string(_get(item, "file_name", path), f"{path}.file_name")
    _integer(_get(item, "rows", path), f"{path}.rows", nullable=True)
    _integer(_get(item, "columns", path), f"{path}.columns", nullable=True)
    _string(_get(item, "sha256", path), f"{path}.sha256", nullable=True)


# --- values ---------------------------------------------------------------------------------


def _at(path: str, key: str) -> str:
    """``checks[0].params`` + ``alpha`` -> ``checks[0].params.alpha`` (or ``["a b"]``)."""
    if _IDENTIFIER.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{_quote(key)}]"


def _quote(text: str, limit: int = 40) -> str:
    """``text`` in quotes for a message, cut so that the message stays one short line."""
    shown = text if len(text) <= limit else text[: limit - 1] + "…"
    return repr(_SURROGATE.sub("\ufffd", shown).replace("\n", " "))


def _get(container: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in container:
        raise _ShapeError(_at(path, key), "is missing", missing=True)
    return container[key]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _expected(value: Any, path: str, what: str) -> _ShapeError:
    return _ShapeError(path, f"must be {what}, not {_kind(value)}")


def _object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _expected(value, path, "an object")
    return value


def _list(value: Any, path: str) -> list | tuple:
    # Tuples too: a result's dict built in Python (not parsed from JSON) may hold them.
    if not isinstance(value, (list, tuple)):
        raise _expected(value, path, "a list")
    return value


def _string(value: Any, path: str, *, nullable: bool = False) -> Any:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise _expected(value, path, "a string or null" if nullable else "a string")
    if _SURROGATE.search(value):
        raise _ShapeError(path, "holds an unpaired surrogate (\\ud800-\\udfff), which is not text")
    return value


def _choice(value: Any, allowed: tuple[str, ...], path: str) -> None:
    if not isinstance(value, str) or value not in allowed:
        shown = _quote(value) if isinstance(value, str) else _kind(value)
        raise _ShapeError(path, f"is {shown}, not one of {', '.join(allowed)}")


def _boolean(value: Any, path: str) -> None:
    if not isinstance(value, bool):
        raise _expected(value, path, "true or false")


def _number(value: Any, path: str, *, nullable: bool) -> None:
    if value is None and nullable:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _expected(value, path, "a number or null" if nullable else "a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise _ShapeError(
            path, f"is {value!r}, not a finite number (write null for a missing value)"
        )


def _numbers(values: Any, path: str) -> list:
    for i, value in enumerate(_list(values, path)):
        _number(value, f"{path}[{i}]", nullable=True)
    return values


def _integer(value: Any, path: str, *, nullable: bool) -> None:
    if value is None and nullable:
        return
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not whole:
        shown = repr(value) if isinstance(value, (int, float)) else _kind(value)
        raise _ShapeError(
            path, f"is {shown}, not a whole number" + (" or null" if nullable else "")
        )
    if value < 0:
        raise _ShapeError(path, f"is {value!r}, not a count (a whole number of at least 0)")


def _scalar(value: Any, path: str) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        _string(value, path)
    elif isinstance(value, (int, float)):
        _number(value, path, nullable=False)
    else:
        raise _expected(value, path, "a string, a number, true, false or null")


def _free(value: Any, path: str) -> None:
    """A free-form JSON value: nested at most MAX_DEPTH levels, numbers finite, text text."""
    stack = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, Mapping):
            children = [(v, _at(where, str(k)), depth + 1) for k, v in item.items()]
        elif isinstance(item, (list, tuple)):
            children = [(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(item)]
        else:
            _scalar(item, where)
            continue
        if depth >= MAX_DEPTH and children:
            raise _ShapeError(path, f"is nested more than {MAX_DEPTH} levels deep")
        stack.extend(reversed(children))
