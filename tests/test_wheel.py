"""The built wheel carries the report templates and the sample data, and they work installed.

The editable install reads templates from the source tree, so a packaging mistake (templates
left out of the wheel) would pass every other test. This one builds the wheel, installs it
into a private folder that shadows the editable copy, and renders a report from there.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

import auditor
from auditor.render.html import render_html

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
PACKAGED = (
    "auditor/report_templates/report.html.j2",
    "auditor/report_templates/style.css",
    "auditor/sample_data/audit.toml",
    "auditor/sample_data/loans_test.csv",
    "auditor/sample_data/loan_model.skops",
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist)]
    if importlib.util.find_spec("hatchling") is not None:
        command.append("--no-build-isolation")
    # Without hatchling in the venv, pip's isolated build downloads it from PyPI.
    completed = subprocess.run(
        [*command, str(REPO)], capture_output=True, text=True, timeout=600, cwd=dist
    )
    if (
        completed.returncode != 0
        and "hatchling" in completed.stderr
        and (
            "No matching distribution" in completed.stderr
            or "connection" in completed.stderr.lower()
        )
    ):
        pytest.skip(f"cannot fetch the build backend: {completed.stderr.strip()[-300:]}")
    assert completed.returncode == 0, completed.stderr
    (built,) = dist.glob("auditor-*.whl")
    return built


@pytest.fixture(scope="module")
def site(wheel, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--quiet",
            "--target",
            str(target),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return target


@pytest.fixture(scope="module")
def audit_json(binary_split, binary_model, tmp_path_factory) -> Path:
    train, test = binary_split
    result = auditor.audit(train=train, test=test, target="y", model=binary_model)
    (path,) = auditor.write_reports(result, tmp_path_factory.mktemp("audit"), ["json"])
    return path


def test_wheel_contains_templates_and_sample_data(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        scripts = archive.read(entry_points).decode("utf-8")
    for member in PACKAGED:
        assert member in names
    assert "auditor = auditor.cli.app:main" in scripts
    assert not [n for n in names if n.startswith(("tests/", "src/"))]


def run_installed(site: Path, code: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(site)}
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=site,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


RENDER = """
    import json, sys
    import auditor
    import auditor.render.html
    from auditor.cli.app import app, sample_data_dir
    try:
        app(["render", {audit_json!r}, "--format", "html", "-o", {out!r}])
    except SystemExit as exc:
        code = exc.code
    print(json.dumps({{
        "auditor": auditor.__file__,
        "html_module": auditor.render.html.__file__,
        "sample_data": str(sample_data_dir()),
        "exit": code,
    }}))
"""


def test_installed_copy_renders_html_with_its_own_templates(site, audit_json, tmp_path):
    out = tmp_path / "installed.html"
    seen = run_installed(site, RENDER.format(audit_json=str(audit_json), out=str(out)))
    assert seen["exit"] == 0
    assert Path(seen["auditor"]).is_relative_to(site)
    assert Path(seen["html_module"]).is_relative_to(site)
    assert Path(seen["sample_data"]) == site / "auditor" / "sample_data"
    html = out.read_text(encoding="utf-8")
    assert html == render_html(auditor.read_result(audit_json))


def test_installed_templates_are_the_ones_read(site, audit_json, tmp_path):
    """A marker added to the installed stylesheet shows up: the wheel's files are in use."""
    site = Path(shutil.copytree(site, tmp_path / "site"))  # leave the shared install intact
    style = site / "auditor" / "report_templates" / "style.css"
    style.write_text(
        style.read_text(encoding="utf-8") + "\n/* installed-copy-marker */\n", encoding="utf-8"
    )
    out = tmp_path / "marked.html"
    seen = run_installed(site, RENDER.format(audit_json=str(audit_json), out=str(out)))
    assert seen["exit"] == 0
    assert "installed-copy-marker" in out.read_text(encoding="utf-8")
