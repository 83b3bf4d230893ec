"""Loading fitted models safely.

Deciding whether a file may be loaded never imports or runs anything the file names:

- Pickle and joblib files can run arbitrary code when loaded: refused without
  ``--trust-model``.
- A skops file is a zip of arrays and a JSON schema naming the types to rebuild. Its
  members' sizes are checked before anything is decompressed (a zip bomb is refused). skops
  trusts scikit-learn estimators itself; of the types it leaves to us, only classes on an
  explicit list are accepted without the flag: scikit-learn estimators and a few data-only
  internals, NumPy dtypes and scalar types, SciPy sparse containers. A name is resolved by
  looking it up in modules already imported (after importing scikit-learn's public
  subpackages, a fixed list of ours), never by importing what the file names. Functions are
  never accepted without the flag: a model calls them when it predicts.
- Types whose compiled code indexes arrays without bounds checks (decision trees, gradient
  boosting predictors, KD and ball trees) are accepted only after their index arrays are
  checked, with or without the flag: a crafted node array would crash the process at
  predict time and lose the audit.
- The loaded model is then made safe to refit: a joblib ``memory=`` cache (which unpickles
  whatever its folder holds) is switched off with a note, and text vectorizers that would
  open files named in the data are refused without the flag.
"""

from __future__ import annotations

import importlib
import logging
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from auditor.errors import InputError, preview
from auditor.io.files import existing_file

logger = logging.getLogger("auditor")

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".jbl")
_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_MAGIC = b"\x80"

# Decompressed sizes a skops file may claim before it is opened; models of tabular data
# are far smaller, and a zip bomb far larger.
MAX_SCHEMA_BYTES = 256 * 2**20
MAX_MODEL_BYTES = 8 * 2**30

# Importing these (scikit-learn's own public subpackages) defines every class an estimator
# is built from; a type name is then looked up in sys.modules, never imported by its name.
_SKLEARN_PACKAGES = frozenset(
    {
        "_loss",
        "base",
        "calibration",
        "cluster",
        "compose",
        "covariance",
        "cross_decomposition",
        "decomposition",
        "discriminant_analysis",
        "dummy",
        "ensemble",
        "feature_extraction",
        "feature_selection",
        "frozen",
        "gaussian_process",
        "impute",
        "isotonic",
        "kernel_approximation",
        "kernel_ridge",
        "linear_model",
        "manifold",
        "metrics",
        "mixture",
        "model_selection",
        "multiclass",
        "multioutput",
        "naive_bayes",
        "neighbors",
        "neural_network",
        "pipeline",
        "preprocessing",
        "random_projection",
        "semi_supervised",
        "svm",
        "tree",
    }
)

# scikit-learn internals that are not estimators but hold only numbers.
_DATA_ONLY_INTERNALS = frozenset(
    {
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.metrics._dist_metrics.EuclideanDistance32",
        "sklearn.metrics._dist_metrics.ManhattanDistance64",
        "sklearn.metrics._dist_metrics.ManhattanDistance32",
        "sklearn.metrics._dist_metrics.ChebyshevDistance64",
        "sklearn.metrics._dist_metrics.ChebyshevDistance32",
    }
)

# Callables a model may hold without the flag: scikit-learn wraps its own input validation
# in a partial (HistGradientBoosting with categorical features). A partial's target is
# listed and judged on its own.
_SAFE_CALLABLES = frozenset({"functools.partial", "sklearn.utils.validation.check_array"})

_TREE = "sklearn.tree._tree.Tree"
_PREDICTOR = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"
_KD_TREE = "sklearn.neighbors._kd_tree.KDTree"
_BALL_TREE = "sklearn.neighbors._ball_tree.BallTree"
# Types skops itself leaves untrusted because crafted index arrays crash their compiled code.
_INDEX_CHECKED = frozenset({_TREE, _PREDICTOR, _KD_TREE, _BALL_TREE})

# Every refusal says how to grant trust, including for a config file's trust_model = true.
TRUST_HINT = (
    "Re-run with --trust-model if you trust its source (trust_model = true in a config file "
    "also needs AUDITOR_TRUST_MODEL=1 in the environment)."
)

# Text vectorizers with input="filename" or "file" open whatever the data names.
_FILE_READING_INPUTS = ("filename", "file")


def load_model(
    path: str | Path,
    *,
    trust_model: bool = False,
    source: str = "--model",
    notes: list[str] | None = None,
) -> Any:
    """Load a fitted estimator from a skops, pickle or joblib file.

    Parameters
    ----------
    path : str or Path
        A ``.skops`` file (preferred), or a pickle/joblib file.
    trust_model : bool, default=False
        Allow pickle/joblib files and skops types outside the accepted list. Loading a
        pickle can run arbitrary code: pass it only for files you trust.
    source : str, default="--model"
        Where the path came from, named in errors.
    notes : list of str, optional
        Receives a sentence for each change made to the loaded model (a cache switched off).
    """
    path = existing_file(path, source)
    with path.open("rb") as handle:
        magic = handle.read(4)
    if not magic:
        raise InputError(f"{source} {path.name!r} is empty. Pass a fitted model saved with skops.")
    if magic == _ZIP_MAGIC and not path.name.lower().endswith(PICKLE_SUFFIXES):
        model = _load_skops(path, trust_model=trust_model, source=source)
    elif path.name.lower().endswith(PICKLE_SUFFIXES) or magic.startswith(_PICKLE_MAGIC):
        model = _load_pickle(path, trust_model=trust_model, source=source)
    else:
        raise InputError(
            f"{source} {path.name!r} is neither a skops nor a pickle/joblib file. "
            "Save the fitted model with skops.io.dump(model, 'model.skops')."
        )
    if not callable(getattr(model, "predict", None)):
        raise InputError(
            f"{source} {path.name!r} holds a {type(model).__name__}, which has no predict method. "
            "Pass a fitted scikit-learn compatible estimator or Pipeline."
        )
    try:
        made_safe = make_safe_to_run(
            model, trust_model=trust_model, source=f"{source} {path.name!r}"
        )
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - a model too odd to inspect is not run
        raise InputError(
            f"{source} {path.name!r} could not be inspected before use ({type(exc).__name__}). "
            "Save a plain fitted scikit-learn estimator or Pipeline with skops."
        ) from None
    for note in made_safe:
        logger.warning(note)
    if notes is not None:
        notes.extend(made_safe)
    return model


def _load_skops(path: Path, *, trust_model: bool, source: str) -> Any:
    import skops.io

    _check_archive(path, source)
    try:
        untrusted = skops.io.get_untrusted_types(file=path)
        refused = [name for name in untrusted if not is_auto_trusted(name)]
    except Exception as exc:  # noqa: BLE001 - any failure here means an unreadable file
        raise InputError(
            f"{source} {path.name!r} is not a readable skops file ({type(exc).__name__}). "
            "Save the fitted model with skops.io.dump(model, 'model.skops')."
        ) from None
    if refused and not trust_model:
        raise InputError(
            f"{source} {path.name!r} references {preview(refused)}, which could run code when "
            f"the model is used. {TRUST_HINT}"
        )
    try:
        return skops.io.load(path, trusted=untrusted)
    except Exception as exc:  # noqa: BLE001 - skops raises many types for one cause
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise InputError(
            f"{source} {path.name!r} could not be loaded by skops ({type(exc).__name__}: {message}). "
            "Save it again with the installed scikit-learn and skops versions."
        ) from None


def _check_archive(path: Path, source: str) -> None:
    """Refuse a skops zip whose members would decompress beyond sane sizes."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputError(
            f"{source} {path.name!r} is not a readable skops file ({type(exc).__name__}). "
            "Save the fitted model with skops.io.dump(model, 'model.skops')."
        ) from None
    schema = [m for m in members if m.filename == "schema.json"]
    total = sum(m.file_size for m in members)
    if (schema and schema[0].file_size > MAX_SCHEMA_BYTES) or total > MAX_MODEL_BYTES:
        raise InputError(
            f"{source} {path.name!r} would decompress to {total / 2**30:.1f} GiB "
            f"(limit {MAX_MODEL_BYTES / 2**30:.0f} GiB; schema.json at most "
            f"{MAX_SCHEMA_BYTES // 2**20} MiB): it is damaged or a zip bomb. Save the model again."
        )


def is_auto_trusted(name: str) -> bool:
    """Whether a type skops lists as untrusted is a safe class to load without the flag.

    Accepted: scikit-learn estimator classes and the data-only internals listed above,
    the index-checked types (checked after loading), NumPy dtypes and scalar types, SciPy
    sparse containers. Never a function, and never a class such as ``numpy.memmap`` whose
    construction touches files. Nothing the name points to is imported.
    """
    if name in _SAFE_CALLABLES:
        return True
    obj = _resolve_without_importing(name)
    if not isinstance(obj, type) or f"{obj.__module__}.{obj.__qualname__}" != name:
        return False
    if name.startswith("sklearn."):
        from sklearn.base import BaseEstimator

        return (
            issubclass(obj, BaseEstimator) or name in _DATA_ONLY_INTERNALS or name in _INDEX_CHECKED
        )
    if name.startswith("numpy."):
        return issubclass(obj, (np.dtype, np.generic))
    import scipy.sparse

    return issubclass(obj, (scipy.sparse.spmatrix, scipy.sparse.sparray))


def _resolve_without_importing(name: str) -> Any:
    """The object ``name`` denotes in an already imported module, or None."""
    module_name, _, attribute = name.rpartition(".")
    parts = module_name.split(".")
    if parts[0] == "sklearn":
        if len(parts) < 2 or parts[1] not in _SKLEARN_PACKAGES:
            return None
        importlib.import_module(f"sklearn.{parts[1]}")
    elif parts[:2] == ["scipy", "sparse"]:
        import scipy.sparse  # noqa: F401 - defines the sparse containers looked up below
    elif parts[0] != "numpy":
        return None
    module = sys.modules.get(module_name)
    return None if module is None else vars(module).get(attribute)


def _load_pickle(path: Path, *, trust_model: bool, source: str) -> Any:
    if not trust_model:
        raise InputError(
            f"{source} {path.name!r} is a pickle, and loading it can run arbitrary code. "
            f"Save it with skops, or: {TRUST_HINT}"
        )
    import joblib

    try:
        return joblib.load(path)
    except Exception as exc:  # noqa: BLE001 - unpickling raises anything the file chooses
        raise InputError(
            f"{source} {path.name!r} could not be unpickled ({type(exc).__name__}: {exc}). "
            "Load it in the Python version and library versions that saved it."
        ) from None


# --- the loaded model --------------------------------------------------------------------


def make_safe_to_run(model: Any, *, trust_model: bool, source: str) -> list[str]:
    """Check a loaded model's index arrays and risky parameters; return notes on changes.

    Raises InputError for a crafted index array (always) and for a file-reading vectorizer
    (without ``trust_model``). Switches off joblib caches, which unpickle their folder's
    contents on every refit.
    """
    notes = []
    for owner, obj in _walk(model):
        checker = _INDEX_CHECKERS.get(f"{type(obj).__module__}.{type(obj).__qualname__}")
        if checker is not None:
            try:
                problem = checker(obj, owner)
            except Exception as exc:  # noqa: BLE001 - arrays too odd to check are refused
                problem = f"arrays cannot be checked ({type(exc).__name__})"
            if problem:
                raise InputError(
                    f"{source} holds a {type(obj).__name__} whose {problem}: the file is damaged "
                    "or crafted, and predicting with it could crash. Save the model again."
                )
        params = _own_params(obj)
        if params.get("input") in _FILE_READING_INPUTS and not trust_model:
            raise InputError(
                f"{source} holds a {type(obj).__name__} with input={params['input']!r}, which "
                f"opens files named in the data. {TRUST_HINT}"
            )
        if params.get("memory") is not None:
            obj.set_params(memory=None)
            notes.append(
                f"{source}: the {type(obj).__name__}'s cache memory={str(params['memory'])!r} "
                "was switched off: joblib caches unpickle their folder's files on every refit."
            )
    return notes


def _own_params(obj: Any) -> dict[str, Any]:
    get_params = getattr(obj, "get_params", None)
    if not callable(get_params):
        return {}
    try:
        return get_params(deep=False)
    except Exception:  # noqa: BLE001 - an estimator whose params cannot be read has none to check
        return {}


def _walk(root: Any, *, max_depth: int = 64) -> Iterator[tuple[Any, Any]]:
    """Every object reachable from ``root`` through attributes and containers, with the
    nearest enclosing estimator that knows its number of input features."""
    seen: set[int] = set()
    stack: list[tuple[Any, Any, int]] = [(root, None, 0)]
    while stack:
        obj, owner, depth = stack.pop()
        if id(obj) in seen or depth > max_depth or isinstance(obj, (str, bytes, int, float, type)):
            continue
        seen.add(id(obj))
        yield owner, obj
        if hasattr(obj, "n_features_in_") or hasattr(obj, "_bin_mapper"):
            owner = obj
        if isinstance(obj, dict):
            children = list(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            children = list(obj)
        elif isinstance(obj, np.ndarray):
            children = list(obj.ravel()) if obj.dtype == object else []
        else:
            children = list(getattr(obj, "__dict__", {}).values())
        stack.extend((child, owner, depth + 1) for child in children)


def _n_features(owner: Any) -> int | None:
    count = getattr(owner, "n_features_in_", None)
    return int(count) if isinstance(count, (int, np.integer)) else None


def _children_problem(left: np.ndarray, right: np.ndarray, internal: np.ndarray) -> str | None:
    """Children of internal nodes must come after their parent and exist (no cycles)."""
    n = left.shape[0]
    positions = np.arange(n)
    for side, child in (("left", left), ("right", right)):
        child = child.astype(np.int64)
        bad = internal & ((child <= positions) | (child >= n))
        if bad.any():
            node = int(np.flatnonzero(bad)[0])
            return f"node {node} points to {side} child {int(child[node])} of {n} nodes"
    return None


def _feature_problem(
    feature: np.ndarray, internal: np.ndarray, n_features: int | None
) -> str | None:
    feature = feature.astype(np.int64)
    limit = np.iinfo(np.int64).max if n_features is None else n_features
    bad = internal & ((feature < 0) | (feature >= limit))
    if bad.any():
        node = int(np.flatnonzero(bad)[0])
        return f"node {node} splits on feature {int(feature[node])} of {n_features}"
    return None


def _check_tree(tree: Any, owner: Any) -> str | None:
    state = tree.__getstate__()
    nodes, values = np.asarray(state["nodes"]), np.asarray(state["values"])
    n = nodes.shape[0]
    if n == 0 or int(state["node_count"]) != n or values.shape[0] != n:
        return f"node count {state['node_count']} disagrees with {n} nodes and {values.shape[0]} values"
    left, right = nodes["left_child"], nodes["right_child"]
    internal = left != -1
    if ((right == -1) != ~internal).any():
        return "leaves and internal nodes disagree between left and right children"
    n_features = _n_features(owner)
    if n_features is None or n_features > tree.n_features:
        n_features = tree.n_features
    return _children_problem(left, right, internal) or _feature_problem(
        nodes["feature"], internal, n_features
    )


def _check_predictor(predictor: Any, owner: Any) -> str | None:
    nodes = np.asarray(predictor.nodes)
    if nodes.shape[0] == 0:
        return "node array is empty"
    internal = nodes["is_leaf"] == 0
    problem = _children_problem(nodes["left"], nodes["right"], internal) or _feature_problem(
        nodes["feature_idx"], internal, _n_features(owner)
    )
    if problem:
        return problem
    categorical = internal & (nodes["is_categorical"] != 0)
    if not categorical.any():
        return None
    bitsets = np.asarray(predictor.raw_left_cat_bitsets)
    known = getattr(getattr(owner, "_bin_mapper", None), "is_categorical_", None)
    features = nodes["feature_idx"][categorical].astype(np.int64)
    if (nodes["bitset_idx"][categorical] >= bitsets.shape[0]).any():
        return "categorical split points past its bitsets"
    if known is None or not np.asarray(known, dtype=bool)[features].all():
        return "categorical split is on a feature the model does not treat as categorical"
    return None


def _check_binary_tree(tree: Any, owner: Any) -> str | None:
    data, index, node_data, node_bounds = (np.asarray(a) for a in tree.get_arrays())
    n_rows, n_nodes = data.shape[0], node_data.shape[0]
    if index.shape != (n_rows,) or ((index < 0) | (index >= n_rows)).any():
        return "row index points outside its data"
    start, end = node_data["idx_start"], node_data["idx_end"]
    if ((start < 0) | (start > end) | (end > n_rows)).any():
        return "node row ranges fall outside its data"
    inner = np.flatnonzero(node_data["is_leaf"] == 0)
    if inner.size and 2 * int(inner.max()) + 2 >= n_nodes:
        return "inner node has children past the node array"
    if (
        node_bounds.ndim != 3
        or node_bounds.shape[1] < n_nodes
        or node_bounds.shape[2] != data.shape[1]
    ):
        return "node bounds do not match its nodes and features"
    return None


_INDEX_CHECKERS: dict[str, Callable[[Any, Any], str | None]] = {
    _TREE: _check_tree,
    _PREDICTOR: _check_predictor,
    _KD_TREE: _check_binary_tree,
    _BALL_TREE: _check_binary_tree,
}
