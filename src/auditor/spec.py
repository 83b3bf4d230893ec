"""The audit specification: one frozen, validated object built from a config file and flags.

The config file is ``audit.toml`` or the ``[tool.auditor]`` table of ``pyproject.toml``.
Command-line flags override it key by key. Unknown keys and wrong types are input errors
(exit code 2) that name the key and suggest the nearest valid one.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from auditor.errors import InputError

TASKS = ("binary", "multiclass", "regression")
FORMATS = ("html", "pdf", "json", "junit", "md", "card")
GATE_STATUSES = ("fail", "error", "warn")
# The environment variable that lets a config file's ``trust_model = true`` take effect.
TRUST_ENV = "AUDITOR_TRUST_MODEL"


@dataclass(frozen=True, slots=True)
class ColumnRolesSpec:
    """Column roles the user declared; anything left None is inferred from the data."""

    id: str | None = None
    group: str | None = None
    time: str | None = None
    sensitive: tuple[str, ...] = ()
    weight: str | None = None


@dataclass(frozen=True, slots=True)
class MetricThreshold:
    """A bound on one holdout metric: the audit fails the gate outside [min, max].

    ``min_over_baseline`` bounds the metric's margin over the best baseline instead (the
    paired difference measured by ``baseline.comparison``, in the metric's natural units,
    oriented so that positive means better than the baseline).
    """

    min: float | None = None
    max: float | None = None
    min_over_baseline: float | None = None


@dataclass(frozen=True, slots=True)
class Waiver:
    """A check id (or category) whose failure does not fail the gate, with a reason."""

    reason: str
    expires: dt.date | None = None


@dataclass(frozen=True, slots=True)
class GatePolicy:
    """What fails the build: statuses, metric thresholds and waivers."""

    fail_on: tuple[str, ...] = ("fail", "error")
    use_interval: bool = True
    metrics: Mapping[str, MetricThreshold] = field(default_factory=dict)
    waivers: Mapping[str, Waiver] = field(default_factory=dict)
    max_overfit_gap: float | None = None
    max_slice_lift: float | None = None
    min_slice_support: float = 0.0
    max_group_gap: float | None = None


@dataclass(frozen=True, slots=True)
class EvaluationSettings:
    """How every check measures the model: one set of folds, refits and resamples per audit.

    ``seed`` seeds the folds, the refits and the bootstrap; None uses the audit's seed.
    """

    folds: int = 5
    repeats: int = 1
    bootstrap_resamples: int = 1000
    seed: int | None = None

    def validated(self, where: str) -> EvaluationSettings:
        if self.seed is not None and not _is_seed(self.seed):
            raise InputError(
                f"{where} seed = {self.seed!r} must be an integer from 0 to 4294967295."
            )
        for key, low, high in (
            ("folds", 2, 100),
            ("repeats", 1, 100),
            ("bootstrap_resamples", 100, 100_000),
        ):
            value = getattr(self, key)
            if not _is_int(value) or not low <= value <= high:
                raise InputError(
                    f"{where} {key} = {value!r} must be an integer from {low} to {high:,}."
                )
        return self


ENGINES = ("memory", "dask")


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """Where the audit computes (``[engine]``): in this process, or on a Dask cluster.

    ``address`` names a running scheduler (``tcp://host:8786``); without it the Dask engine
    starts a ``LocalCluster`` of ``workers`` processes with ``memory_limit`` each. The checks
    that need rows in memory read a seeded sample of ``sample_rows`` rows; the all-rows
    intervals use ``bootstrap_replicates`` Poisson bootstrap replicates.
    """

    name: str = "memory"
    address: str | None = None
    workers: int | None = None
    memory_limit: str | None = None
    sample_rows: int = 200_000
    bootstrap_replicates: int = 200

    def validated(self, where: str) -> EngineSettings:
        if self.name not in ENGINES:
            raise InputError(f"{where} engine {self.name!r} is not one of {', '.join(ENGINES)}.")
        if self.address is not None and self.name != "dask":
            raise InputError(
                f"{where} gives an engine address but the engine is {self.name!r}. "
                "Add --engine dask, or drop the address."
            )
        for key, low, high in (
            ("sample_rows", 1_000, 10_000_000),
            ("bootstrap_replicates", 100, 10_000),
        ):
            value = getattr(self, key)
            if not _is_int(value) or not low <= value <= high:
                raise InputError(
                    f"{where} {key} = {value!r} must be an integer from {low:,} to {high:,}."
                )
        if self.workers is not None and (not _is_int(self.workers) or self.workers < 1):
            raise InputError(f"{where} workers = {self.workers!r} must be a positive integer.")
        return self


@dataclass(frozen=True, slots=True)
class DecisionSettings:
    """What the model's yes/no decisions cost, and the limits they must keep (binary tasks).

    Costs and benefits are per row, in the user's unit (money, hours), all >= 0: a benefit
    is what a right decision earns. ``max_flagged_share`` caps the share of rows flagged
    (capacity: "at most 5% reviewed"); ``min_recall`` is the share of positive rows that
    must be caught. ``performance.decision`` picks the threshold of lowest expected cost
    under these limits; without costs, the best threshold that keeps them.
    """

    cost_false_positive: float | None = None
    cost_false_negative: float | None = None
    benefit_true_positive: float = 0.0
    benefit_true_negative: float = 0.0
    max_flagged_share: float | None = None
    min_recall: float | None = None

    @property
    def has_costs(self) -> bool:
        return self.cost_false_positive is not None

    @property
    def false_positive_regret(self) -> float:
        """What flagging a negative row loses against leaving it: its cost and the lost benefit."""
        return (self.cost_false_positive or 0.0) + self.benefit_true_negative

    @property
    def false_negative_regret(self) -> float:
        """What missing a positive row loses against flagging it."""
        return (self.cost_false_negative or 0.0) + self.benefit_true_positive

    @property
    def cost_implied_threshold(self) -> float:
        """The probability above which flagging costs less in expectation: the threshold the
        costs call for when the probabilities are calibrated."""
        fp, fn = self.false_positive_regret, self.false_negative_regret
        return fp / (fp + fn)

    def validated(self, where: str) -> DecisionSettings:
        if (self.cost_false_positive is None) != (self.cost_false_negative is None):
            raise InputError(
                f"{where} needs both cost_false_positive and cost_false_negative, like "
                "{ cost_false_positive = 1, cost_false_negative = 5 }."
            )
        if not self.has_costs and (self.benefit_true_positive or self.benefit_true_negative):
            raise InputError(
                f"{where} has benefits without costs; add cost_false_positive and "
                "cost_false_negative (0 is allowed)."
            )
        for key in _DECISION_AMOUNTS:
            value = getattr(self, key)
            if value is not None and value < 0:
                raise InputError(
                    f"{where} {key} = {value!r} must be 0 or more; write a gain as a benefit "
                    "(benefit_true_positive, benefit_true_negative)."
                )
        if self.has_costs and (self.false_positive_regret <= 0 or self.false_negative_regret <= 0):
            raise InputError(
                f"{where} makes one kind of mistake free (cost_false_positive + "
                "benefit_true_negative or cost_false_negative + benefit_true_positive is 0), so "
                "flagging every row or none would be best; give both a positive cost."
            )
        for key in ("max_flagged_share", "min_recall"):
            value = getattr(self, key)
            if value is not None and not 0 < value <= 1:
                hint = f" Write {value / 100:g} for {value:g}%." if 1 < value <= 100 else ""
                raise InputError(
                    f"{where} {key} is a share above 0 and at most 1, got {value!r}.{hint}"
                )
        if not self.has_costs and self.max_flagged_share is None and self.min_recall is None:
            raise InputError(
                f"{where} declares nothing to choose a threshold by: give cost_false_positive "
                "and cost_false_negative, max_flagged_share or min_recall."
            )
        return self

    def to_manifest(self) -> dict[str, float | None]:
        return {f: getattr(self, f) for f in _DECISION}


@dataclass(frozen=True, slots=True)
class ModelCardText:
    """What the model card says that an audit cannot measure (``[model_card]``).

    Each is a list of sentences; an owner may carry a contact as ``"Risk team <risk@x.org>"``.
    Recorded in the manifest, so ``auditor render audit.json --format card`` needs no config.
    """

    owners: tuple[str, ...] = ()
    intended_use: tuple[str, ...] = ()
    out_of_scope: tuple[str, ...] = ()
    limitations: tuple[str, ...] = ()
    ethical_considerations: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AuditSpec:
    """Everything one audit needs to know, validated; see ``auditor audit --help``."""

    test: str | None = None
    train: str | None = None
    target: str | None = None
    model: str | None = None
    predictions: str | None = None
    baseline_model: str | None = None
    challengers: tuple[str, ...] = ()
    task: str | None = None
    positive_class: str | None = None
    seed: int = 0
    formats: tuple[str, ...] = ("html", "json")
    out_dir: str = "reports"
    trust_model: bool = False
    n_jobs: int = 1
    skip: tuple[str, ...] = ()
    columns: ColumnRolesSpec = ColumnRolesSpec()
    evaluation: EvaluationSettings = EvaluationSettings()
    decision: DecisionSettings | None = None
    engine: EngineSettings = EngineSettings()
    model_card: ModelCardText = ModelCardText()
    # [report] templates: a folder of report templates loaded before the built-in ones.
    templates: str | None = None
    schema: str | None = None
    gate: GatePolicy = GatePolicy()
    checks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def with_overrides(self, **overrides: Any) -> AuditSpec:
        """Return a copy where every override that is not None replaces the file's value."""
        given = {k: v for k, v in overrides.items() if v is not None}
        roles = {
            k: given.pop(k) for k in ("id", "group", "time", "sensitive", "weight") if k in given
        }
        engine = {
            key: given.pop(flag)
            for flag, key in (("engine", "name"), ("engine_address", "address"))
            if flag in given
        }
        spec = replace(self, **given)
        if engine:
            spec = replace(
                spec, engine=replace(spec.engine, **engine).validated("--engine/--engine-address")
            )
        if roles:
            spec = replace(spec, columns=replace(spec.columns, **roles))
        return spec.validated(source="the command line")

    def with_check_params(self, check_id: str, **params: Any) -> AuditSpec:
        """Return a copy where each parameter of ``check_id`` that is not None (a flag, a
        keyword) replaces the one of ``[checks."<check_id>"]`` in the file."""
        given = {k: v for k, v in params.items() if v is not None}
        if not given:
            return self
        merged = {**self.checks.get(check_id, {}), **given}
        return replace(self, checks={**self.checks, check_id: merged})

    def validated(self, *, source: str) -> AuditSpec:
        """Check values that depend on each other; raise InputError naming the fix."""
        if self.task is not None and self.task not in TASKS:
            raise InputError(f"task {self.task!r} from {source} is not one of {', '.join(TASKS)}.")
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown:
            raise InputError(
                f"format {unknown[0]!r} from {source} is not one of {', '.join(FORMATS)}."
            )
        if self.model is not None and self.predictions is not None:
            raise InputError(
                "Both a model and a predictions file were given. Pass --model or --predictions, not both."
            )
        if not _is_seed(self.seed):
            raise InputError(
                f"seed {self.seed!r} from {source} must be an integer from 0 to 4294967295."
            )
        if self.n_jobs == 0 or self.n_jobs < -1:
            raise InputError(
                f"n_jobs {self.n_jobs!r} must be a positive number of processes, or -1 for all cores."
            )
        return self

    @property
    def evaluation_seed(self) -> int:
        return self.seed if self.evaluation.seed is None else self.evaluation.seed

    def to_manifest(self) -> dict[str, Any]:
        """Return the spec as JSON data for the manifest, with file names only (no paths)."""

        def name(path: str | None) -> str | None:
            return None if path is None else Path(path).name

        return {
            "train": name(self.train),
            "test": name(self.test),
            "model": name(self.model),
            "predictions": name(self.predictions),
            "baseline_model": name(self.baseline_model),
            "challengers": [name(path) for path in self.challengers],
            "schema": name(self.schema),
            "target": self.target,
            "task": self.task,
            "positive_class": self.positive_class,
            "seed": self.seed,
            "formats": list(self.formats),
            "n_jobs": self.n_jobs,
            "skip": list(self.skip),
            "trust_model": self.trust_model,
            "columns": {
                "id": self.columns.id,
                "group": self.columns.group,
                "time": self.columns.time,
                "sensitive": list(self.columns.sensitive),
                "weight": self.columns.weight,
            },
            "evaluation": {
                "folds": self.evaluation.folds,
                "repeats": self.evaluation.repeats,
                "bootstrap_resamples": self.evaluation.bootstrap_resamples,
                "seed": self.evaluation_seed,
            },
            **({} if self.decision is None else {"decision": self.decision.to_manifest()}),
            **(
                {}
                if self.model_card == ModelCardText()
                else {"model_card": {k: list(v) for k, v in asdict(self.model_card).items()}}
            ),
            **(
                {}
                if self.engine == EngineSettings()
                else {
                    "engine": {
                        "name": self.engine.name,
                        "address": self.engine.address,
                        "workers": self.engine.workers,
                        "memory_limit": self.engine.memory_limit,
                        "sample_rows": self.engine.sample_rows,
                        "bootstrap_replicates": self.engine.bootstrap_replicates,
                    }
                }
            ),
            "gate": {
                "fail_on": list(self.gate.fail_on),
                "use_interval": self.gate.use_interval,
                "metrics": {
                    k: {"min": v.min, "max": v.max, "min_over_baseline": v.min_over_baseline}
                    for k, v in self.gate.metrics.items()
                },
                "max_overfit_gap": self.gate.max_overfit_gap,
                "max_slice_lift": self.gate.max_slice_lift,
                "min_slice_support": self.gate.min_slice_support,
                "max_group_gap": self.gate.max_group_gap,
                "waivers": {
                    k: {
                        "reason": w.reason,
                        "expires": None if w.expires is None else w.expires.isoformat(),
                    }
                    for k, w in self.gate.waivers.items()
                },
            },
            "checks": {k: dict(v) for k, v in self.checks.items()},
        }


# --- reading the config file -------------------------------------------------------------


def load_spec(config: str | Path | None) -> AuditSpec:
    """Read ``audit.toml`` (or ``[tool.auditor]`` of a pyproject.toml) into an AuditSpec.

    Relative paths in the file are resolved against the file's own folder, so the same
    config works from any working directory.
    """
    if config is None:
        return AuditSpec()
    path = Path(config)
    if not path.is_file():
        raise InputError(
            f"--config {str(path)!r} does not exist. Pass the path of an audit.toml file."
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"--config {path.name!r} is not valid TOML: {exc}.") from None
    except RecursionError:
        raise InputError(
            f"--config {path.name!r} nests tables or arrays too deeply to read. "
            "Write a flat audit.toml like sample_data/audit.toml."
        ) from None
    where = path.name
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("auditor")
        if data is None:
            raise InputError(
                "pyproject.toml has no [tool.auditor] table. Add one or pass an audit.toml."
            )
        where = "[tool.auditor]"
    return spec_from_mapping(data, where=where, base_dir=path.parent)


def spec_from_mapping(
    data: Mapping[str, Any], *, where: str, base_dir: Path | None = None
) -> AuditSpec:
    """Build an AuditSpec from config data; ``where`` names the source in errors."""

    def as_path(value: str) -> str:
        return (
            str(base_dir / value)
            if base_dir is not None and not Path(value).is_absolute() and "://" not in value
            else value
        )

    top = _checked_table(data, _TOP_LEVEL, where)
    if top.get("trust_model") and os.environ.get(TRUST_ENV) != "1":
        # A pull request that edits the config must not be able to turn on unpickling; the
        # refusal of a model that needs trust says how to grant it.
        top["trust_model"] = False
    for key in ("train", "test", "model", "predictions", "baseline_model", "out_dir", "schema"):
        if key in top:
            top[key] = as_path(top[key])
    for key in ("formats", "skip"):
        if key in top:
            top[key] = tuple(top[key])
    if "challengers" in top:
        top["challengers"] = tuple(as_path(path) for path in top["challengers"])
    columns = _checked_table(top.pop("columns", {}), _COLUMNS, f"{where} [columns]")
    if "sensitive" in columns:
        columns["sensitive"] = tuple(columns["sensitive"])
    gate = gate_policy(top.pop("gate", {}), f"{where} [gate]")
    evaluation = evaluation_settings(top.pop("evaluation", {}), f"{where} [evaluation]")
    decision = (
        decision_settings(top.pop("decision"), f"{where} [decision]") if "decision" in top else None
    )
    engine = engine_settings(top.pop("engine", {}), f"{where} [engine]")
    model_card = {
        key: (value,) if isinstance(value, str) else tuple(value)
        for key, value in _checked_table(
            top.pop("model_card", {}), _MODEL_CARD, f"{where} [model_card]"
        ).items()
    }
    report = _checked_table(top.pop("report", {}), _REPORT, f"{where} [report]")
    if "templates" in report:
        top["templates"] = as_path(report["templates"])
    checks = top.pop("checks", {})
    if not isinstance(checks, Mapping) or not all(isinstance(v, Mapping) for v in checks.values()):
        raise InputError(
            f'{where} [checks] must hold one table per check id, like [checks."leakage.target"].'
        )
    return AuditSpec(
        **top,
        columns=ColumnRolesSpec(**columns),
        evaluation=evaluation,
        decision=decision,
        engine=engine,
        model_card=ModelCardText(**model_card),
        gate=gate,
        checks={k: dict(v) for k, v in checks.items()},
    ).validated(source=where)


def engine_settings(data: Any, where: str) -> EngineSettings:
    """Build EngineSettings from a mapping shaped like the config's ``[engine]``."""
    return EngineSettings(**_checked_table(data, _ENGINE, where)).validated(where)


def evaluation_settings(data: Any, where: str) -> EvaluationSettings:
    """Build EvaluationSettings from a mapping shaped like the config's ``[evaluation]``."""
    return EvaluationSettings(**_checked_table(data, _EVALUATION, where)).validated(where)


def decision_settings(data: Any, where: str) -> DecisionSettings:
    """Build DecisionSettings from a mapping shaped like the config's ``[decision]`` table."""
    table = {k: float(v) for k, v in _checked_table(data, _DECISION, where).items()}
    return DecisionSettings(**table).validated(where)


def gate_policy(data: Any, where: str) -> GatePolicy:
    """Build a GatePolicy from a mapping shaped like the config's ``[gate]`` table."""
    gate = _checked_table(data, _GATE, where)
    if "fail_on" in gate:
        bad = [s for s in gate["fail_on"] if s not in GATE_STATUSES]
        if bad:
            raise InputError(
                f"{where} fail_on has {bad[0]!r}; use any of {', '.join(GATE_STATUSES)}."
            )
        gate["fail_on"] = tuple(gate["fail_on"])
    support = gate.get("min_slice_support", 0.0)
    if not 0 <= support <= 1:
        raise InputError(
            f"{where} min_slice_support is a share between 0 and 1, got {support!r}; write 0.02 for 2%."
        )
    metrics = {}
    for metric, bound in gate.pop("metrics", {}).items():
        bound = _checked_table(bound, _THRESHOLD, f"{where}.metrics.{metric}")
        if not bound:
            raise InputError(
                f"{where}.metrics.{metric} needs min, max or min_over_baseline, like {{ min = 0.8 }}."
            )
        if bound.get("min", -math.inf) > bound.get("max", math.inf):
            raise InputError(
                f"{where}.metrics.{metric} has min {bound['min']!r} above max {bound['max']!r}; "
                "no score could pass. Swap or fix them."
            )
        metrics[metric] = MetricThreshold(**bound)
    waivers = {}
    for check_id, waiver in gate.pop("waivers", {}).items():
        waiver = _checked_table(waiver, _WAIVER, f"{where}.waivers.{check_id!r}")
        if not str(waiver.get("reason", "")).strip():
            raise InputError(
                f'{where}.waivers.{check_id!r} needs a reason, like {{ reason = "reviewed by ..." }}.'
            )
        waivers[check_id] = Waiver(**waiver)
    return GatePolicy(**gate, metrics=metrics, waivers=waivers)


# --- a tiny declarative validator -------------------------------------------------------

Validator = Callable[[Any], bool]


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_seed(v: Any) -> bool:
    return _is_int(v) and 0 <= v < 2**32


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _is_str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _is_text(v: Any) -> bool:
    return isinstance(v, str) or _is_str_list(v)


def _is_table(v: Any) -> bool:
    return isinstance(v, Mapping)


def _is_date(v: Any) -> bool:
    return isinstance(v, dt.date) and not isinstance(v, dt.datetime)


_TYPE_NAMES: dict[Validator, str] = {
    _is_str: "a string",
    _is_int: "an integer",
    _is_number: "a finite number",
    _is_seed: "an integer from 0 to 4294967295",
    _is_bool: "true or false",
    _is_str_list: "a list of strings",
    _is_text: "a string or a list of strings",
    _is_table: "a table",
    _is_date: "a date like 2027-01-31",
}

_TOP_LEVEL: dict[str, Validator] = {
    "train": _is_str,
    "test": _is_str,
    "target": _is_str,
    "model": _is_str,
    "predictions": _is_str,
    "baseline_model": _is_str,
    "challengers": _is_str_list,
    "task": _is_str,
    "positive_class": _is_str,
    "seed": _is_seed,
    "formats": _is_str_list,
    "out_dir": _is_str,
    "trust_model": _is_bool,
    "n_jobs": _is_int,
    "skip": _is_str_list,
    "columns": _is_table,
    "schema": _is_str,
    "gate": _is_table,
    "evaluation": _is_table,
    "decision": _is_table,
    "engine": _is_table,
    "model_card": _is_table,
    "report": _is_table,
    "checks": _is_table,
}
_MODEL_CARD: dict[str, Validator] = dict.fromkeys((f.name for f in fields(ModelCardText)), _is_text)
_REPORT: dict[str, Validator] = {"templates": _is_str}
_ENGINE: dict[str, Validator] = {
    "name": _is_str,
    "address": _is_str,
    "workers": _is_int,
    "memory_limit": _is_str,
    "sample_rows": _is_int,
    "bootstrap_replicates": _is_int,
}
_EVALUATION: dict[str, Validator] = {
    "folds": _is_int,
    "repeats": _is_int,
    "bootstrap_resamples": _is_int,
    "seed": _is_seed,
}
_DECISION_AMOUNTS = (
    "cost_false_positive",
    "cost_false_negative",
    "benefit_true_positive",
    "benefit_true_negative",
)
_DECISION: dict[str, Validator] = {
    **dict.fromkeys(_DECISION_AMOUNTS, _is_number),
    "max_flagged_share": _is_number,
    "min_recall": _is_number,
}
_COLUMNS: dict[str, Validator] = {
    "id": _is_str,
    "group": _is_str,
    "time": _is_str,
    "sensitive": _is_str_list,
    "weight": _is_str,
}
_GATE: dict[str, Validator] = {
    "fail_on": _is_str_list,
    "use_interval": _is_bool,
    "metrics": _is_table,
    "waivers": _is_table,
    "max_overfit_gap": _is_number,
    "max_slice_lift": _is_number,
    "min_slice_support": _is_number,
    "max_group_gap": _is_number,
}
_THRESHOLD: dict[str, Validator] = {
    "min": _is_number,
    "max": _is_number,
    "min_over_baseline": _is_number,
}
_WAIVER: dict[str, Validator] = {"reason": _is_str, "expires": _is_date}


def _checked_table(data: Any, allowed: Mapping[str, Validator], where: str) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise InputError(f"{where} must be a table of keys, got {type(data).__name__}.")
    checked = {}
    for key, value in data.items():
        if key not in allowed:
            raise InputError(unknown_key_message(key, allowed, where))
        if not allowed[key](value):
            raise InputError(
                f"{where} key {key!r} must be {_TYPE_NAMES[allowed[key]]}, got {value!r}."
            )
        checked[key] = value
    return checked


def unknown_key_message(key: str, allowed: Mapping[str, Any] | list[str], where: str) -> str:
    """Say that ``key`` is unknown, suggest the nearest valid key, and list the valid ones."""
    valid = sorted(allowed)
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else "."
    return f"{where} has unknown key {key!r}{hint} Valid keys: {', '.join(valid)}."
