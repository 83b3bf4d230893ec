"""A corpus of hostile inputs for the `auditor` CLI, each judged against the tool's promise.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/hostile_corpus.py --python .venv/bin/python

This script needs numpy, pandas, pyarrow, scikit-learn and skops, and never imports auditor:
``--python`` may be an older checkout's interpreter. Each case builds its inputs in a folder
of its own and runs ``python -m auditor ...`` there (a timeout, 4 GiB of address space, no
network). It behaves when bad input (unreadable file, unknown column, misaligned predictions,
invalid config, hostile model) exits 2 with one stderr line ``error: ...`` and writes nothing;
when a hostile model runs no code without --trust-model (its canary file never appears);
when awkward but legitimate input completes (exit 0 or 1) with every report asked, valid and
with markup escaped; and when nothing outlives its timeout. The api family expects
``auditor.audit(...)`` to raise an InputError with a one-line message.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn import compose, datasets, ensemble, tree
from sklearn.feature_extraction import text as text_features
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

MEMORY_LIMIT = 4 << 30
TIMEOUT = 120.0
CANARY = "PWNED"
XSS = "<script>alert(1)</script>"
MARKUP = f"{XSS}{{{{7*7}}}}](javascript:x)"
MD_MARKUP = f"MARK|PIPE{XSS}MARK`TICK"  # Markdown output must escape the pipe and backtick
MD_RAW = ("<script>", "MARK|PIPE", "MARK`TICK")
REPORTS = dict(
    json="audit.json", html="report.html", pdf="report.pdf", junit="junit.xml", md="summary.md"
)
FULL = "json,html,md,junit"
FEATURES = ["x1", "x2"]
HOLDOUT = ("performance.holdout_metrics",)

Setup = Callable[[Path], None]


@dataclasses.dataclass(frozen=True)
class Expect:
    """What a case may do and still behave: ``refuse`` (exit 2, one ``error: `` line, no new
    file), ``complete`` (an exit code in ``codes``, no traceback, ``outputs`` written and
    valid), ``api`` (an InputError with a one-line message); ``canary`` names a file a payload
    would create, ``max_mib`` the most resident memory the run may take."""

    refuse: bool = True
    complete: bool = False
    outputs: tuple[str, ...] = ()
    codes: tuple[int, ...] = (0, 1)
    api: bool = False
    canary: str | None = None
    max_mib: float | None = None

    def describe(self) -> str:
        parts = ["InputError with a one-line message"] if self.api else []
        if self.refuse:
            parts.append("exit 2 with one 'error:' line and nothing written")
        if self.complete:
            wrote = f" writing {', '.join(self.outputs)}" if self.outputs else ""
            parts.append(f"exit {'/'.join(map(str, self.codes))}{wrote}")
        limit = f", under {self.max_mib:.0f} MiB" if self.max_mib else ""
        return " or ".join(parts) + (", no code run" if self.canary else "") + limit


REFUSE = Expect()
REFUSE_SAFELY = Expect(canary=CANARY)


def complete(formats: str = "json", *, refuse: bool = False) -> Expect:
    """A finished audit writing every format asked (with refuse=True, exit 2 also behaves)."""
    outputs = tuple(f"out/{REPORTS[f]}" for f in formats.split(","))
    return Expect(refuse=refuse, complete=True, outputs=outputs)


def either(formats: str = "json") -> Expect:
    return complete(formats, refuse=True)


@dataclasses.dataclass(frozen=True)
class Case:
    family: str
    name: str
    argv: tuple[str, ...]  # after `python -m auditor`; for the api family, the script
    expect: Expect = REFUSE
    setup: Setup | None = None
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    timeout: float = TIMEOUT
    teardown: Setup | None = None


@dataclasses.dataclass(frozen=True)
class Run:
    """What one child process did."""

    dir: Path
    code: int | None
    stdout: str
    stderr: str
    new_files: list[str]
    seconds: float
    peak_mib: float
    timed_out: bool


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One judged case, flat so that it serializes as it is for --json."""

    family: str
    name: str
    expected: str
    behaved: bool
    exit_code: int | None
    seconds: float
    peak_mib: int
    stderr: str
    problem: str
    checks_in_error: tuple[str, ...] = ()

    def line(self) -> str:
        lines = self.stderr.splitlines()
        said = lines[0] if lines else "(no stderr)"
        if len(lines) > 1:
            said += f" ... {lines[-1]}"
        said = said if len(said) <= 220 else said[:217] + "..."
        problem = f" [{self.problem}]" if self.problem else ""
        errored = f" {{checks in error: {', '.join(self.checks_in_error)}}}"
        return (
            f"{'PASS' if self.behaved else 'FAIL'} {self.family} {self.name}: "
            f"expected {self.expected}, got exit {self.exit_code} "
            f"in {self.seconds:.1f}s and {self.peak_mib} MiB, "
            f"{said}{problem}{errored if self.checks_in_error else ''}"
        )


# --- building hostile inputs ---------------------------------------------------------------


def put(files: Mapping[str, object]) -> Setup:
    """A setup writing each file: bytes and str as they are, frames as CSV or Parquet."""

    def setup(case_dir: Path) -> None:
        for name, content in files.items():
            path = case_dir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, pd.DataFrame) and name.endswith(".parquet"):
                content.to_parquet(path, index=False)
            elif isinstance(content, pd.DataFrame):
                content.to_csv(path, index=False)
            elif isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(str(content), encoding="utf-8")

    return setup


def chain(*setups: Setup) -> Setup:
    def setup(case_dir: Path) -> None:
        for step in setups:
            step(case_dir)

    return setup


def mkdir(name: str) -> Setup:
    return lambda case_dir: (case_dir / name).mkdir(parents=True)


def symlink(name: str, target: str) -> Setup:
    return lambda case_dir: (case_dir / name).symlink_to(target)


def payload(name: str) -> Setup:
    """Write a hand-made pickle that creates the canary file when it is loaded."""

    def setup(case_dir: Path) -> None:
        canary = str(case_dir / CANARY).encode()
        (case_dir / name).write_bytes(b"\x80\x02cbuiltins\nopen\n(V" + canary + b"\nVw\ntR.")

    return setup


def pickle_of(module: str, cls: str) -> bytes:
    """A hand-made pickle of ``module.cls()``."""
    return b"\x80\x02c" + f"{module}\n{cls}\n".encode() + b")R."


def zip_of(members: Mapping[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def skops_variant(src: Path, schema_edit=None, npy_edit=None) -> bytes:
    """Rewrite a skops zip, editing its schema.json (a dict) and its first matching array.

    ``npy_edit`` returns an edited array, or None to leave the array as it is.
    """
    out = io.BytesIO()
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "schema.json" and schema_edit is not None:
                schema = json.loads(data)
                schema_edit(schema)
                data = json.dumps(schema).encode()
            elif info.filename.endswith(".npy") and npy_edit is not None:
                edited = npy_edit(np.load(io.BytesIO(data), allow_pickle=False))
                if edited is not None:
                    npy_edit, buffer = None, io.BytesIO()
                    np.save(buffer, edited, allow_pickle=False)
                    data = buffer.getvalue()
            zout.writestr(info.filename, data)
    return out.getvalue()


def retype(name: str, loader: str = "ObjectNode", first: str | None = None):
    """A schema edit giving a node the dotted type ``name``: the top-level node, or the first
    node loaded by ``first`` (FunctionNode, MethodNode)."""
    module, _, cls = name.rpartition(".")

    def find(node):
        if isinstance(node, dict):
            if node.get("__loader__") == first:
                return node
            node = list(node.values())
        if not isinstance(node, list):
            return None
        return next((hit for child in node if (hit := find(child)) is not None), None)

    def edit(schema: dict) -> None:
        node = schema if first is None else find(schema)
        node.update({"__module__": module, "__class__": cls})
        if first is None:
            node["__loader__"] = loader

    return edit


def node_edit(internal: Callable[[np.ndarray], np.ndarray], **values: int):
    """An npy edit setting fields of the first internal node of a tree's node array."""

    def edit(array: np.ndarray) -> np.ndarray | None:
        if not set(values) <= set(array.dtype.names or ()):
            return None
        where = np.flatnonzero(internal(array))
        if not len(where):
            return None
        array = array.copy()
        for field, value in values.items():
            array[field][where[0]] = value
        return array

    return edit


def zip_bomb(gib: float = 3.75) -> bytes:
    """A ~4 MB zip whose schema.json inflates to ``gib`` GiB of zeros (small enough for zip32).

    Each deflate block of 1 MiB of zeros ends with a full flush, so the blocks are identical
    and the stream is built by repeating one of them.
    """
    chunk, mib = bytes(1 << 20), int(gib * 1024)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = (packer.compress(chunk) + packer.flush(zlib.Z_FULL_FLUSH)) * mib + packer.flush()
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(chunk, crc)
    name, sizes = b"schema.json", struct.pack("<III", crc, len(data), mib << 20)
    local = b"PK\x03\x04" + struct.pack("<5H", 20, 0, 8, 0, 0) + sizes
    local += struct.pack("<HH", len(name), 0) + name
    central = b"PK\x01\x02" + struct.pack("<6H", 20, 20, 0, 8, 0, 0) + sizes
    central += struct.pack("<5HII", len(name), 0, 0, 0, 0, 0, 0) + name
    end = struct.pack("<4HIIH", 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    return local + data + central + b"PK\x05\x06" + end


HOSTILE_MODELS = """\
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
class _Binary(ClassifierMixin, BaseEstimator):
    classes_ = np.array([0, 1])
    def fit(self, X, y):
        return self
class RaisingClassifier(_Binary):
    def predict(self, X):
        raise RuntimeError("predict is broken on purpose")
    predict_proba = predict
class WildProbaClassifier(_Binary):
    def predict(self, X):
        return np.zeros(len(X), dtype=int)
    def predict_proba(self, X):
        p = np.linspace(-3.0, 4.0, len(X))
        return np.column_stack([1 - p, p])
class ShortClassifier(_Binary):
    def predict(self, X):
        return np.zeros(len(X) // 2, dtype=int)
    def predict_proba(self, X):
        return np.full((len(X) // 2, 2), 0.5)
class NaNRegressor(RegressorMixin, BaseEstimator):
    def fit(self, X, y):
        return self
    def predict(self, X):
        return np.full(len(X), np.nan)
"""


# --- shared fixtures -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Fixtures:
    """Seeded data and models that the families make hostile variants of."""

    dir: Path
    python: str
    train: pd.DataFrame
    test: pd.DataFrame
    diabetes_test: pd.DataFrame

    def path(self, name: str) -> str:
        return str(self.dir / name)

    def read(self, name: str) -> bytes:
        return (self.dir / name).read_bytes()


def binary_frame(rng: np.random.Generator, n: int, first_id: int) -> pd.DataFrame:
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    return pd.DataFrame(
        {
            "id": np.arange(first_id, first_id + n),
            "x1": x1.round(4),
            "x2": x2.round(4),
            "cat": rng.choice(["a", "b", "c"], size=n),
            "y": (x1 + 0.5 * x2 + rng.normal(scale=0.8, size=n) > 0).astype(int),
        }
    )


def build_fixtures(root: Path, python: str) -> Fixtures:
    """Binary (synthetic), multiclass (iris) and regression (diabetes) data, models, files."""
    folder = root / "fixtures"
    (folder / "docs").mkdir(parents=True)
    rng = np.random.default_rng(0)
    train, test = binary_frame(rng, 300, 1), binary_frame(rng, 200, 1001)
    X, y = train[FEATURES], train["y"]
    logreg = LogisticRegression().fit(X, y)
    proba = logreg.predict_proba(test[FEATURES])[:, 1]
    pred = pd.DataFrame({"id": test["id"], "prediction": (proba > 0.5).astype(int)})
    bound = FunctionTransformer(StandardScaler().fit(X).transform)
    hgb = ensemble.HistGradientBoostingClassifier(max_iter=3, max_leaf_nodes=4, random_state=0)
    models = {
        "logreg": logreg,
        "tree": tree.DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y),
        "hgb": hgb.fit(X, y),
        "func": Pipeline([("f", FunctionTransformer(np.nan_to_num)), ("m", LogisticRegression())]),
        "method": Pipeline([("f", bound), ("m", LogisticRegression())]),
        "scaler": StandardScaler().fit(X),
        "unfitted": LogisticRegression(),
        "other": LogisticRegression().fit(X.rename(columns={"x1": "z"}), y),
    }
    models["func"].fit(X, y)
    models["method"].fit(X, y)
    docs = [str(folder / "docs" / f"{i % 7}.txt") for i in range(len(train))]
    for i in range(7):
        (folder / "docs" / f"{i}.txt").write_text(" ".join(["alpha", "beta", "gamma"][: i % 3 + 1]))
    for name, vectorizer in (("countvec", "CountVectorizer"), ("tfidf", "TfidfVectorizer")):
        vectorizer = getattr(text_features, vectorizer)(input="filename")
        text = [("text", vectorizer, "doc"), ("num", "passthrough", FEATURES)]
        model = Pipeline(
            [("columns", compose.ColumnTransformer(text)), ("m", LogisticRegression())]
        )
        models[name] = model.fit(train[FEATURES].assign(doc=docs), y)

    iris = datasets.load_iris(as_frame=True).frame.sample(frac=1.0, random_state=0)
    iris["species"] = np.array(["setosa", "versicolor", "virginica"])[iris.pop("target")]
    iris_train, iris_test = iris.iloc[:100], iris.iloc[100:]
    iris_model = LogisticRegression(max_iter=1000)
    iris_model.fit(iris_train.drop(columns="species"), iris_train["species"])
    iris_proba = iris_model.predict_proba(iris_test.drop(columns="species"))
    iris_pred = pd.DataFrame(iris_proba, columns=[f"proba_{c}" for c in iris_model.classes_])
    iris_pred.insert(0, "prediction", iris_model.classes_[iris_proba.argmax(axis=1)])

    diabetes = datasets.load_diabetes(as_frame=True).frame
    diabetes_train, diabetes_test = diabetes.iloc[:300], diabetes.iloc[300:]
    models["ridge"] = Ridge().fit(diabetes_train.drop(columns="target"), diabetes_train["target"])

    for name, model in models.items():
        sio.dump(model, folder / f"{name}.skops")
    for name, frame in {
        "train": train,
        "test": test,
        "pred": pred.assign(proba_1=proba),
        "iris_test": iris_test,
        "iris_pred": iris_pred,
        "diabetes_train": diabetes_train,
        "diabetes_test": diabetes_test,
    }.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return Fixtures(folder, python, train, test, diabetes_test.reset_index(drop=True))


def run_tool(python: str, cwd: Path, argv: list[str]) -> None:
    """Run auditor for a setup step (not judged)."""
    subprocess.run(
        [python, "-m", "auditor", *argv],
        cwd=cwd,
        env=child_env(cwd),
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )


def audit(
    test: str,
    *,
    target: str = "y",
    select: tuple[str, ...] = ("data.missing_values",),
    formats: str = "json",
    out: str = "out",
    extra: tuple[str, ...] = (),
    **flags: str,
) -> tuple[str, ...]:
    """argv of `auditor audit`; ``flags`` such as train=, model=, id_column= add options."""
    argv = ["audit", "--test", test, "--target", target, "--format", formats, "--out-dir", out]
    for flag, value in flags.items():
        argv += [f"--{flag.replace('_', '-')}", value]
    for check in select:
        argv += ["--select", check]
    return (*argv, *extra)


# --- the families -----------------------------------------------------------------------------


def files_cases(fx: Fixtures) -> Iterator[Case]:
    """Unreadable, malformed, empty, special or enormous data files."""

    def case(name, setup=None, expect=REFUSE, test="test.csv", **flags):
        return Case("files", name, audit(test, **flags), expect, setup, timeout=30)

    frame, text, rng = fx.test, fx.test.to_csv(index=False), np.random.default_rng(1)
    parquet = io.BytesIO()
    frame.to_parquet(parquet, index=False)
    wide = pd.DataFrame(rng.normal(size=(200, 2000)).round(3)).add_prefix("c")
    latin = text.replace("a,", "caf\u00e9,").encode("latin-1")
    ragged = "id,x1,x2,cat,y\n" + "1,0.5,0.1,a,1\n2,0.3,0.2,b,0,extra,fields\n3,0.1\n" * 40
    yield case("empty_file", put({"test.csv": b""}))
    yield case("header_only", put({"test.csv": "id,x1,x2,cat,y\n"}))
    yield case("header_only_parquet", put({"t.parquet": frame.iloc[:0]}), test="t.parquet")
    yield case("zero_byte_parquet", put({"t.parquet": b""}), test="t.parquet")
    yield case("binary_garbage", put({"test.csv": rng.bytes(4096)}))
    yield case("directory", mkdir("test.csv"))
    yield case("missing_file")
    yield case("fifo", lambda d: os.mkfifo(d / "test.csv"))
    yield case("dev_zero", test="/dev/zero")
    yield case("symlink_to_dev_zero", symlink("test.csv", "/dev/zero"))
    yield case("symlink_loop", symlink("test.csv", "test.csv"))
    yield case("non_utf8_bytes", put({"test.csv": latin}), either())
    yield case("utf16", put({"test.csv": text.encode("utf-16")}), either())
    yield case("utf8_bom", put({"test.csv": b"\xef\xbb\xbf" + text.encode()}), either())
    yield case("crlf", put({"test.csv": text.replace("\n", "\r\n")}), complete())
    yield case("duplicate_columns_csv", put({"test.csv": text.replace("x2", "x1", 1)}))
    yield case("duplicate_columns_parquet", duplicate_parquet(frame), test="t.parquet")
    yield case("one_class_target", put({"test.csv": frame.assign(y=1)}), either())
    yield case("all_nan_target", put({"test.csv": frame.assign(y=np.nan)}), either())
    yield case("one_row", put({"test.csv": frame.iloc[:1]}), either())
    yield case("2000_columns", put({"test.csv": wide.assign(y=frame["y"])}), either())
    yield case("unknown_suffix", put({"test.xlsx": frame}), test="test.xlsx")
    yield case("parquet_holding_csv", put({"t.parquet": text}), test="t.parquet")
    yield case("csv_holding_parquet", put({"test.csv": parquet.getvalue()}))
    yield case("truncated_parquet", put({"t.parquet": parquet.getvalue()[:600]}), test="t.parquet")
    yield case("fake_gzip", put({"test.csv.gz": text}), test="test.csv.gz")
    yield case("ragged_rows", put({"test.csv": ragged}), either())
    yield case("nul_bytes", put({"test.csv": text.replace("a,", "a\x00,")}), either())
    yield case("only_target_column", put({"test.csv": frame[["y"]]}), either())
    yield case("header_longer_than_rows", put({"test.csv": "," + text}), either())
    yield case("semicolon_separated", put({"test.csv": text.replace(",", ";")}))
    huge = frame.assign(cat=["z" * 10_000_000] + ["a"] * 199)
    yield case("10mb_cell", put({"test.csv": huge}), either())
    test = fx.path("test.csv")
    yield case("garbage_train", put({"tr.csv": rng.bytes(2048)}), test=test, train="tr.csv")
    no_target = put({"tr.csv": fx.train.drop(columns="y")})
    yield case("train_without_target", no_target, test=test, train="tr.csv")


def duplicate_parquet(frame: pd.DataFrame) -> Setup:
    """A Parquet file with two columns named x1 (pandas cannot write one)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = ["id", "x1", "x1", "y"]
    table = pa.Table.from_arrays([pa.array(frame[c]) for c in names], names=names)
    return lambda case_dir: pq.write_table(table, case_dir / "t.parquet")


def columns_values_cases(fx: Fixtures) -> Iterator[Case]:
    """Unknown columns, hostile names and values, markup everywhere a report shows text."""
    train, test, model = fx.path("train.csv"), fx.path("test.csv"), fx.path("logreg.skops")

    def case(name, argv, expect=REFUSE, setup=None):
        return Case("columns_values", name, argv, expect, setup)

    def frames(name, test, select, train=None, expect=None, formats=FULL, **kw):
        """An audit of edited copies of the train and test data."""
        files = put({"test.csv": test, "train.csv": fx.train if train is None else train})
        argv = audit("test.csv", train="train.csv", select=select, formats=formats, **kw)
        return case(name, argv, expect or complete(formats), files)

    def both(**columns) -> dict:
        """Train and test frames with the same columns added (or replaced)."""
        return {"test": fx.test.assign(**columns), "train": fx.train.assign(**columns)}

    yield case("unknown_target", audit(test, target="nope"))
    yield case("target_with_newline", audit(test, target="y\nerror: forged second line"))
    for flag in ("id_column", "time_column", "group_column", "sensitive"):
        yield case(f"unknown_{flag}", audit(test, train=train, **{flag: "nope"}))
    yield case("sensitive_with_newline", audit(test, sensitive="a\nb"))
    yield case("unknown_select", audit(test, select=("data.nope",)))
    yield case("unknown_skip", audit(test, extra=("--skip", "nope.check")))
    task = ("--task", "binary")
    yield case("binary_task_on_float_target", audit(fx.path("diabetes_test.csv"), extra=task))
    task = ("--task", "regression")
    species = audit(fx.path("iris_test.csv"), target="species", extra=task)
    yield case("regression_task_on_strings", species)
    positive = audit(test, model=model, select=HOLDOUT, extra=("--positive-class", "7"))
    yield case("positive_class_unknown", positive)
    yield case("target_as_id_column", audit(test, id_column="y"), either())

    checks = (*HOLDOUT, "data.out_of_range", "data.feature_drift", "performance.calibration")
    extreme = fx.test.astype({"x1": float})
    extreme.loc[:9, "x1"] = [1e308, -1e308] * 5
    argv = audit("test.csv", model=model, select=checks, formats=FULL)
    yield case("plus_minus_1e308", argv, complete(FULL), put({"test.csv": extreme}))
    infs = fx.test.astype({"x2": object})
    infs.loc[:5, "x2"] = ["inf", "-inf", "nan", "Infinity", "-Infinity", "NaN"]
    argv = audit("test.csv", model=model, select=HOLDOUT)
    yield case("inf_strings_with_model", argv, either(), put({"test.csv": infs}))
    lists = {
        f"{k}.parquet": f.assign(tags=[[i, -i] for i in range(len(f))]) for k, f in both().items()
    }
    for frame in lists.values():
        frame["point"] = [{"a": i, "b": "s"} for i in range(len(frame))]
    argv = audit("test.parquet", train="train.parquet", select=("data",), formats="json,html,md")
    yield case("parquet_list_struct_columns", argv, complete("json,html,md"), put(lists))
    data = ("data",)
    yield frames("train_column_test_lacks", fx.test, data, fx.train.assign(only_train=1.0))
    yield frames("test_column_train_lacks", fx.test.assign(only_test="q"), data)
    holes = np.where(np.arange(200) % 3 == 0, 1.0, np.nan)
    holes = {"test": fx.test.assign(h=holes), "train": fx.train.assign(h=np.nan)}

    def named(*names: str) -> dict:
        """Columns with many missing values (so findings name them), in train and test."""
        added = {n: np.nan for n in names[1:]}
        return {k: v.rename(columns={"h": names[0]}).assign(**added) for k, v in holes.items()}

    missing = ("data.missing_values", "data.constant_columns")
    unicode = ("\u0645\u0631\u062d\u0628\u0627", "\U0001f4a5", "zero\u200bwidth", "e\u0301")
    yield frames("unicode_column_names", select=missing, **named(*unicode))
    yield frames("markup_column_names", select=missing, **named(MARKUP, "a|b`c`", "&amp;<b>"))
    yield frames("10000_character_column_name", select=missing, **named("L" * 10_000))
    yield frames("newline_column_name", select=missing, **named("line\nbreak", "tab\tand\r"))
    digits = {"x1": "0", "x2": "1"}
    yield frames("numeric_column_names", fx.test.rename(columns=digits), data, formats="json")
    values = ("data.unseen_categories", "data.mixed_types")
    yield frames("markup_values", fx.test.assign(cat=[MARKUP, "<b>x</b>"] * 100), values)
    label = {"y": lambda f: np.where(f["y"] == 1, XSS, "{{7*7}}")}
    labels = ("data.class_imbalance", "data.conflicting_labels", "leakage.target")
    yield frames("markup_labels", select=labels, **both(**label))
    renamed = {k: v.rename(columns={"y": MARKUP}) for k, v in both().items()}
    yield frames("markup_target_name", select=labels[::2], target=MARKUP, **renamed)
    mixed = fx.test.astype({"x2": object})
    mixed.loc[::2, "x2"] = "text"
    yield frames("mixed_types", mixed, ("data.mixed_types", "data.out_of_range"))
    long_values = fx.test.assign(cat=["v" * 100_000, "w"] * 100)
    yield frames("100k_character_values", long_values, data, formats="json")
    yield frames("all_nan_feature", fx.test.assign(x2=np.nan), data, formats="json")
    big = np.iinfo(np.int64)
    ranges = ("data.out_of_range", "data.feature_drift")
    yield frames("int64_extremes", fx.test.assign(x1=[big.max, big.min] * 100), ranges)
    yield frames("boolean_target", select=labels[:1], **both(y=lambda f: f["y"] == 1))
    yield frames("constant_everything", select=data, formats="json", **both(x1=1.0, cat="a"))
    times = ["2024-01-01T00:00:00+00:00", "2024-01-02 03:00", "not a date", "2024-01-03-05:00"]
    dates = {"test": fx.test.assign(t=times * 50), "train": fx.train.assign(t="2023")}
    temporal = ("leakage.temporal",)
    yield frames("mixed_timezones", select=temporal, expect=either(), time_column="t", **dates)


def predictions_cases(fx: Fixtures) -> Iterator[Case]:
    """Predictions files that are missing, misaligned or impossible."""
    pred = pd.read_csv(fx.path("pred.csv"))
    iris = pd.read_csv(fx.path("iris_pred.csv"))
    diabetes = pd.DataFrame({"prediction": fx.diabetes_test["target"] * 0.9})
    p, every_fifth = pred["proba_1"], pred.index % 5 == 0

    def case(name, frame, expect=REFUSE, test="test.csv", target="y", file="pred.csv", **kw):
        argv = audit(fx.path(test), target=target, predictions=file, select=HOLDOUT, **kw)
        return Case("predictions", name, argv, expect, put({file: frame}))

    def multiclass(name, frame, expect=REFUSE):
        return case(name, frame, expect, test="iris_test.csv", target="species")

    def regression(name, frame):
        return case(name, frame, test="diabetes_test.csv", target="target")

    yield case("valid", pred, complete())
    yield case("missing_prediction_column", pred.drop(columns="prediction"))
    yield case("nan_predictions", pred.assign(prediction=pred["prediction"].where(~every_fifth)))
    yield case("proba_above_one", pred.assign(proba_1=p + 0.7))
    yield case("proba_below_zero", pred.assign(proba_1=p - 0.7))
    yield case("proba_nan", pred.assign(proba_1=p.where(~every_fifth)))
    yield case("proba_inf", pred.assign(proba_1=p.where(~every_fifth, np.inf)))
    yield case("proba_strings", pred.assign(proba_1="high"))
    yield case("proba_all_nan", pred.assign(proba_1=np.nan))
    yield case("proba_as_list_column", pred.assign(proba_1=[[x] for x in p]), file="p.parquet")
    yield multiclass("valid_multiclass", iris, complete())
    yield multiclass("not_summing_to_one", iris.assign(proba_setosa=iris["proba_setosa"] + 0.5))
    yield multiclass("unknown_class_column", iris.assign(proba_dragon=0.0))
    yield multiclass("missing_class_column", iris.drop(columns="proba_virginica"))
    yield case("fewer_rows", pred.iloc[:150])
    yield case("more_rows", pd.concat([pred, pred.iloc[:20]]))
    twice = pred["id"].where(pred.index != 3, pred["id"][4])
    yield case("duplicated_ids", pred.assign(id=twice), id_column="id")
    yield case("ids_missing", pred.iloc[10:], id_column="id")
    yield case("ids_nan", pred.assign(id=pred["id"].where(~every_fifth)), id_column="id")
    maybe = pred["prediction"].astype(str).where(~every_fifth, "maybe")
    yield case("unknown_label", pred.assign(prediction=maybe))
    yield case("empty_file", b"")
    yield case("garbage_bytes", np.random.default_rng(2).bytes(3000))
    yield regression("regression_nan", diabetes.assign(prediction=np.nan))
    yield regression("regression_strings", diabetes.assign(prediction="lots"))
    yield case("model_and_predictions", pred, model=fx.path("logreg.skops"))
    str_ids = pred.assign(id=pred["id"].astype(str)).sample(frac=1.0, random_state=0)
    yield case("str_ids_int_test_ids", str_ids, complete(), file="p.parquet", id_column="id")
    shuffled = pred.sample(frac=1.0, random_state=1)
    yield case("shuffled_rows_joined_on_id", shuffled, complete(), id_column="id")
    yield case("one_class_no_proba", pred[["prediction"]].assign(prediction=0), complete())
    segment = fx.test.assign(region=np.array(["n", "s", "e", "w"])[np.arange(200) % 4])
    right = np.where(segment["region"] == "w", 1 - segment["y"], segment["y"])
    perfect = pd.DataFrame({"prediction": right, "proba_1": right.astype(float)})
    checks = (*HOLDOUT, "performance.calibration", "slices.weak_segments")
    argv = audit("test.csv", predictions="pred.csv", formats=FULL, select=checks)
    files = put({"test.csv": segment, "pred.csv": perfect})
    yield Case("predictions", "perfect_outside_one_segment", argv, complete(FULL), files)


# Type names a crafted skops file may give its top-level object (module.attribute).
HOSTILE_TYPES = """
    os.system builtins.exec builtins.eval subprocess.Popen numpy.load numpy.memmap
    numpy.ctypeslib.load_library numpy.distutils.system_info.system_info
    numpy.f2py.__main__.main numpy.f2py.run_main scipy.sparse.load_npz joblib.load
    sklearn.utils.validation.Parameter
    sklearn.linear_model._logistic.LogisticRegression.__init__ pydoc.locate pydoc.pipepager
    setup.Payload
""".split()  # noqa: SIM905 - a list of 17 dotted names reads better as words


def models_cases(fx: Fixtures) -> Iterator[Case]:
    """Model files that try to run code, corrupt memory, exhaust memory or misbehave."""

    def case(name, setup, expect=REFUSE_SAFELY, timeout=TIMEOUT, env=None, test=None, **kw):
        kw = {"model": "model.skops", "select": HOLDOUT, **kw}
        argv = audit(test or fx.path("test.csv"), **kw)
        return Case("models", name, argv, expect, setup, env or {}, timeout)

    def variant(name, src, schema_edit=None, npy_edit=None, files=None):
        """A case whose model.skops is ``src`` edited, beside ``files``."""

        def setup(case_dir: Path) -> None:
            data = skops_variant(fx.dir / src, schema_edit, npy_edit)
            put({"model.skops": data, **(files or {})})(case_dir)

        return case(name, setup, timeout=30)

    for name in HOSTILE_TYPES:
        yield variant(f"type_{name}", "logreg.skops", retype(name))
    # setup.py is importable from the working directory, and importing it creates the canary.
    importable = {"setup.py": f"open({CANARY!r}, 'w').close()\nclass Payload: pass\n"}
    payload_type = retype("setup.Payload")
    yield variant("type_setup.Payload_importable", "logreg.skops", payload_type, files=importable)
    yield variant("unknown_loader", "logreg.skops", retype("os.system", loader="os.system"))
    for name in ("os.system", "builtins.exec", "numpy.load", "sklearn.datasets.load_svmlight_file"):
        yield variant(f"function_{name}", "func.skops", retype(name, first="FunctionNode"))
    yield variant("bound_method", "method.skops")
    yield variant("bound_method_of_os", "method.skops", retype("os.system", first="MethodNode"))

    def split(a):
        return a["left_child"] != -1

    def hgb_split(a):
        return a["is_leaf"] == 0

    for name, src, internal, values in (
        ("tree_child_out_of_range", "tree", split, {"left_child": 10**6}),
        ("tree_negative_child", "tree", split, {"right_child": -5}),
        ("tree_feature_out_of_range", "tree", split, {"feature": 10**6}),
        ("tree_cycle", "tree", split, {"left_child": 0}),
        ("hgb_left_out_of_range", "hgb", hgb_split, {"left": 10**6}),
        ("hgb_right_out_of_range", "hgb", hgb_split, {"right": 10**6}),
        ("hgb_feature_idx_out_of_range", "hgb", hgb_split, {"feature_idx": 10**6}),
        ("hgb_bitset_out_of_range", "hgb", hgb_split, {"is_categorical": 1, "bitset_idx": 10**6}),
    ):
        yield variant(name, f"{src}.skops", npy_edit=node_edit(internal, **values))
    bounded = dataclasses.replace(REFUSE_SAFELY, max_mib=1024)
    yield case("zip_bomb", put({"model.skops": zip_bomb()}), bounded, timeout=30)
    logreg = fx.read("logreg.skops")
    schema = zipfile.ZipFile(io.BytesIO(logreg)).read("schema.json")
    yield case("truncated_zip", put({"model.skops": logreg[: len(logreg) // 2]}))
    yield case("zip_not_skops", put({"model.skops": zip_of({"readme.txt": b"not a model"})}))
    yield case("npy_members_missing", put({"model.skops": zip_of({"schema.json": schema})}))
    yield variant("schema_emptied", "logreg.skops", schema_edit=dict.clear)
    yield variant("protocol_999", "logreg.skops", schema_edit=lambda s: s.update(protocol=999))
    yield case("empty_file", put({"model.skops": b""}))
    yield case("directory", mkdir("model.skops"))
    yield case("pickle", payload("model.pkl"), model="model.pkl")
    yield case("joblib", payload("model.joblib"), model="model.joblib")
    yield case("pickle_named_skops", payload("model.skops"))
    yield case("pickle_named_csv", payload("model.csv"), model="model.csv")
    baseline = {"model": fx.path("logreg.skops"), "select": ("baseline.comparison",)}
    yield case("baseline_model_pickle", payload("base.pkl"), baseline_model="base.pkl", **baseline)
    toml = (
        f'test = {fx.path("test.csv")!r}\ntarget = "y"\nmodel = "model.pkl"\ntrust_model = true\n'
    )
    trust_in_config = chain(payload("model.pkl"), put({"audit.toml": toml + 'out_dir = "out"'}))
    argv = ("audit", "--config", "audit.toml", "--format", "json", "--select", *HOLDOUT)
    yield Case("models", "trust_model_only_in_config", argv, REFUSE_SAFELY, trust_in_config)
    cv = {"train": fx.path("train.csv"), "select": ("performance.cross_validation",)}
    # The cache may be refused or switched off (docs/decisions.md); its pickles never load.
    safe_either = dataclasses.replace(either(), canary=CANARY)
    yield case("pipeline_memory_relative", poisoned_cache(fx, "cache_dir"), safe_either, **cv)
    yield case("pipeline_memory_absolute", poisoned_cache(fx, None), safe_either, **cv)
    secret = {"test.csv": fx.test.assign(doc="secret.txt"), "secret.txt": "TOPSECRET alpha"}
    for name in ("countvec", "tfidf"):
        files = put({**secret, "model.skops": fx.read(f"{name}.skops")})
        yield case(f"{name}_input_filename", files, test="test.csv")
    trust = {"env": {"PYTHONPATH": "."}, "extra": ("--trust-model",), "model": "m.pkl"}
    module = {"hostile_models.py": HOSTILE_MODELS}
    for cls, test, target in (
        ("RaisingClassifier", None, "y"),
        ("WildProbaClassifier", None, "y"),
        ("ShortClassifier", None, "y"),
        ("NaNRegressor", fx.path("diabetes_test.csv"), "target"),
    ):
        files = put({**module, "m.pkl": pickle_of("hostile_models", cls)})
        yield case(f"trusted_{cls}", files, either(), test=test, target=target, **trust)
    for name, src in (
        ("no_predict_method", "scaler"),
        ("unfitted", "unfitted"),
        ("other_features", "other"),
    ):
        yield case(name, put({"model.skops": fx.read(f"{src}.skops")}))
    formats = "html,pdf,json,junit,md"
    diabetes = {"train": fx.path("diabetes_train.csv"), "model": fx.path("ridge.skops")}
    full = audit(
        fx.path("diabetes_test.csv"), target="target", formats=formats, select=(), **diabetes
    )
    yield Case("models", "diabetes_ridge_full_audit", full, complete(formats), timeout=300)


def poisoned_cache(fx: Fixtures, memory: str | None) -> Setup:
    """A Pipeline(memory=...) whose joblib cache holds pickles that create the canary.

    A trusted run of the auditor under test fills the cache (so its entries match the refits
    the audit makes); every ``output.pkl`` is then replaced by the payload. ``memory`` None
    means an absolute path inside the case folder.
    """

    def setup(case_dir: Path) -> None:
        cache = case_dir / (memory or "abs_cache")
        steps = [("scale", StandardScaler()), ("clf", LogisticRegression())]
        model = Pipeline(steps, memory=memory or str(cache))
        sio.dump(model.fit(fx.train[FEATURES], fx.train["y"]), case_dir / "model.skops")
        cv = {"train": fx.path("train.csv"), "select": ("performance.cross_validation",)}
        argv = audit(
            fx.path("test.csv"), model="model.skops", out="filled", extra=("--trust-model",), **cv
        )
        run_tool(fx.python, case_dir, list(argv))
        shutil.rmtree(case_dir / "filled", ignore_errors=True)
        planted = list(cache.rglob("output.pkl"))
        if not planted:  # nothing cached: plant one where joblib keeps _fit_transform_one
            (cache / "joblib/sklearn/pipeline/_fit_transform_one/0").mkdir(parents=True)
            planted = [cache / "joblib/sklearn/pipeline/_fit_transform_one/0/output.pkl"]
        for path in planted:
            payload(str(path.relative_to(case_dir)))(case_dir)

    return setup


def config_cases(fx: Fixtures) -> Iterator[Case]:
    """Config files with invalid values, types, keys, structure or size; invalid flags."""
    base = f'test = {fx.path("test.csv")!r}\ntarget = "y"\nformats = ["json"]\nout_dir = "out"\n'
    argv = ("audit", "--config", "audit.toml", "--select", "data.missing_values")

    def case(name, toml, expect=REFUSE, setup=None):
        return Case("config", name, argv, expect, setup or put({"audit.toml": base + toml}))

    waiver = '[gate.waivers]\n"data.missing_values" = '

    def cli(name, *flags):
        return Case("config", name, audit(fx.path("test.csv"), extra=flags))

    yield case("valid", "", complete())
    for name, toml in (
        ("metric_min_nan", "[gate.metrics]\nroc_auc = { min = nan }\n"),
        ("metric_min_inf", "[gate.metrics]\nroc_auc = { min = inf }\n"),
        ("metric_max_minus_inf", "[gate.metrics]\nlog_loss = { max = -inf }\n"),
        ("metric_max_nan", "[gate.metrics]\nlog_loss = { max = nan }\n"),
        ("seed_negative", "seed = -1\n"),
        ("seed_huge", "seed = 9223372036854775807\n"),
        ("seed_float", "seed = 1.5\n"),
        ("seed_string", 'seed = "zero"\n'),
        ("seed_bool", "seed = true\n"),
        ("unknown_top_key", "sede = 1\n"),
        ("unknown_key_with_newline", '"a\\nerror: forged" = 1\n'),
        ("unknown_columns_key", "[columns]\nidd = 'id'\n"),
        ("unknown_gate_key", "[gate]\nfail_onn = ['fail']\n"),
        ("unknown_threshold_key", "[gate.metrics]\nroc_auc = { minimum = 0.8 }\n"),
        ("unknown_metric", "[gate.metrics]\nrocauc = { min = 0.8 }\n"),
        ("duplicated_table", "[gate]\nuse_interval = true\n[gate]\nuse_interval = false\n"),
        ("duplicated_key", "seed = 1\nseed = 2\n"),
        ("waiver_without_reason", f"{waiver}{{ expires = 2030-01-01 }}\n"),
        ("waiver_blank_reason", f'{waiver}{{ reason = "  " }}\n'),
        ("waiver_bad_expiry", f'{waiver}{{ reason = "ok", expires = "soon" }}\n'),
        ("waiver_unknown_check", '[gate.waivers]\n"nope.check" = { reason = "reviewed" }\n'),
        ("fail_on_unknown_status", "[gate]\nfail_on = ['explode']\n"),
        ("min_slice_support_two", "[gate]\nmin_slice_support = 2\n"),
        ("max_group_gap_nan", "[gate]\nmax_group_gap = nan\n"),
        ("max_overfit_gap_inf", "[gate]\nmax_overfit_gap = inf\n"),
        ("checks_unknown_id", '[checks."nope.check"]\nwarn_at = 1\n'),
        ("checks_unknown_param", '[checks."data.missing_values"]\nwarn_shar = 0.4\n'),
        ("checks_param_wrong_type", '[checks."data.missing_values"]\nwarn_share = "high"\n'),
        ("checks_param_nan", '[checks."data.missing_values"]\nwarn_share = nan\n'),
        ("n_jobs_zero", "n_jobs = 0\n"),
        ("trust_model_string", 'trust_model = "yes"\n'),
        ("task_unknown", 'task = "ranking"\n'),
        ("skip_unknown_check", 'skip = ["nope.check"]\n'),
        ("gate_not_a_table", "gate = 5\n"),
        ("metric_not_a_table", "[gate.metrics]\nroc_auc = 0.8\n"),
        ("nested_5000_deep", "deep = " + "[" * 5000 + "]" * 5000 + "\n"),
    ):
        yield case(name, toml)
    yield case("5mb_config_valid", "# padding\n" * 500_000, either())  # large, yet valid
    formats = put({"audit.toml": base.replace('["json"]', '"json"')})
    yield case("formats_a_string", "", setup=formats)
    yield case("test_missing", "", setup=put({"audit.toml": base.replace("test.csv", "nope.csv")}))
    garbage, latin = np.random.default_rng(3).bytes(2048), (base + "# caf\u00e9").encode("latin-1")
    yield case("binary_garbage", "", setup=put({"audit.toml": garbage}))
    yield case("non_utf8", "", setup=put({"audit.toml": latin}))
    yield case("directory", "", setup=mkdir("audit.toml"))
    yield case("missing", "", setup=lambda case_dir: None)
    pyproject = put({"pyproject.toml": "[project]\nname = 'x'\n"})
    yield Case(
        "config", "pyproject_without_table", argv[:2] + ("pyproject.toml",), REFUSE, pyproject
    )
    yield cli("cli_seed_negative", "--seed", "-1")
    yield cli("cli_seed_huge", "--seed", "99999999999999999999")
    yield cli("cli_seed_not_an_int", "--seed", "abc")
    yield cli("cli_n_jobs_negative", "--n-jobs", "-5")
    yield cli("cli_format_unknown", "--format", "docx")


def outputs_cases(fx: Fixtures) -> Iterator[Case]:
    """Out-dirs and job-summary paths that cannot be written."""

    def case(name, setup=None, expect=REFUSE, out="out", formats="json", env=None, **kw):
        argv = audit(fx.path("test.csv"), formats=formats, out=out)
        return Case("outputs", name, argv, expect, setup, env or {}, **kw)

    yield case("out_dir_unwritable", make_unwritable, teardown=release_unwritable)
    yield case("out_dir_is_a_file", put({"out": "a file"}))
    yield case("out_dir_beneath_a_file", put({"file": "a file"}), out="file/out")
    yield case("out_dir_dev_null", out="/dev/null")
    yield case("out_dir_name_too_long", out="x" * 300)
    yield case("out_dir_symlink_loop", symlink("out", "out"))
    yield case("audit_json_is_a_directory", mkdir("out/audit.json"))
    for name, summary, setup in (
        ("step_summary_is_a_directory", "summary_dir", mkdir("summary_dir")),
        ("step_summary_parent_missing", "missing/summary.md", None),
        ("step_summary_disk_full", "/dev/full", None),
    ):
        summary_env = {"GITHUB_STEP_SUMMARY": summary}
        yield case(name, setup, complete("json,md"), formats="json,md", env=summary_env)
    read_only = chain(put({"out/audit.json": "{}"}), lambda d: (d / "out/audit.json").chmod(0o444))
    yield case("existing_read_only_report", read_only, complete())
    yield case("formats_repeated", None, complete(), formats="json,json")
    every = "html,pdf,json,junit,md"
    yield case("every_format", None, complete(every), formats=every)


def make_unwritable(case_dir: Path) -> None:
    """An out-dir that exists but cannot be written to, by root too (immutable attribute)."""
    out = case_dir / "out"
    out.mkdir()
    out.chmod(0o500)
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(out)], check=True)


def release_unwritable(case_dir: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(case_dir / "out")], check=False)
    (case_dir / "out").chmod(0o700)


def build_render_base(fx: Fixtures) -> None:
    """audit.json of a small audit with curves, written by the auditor under test."""
    checks = (*HOLDOUT, "performance.calibration", "data.missing_values")
    argv = audit("test.csv", train="train.csv", model="logreg.skops", select=checks, out="base")
    run_tool(fx.python, fx.dir, list(argv))


def render_compare_cases(fx: Fixtures) -> Iterator[Case]:
    """`auditor render` and `auditor compare` on edited audit.json files."""
    base = fx.dir / "base" / "audit.json"
    nested = '{"schema_version": 1, "checks": ' + "[" * 100_000 + "]" * 100_000 + "}"

    def edited(edit=None, text=None) -> Setup:
        """Write the base audit.json edited (a function of the dict, then of the text)."""

        def setup(case_dir: Path) -> None:
            data = json.loads(base.read_text())
            if edit is not None:
                edit(data)
            body = json.dumps(data)
            (case_dir / "audit.json").write_text(body if text is None else text(body))
            shutil.copy(base, case_dir / "reference.json")

        return setup

    def render(name, setup, expect=REFUSE, fmt="html", output="r.html"):
        argv = ("render", "audit.json", "--format", fmt, "-o", output)
        return Case("render_compare", f"render_{name}", argv, expect, setup)

    def rendered(output="r.html", refuse=True):
        return Expect(refuse=refuse, complete=True, outputs=(output,), codes=(0,))

    def compare(name, setup, expect=REFUSE, extra=()):
        argv = ("compare", "reference.json", "audit.json", *extra)
        return Case("render_compare", f"compare_{name}", argv, expect, setup)

    def series(data):
        return next(c for c in data["checks"] if c["curves"])["curves"][0]["series"][0]

    def measurement(data):
        return next(c for c in data["checks"] if c["measurements"])["measurements"][0]

    def markup(data):
        data["checks"][0]["id"] = data["created_at"] = data["manifest"]["seed"] = MD_MARKUP

    for fmt, output in (("html", "r.html"), ("md", "r.md"), ("junit", "r.xml")):
        yield render(f"valid_{fmt}", edited(), rendered(output, refuse=False), fmt, output)
        yield render(f"markup_in_ids_{fmt}", edited(markup), rendered(output), fmt, output)
    yield render("nested_100000_deep", put({"audit.json": nested}))
    short_x = edited(lambda d: series(d).update(x=series(d)["x"][:2]))
    yield render("curve_x_y_lengths_differ", short_x, rendered())
    yield render("curve_x_strings", edited(lambda d: series(d).update(x=["a"] * 10)), rendered())
    yield render("manifest_is_5", edited(lambda d: d.update(manifest=5)), rendered())
    yield render("checks_is_a_string", edited(lambda d: d.update(checks="x")))
    yield render("checks_holds_numbers", edited(lambda d: d.update(checks=[5])))
    nan = edited(lambda d: measurement(d).update(value=float("nan")))
    yield render("nan_literal", nan, rendered("r.md"), "md", "r.md")
    inf = edited(lambda d: measurement(d).update(value=float("inf")))
    yield render("infinity_literal", inf, rendered())
    yield render("status_unknown", edited(lambda d: d["checks"][0].update(status="?")), rendered())
    digits = "9" * 100_000
    huge = edited(lambda d: d["manifest"].update(seed="H"), lambda t: t.replace('"H"', digits))
    yield render("seed_of_100000_digits", huge, rendered())
    yield render("50mb_file", edited(text=lambda t: t + " " * 50_000_000), rendered())
    yield render("schema_version_99", edited(lambda d: d.update(schema_version=99)))
    yield render("checks_key_missing", edited(lambda d: d.pop("checks")))
    yield render("output_is_a_directory", chain(edited(), mkdir("r.html")))
    yield render("not_json", put({"audit.json": "<html>not json</html>"}))
    yield render("empty_file", put({"audit.json": ""}))
    yield render("json_array", put({"audit.json": "[]"}))
    yield render("audit_json_is_a_directory", mkdir("audit.json"))
    yield render("format_unknown", edited(), fmt="docx")
    yield compare("valid", edited(), Expect(refuse=False, complete=True))
    yield compare("candidate_checks_is_a_string", edited(lambda d: d.update(checks="x")))
    yield compare("nested_100000_deep", put({"audit.json": nested, "reference.json": nested}))
    yield compare("task_mismatch", edited(lambda d: d.update(task="regression")))
    yield compare("nan_measurement", nan, Expect(complete=True))
    to_dir = ("-o", "cmp.md")
    yield compare("output_is_a_directory", chain(edited(), mkdir("cmp.md")), extra=to_dir)
    yield compare(
        "markup_in_ids", edited(markup), Expect(complete=True, outputs=("cmp.md",)), to_dir
    )
    yield compare("max_drop_nan", edited(), extra=("--max-drop", "nan"))


API_SCRIPT = """\
import json

import numpy as np
import pandas as pd

import auditor
from auditor.errors import InputError

test, train = pd.read_csv({test!r}), pd.read_csv({train!r})
try:
    auditor.audit({call})
except InputError as exc:
    print(json.dumps({{"raised": "InputError", "message": str(exc)}}))
else:
    print(json.dumps({{"raised": None}}))
"""


def api_cases(fx: Fixtures) -> Iterator[Case]:
    """`auditor.audit(...)` called from Python with hostile frames and arguments."""
    api = Expect(refuse=False, api=True)

    def case(name, call, select="data.missing_values", setup=None, expect=api):
        call = f"{call}, select=[{select!r}]"
        script = API_SCRIPT.format(test=fx.path("test.csv"), train=fx.path("train.csv"), call=call)
        files = put({"case.py": script})
        return Case("api", name, ("case.py",), expect, chain(files, setup) if setup else files)

    multiindex = "pd.MultiIndex.from_product([['a'], test.columns])"
    yield case("target_missing", 'test=test, target="nope"')
    yield case("empty_frame", 'test=test.iloc[:0], target="y"')
    yield case("test_is_a_list", 'test=[1, 2, 3], target="y"')
    yield case("train_is_a_dict", 'test=test, train={"x1": [1]}, target="y"')
    yield case("duplicate_columns", 'test=pd.concat([test, test[["x1"]]], axis=1), target="y"')
    yield case("multiindex_columns", f'test=test.set_axis({multiindex}, axis=1), target="y"')
    yield case("empty_column_name", 'test=test.rename(columns={"x1": ""}), target="y"')
    yield case("target_all_nan", 'test=test.assign(y=np.nan), target="y"')
    yield case("gate_unknown_key", 'test=test, target="y", gate={"fail_onn": ["fail"]}')
    yield case("checks_unknown_id", 'test=test, target="y", checks={"nope.check": {}}')
    yield case("seed_string", 'test=test, target="y", seed="zero"')
    yield case("task_unknown", 'test=test, target="y", task="ranking"')
    yield case("select_unknown", 'test=test, target="y"', select="nope.check")
    holdout = "performance.holdout_metrics"
    yield case("model_without_predict", 'test=test, target="y", model=object()', holdout)
    short = 'predictions=pd.DataFrame({"prediction": [0, 1]})'
    yield case("predictions_wrong_length", f'test=test, target="y", {short}', holdout)
    pickled = 'test=test, target="y", model="m.pkl"'
    safely = dataclasses.replace(api, canary=CANARY)
    yield case("model_pickle_path", pickled, holdout, payload("m.pkl"), safely)


CORPUS = {
    "files": files_cases,
    "columns_values": columns_values_cases,
    "predictions": predictions_cases,
    "models": models_cases,
    "config": config_cases,
    "outputs": outputs_cases,
    "render_compare": render_compare_cases,
    "api": api_cases,
}


# --- running and judging ---------------------------------------------------------------------


def child_env(case_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a run: one thread, temp files inside the case, no bytecode files."""
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_STEP_SUMMARY", "PYTHONPATH")}
    (case_dir / "tmp").mkdir(exist_ok=True)
    env.update(OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1", TMPDIR=str(case_dir / "tmp"))
    return {**env, "MPLBACKEND": "Agg", **(extra or {})}


def limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def snapshot(folder: Path) -> set[str]:
    """Every file (not folder) under ``folder``, relative, symlinks not followed."""
    found = set()
    for parent, _, names in os.walk(folder):
        found.update(os.path.relpath(os.path.join(parent, n), folder) for n in names)
    return found


def run_case(case: Case, python: str, root: Path) -> Outcome:
    case_dir = root / "cases" / f"{case.family}-{case.name}"
    case_dir.mkdir(parents=True)
    described = case.expect.describe()
    try:
        if case.setup is not None:
            case.setup(case_dir)
    except Exception as exc:  # noqa: BLE001 - a broken setup is reported, not fatal
        failed = f"setup failed: {type(exc).__name__}: {exc}"
        return Outcome(case.family, case.name, described, False, None, 0, 0, "", failed)
    prefix = [python] if case.family == "api" else [python, "-m", "auditor"]
    run = run_child(case, [*prefix, *case.argv], case_dir)
    problem = judge(case, run)
    if case.teardown is not None:
        case.teardown(case_dir)
    measured = (run.code, round(run.seconds, 2), round(run.peak_mib), run.stderr, problem or "")
    errored = checks_in_error(case_dir / "out" / "audit.json")
    return Outcome(case.family, case.name, described, problem is None, *measured, errored)


def run_child(case: Case, command: list[str], case_dir: Path) -> Run:
    """Run one command in the case folder: in a session of its own, memory-limited, timed."""
    env = child_env(case_dir, case.env)
    before = snapshot(case_dir)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            command,
            cwd=case_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            preexec_fn=limit_memory,
            start_new_session=True,
        )
        # wait4, not communicate: it also reports the child's peak resident memory.
        while (reaped := os.wait4(proc.pid, os.WNOHANG))[0] == 0:
            if time.perf_counter() - start > case.timeout:
                os.killpg(proc.pid, signal.SIGKILL)  # the whole session, workers included
                reaped = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(reaped[1])
        out.seek(0)
        err.seek(0)
        texts = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    new_files = sorted(snapshot(case_dir) - before)
    timed_out = seconds > case.timeout
    peak_mib = reaped[2].ru_maxrss / 1024
    return Run(case_dir, proc.returncode, *texts, new_files, seconds, peak_mib, timed_out)


def judge(case: Case, run: Run) -> str | None:
    """None when the case behaved, else what went wrong ("" when the exit code says it)."""
    expect = case.expect
    if run.timed_out:
        return f"no result within {case.timeout:.0f}s"
    if expect.canary and (run.dir / expect.canary).exists():
        return "the canary file appeared: the hostile payload ran"
    if expect.max_mib and run.peak_mib > expect.max_mib:
        return f"peak memory {run.peak_mib:.0f} MiB, above {expect.max_mib:.0f} MiB"
    if expect.api:
        return judge_api(run)
    if run.code == 2 and expect.refuse:
        lines = run.stderr.splitlines()
        if len(lines) != 1 or not lines[0].startswith("error: "):
            return f"stderr has {len(lines)} lines, not one 'error: ' line"
        return f"wrote {', '.join(run.new_files[:3])}" if run.new_files else None
    if run.code in expect.codes and expect.complete:
        if "Traceback (most recent call last)" in run.stderr:
            return "traceback on stderr"
        leftovers = [f for f in run.new_files if f.endswith(".tmp")]
        if leftovers:
            return f"left temporary files {', '.join(leftovers[:3])}"
        problems = [output_problem(run.dir / o) for o in expect.outputs]
        return "; ".join(p for p in problems if p) or None
    return ""


def judge_api(run: Run) -> str | None:
    lines = run.stdout.strip().splitlines()
    if run.code != 0 or not lines:
        return ""
    said = json.loads(lines[-1])
    if said["raised"] != "InputError":
        return "auditor.audit returned instead of raising InputError"
    return "the InputError message spans several lines" if "\n" in said["message"] else None


def output_problem(path: Path) -> str | None:
    """What is wrong with a written report, or None."""
    name = path.name
    if not path.is_file() or path.stat().st_size == 0:
        return f"{name} missing or empty"
    if name.endswith(".pdf"):
        return None if path.read_bytes().startswith(b"%PDF") else f"{name} is not a PDF"
    text = path.read_text(encoding="utf-8", errors="replace")
    if name.endswith(".json"):
        try:
            data = json.loads(text, parse_constant=reject_constant)
        except ValueError as exc:
            return f"{name} is not strict JSON ({str(exc)[:60]})"
        if name == "audit.json" and not (isinstance(data, dict) and "checks" in data):
            return f"{name} holds no checks"
    elif name.endswith(".xml"):
        try:
            ET.fromstring(text)
        except ET.ParseError as exc:
            return f"{name} is not well-formed XML ({exc})"
    elif name.endswith(".html") and XSS in text:
        return f"{name} holds a raw {XSS}"
    elif name.endswith(".md") and any(raw in text for raw in MD_RAW):
        return f"{name} holds raw {next(raw for raw in MD_RAW if raw in text)!r}"
    return None


def reject_constant(name: str) -> float:
    raise ValueError(f"{name} literal")


def checks_in_error(path: Path) -> tuple[str, ...]:
    """Ids of the checks an audit.json reports as crashed (status error), for the notes."""
    try:
        checks = json.loads(path.read_text())["checks"]
        return tuple(c["id"] for c in checks if c["status"] == "error")
    except (OSError, ValueError, KeyError, TypeError):
        return ()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter that runs auditor")
    parser.add_argument("--only", choices=list(CORPUS), help="run one family")
    parser.add_argument("--jobs", type=int, default=2, help="cases run at once (default 2)")
    parser.add_argument("--json", type=Path, help="write per-case results to this file")
    args = parser.parse_args()
    families = [args.only] if args.only else list(CORPUS)
    with tempfile.TemporaryDirectory(prefix="hostile_corpus.") as tmp:
        fx = build_fixtures(Path(tmp), args.python)
        cases = [case for family in families for case in CORPUS[family](fx)]
        if "render_compare" in families:
            build_render_base(fx)
        print(f"{len(cases)} cases, auditor run by {args.python}", file=sys.stderr)
        outcomes: dict[int, Outcome] = {}
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = {
                pool.submit(run_case, case, args.python, Path(tmp)): i
                for i, case in enumerate(cases)
            }
            for done, future in enumerate(as_completed(futures), 1):
                outcomes[futures[future]] = outcome = future.result()
                print(f"[{done}/{len(cases)}] {outcome.line()}", file=sys.stderr, flush=True)
    ordered = [outcomes[i] for i in range(len(cases))]
    for outcome in ordered:
        print(outcome.line())
    print(f"\n{'family':16} {'cases':>6} {'behaved':>8}")
    for family in families:
        mine = [o for o in ordered if o.family == family]
        print(f"{family:16} {len(mine):6} {sum(o.behaved for o in mine):8}")
    behaved = sum(o.behaved for o in ordered)
    print(f"behaved {behaved} of {len(ordered)}")
    if args.json:
        rows = [dataclasses.asdict(o) for o in ordered]
        args.json.write_text(json.dumps(rows, indent=2))
    return 0 if behaved == len(ordered) else 1


if __name__ == "__main__":
    sys.exit(main())
