"""How many decimals tell two numbers apart: the ends of a narrow interval must not print
alike (on millions of rows a lift's interval is [1.428, 1.436], not [1.43, 1.43])."""

from __future__ import annotations

_MOST_DECIMALS = 8


def decimals_apart(low: float, high: float, fewest: int) -> int:
    """The fewest decimals, at least ``fewest`` and at most 8, at which ``low`` and ``high``
    print differently (8 when even those agree)."""
    for decimals in range(fewest, _MOST_DECIMALS):
        if f"{low:.{decimals}f}" != f"{high:.{decimals}f}":
            return decimals
    return _MOST_DECIMALS
