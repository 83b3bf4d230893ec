"""Figures drawn from result data (never from the raw data) as inline PNG data URIs."""

from __future__ import annotations

import base64
import io

from auditor.result import Curve

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
_DIAGONAL_REFERENCE = {"roc", "predicted_vs_actual", "reliability"}
_ZERO_REFERENCE = {"residuals"}
_UNIT_SQUARE = {"roc", "precision_recall", "reliability", "threshold_metrics"}
_MAX_LEGEND_SERIES = 8
# Series with at most this many points are drawn with visible markers (folds, bins).
_FEW_POINTS = 30


def curve_png(curve: Curve) -> str:
    """Draw ``curve`` and return it as a ``data:image/png;base64,...`` URI."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib import pyplot as plt

    with plt.rc_context({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False}):
        fig, ax = plt.subplots(figsize=(4.6, 3.4), dpi=110)
        try:
            _draw(ax, curve)
            fig.tight_layout()
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", metadata={"Software": None})
        finally:
            plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _floats(values) -> list[float]:
    return [float("nan") if v is None else float(v) for v in values]


def _draw_intervals(ax, curve: Curve) -> None:
    """Each estimate as a point with its interval as an error bar; series side by side."""
    count = len(curve.series)
    for i, series in enumerate(curve.series):
        color = PALETTE[i % len(PALETTE)]
        offset = (i - (count - 1) / 2) * 0.15 if count > 1 else 0.0
        x = [v + offset for v in _floats(series.x)]
        y = _floats(series.y)
        low = _floats(series.y_low) if series.y_low is not None else y
        high = _floats(series.y_high) if series.y_high is not None else y
        # An estimate without an interval gets a bar of length zero (nan would hide the point).
        below = [0.0 if lo != lo else v - lo for v, lo in zip(y, low, strict=True)]
        above = [0.0 if hi != hi else hi - v for v, hi in zip(y, high, strict=True)]
        ax.errorbar(
            x,
            y,
            yerr=[below, above],
            fmt="o",
            color=color,
            capsize=4,
            markersize=5,
            linewidth=1.4,
            label=series.name,
        )
    if curve.x_tick_labels:
        ax.set_xlim(-0.6, len(curve.x_tick_labels) - 0.4)


def _draw(ax, curve: Curve) -> None:
    if curve.kind == "interval":
        _draw_intervals(ax, curve)
    for i, series in enumerate(curve.series if curve.kind != "interval" else ()):
        color = PALETTE[i % len(PALETTE)]
        x = _floats(series.x)
        y = _floats(series.y)
        few = len(x) <= _FEW_POINTS
        if curve.kind == "scatter":
            ax.scatter(
                x,
                y,
                s=28 if few else 6,
                alpha=0.85 if few else 0.45,
                color=color,
                linewidths=0,
                label=series.name,
            )
        elif curve.kind == "step":
            ax.step(x, y, where="post", color=color, linewidth=1.6, label=series.name)
        else:
            ax.plot(
                x,
                y,
                color=color,
                linewidth=1.6,
                label=series.name,
                marker="o" if few else None,
                markersize=3.5,
            )
        if series.y_low is not None and series.y_high is not None:
            ax.fill_between(
                x,
                _floats(series.y_low),
                _floats(series.y_high),
                color=color,
                alpha=0.18,
                linewidth=0,
            )
    if curve.key in _UNIT_SQUARE:
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
    if curve.key in _DIAGONAL_REFERENCE:
        low = max(ax.get_xlim()[0], ax.get_ylim()[0])
        high = min(ax.get_xlim()[1], ax.get_ylim()[1])
        ax.plot([low, high], [low, high], linestyle="--", color="#777777", linewidth=1, zorder=0)
    if curve.key in _ZERO_REFERENCE:
        ax.axhline(0, linestyle="--", color="#777777", linewidth=1)
    if curve.x_tick_labels:
        ax.set_xticks(range(len(curve.x_tick_labels)), curve.x_tick_labels, rotation=30, ha="right")
    if curve.y_tick_labels:
        ax.set_yticks(range(len(curve.y_tick_labels)), curve.y_tick_labels)
    ax.set_xlabel(curve.x_label)
    ax.set_ylabel(curve.y_label)
    ax.grid(alpha=0.25)
    if 1 < len(curve.series) <= _MAX_LEGEND_SERIES or (
        curve.kind not in ("scatter", "interval") and len(curve.series) == 1
    ):
        ax.legend(frameon=False, fontsize=8, title=None)
