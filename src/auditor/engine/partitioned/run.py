"""Load a partitioned audit: passes over the row groups on Dask, merged, and a seeded sample.

``load_partitioned(spec)`` returns what ``inputs.load_inputs`` returns: a context (built by
``load_inputs`` itself on the sample, so every validation and decision is the in-memory
engine's) whose ``all_rows`` holds the merged statistics of every row, and the input files.
"""

from __future__ import annotations

import dataclasses
import operator
import resource
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from auditor.engine.partitioned.hashing import raw_row_hashes, seeded, uniform
from auditor.engine.partitioned.partials import (
    COARSE_BINS,
    BinaryPartial,
    CalibrationCells,
    MulticlassPartial,
    NumberSpread,
    Profile,
    RegressionPartial,
    TailCounts,
    TailQuery,
    ValueRows,
    binary_partial,
    calibration_cells,
    cut_groups,
    group_cells,
    is_number_column,
    merge_group_cells,
    multiclass_partial,
    number_spread,
    profile_partial,
    regression_partial,
    tail_counts,
    top_label,
    value_rows,
)
from auditor.engine.partitioned.source import (
    PartitionReadError,
    RowGroup,
    list_files,
    number_columns_of,
    read_labelled,
    read_row_group,
    row_groups_of,
    schema_of,
)
from auditor.errors import InputError, preview
from auditor.metrics import EvalData
from auditor.progress import step
from auditor.result import InputFile
from auditor.spec import AuditSpec

PROBA_PREFIX = "proba_"
SAMPLE_STREAM = 1
_MAX_LABEL_VALUES = 1000
_PROGRESS_EVERY_S = 2.0
_HASH = "__auditor_row_hash__"


@dataclass(frozen=True)
class AllRows:
    """Statistics of every row, merged from the partitions; checks read them instead of
    the sample where they can (``ctx.all_rows``)."""

    rows: dict[str, int]  # labelled rows per split
    missing: dict[str, dict[str, int]]  # missing cells per column per split
    # Per split, per column but dates: rows per non-missing value (an object-indexed
    # Series), or None for a column of more than partials.MAX_LEVELS values.
    levels: dict[str, dict[str, pd.Series | None]] = field(default_factory=dict)
    class_counts: dict[str, np.ndarray] = field(default_factory=dict)  # per split, by class
    holdout: dict[str, Any] | None = None  # metric key -> HoldoutScore on all rows
    cells: Any = None  # holdout.BinaryCells: the compressed test set (binary)
    auc_bound: float | None = None  # binned ROC AUC: at most this far from exact
    # data.out_of_range: per split, per numeric (or domain) column: partials.NumericCounts
    numeric: dict[str, dict[str, Any]] = field(default_factory=dict)
    # data.feature_drift: per split, per numeric column, rows per partials.float_bins bin
    histograms: dict[str, dict[str, pd.Series]] = field(default_factory=dict)
    domains: tuple[tuple[str, str, float], ...] = ()  # the violations counted, in this order
    # fairness.group_metrics: per sensitive column, per group (its value; a numeric column
    # cut on every row: the index of its group between group_edges; None: missing), the
    # test rows of each (true class, predicted class) cell in ctx.classes order
    # (classification) or its residual sums and their replicates (regression:
    # partials.RESIDUAL_SUMS, (1 + replicates, 4)); None where not counted
    groups: dict[str, dict | None] = field(default_factory=dict)
    # fairness.group_metrics: per numeric sensitive column cut on every row, its group
    # edges (groups.quantile_edges)
    group_edges: dict[str, np.ndarray] = field(default_factory=dict)
    # leakage.train_test_overlap on every row: test_in_train, train_repeated, retyped
    overlap: dict[str, Any] | None = None
    # data.duplicate_rows and data.conflicting_labels: per split, every row's
    # repeats.REPEAT_COUNTS, its rows and the columns compared (target left out)
    repeats: dict[str, dict[str, Any]] = field(default_factory=dict)
    # performance.calibration: the test rows' calibration scores per logit bin
    calibration: CalibrationCells | None = None
    # ... and its Poisson replicates: (B, 2, COARSE_BINS), per replicate, outcome and
    # coarse logit bin of the score, the weights' sum (from the holdout partial)
    calibration_replicates: np.ndarray | None = None
    # data.constant_columns: per split, the rows of the check's screen (indexed by their
    # position among the split's labelled rows); per split, per column near-constant there
    # and not in ``levels``, rows per non-missing value (None past
    # partials.MAX_COUNTED_VALUES); per split, per column near-constant in another split,
    # the rows holding that split's top value
    screens: dict[str, pd.DataFrame] = field(default_factory=dict)
    counted: dict[str, dict[str, pd.Series | None]] = field(default_factory=dict)
    value_rows: dict[str, dict[str, pd.Series]] = field(default_factory=dict)
    sample_rows: dict[str, int] = field(default_factory=dict)
    replicates: int = 0
    engine: dict[str, Any] = field(default_factory=dict)  # for the manifest
    # slices.weak_segments: whether each test row of the sample is in the search half, and
    # a pass over every test row that sums a slices.SliceQuery (None: the sample is every
    # row, and the check runs as in memory)
    search_half: np.ndarray | None = None
    count_slices: Callable[[Any], np.ndarray] | None = None
    # data.out_of_range's robust rules: per split, a pass over its every row answering a
    # partials.TailQuery per numeric column (reading those columns alone)
    count_tails: (
        Callable[[dict[str, dict[str, TailQuery]]], dict[str, dict[str, TailCounts]]] | None
    ) = None


@dataclass(frozen=True)
class _Plan:
    """What one pass computes on each row group (pickled to the workers)."""

    split: str
    target: str
    columns: list[str] | None
    seed: int
    sample_fraction: float
    replicates: int
    prediction_columns: tuple[str, ...] = ()
    task: str | None = None
    classes: tuple = ()
    positive: int = 1
    score_column: str | None = None  # binary: the column of a class probability
    score_is_positive: bool = True
    proba_columns: tuple[str, ...] = ()  # multiclass: one per class, in class order
    model_features: tuple[str, ...] = ()
    sensitive: tuple[str, ...] = ()  # their groups' confusion cells or residual sums
    # Numeric sensitive columns cut on every row: their inner cut values (a numeric
    # sensitive column not here is not counted: the check reads the sample for it).
    group_cuts: dict[str, np.ndarray] = field(default_factory=dict)
    # data.out_of_range: per column, the declared domains (op, bound) to count violations of
    domains: dict[str, tuple[tuple[str, float], ...]] = field(default_factory=dict)
    # data.feature_drift, data.out_of_range: rows per float bin of numeric columns
    histograms: bool = False
    # data.constant_columns: per row group holding rows of the screen, (path, index) ->
    # (its first labelled row's position in the split, the screen's positions inside it)
    screen: dict[tuple[str, int], tuple[int, np.ndarray]] = field(default_factory=dict)


@dataclass
class _Result:
    rows: int
    dropped: int
    profile: Profile
    holdout: BinaryPartial | MulticlassPartial | RegressionPartial | None
    sample: pd.DataFrame
    labels: pd.Series | None = None  # label value counts (classification)
    # Per label, the row of smallest hash (classification): added to the sample, so that
    # it holds every class of the data however rare, the same rows for any partitioning.
    firsts: pd.DataFrame | None = None
    # Per sensitive column: its groups' (true, predicted) cells (partials.group_cells) or
    # residual sums (partials.regression_partial).
    groups: dict[str, dict | None] | None = None
    calibration: CalibrationCells | None = None  # partials.calibration_cells
    screen: pd.DataFrame | None = None  # the rows of data.constant_columns' screen


def _add(a: Any, b: Any) -> Any:
    """Two optional partials summed (None where neither has one)."""
    return a if b is None else b if a is None else a + b


def _merge_groups(a: dict | None, b: dict | None) -> dict | None:
    if a is None or b is None:
        return a if b is None else b
    return {c: merge_group_cells(a.get(c, {}), b.get(c, {})) for c in a.keys() | b.keys()}


def _first_of_each_label(frame: pd.DataFrame, target: str, hashes: np.ndarray) -> pd.DataFrame:
    order = np.argsort(hashes, kind="stable")
    ranked = frame.iloc[order].assign(**{_HASH: hashes[order]})
    firsts = ranked.drop_duplicates(subset=[target], keep="first")
    firsts.index = pd.Index(firsts[target].to_numpy())  # the label: what _combine dedupes on
    return firsts


def _sensitive_keys(frame: pd.DataFrame, plan: _Plan) -> dict[str, pd.Series | None]:
    """Per sensitive column, the group of each row: its value, or its quartile group for a
    numeric column cut on every row; None for another numeric column (not counted)."""
    return {
        c: cut_groups(frame[c], plan.group_cuts[c])
        if c in plan.group_cuts
        else None
        if is_number_column(frame[c])
        else frame[c]
        for c in plan.sensitive
    }


def _spread(
    group: RowGroup, target: str, columns: tuple[str, ...], storage_options: dict
) -> dict[str, NumberSpread | None]:
    """The labelled rows' spread of each numeric sensitive column in one row group (None
    for a column stored otherwise here)."""
    frame, _ = read_labelled(group, list(columns), target, storage_options)
    return {c: number_spread(frame[c]) if is_number_column(frame[c]) else None for c in columns}


def _merge_spreads(
    a: dict[str, NumberSpread | None], b: dict[str, NumberSpread | None]
) -> dict[str, NumberSpread | None]:
    return {
        c: None if a.get(c) is None or b.get(c) is None else a[c] + b[c]
        for c in a.keys() | b.keys()
    }


def _labels(
    group: RowGroup, target: str, storage_options: dict
) -> tuple[pd.Series, bool, RowGroup, int]:
    """Label value counts of one row group (capped), whether it was cut, the row group and
    its labelled rows."""
    frame = read_row_group(group, [target], storage_options)
    counts = frame[target].value_counts(dropna=True)
    labelled = int(frame[target].notna().sum())
    return counts.iloc[:_MAX_LABEL_VALUES], len(counts) > _MAX_LABEL_VALUES, group, labelled


def _screen_plan(
    screen: Any, groups: list[RowGroup], labelled: dict[RowGroup, int]
) -> dict[tuple[str, int], tuple[int, np.ndarray]]:
    """Where the rows of ``screen`` (``data.constant_columns``' ``Screen``) fall: its
    positions among the split's labelled rows, in file and row-group order as pandas reads
    the dataset whole, cut per row group (``_Plan.screen``)."""
    ends = np.cumsum([labelled[g] for g in groups])
    positions = screen.positions(int(ends[-1]) if len(ends) else 0)
    # The row group of each position: the first whose labelled rows end past it.
    owner = np.searchsorted(ends, positions, side="right")
    plan = {}
    for i in np.unique(owner):
        start = int(ends[i - 1]) if i else 0
        plan[(groups[i].path, groups[i].index)] = (start, positions[owner == i] - start)
    return plan


def labelled_rows(
    group: RowGroup, plan: _Plan, storage_options: dict
) -> tuple[pd.DataFrame, int, np.ndarray]:
    """One row group's rows with a label, how many were dropped, and their seeded hashes.

    Every pass that needs the rows' hashes reads its rows here, so a row has the same hash
    (all columns, predictions included) in each pass and in the sample.
    """
    frame, dropped = read_labelled(group, plan.columns, plan.target, storage_options)
    return frame, dropped, raw_row_hashes(frame)


def evaluation(frame: pd.DataFrame, plan: _Plan, model: Any, source: str) -> EvalData:
    """Targets and predictions of one row group, encoded as the in-memory engine encodes
    them: from the model (scored here, on the worker) or from the prediction columns."""
    from auditor.context import encode_labels
    from auditor.evaluation import predict_frame

    if model is not None:
        predictions = predict_frame(
            model, frame[list(plan.model_features)], plan.task, plan.classes
        )
        y_pred, proba = predictions.y_pred, predictions.proba
    else:
        y_pred = frame["prediction"].to_numpy()
        proba = (
            frame[list(plan.proba_columns)].to_numpy(dtype=float) if plan.proba_columns else None
        )
        if plan.score_column is not None:
            raw = frame[plan.score_column].to_numpy(dtype=float)
            score = raw if plan.score_is_positive else 1 - raw
            proba = np.empty((len(frame), 2))
            proba[:, plan.positive] = score
            proba[:, 1 - plan.positive] = 1 - score
    if plan.task == "regression":
        return EvalData(
            "regression", frame[plan.target].to_numpy(dtype=float), np.asarray(y_pred, float)
        )
    y = encode_labels(frame[plan.target], plan.classes, source=f"target in {source}")
    codes = encode_labels(pd.Series(y_pred), plan.classes, source=f"predictions in {source}")
    return EvalData(plan.task, y, codes, proba, plan.classes, plan.positive)


def _partition(group: RowGroup, plan: _Plan, model: Any, storage_options: dict) -> _Result:
    """Read one row group and compute its partial results (runs on a worker)."""
    frame, dropped, raw = labelled_rows(group, plan, storage_options)
    hashes = seeded(raw, plan.seed)
    data = frame.drop(columns=list(plan.prediction_columns))
    # The content digest does not depend on the seed.
    profile = profile_partial(data, raw, plan.domains, histograms=plan.histograms)
    holdout = groups = calibration = screen = None
    if (group.path, group.index) in plan.screen:
        start, inside = plan.screen[(group.path, group.index)]
        screen = data.iloc[inside].set_axis(pd.Index(inside + start))
    if plan.task is not None and (plan.prediction_columns or model is not None):
        scored = evaluation(frame, plan, model, f"{group.path} (row group {group.index})")
        keys = _sensitive_keys(frame, plan)
        if plan.task == "regression":
            holdout, groups = regression_partial(
                scored.y,
                scored.y_pred,
                hashes,
                plan.replicates,
                {c: k for c, k in keys.items() if k is not None},
            )
            groups.update({c: None for c, k in keys.items() if k is None})
        else:
            y, codes, proba = scored.y, scored.y_pred, scored.proba
            k = len(plan.classes)
            groups = {
                c: None if keys[c] is None else group_cells(keys[c], y, codes, k)
                for c in plan.sensitive
            }
            if plan.task == "multiclass":
                holdout = multiclass_partial(y, codes, proba, hashes, plan.replicates)
                if proba is not None:
                    calibration = calibration_cells(*top_label(y, proba))
            else:
                score = None if proba is None else proba[:, plan.positive]
                if score is not None:
                    calibration = calibration_cells(score, y == plan.positive)
                holdout = binary_partial(
                    y,
                    codes,
                    np.zeros(len(frame)) + 0.5 if score is None else score,
                    plan.positive,
                    hashes,
                    plan.replicates,
                )
    keep = uniform(hashes, SAMPLE_STREAM) < plan.sample_fraction
    # The rows' hashes travel with them: the client orders and dedupes the sample by them.
    sample = frame.loc[keep].assign(**{_HASH: hashes[keep]})
    labels = firsts = None
    if plan.classes:
        labels = frame[plan.target].value_counts()
        firsts = _first_of_each_label(frame, plan.target, hashes)
    return _Result(
        len(frame), dropped, profile, holdout, sample, labels, firsts, groups, calibration, screen
    )


def _peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    """CPU seconds (user and system) this process has used since it started."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def record_usage(client: Any, engine: dict[str, Any]) -> None:
    """Peak resident memory and CPU seconds of the client and each worker, into the
    manifest's ``engine`` block; called after the passes and again after the checks (the
    slice search's pass runs among them)."""
    peaks = client.run(_peak_rss_mb)
    cpu = client.run(_cpu_s)
    engine["peak_memory_mb"] = {
        "client": round(_peak_rss_mb()),
        "workers": {str(k): round(v) for k, v in sorted(peaks.items())},
    }
    # Since each process started: restart the workers before a run to read its own.
    engine["cpu_s"] = {
        "client": round(_cpu_s(), 1),
        "workers": {str(k): round(v, 1) for k, v in sorted(cpu.items())},
    }


def _combine(a: _Result, b: _Result) -> _Result:
    """Two partial results as one (runs on a worker: the tree reduction's step)."""
    holdout = (
        a.holdout
        if b.holdout is None
        else b.holdout
        if a.holdout is None
        else a.holdout + b.holdout
    )
    labels = (
        b.labels
        if a.labels is None
        else a.labels
        if b.labels is None
        else a.labels.add(b.labels, fill_value=0)
    )
    firsts = None
    if a.firsts is not None or b.firsts is not None:
        both = pd.concat([f for f in (a.firsts, b.firsts) if f is not None])
        both = both.sort_values(_HASH, kind="stable")
        firsts = both.loc[~both.index.duplicated(keep="first")]
    return _Result(
        a.rows + b.rows,
        a.dropped + b.dropped,
        a.profile + b.profile,
        holdout,
        pd.concat([a.sample, b.sample]),
        labels,
        firsts,
        _merge_groups(a.groups, b.groups),
        _add(a.calibration, b.calibration),
        _concat_screens(a.screen, b.screen),
    )


def _concat_screens(a: pd.DataFrame | None, b: pd.DataFrame | None) -> pd.DataFrame | None:
    return a if b is None else b if a is None else pd.concat([a, b])


def _run_tasks(
    client: Any,
    func: Callable,
    items: list,
    merge: Callable[[Any], None],
    *args: Any,
    what: str,
    combine: Callable[[Any, Any], Any] | None = None,
) -> None:
    """Submit one task per row group; say progress on stderr as they finish.

    Without ``combine`` each result comes to this process and is merged here. With it the
    results are combined pairwise on the workers as they finish (a tree reduction), and
    only the last one comes here: the client receives one partial, not one per row group.
    """
    from distributed import as_completed

    futures = client.map(func, items, *[[a] * len(items) for a in args], pure=False, retries=1)
    rows = {f.key: item.rows for f, item in zip(futures, items, strict=True)}
    total_rows = sum(rows.values())
    started = last = time.perf_counter()
    done_rows = done = 0
    pending: list[Any] = []
    combined: list[Any] = []
    try:
        finished = as_completed(futures)
        for future in finished:
            if future.status == "error":
                try:
                    future.result()
                except PartitionReadError as exc:
                    raise InputError(_unreadable(exc)) from None
            if future.key in rows:
                done += 1
                done_rows += rows[future.key]
            if combine is None:
                merge(future.result())
                future.release()
            else:
                pending.append(future)
                if len(pending) == 2:
                    step_future = client.submit(combine, *pending, pure=False)
                    combined.append(step_future)
                    finished.add(step_future)
                    for used in pending:
                        used.release()
                    pending = []
            now = time.perf_counter()
            if future.key in rows and (now - last >= _PROGRESS_EVERY_S or done == len(items)):
                last = now
                rate = done_rows / max(now - started, 1e-9)
                step(
                    f"{what}: {done}/{len(items)} row groups, {done_rows:,} of "
                    f"{total_rows:,} rows ({rate:,.0f} rows/s)"
                )
        if pending:
            try:
                merge(pending[0].result())
            except PartitionReadError as exc:
                raise InputError(_unreadable(exc)) from None
    finally:
        for future in [*futures, *combined]:
            future.release()


def _reduced(
    client: Any,
    func: Callable,
    items: list,
    *args: Any,
    what: str,
    combine: Callable[[Any, Any], Any],
) -> Any:
    """``func``'s partial of every row group, combined on the workers into the one
    returned (``_run_tasks``'s tree reduction; a file that cannot be read is an
    ``InputError`` naming it)."""
    merged: list[Any] = []
    _run_tasks(client, func, items, merged.append, *args, what=what, combine=combine)
    return merged[0]


def _row_groups(client: Any, source: str, flag: str, storage: dict) -> list[RowGroup]:
    try:
        files = list_files(source, storage)
    except (OSError, ValueError) as exc:
        raise InputError(f"{flag} {source}: {exc}") from None
    if not files:
        raise InputError(
            f"{flag} {source} names no Parquet file. Pass a .parquet file, a directory of them, "
            "a glob such as 'data/*.parquet' or an fsspec URL."
        )
    groups: list[RowGroup] = []
    try:
        for found in client.gather(client.map(row_groups_of, files, [storage] * len(files))):
            groups += found
    except PartitionReadError as exc:
        raise InputError(_unreadable(exc)) from None
    return groups


def _unreadable(exc: PartitionReadError) -> str:
    return (
        f"Could not read {exc}. Check that the file is a complete Parquet file with the "
        "columns of the others, or leave it out of the dataset."
    )


def _refuse(spec: AuditSpec, objects: dict[str, Any]) -> None:
    if objects.get("test") is not None or objects.get("train") is not None:
        raise InputError(
            "--engine dask reads Parquet datasets by path; pass test= and train= as paths, "
            "or use the in-memory engine for DataFrames."
        )
    if spec.predictions is not None or objects.get("predictions") is not None:
        raise InputError(
            "--engine dask reads predictions from the test dataset itself: add 'prediction' "
            "and proba_<class> columns to it (or pass --model), and drop --predictions."
        )
    if spec.columns.weight is not None:
        raise InputError(
            "--engine dask does not support --weight-column yet: audit weighted data with the "
            "in-memory engine (see docs/scale.md)."
        )
    if spec.baseline_model is not None or objects.get("baseline_model") is not None:
        raise InputError(
            "--engine dask does not score --baseline-model on all rows yet: drop it, or use "
            "the in-memory engine."
        )
    if spec.test is None:
        raise InputError("No test data was given. Pass --test PATH (a Parquet dataset).")
    if spec.target is None:
        raise InputError(
            "No target column was given. Pass --target COLUMN (the label the model predicts)."
        )


def load_partitioned(
    spec: AuditSpec,
    objects: dict[str, Any] | None = None,
    *,
    client: Any,
    overlap_columns: Callable[[Any], list[str]] | None = None,
    repeat_columns: Callable[[Any, pd.DataFrame], list[str]] | None = None,
    domains: Iterable[tuple[str, str, float]] = (),
    histograms: bool = False,
    screen: Any = None,
):
    """Run the passes on Dask and build the context on the sample; see the module doc.

    ``client``: a connected ``distributed.Client`` (``cluster.dask_client``), open while the
    checks run, since the slice search's confirmation reads every row again.
    ``overlap_columns(ctx)``: the columns on which ``leakage.train_test_overlap`` compares
    rows (given when that check runs, and there is a train split): a pass then counts its
    exact matches on every row. ``domains``: ``data.out_of_range``'s declared domains,
    ``(column, op, bound)``, whose violations the main pass counts. ``histograms``: count
    each numeric column's rows per float bin (``data.feature_drift`` or
    ``data.out_of_range`` runs). ``screen``:
    ``data.constant_columns``' ``Screen`` (the check runs): the main pass takes its rows,
    and a pass counts the values of the columns near-constant on it (``_near_constant``).
    ``repeat_columns(ctx, frame)``: the columns on which ``data.duplicate_rows`` and
    ``data.conflicting_labels`` compare a split's rows (given when either runs): a pass per
    split then counts its copies and label conflicts on every row (``_repeats``).
    """
    objects = dict(objects or {})
    _refuse(spec, objects)
    return _load(
        client,
        spec,
        objects,
        overlap_columns,
        tuple(domains),
        histograms,
        screen,
        repeat_columns=repeat_columns,
    )


def _load(
    client: Any,
    spec: AuditSpec,
    objects: dict[str, Any],
    overlap_columns: Callable[[Any], list[str]] | None = None,
    domains: tuple[tuple[str, str, float], ...] = (),
    histograms: bool = False,
    screen: Any = None,
    *,
    repeat_columns: Callable[[Any, pd.DataFrame], list[str]] | None = None,
):
    from auditor.context import detect_task, encode_labels, sorted_labels
    from auditor.engine.partitioned.holdout import (
        BinaryCells,
        auc_binning_bound,
        binary_scores,
        multiclass_scores,
        regression_scores,
    )
    from auditor.inputs import _positive_index, load_inputs
    from auditor.io.models import load_model

    started = time.perf_counter()
    storage: dict[str, Any] = {}
    target = spec.target
    notes: list[str] = []
    sources = {"test": ("--test", spec.test)}
    if spec.train is not None:
        sources["train"] = ("--train", spec.train)
    step("listing the row groups of " + ", ".join(s for _, s in sources.values()))
    groups = {
        name: _row_groups(client, src, flag, storage) for name, (flag, src) in sources.items()
    }
    columns = {name: schema_of(g[0].path, storage) for name, g in groups.items()}
    for name, cols in columns.items():
        if target not in cols:
            raise InputError(
                f"--target {target!r} is not a column of the {name} data; columns are "
                f"{preview(cols)}. Pass one of them to --target."
            )
    total = {name: sum(g.rows for g in gs) for name, gs in groups.items()}

    # Pass 1: the labels alone (one column), to know the task and the classes.
    label_counts: pd.Series | None = None
    many_labels = False
    labelled: dict[RowGroup, int] = {}

    def add_labels(result: tuple[pd.Series, bool, RowGroup, int]) -> None:
        nonlocal label_counts, many_labels
        counts, cut, group, rows = result
        many_labels = many_labels or cut
        label_counts = counts if label_counts is None else label_counts.add(counts, fill_value=0)
        labelled[group] = rows

    every_group = [g for gs in groups.values() for g in gs]
    _run_tasks(
        client,
        _labels,
        every_group,
        add_labels,
        target,
        storage,
        what="reading the labels",
    )
    model = objects.get("model")
    if model is None and spec.model is not None:
        step(f"loading the model {Path(spec.model).name}")
        model = load_model(spec.model, trust_model=spec.trust_model, notes=notes)
    prediction_columns = tuple(
        c for c in columns["test"] if c == "prediction" or str(c).startswith(PROBA_PREFIX)
    )
    if model is None and prediction_columns and "prediction" not in prediction_columns:
        raise InputError(
            f"The test dataset has {preview(prediction_columns)} but no 'prediction' column. "
            "Add the predicted label (or value) as a column named 'prediction'."
        )
    distinct = pd.Series(label_counts.index if label_counts is not None else [])
    if spec.task is not None:
        task, reason = spec.task, "declared with --task"
    elif many_labels and pd.api.types.is_numeric_dtype(distinct):
        task, reason = "regression", "the target is numeric with many distinct values"
    else:
        task, reason = detect_task(
            distinct,
            model=model,
            has_proba_columns=any(c.startswith(PROBA_PREFIX) for c in prediction_columns),
        )
    classes: tuple = ()
    positive = 1
    if task != "regression":
        classes = (
            tuple(c.item() if hasattr(c, "item") else c for c in model.classes_)
            if model is not None and hasattr(model, "classes_")
            else sorted_labels(distinct)
        )
        positive = _positive_index(classes, spec.positive_class, task)

    # Pass 2 per split: profile, sample, and on the test rows the holdout partials.
    score_column, score_is_positive = None, True
    if task == "binary" and model is None:
        wanted = {f"{PROBA_PREFIX}{classes[positive]}": True}
        wanted[f"{PROBA_PREFIX}{classes[1 - positive]}"] = False
        for column, is_positive in wanted.items():
            if column in prediction_columns:
                score_column, score_is_positive = column, is_positive
                break
    proba_columns: tuple[str, ...] = ()
    if task == "multiclass" and model is None:
        wanted = [f"{PROBA_PREFIX}{c}" for c in classes]
        present = [c for c in wanted if c in prediction_columns]
        if present and len(present) < len(wanted):
            raise InputError(
                f"The test dataset lacks probability columns "
                f"{preview([c for c in wanted if c not in prediction_columns])}. Give one "
                "proba_<class> column per class."
            )
        proba_columns = tuple(present)
    model_features: tuple[str, ...] = ()
    if model is not None:
        names = getattr(model, "feature_names_in_", None)
        left_out = {target, *prediction_columns, spec.columns.id}
        model_features = (
            tuple(str(n) for n in names)
            if names is not None
            else tuple(c for c in columns["test"] if c not in left_out)
        )
        missing = [c for c in model_features if c not in columns["test"]]
        if missing:
            raise InputError(
                f"The model expects columns {preview(missing)} that the test data lacks. "
                "Pass the data the model was trained on, with the same column names."
            )
    sensitive = tuple(c for c in spec.columns.sensitive if c in columns["test"])
    group_edges = (
        _cut_sensitive(client, groups["test"], target, sensitive, storage, notes)
        if sensitive and (prediction_columns or model is not None)
        else {}
    )
    model_ref = client.scatter(model, broadcast=True) if model is not None else None
    replicates = spec.engine.bootstrap_replicates
    results: dict[str, dict[str, Any]] = {}
    plans: dict[str, _Plan] = {}
    for name, gs in groups.items():
        plan = plans[name] = _Plan(
            split=name,
            target=target,
            columns=None,
            seed=spec.seed,
            sample_fraction=min(1.0, spec.engine.sample_rows / max(total[name], 1)),
            replicates=replicates,
            prediction_columns=prediction_columns if name == "test" else (),
            task=task if name == "test" else None,
            classes=classes,
            positive=positive,
            score_column=score_column,
            score_is_positive=score_is_positive,
            proba_columns=proba_columns,
            model_features=model_features,
            sensitive=sensitive if name == "test" else (),
            group_cuts={c: edges[1:-1] for c, edges in group_edges.items()}
            if name == "test"
            else {},
            histograms=histograms,
            screen={} if screen is None else _screen_plan(screen, gs, labelled),
            domains={
                column: tuple((op, bound) for c, op, bound in domains if c == column)
                for column in dict.fromkeys(c for c, _, _ in domains)
            },
        )
        merged: dict[str, Any] = {
            "rows": 0,
            "dropped": 0,
            "profile": Profile(),
            "holdout": None,
            "labels": None,
            "groups": None,
            "calibration": None,
            "screen": None,
        }
        samples: list[pd.DataFrame] = []
        firsts: list[pd.DataFrame] = []

        def add(
            result: _Result,
            merged: dict[str, Any] = merged,
            samples: list = samples,
            firsts: list = firsts,
        ) -> None:
            merged["rows"] += result.rows
            merged["dropped"] += result.dropped
            merged["profile"] = merged["profile"] + result.profile
            if result.holdout is not None:
                merged["holdout"] = (
                    result.holdout
                    if merged["holdout"] is None
                    else merged["holdout"] + result.holdout
                )
            merged["groups"] = _merge_groups(merged["groups"], result.groups)
            merged["calibration"] = _add(merged["calibration"], result.calibration)
            merged["screen"] = _concat_screens(merged["screen"], result.screen)
            samples.append(result.sample)
            if result.firsts is not None:
                firsts.append(result.firsts)
            if result.labels is not None:
                merged["labels"] = (
                    result.labels
                    if merged["labels"] is None
                    else merged["labels"].add(result.labels, fill_value=0)
                )

        _run_tasks(
            client,
            _partition,
            gs,
            add,
            plan,
            model_ref if name == "test" else None,
            storage,
            what=f"auditing the {name} rows",
            combine=_combine,
        )
        sample = pd.concat(samples, ignore_index=True)
        if firsts:
            # Every class in the sample: the row of smallest hash of each label it lacks.
            extra = firsts[0].loc[~firsts[0][_HASH].isin(sample[_HASH])]
            sample = pd.concat([sample, extra], ignore_index=True)
        # Sorted by row hash, the sample is the same rows in the same order however the
        # dataset is partitioned.
        sample = sample.sort_values(_HASH, kind="stable").reset_index(drop=True)
        merged["hashes"] = sample[_HASH].to_numpy()
        merged["sample"] = sample.drop(columns=_HASH)
        if merged["screen"] is not None:
            merged["screen"] = merged["screen"].sort_index()
        results[name] = merged
    passes_done = time.perf_counter()

    # The context: the in-memory engine's own loading, on the sample.
    test_sample = results["test"]["sample"]
    predictions = None
    if model is None and prediction_columns:
        predictions = test_sample[list(prediction_columns)]
        test_sample = test_sample.drop(columns=list(prediction_columns))
    sample_spec = replace(spec, test=None, train=None, model=None, predictions=None, task=task)
    loaded = load_inputs(
        sample_spec,
        test=test_sample,
        train=results["train"]["sample"] if "train" in results else None,
        model=model,
        predictions=predictions,
    )
    ctx = loaded.context
    holdout = cells = bound = calibration_replicates = None
    merged_holdout = results["test"]["holdout"]
    if isinstance(merged_holdout, BinaryPartial):
        # The classes of every row (coded so on the workers), which the sample may lack.
        holdout, cells = binary_scores(
            merged_holdout,
            classes,
            positive,
            score_column is not None
            or (
                model is not None
                and ctx.predictions is not None
                and ctx.predictions.proba is not None
            ),
        )
        bound = auc_binning_bound(merged_holdout.fine, positive)
        by_class = merged_holdout.coarse.reshape(-1, 2, 2, COARSE_BINS).sum(axis=2)
        calibration_replicates = by_class[:, [1 - positive, positive]]
        notes.append(
            f"ROC AUC and average precision on all rows are computed on scores binned in "
            f"65,536 logit bins: the ROC AUC is within {bound:.1e} of the exact value."
        )
    elif isinstance(merged_holdout, RegressionPartial):
        holdout = regression_scores(merged_holdout)
    elif isinstance(merged_holdout, MulticlassPartial):
        has_proba = ctx.predictions is not None and ctx.predictions.proba is not None
        holdout, data, counts = multiclass_scores(merged_holdout, classes, has_proba)
        cells = BinaryCells(data, counts)
        if merged_holdout.top_label_rep.size:  # kept with the probabilities
            calibration_replicates = merged_holdout.top_label_rep.reshape(-1, 2, COARSE_BINS)
        if has_proba:
            notes.append(
                "The one-vs-rest ROC AUC on all rows is computed on each class's probability "
                "binned in 65,536 logit bins."
            )
    for name, merged in results.items():
        if merged["dropped"]:
            notes.append(
                f"{merged['dropped']:,} {name} rows with a missing target were left out of the audit."
            )
    workers = (
        client.scheduler_info(n_workers=-1)["workers"]
        if _takes_n_workers(client)
        else (client.scheduler_info()["workers"])
    )
    engine = {
        "name": "dask",
        "address": spec.engine.address,
        "workers": len(workers),
        "threads": int(sum(w.get("nthreads", 1) for w in workers.values())),
        "memory_limit_mb": [round(w.get("memory_limit", 0) / 2**20) for w in workers.values()],
        "partitions": {name: len(gs) for name, gs in groups.items()},
        "files": {name: len({g.path for g in gs}) for name, gs in groups.items()},
        "rows": {name: results[name]["rows"] for name in results},
        "sample_rows": {name: len(results[name]["sample"]) for name in results},
        "bootstrap_replicates": replicates,
        "row_digest": {name: f"{results[name]['profile'].digest:016x}" for name in results},
        "passes_s": round(passes_done - started, 3),
        "rows_per_s": round(sum(total.values()) / max(passes_done - started, 1e-9)),
    }
    record_usage(client, engine)
    class_counts = {}
    same_classes = tuple(map(str, ctx.classes)) == tuple(map(str, classes))
    if ctx.classes and same_classes:  # else class_imbalance reads the sample, as noted
        for name, merged in results.items():
            labels = merged["labels"]
            codes = encode_labels(
                pd.Series(labels.index), ctx.classes, source=f"the {name} target {target!r}"
            )
            class_counts[name] = np.bincount(
                codes, weights=labels.to_numpy(dtype=float), minlength=len(ctx.classes)
            ).astype(np.int64)
    overlap = None
    if "train" in results and overlap_columns is not None and ctx.train is not None:
        overlap = _overlap(client, ctx, overlap_columns(ctx), groups, results, storage)
    search_half = count_slices = None
    test_rows = results["test"]
    if len(test_rows["sample"]) < test_rows["rows"] and len(ctx.test) == len(test_rows["sample"]):
        from auditor.engine.partitioned.slices import in_search_half

        search_half = in_search_half(
            test_rows["sample"], test_rows["hashes"], ctx.roles.group, spec.seed
        )
        count_slices = partial(
            _count_slices, client, groups["test"], plans["test"], model_ref, storage, engine
        )
    counted: dict[str, dict[str, pd.Series | None]] = {}
    asked: dict[str, dict[str, pd.Series]] = {}
    if screen is not None:
        counted, asked = _near_constant(client, screen, ctx, groups, results, storage)
    repeats = (
        {} if repeat_columns is None else _repeats(client, ctx, repeat_columns, groups, storage)
    )
    all_rows = AllRows(
        repeats={
            name: {**counts, "rows": results[name]["rows"]} for name, counts in repeats.items()
        },
        search_half=search_half,
        count_slices=count_slices,
        count_tails=partial(_count_tails, client, groups, target, storage),
        rows={name: results[name]["rows"] for name in results},
        class_counts=class_counts,
        missing={name: dict(results[name]["profile"].missing) for name in results},
        levels={name: _sorted_levels(results[name]["profile"].levels) for name in results},
        numeric={name: dict(results[name]["profile"].numeric) for name in results},
        histograms={
            name: {c: h.sort_index() for c, h in results[name]["profile"].histograms.items()}
            for name in results
        },
        domains=domains,
        holdout=holdout,
        cells=cells,
        auc_bound=bound,
        overlap=overlap,
        calibration=results["test"]["calibration"] if same_classes else None,
        calibration_replicates=calibration_replicates if same_classes else None,
        screens={n: r["screen"] for n, r in results.items() if r["screen"] is not None},
        counted=counted,
        value_rows=asked,
        groups=(results["test"]["groups"] or {}) if same_classes else {},
        group_edges=group_edges,
        sample_rows=engine["sample_rows"],
        replicates=replicates,
        engine=engine,
    )
    if ctx.classes and tuple(map(str, ctx.classes)) != tuple(map(str, classes)):
        notes.append(
            f"The sample holds the classes {preview(ctx.classes)} of {preview(classes)}: the "
            "checks that read the sample see fewer classes than the all-rows checks."
        )
    own_notes = tuple(
        f"Task: {task} ({reason})." if note.startswith("Task: ") else note for note in ctx.notes
    )
    ctx = replace(ctx, all_rows=all_rows, notes=(*own_notes, *_sample_note(engine), *notes))
    files = tuple(
        InputFile(
            name,
            _display_name(src),
            results[name]["rows"],
            len(columns[name]),
            dataset_sha256(results[name]["rows"], results[name]["profile"].digest),
        )
        for name, (_, src) in sources.items()
    )
    if spec.model is not None:
        files += tuple(f for f in loaded.files if f.role == "model")
    durations = {**loaded.durations, "passes_s": passes_done - started}
    return dataclasses.replace(loaded, context=ctx, files=files, durations=durations)


def _cut_sensitive(
    client: Any,
    test_groups: list[RowGroup],
    target: str,
    sensitive: tuple[str, ...],
    storage: dict,
    notes: list[str],
) -> dict[str, np.ndarray]:
    """The pass before the main one, for numeric sensitive columns: the group edges of
    each that the check cuts at its quartiles (more than its ``MAX_DISTINCT_UNBINNED``
    distinct values), from every labelled test row, so that the main pass counts its
    groups on every row (``fairness.group_metrics``). A column of fewer values, or spread
    over more than ``MAX_SPREAD_BINS`` float bins, is left out: the check reads the sample.
    """
    from auditor.engine.partitioned.groups import quantile_edges
    from auditor.engine.partitioned.partials import MAX_SPREAD_BINS
    from auditor.engine.sensitive_groups import MAX_DISTINCT_UNBINNED, QUARTILES

    numbers = set(number_columns_of(test_groups[0].path, storage))
    columns = tuple(c for c in sensitive if c in numbers)
    if not columns:
        return {}
    spreads: dict[str, NumberSpread | None] = _reduced(
        client,
        _spread,
        test_groups,
        target,
        columns,
        storage,
        what="reading the numeric sensitive columns",
        combine=_merge_spreads,
    )
    edges = {}
    for column, spread in spreads.items():
        if spread is None or not np.isfinite(spread.low):
            continue  # stored otherwise in some file, or no finite value
        if spread.values is not None and len(spread.values) <= MAX_DISTINCT_UNBINNED:
            continue  # grouped by value, not cut
        if spread.values is None and spread.histogram is None:
            notes.append(
                f"The sensitive column {column!r} spreads over more than {MAX_SPREAD_BINS:,} "
                "float bins: fairness.group_metrics cuts it at the quartiles of the sample."
            )
            continue
        edges[column] = quantile_edges(spread, QUARTILES)
    return edges


def _overlap(
    client: Any,
    ctx: Any,
    columns: list[str],
    groups: dict[str, list[RowGroup]],
    results: dict[str, dict[str, Any]],
    storage: dict,
) -> dict[str, Any] | None:
    """Pass 3: the exact train/test overlap on every row (``leakage.train_test_overlap``).

    The columns compared are the check's own (``key_columns``), decided on the sample; a
    column of whole numbers stored as integers in one split and decimals in the other
    (without a missing value to explain it, on every row) is ``retyped``: no row is then
    an exact copy, as in memory.
    """
    from auditor.engine.partitioned.overlap import OverlapPlan, bucket_bits, overlap_counts

    columns = tuple(columns)
    if not columns:
        return None
    retyped = []
    for column in columns:
        kinds = {
            name: results[name]["profile"].dtypes.get(column, "")[:1].lower()
            for name in ("train", "test")
        }
        found = set(kinds.values())
        if "f" in found and found & {"i", "u"}:
            decimal = "train" if kinds["train"] == "f" else "test"
            if not results[decimal]["profile"].missing.get(column, 0):
                retyped.append(column)
    rows = results["train"]["rows"] + results["test"]["rows"]
    plan = OverlapPlan(ctx.target, columns, bucket_bits(rows))
    step(f"comparing the train and test rows on {len(columns)} columns")
    try:
        counts = overlap_counts(client, {n: groups[n] for n in ("train", "test")}, plan, storage)
    except PartitionReadError as exc:
        raise InputError(_unreadable(exc)) from None
    return {**counts, "columns": columns, "retyped": tuple(retyped)}


def _repeats(
    client: Any,
    ctx: Any,
    repeat_columns: Callable[[Any, pd.DataFrame], list[str]],
    groups: dict[str, list[RowGroup]],
    storage: dict,
) -> dict[str, dict[str, Any]]:
    """Per split, every row's ``repeats.REPEAT_COUNTS`` on the columns the checks compare
    (decided on the sample, as the overlap's are), and those columns."""
    from auditor.engine.partitioned.overlap import bucket_bits, bucketed_sums
    from auditor.engine.partitioned.repeats import (
        REPEAT_COUNTS,
        RepeatPlan,
        bucket_repeats,
        partition_rows,
    )

    out = {}
    for name, frame in (("test", ctx.test), ("train", ctx.train)):
        if frame is None or name not in groups:
            continue
        columns = tuple(repeat_columns(ctx, frame))
        if not columns:
            continue
        rows = sum(g.rows for g in groups[name])
        plan = RepeatPlan(ctx.target, columns, bucket_bits(rows))
        step(f"counting repeated {name} rows on {len(columns)} columns")
        try:
            sums = bucketed_sums(
                client, {name: groups[name]}, partition_rows, plan, storage, bucket_repeats
            )
        except PartitionReadError as exc:
            raise InputError(_unreadable(exc)) from None
        out[name] = {**dict(zip(REPEAT_COUNTS, sums.tolist(), strict=True)), "columns": columns}
    return out


def _count_slices(
    client: Any,
    groups: list[RowGroup],
    plan: _Plan,
    model: Any,
    storage: dict,
    engine: dict[str, Any],
    query: Any,
) -> np.ndarray:
    """Pass 4 (``slices.weak_segments``): a ``SliceQuery``'s sums over every test row; its
    time goes into the manifest's ``engine`` block."""
    from auditor.engine.partitioned.slices import slice_partition

    started = time.perf_counter()
    total = _reduced(
        client,
        slice_partition,
        groups,
        plan,
        query,
        model,
        storage,
        what=f"confirming {len(query.conditions)} slices on every test row",
        combine=np.add,
    )
    engine["slice_pass_s"] = round(time.perf_counter() - started, 3)
    return total


@dataclass(frozen=True)
class _CountPlan:
    target: str
    counted: tuple[str, ...]  # every value's rows
    asked: dict[str, tuple]  # the rows holding each of these values


def _count_values(group: RowGroup, plan: _CountPlan, storage_options: dict) -> ValueRows:
    """One row group's ``ValueRows`` (runs on a worker; reads those columns alone)."""
    frame, _ = read_labelled(group, [*plan.counted, *plan.asked], plan.target, storage_options)
    return value_rows(frame, plan.counted, plan.asked)


def _near_constant(
    client: Any,
    screen: Any,
    ctx: Any,
    groups: dict[str, list[RowGroup]],
    results: dict[str, dict[str, Any]],
    storage: dict,
) -> tuple[dict[str, dict[str, pd.Series | None]], dict[str, dict[str, pd.Series]]]:
    """The count pass (``data.constant_columns`` runs): the exact counts the check needs
    beyond the main pass's value counts, reading only the columns concerned.

    A feature column whose top value fills at least ``screen.share`` of a split's screen is
    counted in full in that split when the main pass did not count it (continuous numbers,
    text past MAX_LEVELS, dates): the check then takes its distinct values and top share
    from every row, as it does in memory. A column with one value on a split's screen may be
    constant there: in another split where it is counted neither way (continuous in train),
    the rows holding that value are counted, the check's chance of a dead feed being its
    share there. Returns (counted, asked) per split.
    """
    features = ctx.roles.features
    near: dict[str, set[str]] = {}
    constant: dict[str, dict[str, object]] = {}  # one non-missing value on the screen
    for name, merged in results.items():
        frame = merged["screen"]
        near[name], constant[name] = set(), {}
        for column in features:
            if frame is None or column not in frame:
                continue
            share, value, _ = screen.top(frame[column])
            if share >= screen.share and merged["profile"].missing[column] < merged["rows"]:
                near[name].add(column)
                if share == 1.0 and not pd.isna(value):
                    constant[name][column] = value
    counted: dict[str, dict[str, pd.Series | None]] = {}
    asked: dict[str, dict[str, pd.Series]] = {}
    for name, merged in results.items():
        profile = merged["profile"]
        uncounted = [c for c in features if c in profile.missing and profile.levels.get(c) is None]
        # Only a column with one value on another split's screen can be constant there; the
        # check then needs this split's share of that value.
        tops = {
            c: tuple(v[c] for other, v in constant.items() if other != name and c in v)
            for c in uncounted
            if c not in near[name]
        }
        plan = _CountPlan(
            ctx.target,
            tuple(c for c in uncounted if c in near[name]),
            {c: values for c, values in tops.items() if values},
        )
        if not plan.counted and not plan.asked:
            continue
        found: ValueRows = _reduced(
            client,
            _count_values,
            groups[name],
            plan,
            storage,
            what=f"counting near-constant columns of the {name} rows",
            combine=operator.add,
        )
        counted[name] = found.counted
        asked[name] = found.asked
    return counted, asked


def _tails(
    group: RowGroup, target: str, queries: dict[str, TailQuery], storage_options: dict
) -> dict[str, TailCounts]:
    """One row group's answers to ``data.out_of_range``'s queries (reads those columns)."""
    frame, _ = read_labelled(group, list(queries), target, storage_options)
    return {c: tail_counts(frame[c], query) for c, query in queries.items()}


def _merge_tails(a: dict[str, TailCounts], b: dict[str, TailCounts]) -> dict[str, TailCounts]:
    return {c: a[c] + b[c] for c in a}


def _count_tails(
    client: Any,
    groups: dict[str, list[RowGroup]],
    target: str,
    storage: dict,
    queries: dict[str, dict[str, TailQuery]],
) -> dict[str, dict[str, TailCounts]]:
    """A light pass per split for ``data.out_of_range``'s robust rules: each queried
    column's ``TailCounts`` over the split's every labelled row, reading only those
    columns; ``queries`` per split."""
    out: dict[str, dict[str, TailCounts]] = {}
    for name, asked in queries.items():
        out[name] = _reduced(
            client,
            _tails,
            groups[name],
            target,
            asked,
            storage,
            what=f"counting the tails of {len(asked)} columns of the {name} rows",
            combine=_merge_tails,
        )
    return out


def _sorted_levels(levels: dict[str, pd.Series | None]) -> dict[str, pd.Series | None]:
    """Value counts in one order whatever the partitioning: by their values' text."""
    out: dict[str, pd.Series | None] = {}
    for column, counts in levels.items():
        if counts is not None:
            order = np.argsort(
                np.array([f"{type(v).__name__}:{v}" for v in counts.index]), kind="stable"
            )
            counts = counts.iloc[order]
        out[column] = counts
    return out


def dataset_sha256(rows: int, digest: int) -> str:
    """A dataset's identity for ``inputs[].sha256``: SHA-256 of its row count and row digest
    (the sum of its rows' hashes), the same for the same rows in any files and order."""
    import hashlib

    return hashlib.sha256(f"auditor-parquet-rows:{rows}:{digest:016x}".encode()).hexdigest()


def _takes_n_workers(client: Any) -> bool:
    import inspect

    return "n_workers" in inspect.signature(client.scheduler_info).parameters


def _sample_note(engine: dict[str, Any]) -> Iterable[str]:
    rows, sample = engine["rows"], engine["sample_rows"]
    yield (
        f"Dask engine: {engine['workers']} workers, "
        + ", ".join(
            f"{name} {rows[name]:,} rows in {engine['partitions'][name]} partitions"
            for name in rows
        )
        + "; checks that need rows in memory read a seeded sample of "
        + ", ".join(f"{sample[name]:,} {name} rows" for name in sample)
        + " (each check's rows_used says which)."
    )


def _display_name(source: str) -> str:
    """A dataset's name without its folders: ``scored/`` or ``part-*.parquet``."""
    text = source.rstrip("/")
    return text.rsplit("/", 1)[-1] + ("/" if source.endswith("/") else "")
