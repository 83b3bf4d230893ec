"""Group metrics on every row with ``--engine dask``: numeric sensitive columns and regression.

A numeric sensitive column is cut at quartiles read from every row's float bins (snapped to
a bin's floor), so the Dask check is compared with the in-memory check run on the same rows
with the same cut points: its counts, rates, Wilson and Newcombe intervals, p-values,
findings and status are then equal exactly. Regression groups come from residual sums per
group: the point estimates equal to float rounding, the bootstrap intervals within
Monte-Carlo error (200 Poisson replicates by row hash against 1,000 multinomial resamples).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed")

from tests.dask import test_dask_engine as engine_tests  # noqa: E402

import auditor  # noqa: E402
from auditor.api import run_audit  # noqa: E402
from auditor.checks.fairness import group_metrics  # noqa: E402
from auditor.engine.partitioned import partials  # noqa: E402
from auditor.engine.partitioned.groups import quantile_edges, snapped_edges  # noqa: E402
from auditor.engine.partitioned.hashing import row_hashes  # noqa: E402
from auditor.spec import AuditSpec, ColumnRolesSpec, EngineSettings  # noqa: E402

CHECK = "fairness.group_metrics"
measurements, write_parts = engine_tests.measurements, engine_tests.write_parts


def dask_groups(address: str, folder, sensitive: tuple[str, ...]) -> auditor.AuditResult:
    engine = EngineSettings(
        name="dask", address=address, sample_rows=1000, bootstrap_replicates=200
    )
    spec = AuditSpec(
        test=str(folder),
        target="label",
        engine=engine,
        columns=ColumnRolesSpec(sensitive=sensitive),
    )
    return run_audit(spec, select=[CHECK])


def memory_groups(frame: pd.DataFrame, sensitive: tuple[str, ...]) -> auditor.AuditResult:
    predictions = [c for c in frame.columns if c == "prediction" or c.startswith("proba_")]
    return auditor.audit(
        test=frame.drop(columns=predictions),
        predictions=frame[predictions],
        target="label",
        sensitive=list(sensitive),
        select=[CHECK],
    )


def check_of(result: auditor.AuditResult):
    return next(c for c in result.checks if c.id == CHECK)


def assert_equal_tables(ours, theirs, *, bootstrapped: bool = False) -> None:
    """Every cell equal (floats to 1e-12 relative); ``bootstrapped``: interval ends within a
    quarter of the in-memory interval's width and p-values within 0.1 (Monte-Carlo error)."""
    assert [t.key for t in ours.tables] == [t.key for t in theirs.tables]
    for a, b in zip(ours.tables, theirs.tables, strict=True):
        assert a.title == b.title
        assert a.columns == b.columns
        assert len(a.rows) == len(b.rows)
        for got, want in zip(a.rows, b.rows, strict=True):
            row = dict(zip(b.columns, want, strict=True))
            for column, x, y in zip(b.columns, got, want, strict=True):
                if bootstrapped and column in ("ci_low", "ci_high") and y is not None:
                    width = row["ci_high"] - row["ci_low"]
                    assert abs(x - y) < 0.25 * width, (a.key, column, got, want)
                elif bootstrapped and column == "p_value":
                    # The bootstrap test's standard error, from 200 against 1,000
                    # replicates, is within some 5%: a p-value of 0.85 moves by about 0.03.
                    assert x == pytest.approx(y, abs=0.1), (a.key, got, want)
                elif isinstance(y, float) and isinstance(x, float):
                    assert x == pytest.approx(y, rel=1e-12, abs=1e-15, nan_ok=True), (a.key, got)
                else:
                    assert x == y, (a.key, column, got, want)


# --- A numeric sensitive column, classification ----------------------------------------------


@pytest.fixture(scope="module")
def ages(cluster, tmp_path_factory) -> dict:
    """4,000 scored rows; ``age`` continuous (quartiles fall inside float bins, so snapping
    moves them), its oldest quartile's positives mostly missed; ``income`` unrelated."""
    rng = np.random.default_rng(11)
    n = 4000
    age = np.round(rng.uniform(18, 90, n), 2)
    age[rng.random(n) < 0.02] = np.nan  # the (missing) group
    income = rng.lognormal(10, 0.8, n)
    label = (rng.random(n) < 0.4).astype(int)
    old = np.nan_to_num(age) >= np.nanquantile(age, 0.75)
    # The model finds 80% of the positives, but only 30% of the oldest quartile's.
    found = rng.random(n) < np.where(old, 0.3, 0.8)
    false_alarm = rng.random(n) < 0.1
    prediction = np.where(label == 1, found, false_alarm).astype(int)
    frame = pd.DataFrame({"age": age, "income": income, "label": label})
    frame["proba_1"] = np.clip(0.25 + 0.5 * prediction + rng.normal(0, 0.1, n), 0.01, 0.99)
    frame["prediction"] = prediction
    folder = write_parts(frame, tmp_path_factory.mktemp("ages") / "parts")
    result = dask_groups(cluster, folder, ("age", "income"))
    edges = {
        c: quantile_edges(
            partials.number_spread(frame[c]), group_metrics.QUARTILES
        )  # every row as one partition
        for c in ("age", "income")
    }
    return {"frame": frame, "dask": result, "edges": edges}


@pytest.fixture(scope="module")
def ages_in_memory(ages) -> auditor.AuditResult:
    """The in-memory check on the same rows, cut at the same (snapped) points."""
    frame, edges = ages["frame"], ages["edges"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            group_metrics,
            "_quartile_edges",
            lambda finite: edges["age"] if finite.max() < 1000 else edges["income"],
        )
        return memory_groups(frame, ("age", "income"))


def test_snapped_cuts_are_within_one_float_bin_of_the_quartiles(ages):
    for column, edges in ages["edges"].items():
        values = ages["frame"][column].dropna().to_numpy()
        exact = np.quantile(values, group_metrics.QUARTILES)
        assert len(edges) == 5
        assert edges[[0, -1]].tolist() == exact[[0, -1]].tolist()
        # At or below the exact quartile, by less than 1/256 of it: the floor of its bin.
        inner, cut = exact[1:-1], edges[1:-1]
        assert np.all(cut <= inner)
        assert np.all(inner - cut < np.abs(inner) / 256)
        assert np.any(cut != inner), "the test needs quartiles that snapping moves"


def test_a_gap_on_a_numeric_column_is_found_on_every_row(ages, ages_in_memory):
    ours, theirs = check_of(ages["dask"]), check_of(ages_in_memory)
    assert ours.status == theirs.status == "fail"
    assert [(f.code, f.severity, f.columns) for f in ours.findings] == [
        (f.code, f.severity, f.columns) for f in theirs.findings
    ]
    gap = next(f for f in ours.findings if f.code == "group_gap")
    assert gap.columns == ("age",)
    assert gap.message == next(f for f in theirs.findings if f.code == "group_gap").message
    top = gap.evidence["gaps"][0]
    assert top["metric"] == "true_positive_rate"
    assert top["low_group"].endswith("]")  # the oldest quartile, labelled as in memory
    assert_equal_tables(ours, theirs)
    m_ours, m_theirs = measurements(ages["dask"], CHECK), measurements(ages_in_memory, CHECK)
    for key, m in m_theirs.items():
        assert m_ours[key].value == pytest.approx(m.value, rel=1e-12), key
    assert m_ours["rows_used"].note == "all 4,000 test rows"


def test_a_clean_numeric_column_is_not_flagged(ages, ages_in_memory):
    for result in (ages["dask"], ages_in_memory):
        gaps = [f for f in check_of(result).findings if f.code.endswith("_gap")]
        assert [f.columns for f in gaps] == [("age",)]
    table = next(t for t in check_of(ages["dask"]).tables if "'income'" in t.title)
    assert "cut at its quartiles" in table.title
    assert sum(row[2] for row in table.rows if row[0] == "error_rate") == 4000


def test_a_column_too_spread_out_or_of_few_values_reads_the_sample(
    cluster, ages, tmp_path, monkeypatch
):
    frame = ages["frame"].assign(children=np.arange(4000) % 4)
    monkeypatch.setattr(partials, "MAX_SPREAD_BINS", 800)  # age spans 574 bins, income 1,162
    result = dask_groups(
        cluster, write_parts(frame, tmp_path / "parts"), ("age", "income", "children")
    )
    sample = result.manifest["engine"]["sample_rows"]["test"]
    assert measurements(result, CHECK)["rows_used"].note == (
        f"all 4,000 test rows for 1 of 3 columns; a seeded sample of {sample:,} rows for "
        "'income', 'children'"
    )
    assert any(
        "'income' spreads over more than 800 float bins" in n for n in result.manifest["notes"]
    )


def test_edges_are_exact_for_a_column_of_few_dozen_values():
    rng = np.random.default_rng(3)
    years = pd.Series(rng.integers(1990, 2021, 3001).astype(float))
    parts = [partials.number_spread(years.iloc[s]) for s in (slice(0, 10), slice(10, None))]
    merged = parts[0] + parts[1]
    exact = np.unique(np.quantile(years, group_metrics.QUARTILES))
    np.testing.assert_array_equal(quantile_edges(merged, group_metrics.QUARTILES), exact)
    # Rows equal to a cut go to the group above it, as in memory (edges of whole years).
    in_memory, _, _ = group_metrics._group_codes(years)
    np.testing.assert_array_equal(partials.cut_groups(years, exact[1:-1]), in_memory)
    # From the float bins alone, 1990 .. 2020 share bins 4 years wide: the cuts move.
    assert not np.array_equal(snapped_edges(merged, group_metrics.QUARTILES), exact)


# --- Regression ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def regression(cluster, tmp_path_factory) -> dict:
    """3,000 rows; region 'c' has three times the error of the others; age unrelated."""
    rng = np.random.default_rng(12)
    n = 3000
    region = rng.choice(np.array(["a", "b", "c"], dtype=object), n, p=[0.5, 0.3, 0.2])
    x = rng.normal(size=n)
    noise = rng.normal(0, np.where(region == "c", 3.0, 1.0))
    frame = pd.DataFrame(
        {"x": x, "region": region, "age": rng.uniform(18, 90, n), "label": 50 + 4 * x + noise}
    )
    frame["prediction"] = 50 + 4 * x
    folder = write_parts(frame, tmp_path_factory.mktemp("regression") / "parts")
    sensitive = ("region", "age")
    result = dask_groups(cluster, folder, sensitive)
    edges = quantile_edges(partials.number_spread(frame["age"]), group_metrics.QUARTILES)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(group_metrics, "_quartile_edges", lambda finite: edges)
        memory = memory_groups(frame, sensitive)
    return {"dask": result, "memory": memory}


def test_regression_groups_equal_the_in_memory_check(regression):
    ours, theirs = check_of(regression["dask"]), check_of(regression["memory"])
    assert ours.status == theirs.status == "warn"
    assert [(f.code, f.severity, f.columns) for f in ours.findings] == [
        (f.code, f.severity, f.columns) for f in theirs.findings
    ]
    gap = next(f for f in ours.findings if f.code == "group_gap").evidence["gaps"][0]
    assert (gap["metric"], gap["high_group"]) == ("mean_absolute_error", "c")
    # Point estimates to float rounding; bootstrap intervals within Monte-Carlo error.
    assert_equal_tables(ours, theirs, bootstrapped=True)
    m_ours = measurements(regression["dask"], CHECK)
    m_theirs = measurements(regression["memory"], CHECK)
    for key in ("max_group_gap", "min_mae_ratio"):
        m, want = m_ours[key], m_theirs[key]
        assert m.value == pytest.approx(want.value, rel=1e-12), key
        width = want.ci_high - want.ci_low
        assert abs(m.ci_low - want.ci_low) < 0.25 * width, key
        assert abs(m.ci_high - want.ci_high) < 0.25 * width, key
    assert m_ours["rows_used"].note == "all 3,000 test rows"


def test_residual_sums_merge_whatever_the_split():
    rng = np.random.default_rng(4)
    n = 2000
    y, y_pred = rng.normal(10, 2, n), rng.normal(10, 2, n)
    keys = pd.Series(rng.choice(np.array(["a", "b", None], dtype=object), n))
    hashes = row_hashes(pd.DataFrame({"y": y}), 0)
    _, whole = partials.regression_partial(y, y_pred, hashes, 50, {"g": keys})
    merged = None
    for part in (slice(0, 3), slice(3, 1500), slice(1500, None)):
        _, groups = partials.regression_partial(
            y[part], y_pred[part], hashes[part], 50, {"g": keys.iloc[part].reset_index(drop=True)}
        )
        merged = partials.merge_group_cells(merged or {}, groups["g"])
    assert whole["g"].keys() == merged.keys() == {"a", "b", None}
    for key, sums in whole["g"].items():
        rows = (keys == key) if key is not None else keys.isna()
        r = (y - y_pred)[rows.to_numpy()]
        np.testing.assert_allclose(
            sums[0], [r.size, r.sum(), np.abs(r).sum(), (r**2).sum()], rtol=1e-12
        )
        # Replicates add float32 blocks: each sum within 1e-6 of the magnitudes it adds
        # (residuals of either sign cancel, so not of itself).
        np.testing.assert_allclose(merged[key], sums, rtol=1e-6, atol=1e-6 * sums[0, 2])
