"""Usage errors from the real console entry point: one line, exit 2, like input errors."""

from __future__ import annotations

import subprocess
import sys

import pytest


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "auditor", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["audit", "--seed", "abc"],
            "error: Invalid value for '--seed': Input should be a valid integer, unable to "
            "parse string as an integer. Run 'auditor audit --help' for the options.",
        ),
        (
            ["audit", "--bogus"],
            "error: No such option: --bogus. Run 'auditor audit --help' for the options.",
        ),
        (
            ["render"],
            "error: Missing argument 'audit_json'. Run 'auditor render --help' for the options.",
        ),
    ],
    ids=["bad_int", "unknown_option", "missing_argument"],
)
def test_a_usage_error_is_one_line_and_exit_2(args, expected):
    completed = run(*args)
    assert completed.returncode == 2
    assert completed.stderr.splitlines() == [expected]
    assert completed.stdout == ""


def test_help_and_no_arguments_show_the_commands_and_exit_0():
    for args in (["--help"], []):
        completed = run(*args)
        assert completed.returncode == 0, completed.stderr
        assert "Usage: auditor" in completed.stdout
        assert "audit" in completed.stdout


def test_a_closed_pipe_ends_quietly():
    shell = f"{sys.executable} -m auditor checks | head -n 1"
    completed = subprocess.run(
        ["bash", "-o", "pipefail", "-c", shell], capture_output=True, text=True, timeout=120
    )
    assert (
        completed.stdout
        == "[evaluation] (audit-wide: every check refits and resamples with these)\n"
    )
    assert completed.stderr == ""
    assert completed.returncode == 141
