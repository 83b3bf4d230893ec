"""System programs some tests drive (Chromium, poppler): skipped where absent, required in CI.

`make test` passes on a machine with only Python and make; `.ci/run` installs the programs
and sets AUDITOR_REQUIRE_SYSTEM_PACKAGES=1, so there a missing one fails instead of skipping.
"""

from __future__ import annotations

import ctypes.util
import os
import shutil

import pytest


def require_program(program: str, package: str) -> str:
    """The path of ``program``; skip the test without it, or fail when CI requires it."""
    found = shutil.which(program)
    if found is None:
        _missing(program, f"{program} is not on PATH (Debian/Ubuntu: apt-get install {package})")
    return found


def require_library(library: str, package: str) -> None:
    """Skip the test unless the dynamic loader loads ``library`` (fail when CI requires it)."""
    found = ctypes.util.find_library(library)
    try:
        ctypes.CDLL(found or f"lib{library}.so")
    except OSError:
        _missing(
            library, f"lib{library} is not installed (Debian/Ubuntu: apt-get install {package})"
        )


def _missing(program: str, message: str) -> None:
    required = os.environ.get("AUDITOR_REQUIRE_SYSTEM_PACKAGES") == "1" or (
        program == "chromium" and os.environ.get("AUDITOR_REQUIRE_BROWSER") == "1"
    )
    if required:
        pytest.fail(f"CI requires every system package the tests use: {message}")
    pytest.skip(message)
