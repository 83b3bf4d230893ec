"""File identity: names and content hashes for the audit manifest (never absolute paths)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from auditor.errors import InputError


def sha256_of(path: Path) -> str:
    """Return the hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def existing_file(path: str | Path, source: str) -> Path:
    """Return ``path`` as a Path, or raise a one-line InputError naming where it came from."""
    path = Path(path)
    shown = (
        path.name if path.is_absolute() else str(path)
    )  # results and logs hold no absolute paths
    if not path.exists():
        raise InputError(f"{source} {shown!r} does not exist. Check the path and try again.")
    if not path.is_file():
        raise InputError(f"{source} {shown!r} is not a file. Pass a file, not a directory.")
    return path
