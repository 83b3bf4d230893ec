"""Renderers cannot be crashed by values: None, NaN, infinities, values that round to zero,
and intervals that do not contain their estimate are drawn and written sensibly.

Each hostile value is paired with a harmless look-alike that must render as it always did.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import logging

import matplotlib
import numpy as np
import pytest
from _hostile_results import check, interval_curve, line_curve, result, slices_check

from auditor.render import narrative
from auditor.render.figures import NOT_MEASURED, curve_figure, curve_png
from auditor.render.formatting import interval, number, p_equals, p_value, prose, share, signed
from auditor.render.html import render_html
from auditor.render.junit import render_junit
from auditor.render.markdown import render_comparison, render_markdown
from auditor.result import CheckResult, Finding, GateVerdict, Measurement, Series, Table

matplotlib.use("Agg", force=True)
from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402

NAN, INF = float("nan"), float("inf")


@pytest.fixture
def drawn():
    """Draw a curve and close its figure after the test."""
    figures = []

    def draw(curve):
        figures.append(curve_figure(curve))
        return figures[-1]

    yield draw
    for fig in figures:
        plt.close(fig)


def png_size(uri: str) -> tuple[int, int]:
    from PIL import Image

    assert uri.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert image.format == "PNG"
    return image.size


def bar_spans(ax) -> list[tuple[float, float, float]]:
    """(x, low, high) of every error bar drawn on ``ax``."""
    bars = [c for c in ax.collections if isinstance(c, LineCollection)]
    return sorted(
        (float(seg[0, 0]), float(seg[:, 1].min()), float(seg[:, 1].max()))
        for c in bars
        for seg in c.get_segments()
    )


def notes(ax) -> list[tuple[float, str]]:
    return sorted((t.get_position()[0], t.get_text()) for t in ax.texts)


# --- figures: intervals ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("point", "low", "high"),
    [
        pytest.param(0.5, 0.4, 0.6, id="contains_its_point"),
        # The Ridge/diabetes dummy: matplotlib's errorbar raised on the negative length.
        pytest.param(-4.1e-7, -0.038, -1.0e-5, id="excludes_its_point"),
        pytest.param(0.7, 0.4, 0.6, id="point_above"),
        pytest.param(0.5, 0.6, 0.4, id="low_above_high"),
    ],
)
def test_an_interval_is_drawn_as_given_whatever_its_point(drawn, point, low, high):
    curve = interval_curve(
        Series("model, 95% interval", (0.0,), (0.8,), (0.75,), (0.85,)),
        Series("baseline, 95% interval", (1.0,), (point,), (low,), (high,)),
        labels=("Model", "Dummy (mean)"),
    )
    ax = drawn(curve).axes[0]
    spans = bar_spans(ax)
    expected = [(0.0, 0.75, 0.85), (1.0, min(low, high), max(low, high))]
    assert np.ravel(spans) == pytest.approx(np.ravel(expected))
    # The estimate is a marker where it is, on or off its bar.
    # Caps are lines of "_" markers; the estimates are the other markers without a line.
    points = [
        line
        for line in ax.get_lines()
        if line.get_linestyle() == "None" and line.get_marker() != "_"
    ]
    drawn_points = sorted(
        (float(x), float(y)) for line in points for x, y in zip(*line.get_data(), strict=True)
    )
    assert np.ravel(drawn_points) == pytest.approx([0.0, 0.8, 1.0, point])
    assert not ax.texts
    assert png_size(curve_png(curve))[0] > 400


def test_missing_and_infinite_estimates_are_marked_not_measured(drawn):
    curve = interval_curve(
        Series(
            "baseline, 95% interval",
            (0.0, 1.0, 2.0, 3.0, 4.0),
            (0.5, None, NAN, INF, 0.3),
            (0.4, 0.2, None, 0.1, None),
            (0.6, 0.4, None, INF, 0.35),
        ),
        labels=("a", "b", "c", "d", "e"),
    )
    ax = drawn(curve).axes[0]
    # Bars only where both ends are finite numbers; an estimate without one is a point alone.
    assert np.ravel(bar_spans(ax)) == pytest.approx([0.0, 0.4, 0.6, 1.0, 0.2, 0.4])
    assert notes(ax) == [(1.0, NOT_MEASURED), (2.0, NOT_MEASURED), (3.0, NOT_MEASURED)]
    png_size(curve_png(curve))


def test_a_complete_interval_series_has_no_not_measured_mark(drawn):
    curve = interval_curve(
        Series("baseline, 95% interval", (0.0, 1.0), (0.5, 0.3), (0.4, 0.2), (0.6, 0.4)),
        labels=("a", "b"),
    )
    ax = drawn(curve).axes[0]
    assert notes(ax) == []
    assert [t.get_text() for t in drawn(curve).legends[0].get_texts()] == ["baseline, 95% interval"]


def test_an_interval_series_without_intervals_draws_its_points(drawn):
    curve = interval_curve(Series("score", (0.0, 1.0), (0.5, 0.3)), labels=("a", "b"))
    ax = drawn(curve).axes[0]
    assert bar_spans(ax) == []
    png_size(curve_png(curve))


# --- figures: lines, scatters, counts -------------------------------------------------------


def test_lines_leave_gaps_at_missing_and_infinite_values(drawn):
    curve = line_curve(
        Series("precision", (0.1, 0.2, 0.3, 0.4, 0.5), (0.5, None, NAN, INF, 0.9)),
        Series("recall", (0.1, 0.2, 0.3), (0.9, 0.8, 0.7), (0.85, None, 0.6), (0.95, 0.9, INF)),
        Series("F1", (0.1, 0.2), (None, NAN)),
    )
    fig = drawn(curve)
    ax = fig.axes[0]
    precision = ax.get_lines()[0].get_ydata()
    assert list(np.isnan(np.asarray(precision, dtype=float))) == [False, True, True, True, False]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    # A series with no value at all says so in the legend; the others keep their names.
    assert legend == ["precision", "recall", f"F1 ({NOT_MEASURED})"]
    assert not ax.texts
    png_size(curve_png(curve))


def test_a_figure_with_no_value_at_all_says_so(drawn):
    curve = line_curve(Series("precision", (0.1, 0.2), (None, None)))
    ax = drawn(curve).axes[0]
    assert [t.get_text() for t in ax.texts] == [
        f"{NOT_MEASURED}: no point of this figure has a value"
    ]
    png_size(curve_png(curve))


def test_scatter_and_counts_with_missing_values_render(drawn):
    scatter = line_curve(Series("test row", (1.0, None, 3.0, INF), (2.0, 1.0, None, 4.0)))
    scatter = dataclasses.replace(scatter, kind="scatter", key="residuals")
    png_size(curve_png(scatter))
    counted = line_curve(
        Series("observed", (0.1, 0.5, 0.9), (0.1, 0.4, 0.8), counts=(10, None, 30)),
        key="reliability",
    )
    fig = drawn(counted)
    count_ax = fig.axes[1]
    heights = sorted(float(seg[:, 1].max()) for seg in count_ax.collections[0].get_segments())
    assert heights == [10.0, 30.0]
    png_size(curve_png(counted))


# --- text: numbers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (NAN, "—"),
        (np.float64("nan"), "—"),
        (INF, "∞"),
        (-INF, "-∞"),
        (-4.1e-7, "0.000"),
        (-1.0e-5, "0.000"),
        (-0.0, "0"),
        (10**400, "1.00e+400"),
        (1e300, "1e+300"),
        (np.int64(1500), "1,500"),
        (np.float32(0.25), "0.250"),
        # harmless look-alikes keep their old reading
        (-0.25, "-0.250"),
        (0.5, "0.500"),
        (1500.0, "1,500"),
        (12.345, "12.3"),
        ("n/a", "n/a"),
        (True, "True"),
    ],
)
def test_numbers_read_sensibly(value, text):
    assert number(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "—"), (NAN, "—"), (INF, "∞"), (-1e-9, "0.0%"), (0.042, "4.20%"), (0.5, "50.0%")],
)
def test_shares_read_sensibly(value, text):
    assert share(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (NAN, "—"),
        (0.0, "< 0.001"),
        (0.00049, "< 0.001"),
        (0.001, "0.001"),
        (0.0123, "0.012"),
        (0.5, "0.500"),
        (np.float64(2.3e-5), "< 0.001"),
    ],
)
def test_p_values_have_one_format(value, text):
    assert p_value(value) == text


def test_p_values_inside_sentences_are_written_the_same_way():
    assert p_equals("q", None) == "q not computed"
    assert prose("one-sided p = 0.0064 for the folds") == "one-sided p = 0.006 for the folds"
    assert prose("(p = 2.3e-05).") == "(p < 0.001)."
    assert prose("at this size (p = 0.94).") == "at this size (p = 0.940)."
    # Look-alikes: not p-values, left alone.
    assert prose("top = 0.5, p = 3 rows, ratio p=1.5") == "top = 0.5, p = 3 rows, ratio p=1.5"


def test_intervals_and_differences_read_sensibly():
    assert interval(None, 0.5) == ""
    assert interval(NAN, 0.5) == ""
    assert interval(0.1, INF) == "[0.100, ∞]"
    assert interval(-0.038, -1.0e-5) == "[-0.038, 0.000]"
    assert interval(0.4, 0.6) == "[0.400, 0.600]"
    assert signed(None) == "—"
    assert signed(-0.00001) == "0.0000"
    assert signed(INF) == "+∞"
    assert signed(0.0123) == "+0.0123"
    assert signed(-0.0123) == "-0.0123"


# --- text: the narrative and whole reports --------------------------------------------------


def _json(res):
    import json

    return json.loads(res.to_json())


@pytest.mark.parametrize(
    ("lift", "elsewhere", "reads"),
    [
        pytest.param(None, 0.0, "(∞x, q < 0.001)", id="infinite_lift_stored_as_null"),
        pytest.param(INF, 0.0, "(∞x, q < 0.001)", id="infinite_lift_in_memory"),
        pytest.param(None, 0.1, "(lift not measured, q < 0.001)", id="lift_not_measured"),
        pytest.param(4.7, 0.1, "(4.70x, q < 0.001)", id="finite_lift"),
    ],
)
def test_the_weakest_slice_reads_whatever_its_lift(lift, elsewhere, reads):
    data = _json(result(slices_check(lift, elsewhere=elsewhere)))
    sentence = narrative.weakest_slice(data)
    assert sentence.startswith("The weakest slice, 'region == 'north'' (523 test rows, 26.0%)")
    assert sentence.endswith(reads + ".")


def hostile_result():
    holdout = check(
        "performance.holdout_metrics",
        title="Holdout metrics",
        summary="ROC AUC not measured; the dummy's p = 0.0064.",
        measurements=(
            Measurement("roc_auc", NAN, None, None, True),
            Measurement("log_loss", INF, 0.1, INF, False),
            Measurement("average_precision", -4.1e-7, -0.038, -1.0e-5, True),
            Measurement("balanced_accuracy", 0.7, 0.6, 0.8, True),
            Measurement("n_test_rows", None),
        ),
        tables=(
            Table(
                "confusion_matrix",
                "Confusion matrix",
                ("true \\ predicted", "0", "1"),
                (("0", 10, None), ("1", NAN, 5)),
            ),
            Table("scores", "Scores", ("metric", "value", "p_value"), (("a", INF, NAN),)),
        ),
        curves=(
            interval_curve(
                Series("baseline", (0.0, 1.0), (None, -4.1e-7), (None, -0.038), (None, -1e-5)),
                labels=("Model", "Dummy"),
            ),
        ),
    )
    finding = Finding("too_predictive", "high", "p = 2e-9", ("x",), {"auc": NAN, "q": INF})
    leak = check("leakage.target", status="fail", title="Target leakage", findings=(finding,))
    policy = {
        "fail_on": ["fail"],
        "use_interval": True,
        "waivers": {},
        "metrics": {"roc_auc": {"min": None, "max": "0.9"}},
        "max_slice_lift": 2.0,
        "min_slice_support": None,
    }
    return result(
        holdout,
        leak,
        slices_check(None),
        gate=GateVerdict(False, ("leakage.target failed: p = 2e-9",)),
        manifest={"positive_class": "1", "spec": {"gate": policy}},
    )


def test_every_format_renders_a_result_full_of_missing_and_infinite_values(caplog):
    res = hostile_result()
    with caplog.at_level(logging.WARNING, logger="auditor"):
        html = render_html(res)
    assert not caplog.records  # every figure was drawn, none replaced by a note
    assert "(∞x, q &lt; 0.001)" in html
    assert "[-0.038, 0.000]" in html
    assert html.count("data:image/png;base64,") == 1
    for wrong in ("-0.000", ">nan<", ">inf<", "None"):
        assert wrong not in html, wrong
    # A confusion matrix with a missing count gives no decision sentence, not a wrong one.
    assert "At its decision threshold" not in html

    text = render_markdown(res)
    assert "| Log loss | ∞ | [0.100, ∞] |" in text
    assert "| Average precision | 0.000 | [-0.038, 0.000] |" in text
    assert "| ROC AUC | — | — |" in text
    assert "p &lt; 0.001" in text  # the gate reason, in the one p-value format
    assert "-0.000" not in text

    junit = render_junit(res)
    assert 'time="0.010"' in junit


def test_a_result_with_ordinary_values_reads_as_before():
    holdout = check(
        "performance.holdout_metrics",
        measurements=(Measurement("roc_auc", 0.8123, 0.7712, 0.8456, True),),
    )
    text = render_markdown(result(holdout))
    assert "| ROC AUC | 0.812 | [0.771, 0.846] |" in text
    html = render_html(result(holdout))
    assert "0.812" in html
    assert "[0.771, 0.846]" in html


def test_a_comparison_with_missing_values_renders():
    table = Table(
        "metric_deltas",
        "Holdout metrics",
        ("metric", "reference", "reference_low", "reference_high", "candidate")
        + ("candidate_low", "candidate_high", "delta", "tolerance"),
        (
            ("ROC AUC", 0.8, None, 0.9, 0.79, 0.7, None, None, 0.01),
            ("Log loss", 0.5, 0.4, 0.6, 0.5, 0.4, 0.6, -0.0, NAN),
            ("R²", 0.4, 0.3, 0.5, 0.38, 0.3, 0.5, -0.02, 0.01),
        ),
    )
    comparison = CheckResult(
        id="regression.compare",
        category="regression",
        title="Candidate compared with the reference audit",
        status="warn",
        summary="1 other change for the worse.",
        tables=(table,),
    )
    text = render_comparison(comparison, result(), result())
    assert "| ROC AUC | 0.800 | 0.790 | — | 0.010 |" in text
    assert "| Log loss | 0.500 [0.400, 0.600] | 0.500 [0.400, 0.600] | 0.0000 | — |" in text
    assert "| R² | 0.400 [0.300, 0.500] | 0.380 [0.300, 0.500] | -0.0200 | 0.010 |" in text


def test_a_figure_that_cannot_be_drawn_becomes_a_note_not_a_lost_report(monkeypatch, caplog):
    import auditor.render.figures as figures

    def broken(curve):
        raise RuntimeError("a value nobody foresaw")

    monkeypatch.setattr(figures, "curve_figure", broken)
    curve = interval_curve(Series("score", (0.0,), (0.5,)), labels=("a",))
    with caplog.at_level(logging.WARNING, logger="auditor"):
        html = render_html(result(check("baseline.comparison", curves=(curve,))))
    # The figure's place holds a picture saying it could not be drawn; the report is whole.
    (uri,) = [m for m in html.split('"') if m.startswith("data:image/png;base64,")]
    assert png_size(uri)[0] > 400
    assert "Model and baselines" in html
    (record,) = caplog.records
    assert "'baseline_comparison' could not be drawn: RuntimeError" in record.getMessage()


def test_integers_too_large_for_a_float_render_in_every_format():
    big = 10**400
    holdout = check(
        "performance.holdout_metrics",
        measurements=(
            Measurement("roc_auc", big, 0, big, True),
            Measurement("max_missing_share", big),
            Measurement("calibration_p_value", big),
        ),
        tables=(
            Table("pair_heatmap", "Lifts", ("feature", "a"), (("a", big),)),
            Table("scores", "Scores", ("n", "share", "p_value"), ((big, big, big),)),
        ),
        curves=(line_curve(Series("s", (0.1, 0.2), (big, 0.5), counts=(big, 3))),),
    )
    holdout = dataclasses.replace(holdout, duration_s=big)
    res = result(holdout, slices_check(big, elsewhere=big))
    html = render_html(res)
    assert "1.00e+400" in html
    assert "rgba(213, 94, 0, 1.00)" in html  # the heat map's lift shades at its maximum
    assert "| ROC AUC | 1.00e+400 | [0, 1.00e+400] |" in render_markdown(res)
    assert 'time="0.000"' in render_junit(res)
