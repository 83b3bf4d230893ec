"""How numbers and statuses read in every human-facing format (HTML, PDF, Markdown)."""

from __future__ import annotations

from typing import Any

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


def number(value: Any) -> str:
    """Readable numbers: thousands separators, three decimals for values below one."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if float(value).is_integer():
        return f"{value:,.0f}"
    magnitude = abs(value)
    if magnitude < 1:
        return f"{value:.3f}"
    if magnitude < 100:
        return f"{value:.3g}" if magnitude < 10 else f"{value:.1f}"
    return f"{value:,.0f}"


def share(value: Any) -> str:
    """A fraction in [0, 1] as a percentage."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return number(value)
    return f"{value:.1%}" if 0 < abs(value) < 0.001 or abs(value) >= 0.1 else f"{value:.2%}"


def p_value(value: Any) -> str:
    """A p-value to three decimals; below 0.001 it reads "< 0.001" rather than a false 0.000."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return number(value)
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def p_equals(name: str, value: Any) -> str:
    """``q = 0.190`` or ``q < 0.001``, for p-values inside a sentence."""
    text = p_value(value)
    return f"{name} {text}" if text.startswith("<") else f"{name} = {text}"


def interval(low: Any, high: Any, fmt=number) -> str:
    return "" if low is None or high is None else f"[{fmt(low)}, {fmt(high)}]"


def formatter_for(key: str):
    """The formatter a measurement key or column name calls for, by the naming convention:
    ``*share`` reads as a percentage, ``*p_value``/``*q_value`` and "... p" columns as p-values.
    """
    if key.endswith("share"):
        return share
    if key.endswith(("p_value", "q_value", " p")):
        return p_value
    return number


def humanize(key: str) -> str:
    """``max_missing_share`` -> ``Max missing share``; ``n_rows`` -> ``Rows``; ``cv`` -> ``CV``."""
    words = key.split("_")
    if words[0] == "n" and len(words) > 1:
        words = words[1:]
    text = " ".join(words).capitalize().split(" ")
    return " ".join(_ACRONYMS.get(w.lower(), w) for w in text)
