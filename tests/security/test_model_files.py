"""Hostile model files: deciding trust runs nothing, and a loaded model cannot run code later.

Each attack comes with a harmless look-alike that must still load, so a check that simply
refuses everything fails these tests too.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io
from typer.testing import CliRunner

from auditor.cli.app import app
from auditor.errors import InputError
from auditor.io.models import MAX_SCHEMA_BYTES, is_auto_trusted, load_model

runner = CliRunner()


def invoke(*args: str | Path, env: dict[str, str] | None = None):
    return runner.invoke(app, [str(a) for a in args], env=env)


def assert_refused(result, out_dir: Path, *needles: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert not out_dir.exists()


@pytest.fixture(scope="module")
def xy() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    return X, pd.Series((X["a"] + 0.5 * rng.normal(size=300) > 0).astype(int), name="y")


@pytest.fixture
def test_csv(xy, tmp_path) -> Path:
    X, y = xy
    path = tmp_path / "test.csv"
    X.assign(y=y).to_csv(path, index=False)
    return path


def rewrite_schema(path: Path, edit) -> None:
    """Apply ``edit`` to a skops file's schema.json, keeping its other members."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    schema = json.loads(members["schema.json"])
    edit(schema)
    members["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


# --- the trust decision imports nothing the file names ------------------------------------


@pytest.mark.parametrize(
    "module",
    ["numpy.f2py.__main__", "numpy.distutils.system_info", "setup", "sklearn.setup", "pydoc"],
)
def test_type_names_are_not_imported_to_decide_trust(module, tmp_path):
    """A planted ``setup.py`` and a planted ``gcc`` would show any import or spawn."""
    marker = tmp_path / "ran"
    (tmp_path / "setup.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    gcc = tmp_path / "gcc"
    gcc.write_text(f"#!/bin/sh\ntouch {marker}\n")
    gcc.chmod(0o755)
    probe = (
        "import sys\n"
        "from auditor.io.models import is_auto_trusted\n"
        f"trusted = is_auto_trusted({module + '.Anything'!r})\n"
        f"print(trusted, {module!r} in sys.modules)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={"PATH": f"{tmp_path}:/usr/bin:/bin", "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["False", "False"]
    assert not marker.exists()


@pytest.mark.parametrize(
    ("name", "trusted"),
    [
        ("sklearn.linear_model._logistic.LogisticRegression", True),
        ("sklearn.tree._tree.Tree", True),
        ("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor", True),
        ("sklearn.neural_network._stochastic_optimizers.AdamOptimizer", True),
        ("numpy.float64", True),
        ("numpy.dtype", True),
        ("scipy.sparse._csr.csr_matrix", True),
        ("numpy.memmap", False),
        ("numpy.load", False),
        ("sklearn.utils._testing.MinimalClassifier", False),
        ("sklearn.base.clone", False),
        ("os.system", False),
        ("builtins.exec", False),
        ("sklearn.linear_model._logistic.LogisticRegression.fit", False),
    ],
)
def test_only_listed_classes_are_trusted_without_the_flag(name, trusted):
    assert is_auto_trusted(name) is trusted


def test_a_skops_file_naming_an_importable_module_is_refused(xy, test_csv, tmp_path):
    from sklearn.linear_model import LogisticRegression

    path = tmp_path / "model.skops"
    skops.io.dump(LogisticRegression().fit(*xy), path)

    def rename(schema):
        schema["__class__"], schema["__module__"] = "system_info", "numpy.distutils.system_info"

    rewrite_schema(path, rename)
    out_dir = tmp_path / "out"
    result = invoke(
        "audit", "--test", test_csv, "--target", "y", "--model", path, "--out-dir", out_dir
    )
    assert_refused(result, out_dir, "numpy.distutils.system_info.system_info", "--trust-model")


# --- crafted index arrays are refused before anything predicts ----------------------------


def _tree_with_bad_child(xy):
    from sklearn.tree import DecisionTreeClassifier

    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(*xy)
    state = model.tree_.__getstate__()
    nodes = state["nodes"].copy()
    nodes["left_child"][0] = 10**9
    model.tree_.__setstate__({**state, "nodes": nodes})
    return model


def _tree_with_cycle(xy):
    from sklearn.tree import DecisionTreeClassifier

    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(*xy)
    state = model.tree_.__getstate__()
    nodes = state["nodes"].copy()
    nodes["right_child"][nodes["left_child"][0]] = 0  # a child pointing back at the root
    model.tree_.__setstate__({**state, "nodes": nodes})
    return model


def _predictor_with_bad_feature(xy):
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(max_iter=3, random_state=0).fit(*xy)
    model._predictors[0][0].nodes["feature_idx"][0] = 10**6
    return model


def _predictor_with_bad_child(xy):
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(max_iter=3, random_state=0).fit(*xy)
    model._predictors[1][0].nodes["right"][0] = 4_000_000_000
    return model


def _kd_tree_with_bad_index(xy):
    from sklearn.neighbors import KNeighborsClassifier

    model = KNeighborsClassifier(algorithm="kd_tree").fit(*xy)
    data, index, node_data, bounds = model._tree.get_arrays()
    index[0] = 10**7
    return model


@pytest.mark.parametrize(
    ("craft", "needle"),
    [
        (_tree_with_bad_child, "left child 1000000000"),
        (_tree_with_cycle, "right child 0"),
        (_predictor_with_bad_feature, "feature 1000000"),
        (_predictor_with_bad_child, "right child 4000000000"),
        (_kd_tree_with_bad_index, "row index points outside its data"),
    ],
)
def test_crafted_index_arrays_are_refused_with_or_without_trust(
    craft, needle, xy, test_csv, tmp_path
):
    path = tmp_path / "model.skops"
    skops.io.dump(craft(xy), path)
    for trust in ([], ["--trust-model"]):
        out_dir = tmp_path / f"out{len(trust)}"
        result = invoke(
            "audit",
            "--test",
            test_csv,
            "--target",
            "y",
            "--model",
            path,
            "--out-dir",
            out_dir,
            *trust,
        )
        assert_refused(result, out_dir, "'model.skops'", needle, "damaged or crafted")


@pytest.mark.parametrize("kind", ["tree", "forest", "hist", "knn_kd", "knn_ball"])
def test_genuine_trees_load_and_predict_without_the_flag(kind, xy, tmp_path):
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.tree import DecisionTreeClassifier

    model = {
        "tree": DecisionTreeClassifier(random_state=0),
        "forest": RandomForestClassifier(n_estimators=5, random_state=0),
        "hist": HistGradientBoostingClassifier(max_iter=5, random_state=0),
        "knn_kd": KNeighborsClassifier(algorithm="kd_tree"),
        "knn_ball": KNeighborsClassifier(algorithm="ball_tree"),
    }[kind].fit(*xy)
    path = tmp_path / "model.skops"
    skops.io.dump(model, path)
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(xy[0]), model.predict(xy[0]))


def test_categorical_splits_of_a_genuine_model_pass_the_checks(tmp_path):
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    # An array: with a DataFrame the model also holds a functools.partial (needs the flag).
    X = np.column_stack([rng.integers(0, 6, 400), rng.normal(size=400)])
    y = ((X[:, 0] % 2 == 0) ^ (X[:, 1] > 1)).astype(int)
    model = HistGradientBoostingClassifier(max_iter=5, categorical_features=[0]).fit(X, y)
    assert (model._predictors[0][0].nodes["is_categorical"] == 1).any()
    path = tmp_path / "model.skops"
    skops.io.dump(model, path)
    np.testing.assert_array_equal(load_model(path).predict(X), model.predict(X))


# --- sizes are checked before anything is decompressed ------------------------------------


def test_a_zip_bomb_schema_is_refused_before_decompression(xy, tmp_path):
    from sklearn.linear_model import LogisticRegression

    path = tmp_path / "bomb.skops"
    skops.io.dump(LogisticRegression().fit(*xy), path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    padding = b" " * (MAX_SCHEMA_BYTES + 1)  # valid JSON whitespace, compresses to ~300 KB
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data + padding if name == "schema.json" else data)
    assert path.stat().st_size < 2_000_000
    with pytest.raises(InputError, match="zip bomb"):
        load_model(path)


def test_a_normal_schema_is_far_below_the_cap(loans):
    with zipfile.ZipFile(loans["model"]) as archive:
        assert archive.getinfo("schema.json").file_size < MAX_SCHEMA_BYTES / 100
    assert load_model(loans["model"]) is not None


# --- the loaded model cannot reach files or caches ----------------------------------------


class _Boom:
    """Unpickling this runs a command that leaves a marker (a poisoned joblib cache entry)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pipeline_cache_is_switched_off_so_a_poisoned_cache_never_loads(
    xy, test_csv, tmp_path, monkeypatch
):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = xy
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    model = make_pipeline(StandardScaler(), LogisticRegression(), memory="model_cache").fit(X, y)
    path = work / "model.skops"
    skops.io.dump(model, path)
    # Poison every cache entry the refits could look up.
    marker = tmp_path / "payload_ran"
    for entry in (work / "model_cache").rglob("output.pkl"):
        joblib.dump(_Boom(marker), entry)
    train = work / "train.csv"
    X.assign(y=y).to_csv(train, index=False)
    out_dir = work / "out"
    result = invoke(
        "audit",
        *("--train", train, "--test", test_csv, "--target", "y", "--model", path),
        *("--out-dir", out_dir, "--format", "json"),
        *("--select", "performance.cross_validation", "--select", "baseline.comparison"),
    )
    assert result.exit_code in (0, 1), result.output
    assert not marker.exists(), "a refit unpickled the poisoned cache"
    assert "memory='model_cache' was switched off" in result.stderr
    notes = json.loads((out_dir / "audit.json").read_text())["manifest"]["notes"]
    assert any("memory='model_cache' was switched off" in note for note in notes)


def test_a_pipeline_without_a_cache_gets_no_note(xy, test_csv, tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    path = tmp_path / "model.skops"
    skops.io.dump(make_pipeline(StandardScaler(), LogisticRegression()).fit(*xy), path)
    notes: list[str] = []
    load_model(path, notes=notes)
    assert notes == []


def test_a_vectorizer_that_opens_files_named_in_the_data_needs_trust(tmp_path):
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    docs = ["good loan", "bad loan", "good", "bad"] * 5
    labels = [1, 0, 1, 0] * 5
    for mode, needs_trust in (("content", False), ("filename", True)):
        model = make_pipeline(CountVectorizer(), LogisticRegression()).fit(docs, labels)
        model.set_params(countvectorizer__input=mode)
        path = tmp_path / f"{mode}.skops"
        skops.io.dump(model, path)
        if needs_trust:
            with pytest.raises(InputError, match="input='filename', which opens files"):
                load_model(path)
        assert load_model(path, trust_model=True) is not None


# --- trust from a config file needs the flag or the environment as well -------------------


def test_trust_model_in_a_config_file_alone_does_not_unpickle(xy, test_csv, tmp_path):
    from sklearn.linear_model import LogisticRegression

    marker = tmp_path / "payload_ran"
    model_path = tmp_path / "model.pkl"
    joblib.dump(_Boom(marker), model_path)
    config = tmp_path / "audit.toml"
    config.write_text(
        f'test = "{test_csv.name}"\ntarget = "y"\nmodel = "model.pkl"\ntrust_model = true\n'
    )
    out_dir = tmp_path / "out"
    result = invoke(
        "audit", "--config", config, "--out-dir", out_dir, env={"AUDITOR_TRUST_MODEL": ""}
    )
    assert result.exit_code == 2, result.output
    assert not marker.exists()
    (line,) = result.stderr.strip().splitlines()
    assert "'model.pkl' is a pickle" in line
    assert "also needs AUDITOR_TRUST_MODEL=1" in line

    joblib.dump(LogisticRegression().fit(*xy), model_path)
    allowed = invoke(
        "audit",
        *("--config", config, "--out-dir", out_dir, "--format", "json"),
        *("--select", "performance.holdout_metrics"),
        env={"AUDITOR_TRUST_MODEL": "1"},
    )
    assert allowed.exit_code in (0, 1), allowed.output
    assert allowed.stderr == ""
