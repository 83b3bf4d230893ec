"""Row hashes: the seeded sample, the Poisson bootstrap and the halves, whatever the partitions.

Every random choice of the partitioned engine is a function of a row's content and the
seed, never of where the row sits: the same rows split into other files or row groups give
the same sample, the same bootstrap replicates and therefore the same audit.json.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)

# Poisson(1) draws from 16-bit uniforms: k is the number of thresholds the uniform reaches,
# threshold j = 65536 * P(K < j). Values of 7 and more (probability 8e-5) count as 7.
_POISSON_THRESHOLDS = tuple(
    np.uint16(
        round(65536 * float(np.exp(-1.0) * sum(1 / np.prod(range(1, i + 1)) for i in range(j))))
    )
    for j in range(1, 8)
)
REPLICATES_PER_HASH = 4  # one 64-bit hash gives four 16-bit uniforms


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: a fast, well-mixed bijection of uint64 values."""
    z = np.asarray(x, dtype=np.uint64) + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def raw_row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """One uint64 per row from its values alone (all columns, in name order)."""
    ordered = frame[sorted(frame.columns, key=str)]
    return pd.util.hash_pandas_object(ordered, index=False).to_numpy(dtype=np.uint64)


def seeded(raw: np.ndarray, seed: int) -> np.ndarray:
    """Row hashes mixed with the seed: every random choice of the engine starts here."""
    return splitmix64(raw ^ splitmix64(np.uint64(seed) + np.zeros(1, dtype=np.uint64))[0])


def row_hashes(frame: pd.DataFrame, seed: int) -> np.ndarray:
    """One uint64 per row from its values (all columns, in name order) and the seed."""
    return seeded(raw_row_hashes(frame), seed)


def uniform(hashes: np.ndarray, stream: int) -> np.ndarray:
    """A uniform in [0, 1) per row for ``stream`` (sample, halves ...): 53 bits of a hash."""
    key = np.uint64(stream * int(_M2) % 2**64)  # in Python ints: numpy warns on overflow
    mixed = splitmix64(hashes ^ key)
    return (mixed >> np.uint64(11)).astype(np.float64) * 2.0**-53


def poisson_weights(hashes: np.ndarray, n_replicates: int) -> np.ndarray:
    """(rows, n_replicates) Poisson(1) bootstrap weights as uint8, from the rows' hashes.

    Replicate b of a row depends only on (row hash, b): the Poisson bootstrap of the whole
    dataset is the sum of those of its partitions, however it is split.
    """
    n_hashes = -(-n_replicates // REPLICATES_PER_HASH)
    keys = hashes[:, None] ^ (np.arange(1, n_hashes + 1, dtype=np.uint64)[None, :] * _GOLDEN)
    # Each 64-bit hash holds four 16-bit uniforms: (rows, n_hashes) -> (rows, 4 * n_hashes)
    u16 = splitmix64(keys).view(np.uint16)[:, :n_replicates]
    counts = np.zeros(u16.shape, dtype=np.uint8)
    for threshold in _POISSON_THRESHOLDS:
        counts += u16 >= threshold
    return counts
