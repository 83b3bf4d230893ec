"""The Python API: ``auditor.audit(...)`` and the orchestration the CLI shares."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

from auditor import keys
from auditor._version import __version__
from auditor.context import AuditContext
from auditor.corroborate import corroborate
from auditor.engine.headline import build_headline
from auditor.errors import InputError
from auditor.gate import evaluate_gate
from auditor.inputs import load_inputs
from auditor.registry import (
    CheckSpec,
    build_params,
    guidance,
    load_registry,
    validate_against_inputs,
)
from auditor.result import AuditResult, CheckResult, Measurement, overall_verdict
from auditor.runner import run_checks
from auditor.spec import (
    AuditSpec,
    DecisionSettings,
    EngineSettings,
    EvaluationSettings,
    GatePolicy,
    decision_settings,
    engine_settings,
    evaluation_settings,
    gate_policy,
    load_spec,
    unknown_key_message,
)

_PACKAGES = ("numpy", "pandas", "scipy", "scikit-learn", "skops", "pyarrow")


def audit(
    *,
    test: Any,
    target: str,
    train: Any = None,
    model: Any = None,
    predictions: Any = None,
    baseline_model: Any = None,
    challengers: Sequence[Any] | None = None,
    task: str | None = None,
    positive_class: str | None = None,
    id_column: str | None = None,
    group_column: str | None = None,
    time_column: str | None = None,
    sensitive: Sequence[str] | None = None,
    weight_column: str | None = None,
    favourable_class: Any = None,
    seed: int | None = None,
    n_jobs: int | None = None,
    trust_model: bool | None = None,
    config: str | Path | None = None,
    checks: Mapping[str, Mapping[str, Any]] | None = None,
    gate: GatePolicy | Mapping[str, Any] | None = None,
    evaluation: EvaluationSettings | Mapping[str, Any] | None = None,
    decision: DecisionSettings | Mapping[str, Any] | None = None,
    engine: EngineSettings | Mapping[str, Any] | None = None,
    select: Iterable[str] | None = None,
) -> AuditResult:
    """Audit a model (or its predictions) on a test set, and optionally a train set.

    Parameters
    ----------
    test, train : DataFrame (pandas or polars), str or Path
        The data, in memory or as CSV/Parquet paths. ``train`` is optional.
    target : str
        The label column.
    model : estimator, str or Path, optional
        A fitted scikit-learn compatible estimator, or a ``.skops`` file.
    predictions : DataFrame, str or Path, optional
        Instead of a model: a ``prediction`` column and ``proba_<class>`` columns.
    baseline_model : estimator, str or Path, optional
        A fitted model (or ``.skops`` file) the model must beat in ``baseline.comparison``:
        the champion (the model in production).
    challengers : sequence of estimators, str or Path, optional
        Other candidate models (fitted estimators or ``.skops`` files), compared with the
        model and the champion on the same test rows in ``baseline.challengers``.
    weight_column : str, optional
        A column of non-negative sample weights: every metric, interval, rate and
        comparison is weighted (counts that drive intervals use Kish's effective size).
    favourable_class : optional
        Binary tasks: the class that is the favourable outcome for the people concerned;
        ``fairness.group_metrics`` compares selection rates of this class (its
        ``favourable_class`` parameter; default the positive class).
    config : str or Path, optional
        An ``audit.toml``; the other keywords override its values.
    checks : mapping, optional
        Per-check parameters, as ``[checks."<id>"]`` tables in the config file.
    gate : GatePolicy or mapping, optional
        The gate policy, or a mapping shaped like the config's ``[gate]`` table.
    evaluation : EvaluationSettings or mapping, optional
        Folds, repeats, bootstrap resamples and seed for every check, as the config's
        ``[evaluation]`` table.
    decision : DecisionSettings or mapping, optional
        Binary tasks: the costs of the model's mistakes and limits on its decisions, as the
        config's ``[decision]`` table; ``performance.decision`` chooses a threshold by them.
    engine : EngineSettings or mapping, optional
        Where to compute, as the config's ``[engine]`` table: ``{"name": "dask"}`` audits
        Parquet datasets given by path on a Dask cluster (``address``, or a local one);
        see docs/scale.md.
    select : iterable of str, optional
        Check ids or categories to run; default all.

    Returns
    -------
    AuditResult
        ``result.verdict``, ``result.gate`` and ``result.exit_code``;
        ``auditor.write_reports(result, out_dir, formats)`` writes the reports.

    Raises
    ------
    InputError
        An input cannot be audited (missing column, misaligned predictions ...).
    """
    spec = load_spec(config)
    if checks is not None:
        spec = replace(spec, checks={**spec.checks, **{k: dict(v) for k, v in checks.items()}})
    spec = spec.with_check_params(keys.GROUP_METRICS, favourable_class=favourable_class)
    if gate is not None:
        spec = replace(
            spec, gate=gate if isinstance(gate, GatePolicy) else gate_policy(gate, "gate=")
        )
    # Each table as the config writes it: a settings object, or a mapping shaped like it.
    for name, given, kind, parse in (
        ("evaluation", evaluation, EvaluationSettings, evaluation_settings),
        ("engine", engine, EngineSettings, engine_settings),
        ("decision", decision, DecisionSettings, decision_settings),
    ):
        if given is not None:
            where = f"{name}="
            settings = given.validated(where) if isinstance(given, kind) else parse(given, where)
            spec = replace(spec, **{name: settings})
    spec = spec.with_overrides(
        target=target,
        task=task,
        positive_class=positive_class,
        id=id_column,
        group=group_column,
        time=time_column,
        sensitive=tuple(sensitive) if sensitive is not None else None,
        weight=weight_column,
        seed=seed,
        n_jobs=n_jobs,
        trust_model=trust_model,
        **{k: str(v) for k, v in (("test", test), ("train", train)) if isinstance(v, (str, Path))},
        **{
            k: str(v)
            for k, v in (
                ("model", model),
                ("predictions", predictions),
                ("baseline_model", baseline_model),
            )
            if isinstance(v, (str, Path))
        },
    )
    paths_only = challengers is not None and all(isinstance(c, (str, Path)) for c in challengers)
    if paths_only:
        spec = spec.with_overrides(challengers=tuple(str(c) for c in challengers))
    objects = {
        k: v
        for k, v in (
            ("test", test),
            ("train", train),
            ("model", model),
            ("predictions", predictions),
            ("baseline_model", baseline_model),
            ("challengers", None if paths_only else challengers),
        )
        if v is not None and not isinstance(v, (str, Path))
    }
    return run_audit(spec, objects=objects, select=select, command="auditor.audit()")


def select_checks(
    registry: Mapping[str, CheckSpec],
    select: Iterable[str] | None,
    skip: Iterable[str] = (),
) -> list[CheckSpec]:
    """The checks named by id or category in ``select`` (all when None), less ``skip``."""
    categories = {spec.category for spec in registry.values()}
    wanted = None if select is None else list(select)
    unwanted = list(skip)
    for flag, names in (("--select", wanted or []), ("skip", unwanted)):
        for name in names:
            if name not in registry and name not in categories:
                raise InputError(unknown_key_message(name, [*registry, *categories], flag))
    return [
        s
        for s in registry.values()
        if (wanted is None or s.id in wanted or s.category in wanted)
        and s.id not in unwanted
        and s.category not in unwanted
    ]


def validate_spec_against_registry(
    spec: AuditSpec, registry: Mapping[str, CheckSpec]
) -> dict[str, Any]:
    """Check config sections that name checks and metrics; return validated check params."""
    from auditor.metrics import METRICS_BY_KEY

    decision_keys = [k.key for k in keys.DECISION_METRICS]
    for key, threshold in spec.gate.metrics.items():
        if key not in METRICS_BY_KEY and key not in decision_keys:
            raise InputError(
                unknown_key_message(key, [*METRICS_BY_KEY, *decision_keys], "[gate.metrics]")
            )
        if key in decision_keys:
            _check_decision_threshold(spec, key, threshold.min_over_baseline)
    categories = {s.category for s in registry.values()}
    for key in spec.gate.waivers:
        if key not in registry and key not in categories:
            raise InputError(unknown_key_message(key, [*registry, *categories], "[gate.waivers]"))
    params = {}
    for check_id, given in spec.checks.items():
        if check_id not in registry:
            raise InputError(unknown_key_message(check_id, list(registry), "[checks]"))
        params[check_id] = build_params(registry[check_id], given)
    return params


def _check_decision_threshold(spec: AuditSpec, key: str, margin: float | None) -> None:
    """A gate bound on the chosen operating point needs the [decision] that chooses it."""
    needs_costs = key == keys.EXPECTED_COST.key
    if spec.decision is None or (needs_costs and not spec.decision.has_costs):
        wanted = (
            "cost_false_positive and cost_false_negative"
            if needs_costs
            else "costs, max_flagged_share or min_recall"
        )
        raise InputError(
            f"[gate.metrics] {key} is measured at the threshold chosen from [decision]; "
            f"declare {wanted} under [decision]."
        )
    if margin is not None:
        raise InputError(
            f"[gate.metrics] {key} takes min or max; min_over_baseline applies to holdout "
            "metrics only."
        )


def run_audit(
    spec: AuditSpec,
    *,
    objects: Mapping[str, Any] | None = None,
    select: Iterable[str] | None = None,
    command: str = "",
) -> AuditResult:
    """Load the inputs, run the checks and evaluate the gate; write nothing."""
    started = time.perf_counter()
    registry = load_registry()
    params = validate_spec_against_registry(spec, registry)
    selected = select_checks(registry, select, spec.skip)
    client = None
    with contextlib.ExitStack() as session:
        if spec.engine.name == "dask":
            from auditor.engine.partitioned.cluster import dask_client

            # Open while the checks run: the slice search confirms on every row.
            client = session.enter_context(dask_client(spec.engine))
            loaded = _load_on_dask(spec, objects, selected, params, client)
        else:
            loaded = load_inputs(spec, **(objects or {}))
        ctx = loaded.context
        validate_against_inputs(ctx, selected, params)
        checks_started = time.perf_counter()
        checks = corroborate(run_checks(ctx, selected, params))
        if ctx.all_rows is not None:
            checks = [with_rows_used(check, ctx) for check in checks]
            from auditor.engine.partitioned.run import record_usage

            try:
                record_usage(client, ctx.all_rows.engine)
            except Exception:  # noqa: BLE001
                # A cluster lost after the checks must not lose the audit: the manifest
                # keeps the figures read after the passes.
                ctx.all_rows.engine["usage_after_checks"] = (
                    "unavailable: the cluster did not answer"
                )
    finished = time.perf_counter()
    headline = (
        None
        if ctx.predictions is None
        else build_headline(
            ctx.task, ctx.predictions.proba is not None, checks, weighted_by=ctx.roles.weight
        )
    )
    gate = evaluate_gate(checks, spec.gate, task=ctx.task, headline=headline)
    durations = {
        **loaded.durations,
        "checks_s": finished - checks_started,
        "total_s": finished - started,
    }
    return AuditResult(
        tool={"name": "auditor", "version": __version__},
        created_at=created_at(),
        task=ctx.task,
        target=ctx.target,
        verdict=overall_verdict(checks),
        checks=checks,
        inputs=loaded.files,
        gate=gate,
        headline=headline,
        manifest={
            "seed": spec.seed,
            "command": command,
            "spec": spec.to_manifest(),
            "python": platform.python_version(),
            "packages": _package_versions(),
            "durations": {k: round(v, 4) for k, v in durations.items()},
            "classes": [str(c) for c in ctx.classes],
            "positive_class": None if ctx.positive_class is None else str(ctx.positive_class),
            "columns": ctx.roles.to_manifest(),
            "model": None if ctx.model is None else _describe_model(ctx.model),
            "model_features": list(ctx.model_features),
            "notes": list(ctx.notes),
            "guidance": guidance(checks, registry),
            **({} if ctx.all_rows is None else {"engine": ctx.all_rows.engine}),
        },
    )


def _load_on_dask(
    spec: AuditSpec,
    objects: Mapping[str, Any] | None,
    selected: list[CheckSpec],
    params: Mapping[str, Any],
    client: Any,
):
    """The Dask engine's load: the passes each selected check can use all rows for."""
    from auditor.engine.partitioned.run import load_partitioned

    overlap_columns = None
    if any(c.id == "leakage.train_test_overlap" for c in selected):
        from auditor.checks._row_keys import key_columns as overlap_columns
    domains = ()
    if any(c.id == "data.out_of_range" for c in selected) and "data.out_of_range" in params:
        from auditor.checks.data.out_of_range import declared_domains

        domains = declared_domains(params["data.out_of_range"])
    repeat_columns = None
    if any(c.id in ("data.duplicate_rows", "data.conflicting_labels") for c in selected):
        from auditor.checks._common import row_content_columns

        repeat_columns = partial(row_content_columns, with_target=False)
    return load_partitioned(
        spec,
        dict(objects or {}),
        client=client,
        overlap_columns=overlap_columns,
        repeat_columns=repeat_columns,
        domains=domains,
        # Every numeric column's rows per float bin (train and test): data.feature_drift's
        # cells, and data.out_of_range's quantiles of a column of many values
        histograms=any(c.id == "data.out_of_range" for c in selected)
        or (spec.train is not None and any(c.id == "data.feature_drift" for c in selected)),
        screen=_constant_columns_screen(selected),
    )


def _constant_columns_screen(selected):
    """``data.constant_columns``' screen when it runs: the Dask engine takes its rows."""
    if not any(c.id == "data.constant_columns" for c in selected):
        return None
    from auditor.checks.data.constant_columns import SCREEN

    return SCREEN


def with_rows_used(check: CheckResult, ctx: AuditContext) -> CheckResult:
    """Add the ``rows_used`` measurement a partitioned audit gives every check that ran.

    A check that read the statistics of every row set it itself; the others read the
    seeded sample, and say so.
    """
    if check.status in ("skipped", "error") or any(
        m.key == "rows_used" for m in check.measurements
    ):
        return check
    total = ctx.all_rows.rows["test"]
    used = Measurement(
        "rows_used",
        float(len(ctx.test)),
        note=f"a seeded sample of {len(ctx.test):,} of the {total:,} test rows",
    )
    return replace(check, measurements=(*check.measurements, used))


def created_at() -> str:
    """Now in ISO 8601 UTC, or SOURCE_DATE_EPOCH when set (reproducible builds)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = dt.datetime.fromtimestamp(int(epoch), dt.UTC) if epoch else dt.datetime.now(dt.UTC)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _package_versions() -> dict[str, str]:
    versions = {}
    for name in sorted(_PACKAGES):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _describe_model(model: Any) -> str:
    steps = getattr(model, "steps", None)
    if steps:
        return " > ".join(type(step).__name__ for _, step in steps)
    return type(model).__name__
