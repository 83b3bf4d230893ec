"""Exit codes of ``auditor audit``: 0 pass, 1 gate failed, 2 bad input, 3 internal error.

Exit 2 is a contract with three parts (design.md section 4): the exit code, exactly one line
on stderr that starts with ``error: `` and names the problem, and nothing written.
"""

from __future__ import annotations

import json
import operator
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io
from typer.testing import CliRunner

from auditor.cli.app import app

runner = CliRunner()


def invoke(*args: str | Path):
    return runner.invoke(app, [str(a) for a in args])


def files_under(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


def assert_bad_input(result, out_dir: Path, *needles: str) -> str:
    """Exit 2, one ``error: `` line on stderr naming the problem, nothing on stdout or disk."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("error: ")
    assert len(line) > len("error: ") + 10
    for needle in needles:
        assert needle in line, f"{needle!r} not in {line!r}"
    assert "Traceback" not in result.output
    assert result.stdout.strip() == ""
    assert files_under(out_dir) == []
    return line


@pytest.fixture
def env(tmp_path, loans, housing, binary_split, binary_model) -> SimpleNamespace:
    """Paths and objects the bad-input cases build their files from."""
    train, test = binary_split
    work = tmp_path / "work"
    work.mkdir()
    small_test = work / "small_test.csv"
    test.to_csv(small_test, index=False)
    return SimpleNamespace(
        work=work,
        loans=loans,
        housing=housing,
        small_test=small_test,
        small_train=train,
        binary_model=binary_model,
    )


# --- one builder per bad input: (env) -> CLI arguments -----------------------------------


def _missing_test(env):
    return ["--test", env.work / "no_such_file.csv", "--target", "default"]


def _unknown_target(env):
    return ["--test", env.loans["test"], "--target", "defualt"]


def _short_predictions(env):
    preds = env.work / "preds.csv"
    pd.DataFrame({"prediction": np.zeros(100, dtype=int)}).to_csv(preds, index=False)
    return ["--test", env.loans["test"], "--target", "default", "--predictions", preds]


def _predictions_without_prediction_column(env):
    n = len(pd.read_csv(env.loans["test"]))
    preds = env.work / "preds.csv"
    pd.DataFrame({"pred": np.zeros(n, dtype=int), "proba_1": np.full(n, 0.2)}).to_csv(
        preds, index=False
    )
    return ["--test", env.loans["test"], "--target", "default", "--predictions", preds]


def _pickle_model(env):
    path = env.work / "model.pkl"
    with path.open("wb") as handle:
        pickle.dump(env.binary_model, handle)
    return ["--test", env.small_test, "--target", "y", "--model", path]


def _joblib_model(env):
    path = env.work / "model.joblib"
    joblib.dump(env.binary_model, path)
    return ["--test", env.small_test, "--target", "y", "--model", path]


def _loans_model_on_housing(env):
    return [
        "--test",
        env.housing["test"],
        "--target",
        "price",
        "--task",
        "regression",
        "--model",
        env.loans["model"],
    ]


def _loans_model_missing_a_feature(env):
    test = env.work / "loans_without_score.csv"
    pd.read_csv(env.loans["test"]).drop(columns="credit_score").to_csv(test, index=False)
    return ["--test", test, "--target", "default", "--model", env.loans["model"]]


def _empty_file(env):
    path = env.work / "empty.csv"
    path.write_bytes(b"")
    return ["--test", path, "--target", "default"]


def _header_only(env):
    path = env.work / "header_only.csv"
    path.write_text("age,income,default\n", encoding="utf-8")
    return ["--test", path, "--target", "default"]


def _one_class_target(env):
    path = env.work / "one_class.csv"
    frame = pd.read_csv(env.loans["test"])
    frame.loc[frame["default"] == 1].to_csv(path, index=False)
    return ["--test", path, "--target", "default", "--model", env.loans["model"]]


def _unknown_config_key(env):
    config = env.work / "audit.toml"
    config.write_text(
        f'test = "{env.loans["test"].as_posix()}"\ntargte = "default"\n', encoding="utf-8"
    )
    return ["--config", config]


def _unknown_gate_key(env):
    config = env.work / "audit.toml"
    config.write_text(
        f'test = "{env.loans["test"].as_posix()}"\ntarget = "default"\n'
        '[gate]\nfail_onn = ["fail"]\n',
        encoding="utf-8",
    )
    return ["--config", config]


def _skops_with_foreign_function(env):
    return ["--test", env.small_test, "--target", "y", "--model", _neg_pipeline(env)]


def _corrupt_skops(env):
    path = env.work / "corrupt.skops"
    path.write_bytes(b"PK\x03\x04" + np.random.default_rng(0).bytes(512))
    return ["--test", env.loans["test"], "--target", "default", "--model", path]


def _model_and_predictions(env):
    preds = env.work / "preds.csv"
    n = len(pd.read_csv(env.loans["test"]))
    pd.DataFrame({"prediction": np.zeros(n, dtype=int)}).to_csv(preds, index=False)
    return [
        "--test",
        env.loans["test"],
        "--target",
        "default",
        "--model",
        env.loans["model"],
        "--predictions",
        preds,
    ]


def _unknown_format(env):
    return [
        "--test",
        env.loans["test"],
        "--target",
        "default",
        "--model",
        env.loans["model"],
        "--format",
        "html,docx",
    ]


def _duplicate_columns(env):
    path = env.work / "duplicated.csv"
    path.write_text("age,income,age,default\n30,100,31,0\n40,200,41,1\n", encoding="utf-8")
    return ["--test", path, "--target", "default"]


def _neg_pipeline(env) -> Path:
    """A skops file whose pipeline calls ``operator.neg``: a function outside sklearn."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    train = env.small_train
    features = train[["x0", "x1", "x2", "x3"]]
    model = make_pipeline(FunctionTransformer(operator.neg), LogisticRegression())
    model.fit(features, train["y"])
    path = env.work / "neg.skops"
    skops.io.dump(model, path)
    return path


@dataclass(frozen=True)
class BadInput:
    id: str
    build: Callable[[SimpleNamespace], list]
    needles: tuple[str, ...]


BAD_INPUTS = [
    BadInput("missing-test-file", _missing_test, ("--test", "no_such_file.csv", "not exist")),
    BadInput(
        "unknown-target-lists-columns",
        _unknown_target,
        ("--target", "'defualt'", "'application_id'", "'age'", "more"),
    ),
    BadInput("predictions-fewer-rows", _short_predictions, ("'preds.csv'", "100 rows", "1500")),
    BadInput(
        "predictions-without-prediction-column",
        _predictions_without_prediction_column,
        ("'preds.csv'", "'prediction'", "'pred'"),
    ),
    BadInput(
        "pickle-without-trust-model", _pickle_model, ("'model.pkl'", "run", "code", "--trust-model")
    ),
    BadInput(
        "joblib-without-trust-model",
        _joblib_model,
        ("'model.joblib'", "run", "code", "--trust-model"),
    ),
    BadInput(
        "loans-model-on-housing-data", _loans_model_on_housing, ("model expects", "'age'", "more")
    ),
    BadInput("model-feature-missing", _loans_model_missing_a_feature, ("'credit_score'",)),
    BadInput("empty-file", _empty_file, ("'empty.csv'", "empty")),
    BadInput("header-only-csv", _header_only, ("'header_only.csv'", "no data rows")),
    BadInput("target-with-one-class", _one_class_target, ("'default'", "single class")),
    BadInput("unknown-config-key", _unknown_config_key, ("'targte'", "did you mean 'target'")),
    BadInput(
        "unknown-gate-key", _unknown_gate_key, ("[gate]", "'fail_onn'", "did you mean 'fail_on'")
    ),
    BadInput(
        "skops-with-non-sklearn-function",
        _skops_with_foreign_function,
        ("'neg.skops'", "_operator.neg", "--trust-model"),
    ),
    BadInput("corrupt-skops", _corrupt_skops, ("'corrupt.skops'", "skops")),
    BadInput(
        "model-and-predictions", _model_and_predictions, ("--model", "--predictions", "not both")
    ),
    BadInput("unknown-format", _unknown_format, ("'docx'", "html", "json")),
    BadInput(
        "duplicate-column-names", _duplicate_columns, ("'duplicated.csv'", "duplicate", "'age'")
    ),
]


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[c.id for c in BAD_INPUTS])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(case, env, tmp_path):
    out_dir = tmp_path / "out"
    result = invoke("audit", *case.build(env), "--out-dir", out_dir)
    assert_bad_input(result, out_dir, *case.needles)


def test_one_class_message_shows_the_label_not_a_numpy_repr(env, tmp_path):
    out_dir = tmp_path / "out"
    result = invoke("audit", *_one_class_target(env), "--out-dir", out_dir)
    line = assert_bad_input(result, out_dir, "single class")
    # The label is 1 in the file; a user should not see numpy's repr of it.
    assert "np.int64" not in line
    assert "(1)" in line


def test_the_foreign_function_case_really_holds_an_untrusted_type(env):
    """Guards the skops case above: skops itself must report the function as untrusted."""
    assert "_operator.neg" in skops.io.get_untrusted_types(file=_neg_pipeline(env))


@pytest.mark.parametrize("builder", [_pickle_model, _joblib_model], ids=["pickle", "joblib"])
def test_pickle_model_is_audited_with_trust_model(builder, env, tmp_path):
    out_dir = tmp_path / "out"
    # One check that scores with the model is enough to show it was loaded and used.
    result = invoke(
        "audit",
        *builder(env),
        "--trust-model",
        *("--out-dir", out_dir, "--format", "json", "--select", "performance.holdout_metrics"),
    )
    assert result.exit_code in (0, 1), result.output
    assert result.stderr.strip() == ""
    assert [p.name for p in files_under(out_dir)] == ["audit.json"]
    audit = json.loads((out_dir / "audit.json").read_text(encoding="utf-8"))
    assert audit["target"] == "y"
    assert audit["manifest"]["spec"]["trust_model"] is True


def test_skops_with_foreign_function_is_audited_with_trust_model(env, tmp_path):
    out_dir = tmp_path / "out"
    args = _skops_with_foreign_function(env)
    result = invoke(
        "audit",
        *args,
        "--trust-model",
        *("--out-dir", out_dir, "--format", "json", "--select", "performance.holdout_metrics"),
    )
    assert result.exit_code in (0, 1), result.output
    assert [p.name for p in files_under(out_dir)] == ["audit.json"]
    audit = json.loads((out_dir / "audit.json").read_text(encoding="utf-8"))
    assert audit["manifest"]["model"] == "FunctionTransformer > LogisticRegression"
    holdout = next(c for c in audit["checks"] if c["id"] == "performance.holdout_metrics")
    assert holdout["status"] != "skipped"  # the model scored the test rows


def test_skops_file_cannot_run_code_through_an_auto_trusted_numpy_function(env, tmp_path):
    """Without --trust-model, no code from the model file may run.

    The pipeline below uses only functions from numpy (``numpy.shape``, ``numpy.full``,
    ``numpy.take`` and ``numpy.testing``'s ``runstring``, which calls ``exec``), so it slips
    through a trust rule that accepts every ``numpy.*`` name. Predicting with it executes the
    payload string, which here only writes a marker file.
    """
    from numpy.testing._private.utils import runstring
    from sklearn.dummy import DummyClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    marker = tmp_path / "payload_ran"
    payload = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    final = DummyClassifier().fit(np.zeros((4, 1)), [0, 1, 0, 1])
    model = make_pipeline(
        FunctionTransformer(np.shape),
        FunctionTransformer(np.full, kw_args={"fill_value": payload}),
        FunctionTransformer(np.take, kw_args={"indices": 0}),
        FunctionTransformer(runstring, kw_args={"dict": {}}),
        final,
    )
    path = env.work / "innocent.skops"
    skops.io.dump(model, path)
    assert "numpy.testing._private.utils.runstring" in skops.io.get_untrusted_types(file=path)

    out_dir = tmp_path / "out"
    result = invoke(
        "audit", "--test", env.small_test, "--target", "y", "--model", path, "--out-dir", out_dir
    )
    assert not marker.exists(), "the model file ran code without --trust-model"
    assert_bad_input(result, out_dir, "'innocent.skops'", "--trust-model")


# --- exit 0, 1 and 3 ----------------------------------------------------------------------


def test_sample_config_passes_with_exit_0_from_any_directory(loans, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the config's relative paths resolve against its folder
    out_dir = tmp_path / "out"
    result = invoke(
        "audit",
        "--config",
        loans["config"],
        "--out-dir",
        out_dir,
        "--format",
        "html,json",
        # Paths are under test, not the checks: two that read every input are enough.
        *("--select", "data.missing_values", "--select", "performance.holdout_metrics"),
    )
    assert result.exit_code == 0, result.output
    assert "Gate: passed" in result.stdout
    assert [p.name for p in files_under(out_dir)] == ["audit.json", "report.html"]
    assert list(elsewhere.iterdir()) == []
    audit = json.loads((out_dir / "audit.json").read_text(encoding="utf-8"))
    assert audit["gate"] == {"passed": True, "reasons": []}


def test_gate_threshold_not_met_exits_1_and_still_writes_reports(loans, tmp_path):
    config = tmp_path / "audit.toml"
    config.write_text(
        "\n".join(
            [
                f'train = "{loans["train"].as_posix()}"',
                f'test = "{loans["test"].as_posix()}"',
                f'model = "{loans["model"].as_posix()}"',
                'target = "default"',
                'formats = ["json"]',
                "[columns]",
                'id = "application_id"',
                "[gate.metrics]",
                "roc_auc = { min = 0.99 }",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    out_dir = tmp_path / "out"
    result = invoke(
        "audit", "--config", config, "--out-dir", out_dir, "--select", "performance.holdout_metrics"
    )
    assert result.exit_code == 1, result.output
    assert "Gate: FAILED" in result.stdout
    assert [p.name for p in files_under(out_dir)] == ["audit.json"]
    gate = json.loads((out_dir / "audit.json").read_text(encoding="utf-8"))["gate"]
    assert gate["passed"] is False
    assert len(gate["reasons"]) == 1
    assert "ROC AUC" in gate["reasons"][0]
    assert "0.99" in gate["reasons"][0]


def test_internal_error_exits_3_and_says_so(loans, tmp_path, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("boom in run_audit")

    monkeypatch.setattr("auditor.api.run_audit", crash)
    out_dir = tmp_path / "out"
    result = invoke("audit", "--test", loans["test"], "--target", "default", "--out-dir", out_dir)
    assert result.exit_code == 3, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("internal error: RuntimeError: boom in run_audit")
    assert "Traceback" in result.stderr
    assert files_under(out_dir) == []
    assert not os.path.exists(out_dir)


# --- auditor render: a bad audit.json is bad input too -----------------------------------


@pytest.fixture(scope="module")
def audit_dict(binary_split, binary_model) -> dict:
    import auditor

    train, test = binary_split
    return auditor.audit(train=train, test=test, target="y", model=binary_model).to_dict()


def _edited(change: Callable[[dict], object]) -> Callable[[dict], str]:
    def build(data: dict) -> str:
        data = json.loads(json.dumps(data))
        change(data)
        return json.dumps(data)

    return build


RENDER_BAD_INPUTS = [
    ("missing-file", None, "html", ("'audit.json'", "does not exist")),
    ("not-json", lambda d: "{not json", "html", ("'audit.json'", "not valid JSON")),
    ("not-an-audit", lambda d: "{}", "html", ("'audit.json'", "schema_version")),
    (
        "newer-schema",
        _edited(lambda d: d.update(schema_version=99)),
        "html",
        ("'audit.json'", "99"),
    ),
    ("incomplete", _edited(lambda d: d.pop("checks")), "html", ("'audit.json'", "'checks'")),
    ("unknown-format", lambda d: json.dumps(d), "docx", ("'docx'", "html")),
    (
        "unknown-check-status",
        _edited(lambda d: d["checks"][0].update(status="bogus")),
        "html",
        ("'audit.json'", "'bogus'"),
    ),
    (
        "unknown-task",
        _edited(lambda d: d.update(task="weird")),
        "html",
        ("'audit.json'", "'weird'"),
    ),
]


@pytest.mark.parametrize(
    ("build", "fmt", "needles"),
    [case[1:] for case in RENDER_BAD_INPUTS],
    ids=[case[0] for case in RENDER_BAD_INPUTS],
)
def test_render_bad_input_exits_2_and_writes_nothing(build, fmt, needles, audit_dict, tmp_path):
    source = tmp_path / "in" / "audit.json"
    source.parent.mkdir()
    if build is not None:
        source.write_text(build(audit_dict), encoding="utf-8")
    out_dir = tmp_path / "out"
    result = invoke("render", source, "--format", fmt, "-o", out_dir / "report.out")
    assert_bad_input(result, out_dir, *needles)
    assert sorted(p.name for p in source.parent.iterdir()) == (
        [] if build is None else ["audit.json"]
    )


def test_render_of_a_valid_audit_json_succeeds(audit_dict, tmp_path):
    """Control for the cases above: the unedited dictionary renders."""
    source = tmp_path / "audit.json"
    source.write_text(json.dumps(audit_dict), encoding="utf-8")
    result = invoke("render", source, "--format", "html", "-o", tmp_path / "report.html")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
