"""Writing outputs as one transaction: a reader never sees a half-written report or a mixed set.

Files are written to a temporary place beside their destination and renamed into place
(a rename within one folder is atomic). A set of reports is first written whole into a
temporary folder inside the out dir, then each file is renamed into place with SIGINT,
SIGTERM and SIGALRM held back, so an interrupt lands before the swap (nothing changes) or after it.
Permissions follow the umask, as for any file the user creates.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

from auditor.errors import InputError

# Room the reports need at least; a typical set is about 1 MB.
MIN_FREE_BYTES = 50 * 2**20


def check_out_dir(out_dir: str | Path, flag: str = "--out-dir") -> Path:
    """Raise InputError now if reports could not be written to ``out_dir``; create nothing.

    Called before the audit runs, so an unwritable folder costs a second, not the audit.
    """
    try:
        return _checked_out_dir(Path(out_dir), flag)
    except OSError as exc:
        raise InputError(
            f"{flag} {str(out_dir)[:200]!r} cannot be used ({exc.strerror or exc}). "
            "Pass a shorter, existing or creatable folder path."
        ) from None


def _checked_out_dir(out_dir: Path, flag: str) -> Path:
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{flag} {str(out_dir)!r} is a file, not a folder. Pass a folder path.")
    existing = out_dir
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(
            f"{flag} {str(out_dir)!r} is inside {str(existing)!r}, which is a file. Pass a folder path."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(
            f"{flag} {str(out_dir)!r} cannot be written: {str(existing)!r} is not writable by "
            "this user. Pass a folder you can write to."
        )
    free = shutil.disk_usage(existing).free
    if free < MIN_FREE_BYTES:
        raise InputError(
            f"{flag} {str(out_dir)!r} is on a disk with {free / 2**20:.0f} MiB free; the reports "
            f"need at least {MIN_FREE_BYTES // 2**20} MiB. Free some space or pass another folder."
        )
    return out_dir


def write_atomic(path: Path, data: bytes | str) -> Path:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{str(path)!r} is a folder. Pass a file path to write to.")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        _write_fd(fd, tmp, data)
        with _signals_held():
            os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_set_atomic(out_dir: Path, files: Mapping[str, bytes | str]) -> list[Path]:
    """Write every ``name -> data`` into ``out_dir`` as one set; return the paths in order.

    If anything fails before the swap (a full disk, an interrupt), ``out_dir`` keeps its old
    files and no temporary file is left behind.
    """
    out_dir = Path(out_dir)
    staging = None
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=out_dir, prefix=".auditor-writing-"))
        for name, data in files.items():
            fd = os.open(staging / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            _write_fd(fd, staging / name, data)
        with _signals_held():
            for name in files:
                os.replace(staging / name, out_dir / name)
    except OSError as exc:
        raise InputError(
            f"The reports could not be written to {str(out_dir)!r} ({exc.strerror or exc}); "
            "nothing there was changed. Free some space or pass another --out-dir."
        ) from None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return [out_dir / name for name in files]


def _write_fd(fd: int, path: str | Path, data: bytes | str) -> None:
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with os.fdopen(fd, "wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(path, 0o666 & ~_umask())


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and a --timeout's SIGALRM back while files are renamed into place.

    Only the main thread receives signals; elsewhere there is nothing to hold.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM, signal.SIGALRM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
