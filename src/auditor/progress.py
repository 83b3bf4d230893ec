"""Progress of the long steps (reading, predicting, refits, checks), for a person watching.

Steps are INFO records of the ``auditor.progress`` logger: silent unless someone listens.
The CLI shows them on stderr when stderr is a terminal outside CI, or with ``--progress``;
``--quiet`` hides them. The Python API leaves logging to the caller.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("auditor.progress")
_current = ["starting"]


def step(message: str) -> None:
    """Say that a long step starts, e.g. ``step("reading train.csv (210 MB)")``."""
    _current[0] = message
    logger.info(message)


def current_step() -> str:
    """The step under way, for messages such as a timeout's."""
    return _current[0]


def size_text(n_bytes: int) -> str:
    """A file size in the unit a person reads: 950 KB, 12.3 MB, 1.2 GB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.1f} {unit}"
    return f"{max(1, round(n_bytes / 1e3))} KB"
