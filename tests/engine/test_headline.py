"""The headline block: the primary metric decided once and read by every consumer."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import auditor
from auditor.render.html import render_html
from auditor.render.markdown import render_markdown
from auditor.result import read_result


@pytest.fixture(scope="module")
def label_only(binary_split, binary_model):
    """An audit of predictions that hold labels only (no proba_ column)."""
    _, test = binary_split
    predictions = pd.DataFrame({"prediction": binary_model.predict(test.drop(columns="y"))})
    return auditor.audit(
        test=test,
        target="y",
        predictions=predictions,
        select=["performance.holdout_metrics", "data.missing_values"],
    )


@pytest.fixture(scope="module")
def with_proba(binary_split, binary_model):
    train, test = binary_split
    return auditor.audit(
        train=train,
        test=test,
        target="y",
        model=binary_model,
        select=["performance.holdout_metrics", "baseline.comparison"],
    )


def holdout_value(result, key):
    return result.check("performance.holdout_metrics").measurement(key)


def test_label_only_predictions_lead_with_balanced_accuracy(label_only):
    headline = label_only.headline
    assert headline["metric"] == "balanced_accuracy"
    assert headline["has_probabilities"] is False
    measured = holdout_value(label_only, "balanced_accuracy")
    assert (headline["value"], headline["ci_low"], headline["ci_high"]) == (
        measured.value,
        measured.ci_low,
        measured.ci_high,
    )
    assert holdout_value(label_only, "roc_auc") is None


def test_label_only_predictions_get_their_headline_sentence_and_table_row(label_only):
    html = render_html(label_only)
    performance = html.split('id="section-performance"', 1)[1].split("</section>", 1)[0]
    assert "Balanced accuracy on the test rows:" in performance
    markdown = render_markdown(label_only)
    first_row = markdown.split("| Metric | Value | 95% interval |", 1)[1].splitlines()[2]
    assert first_row.startswith("| Balanced accuracy |")


def test_probabilities_lead_with_roc_auc_and_name_the_best_baseline(with_proba):
    headline = with_proba.headline
    assert headline["metric"] == "roc_auc"
    assert headline["has_probabilities"] is True
    comparison = with_proba.check("baseline.comparison")
    scores = next(t for t in comparison.tables if t.key == "baseline_scores")
    best_row = max((row for row in scores.rows if row[0] != "Model"), key=lambda row: row[1])
    best = headline["best_baseline"]
    assert best["name"] == best_row[0]
    assert best["value"] == comparison.measurement("best_baseline_score").value
    assert best["difference"] == comparison.measurement("difference_to_best_baseline").value


def test_a_dataset_audit_has_no_headline_and_keeps_none_when_read(binary_split, tmp_path):
    train, test = binary_split
    result = auditor.audit(train=train, test=test, target="y", select=["data.missing_values"])
    assert result.headline is None
    path = tmp_path / "audit.json"
    path.write_text(result.to_json(), encoding="utf-8")
    assert read_result(path).headline is None


def test_a_file_written_before_the_block_is_upgraded_when_read(with_proba, tmp_path):
    data = json.loads(with_proba.to_json())
    del data["headline"]
    path = tmp_path / "older.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert read_result(path).headline == json.loads(with_proba.to_json())["headline"]
