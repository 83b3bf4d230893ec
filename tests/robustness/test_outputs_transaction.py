"""Outputs as one transaction: checked before the audit, written whole or not at all.

Every test runs a real audit through the CLI, reduced to one cheap check, and plants the
failure (an unwritable folder, a full disk, a crashing renderer, a signal) where it happens.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditor.cli.app import app

runner = CliRunner()


@pytest.fixture(scope="module")
def small(binary_split, binary_model, tmp_path_factory) -> dict[str, Path]:
    """A 600-row test file and its model on disk: an audit of one check takes a second."""
    import skops.io

    work = tmp_path_factory.mktemp("small")
    binary_split[1].to_csv(work / "test.csv", index=False)
    skops.io.dump(binary_model, work / "model.skops")
    return {"test": work / "test.csv", "model": work / "model.skops"}


def audit(small, out_dir: Path, *extra: str, formats: str = "json,junit,md", env=None):
    args = ["audit", "--test", str(small["test"]), "--target", "y", "--model", str(small["model"])]
    args += ["--out-dir", str(out_dir), "--format", formats, "--select", "data.missing_values"]
    return runner.invoke(app, [*args, *extra], env=env)


def listing(directory: Path) -> dict[str, bytes]:
    return (
        {p.name: p.read_bytes() for p in sorted(directory.iterdir())} if directory.exists() else {}
    )


def one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_an_out_dir_that_is_a_file_is_refused_before_the_audit(small, tmp_path, monkeypatch):
    ran = []
    monkeypatch.setattr("auditor.api.run_audit", lambda *a, **k: ran.append(1))
    target = tmp_path / "reports"
    target.write_text("not a folder")
    result = audit(small, target)
    assert result.exit_code == 2
    assert "is a file, not a folder" in one_error_line(result)
    assert ran == []
    assert target.read_text() == "not a folder"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_an_unwritable_out_dir_is_refused_before_the_audit(small, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        result = audit(small, locked / "reports")
    finally:
        locked.chmod(stat.S_IRWXU)
    assert result.exit_code == 2
    assert "not writable" in one_error_line(result)


def test_the_writability_probe_sees_a_read_only_folder(tmp_path, monkeypatch):
    """Root ignores permissions, so the probe itself is checked with os.access refusing."""
    from auditor.errors import InputError
    from auditor.io.atomic import check_out_dir

    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(InputError, match="is not writable by this user"):
        check_out_dir(tmp_path / "new" / "reports")
    assert not (tmp_path / "new").exists()


def test_a_full_disk_leaves_the_old_reports_and_no_temporary_file(small, tmp_path, monkeypatch):
    out_dir = tmp_path / "reports"
    first = audit(small, out_dir)
    assert first.exit_code == 0, first.output
    before = listing(out_dir)

    import auditor.io.atomic as atomic

    real_write = atomic._write_fd
    calls = []

    def write_then_fill_the_disk(fd, path, data):
        calls.append(path)
        if len(calls) == 2:
            os.close(fd)
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(fd, path, data)

    monkeypatch.setattr(atomic, "_write_fd", write_then_fill_the_disk)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1")  # the new set would differ from the old
    result = audit(small, out_dir)
    assert result.exit_code == 2
    assert "No space left on device" in one_error_line(result)
    assert "nothing there was changed" in result.stderr
    assert listing(out_dir) == before


def test_a_crashing_renderer_keeps_audit_json_and_the_other_reports(small, tmp_path, monkeypatch):
    def crash(result):
        raise ValueError("markdown renderer exploded")

    monkeypatch.setattr("auditor.render.markdown.render_markdown", crash)
    out_dir = tmp_path / "reports"
    result = audit(small, out_dir)
    assert result.exit_code == 3
    line = one_error_line(result)
    assert "md: ValueError: markdown renderer exploded" in line
    assert "audit.json" in line
    assert sorted(listing(out_dir)) == ["audit.json", "junit.xml"]
    assert json.loads((out_dir / "audit.json").read_text())["target"] == "y"
    assert "Verdict: PASS" in result.stdout


def test_a_step_summary_that_cannot_be_written_is_a_note(small, tmp_path):
    out_dir = tmp_path / "reports"
    result = audit(small, out_dir, env={"GITHUB_STEP_SUMMARY": str(tmp_path / "no" / "dir" / "f")})
    assert result.exit_code == 0, result.output
    assert "could not add the summary to GITHUB_STEP_SUMMARY" in result.stderr
    assert sorted(listing(out_dir)) == ["audit.json", "junit.xml", "summary.md"]


def test_a_writable_step_summary_gets_the_summary(small, tmp_path):
    summary = tmp_path / "summary"
    result = audit(small, tmp_path / "reports", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert "data.missing_values" in summary.read_text()


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_reports_follow_the_umask(small, tmp_path, mask):
    previous = os.umask(mask)
    try:
        result = audit(small, tmp_path / "reports")
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.output
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "reports").iterdir()}
    assert set(modes.values()) == {0o666 & ~mask}


def test_sigterm_while_writing_leaves_the_old_set_and_exits_143(small, tmp_path, monkeypatch):
    out_dir = tmp_path / "reports"
    assert audit(small, out_dir).exit_code == 0
    before = listing(out_dir)

    import auditor.io.atomic as atomic

    real_write = atomic._write_fd

    def write_then_get_killed(fd, path, data):
        real_write(fd, path, data)
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(atomic, "_write_fd", write_then_get_killed)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1")
    result = audit(small, out_dir)
    assert result.exit_code == 128 + signal.SIGTERM
    assert "interrupted by SIGTERM" in result.stderr
    assert listing(out_dir) == before
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_render_to_a_folder_is_a_one_line_error(loans_audit, tmp_path):
    result = runner.invoke(
        app,
        ["render", str(loans_audit.out_dir / "audit.json"), "--format", "md", "-o", str(tmp_path)],
    )
    assert result.exit_code == 2
    assert "is a folder" in one_error_line(result)


def test_an_out_dir_name_the_system_cannot_hold_is_a_one_line_error(small, tmp_path):
    result = audit(small, tmp_path / ("x" * 300))
    assert result.exit_code == 2
    assert "File name too long" in one_error_line(result)
