"""Multiplicity adjustments: Holm (family-wise error) and Benjamini-Hochberg/-Yekutieli
(false discovery rate), shared by the slice search and the comparison of challengers."""

from __future__ import annotations

import numpy as np


def benjamini_hochberg(p_values, method: str = "bh") -> np.ndarray:
    """Return Benjamini-Hochberg (``"bh"``) or Benjamini-Yekutieli (``"by"``) adjusted p-values.

    Equal to ``scipy.stats.false_discovery_control(p_values, method=method)``.
    """
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    scale = m / np.arange(1, m + 1)
    if method == "by":
        scale = scale * np.sum(1.0 / np.arange(1, m + 1))
    elif method != "bh":
        raise ValueError(f"method must be 'bh' or 'by', got {method!r}")
    adjusted = np.minimum.accumulate((p[order] * scale)[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def holm(p_values) -> np.ndarray:
    """Return Holm step-down adjusted p-values (family-wise error control)."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    adjusted = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out
