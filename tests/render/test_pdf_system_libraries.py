"""The PDF on machines that lack system libraries weasyprint loads with the dynamic loader.

Each test runs the real CLI in a child process where a ``sitecustomize`` makes cffi's
loader refuse the named libraries, as on a machine where the Debian package is absent.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from _system_tools import require_library

pytestmark = pytest.mark.slow

HIDE_LIBRARIES = textwrap.dedent(
    """
    import os

    import cffi

    _hidden = tuple(os.environ["AUDITOR_TEST_HIDE_LIBS"].split(","))
    _real_dlopen = cffi.FFI.dlopen

    def _dlopen(self, name, *args, **kwargs):
        if any(part in str(name) for part in _hidden):
            raise OSError(f"cannot load library {name!r}: {name}: cannot open shared object file")
        return _real_dlopen(self, name, *args, **kwargs)

    cffi.FFI.dlopen = _dlopen
    """
)


def run_cli(args: list[str], hidden: str, tmp_path: Path) -> subprocess.CompletedProcess:
    hook = tmp_path / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(HIDE_LIBRARIES, encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")])),
        "AUDITOR_TEST_HIDE_LIBS": hidden,
    }
    return subprocess.run(
        [sys.executable, "-m", "auditor", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )


@pytest.fixture(scope="module")
def small_audit_json(binary_split, binary_model, tmp_path_factory) -> Path:
    """A short audit (two checks): its PDF has few pages, so each child process is quick."""
    import auditor

    _, test = binary_split
    result = auditor.audit(
        test=test, target="y", model=binary_model, select=["data.missing_values", "performance"]
    )
    path = tmp_path_factory.mktemp("small") / "audit.json"
    path.write_text(result.to_json(), encoding="utf-8")
    return path


def test_without_harfbuzz_subset_the_pdf_is_written_and_said_once(small_audit_json, tmp_path):
    target = tmp_path / "out.pdf"
    completed = run_cli(
        ["render", str(small_audit_json), "--format", "pdf", "-o", str(target)],
        "harfbuzz-subset",
        tmp_path,
    )
    assert completed.returncode == 0, completed.stderr
    assert target.read_bytes().startswith(b"%PDF-")
    notes = [line for line in completed.stderr.splitlines() if "libharfbuzz-subset0" in line]
    assert notes == [
        "note: libharfbuzz-subset0 is not installed, so the PDF embeds whole fonts (larger "
        "files). On Debian/Ubuntu: apt-get install libharfbuzz-subset0."
    ]
    assert "Warning" not in completed.stderr
    assert "Traceback" not in completed.stderr


def test_with_harfbuzz_subset_nothing_is_said(small_audit_json, tmp_path):
    """The look-alike: hiding an unrelated library leaves the PDF path quiet."""
    require_library("harfbuzz-subset", "libharfbuzz-subset0")
    target = tmp_path / "out.pdf"
    completed = run_cli(
        ["render", str(small_audit_json), "--format", "pdf", "-o", str(target)],
        "no-such-library",
        tmp_path,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""


@pytest.mark.parametrize(
    ("hidden", "package"),
    [("pango-1.0", "libpango-1.0-0"), ("gobject", "libglib2.0-0")],
)
def test_without_pango_the_audit_stops_at_once_naming_the_package(loans, tmp_path, hidden, package):
    out_dir = tmp_path / "reports"
    completed = run_cli(
        [
            "audit",
            "--config",
            str(loans["config"]),
            "--out-dir",
            str(out_dir),
            "--format",
            "html,pdf,json",
        ],
        hidden,
        tmp_path,
    )
    assert completed.returncode == 2, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert lines[0].startswith("error: PDF output needs the system library")
    assert f"apt-get install {package};" in lines[0]
    assert "leave pdf out of --format" in lines[0]
    assert completed.stdout == ""
    assert not out_dir.exists()
