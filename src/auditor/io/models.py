"""Loading fitted models safely.

skops files are loaded without executing code, but a loaded model can still call any
function it references when it predicts (a ``FunctionTransformer(func=...)``, say). So
beyond skops' own trusted set, only *classes* are accepted without ``--trust-model``:
scikit-learn classes (estimators and their internals), NumPy dtypes and scalar types, and
SciPy sparse containers. Functions are never auto-trusted. Pickle and joblib files can run
arbitrary code when loaded, so they are refused unless the user passes ``--trust-model``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from auditor.errors import InputError, preview
from auditor.io.files import existing_file

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".jbl")
_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_MAGIC = b"\x80"


def load_model(path: str | Path, *, trust_model: bool = False, source: str = "--model") -> Any:
    """Load a fitted estimator from a skops, pickle or joblib file.

    Parameters
    ----------
    path : str or Path
        A ``.skops`` file (preferred), or a pickle/joblib file.
    trust_model : bool, default=False
        Allow pickle/joblib files and skops types outside scikit-learn, NumPy and SciPy.
        Loading a pickle can run arbitrary code: pass it only for files you trust.
    source : str, default="--model"
        Where the path came from, named in errors.
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
    return model


def _load_skops(path: Path, *, trust_model: bool, source: str) -> Any:
    import skops.io

    try:
        untrusted = skops.io.get_untrusted_types(file=path)
    except Exception as exc:  # noqa: BLE001 - any failure here means an unreadable file
        raise InputError(
            f"{source} {path.name!r} is not a readable skops file ({type(exc).__name__}). "
            "Save the fitted model with skops.io.dump(model, 'model.skops')."
        ) from None
    refused = [name for name in untrusted if not is_auto_trusted(name)]
    if refused and not trust_model:
        raise InputError(
            f"{source} {path.name!r} references {preview(refused)}, which could run code when "
            "the model is used. Re-run with --trust-model if you trust its source."
        )
    try:
        return skops.io.load(path, trusted=untrusted)
    except Exception as exc:  # noqa: BLE001 - skops raises many types for one cause
        raise InputError(
            f"{source} {path.name!r} could not be loaded by skops ({type(exc).__name__}: {exc}). "
            "Save it again with the installed scikit-learn and skops versions."
        ) from None


def is_auto_trusted(name: str) -> bool:
    """Whether a type skops lists as untrusted is a safe class to load without the flag.

    Safe: classes defined in scikit-learn (their constructors only store parameters), NumPy
    dtypes and scalar types, and SciPy sparse containers. Never a function, and never a
    class such as ``numpy.memmap`` whose construction touches files.
    """
    import pydoc

    import numpy as np

    if not name.startswith(("sklearn.", "numpy.", "scipy.sparse.")):
        return False
    obj = pydoc.locate(name)
    if not isinstance(obj, type):
        return False
    if name.startswith("sklearn."):
        return obj.__module__.startswith("sklearn.")
    if name.startswith("numpy."):
        return issubclass(obj, (np.dtype, np.generic))
    import scipy.sparse

    return issubclass(obj, (scipy.sparse.spmatrix, scipy.sparse.sparray))


def _load_pickle(path: Path, *, trust_model: bool, source: str) -> Any:
    if not trust_model:
        raise InputError(
            f"{source} {path.name!r} is a pickle, and loading it can run arbitrary code. "
            "Re-run with --trust-model if you trust its source, or save it with skops."
        )
    import joblib

    try:
        return joblib.load(path)
    except Exception as exc:  # noqa: BLE001 - unpickling raises anything the file chooses
        raise InputError(
            f"{source} {path.name!r} could not be unpickled ({type(exc).__name__}: {exc}). "
            "Load it in the Python version and library versions that saved it."
        ) from None
