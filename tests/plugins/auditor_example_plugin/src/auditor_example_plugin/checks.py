"""``data.column_name_spaces``: column names with leading or trailing spaces.

A third-party check: registered with the same ``@register_check`` decorator as the built-in
checks, found through this package's ``auditor.checks`` entry point.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor.context import AuditContext
from auditor.registry import CheckOutcome, SkipCheck, param, register_check
from auditor.result import Finding, Measurement

CHECK_ID = "data.column_name_spaces"


@dataclass(frozen=True, slots=True)
class ColumnNameSpacesParams:
    """Thresholds of ``data.column_name_spaces``.

    Parameters
    ----------
    max_columns : int, default=0
        The check warns when more columns than this have a name with leading or trailing
        spaces.
    """

    max_columns: int = param(
        0,
        "Warn when more columns than this have a name with leading or trailing spaces; "
        "the columns up to it are reported for information.",
        minimum=0,
    )


@register_check(
    CHECK_ID,
    title="Column names with leading or trailing spaces",
    needs=("test",),
    params=ColumnNameSpacesParams,
    rationale=(
        "A column named ' income ' is not the column 'income': a join, a schema or a "
        "feature list written by hand misses it, usually without an error."
    ),
    remedy=(
        "Strip the spaces from the column names where the data is produced, or rename the "
        "columns before training and scoring."
    ),
)
def column_name_spaces(ctx: AuditContext, params: ColumnNameSpacesParams) -> CheckOutcome:
    """Report every column whose name has leading or trailing whitespace.

    Notes
    -----
    Every column of each split given is looked at, the target included. Each such column is
    one finding, ``medium`` once more than ``max_columns`` columns are affected, else
    ``low`` (for information).
    """
    splits = {"train": ctx.train, "test": ctx.test}
    names: dict[str, list[str]] = {}
    for split, frame in splits.items():
        if frame is None:
            continue
        for column in frame.columns:
            if isinstance(column, str) and column != column.strip():
                names.setdefault(column, []).append(split)
    n_columns = len({c for frame in splits.values() if frame is not None for c in frame.columns})
    if not n_columns:
        raise SkipCheck("the data has no columns")
    severity = "medium" if len(names) > params.max_columns else "low"
    findings = tuple(
        Finding(
            "name_has_spaces",
            severity,
            f"The column {column!r} has a name with leading or trailing spaces "
            f"({' and '.join(where)}); it does not match {column.strip()!r}.",
            (column,),
            {"stripped": column.strip(), "splits": where, "max_columns": params.max_columns},
        )
        for column, where in names.items()
    )
    if not names:
        summary = f"No column name has leading or trailing spaces, across {n_columns} columns."
    else:
        shown = ", ".join(repr(c) for c in list(names)[:5])
        more = f" (+{len(names) - 5} more)" if len(names) > 5 else ""
        summary = (
            f"{len(names)} column name(s) with leading or trailing spaces: {shown}{more} "
            f"(warning above {params.max_columns})."
        )
    return CheckOutcome(
        status="warn" if severity == "medium" and findings else "pass",
        summary=summary,
        findings=findings,
        measurements=(
            Measurement("n_columns_with_spaces", float(len(names)), greater_is_better=False),
        ),
    )
