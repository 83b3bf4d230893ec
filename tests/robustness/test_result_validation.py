"""``read_result`` checks audit.json against the result schema before building anything.

Each broken file raises InputError with one line naming the JSON path of the problem and the
fix; each harmless look-alike (today's files, older files without later optional keys, keys
added by newer versions) still loads.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from _hostile_results import check, interval_curve, line_curve, result
from typer.testing import CliRunner

from auditor.errors import InputError
from auditor.result import Finding, GateVerdict, Measurement, Series, Table, read_result
from auditor.result_schema import MAX_BYTES, MAX_DEPTH

FIX = "re-create it with auditor audit."


def valid_data() -> dict:
    """A small result with every part the schema knows: a finding, a measurement, a table,
    curves with intervals and counts, a gate and the inputs."""
    data_check = check(
        findings=(Finding("missing", "medium", "'x' is 40% missing", ("x",), {"share": 0.4}),),
        measurements=(Measurement("max_missing_share", 0.4, None, None, False),),
        tables=(Table("missing_by_column", "Missing", ("column", "share"), (("x", 0.4),)),),
        params={"max_share": 0.05, "nested": {"a": [1, 2, {"b": None}]}},
    )
    curves = (
        line_curve(Series("observed", (0.1, 0.5), (0.2, 0.6), (0.1, 0.5), (0.3, 0.7), (3, 4))),
        interval_curve(Series("baseline", (0.0, 1.0), (0.1, 0.2), (0.0, 0.1), (0.2, 0.3))),
    )
    perf = check("performance.holdout_metrics", title="Holdout", curves=curves)
    res = result(data_check, perf, gate=GateVerdict(False, ("data.missing_values failed",)))
    return json.loads(res.to_json())


def write(tmp_path: Path, data, name: str = "audit.json") -> Path:
    path = tmp_path / name
    text = data if isinstance(data, str) else json.dumps(data)
    path.write_text(text, encoding="utf-8")
    return path


def refused(path: Path) -> str:
    with pytest.raises(InputError) as caught:
        read_result(path)
    message = str(caught.value)
    assert "\n" not in message
    assert len(message) < 300, message
    return message


def edit(path: list, value):
    """An edit that sets ``data[path...] = value`` (or deletes the key for ``...``)."""

    def apply(data: dict) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        if value is ...:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return apply


def nested(depth: int):
    value: object = 1
    for _ in range(depth):
        value = {"deeper": value}
    return value


SERIES = ["checks", 1, "curves", 0, "series", 0]
BROKEN = [
    pytest.param(
        edit([*SERIES, "y"], [0.2]),
        "checks[1].curves[0].series[0] has 2 x values and 1 y value",
        id="curve_lengths",
    ),
    pytest.param(
        edit([*SERIES, "counts"], [3, 4, 5]),
        "checks[1].curves[0].series[0] has 2 x values and 3 counts values",
        id="counts_length",
    ),
    pytest.param(
        edit([*SERIES, "y_high"], [0.3]),
        "checks[1].curves[0].series[0] has 2 x values and 1 y_high value",
        id="interval_length",
    ),
    pytest.param(
        edit([*SERIES, "counts"], [3, -1]),
        "checks[1].curves[0].series[0].counts[1] is -1, not a count",
        id="negative_count",
    ),
    pytest.param(
        edit(["checks", 0, "status"], "passed"),
        "checks[0].status is 'passed', not one of pass, warn, fail, skipped, error",
        id="status",
    ),
    pytest.param(
        edit(["checks", 0, "findings", 0, "severity"], "critical"),
        "checks[0].findings[0].severity is 'critical', not one of low, medium, high",
        id="severity",
    ),
    pytest.param(
        edit(["checks", 1, "curves", 0, "kind"], "pie"),
        "checks[1].curves[0].kind is 'pie', not one of line, step, scatter, interval",
        id="curve_kind",
    ),
    pytest.param(
        edit(["checks"], {"0": {}}), "checks must be a list, not an object", id="checks_object"
    ),
    pytest.param(
        edit(["checks", 0], "data.missing_values"),
        "checks[0] must be an object, not a string",
        id="check_string",
    ),
    pytest.param(
        edit(["manifest"], []), "manifest must be an object, not a list", id="manifest_list"
    ),
    pytest.param(edit(["task"], "ranking"), "task is 'ranking', not one of binary", id="task"),
    pytest.param(
        edit(["checks", 0, "measurements", 0, "value"], "0.4"),
        "checks[0].measurements[0].value must be a number or null, not a string",
        id="measurement_string",
    ),
    pytest.param(
        edit(["checks", 0, "measurements", 0, "greater_is_better"], "yes"),
        "checks[0].measurements[0].greater_is_better must be true or false, not a string",
        id="direction",
    ),
    pytest.param(
        edit(["checks", 0, "tables", 0, "rows", 0], ["x"]),
        "checks[0].tables[0].rows[0] has 1 cell and the table 2 columns",
        id="table_row_length",
    ),
    pytest.param(
        edit(["checks", 0, "tables", 0, "rows", 0, 1], {"share": 0.4}),
        "checks[0].tables[0].rows[0][1] must be a string, a number, true, false or null, "
        "not an object",
        id="table_cell_object",
    ),
    pytest.param(
        edit(["checks", 0, "findings", 0, "columns"], ["x", 3]),
        "checks[0].findings[0].columns[1] must be a string, not a number",
        id="finding_column",
    ),
    pytest.param(
        edit(["checks", 0, "findings", 0, "evidence"], nested(MAX_DEPTH + 1)),
        f"checks[0].findings[0].evidence is nested more than {MAX_DEPTH} levels deep",
        id="evidence_depth",
    ),
    pytest.param(
        edit(["checks", 0, "params"], {"grid": [nested(MAX_DEPTH)]}),
        f"checks[0].params is nested more than {MAX_DEPTH} levels deep",
        id="params_depth",
    ),
    pytest.param(
        edit(["checks", 1, "id"], "data.missing_values"),
        "checks[1].id repeats 'data.missing_values', the id of checks[0]",
        id="duplicate_id",
    ),
    pytest.param(
        edit(["gate", "passed"], "no"), "gate.passed must be true or false", id="gate_passed"
    ),
    pytest.param(
        edit(["inputs", 0, "rows"], 1.5), "inputs[0].rows is 1.5, not a whole number", id="rows"
    ),
    pytest.param(
        edit(["inputs", 0, "role"], "oracle"), "inputs[0].role is 'oracle', not one of", id="role"
    ),
    pytest.param(
        edit(["tool"], "auditor 0.1"), "tool must be an object, not a string", id="tool_string"
    ),
]


@pytest.mark.parametrize(("broken", "expected"), BROKEN)
def test_a_malformed_result_is_refused_naming_its_json_path(tmp_path, broken, expected):
    data = valid_data()
    broken(data)
    message = refused(write(tmp_path, data))
    assert message.startswith("'audit.json' is not a valid auditor result: "), message
    assert expected in message
    assert message.endswith(FIX)


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        (["checks", 0, "summary"], "checks[0].summary"),
        (["checks", 1, "curves", 0, "series", 0, "y_low"], "checks[1].curves[0].series[0].y_low"),
        (["inputs", 1, "sha256"], "inputs[1].sha256"),
        (["tool", "version"], "tool.version"),
        (["gate", "reasons"], "gate.reasons"),
    ],
)
def test_a_missing_key_is_named_by_its_path(tmp_path, path, shown):
    data = valid_data()
    edit(path, ...)(data)
    message = refused(write(tmp_path, data))
    assert message == f"'audit.json' is not a complete auditor result: '{shown}' is missing; {FIX}"


@pytest.mark.parametrize(
    ("token", "where"),
    [
        ("NaN", "checks[0].measurements[0].value is nan"),
        ("Infinity", "checks[0].measurements[0].value is inf"),
        ("-Infinity", "checks[0].measurements[0].value is -inf"),
    ],
)
def test_numbers_must_be_finite_or_null(tmp_path, token, where):
    text = json.dumps(valid_data()).replace('"value": 0.4', f'"value": {token}', 1)
    message = refused(write(tmp_path, text))
    assert where in message
    assert "not a finite number (write null for a missing value)" in message


def test_a_non_finite_number_deep_in_the_manifest_is_found(tmp_path):
    data = valid_data()
    data["manifest"]["spec"] = {"gate": {"metrics": {"roc_auc": {"min": "NAN-HERE"}}}}
    text = json.dumps(data).replace('"NAN-HERE"', "NaN")
    message = refused(write(tmp_path, text))
    assert "manifest.spec.gate.metrics.roc_auc.min is nan" in message


@pytest.mark.parametrize(
    ("version", "shown"), [("1", "'1'"), (2, "2"), (True, "True"), (None, "None")]
)
def test_only_a_schema_version_this_auditor_reads_is_accepted(tmp_path, version, shown):
    data = valid_data()
    data["schema_version"] = version
    message = refused(write(tmp_path, data))
    assert message.startswith(f"'audit.json' has schema_version {shown}; this auditor reads")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("[1, 2]", "it holds a list, not an object", id="a_list"),
        pytest.param("[" * 100_000 + "]" * 100_000, "audit.json", id="nested_100k_deep"),
        pytest.param('{"n": ' + "9" * 5000 + "}", "is not valid JSON", id="5000_digit_int"),
    ],
)
def test_files_that_are_not_results_are_refused_in_one_line(tmp_path, text, expected):
    assert expected in refused(write(tmp_path, text))


def test_a_file_over_the_size_cap_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "audit.json"
    with path.open("wb") as handle:  # sparse: no disk is used, no byte is read
        handle.truncate(MAX_BYTES + 1)
    message = refused(path)
    assert message == (
        "'audit.json' holds 67,108,865 bytes, more than the 64 MB an audit.json may hold. "
        "Pass the audit.json an audit wrote."
    )


def test_a_folder_is_refused_in_one_line(tmp_path):
    folder = tmp_path / "audit.json"
    folder.mkdir()
    assert refused(folder).startswith("'audit.json' cannot be read (")


# --- harmless look-alikes -------------------------------------------------------------------


def test_a_valid_result_round_trips(tmp_path):
    data = valid_data()
    loaded = read_result(write(tmp_path, data))
    assert json.loads(loaded.to_json()) == data


def test_results_written_before_optional_keys_existed_still_load(tmp_path):
    data = valid_data()
    for c in data["checks"]:
        for curve in c["curves"]:
            curve.pop("x_tick_labels")
            curve.pop("y_tick_labels")
            for series in curve["series"]:
                series.pop("counts")
        for m in c["measurements"]:
            m.pop("greater_is_better")
            m.pop("ci_low")
    del data["manifest"]["guidance"]
    del data["gate"]
    loaded = read_result(write(tmp_path, data))
    assert loaded.gate is None
    assert all(s.counts is None for c in loaded.checks for cv in c.curves for s in cv.series)


def test_keys_added_by_a_newer_version_are_ignored(tmp_path):
    data = valid_data()
    data["headline"] = {"metric": "roc_auc"}
    data["checks"][0]["measurements"][0]["unit"] = "share"
    data["inputs"][0]["encoding"] = "utf-8"
    data["checks"][1]["curves"][0]["series"][0]["weights"] = [1, 1]
    loaded = read_result(write(tmp_path, data))
    assert loaded.checks[0].measurements[0].value == 0.4


def test_evidence_and_params_nested_within_the_limit_load(tmp_path):
    data = valid_data()
    data["checks"][0]["findings"][0]["evidence"] = nested(MAX_DEPTH)
    data["checks"][0]["params"] = {"grid": nested(MAX_DEPTH - 1)}
    assert read_result(write(tmp_path, data)).checks[0].findings[0].evidence["deeper"]


def test_null_values_where_numbers_go_load(tmp_path):
    data = valid_data()
    series = data["checks"][1]["curves"][0]["series"][0]
    series["y"][0] = None
    series["counts"][1] = None
    data["checks"][0]["measurements"][0]["value"] = None
    data["checks"][0]["duration_s"] = None
    data["inputs"][0]["rows"] = None
    assert read_result(write(tmp_path, data)).checks[0].measurements[0].value is None


# --- through the CLI ------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["render", "compare"])
def test_the_cli_exits_2_with_the_path_of_the_problem(tmp_path, command):
    from auditor.cli.app import app

    data = valid_data()
    data["checks"][1]["curves"][0]["series"][0]["y"].append(0.9)
    bad = write(tmp_path, data)
    good = write(tmp_path, valid_data(), "good.json")
    args = ["render", str(bad)] if command == "render" else ["compare", str(good), str(bad)]
    outcome = CliRunner().invoke(app, args)
    assert outcome.exit_code == 2, outcome.output
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, outcome.stderr
    assert re.search(
        r"checks\[1\]\.curves\[0\]\.series\[0\] has 2 x values and 3 y values", lines[0]
    )
    assert "Traceback" not in outcome.output
    assert not (tmp_path / "report.html").exists()
