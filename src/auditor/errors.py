"""Exceptions that the CLI turns into exit codes.

``InputError`` means the user's input cannot be audited (a missing file, an unknown column,
misaligned predictions, an invalid config): exit code 2, one line that says what is wrong
and how to fix it. Problems *in the data* are never exceptions; they are findings.
``RenderError`` means some report formats failed after the others were written: exit 3.
"""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """The input cannot be audited; the message says what is wrong and how to fix it."""


class NotApplicable(Exception):  # noqa: N818 - a control-flow signal, not an error
    """A computation cannot be made on these inputs (no training data, a single group ...).

    Raised by the engine; the runner reports the check that asked as ``skipped`` with the
    message as the reason.
    """


class MissingSystemLibraryError(InputError):
    """A system library an output format needs is absent; the message names the package."""


def preview(names, limit: int = 5) -> str:
    """Quote up to ``limit`` names with repr and say how many more there are."""
    names = list(names)
    shown = ", ".join(repr(str(n)) for n in names[:limit])
    return shown + (f" (+{len(names) - limit} more)" if len(names) > limit else "")


class RenderError(Exception):
    """Some formats failed to render; every other report, audit.json first, was written."""

    def __init__(self, written: list[Path], failures: dict[str, BaseException]) -> None:
        self.written = written
        self.failures = failures
        described = "; ".join(
            f"{fmt}: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
            for fmt, exc in failures.items()
        )
        super().__init__(
            f"rendering failed for {described}. The other reports were written "
            f"({', '.join(p.name for p in written) or 'none'})."
        )
