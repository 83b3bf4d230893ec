"""``data.mixed_types``: text hiding in number columns is found before any cast hides it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _factories_quality import TARGETS, clean_split, context, plant_value, rows_at

from auditor.checks.data.mixed_types import MixedTypesParams, mixed_types
from auditor.inputs import load_inputs
from auditor.registry import SkipCheck
from auditor.spec import AuditSpec, ColumnRolesSpec


def serious(result) -> list[tuple]:
    return [(f.code, f.severity, f.columns) for f in result.findings if f.severity != "low"]


def as_text(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """The column written as text, the way a CSV reader keeps it when one cell is a word."""
    frame = frame.copy()
    frame[column] = frame[column].map(lambda v: None if pd.isna(v) else f"{v:g}").astype(object)
    return frame


def with_codes(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Add legitimate code columns: ZIP codes (all digits), 'A1' codes, a '3+' ordinal."""
    rng = np.random.default_rng(seed)
    n = len(frame)
    return frame.assign(
        zip=[f"{z:05d}" for z in rng.integers(0, 99_999, n)],
        grade=np.char.add(rng.choice(list("ABC"), n), rng.integers(1, 9, n).astype(str)),
        children=rng.choice(["0", "1", "2", "3+"], n, p=[0.4, 0.3, 0.25, 0.05]),
    )


@pytest.mark.parametrize("declare_roles", [True, False], ids=["roles", "inferred"])
def test_clean_table_with_legitimate_codes_passes(seed, declare_roles):
    train, test = clean_split(4000, seed)
    ctx = context(with_codes(train, seed), with_codes(test, seed + 1), declare_roles=declare_roles)
    result = mixed_types(ctx, MixedTypesParams())
    assert result.status == "pass", result.summary
    assert serious(result) == []
    # The '3+' ordinal code is reported for information only; ZIP and 'A1' codes not at all.
    assert [(f.code, f.columns) for f in result.findings] == [("numeric_codes", ("children",))]


def test_numbers_polluted_by_placeholders_are_found_with_exact_counts(seed):
    train, test = clean_split(4000, seed)
    rows = rows_at(len(test), 7, seed)
    polluted = plant_value(as_text(test, "income"), "income", rows[:4], "unknown")
    polluted = plant_value(polluted, "income", rows[4:], "N/A")
    result = mixed_types(context(train, polluted), MixedTypesParams())
    assert result.status == "warn"
    assert serious(result) == [("numbers_with_text", "medium", ("income",))]
    (finding,) = result.findings
    counts = finding.evidence["by_split"]["test"]
    assert counts["text"] == 7
    assert counts["numbers"] == int(test["income"].notna().sum()) - 7 + int(
        test["income"].iloc[rows].isna().sum()
    )
    assert finding.evidence["text_examples"] == ["unknown", "N/A"]
    assert "'unknown'" in finding.message
    assert "90%" in finding.message


def test_pollution_is_found_in_a_csv_file(tmp_path):
    train, test = clean_split(3000, 0)
    polluted = plant_value(test, "amount", rows_at(len(test), 3, 1), "error")
    train.to_csv(tmp_path / "train.csv", index=False)
    polluted.to_csv(tmp_path / "test.csv", index=False)
    spec = AuditSpec(
        train=str(tmp_path / "train.csv"),
        test=str(tmp_path / "test.csv"),
        target=TARGETS["binary"],
        columns=ColumnRolesSpec(id="customer_id"),
    )
    result = mixed_types(load_inputs(spec).context, MixedTypesParams())
    assert serious(result) == [("numbers_with_text", "medium", ("amount",))]
    assert result.findings[0].evidence["by_split"]["test"]["text"] == 3


def test_python_objects_of_several_types_are_found():
    train, test = clean_split(3000, 0)
    mixed = test.copy()
    mixed["plan"] = mixed["plan"].astype(object)
    mixed.loc[:9, "plan"] = 3  # ints among strings, as an in-memory frame allows
    result = mixed_types(context(train, mixed), MixedTypesParams())
    assert serious(result) == [("mixed_python_types", "medium", ("plan",))]
    assert result.findings[0].evidence["by_split"]["test"]["numbers"] == 10


def test_python_numbers_with_numeric_text_are_mixed_types():
    train, test = clean_split(3000, 0)
    mixed = test.copy()
    mixed["n_accounts"] = mixed["n_accounts"].astype(object)
    mixed.loc[:4, "n_accounts"] = mixed.loc[:4, "n_accounts"].astype(str)
    result = mixed_types(context(train, mixed), MixedTypesParams())
    assert serious(result) == [("mixed_python_types", "medium", ("n_accounts",))]


@pytest.mark.parametrize(
    ("n_text", "expected"),
    [(100, ("numbers_with_text", "medium")), (101, ("partly_numeric", "low"))],
    ids=["90_percent_numbers", "below"],
)
def test_numeric_share_threshold_boundary(n_text, expected):
    train, test = clean_split(5000, 0)
    values = np.arange(1000).astype(str).astype(object)
    values[:n_text] = np.array([f"word{i % 7}" for i in range(n_text)], dtype=object)
    frame = test.iloc[:1000].reset_index(drop=True).assign(note=values)
    result = mixed_types(context(train.assign(note="x"), frame), MixedTypesParams())
    assert [(f.code, f.severity) for f in result.findings if f.columns == ("note",)] == [expected]


def test_examples_are_few_and_short():
    train, test = clean_split(3000, 0)
    words = [f"{i}-placeholder-for-a-number-" + "x" * 40 for i in range(8)]
    polluted = as_text(test, "balance")
    for i, word in enumerate(words):
        polluted = plant_value(polluted, "balance", np.array([i]), word)
    result = mixed_types(context(train, polluted), MixedTypesParams())
    (finding,) = result.findings
    assert len(finding.evidence["text_examples"]) == 5
    assert all(len(t) <= 20 for t in finding.evidence["text_examples"])


def test_no_text_column_skips():
    train, test = clean_split(2000, 0)
    numeric = ["age", "income", "amount", "default"]
    ctx = load_inputs(AuditSpec(target="default"), train=train[numeric], test=test[numeric]).context
    with pytest.raises(SkipCheck, match="no feature column is stored as text"):
        mixed_types(ctx, MixedTypesParams())
