"""The bundled samples through the real CLI: audit, re-render from audit.json, demo, checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditor.cli.app import app

runner = CliRunner()


def invoke(*args: str | Path):
    return runner.invoke(app, [str(a) for a in args])


def files_in(directory: Path) -> list[str]:
    """Every file below ``directory``, hidden ones included (a leftover temp file shows)."""
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


@pytest.fixture(
    scope="module",
    params=["loans_audit", "housing_audit", "tickets_audit"],
    ids=["binary-loans", "regression-housing", "multiclass-tickets"],
)
def audited(request):
    """The session's ``auditor audit`` run of one bundled sample."""
    return request.getfixturevalue(request.param)


def test_audit_exits_0_and_writes_exactly_the_formats_asked(audited):
    assert audited.exit_code == 0, audited.stdout + audited.stderr
    assert audited.stderr == ""
    written = ["audit.json", "junit.xml", "report.html", "summary.md"]
    assert files_in(audited.out_dir) == written
    for name in written:
        assert f"Wrote {audited.out_dir / name}" in audited.stdout


def test_audit_json_describes_the_sample(audited):
    sample, out_dir = audited, audited.out_dir
    audit = json.loads((out_dir / "audit.json").read_text(encoding="utf-8"))
    assert audit["target"] == sample.target
    assert audit["task"] == sample.task
    assert audit["gate"]["passed"] is True
    ids = [c["id"] for c in audit["checks"]]
    assert "performance.holdout_metrics" in ids
    assert "data.missing_values" in ids
    # No absolute paths in the result (design.md section 3).
    assert str(out_dir.parent) not in json.dumps(audit)
    assert "/sample_data/" not in json.dumps(audit)


def test_html_mentions_the_target(audited):
    sample, out_dir = audited, audited.out_dir
    html = (out_dir / "report.html").read_text(encoding="utf-8")
    assert f"<code>{sample.target}</code>" in html


def test_rerender_from_audit_json_is_byte_identical(audited, tmp_path):
    out_dir = audited.out_dir
    rerendered = tmp_path / "re.html"
    result = invoke("render", out_dir / "audit.json", "--format", "html", "-o", rerendered)
    assert result.exit_code == 0, result.output
    assert files_in(tmp_path) == ["re.html"]
    original = (out_dir / "report.html").read_bytes()
    again = rerendered.read_bytes()
    if again != original:
        differing = [
            (a, b)
            for a, b in zip(
                original.decode().splitlines(), again.decode().splitlines(), strict=False
            )
            if a != b
        ]
        pytest.fail(
            f"re-rendered HTML differs from report.html; first differences: {differing[:3]}"
        )


def test_rerender_json_round_trips_byte_identical(audited, tmp_path):
    out_dir = audited.out_dir
    target = tmp_path / "again.json"
    result = invoke("render", out_dir / "audit.json", "--format", "json", "-o", target)
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == (out_dir / "audit.json").read_bytes()


@pytest.mark.slow
def test_demo_writes_html_pdf_and_json(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out_dir = tmp_path / "demo"
    result = invoke("demo", "--out-dir", out_dir)
    assert result.exit_code == 0, result.output
    written = files_in(out_dir)
    assert {"report.html", "report.pdf", "audit.json"} <= set(written)
    assert not [name for name in written if name.startswith(".") or name.endswith(".tmp")]
    assert (out_dir / "report.pdf").read_bytes().startswith(b"%PDF-")
    audit = json.loads((out_dir / "audit.json").read_text(encoding="utf-8"))
    assert audit["target"] == "default"
    assert audit["manifest"]["command"] == "auditor demo"
    assert f"Open {out_dir / 'report.html'}" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]


def test_checks_lists_the_registered_checks():
    result = invoke("checks")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "data.missing_values" in lines
    assert "performance.holdout_metrics" in lines
    assert (
        "    min_class_rows = 30: Warn when a class has fewer test rows than this: its metrics are too noisy to trust."
        in lines
    )
    assert lines[:2] == [
        "[evaluation] (audit-wide: every check refits and resamples with these)",
        "    folds = 5, repeats = 1, bootstrap_resamples = 1000, seed = the audit's seed",
    ]
