"""``slices.weak_segments`` on the Dask engine: searched on the sample, confirmed on every row.

The halves are drawn by row hash; the check searches the sample's rows of the search half
and a pass counts the candidates on every row. These tests recompute, from every row in
memory, what the pass must have counted: each reported slice's rows (both halves), its
error rate and the rest's on the confirmation half, and the test's p-value; a planted
slice is found, and a clean table raises nothing above a note.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

pytest.importorskip("distributed")
pytest.importorskip("pyarrow.parquet")

from auditor.api import run_audit  # noqa: E402
from auditor.engine.partitioned.hashing import seeded  # noqa: E402
from auditor.engine.partitioned.run import _Plan, labelled_rows  # noqa: E402
from auditor.engine.partitioned.slices import in_search_half  # noqa: E402
from auditor.engine.partitioned.source import list_files, row_groups_of  # noqa: E402
from auditor.slices.encoding import rows_meeting  # noqa: E402
from auditor.slices.stats import fisher_greater  # noqa: E402
from auditor.spec import AuditSpec, EngineSettings  # noqa: E402

CHECK = "slices.weak_segments"
SEED = 0


def scored(n: int, *, planted: bool, seed: int = 0, task: str = "binary") -> pd.DataFrame:
    """A calibrated score on ``x``; planted: rows of region 'east' aged over 60 get the
    opposite probability (and so prediction) 40% of the time."""
    rng = np.random.default_rng(seed)
    region = rng.choice(["north", "south", "east", "west"], n)
    age = rng.integers(18, 90, n).astype(float)
    x = rng.normal(size=n)
    zone = (region == "east") & (age > 60)
    if task == "regression":
        noise = rng.normal(scale=np.where(zone & planted, 3.0, 1.0))
        label = 2 * x + noise
        return pd.DataFrame(
            {"region": region, "age": age, "x": x, "label": label, "prediction": 2 * x}
        )
    proba = 1 / (1 + np.exp(-2 * x))
    label = (rng.random(n) < proba).astype(int)
    if planted:  # confidently wrong: the flipped rows' probabilities do not expect it
        flip = zone & (rng.random(n) < 0.4)
        proba[flip] = 1 - proba[flip]
    prediction = (proba >= 0.5).astype(int)
    return pd.DataFrame(
        {
            "region": region,
            "age": age,
            "x": x,
            "label": label,
            "prediction": prediction,
            "proba_1": proba,
        }
    )


def write(frame: pd.DataFrame, folder: Path) -> Path:
    folder.mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(frame)), 3)):
        frame.iloc[part].to_parquet(folder / f"part-{i}.parquet", row_group_size=3000)
    return folder


def every_row(folder: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """Every row as the engine reads it, and whether it is in the search half."""
    plan = _Plan(
        split="test", target="label", columns=None, seed=SEED, sample_fraction=1.0, replicates=0
    )
    frames, halves = [], []
    for path in list_files(str(folder)):
        for group in row_groups_of(path):
            frame, _, raw = labelled_rows(group, plan, {})
            frames.append(frame)
            halves.append(in_search_half(frame, seeded(raw, SEED), None, SEED))
    return pd.concat(frames, ignore_index=True), np.concatenate(halves)


def audit(address: str, folder: Path):
    engine = EngineSettings(name="dask", address=address, sample_rows=6000)
    result = run_audit(
        AuditSpec(test=str(folder), target="label", engine=engine, seed=SEED), select=[CHECK]
    )
    return next(c for c in result.checks if c.id == CHECK)


@pytest.fixture(scope="module")
def planted(cluster, tmp_path_factory):
    folder = write(scored(24_000, planted=True), tmp_path_factory.mktemp("planted") / "parts")
    return audit(cluster, folder), *every_row(folder)


def test_the_planted_slice_is_found_and_confirmed_on_every_row(planted):
    check, _, _ = planted
    beyond = [f for f in check.findings if f.code == "unexpected_errors_slice"]
    assert beyond
    assert beyond[0].severity in ("medium", "high")
    first = {(c["column"], c["op"]) for c in beyond[0].evidence["conditions"]}
    assert ("region", "==") in first
    assert ("age", ">=") in first
    rows_used = next(m for m in check.measurements if m.key == "rows_used")
    assert rows_used.value == 24_000
    assert "seeded sample" in check.summary
    assert "confirmed on all" in check.summary


def test_each_slice_counts_every_row_of_both_halves(planted):
    check, frame, search_half = planted
    errors = (frame["prediction"] != frame["label"]).to_numpy()
    confirmation = ~search_half
    assert check.findings
    for finding in check.findings:
        e = finding.evidence
        inside = rows_meeting(frame, e["conditions"], ["age", "x"])
        assert e["size"] == inside.sum()
        n1 = int((inside & confirmation).sum())
        n0 = int((~inside & confirmation).sum())
        k1 = int((errors & inside & confirmation).sum())
        k0 = int((errors & ~inside & confirmation).sum())
        assert e["support"]["confirmation"] == n1
        assert e["value"] == pytest.approx(k1 / n1, rel=1e-12)
        assert e["rest"] == pytest.approx(k0 / n0, rel=1e-12)
        if e["question"] == "errs_most":
            assert e["p_value"] == pytest.approx(fisher_greater(k1, n1, k0, n0), rel=1e-9)
        else:  # Welch on the residuals, the model's expectation scaled to the errors seen
            proba = frame["proba_1"].to_numpy()
            expected = np.where(frame["prediction"].to_numpy() == 1, 1 - proba, proba)
            y, p = errors[confirmation].astype(float), expected[confirmation]
            residual = y - p * (y.mean() / p.mean())
            within = inside[confirmation]
            welch = stats.ttest_ind(
                residual[within], residual[~within], equal_var=False, alternative="greater"
            )
            assert e["p_value"] == pytest.approx(welch.pvalue, rel=1e-6, abs=1e-300)


def test_a_clean_table_raises_no_alarm(cluster, tmp_path):
    check = audit(cluster, write(scored(24_000, planted=False, seed=1), tmp_path / "parts"))
    assert check.status in ("pass", "warn")
    assert all(f.severity == "low" for f in check.findings), [f.message for f in check.findings]


def test_losses_are_confirmed_on_every_row(cluster, tmp_path):
    folder = write(scored(24_000, planted=True, seed=2, task="regression"), tmp_path / "parts")
    check = audit(cluster, folder)
    frame, search_half = every_row(folder)
    loss = np.abs(frame["label"] - frame["prediction"]).to_numpy()
    assert check.findings, check.summary
    top = check.findings[0].evidence
    assert {c["column"] for c in top["conditions"]} >= {"region", "age"}
    inside = rows_meeting(frame, top["conditions"], ["age", "x"])
    confirmation = ~search_half
    assert top["size"] == inside.sum()
    assert top["value"] == pytest.approx(loss[inside & confirmation].mean(), rel=1e-9)
    assert top["rest"] == pytest.approx(loss[~inside & confirmation].mean(), rel=1e-9)
    welch = stats.ttest_ind(
        loss[inside & confirmation],
        loss[~inside & confirmation],
        equal_var=False,
        alternative="greater",
    )
    assert top["p_value"] == pytest.approx(welch.pvalue, rel=1e-6, abs=1e-300)


def test_conditions_select_the_rows_their_codes_do():
    """On encoded rows, a slice's conditions and its codes select the same rows."""
    from auditor.slices import conditions_of, encode_frame, slice_mask

    frame = scored(3000, planted=False)
    frame.loc[::7, "age"] = np.nan
    frame.loc[::11, "region"] = None
    features = encode_frame(
        frame,
        ["region", "age", "x"],
        ["age", "x"],
        count_rows=np.arange(0, 3000, 2),
        min_count=400,
    )
    for j, f in enumerate(features):
        for lo in range(f.n_codes):
            for hi in range(lo, f.n_ordered if f.ordered and lo < f.n_ordered else lo + 1):
                if f.ordered and hi - lo + 1 == f.n_ordered:
                    continue  # every value: no condition to write, and no slice
                predicates = ((j, lo, hi),)
                np.testing.assert_array_equal(
                    rows_meeting(frame, conditions_of(features, predicates), ["age", "x"]),
                    slice_mask(features, predicates),
                    err_msg=f"{f.name} {lo}..{hi}",
                )


def test_a_model_is_scored_again_for_the_confirmation(cluster, tmp_path):
    """With ``--model`` the pass scores every row on the workers, as the main pass does."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(4)
    frame = scored(24_000, planted=False, seed=4)[["region", "age", "x", "label"]]
    model = LogisticRegression().fit(frame[["age", "x"]], frame["label"])
    zone = ((frame["region"] == "east") & (frame["age"] > 60)).to_numpy()
    flip = zone & (rng.random(len(frame)) < 0.4)
    frame.loc[flip, "label"] = 1 - frame.loc[flip, "label"]
    folder = write(frame, tmp_path / "parts")
    engine = EngineSettings(name="dask", address=cluster, sample_rows=6000)
    result = run_audit(
        AuditSpec(test=str(folder), target="label", engine=engine, seed=SEED),
        objects={"model": model},
        select=[CHECK],
    )
    check = next(c for c in result.checks if c.id == CHECK)
    rows, search_half = every_row(folder)
    errors = model.predict(rows[["age", "x"]]) != rows["label"].to_numpy()
    flagged = [f for f in check.findings if f.severity != "low"]
    assert flagged, check.summary
    top = flagged[0].evidence
    assert {c["column"] for c in top["conditions"]} >= {"region", "age"}
    inside = rows_meeting(rows, top["conditions"], ["age", "x"]) & ~search_half
    assert top["support"]["confirmation"] == inside.sum()
    assert top["value"] == pytest.approx(errors[inside].mean(), rel=1e-12)


def test_a_cluster_lost_after_the_checks_does_not_lose_the_audit(cluster, tmp_path, monkeypatch):
    from auditor.engine.partitioned import run

    original, calls = run.record_usage, []

    def lost_after_the_passes(client, engine):
        calls.append(engine)
        if len(calls) > 1:
            raise OSError("the scheduler went away")
        original(client, engine)

    monkeypatch.setattr(run, "record_usage", lost_after_the_passes)
    folder = write(scored(6000, planted=False), tmp_path / "parts")
    engine = EngineSettings(name="dask", address=cluster)
    result = run_audit(
        AuditSpec(test=str(folder), target="label", engine=engine),
        select=["performance.holdout_metrics"],
    )
    assert result.checks[0].status != "error"
    assert result.manifest["engine"]["usage_after_checks"].startswith("unavailable")
    assert result.manifest["engine"]["peak_memory_mb"]["workers"]  # the passes' figures
