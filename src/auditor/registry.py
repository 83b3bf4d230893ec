"""The check registry: every check, its stable id, its report text and its parameters.

A check is one function ``(ctx, params) -> CheckOutcome`` in one module, registered with
``@register_check``. Its parameters are a frozen dataclass whose fields document their
defaults (``param``), validated from ``[checks."<id>"]`` in the config file.

Third-party checks come from installed packages that declare an ``auditor.checks`` entry
point naming a module (or a function in one) whose ``@register_check`` decorators run when
it is imported. Only installed packages are loaded, never a module named in a config file.
A plug-in that fails to import, or a check whose id is already taken (built-ins win),
becomes a note on the ``auditor`` logger and is left out; the audit goes on.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from auditor.errors import InputError, NotApplicable
from auditor.result import (
    CATEGORIES,
    SEVERITY_RANK,
    CheckResult,
    Curve,
    Finding,
    Measurement,
    Status,
    Table,
)
from auditor.spec import unknown_key_message

# One line per check module: adding a check adds its module here.
CHECK_MODULES: tuple[str, ...] = (
    "auditor.checks.data.class_imbalance",
    "auditor.checks.data.conflicting_labels",
    "auditor.checks.data.constant_columns",
    "auditor.checks.data.duplicate_rows",
    "auditor.checks.data.feature_drift",
    "auditor.checks.data.missing_values",
    "auditor.checks.data.mixed_types",
    "auditor.checks.data.out_of_range",
    "auditor.checks.data.schema",
    "auditor.checks.data.unseen_categories",
    "auditor.checks.leakage.group_overlap",
    "auditor.checks.leakage.identifier",
    "auditor.checks.leakage.near_duplicates",
    "auditor.checks.leakage.target",
    "auditor.checks.leakage.temporal",
    "auditor.checks.leakage.train_test_overlap",
    "auditor.checks.performance.calibration",
    "auditor.checks.performance.cross_validation",
    "auditor.checks.performance.decision",
    "auditor.checks.performance.holdout_metrics",
    "auditor.checks.performance.overfit",
    "auditor.checks.baseline.challengers",
    "auditor.checks.baseline.comparison",
    "auditor.checks.fairness.group_metrics",
    "auditor.checks.slices.weak_segments",
    "auditor.checks.explain.feature_importance",
)

# The entry-point group through which installed packages add checks.
PLUGIN_GROUP = "auditor.checks"
_CHECK_ID = re.compile(r"[a-z]+\.[a-z][a-z0-9_]*")

logger = logging.getLogger("auditor")

# What each input a check may need means, for the "skipped" reason.
NEEDS: dict[str, str] = {
    "train": "no training data was given (--train)",
    "test": "no test data was given (--test)",
    "model": "no model was given (--model); predictions alone cannot be refitted",
    "predictions": "neither a model (--model) nor predictions (--predictions) were given",
    "proba": "the predictions have no class probabilities",
    "group_column": "no group column was declared (--group-column)",
    "time_column": "no time column was declared (--time-column)",
    "sensitive": "no sensitive column was declared (--sensitive)",
}


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """What a check function returns; the runner adds id, title, timing and params."""

    status: Status
    summary: str
    findings: tuple[Finding, ...] = ()
    measurements: tuple[Measurement, ...] = ()
    tables: tuple[Table, ...] = ()
    curves: tuple[Curve, ...] = ()


class SkipCheck(NotApplicable):
    """Raised by a check that finds itself not applicable; the message is the reason."""


@dataclass(frozen=True, slots=True)
class NoParams:
    """A check without parameters."""


ALL_TASKS = frozenset({"binary", "multiclass", "regression"})


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """A registered check: identity, report text, inputs it needs, parameters."""

    id: str
    title: str
    func: Callable[[Any, Any], CheckOutcome]
    needs: frozenset[str]
    params_type: type
    rationale: str
    remedy: str
    tasks: frozenset[str] = ALL_TASKS
    # Finding code -> what to do about that finding, where it differs from ``remedy``.
    remedies: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # The entry point that brought a third-party check ("name = value (distribution)");
    # None for a built-in check (and for one registered by code imported some other way).
    plugin: str | None = None
    # Checks parameters against the loaded inputs (a class of the target, a group of a
    # column), raising InputError: a parameter that names something absent is bad input.
    validate: Callable[[Any, Any], None] | None = None

    def remedy_for(self, code: str | None) -> str:
        """What to do about a finding with ``code``: its own remedy, else the check's."""
        return self.remedies.get(code, self.remedy) if code else self.remedy

    @property
    def category(self) -> str:
        return self.id.split(".", 1)[0]

    def default_params(self) -> dict[str, Any]:
        return dataclasses.asdict(self.params_type())

    def param_docs(self) -> dict[str, str]:
        return {f.name: f.metadata.get("doc", "") for f in dataclasses.fields(self.params_type)}


REGISTRY: dict[str, CheckSpec] = {}
# Set once the entry points have been loaded: they are loaded once per process.
_plugins_loaded = False
# Ids refused while loading the current entry point (for its "registers no check" note).
_refused: list[str] = []


def register_check(
    check_id: str,
    *,
    title: str,
    needs: tuple[str, ...],
    rationale: str,
    remedy: str,
    params: type = NoParams,
    tasks: tuple[str, ...] | None = None,
    remedies: Mapping[str, str] | None = None,
    validate: Callable[[Any, Any], None] | None = None,
) -> Callable[[Callable], Callable]:
    """Register ``func`` as the check ``check_id`` (``<category>.<name>``).

    ``validate(ctx, params)``, when given, runs once the inputs are loaded and before any
    check, for parameters whose validity depends on the data; it raises InputError.

    An id already taken by a check from another module is refused with a note, the first
    registration kept; a built-in check always wins over a third-party one.
    """
    category = check_id.split(".", 1)[0]
    if category not in CATEGORIES or not _CHECK_ID.fullmatch(check_id):
        raise ValueError(
            f"check id {check_id!r} must be '<category>.<name>' with a known category "
            f"({', '.join(CATEGORIES)}) and a name of lowercase letters, digits and '_'"
        )
    unknown_needs = set(needs) - set(NEEDS)
    if unknown_needs:
        raise ValueError(f"check {check_id!r} needs unknown inputs {sorted(unknown_needs)}")

    def decorate(func: Callable) -> Callable:
        existing = REGISTRY.get(check_id)
        if existing is not None and existing.func.__module__ != func.__module__:
            if not _is_builtin(func):
                _refused.append(check_id)
                taken_by = "a built-in check" if _is_builtin(existing.func) else "the check"
                logger.warning(
                    "the check %r of %s is left out: its id is taken by %s of %s.",
                    check_id,
                    func.__module__,
                    taken_by,
                    existing.func.__module__,
                )
                return func
            logger.warning(
                "the check %r of %s is left out: its id is taken by a built-in check.",
                check_id,
                existing.func.__module__,
            )
        REGISTRY[check_id] = CheckSpec(
            id=check_id,
            title=title,
            func=func,
            needs=frozenset(needs),
            params_type=params,
            rationale=rationale,
            remedy=remedy,
            tasks=frozenset(tasks) if tasks else ALL_TASKS,
            remedies=dict(remedies or {}),
            validate=validate,
        )
        return func

    return decorate


def _is_builtin(func: Callable) -> bool:
    return func.__module__ in CHECK_MODULES


def load_registry() -> dict[str, CheckSpec]:
    """Import every check module (registering its checks) and return the registry.

    The built-in checks come first, then, once per process, the checks of installed
    packages' ``auditor.checks`` entry points (see ``load_plugins``).
    """
    global _plugins_loaded
    for module in CHECK_MODULES:
        importlib.import_module(module)
    if not _plugins_loaded:
        _plugins_loaded = True  # first, so that a plug-in calling load_registry cannot loop
        load_plugins()
    return REGISTRY


def load_plugins() -> list[str]:
    """Load the ``auditor.checks`` entry points of installed packages; return the ids added.

    Each entry point names a module, or a function in one; importing it runs its
    ``@register_check`` decorators. An entry point that fails to load (an import error, an
    invalid check declaration) is a note naming it and the exception, and none of its checks
    are kept. Entry points load in name order, so which of two colliding plug-ins wins does
    not depend on the installation order.
    """
    from importlib import metadata

    added: list[str] = []
    found = metadata.entry_points(group=PLUGIN_GROUP)
    for entry_point in sorted(found, key=lambda ep: (ep.name, ep.value)):
        added.extend(_load_entry_point(entry_point))
    return added


def _load_entry_point(entry_point: Any) -> list[str]:
    dist = getattr(entry_point, "dist", None)
    source = f" ({dist.name} {dist.version})" if dist is not None else ""
    label = f"{entry_point.name} = {entry_point.value}{source}"
    before = dict(REGISTRY)
    _refused.clear()
    try:
        entry_point.load()
    except Exception as exc:  # noqa: BLE001 - a broken plug-in must not stop the audit
        REGISTRY.clear()
        REGISTRY.update(before)
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        logger.warning(
            "the check plug-in %r (entry point %s) could not be loaded and its checks are "
            "left out: %s: %s",
            entry_point.name,
            label,
            type(exc).__name__,
            message,
        )
        return []
    module = entry_point.value.split(":", 1)[0].strip()
    added = [
        check_id
        for check_id, spec in REGISTRY.items()
        if spec.plugin is None
        and not _is_builtin(spec.func)
        and (
            before.get(check_id) is not spec
            or spec.func.__module__ == module
            or spec.func.__module__.startswith(f"{module}.")
        )
    ]
    for check_id in added:
        REGISTRY[check_id] = dataclasses.replace(REGISTRY[check_id], plugin=label)
    if not added and not _refused:
        logger.warning(
            "the check plug-in %r (entry point %s) registers no check.", entry_point.name, label
        )
    return added


def worst_finding_code(findings: Iterable[Finding]) -> str | None:
    """The code of the most severe finding (the first of equals), or None without findings."""
    ranked = sorted(findings, key=lambda f: SEVERITY_RANK[f.severity])
    return ranked[0].code if ranked else None


def guidance(
    checks: Iterable[CheckResult], registry: Mapping[str, CheckSpec]
) -> dict[str, dict[str, str]]:
    """Why each check matters and what to do about its most severe finding, by check id.

    Stored in the result's manifest so that renderers need no check module: the report is
    drawn from audit.json alone, with the words that applied when the audit ran.
    """
    return {
        check.id: {
            "rationale": spec.rationale,
            "remedy": spec.remedy_for(worst_finding_code(check.findings)),
        }
        for check in checks
        if (spec := registry.get(check.id)) is not None
    }


def param(default: Any, doc: str, *, share: bool = False, minimum: float | None = None) -> Any:
    """Declare a check parameter with its documentation.

    ``share=True`` marks a fraction in [0, 1]: 5 is rejected with a hint to write 0.05.
    """
    return field(default=default, metadata={"doc": doc, "share": share, "minimum": minimum})


# Check parameters that became audit-wide [evaluation] settings, so that every check measures
# on the same folds and resamples; an old config gets told where the key went.
MOVED_TO_EVALUATION = {
    "n_splits": "folds",
    "n_repeats": "repeats",
    "n_bootstrap": "bootstrap_resamples",
}


def build_params(spec: CheckSpec, given: Mapping[str, Any]) -> Any:
    """Validate the user's ``[checks."<id>"]`` table against the check's parameters."""
    where = f'[checks."{spec.id}"]'
    fields = {f.name: f for f in dataclasses.fields(spec.params_type)}
    values = {}
    for key, value in given.items():
        if key in MOVED_TO_EVALUATION and key not in fields:
            raise InputError(
                f"{where} key {key!r} is now audit-wide: write {MOVED_TO_EVALUATION[key]} = "
                f"{value!r} under [evaluation], so every check uses the same folds and resamples."
            )
        if key not in fields:
            raise InputError(unknown_key_message(key, list(fields) or ["(no parameters)"], where))
        values[key] = _checked_value(fields[key], value, where)
    return spec.params_type(**values)


def validate_against_inputs(
    ctx: Any, specs: Iterable[CheckSpec], params: Mapping[str, Any]
) -> None:
    """Run the ``validate`` hook of every check in ``specs`` that will run on ``ctx``."""
    for spec in specs:
        runs = spec.needs <= ctx.available and ctx.task in spec.tasks
        if spec.validate is not None and runs:
            spec.validate(ctx, params.get(spec.id) or build_params(spec, {}))


def _checked_value(f: dataclasses.Field, value: Any, where: str) -> Any:
    default = f.default
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = (
            isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        )
    elif isinstance(default, str):
        ok = isinstance(value, str)
    elif isinstance(default, tuple):
        ok = isinstance(value, list)
        value = tuple(value) if ok else value
    else:
        ok = True
    if not ok:
        raise InputError(f"{where} key {f.name!r} must be like {default!r}, got {value!r}.")
    if f.metadata.get("share") and not 0 <= value <= 1:
        hint = f" Write {value / 100:g} for {value:g}%." if 1 < value <= 100 else ""
        raise InputError(f"{where} key {f.name!r} is a share between 0 and 1, got {value!r}.{hint}")
    minimum = f.metadata.get("minimum")
    if minimum is not None and value < minimum:
        raise InputError(f"{where} key {f.name!r} must be at least {minimum}, got {value!r}.")
    return float(value) if isinstance(default, float) else value
