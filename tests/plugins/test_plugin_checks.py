"""Third-party checks: the example plug-in's entry point, and plug-ins that are broken.

The example plug-in (tests/plugins/auditor_example_plugin) is installed by `make install-dev`;
these tests fail, rather than skip, when it is missing.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import textwrap
from importlib import metadata

import pytest
from typer.testing import CliRunner

import auditor
from auditor import registry
from auditor.cli.app import app
from auditor.errors import InputError
from auditor.render.html import render_html
from auditor.render.junit import render_junit
from auditor.render.markdown import render_markdown
from auditor.result import result_from_dict

CHECK_ID = "data.column_name_spaces"
PLUGIN_MODULE = "auditor_example_plugin.checks"
INSTALL_HINT = "the example plug-in is not installed: run `make install-dev`"
runner = CliRunner()


def _example_entry_point() -> metadata.EntryPoint:
    found = metadata.entry_points(group=registry.PLUGIN_GROUP, name="example")
    assert found, INSTALL_HINT
    (entry_point,) = found
    return entry_point


@pytest.fixture(scope="module")
def spaced_split(binary_split):
    """The clean binary split with its column x0 named ' income '."""
    train, test = binary_split
    return train.rename(columns={"x0": " income "}), test.rename(columns={"x0": " income "})


@pytest.fixture(scope="module")
def spaced_model(spaced_split):
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    train, _ = spaced_split
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["colour"]), remainder="passthrough"
    )
    return make_pipeline(encode, LogisticRegression()).fit(train.drop(columns="y"), train["y"])


@pytest.fixture(scope="module")
def spaced_result(spaced_split, spaced_model):
    train, test = spaced_split
    return auditor.audit(train=train, test=test, target="y", model=spaced_model, select=[CHECK_ID])


def _check(result, check_id=CHECK_ID):
    (check,) = [c for c in result.checks if c.id == check_id]
    return check


# --- the installed example plug-in -----------------------------------------------------------


def test_the_example_plugin_is_installed_and_registered():
    assert _example_entry_point().value == PLUGIN_MODULE
    spec = registry.load_registry()[CHECK_ID]
    assert spec.func.__module__ == PLUGIN_MODULE
    assert spec.plugin.startswith(f"example = {PLUGIN_MODULE} (auditor-example-plugin ")
    assert spec.category == "data"


def test_auditor_checks_lists_the_plugin_check():
    result = runner.invoke(app, ["checks"])
    assert result.exit_code == 0, result.output
    assert f"{CHECK_ID}\n    Column names with leading or trailing spaces (needs: test)" in (
        result.stdout
    )
    assert f"    plug-in: example = {PLUGIN_MODULE}" in result.stdout
    assert "    max_columns = 0: " in result.stdout
    assert "data.constant_columns" in result.stdout  # the built-ins are still there


def test_the_plugin_check_runs_in_an_audit(spaced_result):
    check = _check(spaced_result)
    assert check.status == "warn", check.summary
    assert check.category == "data"
    assert check.title == "Column names with leading or trailing spaces"
    assert check.params == {"max_columns": 0}
    (finding,) = check.findings
    assert (finding.code, finding.severity, finding.columns) == (
        "name_has_spaces",
        "medium",
        (" income ",),
    )
    assert finding.evidence["splits"] == ["train", "test"]
    assert spaced_result.verdict == "warn"
    guidance = spaced_result.manifest["guidance"][CHECK_ID]
    assert "' income ' is not the column 'income'" in guidance["rationale"]


def test_names_without_outer_spaces_pass(binary_split):
    """Look-alikes: an inner space and a name that merely contains 'income' are fine."""
    _, test = binary_split
    test = test.rename(columns={"x0": "income", "x1": "monthly income"})
    result = auditor.audit(test=test, target="y", select=[CHECK_ID])
    check = _check(result)
    assert (check.status, check.findings) == ("pass", ())
    assert check.summary.startswith("No column name has leading or trailing spaces")


def test_the_plugin_check_renders_in_every_format(spaced_result):
    data = json.loads(spaced_result.to_json())
    (check,) = [c for c in data["checks"] if c["id"] == CHECK_ID]
    assert check["findings"][0]["columns"] == [" income "]
    assert result_from_dict(data).to_json() == spaced_result.to_json()

    html = render_html(spaced_result)
    assert f'<span class="cid mono">{CHECK_ID}</span>' in html
    assert "<code> income </code>" in html
    assert "<strong>What to do:</strong> Strip the spaces" in html
    junit = render_junit(spaced_result)
    assert f'<testcase classname="auditor.data" name="{CHECK_ID}"' in junit
    assert "The column &apos; income &apos;" in junit or "The column ' income '" in junit
    markdown = render_markdown(spaced_result)
    assert f"| ! WARN | `{CHECK_ID}` | 1 column name(s) with leading or trailing spaces" in markdown


def test_config_parameters_reach_the_plugin_check(spaced_split, tmp_path):
    train, test = spaced_split
    result = auditor.audit(
        train=train, test=test, target="y", select=[CHECK_ID], checks={CHECK_ID: {"max_columns": 1}}
    )
    check = _check(result)
    assert check.params == {"max_columns": 1}
    assert check.status == "pass"
    assert check.findings[0].severity == "low"

    config = tmp_path / "audit.toml"
    config.write_text(f'[checks."{CHECK_ID}"]\nmax_columns = 1\n', encoding="utf-8")
    from_file = auditor.audit(train=train, test=test, target="y", select=[CHECK_ID], config=config)
    assert _check(from_file).params == {"max_columns": 1}

    with pytest.raises(InputError, match=rf'\[checks."{CHECK_ID}"\].*max_column\b'):
        auditor.audit(
            test=test, target="y", select=[CHECK_ID], checks={CHECK_ID: {"max_column": 1}}
        )
    with pytest.raises(InputError, match=r"max_columns.*at least 0"):
        auditor.audit(
            test=test, target="y", select=[CHECK_ID], checks={CHECK_ID: {"max_columns": -1}}
        )


def test_a_crashing_plugin_check_is_an_error_and_the_audit_goes_on(spaced_split, monkeypatch):
    def boom(ctx, params):
        raise RuntimeError("the plug-in broke")

    spec = registry.load_registry()[CHECK_ID]
    monkeypatch.setitem(registry.REGISTRY, CHECK_ID, dataclasses.replace(spec, func=boom))
    train, test = spaced_split
    result = auditor.audit(
        train=train, test=test, target="y", select=[CHECK_ID, "data.constant_columns"]
    )
    check = _check(result)
    assert check.status == "error"
    assert check.summary == "The check crashed: RuntimeError: the plug-in broke"
    assert _check(result, "data.constant_columns").status == "pass"
    assert result.verdict == "fail"
    assert f'name="{CHECK_ID}"' in render_junit(result)
    assert "<error " in render_junit(result)


def test_cli_audit_writes_the_plugin_check_in_every_format(spaced_split, tmp_path):
    train, test = spaced_split
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    config = tmp_path / "audit.toml"
    config.write_text(
        f'train = "train.csv"\ntest = "test.csv"\ntarget = "y"\n[checks."{CHECK_ID}"]\n'
        "max_columns = 2\n",
        encoding="utf-8",
    )
    out = tmp_path / "reports"
    result = runner.invoke(
        app,
        ["audit", "--config", str(config), "--out-dir", str(out), "--format", "html,json,junit,md"],
    )
    assert result.exit_code == 0, result.output
    (check,) = [
        c for c in json.loads((out / "audit.json").read_text())["checks"] if c["id"] == CHECK_ID
    ]
    assert check["params"] == {"max_columns": 2}
    assert check["findings"][0]["columns"] == [" income "]
    for name in ("report.html", "junit.xml", "summary.md"):
        assert CHECK_ID in (out / name).read_text(encoding="utf-8"), name


# --- broken plug-ins -------------------------------------------------------------------------


@pytest.fixture
def notes():
    """The messages logged on the ``auditor`` logger (the CLI prints them as ``note: ...``)."""
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    log = logging.getLogger("auditor")
    handler, level = Collect(logging.WARNING), log.level
    log.addHandler(handler)
    log.setLevel(logging.WARNING)  # a --quiet CLI test may have raised it
    yield messages
    log.removeHandler(handler)
    log.setLevel(level)


@pytest.fixture
def installed(monkeypatch, tmp_path):
    """Pretend these entry points are installed: the registry starts again from the built-ins.

    Returns ``install(*entry_points)``; ``write(name, code)`` adds a module to import. The
    registry, the loaded flag and the imported modules are restored after the test.
    """
    builtins = {
        check_id: spec
        for check_id, spec in registry.load_registry().items()
        if spec.func.__module__ in registry.CHECK_MODULES
    }
    monkeypatch.setattr(registry, "REGISTRY", builtins)
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    # Imported again, so that its decorators register into the fresh registry.
    monkeypatch.delitem(sys.modules, PLUGIN_MODULE, raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    written: list[str] = []
    calls: list[str] = []

    def install(*entry_points: metadata.EntryPoint) -> list[str]:
        def fake_entry_points(**selection):
            calls.append(selection["group"])
            return [ep for ep in entry_points if ep.group == selection["group"]]

        monkeypatch.setattr(metadata, "entry_points", fake_entry_points)
        return calls

    def write(name: str, code: str) -> metadata.EntryPoint:
        (tmp_path / f"{name}.py").write_text(code, encoding="utf-8")
        written.append(name)
        return metadata.EntryPoint(name=name, value=name, group=registry.PLUGIN_GROUP)

    install.write = write
    yield install
    for name in written:
        sys.modules.pop(name, None)


def _entry_point(name: str, value: str) -> metadata.EntryPoint:
    return metadata.EntryPoint(name=name, value=value, group=registry.PLUGIN_GROUP)


CHECK_CODE = textwrap.dedent(
    """
    from auditor.registry import CheckOutcome, register_check

    @register_check(
        {check_id!r}, title="t", needs=("test",), rationale="r", remedy="r"
    )
    def {func}(ctx, params):
        '''A check.'''
        return CheckOutcome("pass", "ok")
    """
)


def test_a_plugin_that_fails_to_import_is_a_note(installed, notes):
    installed(_entry_point("broken", "auditor_no_such_plugin.checks"), _example_entry_point())
    loaded = registry.load_registry()
    assert "data.constant_columns" in loaded
    assert CHECK_ID in loaded  # the other plug-in still loads
    (note,) = notes
    assert "'broken'" in note
    assert "auditor_no_such_plugin.checks" in note
    assert "ModuleNotFoundError: No module named 'auditor_no_such_plugin'" in note
    assert "left out" in note


def test_a_plugin_raising_on_import_keeps_none_of_its_checks(installed, notes):
    ep = installed.write(
        "auditor_test_plugin_half",
        CHECK_CODE.format(check_id="data.half_registered", func="half_registered")
        + "\nraise RuntimeError('no licence key')\n",
    )
    installed(ep)
    loaded = registry.load_registry()
    assert "data.half_registered" not in loaded
    (note,) = notes
    assert "RuntimeError: no licence key" in note


def test_a_plugin_check_with_an_invalid_id_refuses_the_plugin(installed, notes):
    ep = installed.write(
        "auditor_test_plugin_bad_id",
        CHECK_CODE.format(check_id="data.fine_one", func="fine_one")
        + CHECK_CODE.format(check_id="quality.thing", func="thing"),
    )
    installed(ep)
    loaded = registry.load_registry()
    assert "data.fine_one" not in loaded
    assert "quality.thing" not in loaded
    (note,) = notes
    assert "ValueError: check id 'quality.thing' must be '<category>.<name>'" in note


def test_a_plugin_check_taking_a_builtin_id_is_refused(installed, notes):
    builtin = registry.REGISTRY["data.constant_columns"]
    ep = installed.write(
        "auditor_test_plugin_collides",
        CHECK_CODE.format(check_id="data.constant_columns", func="constant_columns")
        + CHECK_CODE.format(check_id="data.own_check", func="own_check"),
    )
    installed(ep)
    loaded = registry.load_registry()
    assert loaded["data.constant_columns"] is builtin
    assert (
        loaded["data.own_check"].plugin
        == "auditor_test_plugin_collides = auditor_test_plugin_collides"
    )
    (note,) = notes
    assert "'data.constant_columns'" in note
    assert "auditor_test_plugin_collides" in note
    assert "taken by a built-in check" in note


def test_of_two_plugins_with_one_id_the_first_by_name_wins(installed, notes):
    first = installed.write(
        "auditor_test_plugin_a", CHECK_CODE.format(check_id="data.twin", func="twin")
    )
    second = installed.write(
        "auditor_test_plugin_b", CHECK_CODE.format(check_id="data.twin", func="twin")
    )
    installed(second, first)
    assert registry.load_registry()["data.twin"].func.__module__ == "auditor_test_plugin_a"
    (note,) = notes
    assert "'data.twin' of auditor_test_plugin_b is left out" in note
    assert "registers no check" not in note


def test_a_plugin_registering_nothing_is_a_note(installed, notes):
    installed(installed.write("auditor_test_plugin_empty", "VALUE = 1\n"))
    registry.load_registry()
    assert notes == [
        "the check plug-in 'auditor_test_plugin_empty' (entry point auditor_test_plugin_empty "
        "= auditor_test_plugin_empty) registers no check."
    ]


def test_entry_points_load_once_per_process(installed, notes):
    calls = installed(_example_entry_point())
    registry.load_registry()
    registry.load_registry()
    assert calls == [registry.PLUGIN_GROUP]
    assert notes == []


def test_auditor_checks_survives_a_broken_plugin(installed, notes):
    installed(_entry_point("broken", "auditor_no_such_plugin"))
    result = runner.invoke(app, ["checks"])
    assert result.exit_code == 0, result.output
    assert "data.constant_columns" in result.stdout
    assert "note: the check plug-in 'broken'" in result.stderr
    assert "ModuleNotFoundError" in result.stderr


def test_help_loads_no_entry_point(monkeypatch):
    def refuse(**selection):
        raise AssertionError("entry points loaded for --help")

    monkeypatch.setattr(metadata, "entry_points", refuse)
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
