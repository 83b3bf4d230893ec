"""Progress on stderr: shown when asked (or on a terminal), silent in CI logs and under --quiet."""

from __future__ import annotations

import re
import signal

import pytest
import skops.io
from typer.testing import CliRunner

from auditor.cli.app import app
from auditor.progress import size_text

runner = CliRunner()


@pytest.fixture(scope="module")
def small(binary_split, binary_model, tmp_path_factory):
    work = tmp_path_factory.mktemp("progress")
    binary_split[0].to_csv(work / "train.csv", index=False)
    binary_split[1].to_csv(work / "test.csv", index=False)
    skops.io.dump(binary_model, work / "model.skops")
    return work


def audit(small, *flags: str, env=None):
    args = ["audit", "--train", str(small / "train.csv"), "--test", str(small / "test.csv")]
    args += ["--target", "y", "--model", str(small / "model.skops"), "--format", "json"]
    args += ["--out-dir", str(small / "out"), "--select", "performance", *flags]
    return runner.invoke(app, args, env=env)


def test_progress_names_each_long_step_with_the_time(small):
    result = audit(small, "--progress")
    assert result.exit_code == 0, result.output
    steps = [re.sub(r"^\[\s*[\d.]+s\] ", "", line) for line in result.stderr.splitlines()]
    assert all(re.match(r"^\[\s*[\d.]+s\] ", line) for line in result.stderr.splitlines())
    assert steps[:4] == [
        f"reading test.csv ({size_text((small / 'test.csv').stat().st_size)})",
        f"reading train.csv ({size_text((small / 'train.csv').stat().st_size)})",
        "loading the model model.skops",
        "predicting 600 test rows",
    ]
    from auditor.registry import load_registry

    performance = sum(check_id.startswith("performance.") for check_id in load_registry())
    assert f"check 1/{performance}: performance.calibration" in steps
    assert "refitting the model on 5 folds of 1,200 rows" in steps
    assert "Wrote" not in result.stderr


def test_no_progress_when_nobody_watches_or_when_quiet(small):
    assert audit(small).stderr == ""  # stderr is not a terminal here, as in CI
    assert audit(small, "--progress", "--quiet").stderr == ""
    assert audit(small, "--no-progress").stderr == ""


def test_quiet_also_hides_notes(binary_split, small, tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    train = binary_split[0].drop(columns="colour")
    cached = make_pipeline(LogisticRegression(), memory=str(tmp_path / "cache"))
    model = tmp_path / "cached.skops"
    skops.io.dump(cached.fit(train.drop(columns="y"), train["y"]), model)
    base = ["audit", "--test", str(small / "test.csv"), "--target", "y", "--model", str(model)]
    base += [
        "--format",
        "json",
        "--out-dir",
        str(tmp_path / "out"),
        "--select",
        "data.missing_values",
    ]
    noisy = runner.invoke(app, base)
    assert noisy.exit_code == 0, noisy.output
    assert "was switched off" in noisy.stderr
    quiet = runner.invoke(app, [*base, "--quiet"])
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stderr == ""


@pytest.mark.parametrize(
    ("n_bytes", "text"),
    [(0, "1 KB"), (950_000, "950 KB"), (12_345_678, "12.3 MB"), (1_200_000_000, "1.2 GB")],
)
def test_sizes_read_in_the_unit_a_person_uses(n_bytes, text):
    assert size_text(n_bytes) == text


def test_a_timeout_stops_the_audit_naming_the_step_and_writes_nothing(small, tmp_path):
    out_dir = tmp_path / "out"
    args = ["audit", "--train", str(small / "train.csv"), "--test", str(small / "test.csv")]
    args += ["--target", "y", "--model", str(small / "model.skops"), "--format", "json,html"]
    result = runner.invoke(app, [*args, "--out-dir", str(out_dir), "--timeout", "0.5"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert re.match(
        r"error: The audit did not finish within --timeout 0.5 s \(it was at: .+\)", lines[0]
    )
    assert not out_dir.exists()
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL


def test_a_generous_timeout_changes_nothing(small):
    result = audit(small, "--timeout", "600")
    assert result.exit_code == 0, result.output
    assert (small / "out" / "audit.json").is_file()


@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_a_timeout_must_be_positive(small, value):
    result = audit(small, "--timeout", value)
    assert result.exit_code == 2
    assert "must be a positive number of seconds" in result.stderr
