"""The contract every registered check keeps, parametrized over the registry."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from auditor.inputs import load_inputs
from auditor.registry import SkipCheck, build_params, load_registry
from auditor.result import AuditResult, result_from_dict
from auditor.runner import run_check
from auditor.spec import AuditSpec, ColumnRolesSpec

SPECS = sorted(load_registry().values(), key=lambda s: s.id)
by_id = pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)


def _with_time(train: pd.DataFrame, test: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The clean split as a clean temporal split: every test row after every train row."""
    stamps = pd.date_range("2024-01-01", periods=len(train) + len(test), freq="h")
    return (
        train.assign(when=stamps[: len(train)].strftime("%Y-%m-%d %H:%M")),
        test.assign(when=stamps[len(train) :].strftime("%Y-%m-%d %H:%M")),
    )


@pytest.fixture(scope="module")
def clean_ctx(binary_split, binary_model):
    # x3 plays no part in the label, so as a sensitive column its groups perform alike.
    spec = AuditSpec(target="y", columns=ColumnRolesSpec(time="when", sensitive=("x3",)))
    train, test = _with_time(*binary_split)
    return load_inputs(spec, train=train, test=test, model=binary_model).context


@pytest.fixture(scope="module")
def ctx_without_model(binary_split):
    train, test = binary_split
    return load_inputs(AuditSpec(target="y"), train=train, test=test).context


def _run(ctx, spec):
    return run_check(ctx, spec, build_params(spec, {}))


def _wrap(result) -> AuditResult:
    return AuditResult(
        tool={"name": "auditor", "version": "0"},
        created_at="2025-01-01T00:00:00Z",
        task="binary",
        target="y",
        verdict="pass",
        checks=(result,),
        inputs=(),
        gate=None,
        manifest={},
    )


@by_id
def test_clean_data_passes_or_skips(spec, clean_ctx):
    result = _run(clean_ctx, spec)
    assert result.status in {"pass", "skipped"}, result.summary
    assert (result.id, result.category, result.title) == (spec.id, spec.category, spec.title)
    assert result.summary.strip()


@by_id
def test_checks_needing_predictions_skip_without_a_model(spec, ctx_without_model):
    result = _run(ctx_without_model, spec)
    if spec.needs & {"predictions", "model", "proba"}:
        assert result.status == "skipped"
        assert "--model" in result.skip_reason
        assert result.summary == f"Skipped: {result.skip_reason}."
        assert result.measurements == ()
    elif result.status == "skipped":
        # Skipped for another missing input (a time or group column), never for the model.
        assert "--model" not in result.skip_reason
    else:
        assert result.skip_reason is None


@by_id
def test_a_crash_becomes_an_error_result(spec, clean_ctx):
    assert spec.needs <= clean_ctx.available, "give the clean context the inputs this check needs"

    def boom(ctx, params):
        raise ZeroDivisionError("division by zero\nsecond line")

    result = run_check(clean_ctx, dataclasses.replace(spec, func=boom), build_params(spec, {}))
    assert result.status == "error"
    assert result.summary == "The check crashed: ZeroDivisionError: division by zero"
    assert result.error["type"] == "ZeroDivisionError"
    assert result.error["message"] == "division by zero"
    assert "test_common.py" in result.error["where"]
    assert "in boom" in result.error["where"]
    assert result.params == spec.default_params()


@by_id
def test_skip_check_becomes_a_skipped_result(spec, clean_ctx):
    def not_applicable(ctx, params):
        raise SkipCheck("the test set has no dates")

    result = run_check(
        clean_ctx, dataclasses.replace(spec, func=not_applicable), build_params(spec, {})
    )
    assert (result.status, result.skip_reason) == ("skipped", "the test set has no dates")
    assert result.summary == "Skipped: the test set has no dates."


@by_id
def test_params_round_trip_through_json(spec):
    defaults = spec.default_params()
    loaded = json.loads(json.dumps(defaults, allow_nan=False))
    assert build_params(spec, loaded) == spec.params_type()
    assert dataclasses.asdict(build_params(spec, loaded)) == defaults


def _fingerprint(ctx) -> dict:
    prints = {}
    for name in ("train", "test"):
        frame = getattr(ctx, name)
        prints[name] = (
            list(frame.columns),
            list(map(str, frame.dtypes)),
            pd.util.hash_pandas_object(frame, index=True).to_numpy().copy(),
        )
    prints["y_pred"] = np.array(ctx.predictions.y_pred, copy=True)
    prints["proba"] = np.array(ctx.predictions.proba, copy=True)
    return prints


@by_id
def test_checks_do_not_modify_the_context(spec, clean_ctx):
    before = _fingerprint(clean_ctx)
    _run(clean_ctx, spec)
    after = _fingerprint(clean_ctx)
    assert before.keys() == after.keys()
    for key in before:
        if isinstance(before[key], tuple):
            assert before[key][:2] == after[key][:2], key
            np.testing.assert_array_equal(before[key][2], after[key][2], err_msg=key)
        else:
            np.testing.assert_array_equal(before[key], after[key], err_msg=key)


@by_id
@pytest.mark.parametrize("with_model", [True, False], ids=["model", "no_model"])
def test_result_is_json_serializable(spec, with_model, clean_ctx, ctx_without_model):
    result = _run(clean_ctx if with_model else ctx_without_model, spec)
    text = _wrap(result).to_json()
    json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))
    assert result_from_dict(json.loads(text)).to_json() == text
