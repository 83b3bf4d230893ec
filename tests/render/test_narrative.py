"""The plain-language reading: verdict, gate conditions, issues, weakest slice, section openings.

Unit tests build the JSON shape of a result by hand, so each wording rule is pinned to the
one fact that drives it; the end-to-end tests read real audits with planted problems.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from tests.robustness import _hostile_results as hostile

import auditor
from auditor.render import narrative
from auditor.render.formatting import formatter_for, number, p_value, share
from auditor.render.html import render_html
from auditor.result import CheckResult, Finding, GateVerdict


def check(
    check_id: str,
    status: str = "pass",
    *,
    findings: tuple[dict, ...] = (),
    measurements: tuple[dict, ...] = (),
    tables: tuple[dict, ...] = (),
    summary: str = "summary",
) -> dict:
    return {
        "id": check_id,
        "category": check_id.split(".")[0],
        "title": check_id.split(".")[1].replace("_", " ").capitalize(),
        "status": status,
        "summary": summary,
        "findings": list(findings),
        "measurements": list(measurements),
        "tables": list(tables),
    }


def finding(severity: str, message: str = "message") -> dict:
    return {"severity": severity, "message": message, "columns": [], "code": "x", "evidence": {}}


def measurement(key: str, value: float, low: float | None = None, high: float | None = None):
    return {"key": key, "value": value, "ci_low": low, "ci_high": high}


def result_data(checks: list[dict], gate: dict | None, policy: dict | None = None) -> dict:
    return {
        "checks": checks,
        "gate": gate,
        "task": "binary",
        "inputs": [
            {"role": "train", "rows": 4000, "file_name": "t.csv"},
            {"role": "test", "rows": 1500, "file_name": "s.csv"},
        ],
        "manifest": {"spec": {"gate": policy} if policy else {}, "columns": {"sensitive": []}},
    }


SLICE_COLUMNS = list(hostile.SLICE_COLUMNS)


def slice_check(reported: list, tested: list, columns=SLICE_COLUMNS) -> dict:
    return check(
        "slices.weak_segments",
        "warn" if reported else "pass",
        tables=(
            {"key": "weak_slices", "columns": columns, "rows": reported},
            {"key": "tested_slices", "columns": columns, "rows": tested},
        ),
    )


# --- formatting -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.0, "< 0.001"), (0.0004, "< 0.001"), (0.001, "0.001"), (0.018, "0.018"), (1.0, "1.000")],
)
def test_p_values_never_read_as_zero(value, text):
    assert p_value(value) == text


@pytest.mark.parametrize(
    ("key", "value", "text"),
    [
        ("calibration_p_value", 0.0, "< 0.001"),
        ("q_value", 0.19, "0.190"),
        ("t-test p", 2.3e-05, "< 0.001"),
        ("max_missing_share", 0.042, "4.20%"),
        ("n_weak_slices", 0.0, "0"),
        ("n_rows", 1500.0, "1,500"),
        ("roc_auc", 0.78428, "0.784"),
    ],
)
def test_formatter_follows_the_key(key, value, text):
    assert formatter_for(key)(value) == text


def test_counts_read_as_whole_numbers_and_shares_as_percentages():
    assert number(0.0) == "0"
    assert number(12345.0) == "12,345"
    assert share(0.3166) == "31.7%"


# --- verdict and gate -------------------------------------------------------------------------


def test_failed_gate_says_not_ready_and_counts_its_reasons():
    data = result_data(
        [check("data.missing_values"), check("performance.overfit", "warn")],
        {"passed": False, "reasons": ["a", "b", "c"]},
    )
    verdict = narrative.verdict(data)
    assert verdict["answer"] == "Not ready to ship"
    assert verdict["status"] == "fail"
    assert "failed for 3 reasons" in verdict["sentence"]


@pytest.mark.parametrize(
    ("statuses", "gate", "answer", "status"),
    [
        (["pass", "pass"], {"passed": True, "reasons": []}, "Gate passed", "pass"),
        (["pass", "warn"], {"passed": True, "reasons": []}, "Review before shipping", "warn"),
        (["fail", "warn"], {"passed": True, "reasons": []}, "Review before shipping", "fail"),
        (["pass", "pass"], None, "No problem found", "pass"),
    ],
)
def test_passed_gate_still_names_what_needs_review(statuses, gate, answer, status):
    checks = [check(f"data.c{i}", s) for i, s in enumerate(statuses)]
    verdict = narrative.verdict(result_data(checks, gate))
    assert (verdict["answer"], verdict["status"]) == (answer, status)
    if "warn" in statuses:
        assert "1 warning" in verdict["sentence"]
    if "fail" in statuses:
        assert "1 check failed" in verdict["sentence"]


def test_gate_reasons_name_failed_checks_by_title_and_keep_thresholds_whole():
    data = result_data(
        [check("leakage.target_leak", "fail"), check("data.missing_values", "warn")],
        {
            "passed": False,
            "reasons": [
                "leakage.target_leak failed: 'refund' predicts the target alone.",
                "data.missing_values warned and its waiver expired on 2026-01-01: 60% missing.",
                "ROC AUC (pessimistic end of its interval) 0.61 is below the minimum 0.7.",
            ],
        },
    )
    assert narrative.gate_reasons(data) == [
        {"check_id": "leakage.target_leak", "text": "Target leak failed"},
        {
            "check_id": "data.missing_values",
            "text": "Missing values warned and its waiver expired on 2026-01-01",
        },
        {
            "check_id": None,
            "text": "ROC AUC (pessimistic end of its interval) 0.61 is below the minimum 0.7.",
        },
    ]
    assert narrative.gate_reasons(result_data([], {"passed": True, "reasons": []})) == []


def test_gate_conditions_state_each_threshold_and_which_end_of_the_interval():
    policy = {
        "fail_on": ["fail", "error"],
        "use_interval": True,
        "waivers": {},
        "metrics": {"roc_auc": {"min": 0.7, "max": None, "min_over_baseline": 0.01}},
        "max_overfit_gap": 0.1,
        "max_group_gap": None,
        "max_slice_lift": 2.0,
        "min_slice_support": 0.05,
    }
    conditions = narrative.gate_conditions(result_data([], None, policy))
    assert conditions == [
        "no check with status fail or error",
        "ROC AUC (lower end of its 95% interval) at least 0.7",
        "ROC AUC above the best baseline by at least 0.01 (lower end of its 95% interval)",
        "train-validation gap at most 0.1",
        "no weak slice above 2x the error rate of the rest on 5% or more of rows",
    ]


# --- what needs a decision --------------------------------------------------------------------


def test_issues_put_failures_first_keep_medium_findings_of_passing_checks_drop_low_ones():
    data = result_data(
        [
            check("data.a", "warn", findings=(finding("medium", "warned"),)),
            check("data.b", "pass", findings=(finding("low", "minor"),)),
            check("leakage.c", "fail", findings=(finding("high", "copied rows"),)),
            check("fairness.d", "pass", findings=(finding("medium", "gap"),)),
            check("explain.e", "error", summary="ValueError: boom"),
        ],
        None,
    )

    remedies = {c["id"]: f"{c['id']}: what to do" for c in data["checks"]}
    issues = narrative.priority_issues(data, remedies, limit=10)
    assert [i["id"] for i in issues] == ["leakage.c", "explain.e", "data.a", "fairness.d"]
    assert issues[0]["messages"] == ["copied rows"]
    assert issues[0]["remedy"] == "leakage.c: what to do"
    assert issues[2]["remedy"] == "data.a: what to do"
    assert issues[1]["messages"] == ["The check crashed: ValueError: boom"]
    assert [i["id"] for i in narrative.priority_issues(data, remedies, limit=2)] == [
        "leakage.c",
        "explain.e",
    ]


def test_the_cover_ranks_by_impact_and_names_every_check_with_findings():
    # An empty column failing used to head the cover above a failed leakage check, and two
    # warnings hid behind "2 more checks".
    data = result_data(
        [
            check("data.missing_values", "fail", findings=(finding("high", "empty column"),)),
            check("data.mixed_types", "warn", findings=(finding("medium", "mixed"),)),
            check("leakage.target", "fail", findings=(finding("high", "refund leaks"),)),
            check("leakage.identifier", "warn", findings=(finding("medium", "id in model"),)),
            check("performance.overfit", "warn", findings=(finding("medium", "shift"),)),
            check("fairness.group_metrics", "warn", findings=(finding("medium", "gap"),)),
            check("explain.feature_importance", "warn", findings=(finding("medium", "one"),)),
        ],
        None,
    )
    issues = narrative.priority_issues(data, {}, limit=10)
    assert [i["id"] for i in issues] == [
        "leakage.target",
        "data.missing_values",
        "leakage.identifier",
        "performance.overfit",
        "fairness.group_metrics",
        "data.mixed_types",
        "explain.feature_importance",
    ]
    audit = hostile.result(
        *(
            CheckResult(
                c["id"],
                c["category"],
                c["title"],
                c["status"],
                c["summary"],
                tuple(Finding("x", f["severity"], f["message"]) for f in c["findings"]),
            )
            for c in data["checks"]
        )
    )
    cover = render_html(audit).split("What needs a decision")[1].split("</section>")[0]
    for item in issues:
        assert f'href="#{item["id"]}"' in cover, item["id"]
    assert "Also to review:" in cover
    assert "more check" not in cover


def test_not_checked_groups_skipped_checks_by_their_reason():
    data = result_data(
        [
            check("fairness.group_metrics", "skipped", summary="Skipped: no sensitive column."),
            check("data.feature_drift", "skipped", summary="Skipped: no training data."),
            check("data.schema"),
            check("leakage.temporal", "skipped", summary="Skipped: no training data."),
        ],
        {"passed": True, "reasons": []},
    )
    assert narrative.not_checked(data) == [
        "No sensitive column: Group metrics",
        "No training data: Feature drift, Temporal",
    ]
    assert (
        "the one check that ran found no problem at its threshold"
        in (narrative.verdict(data)["sentence"])
    )


def test_decisions_count_flags_catches_and_false_alarms_of_the_positive_class():
    matrix = {
        "key": "confusion_matrix",
        "columns": ["true \\ predicted", "0", "1"],
        "rows": [["0", 1169, 65], ["1", 190, 76]],
    }
    data = result_data([check("performance.holdout_metrics", tables=(matrix,))], None)
    data["target"] = "default"
    data["manifest"]["positive_class"] = "1"
    assert narrative.decisions(data) == (
        "At its decision threshold the model flags 141 of the 1,500 test rows as default = 1: "
        "it catches 76 of the 266 rows that are (28.6%), and 65 of its flags are false alarms."
    )
    data["task"] = "multiclass"
    assert narrative.decisions(data) is None


# --- weakest slice ----------------------------------------------------------------------------


def test_weakest_slice_names_the_reported_slice_with_its_numbers():
    row = [1, "region == 'north'", 120, 0.08, 0.31, 0.1, 3.1, 2.2, 4.3, 0.0, 0.0, "high"]
    data = result_data([slice_check([row], [row])], None)
    sentence = narrative.weakest_slice(data)
    assert sentence == (
        "The weakest slice, 'region == 'north'' (120 test rows, 8.00%), has an error rate of "
        "31.0% against 10.0% elsewhere (3.10x, q < 0.001)."
    )


def test_without_a_reported_slice_the_strongest_candidate_is_not_called_a_weakness():
    columns = [*SLICE_COLUMNS[:-1], "confirmed"]
    why = "not significant after BH over 8 candidates (q = 0.190)"
    row = [1, "income < 10", 475, 0.32, 0.31, 0.1, 3.03, 2.4, 3.8, 0.19, 0.19, f"no: {why}"]
    sentence = narrative.weakest_slice(result_data([slice_check([], [row], columns)], None))
    assert sentence.startswith("No slice was flagged.")
    assert "The strongest candidate, 'income < 10' (475 test rows, 32.0%), has an error rate" in (
        sentence
    )
    assert sentence.endswith(f"(3.03x), is not: {why}.")


def test_a_slice_beyond_the_models_probabilities_is_named_when_none_errs_most():
    columns = [
        "rank",
        "slice",
        "rows",
        "share",
        "error_rate_in_slice",
        "expected_error_rate",
        "error_rate_elsewhere",
        "ratio_to_expected",
        "q_value",
        "confirmed",
    ]
    beyond = {
        "key": "unexpected_error_slices",
        "columns": columns,
        "rows": [[1, "age < 30", 300, 0.1, 0.4, 0.2, 0.1, 2.0, 0.001, "yes"]],
    }
    slices = slice_check([], [])
    slices["tables"] = [*slices["tables"], beyond]
    sentence = narrative.weakest_slice(result_data([slices], None))
    assert sentence == (
        "No slice errs significantly more than the rest, but 'age < 30' (300 test rows) errs "
        "more than the model's own probabilities say: 40.0% where 20.0% was expected."
    )


def test_regression_slices_read_their_own_error_metric():
    columns = [c.replace("error_rate", "mean_absolute_error") for c in SLICE_COLUMNS]
    row = [1, "x < 2", 80, 0.1, 32478.2, 25502.2, 1.27, 1.05, 1.54, 0.18, 0.18, False]
    sentence = narrative.weakest_slice(result_data([slice_check([], [row], columns)], None))
    assert "has a mean absolute error of 32,478 against 25,502 elsewhere (1.27x)" in sentence


def test_skipped_slice_search_says_it_did_not_run():
    data = result_data(
        [check("slices.weak_segments", "skipped", summary="Skipped: no model")], None
    )
    assert narrative.weakest_slice(data) == "The slice search did not run: Skipped: no model"


# --- section readings -------------------------------------------------------------------------


def test_section_reading_tallies_statuses_and_names_the_checks_that_need_attention():
    checks = [
        check("data.missing_values", "fail"),
        check("data.duplicate_rows", "warn"),
        check("data.schema", "skipped", summary="Skipped: no train data"),
        check("data.mixed_types"),
    ]
    reading = narrative.section_reading("data", checks, result_data(checks, None))
    assert "on the 4,000 train rows and 1,500 test rows" in reading
    assert "1 check failed: Missing values." in reading
    assert "1 check warned: Duplicate rows." in reading
    assert "1 check could not run on these inputs (Schema)." in reading
    assert "The other 1 check found nothing above threshold." in reading


def test_leakage_reading_does_not_claim_absence_of_leakage():
    checks = [check("leakage.target"), check("leakage.temporal")]
    reading = narrative.section_reading("leakage", checks, result_data(checks, None))
    assert "All 2 checks found nothing above their thresholds." in reading
    assert "cannot rule out leakage" in reading


def test_performance_reading_quotes_the_headline_metric_with_its_interval():
    holdout = check(
        "performance.holdout_metrics", measurements=(measurement("roc_auc", 0.784, 0.753, 0.814),)
    )
    folds = check("performance.cross_validation", measurements=(measurement("roc_auc", 0.79),))
    reading = narrative.section_reading(
        "performance", [holdout, folds], result_data([holdout, folds], None)
    )
    assert (
        "ROC AUC on the test rows: 0.784 [0.753, 0.814]; mean over cross-validation folds: "
        "0.790." in reading
    )


# --- real audits ------------------------------------------------------------------------------

# Words a measurement cannot justify: a check that passed did not find a problem at its
# threshold, which does not make the model fair, unbiased, safe or free of leakage.
OVERCLAIMS = re.compile(
    r"\b(fair|fairly|unbiased|bias-free|safe|safely|leak-free|leakage-free)\b|no leakage",
    re.IGNORECASE,
)


def visible_text(html: str) -> str:
    """The report's text without tags, ids and anchors (check ids contain 'fairness.')."""
    text = re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"\b\w+\.\w+\b", " ", text)


@pytest.fixture(scope="module")
def planted_result(binary_split, binary_model):
    """The clean table with copied test rows, a leaking feature and a sensitive column."""
    train, test = (frame.copy() for frame in binary_split)
    rng = np.random.default_rng(1)
    for frame in (train, test):
        frame["refund_issued"] = frame["y"] * 2 + rng.normal(0, 0.01, len(frame))
        frame["group"] = rng.choice(["a", "b"], size=len(frame))
    test.iloc[:150] = train.iloc[:150].to_numpy()
    return auditor.audit(
        train=train,
        test=test,
        target="y",
        model=binary_model,
        sensitive=["group"],
    )


@pytest.fixture(scope="module")
def loans_cover(loans_html):
    return loans_html.split('<nav class="toc"', 1)[0]


@pytest.fixture(scope="module")
def clean_result(binary_split, binary_model):
    train, test = binary_split
    return auditor.audit(train=train, test=test, target="y", model=binary_model)


def test_planted_problems_reach_the_cover_with_what_to_do(planted_result):
    statuses = {c.id: c.status for c in planted_result.checks}
    assert statuses["leakage.train_test_overlap"] == "fail"
    assert statuses["leakage.target"] == "fail"
    html = render_html(planted_result)
    cover = html.split('<nav class="toc"', 1)[0]
    assert "Not ready to ship" in cover or "Review before shipping" in cover
    assert 'href="#leakage.train_test_overlap"' in cover
    assert "What to do:" in cover


def test_failed_gate_lists_its_reasons_on_the_cover(planted_result):
    failed = dataclasses.replace(
        planted_result, gate=GateVerdict(passed=False, reasons=("ROC AUC 0.61 is below 0.7.",))
    )
    cover = render_html(failed).split('<nav class="toc"', 1)[0]
    assert "Not ready to ship" in cover
    assert "<li>ROC AUC 0.61 is below 0.7.</li>" in cover


def test_clean_audit_cover_raises_nothing(clean_result):
    assert {c.status for c in clean_result.checks} <= {"pass", "skipped"}
    cover = render_html(clean_result).split('<nav class="toc"', 1)[0]
    assert "No check failed, crashed or warned" in cover
    assert "Review before shipping" not in cover


@pytest.mark.parametrize("which", ["planted", "clean"])
def test_report_makes_no_claim_beyond_what_was_measured(which, planted_result, clean_result):
    result = {"planted": planted_result, "clean": clean_result}[which]
    text = visible_text(render_html(result))
    assert OVERCLAIMS.findall(text) == []


def test_overclaim_probe_catches_the_words_it_bans():
    text = visible_text("<p>The model is fair and safe; no leakage.</p><a href='#fairness.x'>")
    assert [m.group(0).lower() for m in OVERCLAIMS.finditer(text)] == [
        "fair",
        "safe",
        "no leakage",
    ]


def test_a_finding_with_its_own_remedy_gets_it_and_others_get_the_checks():
    from auditor.registry import load_registry

    spec = load_registry()["baseline.comparison"]
    specific = spec.remedy_for("worse_than_linear_on_folds")
    assert "plain linear model does at least as well" in specific
    assert specific != spec.remedy
    assert spec.remedy_for("baseline_fit_failed") == spec.remedy
    assert spec.remedy_for(None) == spec.remedy


def test_loans_cover_gives_each_warning_the_remedy_of_its_finding(loans_cover):
    # The training-fit gap of the loans model is information since #14: not on the cover.
    assert 'href="#performance.overfit"' not in loans_cover.split("What needs a decision")[1]
    baseline = loans_cover.split('href="#baseline.comparison"', 1)[1].split("</li>", 1)[0]
    assert "A plain linear model does at least as well" in baseline
    assert "does not beat a dummy" not in baseline
