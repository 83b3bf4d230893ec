"""The crash that started issue #12, built for real: a plain Ridge regression on
scikit-learn's diabetes data. The dummy's R² is about -4e-7 and its percentile interval
[-0.038, -0.00001] does not contain it; matplotlib's errorbar raised on the negative error
length and the audit exited 3 with nothing written."""

from __future__ import annotations

import json

import matplotlib
import numpy as np
import pytest

import auditor
from auditor.render.figures import curve_figure
from auditor.render.html import render_html
from auditor.render.junit import render_junit
from auditor.render.markdown import render_markdown
from auditor.result import result_from_dict

matplotlib.use("Agg", force=True)
from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402


@pytest.fixture(scope="module")
def ridge_result():
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import train_test_split

    frame = load_diabetes(as_frame=True).frame
    train, test = train_test_split(frame, test_size=0.3, random_state=0)
    model = Ridge().fit(train.drop(columns="target"), train["target"])
    return auditor.audit(
        train=train, test=test, target="target", model=model, select=["baseline", "performance"]
    )


@pytest.fixture(scope="module")
def comparison(ridge_result):
    check = ridge_result.check("baseline.comparison")
    return next(curve for curve in check.curves if curve.key == "baseline_comparison")


def outside(series) -> list[int]:
    """Positions whose estimate lies outside its own interval."""
    return [
        i
        for i, (y, low, high) in enumerate(zip(series.y, series.y_low, series.y_high, strict=True))
        if not low <= y <= high
    ]


def test_the_dummys_interval_really_excludes_its_estimate(comparison):
    baselines = next(s for s in comparison.series if s.name.startswith("baseline"))
    (i,) = outside(baselines)
    assert baselines.y[i] == pytest.approx(-4.1e-7, abs=1e-7)
    assert baselines.y_high[i] < baselines.y[i]


def test_the_report_renders_with_every_figure(ridge_result):
    html = render_html(ridge_result)
    figures = sum(len(check.curves) for check in ridge_result.checks)
    assert figures >= 4
    assert html.count('src="data:image/png;base64,') == figures
    assert "Dummy (mean)" in html
    render_markdown(ridge_result)
    render_junit(ridge_result)
    # The saved file passes the schema check and re-renders the same report.
    assert render_html(result_from_dict(json.loads(ridge_result.to_json()))) == html


def test_each_interval_is_drawn_as_given_and_each_estimate_where_it_is(comparison):
    fig = curve_figure(comparison)
    try:
        ax = fig.axes[0]
        bars = sorted(
            (float(seg[0, 0]), float(seg[:, 1].min()), float(seg[:, 1].max()))
            for c in ax.collections
            if isinstance(c, LineCollection)
            for seg in c.get_segments()
        )
        marks = sorted(
            (float(x), float(y))
            for line in ax.get_lines()
            if line.get_linestyle() == "None" and line.get_marker() != "_"
            for x, y in zip(*line.get_data(), strict=True)
        )
    finally:
        plt.close(fig)
    expected_bars = sorted(
        (x, low, high)
        for s in comparison.series
        for x, low, high in zip(s.x, s.y_low, s.y_high, strict=True)
    )
    expected_marks = sorted(
        (x, y) for s in comparison.series for x, y in zip(s.x, s.y, strict=True)
    )
    # The model's interval contains its estimate: drawn as before, a bar from low to high
    # through the point. The dummy's does not: its bar is the interval, the point beside it.
    assert np.ravel(bars) == pytest.approx(np.ravel(expected_bars), abs=1e-12)
    assert np.ravel(marks) == pytest.approx(np.ravel(expected_marks), abs=1e-12)
