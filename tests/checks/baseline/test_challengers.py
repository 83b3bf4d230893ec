"""``baseline.challengers``: the candidate against a champion and challengers, paired, Holm."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from typer.testing import CliRunner

from _factories_evaluation import fitted, run, split
from auditor.cli.app import app
from auditor.evaluation import HOLDOUT_STREAM
from auditor.inputs import load_inputs
from auditor.spec import AuditSpec, ColumnRolesSpec, EvaluationSettings, spec_from_mapping
from auditor.stats.bootstrap import resample_weights
from auditor.stats.random import rng_for

CHECK_ID = "baseline.challengers"
COLUMNS = ("model", "role", "score", "difference", "low", "high", "bootstrap p", "Holm p")


@pytest.fixture(scope="module")
def data():
    return split("binary", 7, n_train=1200, n_test=600)


def logistic(columns: list[str]):
    """Logistic regression on ``columns`` ('colour' one-hot encoded)."""
    numeric = [c for c in columns if c != "colour"]
    parts = [("passthrough", numeric)] if numeric else []
    if "colour" in columns:
        parts.append((OneHotEncoder(), ["colour"]))
    return make_pipeline(make_column_transformer(*parts), LogisticRegression())


@pytest.fixture(scope="module")
def models(data):
    """A champion on colour alone; the candidate without x0; a challenger with every
    feature (clearly better); the candidate's recipe fitted on other training rows (equal)."""
    train, _ = data
    first, second = train.iloc[:600], train.iloc[600:]
    return {
        "champion": fitted(logistic(["colour"]), train),
        "candidate": fitted(logistic(["x1", "colour"]), first),
        "better": fitted(logistic(["x0", "x1", "colour"]), train),
        "equal": fitted(logistic(["x1", "colour"]), second),
    }


def context(test, models, *, train=None, challengers=("better", "equal"), **spec):
    return load_inputs(
        AuditSpec(target="y", **spec),
        train=train,
        test=test,
        model=models["candidate"],
        baseline_model=models["champion"],
        challengers=[models[name] for name in challengers],
    ).context


def rows_by_model(result) -> dict[str, dict]:
    (table,) = result.tables
    return {row[0]: dict(zip(table.columns, row, strict=True)) for row in table.rows}


def test_the_better_challenger_is_recommended_and_the_equal_one_is_within_noise(data, models):
    _, test = data
    result = run(context(test, models), CHECK_ID)
    rows = rows_by_model(result)
    better, equal = rows["challenger 1 (Pipeline)"], rows["challenger 2 (Pipeline)"]
    champion = rows["Champion (Pipeline)"]  # given in memory: named by its type
    assert better["result"] == "candidate worse"
    assert better["Holm p"] < 0.05
    assert equal["result"] == "not different beyond noise"
    assert equal["Holm p"] >= 0.05
    assert champion["result"] == "candidate better"
    assert result.summary.startswith(
        "Challenger 'challenger 1 (Pipeline)' is better than the candidate by "
        f"{-better['difference']:.3f} (ROC AUC candidate - challenger {better['difference']:+.3f}"
    )
    assert result.status == "warn"
    assert [f.code for f in result.findings] == ["challenger_better"]
    assert result.findings[0].evidence["model"] == "challenger 1 (Pipeline)"


def test_a_candidate_that_ties_the_champion_keeps_the_champion(data, models):
    _, test = data
    tied = {**models, "champion": models["equal"]}
    result = run(context(test, tied, challengers=("champion",)), CHECK_ID)
    assert result.summary.startswith(
        "Keep the champion: the candidate is not better beyond noise (ROC AUC candidate - champion "
    )
    assert "), and no challenger is better than the candidate." in result.summary
    assert [f.code for f in result.findings] == ["not_better_than_champion"]
    assert result.status == "warn"


def test_a_candidate_better_than_every_model_ships(data, models):
    _, test = data
    ahead = {**models, "candidate": models["better"], "better": models["candidate"]}
    result = run(context(test, ahead, challengers=("better",)), CHECK_ID)
    assert result.summary.startswith("Ship the candidate: it is better than the champion")
    assert result.status == "pass"
    assert result.findings == ()


def test_a_champion_better_than_the_candidate_fails(data, models):
    _, test = data
    behind = {**models, "champion": models["better"]}
    result = run(context(test, behind, challengers=("equal",)), CHECK_ID)
    assert result.summary.startswith("Keep the champion: it is better than the candidate by")
    assert [f.code for f in result.findings] == ["champion_better"]
    assert result.status == "fail"


def test_holm_and_the_weights_match_a_hand_computation(data, models):
    """Every model on the same weighted resamples; Holm's step-down computed by hand.

    The three rivals differ from the candidate by little: their p-values (about 0.02,
    0.09 and 0.12 here) make every step of the adjustment count.
    """
    train, test = data
    close = {
        "candidate": models["candidate"],
        "champion": fitted(logistic(["x1", "colour", "x3"]), train.iloc[200:400]),
        "better": fitted(logistic(["x1", "colour", "x2", "x3"]), train.iloc[900:]),
        "equal": fitted(logistic(["x1", "colour", "x2"]), train.iloc[300:600]),
    }
    weighted = test.assign(w=np.random.default_rng(3).integers(1, 4, len(test)).astype(float))
    ctx = context(
        weighted,
        close,
        columns=ColumnRolesSpec(weight="w"),
        evaluation=EvaluationSettings(bootstrap_resamples=200),
    )
    rows = rows_by_model(run(ctx, CHECK_ID))
    X = test.drop(columns="y")
    proba = {name: model.predict_proba(X)[:, 1] for name, model in close.items()}
    resamples = np.vstack(list(resample_weights(len(test), 200, rng_for(0, HOLDOUT_STREAM))))
    weights = weighted["w"].to_numpy()

    def auc(name, w):
        return roc_auc_score(test["y"], proba[name], sample_weight=w)

    expected_p = {}
    for name, label in (
        ("champion", "Champion (Pipeline)"),
        ("better", "challenger 1 (Pipeline)"),
        ("equal", "challenger 2 (Pipeline)"),
    ):
        d = np.array([auc("candidate", r * weights) - auc(name, r * weights) for r in resamples])
        expected_p[label] = min(1.0, 2 * min(np.mean(d <= 0), np.mean(d >= 0)))
        row = rows[label]
        assert row["difference"] == pytest.approx(auc("candidate", weights) - auc(name, weights))
        assert (row["low"], row["high"]) == pytest.approx(tuple(np.quantile(d, [0.025, 0.975])))
        assert row["bootstrap p"] == pytest.approx(expected_p[label])
    # Holm by hand: the smallest p times 3, the next times 2 (never below the first), the
    # largest as is (never below the second); capped at 1.
    (a, p1), (b, p2), (c, p3) = sorted(expected_p.items(), key=lambda item: item[1])
    first = min(1.0, 3 * p1)
    second = max(first, min(1.0, 2 * p2))
    third = max(second, p3)
    assert [rows[a]["Holm p"], rows[b]["Holm p"], rows[c]["Holm p"]] == pytest.approx(
        [first, second, third]
    )
    # Each step counted: the smallest p is significant alone but not over three
    # comparisons, and the largest is raised to the one before it.
    assert p1 < 0.05 < first
    assert third > p3
    assert rows[a]["result"] == "not different beyond noise"


def test_without_challengers_the_check_is_skipped_with_the_reason(data, models):
    _, test = data
    result = run(context(test, models, challengers=()), CHECK_ID)
    assert result.status == "skipped"
    assert "--challenger" in result.skip_reason


def test_the_config_key_is_resolved_beside_the_config_file(tmp_path):
    spec = spec_from_mapping(
        {"challengers": ["lr.skops", "hgb.skops"]}, where="audit.toml", base_dir=tmp_path
    )
    assert spec.challengers == (str(tmp_path / "lr.skops"), str(tmp_path / "hgb.skops"))
    assert spec.to_manifest()["challengers"] == ["lr.skops", "hgb.skops"]


@pytest.fixture(scope="module")
def files(tmp_path_factory, data, models):
    import skops.io

    train, test = data
    folder = tmp_path_factory.mktemp("challenger_cli")
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    for name, model in models.items():
        skops.io.dump(model, folder / f"{name}.skops")
    return folder


def audit_args(files, *extra: str) -> list[str]:
    return [
        "audit",
        *("--test", str(files / "test.csv"), "--target", "y"),
        *("--model", str(files / "candidate.skops")),
        *("--baseline-model", str(files / "champion.skops")),
        *extra,
    ]


def test_the_cli_flag_is_repeatable_and_records_each_challenger(files):
    out = files / "out"
    result = CliRunner().invoke(
        app,
        audit_args(
            files,
            *("--challenger", str(files / "better.skops")),
            *("--challenger", str(files / "equal.skops")),
            *("--select", CHECK_ID, "--format", "json", "--out-dir", str(out)),
        ),
    )
    assert result.exit_code == 0, result.output
    audit = json.loads((out / "audit.json").read_text())
    assert [(f["role"], f["file_name"]) for f in audit["inputs"]][-2:] == [
        ("challenger", "better.skops"),
        ("challenger", "equal.skops"),
    ]
    assert audit["manifest"]["spec"]["challengers"] == ["better.skops", "equal.skops"]
    (check,) = audit["checks"]
    # Files are named by their stem: the suffix adds nothing and breaks figure labels.
    assert [row[0] for row in check["tables"][0]["rows"]] == [
        "Candidate",
        "Champion (champion)",
        "better",
        "equal",
    ]
    assert check["summary"].startswith("Challenger 'better' is better than the candidate")


def test_a_pickled_challenger_needs_trust(files, models):
    import joblib

    joblib.dump(models["better"], files / "other.pkl")
    out = files / "refused"
    result = CliRunner().invoke(
        app,
        audit_args(files, "--challenger", str(files / "other.pkl"), "--out-dir", str(out)),
    )
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: --challenger 'other.pkl' is a pickle")
    assert "--trust-model" in lines[0]
    assert not out.exists()


def test_the_api_takes_estimators_and_paths_together(files, data, models):
    import auditor

    _, test = data
    result = auditor.audit(
        test=test,
        target="y",
        model=models["candidate"],
        challengers=[models["equal"], files / "better.skops"],
        select=[CHECK_ID],
    )
    (check,) = result.checks
    assert [row[0] for row in check.tables[0].rows] == [
        "Candidate",
        "challenger 1 (Pipeline)",
        "better",
    ]
    assert [f.file_name for f in result.inputs if f.role == "challenger"] == ["better.skops"]
