"""``auditor --help`` stays instant: the CLI module loads no data, model or report library.

Ruff's TID253 bans module-level imports of some heavy libraries in src; this test also sees
what the lint rule cannot (a heavy import reached through another auditor module).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import auditor

HEAVY = (
    "shap",
    "matplotlib",
    "weasyprint",
    "pandera",
    "sklearn",
    "skops",
    "scipy",
    # cli/app.py: "data, model and report libraries load inside the commands".
    "pandas",
    "numpy",
    "jinja2",
)
CONSOLE_SCRIPT = Path(sys.executable).with_name("auditor")


def heavy_modules_after(argv: list[str]) -> dict:
    """Import the CLI, run it with ``argv`` in a fresh interpreter; report what got loaded."""
    code = textwrap.dedent(
        f"""
        import json, sys
        from auditor.cli.app import app
        try:
            app({argv!r}, standalone_mode=False)
        except SystemExit:
            pass
        heavy = {HEAVY!r}
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in heavy)
        print(json.dumps(loaded))
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["audit", "--help"], ["render", "--help"], ["--version"]],
    ids=["help", "audit-help", "render-help", "version"],
)
def test_cli_help_loads_no_heavy_library(argv):
    assert heavy_modules_after(argv) == []


def test_heavy_module_probe_can_see_an_import():
    """The probe above is not blind: a command that audits does load the heavy libraries."""
    loaded = heavy_modules_after(["checks"])
    assert any(m.split(".")[0] in {"pandas", "numpy", "scipy", "sklearn"} for m in loaded)


def test_console_script_version_prints_package_version():
    completed = subprocess.run(
        [str(CONSOLE_SCRIPT), "--version"], capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == f"auditor {auditor.__version__}"
    assert completed.stderr == ""


def test_console_script_help_exits_0_and_lists_commands():
    completed = subprocess.run(
        [str(CONSOLE_SCRIPT), "--help"], capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    for command in ("audit", "render", "checks", "demo"):
        assert command in completed.stdout
    assert completed.stderr == ""
