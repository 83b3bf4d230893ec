"""The numbers that code 'unknown': one list for ``data.out_of_range`` and the Dask engine,
which counts their rows on every row group."""

# -1 and repeated nines (±9 .. ±999,999,999), increasing.
PLACEHOLDER_CODES = tuple(sorted((-1, *(s * (10**k - 1) for k in range(1, 10) for s in (1, -1)))))
