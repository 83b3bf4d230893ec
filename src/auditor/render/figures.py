"""Figures drawn from result data (never from the raw data) as inline PNG data URIs.

Readability rules every figure follows:

- Colours are Okabe-Ito (distinguishable with the common colour-vision deficiencies), and
  never the only cue: each series also has its own line style or marker, and a legend
  entry in words.
- Reference lines (the diagonal, zero, chance) are grey, thin and dashed, and named in the
  legend.
- A series with ``counts`` gets a panel of its own under the plot: how many rows stand
  behind each point.
- Layout is constrained: no tick label, axis label or legend is cut off; long axis labels
  wrap; large numbers are written 250k, 1.5M. Names are cut before layout (tick labels to 30
  characters, legend entries to 60: what a 4.6-inch figure holds beside its plot), so a
  10,000-character column name costs nothing; audit.json keeps the whole name.
- Any value may be missing (None, NaN) or infinite: such a point is not drawn, and where an
  estimate was not measured the figure says so ("not measured") instead of failing. An
  interval is drawn as given, even when it does not contain its estimate (a percentile
  bootstrap interval need not).
"""

from __future__ import annotations

import base64
import io
import math
import textwrap

from auditor.render.formatting import MAX_NAME_CHARS, prose, shorten
from auditor.result import Curve, Series

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
# Second cues besides colour, by series position: line styles and markers.
LINESTYLES = ("-", "-.", ":", (0, (8, 2, 1, 2, 1, 2)))
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
REFERENCE_COLOR = "#555555"
REFERENCE_STYLE = (0, (4, 3))

# Reference lines by curve key, with their legend labels.
DIAGONAL_REFERENCE = {
    "roc": "random ranking (AUC 0.5)",
    "reliability": "perfectly calibrated",
    "predicted_vs_actual": "perfect prediction (predicted = actual)",
}
ZERO_Y_REFERENCE = {
    "residuals": "no error (residual 0)",
    "challenger_differences": "no difference (0)",
    "decision_curve": "flag no row (treat none)",
}
ZERO_X_REFERENCE = {"shap_summary": "no effect (SHAP value 0)"}
_UNIT_SQUARE = {"roc", "precision_recall", "reliability", "threshold_metrics"}
# Curves whose y axis stops this share of their highest value below zero: a decision curve's
# treat-all line falls without bound as the threshold rises and would flatten the model's.
_FLOOR_BELOW_ZERO = {"decision_curve": 0.5}
# Legends name up to this many series (a 12-class problem still gets its key); more
# would bury the plot, and the tables beside the figure name every class.
_MAX_LEGEND_SERIES = 12
# Chance levels are named on the plot for a few classes only; the caption lists them all.
_MAX_NAMED_LEVELS = 4
# Series with at most this many points are drawn with visible markers (folds, bins).
_FEW_POINTS = 30
_LABEL_WIDTH = 58
_SIZE = (4.6, 3.5)
_SIZE_WITH_COUNTS = (4.6, 4.3)
_ROW_HEIGHT = 0.27
_LEGEND_ROW_HEIGHT = 0.18
# Width of a legend entry at font size 8, in points: its handle, and each character.
_LEGEND_HANDLE_POINTS = 36
_LEGEND_CHAR_POINTS = 4.5
# Category tick labels are wrapped to this width and kept level when there are few.
_TICK_WIDTH = 13
_LEVEL_TICKS = 4
_DPI = 110
# Axis labels are sentences written by the checks; longer ones are cut before wrapping.
_MAX_AXIS_LABEL_CHARS = 2 * MAX_NAME_CHARS
# Names on the figure: category ticks beside the plot, legend entries under it.
_MAX_TICK_CHARS = 30
_MAX_LEGEND_CHARS = 60
NOT_MEASURED = "not measured"
_NOTE_COLOR = "#555555"


def curve_png(curve: Curve) -> str:
    """Draw ``curve`` and return it as a ``data:image/png;base64,...`` URI."""
    from matplotlib import pyplot as plt

    fig = curve_figure(curve)
    try:
        png = _encode(fig)
    finally:
        plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def placeholder_png(message: str) -> str:
    """A figure-sized PNG that says ``message``: for a figure that could not be drawn."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib import pyplot as plt

    fig = plt.figure(figsize=_SIZE, dpi=_DPI)
    try:
        fig.text(0.5, 0.5, _wrap(prose(message), 48), ha="center", va="center", color=_NOTE_COLOR)
        fig.canvas.draw()
        png = _encode(fig)
    finally:
        plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def curve_figure(curve: Curve):
    """The drawn matplotlib figure of ``curve``; the caller closes it (``plt.close``)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib import pyplot as plt

    counted = [s for s in curve.series if s.counts is not None]
    width, height = _SIZE_WITH_COUNTS if counted else _SIZE
    # A row of categories (features of a beeswarm) needs its own height to stay legible.
    height = max(height, 1.6 + _ROW_HEIGHT * len(curve.y_tick_labels))
    style = {"font.size": 9, "axes.spines.top": False, "axes.spines.right": False}
    with plt.rc_context(style):
        fig = plt.figure(figsize=(width, height), dpi=_DPI, layout="constrained")
        try:
            if counted:
                ax, count_ax = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
            else:
                ax, count_ax = fig.subplots(), None
            entries = _draw(ax, curve)
            if count_ax is not None:
                _draw_counts(count_ax, curve)
            rows_below = _legend(fig, curve, entries)
            fig.set_size_inches(width, height + _LEGEND_ROW_HEIGHT * rows_below)
            _fit_labels(fig)
        except BaseException:
            plt.close(fig)
            raise
    return fig


def _encode(fig) -> bytes:
    """The drawn canvas as a PNG of at most 256 colours: a third of the bytes, same look.

    Figures are flat colours and their anti-aliasing, which an adaptive palette keeps. The
    canvas was drawn by ``_fit_labels``, so nothing is drawn twice.
    """
    import numpy as np
    from PIL import Image

    image = Image.fromarray(np.asarray(fig.canvas.buffer_rgba())).convert("RGB")
    buffer = io.BytesIO()
    image.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
        buffer, format="png", optimize=False
    )
    return buffer.getvalue()


def _float(value) -> float:
    """A drawable coordinate: NaN for anything missing, infinite or not a number."""
    if value is None or isinstance(value, (bool, str)):
        return math.nan
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def _floats(values) -> list[float]:
    return [_float(v) for v in values or ()]


def _finite(value: float) -> bool:
    return not math.isnan(value)


def _wrap(label: str, width: int) -> str:
    return "\n".join(textwrap.wrap(label, max(width, 8), break_on_hyphens=False))


def _axis_label(label) -> str:
    return prose(label, limit=_MAX_AXIS_LABEL_CHARS)


def _drawable(series: Series) -> bool:
    """Whether the series has at least one point with both coordinates measured."""
    return any(
        _finite(x) and _finite(y)
        for x, y in zip(_floats(series.x), _floats(series.y), strict=False)
    )


def _series_label(series: Series) -> str:
    name = shorten(series.name, _MAX_LEGEND_CHARS)
    return name if _drawable(series) else f"{name} ({NOT_MEASURED})"


def _has_interval(series: Series) -> bool:
    return series.y_low is not None and series.y_high is not None


def _draw(ax, curve: Curve) -> list[tuple]:
    """Draw the series and reference lines; return the legend entries (handle, label)."""
    entries = []
    # Over a dense cloud of points a summary's band goes on top, else the points hide it;
    # over a few points it stays behind, so they keep their colour.
    dense = any(len(s.x) > _FEW_POINTS for s in curve.series if not _has_interval(s))
    if curve.kind == "interval":
        entries += _draw_intervals(ax, curve)
    else:
        for i, series in enumerate(curve.series):
            if curve.kind == "scatter" and not _has_interval(series):
                entries.append(_draw_points(ax, series, i))
            else:
                # Lines and steps; in a scatter, a series with an interval is a summary of
                # the points (a mean, binned medians) drawn as a line with its band.
                entries.append(
                    _draw_line(
                        ax,
                        series,
                        i,
                        step=curve.kind == "step",
                        summary=curve.kind == "scatter",
                        marked=len(curve.series) > 1,
                        on_top=dense,
                    )
                )
    if curve.kind != "interval" and not any(_drawable(s) for s in curve.series):
        _note(ax, 0.5, f"{NOT_MEASURED}: no point of this figure has a value")
    if curve.key in _UNIT_SQUARE:
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
    entries += _draw_references(ax, curve)
    if curve.key in _FLOOR_BELOW_ZERO:
        _floor(ax, curve, _FLOOR_BELOW_ZERO[curve.key])
    if curve.x_tick_labels:
        names = [shorten(n, _MAX_TICK_CHARS) for n in curve.x_tick_labels]
        if len(names) <= _LEVEL_TICKS or max(map(len, names)) <= 3:
            ax.set_xticks(
                range(len(names)), ["\n".join(textwrap.wrap(n, _TICK_WIDTH)) for n in names]
            )
        else:
            ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    if curve.y_tick_labels:
        ax.set_yticks(
            range(len(curve.y_tick_labels)),
            [shorten(n, _MAX_TICK_CHARS) for n in curve.y_tick_labels],
        )
    _compact_numbers(ax, curve)
    if not any(s.counts is not None for s in curve.series):
        ax.set_xlabel(_wrap(_axis_label(curve.x_label), _LABEL_WIDTH))
    # About 5.5 points a character: a y label fits in ~80% of the axes' share of the height.
    height = ax.get_position().height * ax.figure.get_size_inches()[1]
    ax.set_ylabel(_wrap(_axis_label(curve.y_label), int(height * 72 * 0.8 / 5.5)))
    ax.grid(alpha=0.25)
    return entries


def _draw_points(ax, series: Series, i: int) -> tuple:
    few = len(series.x) <= _FEW_POINTS
    points = ax.scatter(
        _floats(series.x),
        _floats(series.y),
        s=30 if few else 9,
        alpha=0.9 if few else 0.5,
        color=PALETTE[i % len(PALETTE)],
        marker=MARKERS[i % len(MARKERS)],
        linewidths=0,
        zorder=3,
    )
    return points, _series_label(series)


def _linestyle(i: int) -> str | tuple:
    """Series ``i`` and ``i + len(PALETTE)`` share colour and marker: shift their line style."""
    return LINESTYLES[(i + i // len(PALETTE)) % len(LINESTYLES)]


def _draw_line(
    ax, series: Series, i: int, *, step: bool, summary: bool, marked: bool, on_top: bool
) -> tuple:
    """A line (``summary``: over a scatter's points), with its band when it has one."""
    color = PALETTE[i % len(PALETTE)]
    x, y = _floats(series.x), _floats(series.y)
    few = len(x) <= _FEW_POINTS
    # Markers on the points of short series (bins); a summary's two ends are no points.
    # Long curves carry a marker every so often when there are several series, so each is
    # told apart by its marker as well as by its colour and line style.
    marker = MARKERS[i % len(MARKERS)]
    if few and not (summary and len(x) <= 2):
        markevery = None
    elif not few and marked:
        markevery = (0.04 * (i % 5), 0.2)
    else:
        marker, markevery = None, None
    (line,) = ax.plot(
        x,
        y,
        color=color,
        linewidth=2.0 if summary else 1.6,
        linestyle=_linestyle(i),
        drawstyle="steps-post" if step else "default",
        marker=marker,
        markersize=(7 if len(x) == 1 else 4.5) if few else 4,
        markevery=markevery,
        zorder=5 if summary else 3,
    )
    handle = line
    if _has_interval(series):
        band = ax.fill_between(
            x,
            _floats(series.y_low),
            _floats(series.y_high),
            color=color,
            alpha=0.3 if summary and on_top else 0.2,
            linewidth=0,
            step="post" if step else None,
            zorder=4 if summary and on_top else 1,
        )
        handle = (band, line)
    return handle, _series_label(series)


def _draw_intervals(ax, curve: Curve) -> list[tuple]:
    """Each estimate as a point, its interval as an error bar drawn from ``y_low`` to
    ``y_high`` as given.

    Bars are drawn around the interval's own middle, never as lengths from the estimate: a
    percentile interval need not contain its estimate (a dummy's R² of -4e-7 with the
    interval [-0.038, -0.00001]), and lengths measured from the estimate would then be
    negative. An estimate without an interval is a point alone; a position whose estimate
    was not measured says so.
    """
    count = len(curve.series)
    positions = [{x for x in _floats(s.x) if _finite(x)} for s in curve.series]
    # Series side by side only where they share positions; otherwise each stays centred.
    overlap = count > 1 and any(
        positions[a] & positions[b] for a in range(count) for b in range(a + 1, count)
    )
    entries = []
    for i, series in enumerate(curve.series):
        color = PALETTE[i % len(PALETTE)]
        marker = MARKERS[i % len(MARKERS)]
        offset = (i - (count - 1) / 2) * 0.15 if overlap else 0.0
        x = [v + offset for v in _floats(series.x)]
        y = _floats(series.y)
        n = len(x)
        low = _floats(series.y_low) if series.y_low is not None else [math.nan] * n
        high = _floats(series.y_high) if series.y_high is not None else [math.nan] * n
        bars = [
            (xi, (lo + hi) / 2, abs(hi - lo) / 2)
            for xi, lo, hi in zip(x, low, high, strict=False)
            if _finite(xi) and _finite(lo) and _finite(hi)
        ]
        handles = []
        if bars:
            bar_x, middle, half = zip(*bars, strict=True)
            handles.append(
                ax.errorbar(
                    bar_x,
                    middle,
                    yerr=[half, half],
                    fmt="none",
                    ecolor=color,
                    capsize=4,
                    linewidth=1.4,
                    zorder=3,
                )
            )
        (points,) = ax.plot(
            x,
            y[:n] + [math.nan] * (n - len(y)),
            linestyle="none",
            marker=marker,
            markersize=6,
            color=color,
            zorder=4,
        )
        handles.append(points)
        for xi, yi in zip(x, y, strict=False):
            if _finite(xi) and not _finite(yi):
                _note(ax, xi, NOT_MEASURED, vertical=True)
        handle = handles[0] if len(handles) == 1 else tuple(handles)
        entries.append((handle, _series_label(series)))
    if curve.x_tick_labels:
        ax.set_xlim(-0.6, len(curve.x_tick_labels) - 0.4)
    return entries


def _floor(ax, curve: Curve, share: float) -> None:
    """Stop the y axis ``share`` of the curve's highest value below zero (when it goes lower),
    and scale it to the values left in view rather than to the ones cut off."""
    values = [v for s in curve.series for v in _floats(s.y) + _floats(s.y_high) if _finite(v)]
    top = max(values, default=0.0)
    if top > 0 and ax.get_ylim()[0] < -share * top:
        margin = 0.05 * (1 + share) * top
        ax.set_ylim(-share * top - margin, top + margin)


def _note(ax, x: float, text: str, *, vertical: bool = False) -> None:
    """Grey italic text at data position ``x`` (axes centre for the height): a visible mark
    where a value is missing."""
    from matplotlib.transforms import blended_transform_factory

    transform = (
        ax.transAxes if not vertical else blended_transform_factory(ax.transData, ax.transAxes)
    )
    ax.text(
        x,
        0.5,
        text,
        transform=transform,
        rotation=90 if vertical else 0,
        ha="center",
        va="center",
        fontsize=7,
        fontstyle="italic",
        color=_NOTE_COLOR,
        zorder=5,
        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
    )


def _draw_counts(ax, curve: Curve) -> None:
    """Rows behind each point, as thin bars of equal width (no area suggests more rows)."""
    counted = [(i, s) for i, s in enumerate(curve.series) if s.counts is not None]
    top = 0.0
    for i, series in counted:
        bars = [
            (x, n)
            for x, n in zip(_floats(series.x), _floats(series.counts), strict=False)
            if _finite(x) and _finite(n)
        ]
        if not bars:
            continue
        xs, heights = zip(*bars, strict=True)
        ax.vlines(xs, 0, heights, color=PALETTE[i % len(PALETTE)], linewidth=3, alpha=0.75)
        top = max(top, *heights)
    top = int(top) if float(top).is_integer() else top
    ax.set_ylim(0, max(top, 1) * 1.15)
    ax.set_yticks([0, top] if top else [0])
    ax.set_ylabel("Rows per\npoint" if len(counted) > 1 else "Rows\nin bin")
    ax.set_xlabel(_wrap(_axis_label(curve.x_label), _LABEL_WIDTH))
    ax.grid(alpha=0.25)


def _draw_references(ax, curve: Curve) -> list[tuple]:
    reference = {"color": REFERENCE_COLOR, "linestyle": REFERENCE_STYLE, "linewidth": 1.1}
    handles = []
    if curve.key in DIAGONAL_REFERENCE:
        low = max(ax.get_xlim()[0], ax.get_ylim()[0])
        high = min(ax.get_xlim()[1], ax.get_ylim()[1])
        (line,) = ax.plot([low, high], [low, high], zorder=1, **reference)
        handles.append((line, DIAGONAL_REFERENCE[curve.key]))
    if curve.key in ZERO_Y_REFERENCE:
        line = ax.axhline(0, zorder=1, **reference)
        handles.append((line, ZERO_Y_REFERENCE[curve.key]))
    if curve.key in ZERO_X_REFERENCE:
        line = ax.axvline(0, zorder=1, **reference)
        handles.append((line, ZERO_X_REFERENCE[curve.key]))
    if curve.key == "precision_recall":
        handles.extend(_chance_levels(ax, curve, reference))
    return handles


def _chance_levels(ax, curve: Curve, reference: dict) -> list:
    """A random ranking's precision: the share of positives, the precision at recall 1.

    Every precision-recall curve reaches recall 1 with every row flagged, where precision
    is the share of positive rows; flagging fewer rows at recall 1 only raises it, so the
    level is the lowest precision at the largest recall.
    """
    levels = []
    for series in curve.series:
        points = [
            (x, y)
            for x, y in zip(_floats(series.x), _floats(series.y), strict=False)
            if _finite(x) and _finite(y)
        ]
        if points:
            top = max(x for x, _ in points)
            levels.append(
                (shorten(series.name, _MAX_TICK_CHARS), min(y for x, y in points if x == top))
            )
    if not levels:
        return []
    for _, level in levels:
        line = ax.axhline(level, zorder=1, **reference)
    if len(levels) == 1:
        return [(line, f"random ranking (precision {levels[0][1]:.0%})")]
    if len(levels) > _MAX_NAMED_LEVELS:
        return [(line, "random ranking of each class (its share of rows, in the caption)")]
    # One legend entry for all; each line is named where it starts, labels kept apart.
    placed: list[float] = []
    for name, level in sorted(levels, key=lambda item: item[1]):
        y = level + 0.012
        if placed and y < placed[-1] + 0.065:
            y = placed[-1] + 0.065
        placed.append(y)
        ax.text(
            0.01,
            y,
            f"{name}: {level:.0%}",
            fontsize=6.5,
            color=REFERENCE_COLOR,
            ha="left",
            va="bottom",
            zorder=4,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 0.5},
        )
    return [(line, "random ranking of each class (its share of rows)")]


def _fit_labels(fig) -> None:
    """Draw; re-wrap axis labels still longer than their axis, and draw again if any was.

    Labels are wrapped beforehand to a width that usually fits (``_wrap``), so the second
    drawing is rare: the layout moves axes to make room for text, it does not wrap it.
    """
    fig.canvas.draw()
    for _ in range(2):
        changed = False
        for ax in fig.axes:
            frame = ax.get_window_extent()
            for label, room in ((ax.xaxis.label, frame.width), (ax.yaxis.label, frame.height)):
                text = label.get_text()
                box = label.get_window_extent()
                span = box.width if label is ax.xaxis.label else box.height
                if not text or span <= room * 1.02:
                    continue
                longest = max(len(line) for line in text.splitlines())
                label.set_text(_wrap(text.replace("\n", " "), int(longest * room / span * 0.95)))
                changed = True
        if not changed:
            return
        fig.canvas.draw()


def _compact_numbers(ax, curve: Curve) -> None:
    """Write large tick values as 250k or 1.5M instead of 250000 or an offset like 1e6."""
    from matplotlib.ticker import FuncFormatter

    def compact(value: float, _position=None) -> str:
        size = abs(value)
        if size >= 1e6:
            return f"{value / 1e6:g}M"
        if size >= 1e3:
            return f"{value / 1e3:g}k"
        return f"{value:g}"

    for axis, limits, named in (
        (ax.xaxis, ax.get_xlim(), curve.x_tick_labels),
        (ax.yaxis, ax.get_ylim(), curve.y_tick_labels),
    ):
        if not named and max(abs(limits[0]), abs(limits[1])) >= 1e4:
            axis.set_major_formatter(FuncFormatter(compact))


def _legend(fig, curve: Curve, entries: list[tuple]) -> int:
    """Draw the legend under the plot, where it covers no data; return its rows."""
    from matplotlib.legend_handler import HandlerTuple

    if not entries or len(curve.series) > _MAX_LEGEND_SERIES:
        return 0
    handles, labels = zip(*entries, strict=True)
    # As many columns (at most 3) as the widest entry allows across the figure's width.
    entry = _LEGEND_HANDLE_POINTS + _LEGEND_CHAR_POINTS * max(map(len, labels))
    fit = max(1, min(3, len(entries), int(_SIZE[0] * 72 * 0.95 // entry)))
    rows = -(-len(entries) // fit)
    columns = -(-len(entries) // rows)  # balanced: 2 + 2 rather than 3 + 1
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncols=columns,
        frameon=False,
        fontsize=8,
        handler_map={tuple: HandlerTuple(ndivide=1)},
        markerscale=1.6 if curve.kind == "scatter" else 1.0,
    )
    return rows
