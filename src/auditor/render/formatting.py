"""How numbers, names and statuses read in every human-facing format (HTML, PDF, Markdown).

Every formatter here accepts any value a result can hold: ``None`` and NaN read "—" (not
measured), infinities "∞" and "-∞", a value that rounds to zero never reads "-0.000", and
text that is not a number is shown as text. Names from the data (columns, slices, groups,
categories) are shortened for display; audit.json keeps them whole.
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

from auditor.stats import pvalues
from auditor.stats.digits import decimals_apart
from auditor.stats.pvalues import p_equals

STATUS_LABELS = {
    "pass": "✓ PASS",
    "warn": "! WARN",
    "fail": "✗ FAIL",
    "error": "⚠ ERROR",
    "skipped": "– SKIPPED",
}
# Words of measurement keys that read as acronyms in labels.
_ACRONYMS = {
    "auc": "AUC",
    "roc": "ROC",
    "cv": "CV",
    "ece": "ECE",
    "f1": "F1",
    "sd": "SD",
    "ci": "CI",
}
MISSING = "—"
INFINITY = "∞"
ELLIPSIS = "…"
# Names (columns, slice conditions, group labels, category values) are shown up to this
# many characters; a longer one is cut with an ellipsis before any layout sees it.
MAX_NAME_CHARS = 80
# Free text (summaries, messages, gate reasons) is shown up to this many characters, and a
# run of characters without a space longer than a name (a long name quoted in a message)
# is cut like a name: an unbreakable 10,000-character word would stall the PDF's layout.
MAX_TEXT_CHARS = 2_000
_LONG_WORD = re.compile(r"[^\s'\"`]{" + str(MAX_NAME_CHARS + 1) + ",}")
# Whole numbers with more digits than this are written in scientific notation.
_MAX_PLAIN_DIGITS = 15
# "p = 0.0064", "q=2.3e-05" inside a sentence written by a check: one p-value format.
_P_IN_TEXT = re.compile(r"(?<![\w.])([pq]) ?= ?(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?!\w|\.\d)")
_NEGATIVE_ZERO = re.compile(r"^-(?=[0.,]*(?:%|e[-+]?\d+)?$)")
# "-0.000" or "+0.000" inside a sentence: a difference that rounds to zero has no sign.
_SIGNED_ZERO_IN_TEXT = re.compile(r"(?<![\w.])[-+](?=0\.0+(?![\d.]))")


def _real(value: Any) -> float | int | None:
    """The value as a Python number, or None when it is not a number (bools are not)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    return float(value)


def _is_finite(real: float | int) -> bool:
    """Finite, for any real (an integer too large for a float is no number one can draw)."""
    try:
        return math.isfinite(real)
    except OverflowError:
        return False


def finite(value: Any) -> float | int | None:
    """The value as a finite Python number, or None (not a number, a bool, NaN or infinite)."""
    real = _real(value)
    return real if real is not None and _is_finite(real) else None


def _unsigned_zero(text: str) -> str:
    """``-0.000`` -> ``0.000``: a value that rounds to zero has no sign."""
    return _NEGATIVE_ZERO.sub("", text)


def _not_finite(value: float) -> str:
    if math.isnan(value):
        return MISSING
    return INFINITY if value > 0 else "-" + INFINITY


def _big_integer(value: int) -> str:
    digits = str(abs(value))
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[0]}.{digits[1:3]}e+{len(digits) - 1}"


def number(value: Any) -> str:
    """Readable numbers: thousands separators, three decimals for values below one."""
    if value is None:
        return MISSING
    real = _real(value)
    if real is None:
        return str(value)
    if isinstance(real, int):
        if len(str(abs(real))) > _MAX_PLAIN_DIGITS:
            return _big_integer(real)
        return f"{real:,}"
    if not math.isfinite(real):
        return _not_finite(real)
    magnitude = abs(real)
    if magnitude >= 10**_MAX_PLAIN_DIGITS:
        return f"{real:.3g}"
    if real.is_integer():
        return _unsigned_zero(f"{real:,.0f}")
    if magnitude < 1:
        return _unsigned_zero(f"{real:.3f}")
    if magnitude < 100:
        return f"{real:.3g}" if magnitude < 10 else f"{real:.1f}"
    return f"{real:,.0f}"


def share(value: Any) -> str:
    """A fraction in [0, 1] as a percentage."""
    real = finite(value)
    if real is None:
        return number(value)
    text = f"{real:.1%}" if 0 < abs(real) < 0.001 or abs(real) >= 0.1 else f"{real:.2%}"
    return _unsigned_zero(text)


def p_value(value: Any) -> str:
    """A p-value in the one format; any other value (text, a huge number) as it is."""
    return pvalues.p_value(value) if finite(value) is not None else number(value)


def signed(value: Any, decimals: int = 4) -> str:
    """A difference with its sign (``+0.0123``); zero, missing and infinite read plainly."""
    real = finite(value)
    if real is None:
        text = number(value)
        return "+" + text if text == INFINITY else text
    text = _unsigned_zero(f"{real:+.{decimals}f}")
    return text.lstrip("+") if float(text) == 0 else text


def interval(low: Any, high: Any, fmt=number) -> str:
    """``[0.712, 0.801]``; empty when either end was not measured. Two different ends that
    the format prints alike get the decimals that tell them apart (``[1.428, 1.436]``)."""
    if _missing(low) or _missing(high):
        return ""
    shown = fmt(low), fmt(high)
    a, b = finite(low), finite(high)
    if shown[0] == shown[1] and a is not None and b is not None and a != b:
        # One decimal more than the format printed, and more until the ends differ.
        printed = shown[0].rstrip("%")
        fewest = 1 + (len(printed.split(".")[1]) if "." in printed else 0)
        if fmt is share:
            decimals = decimals_apart(100 * a, 100 * b, fewest)
            shown = tuple(_unsigned_zero(f"{100 * v:.{decimals}f}%") for v in (a, b))
        elif fmt is number:
            decimals = decimals_apart(a, b, fewest)
            shown = tuple(_unsigned_zero(f"{v:,.{decimals}f}") for v in (a, b))
    return f"[{shown[0]}, {shown[1]}]"


def _missing(value: Any) -> bool:
    if value is None:
        return True
    real = _real(value)
    return real is not None and isinstance(real, float) and math.isnan(real)


def formatter_for(key: Any):
    """The formatter a measurement key or column name calls for, by the naming convention:
    ``*share`` reads as a percentage, ``*p_value``/``*q_value`` and "... p" columns as p-values.
    """
    key = str(key)
    if key.endswith("share"):
        return share
    if key in {"p", "q"} or key.endswith(("p_value", "q_value", " p", " q")):
        return p_value
    return number


def humanize(key: Any) -> str:
    """``max_missing_share`` -> ``Max missing share``; ``n_rows`` -> ``Rows``; ``cv`` -> ``CV``."""
    words = str(key).split("_")
    if words[0] == "n" and len(words) > 1:
        words = words[1:]
    text = " ".join(words).capitalize().split(" ")
    return " ".join(_ACRONYMS.get(w.lower(), w) for w in text)


# --- names and text from the data -----------------------------------------------------------


def shorten(name: Any, limit: int = MAX_NAME_CHARS) -> str:
    """A name from the data cut to ``limit`` characters, the last one an ellipsis."""
    text = "" if name is None else str(name)
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def is_shortened(name: Any, limit: int = MAX_NAME_CHARS) -> bool:
    return name is not None and len(str(name)) > limit


def prose(text: Any, limit: int = MAX_TEXT_CHARS) -> str:
    """Free text for display: long unbroken words (quoted names) cut like names, the whole
    capped at ``limit`` characters, p-values written one way ("p = 0.006", "p < 0.001") and
    zeros without a sign."""
    text = "" if text is None else str(text)
    text = _LONG_WORD.sub(lambda m: shorten(m.group(0)), text)
    text = _P_IN_TEXT.sub(_p_in_text, text)
    text = _SIGNED_ZERO_IN_TEXT.sub("", text)
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def _p_in_text(match: re.Match) -> str:
    try:
        value = float(match.group(2))
    except ValueError:
        return match.group(0)
    # Only probabilities are rewritten: "p = 3" is not a p-value.
    return p_equals(match.group(1), value) if 0 <= value <= 1 else match.group(0)
