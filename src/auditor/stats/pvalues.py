"""How a p-value reads, in check messages and reports alike: one format everywhere.

Three decimals; below 0.001 it reads "< 0.001" (never a false "0.000" nor "1e-05" beside
"0.00999"). Checks write their sentences with ``p_equals``; the renderers format table cells
and measurements with ``p_value``.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

NOT_COMPUTED = "—"


def p_value(value: Any) -> str:
    """``0.042``, ``< 0.001``, or ``—`` when the value is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return NOT_COMPUTED if value is None else str(value)
    try:
        real = float(value)
    except OverflowError:  # an integer beyond float range is no probability
        return NOT_COMPUTED
    if not math.isfinite(real):
        return NOT_COMPUTED
    return "< 0.001" if real < 0.001 else f"{real:.3f}"


def p_equals(name: str, value: Any) -> str:
    """``p = 0.190`` or ``p < 0.001``, for a p-value inside a sentence."""
    text = p_value(value)
    if text == NOT_COMPUTED:
        return f"{name} not computed"
    return f"{name} {text}" if text.startswith("<") else f"{name} = {text}"
