"""``leakage.group_overlap``: the same entity (group or id value) in train and test."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from auditor.checks._common import example_rows, status_from
from auditor.checks._row_keys import row_keys
from auditor.checks._timeline import order_column, split_times
from auditor.context import AuditContext
from auditor.registry import CheckOutcome, SkipCheck, param, register_check
from auditor.result import Finding, Measurement, Table

CHECK_ID = "leakage.group_overlap"
# Overlapping row ids count as copied rows when at least this share carry identical features.
_COPY_SHARE = 0.5
# Row ids shared by at least this share of the test rows (with different rows behind them)
# mean each file numbers its rows separately.
_RENUMBERED_SHARE = 0.5
# Example values quoted in a message, and their length.
_EXAMPLE_VALUES = 3
_VALUE_CHARS = 30


@dataclass(frozen=True, slots=True)
class GroupOverlapParams:
    """Thresholds of ``leakage.group_overlap``.

    Parameters
    ----------
    fail_share : float, default=0.01
        Fail when test rows of entities also in train reach this share of the test rows.
    min_groups : int, default=1
        Warn when at least this many entities are in both splits (below ``fail_share``).
    max_split_ratio : float, default=0.25
        Overlap at most this fraction of a random row split's is a leaking group split.
    fail_ignored_share : float, default=0.5
        A split that ignores a declared group or entity id warns; it fails when the test
        rows of entities seen in training reach this share of the test rows.
    """

    fail_share: float = param(
        0.01,
        "Fail when the test rows whose group (or entity id) also appears in train are at "
        "least this share of the test rows.",
        share=True,
    )
    min_groups: int = param(
        1,
        "Warn when at least this many groups (or entity ids) appear in both splits.",
        minimum=1,
    )
    max_split_ratio: float = param(
        0.25,
        "Overlap above zero but at most this fraction of what a random row split would give "
        "means the data was split by the column and some groups leaked (flagged); more means "
        "the split ignores the column.",
        share=True,
    )
    fail_ignored_share: float = param(
        0.5,
        "A split that ignores a declared group (or entity id) warns; it fails when the test "
        "rows of entities also in training reach this share of the test rows, since the test "
        "score then mostly measures entities the model has seen.",
        share=True,
    )


@register_check(
    CHECK_ID,
    title="The same entity in training and test data",
    needs=("train",),
    params=GroupOverlapParams,
    rationale=(
        "When rows belong to entities (customers, patients, devices), a model can learn to "
        "recognise the entity instead of the pattern. If the same entity appears in both "
        "training and test data, the test score rewards that recognition and overstates "
        "performance on new entities. The same row id in both files means a row was copied."
    ),
    remedy=(
        "Split by entity: put all rows of a customer (patient, device ...) in the same split, "
        "for example with scikit-learn's GroupShuffleSplit or GroupKFold, and declare the "
        "column with --group-column so the audit checks it. Remove rows copied between the "
        "files."
    ),
)
def group_overlap(ctx: AuditContext, params: GroupOverlapParams) -> CheckOutcome:
    """Measure how many groups, entity ids and row ids appear in both train and test.

    Notes
    -----
    Columns examined: the declared group column; the id columns (declared or inferred);
    and undeclared entity columns (repeating key-named columns, see ``auditor.roles``).
    Missing values are not entities.

    - **Groups and entities** (the declared group, a declared id that repeats within a
      split, an undeclared entity column): a random row split puts most entities with
      several rows in both splits (for a test row whose entity has ``c`` rows in all, with
      a test share ``f``, the chance is ``1 - f**(c-1)``). Overlap above zero but at most
      ``max_split_ratio`` times that expectation is the signature of a split by the column
      in which some entities leaked: for a declared column it fails when the test rows of
      shared entities reach ``fail_share`` and warns from ``min_groups`` shared values; for
      an undeclared entity column it warns. Overlap like a random split's means the split
      ignores the column. For a declared column that is the problem the user declared it
      to catch: a warning, failing when the test rows of entities seen in training reach
      ``fail_ignored_share``; for an undeclared entity column it is informational. In a
      time-ordered split
      (most test rows later than 90% of the train rows on the time or date column)
      entities naturally recur: informational.
    - **Row ids** (unique within each split): a shared id whose train and test rows have
      identical features (as in ``leakage.train_test_overlap``) is a copied row, judged
      like a declared group. Shared ids naming different rows are either a numbering that
      restarts in each file (at least half of the test ids shared, or both files numbered
      by consecutive integers from the same start: informational) or one entity in both
      splits (declared id: judged like a declared group; inferred id: a warning).
    """
    columns = _entity_columns(ctx)
    if not columns:
        raise SkipCheck(
            "no group column (--group-column) or id column (--id-column) was declared, and "
            "no column looks like a row or entity identifier"
        )
    findings: list[Finding] = []
    rows = []
    worst_share, shared_total, serious_share = 0.0, 0, 0.0
    for column, role in columns:
        stats = _overlap(ctx.train[column], ctx.test[column])
        worst_share = max(worst_share, stats["share"])
        shared_total += stats["shared_values"]
        rows.append(
            (
                column,
                role,
                stats["test_values"],
                stats["shared_values"],
                stats["shared_rows"],
                stats["share"],
                stats["random_share"],
            )
        )
        finding = _judge(ctx, column, role, stats, params)
        if finding is not None:
            findings.append(finding)
            if finding.severity != "low":
                serious_share = max(serious_share, stats["share"])

    serious = [f for f in findings if f.severity != "low"]
    if serious:
        summary = (
            f"{len(serious)} of {len(columns)} entity column(s) have values in both train and "
            f"test in a way the split should have prevented, up to {serious_share:.1%} of test rows."
        )
    else:
        described = ", ".join(f"{c!r}" for c, _ in columns)
        if shared_total == 0:
            summary = f"No value of {described} appears in both train and test."
        else:
            summary = (
                f"Values of {described} appear in both train and test ({worst_share:.1%} of test "
                "rows at most), as expected for how the data was split (see the findings)."
            )
    return CheckOutcome(
        status=status_from(findings),
        summary=summary,
        findings=tuple(findings),
        measurements=(
            Measurement("max_test_share_with_shared_entity", worst_share, greater_is_better=False),
            Measurement("n_shared_entities", float(shared_total), greater_is_better=False),
        ),
        tables=(
            Table(
                "entity_overlap",
                "Entities in both train and test",
                (
                    "column",
                    "role",
                    "test_values",
                    "shared_values",
                    "shared_test_rows",
                    "shared_test_share",
                    "random_split_share",
                ),
                tuple(rows),
            ),
        ),
    )


def _entity_columns(ctx) -> list[tuple[str, str]]:
    """(column, role) pairs: the declared group, ids, undeclared entity columns."""
    out: list[tuple[str, str]] = []
    seen = {ctx.target}
    candidates = [(ctx.roles.group, "group")] if ctx.roles.group else []
    candidates += [(c, "id") for c in ctx.roles.id]
    candidates += [(c, "entity") for c in getattr(ctx.roles, "entities", ())]
    for column, role in candidates:
        if column in seen or column not in ctx.train or column not in ctx.test:
            continue
        seen.add(column)
        out.append((column, role))
    return out


def _overlap(train: pd.Series, test: pd.Series) -> dict:
    """Shared values of one column and what a random row split would give."""
    codes, _ = pd.factorize(pd.concat([train, test], ignore_index=True), use_na_sentinel=True)
    train_codes, test_codes = codes[: len(train)], codes[len(train) :]
    n_values = int(codes.max()) + 1 if codes.size and codes.max() >= 0 else 0
    in_train = np.zeros(n_values + 1, dtype=bool)
    in_train[train_codes[train_codes >= 0]] = True
    present = test_codes >= 0
    shared = present & in_train[np.where(present, test_codes, n_values)]
    counts = np.bincount(codes[codes >= 0], minlength=n_values)
    test_share = len(test) / max(len(train) + len(test), 1)
    per_row = 1.0 - test_share ** (counts[test_codes[present]] - 1.0)
    n_present = int(present.sum())
    return {
        "test_rows": n_present,
        "test_values": int(np.unique(test_codes[present]).size),
        "shared_values": int(np.unique(test_codes[shared]).size),
        "shared_rows": int(shared.sum()),
        "share": float(shared.sum() / n_present) if n_present else 0.0,
        "random_share": float(per_row.mean()) if n_present else 0.0,
        "shared_mask": shared,
        "train_unique": bool(train.dropna().is_unique),
        "test_unique": bool(test.dropna().is_unique),
    }


def _judge(ctx, column: str, role: str, stats: dict, params: GroupOverlapParams) -> Finding | None:
    if stats["shared_values"] == 0:
        return None
    positions = np.flatnonzero(stats["shared_mask"])
    evidence = {
        "role": role,
        "shared_values": stats["shared_values"],
        "shared_test_rows": stats["shared_rows"],
        "share": stats["share"],
        "random_split_share": stats["random_share"],
        "fail_at": params.fail_share,
        "example_test_rows": example_rows(positions),
        "example_values": _examples(ctx.test[column], positions),
    }
    what = (
        f"{stats['shared_values']:,} values of {column!r} appear in both train and test, "
        f"covering {stats['shared_rows']:,} of {stats['test_rows']:,} test rows ({stats['share']:.2%})"
    )
    row_ids = role == "id" and stats["train_unique"] and stats["test_unique"]
    if row_ids:
        return _judge_row_ids(ctx, column, stats, positions, what, evidence, params)
    return _judge_groups(ctx, column, role, stats, what, evidence, params)


def _severity(share: float, shared_values: int, params: GroupOverlapParams) -> str | None:
    if share >= params.fail_share:
        return "high"
    if shared_values >= params.min_groups:
        return "medium"
    return None


def _judge_row_ids(ctx, column, stats, positions, what, evidence, params) -> Finding | None:
    """Row ids (unique in each split): copied rows, restarted numbering, or shared entities."""
    train_ids, test_ids = ctx.train[column], ctx.test[column]
    train_pos = pd.Index(train_ids).get_indexer(test_ids.iloc[positions])
    keys = row_keys(ctx)
    same = keys.train.exact[train_pos] == keys.test.exact[positions] if keys.columns else None
    copies = int(same.sum()) if same is not None else 0
    evidence = {**evidence, "identical_rows": copies}
    if same is not None and copies >= _COPY_SHARE * len(positions):
        severity = _severity(copies / max(stats["test_rows"], 1), copies, params)
        return Finding(
            "copied_rows_with_id",
            severity or "medium",
            f"{what}, and {copies:,} of these rows are identical in both files: rows were copied "
            f"from train into test with their id (fail at {params.fail_share:.0%} of test rows).",
            (column,),
            evidence,
        )
    if stats["share"] >= _RENUMBERED_SHARE or _restarts(train_ids, test_ids):
        return Finding(
            "ids_restart_per_file",
            "low",
            f"{what}, but the rows behind a shared id differ: each file seems to number its "
            "rows separately, so the id does not identify the same row across files.",
            (column,),
            evidence,
        )
    declared = column not in ctx.roles.inferred
    severity = _severity(stats["share"], stats["shared_values"], params) if declared else "medium"
    if severity is None:
        return None
    return Finding(
        "shared_ids",
        severity,
        f"{what}, with different rows behind them: the same id names rows in both splits "
        f"(an entity seen in both, or reused ids; fail at {params.fail_share:.0%} of test rows"
        + ("" if declared else " for a declared id")
        + ").",
        (column,),
        evidence,
    )


def _restarts(train: pd.Series, test: pd.Series) -> bool:
    """Both splits numbered by consecutive integers from the same start."""
    if train.dtype.kind not in "iu" or test.dtype.kind not in "iu":
        return False
    lo_a, hi_a, lo_b, hi_b = int(train.min()), int(train.max()), int(test.min()), int(test.max())
    return lo_a == lo_b and hi_a - lo_a == len(train) - 1 and hi_b - lo_b == len(test) - 1


def _judge_groups(ctx, column, role, stats, what, evidence, params) -> Finding | None:
    """A group or entity column: a split by it that leaks, or a split that ignores it."""
    random_share = stats["random_share"]
    declared = role != "entity"
    noun, nouns = {
        "group": ("group", "groups"),
        "id": ("entity id", "entity ids"),
        "entity": ("entity", "entities"),
    }[role]
    hint = (
        ""
        if declared
        else f"; declare --group-column {column!r} if rows of one entity must stay in one split"
    )
    if ctx.memoized(f"{CHECK_ID}.time_ordered", lambda: _time_ordered(ctx)):
        return Finding(
            "entities_recur_over_time",
            "low",
            f"{what}. The split is by time, and the same {noun} naturally recurs over time{hint}.",
            (column,),
            evidence,
        )
    if stats["share"] <= params.max_split_ratio * random_share:
        severity = (
            _severity(stats["share"], stats["shared_values"], params) if declared else "medium"
        )
        if severity is None:
            return None
        return Finding(
            "shared_groups",
            severity,
            f"{what}, against {random_share:.0%} for a random row split: the data was split by "
            f"{column!r}, but {stats['shared_values']:,} {nouns} leaked into both splits"
            + (f" (fail at {params.fail_share:.0%} of test rows)." if declared else f"{hint}."),
            (column,),
            {**evidence, "max_split_ratio": params.max_split_ratio},
        )
    if not declared:
        return Finding(
            "split_not_by_group",
            "low",
            f"{what}, as a random row split would ({random_share:.0%}): the split is not by "
            f"{column!r}, so the test score includes {nouns} seen in training and does not "
            f"measure performance on new ones{hint}.",
            (column,),
            evidence,
        )
    fails = stats["share"] >= params.fail_ignored_share
    return Finding(
        "split_not_by_group",
        "high" if fails else "medium",
        f"{what}, as a random row split would ({random_share:.0%}): the split ignores the "
        f"declared {noun} column {column!r}, so the test score rewards recognising {nouns} "
        f"seen in training and overstates performance on new ones (fail at "
        f"{params.fail_ignored_share:.0%} of test rows).",
        (column,),
        {**evidence, "fail_at": params.fail_ignored_share},
    )


def _time_ordered(ctx) -> bool:
    """Whether most test rows are later than nearly all train rows on the time column."""
    column = order_column(ctx, ctx.train, ctx.test)
    if column is None:
        return False
    read = split_times(ctx, column)
    if read is None:
        return False
    train_t, test_t = read[0].values, read[1].values
    train_t, test_t = train_t[np.isfinite(train_t)], test_t[np.isfinite(test_t)]
    if train_t.size == 0 or test_t.size == 0:
        return False
    return bool(np.mean(test_t >= np.quantile(train_t, 0.9)) >= 0.5)


def _examples(series: pd.Series, positions: np.ndarray) -> list[str]:
    out = []
    for value in pd.unique(series.iloc[positions[:50]])[:_EXAMPLE_VALUES]:
        text = repr(value.item() if hasattr(value, "item") else value)
        out.append(text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 1] + "…")
    return out
