"""Exceptions that the CLI turns into exit codes.

``InputError`` means the user's input cannot be audited (a missing file, an unknown column,
misaligned predictions, an invalid config): exit code 2, one line that says what is wrong
and how to fix it. Problems *in the data* are never exceptions; they are findings.
"""


class InputError(ValueError):
    """The input cannot be audited; the message says what is wrong and how to fix it."""


class MissingSystemLibraryError(InputError):
    """A system library an output format needs is absent; the message names the package."""


def preview(names, limit: int = 5) -> str:
    """Quote up to ``limit`` names with repr and say how many more there are."""
    names = list(names)
    shown = ", ".join(repr(str(n)) for n in names[:limit])
    return shown + (f" (+{len(names) - limit} more)" if len(names) > limit else "")
