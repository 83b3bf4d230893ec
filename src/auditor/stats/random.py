"""One seed drives every random choice; each check derives its own independent stream."""

from __future__ import annotations

import zlib

import numpy as np


def rng_for(seed: int, name: str) -> np.random.Generator:
    """A generator for ``name`` (a check id) that depends only on (seed, name).

    Checks get independent, reproducible streams regardless of which other checks run or
    in which order.
    """
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])
