"""Figures: every curve a report can show is labelled, explained and drawn readably.

The curves come from audits of the three bundled samples (binary, regression, multiclass),
cut to a few hundred rows to stay fast; the drawing rules are also pinned on small
hand-made curves.
"""

from __future__ import annotations

import base64
import io

import matplotlib
import numpy as np
import pandas as pd
import pytest

import auditor
from auditor.render.figures import (
    DIAGONAL_REFERENCE,
    ZERO_X_REFERENCE,
    ZERO_Y_REFERENCE,
    curve_figure,
    curve_png,
)
from auditor.result import Curve, Series

matplotlib.use("Agg", force=True)
from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.collections import LineCollection, PolyCollection  # noqa: E402

# task: (sample file prefix, target, model file, train rows, test rows)
SAMPLES = {
    "binary": ("loans", "default", "loan_model", 1000, 400),
    "regression": ("housing", "price", "housing_model", 600, 300),
    "multiclass": ("tickets", "priority", "tickets_model", 600, 300),
}
EXPECTED_FIGURES = {
    "binary": {
        "reliability",
        "threshold_metrics",
        "cv_folds",
        "roc",
        "precision_recall",
        "overfit",
        "baseline_comparison",
        "shap_summary",
        "decision_curve",
    },
    "regression": {
        "cv_folds",
        "predicted_vs_actual",
        "residuals",
        "overfit",
        "baseline_comparison",
        "shap_summary",
    },
    "multiclass": {
        "reliability",
        "cv_folds",
        "roc",
        "precision_recall",
        "overfit",
        "baseline_comparison",
        "shap_summary",
    },
}
# A sample's figures must stay small: the whole HTML report has to stay well under 1 MB.
MAX_PNG_BYTES = 40_000


@pytest.fixture(scope="module", params=sorted(SAMPLES))
def sample(request, sample_dir):
    """(task, result, test rows) of a bundled sample, audited for its figures only."""
    prefix, target, model, n_train, n_test = SAMPLES[request.param]
    result = auditor.audit(
        train=pd.read_csv(sample_dir / f"{prefix}_train.csv").head(n_train),
        test=pd.read_csv(sample_dir / f"{prefix}_test.csv").head(n_test),
        target=target,
        model=sample_dir / f"{model}.skops",
        select=["performance", "baseline", "explain"],
        seed=0,
    )
    assert result.task == request.param
    return request.param, result, n_test


def curves(result) -> dict[str, Curve]:
    return {curve.key: curve for check in result.checks for curve in check.curves}


@pytest.fixture
def drawn():
    """Draw a curve and close its figure after the test."""
    figures = []

    def draw(curve: Curve):
        figures.append(curve_figure(curve))
        return figures[-1]

    yield draw
    for fig in figures:
        plt.close(fig)


def legend_texts(fig) -> list[str]:
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def visible_texts(fig) -> list:
    """Every piece of text the figure shows: labels, ticks in view, legends, notes."""
    texts = [*fig.texts]
    for legend in fig.legends:
        texts += legend.get_texts()
    for ax in fig.axes:
        texts += [ax.xaxis.label, ax.yaxis.label, ax.title, *ax.texts]
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            ticks = axis.get_major_ticks()
            texts += [t.label1 for t in ticks if low - 1e-9 <= t.get_loc() <= high + 1e-9]
    return [t for t in texts if t.get_visible() and t.get_text().strip()]


def assert_no_text_is_cut(fig) -> None:
    width, height = fig.bbox.width, fig.bbox.height
    for text in visible_texts(fig):
        box = text.get_window_extent()
        inside = box.x0 >= -1 and box.y0 >= -1 and box.x1 <= width + 1 and box.y1 <= height + 1
        assert inside, f"{text.get_text()!r} runs off the figure ({box} in {width}x{height})"


# --- The curves the checks build -----------------------------------------------------------


def test_each_sample_shows_the_figures_of_its_task(sample):
    task, result, _ = sample
    assert set(curves(result)) == EXPECTED_FIGURES[task]


def test_every_curve_is_labelled_and_explained(sample):
    _, result, _ = sample
    classes = {str(c) for c in result.manifest.get("classes") or ()}
    for key, curve in curves(result).items():
        assert curve.x_label.strip(), key
        assert curve.y_label.strip(), key
        assert curve.title.strip(), key
        # A caption tells a reader what to look for, not just what the plot is.
        assert len(curve.caption) > 150, (key, curve.caption)
        for series in curve.series:
            # Legends read as words ("default = 1", "validation fold"), never a bare label.
            assert series.name not in classes, (key, series.name)
            assert any(c.isalpha() for c in series.name), (key, series.name)


def test_reliability_bins_carry_their_rows_and_intervals(sample):
    task, result, n_test = sample
    if task == "regression":
        assert "reliability" not in curves(result)
        return
    curve = curves(result)["reliability"]
    (bins,) = curve.series
    assert sum(bins.counts) == n_test
    assert len(bins.counts) == len(bins.x) == len(bins.y_low) == len(bins.y_high)
    assert all(lo <= y <= hi for lo, y, hi in zip(bins.y_low, bins.y, bins.y_high, strict=True))
    assert "below the dashed diagonal" in curve.caption


def test_cv_folds_show_the_fold_scores_and_their_mean_with_an_interval(sample):
    _, result, _ = sample
    check = result.check("performance.cross_validation")
    curve = curves(result)["cv_folds"]
    folds, mean = curve.series
    assert len(folds.y) == check.measurement("n_folds").value
    assert folds.y_low is None
    primary = next(m for m in check.measurements if m.ci_low is not None)
    assert mean.y == pytest.approx((primary.value,) * 2)
    assert mean.y_low == pytest.approx((primary.ci_low,) * 2)
    assert mean.y_high == pytest.approx((primary.ci_high,) * 2)


def test_comparisons_show_an_interval_for_each_estimate(sample):
    _, result, _ = sample
    for key in ("overfit", "baseline_comparison"):
        curve = curves(result)[key]
        assert curve.kind == "interval"
        shown = sum(len(s.x) for s in curve.series)
        assert shown == len(curve.x_tick_labels)
        for series in curve.series:
            assert series.y_low is not None, key
            assert series.y_high is not None, key
        model = curve.series[0]
        assert model.y_low[0] < model.y[0] < model.y_high[0], key


def test_every_figure_is_small_keeps_its_text_and_names_its_references(sample, drawn):
    _, result, _ = sample
    for key, curve in curves(result).items():
        fig = drawn(curve)
        assert_no_text_is_cut(fig)
        names = legend_texts(fig)
        assert {s.name for s in curve.series} <= set(names), key
        for references in (DIAGONAL_REFERENCE, ZERO_Y_REFERENCE, ZERO_X_REFERENCE):
            if key in references:
                assert references[key] in names, key
        if key == "precision_recall":
            assert any(name.startswith("random ranking") for name in names)
        png = base64.b64decode(curve_png(curve).split(",", 1)[1])
        assert png.startswith(b"\x89PNG"), key
        assert len(png) < MAX_PNG_BYTES, (key, len(png))


# --- Drawing rules on hand-made curves -----------------------------------------------------


def test_a_band_is_drawn_for_a_line_with_an_interval(drawn):
    curve = Curve(
        "some_line",
        "t",
        "line",
        "x",
        "y",
        (
            Series(
                "estimate, 95% interval",
                (0.0, 1.0, 2.0),
                (1.0, 2.0, 3.0),
                (0.5, 1.5, 2.0),
                (1.5, 2.5, 4.0),
            ),
        ),
        "c",
    )
    ax = drawn(curve).axes[0]
    (band,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    ys = band.get_paths()[0].vertices[:, 1]
    assert (ys.min(), ys.max()) == pytest.approx((0.5, 4.0))


def test_interval_estimates_get_error_bars(drawn):
    curve = Curve(
        "some_comparison",
        "t",
        "interval",
        "",
        "score",
        (
            Series("model, 95% interval", (0.0,), (0.8,), (0.75,), (0.85,)),
            Series("baseline, 95% interval", (1.0, 2.0), (0.5, 0.6), (0.45, 0.5), (0.55, 0.7)),
        ),
        "c",
        x_tick_labels=("Model", "Dummy", "Linear"),
    )
    ax = drawn(curve).axes[0]
    bars = [c for c in ax.collections if isinstance(c, LineCollection)]
    spans = sorted((seg[:, 1].min(), seg[:, 1].max()) for c in bars for seg in c.get_segments())
    assert np.ravel(spans) == pytest.approx([0.45, 0.55, 0.5, 0.7, 0.75, 0.85])
    # Different positions: no series is shifted off its tick.
    xs = sorted(seg[0, 0] for c in bars for seg in c.get_segments())
    assert xs == pytest.approx([0.0, 1.0, 2.0])


def test_counts_get_a_panel_of_bars_of_their_own(drawn):
    counts = (120, 80, 40)
    curve = Curve(
        "reliability",
        "t",
        "line",
        "Predicted probability",
        "Observed share",
        (Series("observed", (0.1, 0.5, 0.9), (0.12, 0.45, 0.93), None, None, counts),),
        "c",
    )
    fig = drawn(curve)
    _, panel = fig.axes
    (bars,) = [c for c in panel.collections if isinstance(c, LineCollection)]
    heights = [seg[:, 1].max() for seg in bars.get_segments()]
    assert heights == list(counts)
    assert panel.get_xlabel() == "Predicted probability"


def test_series_differ_by_more_than_their_colour(drawn):
    x = tuple(np.linspace(0, 1, 50))
    lines = Curve(
        "roc",
        "t",
        "line",
        "x",
        "y",
        tuple(
            Series(f"class {c} vs rest", x, tuple(np.power(x, k))) for k, c in enumerate("abc", 1)
        ),
        "c",
    )
    drawn_lines = drawn(lines).axes[0].get_lines()[:3]
    assert len({str(line.get_linestyle()) for line in drawn_lines}) == 3
    assert len({line.get_marker() for line in drawn_lines}) == 3

    points = Curve(
        "some_points",
        "t",
        "scatter",
        "x",
        "y",
        tuple(Series(f"group {g}", (1.0, 2.0), (float(i), float(i))) for i, g in enumerate("abc")),
        "c",
    )
    markers = {
        tuple(map(tuple, c.get_paths()[0].vertices.round(3)))
        for c in drawn(points).axes[0].collections
    }
    assert len(markers) == 3


def test_long_labels_wrap_instead_of_running_off_the_figure(drawn):
    long = "A very long axis label that says what the axis means and in which unit it is " * 2
    curve = Curve(
        "some_line",
        "t",
        "line",
        long,
        long,
        (Series("estimate", (0.0, 1.0), (0.0, 1.0)),),
        "c",
        x_tick_labels=("first category", "second category with a long name"),
    )
    fig = drawn(curve)
    assert_no_text_is_cut(fig)
    ax = fig.axes[0]
    assert "\n" in ax.get_xlabel()
    assert "\n" in ax.get_ylabel()


def test_large_values_are_written_compactly(drawn):
    values = (50_000.0, 250_000.0, 600_000.0)
    curve = Curve(
        "predicted_vs_actual",
        "t",
        "scatter",
        "Actual price",
        "Predicted price",
        (Series("test row", values, values),),
        "c",
    )
    ax = drawn(curve).axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels()]
    assert any(label.endswith("k") for label in labels)
    assert not any("e+" in label or len(label) > 5 for label in labels)


def test_precision_recall_chance_is_the_precision_with_every_row_flagged(drawn):
    # Recall 1 is reached at 0.25 precision first; flagging every row gives 0.2.
    curve = Curve(
        "precision_recall",
        "t",
        "step",
        "Recall",
        "Precision",
        (Series("default = 1", (0.0, 0.5, 1.0, 1.0), (1.0, 0.6, 0.25, 0.2)),),
        "c",
    )
    fig = drawn(curve)
    assert "random ranking (precision 20%)" in legend_texts(fig)
    levels = [line.get_ydata()[0] for line in fig.axes[0].get_lines()[1:]]
    assert levels == [pytest.approx(0.2)]


def test_ten_classes_keep_their_key_and_every_curve_its_own_look(drawn):
    """Ten one-vs-rest curves: each named in the legend, no two drawn alike, and their
    chance levels left to the caption instead of ten labels stacked on the plot."""
    x = (0.0, 0.5, 1.0)
    curve = Curve(
        "precision_recall",
        "t",
        "step",
        "Recall",
        "Precision",
        tuple(Series(f"class_{k} vs rest", x, (1.0, 0.5, 0.05 + k / 100)) for k in range(10)),
        "c",
    )
    fig = drawn(curve)
    names = legend_texts(fig)
    assert [f"class_{k} vs rest" for k in range(10)] == names[:10]
    lines = fig.axes[0].get_lines()[:10]
    looks = {(line.get_color(), line.get_marker(), str(line.get_linestyle())) for line in lines}
    assert len(looks) == 10
    assert len(fig.axes[0].texts) == 0


def test_a_figure_renders_as_a_small_png():
    from PIL import Image

    curve = Curve(
        "roc",
        "ROC curve",
        "line",
        "False positive rate",
        "True positive rate",
        (
            Series(
                "default = 1", tuple(np.linspace(0, 1, 200)), tuple(np.linspace(0, 1, 200) ** 0.3)
            ),
        ),
        "c",
    )
    png = base64.b64decode(curve_png(curve).split(",", 1)[1])
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert 400 <= image.width <= 600
    assert 300 <= image.height <= 600
    assert len(png) < 25_000
