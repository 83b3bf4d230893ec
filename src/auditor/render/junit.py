"""JUnit XML: one testcase per check, plus one per gate reason, for CI test reporters.

fail -> <failure>, error -> <error>, skipped -> <skipped>, warn -> a passing testcase whose
<system-out> carries the warning. Timestamps come from the result, so the output is
byte-identical for the same result. ElementTree escapes markup; characters XML 1.0 cannot
hold (control characters, unpaired surrogates) are removed from every text taken from the
result, so a crafted column name cannot break the file.
"""

from __future__ import annotations

import math
import re
import sys
import xml.etree.ElementTree as ET
from typing import Any

from auditor.render.formatting import prose
from auditor.result import AuditResult, CheckResult

# XML 1.0 forbids most control characters and unpaired surrogates.
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_GATE_CLASS = "auditor.gate"


def _clean(text: Any) -> str:
    # prose: the same p-values, signless zeros and name lengths as the HTML and Markdown
    # reports; a CI log has no page to overflow, so the text is not capped.
    return _ILLEGAL_XML.sub("", prose(text, limit=sys.maxsize))


def _seconds(value: Any) -> str:
    """A duration as JUnit reporters parse it; 0.000 when it was not recorded."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "0.000"
    try:
        seconds = float(value)
    except OverflowError:
        return "0.000"
    return f"{seconds:.3f}" if math.isfinite(seconds) and seconds >= 0 else "0.000"


def _details(check: CheckResult) -> str:
    lines = [check.summary, *(f"[{f.severity}] {f.message}" for f in check.findings)]
    return _clean("\n".join(lines))


def _testcase(parent: ET.Element, classname: str, name: str, time_s: Any) -> ET.Element:
    return ET.SubElement(
        parent,
        "testcase",
        {"classname": _clean(classname), "name": _clean(name), "time": _seconds(time_s)},
    )


def render_junit(result: AuditResult) -> str:
    """Render ``result`` as a JUnit XML document (Jenkins/GitLab/GitHub reporters)."""
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = sum(float(_seconds(c.duration_s)) for c in result.checks)
    suites = ET.Element("testsuites", {"name": "auditor"})
    suite = ET.SubElement(
        suites, "testsuite", {"name": f"auditor audit of {_clean(result.target)}"}
    )
    for check in result.checks:
        case = _testcase(suite, f"auditor.{check.category}", check.id, check.duration_s)
        counts["tests"] += 1
        if check.status == "fail":
            counts["failures"] += 1
            node = ET.SubElement(
                case, "failure", {"message": _clean(check.summary), "type": "fail"}
            )
            node.text = _details(check)
        elif check.status == "error":
            counts["errors"] += 1
            error = check.error or {}
            node = ET.SubElement(
                case,
                "error",
                {"message": _clean(check.summary), "type": _clean(error.get("type") or "Error")},
            )
            node.text = _clean(f"{check.summary}\n{error.get('where') or ''}".strip())
        elif check.status == "skipped":
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", {"message": _clean(check.skip_reason or check.summary)})
        else:
            ET.SubElement(case, "system-out").text = _details(check)
    if result.gate is not None:
        if result.gate.passed:
            counts["tests"] += 1
            _testcase(suite, _GATE_CLASS, "gate", 0.0)
        for number, reason in enumerate(result.gate.reasons, start=1):
            counts["tests"] += 1
            counts["failures"] += 1
            case = _testcase(suite, _GATE_CLASS, f"gate reason {number}", 0.0)
            ET.SubElement(
                case, "failure", {"message": _clean(reason), "type": "gate"}
            ).text = _clean(reason)
    attributes = {key: str(value) for key, value in counts.items()}
    suite.attrib.update(
        {
            **attributes,
            "time": f"{total_time:.3f}",
            "timestamp": _clean(result.created_at).rstrip("Z"),
        }
    )
    suites.attrib.update({**attributes, "time": f"{total_time:.3f}"})
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )
