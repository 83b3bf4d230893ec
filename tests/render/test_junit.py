"""JUnit XML: one testcase per check (and per gate reason), counts that add up, parseable."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from auditor.render.junit import render_junit
from auditor.result import (
    AuditResult,
    CheckResult,
    Finding,
    GateVerdict,
    InputFile,
    Measurement,
    result_from_dict,
)

CREATED_AT = "2024-05-06T07:08:09Z"


def check(
    check_id: str, status: str, summary: str = "", *, category: str | None = None, **extra
) -> CheckResult:
    return CheckResult(
        id=check_id,
        category=category or check_id.split(".")[0],
        title=f"Title of {check_id}",
        status=status,
        summary=summary or f"{check_id} is {status}.",
        **extra,
    )


def make_result(
    checks: tuple[CheckResult, ...], gate: GateVerdict | None = None, target: str = "y"
) -> AuditResult:
    return AuditResult(
        tool={"name": "auditor", "version": "0.0.0"},
        created_at=CREATED_AT,
        task="binary",
        target=target,
        verdict="fail",
        checks=checks,
        inputs=(InputFile("test", "test.csv", 10, 3, "0" * 64),),
        gate=gate,
        manifest={"seed": 0},
    )


MIXED_CHECKS = (
    check("data.missing_values", "pass", duration_s=0.25),
    check(
        "leakage.target_leakage",
        "fail",
        "Column 'leak' predicts the target.",
        findings=(Finding("leaky", "high", "leak is the target in disguise", ("leak",)),),
        duration_s=1.5,
    ),
    check(
        "performance.holdout_metrics",
        "error",
        "The check crashed: ValueError.",
        error={"type": "ValueError", "where": "metrics.py:12"},
    ),
    check("fairness.group_metrics", "skipped", skip_reason="No sensitive column was given."),
    check(
        "data.duplicates",
        "warn",
        "3 duplicated rows.",
        findings=(Finding("duplicates", "medium", "3 rows appear twice"),),
    ),
)
GATE = GateVerdict(False, ("A check failed: leakage.target_leakage.", "ROC AUC 0.61 < 0.70."))


def parse(result: AuditResult) -> ET.Element:
    return ET.fromstring(render_junit(result).encode("utf-8"))


def cases(root: ET.Element) -> dict[str, ET.Element]:
    return {case.get("name"): case for case in root.iter("testcase")}


@pytest.fixture
def mixed() -> ET.Element:
    return parse(make_result(MIXED_CHECKS, GATE))


def test_one_testcase_per_check_named_by_id_with_category_classname(mixed):
    by_name = cases(mixed)
    for c in MIXED_CHECKS:
        assert by_name[c.id].get("classname") == f"auditor.{c.category}"
    check_cases = [c for c in mixed.iter("testcase") if c.get("classname") != "auditor.gate"]
    assert [c.get("name") for c in check_cases] == [c.id for c in MIXED_CHECKS]


def test_statuses_map_to_junit_children(mixed):
    by_name = cases(mixed)

    def children(name: str) -> list[str]:
        return [child.tag for child in by_name[name]]

    assert children("data.missing_values") == ["system-out"]
    assert children("leakage.target_leakage") == ["failure"]
    failure = by_name["leakage.target_leakage"].find("failure")
    assert failure.get("message") == "Column 'leak' predicts the target."
    assert "leak is the target in disguise" in failure.text

    assert children("performance.holdout_metrics") == ["error"]
    error = by_name["performance.holdout_metrics"].find("error")
    assert error.get("type") == "ValueError"
    assert by_name["performance.holdout_metrics"].find("failure") is None

    assert children("fairness.group_metrics") == ["skipped"]
    skipped = by_name["fairness.group_metrics"].find("skipped")
    assert skipped.get("message") == "No sensitive column was given."


def test_warn_is_a_passing_testcase_with_system_out(mixed):
    case = cases(mixed)["data.duplicates"]
    assert case.find("failure") is None
    assert case.find("error") is None
    assert case.find("skipped") is None
    out = case.find("system-out").text
    assert "3 duplicated rows." in out
    assert "[medium] 3 rows appear twice" in out


def test_gate_reasons_become_failing_testcases(mixed):
    gate_cases = [c for c in mixed.iter("testcase") if c.get("classname") == "auditor.gate"]
    assert len(gate_cases) == len(GATE.reasons)
    messages = [c.find("failure").get("message") for c in gate_cases]
    assert messages == list(GATE.reasons)
    assert len({c.get("name") for c in gate_cases}) == len(gate_cases)


def test_passed_gate_is_one_passing_testcase():
    root = parse(make_result((check("data.missing_values", "pass"),), GateVerdict(True)))
    gate_cases = [c for c in root.iter("testcase") if c.get("classname") == "auditor.gate"]
    assert len(gate_cases) == 1
    assert list(gate_cases[0]) == []
    assert root.find("testsuite").get("failures") == "0"


def counted(element: ET.Element) -> dict[str, str]:
    testcases = list(element.iter("testcase"))
    return {
        "tests": str(len(testcases)),
        "failures": str(sum(c.find("failure") is not None for c in testcases)),
        "errors": str(sum(c.find("error") is not None for c in testcases)),
        "skipped": str(sum(c.find("skipped") is not None for c in testcases)),
    }


@pytest.mark.parametrize(
    "gate", [None, GateVerdict(True), GATE], ids=["no-gate", "gate-passed", "gate-failed"]
)
def test_count_attributes_equal_counted_children(gate):
    root = parse(make_result(MIXED_CHECKS, gate))
    suite = root.find("testsuite")
    for element in (root, suite):
        expected = counted(suite)
        assert {key: element.get(key) for key in expected} == expected
    assert suite.get("tests") == str(
        len(MIXED_CHECKS) + (0 if gate is None else len(gate.reasons) or 1)
    )


def test_control_characters_are_replaced_and_the_document_parses():
    nasty = "bad\x00col\x1b[31mred\x0bvt\x0cff\ufffe"
    result = make_result(
        (
            check(
                "data.missing_values",
                "fail",
                f"Column {nasty} is empty.",
                findings=(Finding("empty", "high", f"{nasty} missing", (nasty,)),),
            ),
            check("data.duplicates", "warn", nasty),
            check("fairness.group_metrics", "skipped", skip_reason=nasty),
            check("performance.holdout_metrics", "error", nasty, error={"type": nasty}),
        ),
        GateVerdict(False, (nasty,)),
        target=nasty,
    )
    text = render_junit(result)
    for char in "\x00\x1b\x0b\x0c\ufffe":
        assert char not in text
    root = ET.fromstring(text.encode("utf-8"))
    failure = cases(root)["data.missing_values"].find("failure")
    assert failure.get("message").startswith("Column bad")
    assert "col" in failure.get("message")
    assert "[31mred" in failure.get("message")


def test_rendering_is_byte_identical():
    result = make_result(MIXED_CHECKS, GATE)
    assert render_junit(result).encode() == render_junit(result).encode()
    roundtrip = result_from_dict(result.to_dict())
    assert render_junit(roundtrip) == render_junit(result)


def test_timestamp_comes_from_created_at_without_timezone(mixed):
    suite = mixed.find("testsuite")
    assert suite.get("timestamp") == "2024-05-06T07:08:09"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", suite.get("timestamp"))


def test_time_attributes_are_decimal_seconds(mixed):
    suite = mixed.find("testsuite")
    assert float(suite.get("time")) == pytest.approx(1.75)
    assert cases(mixed)["leakage.target_leakage"].get("time") == "1.500"


# The essentials of Jenkins' junit-10.xsd (testsuites > testsuite > testcase > children).
JENKINS_XSD = """<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" elementFormDefault="qualified">
  <xs:element name="failure">
    <xs:complexType mixed="true">
      <xs:attribute name="type" type="xs:string"/>
      <xs:attribute name="message" type="xs:string"/>
    </xs:complexType>
  </xs:element>
  <xs:element name="error">
    <xs:complexType mixed="true">
      <xs:attribute name="type" type="xs:string"/>
      <xs:attribute name="message" type="xs:string"/>
    </xs:complexType>
  </xs:element>
  <xs:element name="skipped">
    <xs:complexType mixed="true">
      <xs:attribute name="message" type="xs:string"/>
    </xs:complexType>
  </xs:element>
  <xs:element name="system-out" type="xs:string"/>
  <xs:element name="testcase">
    <xs:complexType>
      <xs:sequence>
        <xs:element ref="skipped" minOccurs="0" maxOccurs="1"/>
        <xs:element ref="error" minOccurs="0" maxOccurs="unbounded"/>
        <xs:element ref="failure" minOccurs="0" maxOccurs="unbounded"/>
        <xs:element ref="system-out" minOccurs="0" maxOccurs="unbounded"/>
      </xs:sequence>
      <xs:attribute name="name" type="xs:string" use="required"/>
      <xs:attribute name="classname" type="xs:string"/>
      <xs:attribute name="time" type="xs:decimal"/>
    </xs:complexType>
  </xs:element>
  <xs:element name="testsuite">
    <xs:complexType>
      <xs:sequence>
        <xs:element ref="testcase" minOccurs="0" maxOccurs="unbounded"/>
      </xs:sequence>
      <xs:attribute name="name" type="xs:string" use="required"/>
      <xs:attribute name="tests" type="xs:nonNegativeInteger" use="required"/>
      <xs:attribute name="failures" type="xs:nonNegativeInteger"/>
      <xs:attribute name="errors" type="xs:nonNegativeInteger"/>
      <xs:attribute name="skipped" type="xs:nonNegativeInteger"/>
      <xs:attribute name="time" type="xs:decimal"/>
      <xs:attribute name="timestamp">
        <xs:simpleType>
          <xs:restriction base="xs:dateTime">
            <xs:pattern value="[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"/>
          </xs:restriction>
        </xs:simpleType>
      </xs:attribute>
    </xs:complexType>
  </xs:element>
  <xs:element name="testsuites">
    <xs:complexType>
      <xs:sequence>
        <xs:element ref="testsuite" minOccurs="0" maxOccurs="unbounded"/>
      </xs:sequence>
      <xs:attribute name="name" type="xs:string"/>
      <xs:attribute name="time" type="xs:decimal"/>
      <xs:attribute name="tests" type="xs:nonNegativeInteger"/>
      <xs:attribute name="failures" type="xs:nonNegativeInteger"/>
      <xs:attribute name="errors" type="xs:nonNegativeInteger"/>
      <xs:attribute name="skipped" type="xs:nonNegativeInteger"/>
    </xs:complexType>
  </xs:element>
</xs:schema>
"""

_CASE_CHILD_ORDER = ("skipped", "error", "failure", "system-out")


def _validate_with_xsd(text: str) -> None:
    import xmlschema

    xmlschema.XMLSchema(JENKINS_XSD).validate(text)


def _validate_structurally(text: str) -> None:
    """The same rules as JENKINS_XSD, asserted with ElementTree."""
    root = ET.fromstring(text.encode("utf-8"))
    nonneg = re.compile(r"\d+")
    decimal = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
    assert root.tag == "testsuites"
    assert set(root.attrib) <= {"name", "time", "tests", "failures", "errors", "skipped"}
    for key in ("tests", "failures", "errors", "skipped"):
        if key in root.attrib:
            assert nonneg.fullmatch(root.get(key))
    suites = list(root)
    assert suites
    assert all(s.tag == "testsuite" for s in suites)
    for suite in suites:
        assert {"name", "tests"} <= set(suite.attrib)
        assert set(suite.attrib) <= {
            "name",
            "tests",
            "failures",
            "errors",
            "skipped",
            "time",
            "timestamp",
        }
        for key in ("tests", "failures", "errors", "skipped"):
            if key in suite.attrib:
                assert nonneg.fullmatch(suite.get(key)), (key, suite.get(key))
        if "time" in suite.attrib:
            assert decimal.fullmatch(suite.get("time"))
        if "timestamp" in suite.attrib:
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", suite.get("timestamp"))
        for case in suite:
            assert case.tag == "testcase"
            assert "name" in case.attrib
            assert set(case.attrib) <= {"name", "classname", "time"}
            if "time" in case.attrib:
                assert decimal.fullmatch(case.get("time"))
            tags = [child.tag for child in case]
            assert all(tag in _CASE_CHILD_ORDER for tag in tags), tags
            assert tags == sorted(tags, key=_CASE_CHILD_ORDER.index), tags
            assert tags.count("skipped") <= 1
            for child in case:
                assert len(child) == 0
                allowed = {"system-out": set(), "skipped": {"message"}}.get(
                    child.tag, {"type", "message"}
                )
                assert set(child.attrib) <= allowed


@pytest.mark.parametrize(
    "gate", [None, GateVerdict(True), GATE], ids=["no-gate", "gate-passed", "gate-failed"]
)
def test_document_satisfies_the_jenkins_junit_schema(gate):
    checks = (
        *MIXED_CHECKS,
        check(
            "performance.calibration",
            "pass",
            "Calibrated.",
            measurements=(Measurement("ece", 0.01),),
        ),
    )
    text = render_junit(make_result(checks, gate))
    _validate_with_xsd(text)
    _validate_structurally(text)


def test_document_from_a_real_audit_satisfies_the_schema(binary_split, binary_model):
    import auditor

    train, test = binary_split
    result = auditor.audit(
        train=train,
        test=test,
        target="y",
        model=binary_model,
        select=["data.missing_values", "performance.holdout_metrics"],
    )
    text = render_junit(result)
    _validate_structurally(text)
    root = ET.fromstring(text.encode("utf-8"))
    assert [c.get("name") for c in root.iter("testcase")][:2] == [
        "data.missing_values",
        "performance.holdout_metrics",
    ]
    assert root.find("testsuite").get("timestamp") == result.created_at.removesuffix("Z")
