"""Number formats of the reports: an interval's ends never print alike when they differ."""

from __future__ import annotations

import pytest

from auditor.render.formatting import interval, number, share
from auditor.stats.digits import decimals_apart


@pytest.mark.parametrize(
    ("low", "high", "fmt", "expected"),
    [
        (0.712, 0.801, number, "[0.712, 0.801]"),  # the plain format when it tells them apart
        (1.4281, 1.4362, number, "[1.43, 1.44]"),
        (1.4281, 1.4312, number, "[1.428, 1.431]"),  # 3 significant digits would read 1.43
        (0.35201, 0.35249, number, "[0.3520, 0.3525]"),
        (0.6046, 0.6054, number, "[0.6046, 0.6054]"),  # never fewer decimals than the format
        (0.00011, 0.00029, number, "[0.0001, 0.0003]"),
        (0.4971, 0.4974, share, "[49.71%, 49.74%]"),
        (0.5, 0.5, number, "[0.500, 0.500]"),  # equal ends stay equal
        (None, 0.5, number, ""),
    ],
)
def test_interval_ends_that_differ_read_differently(low, high, fmt, expected):
    assert interval(low, high, fmt) == expected


def test_decimals_apart_stops_at_eight():
    assert decimals_apart(1.0, 1.0 + 1e-12, 2) == 8
    assert decimals_apart(1.23, 1.24, 1) == 2
