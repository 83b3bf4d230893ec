"""JUnit XML: one testcase per check, plus one per gate reason, for CI test reporters.

fail -> <failure>, error -> <error>, skipped -> <skipped>, warn -> a passing testcase whose
<system-out> carries the warning. Timestamps come from the result, so the output is
byte-identical for the same result.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from auditor.result import AuditResult, CheckResult

# XML 1.0 forbids most control characters; a crafted column name must not break the file.
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_GATE_CLASS = "auditor.gate"


def _clean(text: str) -> str:
    return _ILLEGAL_XML.sub("\ufffd", text)


def _details(check: CheckResult) -> str:
    lines = [check.summary, *(f"[{f.severity}] {f.message}" for f in check.findings)]
    return _clean("\n".join(lines))


def _testcase(parent: ET.Element, classname: str, name: str, time_s: float) -> ET.Element:
    return ET.SubElement(
        parent, "testcase", {"classname": classname, "name": _clean(name), "time": f"{time_s:.3f}"}
    )


def render_junit(result: AuditResult) -> str:
    """Render ``result`` as a JUnit XML document (Jenkins/GitLab/GitHub reporters)."""
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = sum(c.duration_s for c in result.checks)
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
                {"message": _clean(check.summary), "type": _clean(error.get("type", "Error"))},
            )
            node.text = _clean(f"{check.summary}\n{error.get('where', '')}".strip())
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
        {**attributes, "time": f"{total_time:.3f}", "timestamp": result.created_at.rstrip("Z")}
    )
    suites.attrib.update({**attributes, "time": f"{total_time:.3f}"})
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )
