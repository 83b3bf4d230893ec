"""The quality gate on hand-built results, and the config errors around it."""

from __future__ import annotations

import datetime as dt

import pytest

from auditor.api import validate_spec_against_registry
from auditor.errors import InputError
from auditor.gate import METRIC_SOURCE, evaluate_gate
from auditor.registry import load_registry
from auditor.result import CheckResult, Measurement
from auditor.spec import GatePolicy, MetricThreshold, Waiver, load_spec, spec_from_mapping

TODAY = dt.date(2026, 3, 1)
VERBS = {"fail": "failed", "error": "crashed", "warn": "warned"}


def check(check_id: str, status: str, summary: str = "something was found") -> CheckResult:
    return CheckResult(
        id=check_id,
        category=check_id.split(".", 1)[0],
        title=check_id,
        status=status,
        summary=summary,
    )


def holdout(*measurements: Measurement) -> CheckResult:
    return CheckResult(
        id=METRIC_SOURCE,
        category="performance",
        title="Holdout metrics",
        status="pass",
        summary="ok",
        measurements=measurements,
    )


# --- statuses ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "fail_on", "passed"),
    [
        pytest.param("pass", ("fail", "error"), True, id="pass"),
        pytest.param("skipped", ("fail", "error", "warn"), True, id="skipped_never_fails"),
        pytest.param("fail", ("fail", "error"), False, id="fail"),
        pytest.param("error", ("fail", "error"), False, id="error"),
        pytest.param("error", ("fail",), True, id="error_not_in_fail_on"),
        pytest.param("warn", ("fail", "error"), True, id="warn_by_default"),
        pytest.param("warn", ("fail", "error", "warn"), False, id="warn_in_fail_on"),
    ],
)
def test_status_fails_the_gate_only_when_in_fail_on(status, fail_on, passed):
    checks = [check("data.missing_values", "pass"), check("leakage.target", status, "3 leaks")]
    verdict = evaluate_gate(checks, GatePolicy(fail_on=fail_on), today=TODAY)
    assert verdict.passed is passed
    if passed:
        assert verdict.reasons == ()
    else:
        (reason,) = verdict.reasons
        assert reason == f"leakage.target {VERBS[status]}: 3 leaks"


def test_every_failing_check_is_a_reason():
    checks = [check("data.missing_values", "fail"), check("leakage.target", "error")]
    verdict = evaluate_gate(checks, GatePolicy(), today=TODAY)
    assert not verdict.passed
    assert [r.split()[0] for r in verdict.reasons] == ["data.missing_values", "leakage.target"]


# --- waivers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("waived", "expires", "passed"),
    [
        pytest.param("leakage.target", None, True, id="by_id"),
        pytest.param("leakage", None, True, id="by_category"),
        pytest.param("leakage.target", TODAY, True, id="expires_today_still_valid"),
        pytest.param("leakage.target", TODAY + dt.timedelta(days=30), True, id="not_yet_expired"),
        pytest.param("leakage.target", TODAY - dt.timedelta(days=1), False, id="expired_by_id"),
        pytest.param("leakage", TODAY - dt.timedelta(days=1), False, id="expired_by_category"),
        pytest.param("data.missing_values", None, False, id="other_check"),
        pytest.param("data", None, False, id="other_category"),
    ],
)
def test_waivers(waived, expires, passed):
    policy = GatePolicy(waivers={waived: Waiver("reviewed by the risk team", expires)})
    verdict = evaluate_gate([check("leakage.target", "fail")], policy, today=TODAY)
    assert verdict.passed is passed
    if passed:
        assert verdict.reasons == ()
        return
    (reason,) = verdict.reasons
    assert reason.startswith("leakage.target failed")
    if expires is not None:
        assert f"expired on {expires.isoformat()}" in reason


# --- metric thresholds ------------------------------------------------------------------

ROC = Measurement("roc_auc", 0.80, ci_low=0.75, ci_high=0.85, greater_is_better=True)
LOG_LOSS = Measurement("log_loss", 0.40, ci_low=0.35, ci_high=0.45, greater_is_better=False)


@pytest.mark.parametrize(
    ("measurement", "threshold", "use_interval", "passed", "quoted"),
    [
        pytest.param(ROC, MetricThreshold(min=0.75), True, True, None, id="min_at_ci_low"),
        pytest.param(ROC, MetricThreshold(min=0.76), True, False, "0.75", id="min_above_ci_low"),
        pytest.param(ROC, MetricThreshold(min=0.80), False, True, None, id="min_at_point"),
        pytest.param(ROC, MetricThreshold(min=0.76), False, True, None, id="min_point_ok"),
        pytest.param(ROC, MetricThreshold(min=0.81), False, False, "0.8", id="min_above_point"),
        pytest.param(LOG_LOSS, MetricThreshold(max=0.45), True, True, None, id="max_at_ci_high"),
        pytest.param(
            LOG_LOSS, MetricThreshold(max=0.44), True, False, "0.45", id="max_below_ci_high"
        ),
        pytest.param(LOG_LOSS, MetricThreshold(max=0.40), False, True, None, id="max_at_point"),
        pytest.param(LOG_LOSS, MetricThreshold(max=0.44), False, True, None, id="max_point_ok"),
        pytest.param(
            LOG_LOSS, MetricThreshold(max=0.39), False, False, "0.4", id="max_below_point"
        ),
        pytest.param(
            Measurement("roc_auc", 0.80),
            MetricThreshold(min=0.80),
            True,
            True,
            None,
            id="no_interval_uses_point",
        ),
    ],
)
def test_metric_thresholds(measurement, threshold, use_interval, passed, quoted):
    policy = GatePolicy(metrics={measurement.key: threshold}, use_interval=use_interval)
    verdict = evaluate_gate([holdout(measurement)], policy, today=TODAY)
    assert verdict.passed is passed
    if passed:
        assert verdict.reasons == ()
    else:
        (reason,) = verdict.reasons
        which = "pessimistic end of its interval" if use_interval else "point estimate"
        assert which in reason
        assert f") {quoted} is " in reason


def test_metric_between_min_and_max_checks_both_ends():
    policy = GatePolicy(metrics={"roc_auc": MetricThreshold(min=0.76, max=0.84)})
    verdict = evaluate_gate([holdout(ROC)], policy, today=TODAY)
    assert len(verdict.reasons) == 2
    assert "below the minimum 0.76" in verdict.reasons[0]
    assert "above the maximum 0.84" in verdict.reasons[1]


@pytest.mark.parametrize(
    "checks",
    [
        pytest.param([holdout(LOG_LOSS)], id="metric_missing"),
        pytest.param([holdout(Measurement("roc_auc", None))], id="metric_null"),
        pytest.param([check("data.missing_values", "pass")], id="holdout_did_not_run"),
        pytest.param(
            [
                CheckResult(
                    METRIC_SOURCE, "performance", "t", "skipped", "Skipped", skip_reason="no model"
                )
            ],
            id="holdout_skipped",
        ),
    ],
)
def test_threshold_on_a_metric_not_measured_fails(checks):
    policy = GatePolicy(metrics={"roc_auc": MetricThreshold(min=0.5)})
    verdict = evaluate_gate(checks, policy, today=TODAY)
    assert not verdict.passed
    (reason,) = verdict.reasons
    assert reason.startswith("roc_auc ")
    assert "not measured" in reason


# --- config errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "match"),
    [
        pytest.param(
            'tarrget = "y"', r"unknown key 'tarrget'; did you mean 'target'\?", id="unknown_top_key"
        ),
        pytest.param(
            "seed = '7'",
            r"key 'seed' must be an integer from 0 to 4294967295, got '7'",
            id="seed_type",
        ),
        pytest.param(
            "seed = -1",
            r"key 'seed' must be an integer from 0 to 4294967295, got -1",
            id="seed_negative",
        ),
        pytest.param(
            "seed = 4294967296", r"key 'seed' must be an integer from 0", id="seed_too_large"
        ),
        pytest.param(
            "[gate.metrics]\nroc_auc = { min = nan }",
            r"key 'min' must be a finite number, got nan",
            id="threshold_nan",
        ),
        pytest.param(
            "[gate.metrics]\nlog_loss = { max = inf }",
            r"key 'max' must be a finite number, got inf",
            id="threshold_inf",
        ),
        pytest.param(
            "[gate]\nmax_group_gap = -inf",
            r"key 'max_group_gap' must be a finite number",
            id="gap_inf",
        ),
        pytest.param(
            "[gate.metrics]\nroc_auc = { min = 0.9, max = 0.8 }",
            r"min 0.9 above max 0.8; no score could pass",
            id="threshold_min_above_max",
        ),
        pytest.param(
            "[columns]\nsensitive = 'sex'",
            r"\[columns\] key 'sensitive' must be a list of strings",
            id="sensitive_type",
        ),
        pytest.param(
            "[gate]\nuse_intervals = true",
            r"unknown key 'use_intervals'; did you mean 'use_interval'\?",
            id="unknown_gate_key",
        ),
        pytest.param(
            "[gate]\nuse_interval = 'yes'",
            r"key 'use_interval' must be true or false",
            id="gate_type",
        ),
        pytest.param(
            '[gate]\nfail_on = ["fail", "fatal"]',
            r"fail_on has 'fatal'; use any of fail, error, warn",
            id="unknown_fail_on",
        ),
        pytest.param(
            "[gate.metrics]\nroc_auc = {}",
            r"\[gate\]\.metrics\.roc_auc needs min, max or min_over_baseline",
            id="threshold_without_bounds",
        ),
        pytest.param(
            "[gate.metrics]\nroc_auc = { minimum = 0.7 }",
            r"unknown key 'minimum'; did you mean 'min'\?",
            id="threshold_unknown_bound",
        ),
        pytest.param(
            "[gate.metrics]\nroc_auc = { min = '0.7' }",
            r"key 'min' must be a finite number",
            id="threshold_type",
        ),
        pytest.param(
            '[gate.waivers."leakage.target"]\nexpires = 2030-01-31',
            r"waivers\.'leakage\.target' needs a reason",
            id="waiver_without_reason",
        ),
        pytest.param(
            '[gate.waivers."leakage.target"]\nreason = "  "',
            r"waivers\.'leakage\.target' needs a reason",
            id="waiver_blank_reason",
        ),
        pytest.param(
            '[gate.waivers."leakage.target"]\nreason = "ok"\nexpires = "soon"',
            r"key 'expires' must be a date like 2027-01-31",
            id="waiver_expires_type",
        ),
    ],
)
def test_load_spec_errors_name_the_key_and_the_fix(toml, match, tmp_path):
    path = tmp_path / "audit.toml"
    path.write_text(toml + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=match) as raised:
        load_spec(path)
    assert "audit.toml" in str(raised.value)
    assert str(tmp_path) not in str(raised.value)


def test_spec_from_mapping_names_its_source():
    with pytest.raises(InputError, match=r"^\[tool\.auditor\] has unknown key 'tarrget'"):
        spec_from_mapping({"tarrget": "y"}, where="[tool.auditor]")


def test_load_spec_reads_gate_policy(tmp_path):
    path = tmp_path / "audit.toml"
    path.write_text(
        "[gate]\n"
        'fail_on = ["fail"]\n'
        "use_interval = false\n"
        "[gate.metrics]\n"
        "roc_auc = { min = 0.7 }\n"
        "log_loss = { max = 1 }\n"
        '[gate.waivers."leakage"]\n'
        'reason = "known issue #12"\n'
        "expires = 2027-01-31\n",
        encoding="utf-8",
    )
    gate = load_spec(path).gate
    assert gate == GatePolicy(
        fail_on=("fail",),
        use_interval=False,
        metrics={"roc_auc": MetricThreshold(min=0.7), "log_loss": MetricThreshold(max=1)},
        waivers={"leakage": Waiver("known issue #12", dt.date(2027, 1, 31))},
    )


@pytest.mark.parametrize(
    ("config", "match"),
    [
        pytest.param(
            {"checks": {"data.missing_values": {"warn_shares": 0.3}}},
            r"""\[checks\."data\.missing_values"\] has unknown key 'warn_shares'; did you mean 'warn_share'\? Valid keys: alpha, max_share_gap, warn_share\.""",
            id="unknown_param",
        ),
        pytest.param(
            {"checks": {"data.missing_values": {"warn_share": 5}}},
            r"key 'warn_share' is a share between 0 and 1, got 5(\.0)?\. Write 0\.05 for 5%\.",
            id="share_given_as_percent",
        ),
        pytest.param(
            {"checks": {"data.missing_values": {"warn_share": "half"}}},
            r"key 'warn_share' must be like 0\.5, got 'half'",
            id="param_type",
        ),
        pytest.param(
            {"checks": {"performance.holdout_metrics": {"min_class_rows": 0}}},
            r"key 'min_class_rows' must be at least 1, got 0",
            id="param_below_minimum",
        ),
        pytest.param(
            {"checks": {"performance.overfit": {"n_bootstrap": 500}}},
            r"key 'n_bootstrap' is now audit-wide: write bootstrap_resamples = 500 under "
            r"\[evaluation\]",
            id="param_moved_to_evaluation",
        ),
        pytest.param(
            {"checks": {"data.missing_value": {}}},
            r"\[checks\] has unknown key 'data\.missing_value'; did you mean 'data\.missing_values'\?",
            id="unknown_check",
        ),
        pytest.param(
            {"gate": {"metrics": {"roc_aux": {"min": 0.7}}}},
            r"\[gate\.metrics\] has unknown key 'roc_aux'; did you mean 'roc_auc'\?",
            id="unknown_metric",
        ),
        pytest.param(
            {"gate": {"waivers": {"data.missing": {"reason": "r"}}}},
            r"\[gate\.waivers\] has unknown key 'data\.missing'",
            id="unknown_waiver_target",
        ),
    ],
)
def test_config_naming_checks_and_metrics_is_validated_against_the_registry(config, match):
    spec = spec_from_mapping(config, where="audit.toml")
    with pytest.raises(InputError, match=match):
        validate_spec_against_registry(spec, load_registry())


@pytest.mark.parametrize(
    ("evaluation", "match"),
    [
        pytest.param(
            {"folds": 1},
            r"\[evaluation\] folds = 1 must be an integer from 2 to 100\.",
            id="one_fold",
        ),
        pytest.param(
            {"bootstrap_resamples": 10},
            r"\[evaluation\] bootstrap_resamples = 10 must be an integer from 100 to 100,000\.",
            id="too_few_resamples",
        ),
        pytest.param(
            {"fold": 3},
            r"\[evaluation\] has unknown key 'fold'; did you mean 'folds'\?",
            id="evaluation_typo",
        ),
        pytest.param(
            {"seed": -1}, r"key 'seed' must be an integer from 0 to 4294967295", id="seed"
        ),
    ],
)
def test_evaluation_settings_are_validated(evaluation, match):
    with pytest.raises(InputError, match=match):
        spec_from_mapping({"evaluation": evaluation}, where="audit.toml")


def test_evaluation_settings_reach_the_manifest():
    spec = spec_from_mapping(
        {"seed": 7, "evaluation": {"folds": 3, "bootstrap_resamples": 500}}, where="audit.toml"
    )
    assert spec.to_manifest()["evaluation"] == {
        "folds": 3,
        "repeats": 1,
        "bootstrap_resamples": 500,
        "seed": 7,
    }


def test_valid_check_params_are_built():
    spec = spec_from_mapping(
        {"checks": {"data.missing_values": {"warn_share": 0.3, "alpha": 0}}}, where="audit.toml"
    )
    params = validate_spec_against_registry(spec, load_registry())
    built = params["data.missing_values"]
    assert (built.warn_share, built.max_share_gap, built.alpha) == (0.3, 0.1, 0.0)
    assert isinstance(built.alpha, float)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_a_check_parameter_must_be_finite(value):
    from auditor.registry import build_params, load_registry

    spec = load_registry()["leakage.target"]
    with pytest.raises(InputError, match=r"key 'fail_at' must be like 0.97, got"):
        build_params(spec, {"fail_at": value})
    assert build_params(spec, {"fail_at": 0.99}).fail_at == 0.99


def test_a_config_nested_beyond_reading_is_an_input_error(tmp_path):
    path = tmp_path / "audit.toml"
    path.write_text("seed = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="nests tables or arrays too deeply"):
        load_spec(path)
    path.write_text("seed = 3\n", encoding="utf-8")
    assert load_spec(path).seed == 3
