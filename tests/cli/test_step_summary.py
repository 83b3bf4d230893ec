"""On GitHub Actions, ``auditor audit`` appends the Markdown summary to GITHUB_STEP_SUMMARY."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from auditor.cli.app import app

runner = CliRunner()
EXISTING = "## An earlier step wrote this\n"


def run_audit(loans: dict[str, Path], out_dir: Path):
    args = [
        "audit",
        "--config",
        loans["config"],
        "--select",
        "performance.holdout_metrics",
        "--format",
        "json",
        "--out-dir",
        out_dir,
    ]
    return runner.invoke(app, [str(a) for a in args])


def test_summary_is_appended_after_existing_content(tmp_path, monkeypatch, loans):
    summary = tmp_path / "step_summary.md"
    summary.write_text(EXISTING, encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    result = run_audit(loans, tmp_path / "reports")
    assert result.exit_code == 0, result.output

    text = summary.read_text(encoding="utf-8")
    assert text.startswith(EXISTING)
    appended = text[len(EXISTING) :]
    assert appended.startswith("# auditor: PASS — model predicting default")
    assert "**Gate: passed.**" in appended
    assert "| ROC AUC |" in appended
    assert "`performance.holdout_metrics`" in appended
    assert appended.count("# auditor:") == 1

    from auditor.render.markdown import render_markdown
    from auditor.result import read_result

    written = read_result(tmp_path / "reports" / "audit.json")
    assert appended == render_markdown(written) + "\n"


def test_a_second_run_appends_again(tmp_path, monkeypatch, loans):
    summary = tmp_path / "step_summary.md"
    summary.write_text(EXISTING, encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    for run in ("a", "b"):
        assert run_audit(loans, tmp_path / run).exit_code == 0
    text = summary.read_text(encoding="utf-8")
    assert text.startswith(EXISTING)
    assert text.count("# auditor: PASS") == 2


def test_without_the_variable_nothing_is_written(tmp_path, monkeypatch, loans):
    summary = tmp_path / "step_summary.md"
    summary.write_text(EXISTING, encoding="utf-8")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)

    out_dir = tmp_path / "reports"
    result = run_audit(loans, out_dir)
    assert result.exit_code == 0, result.output
    assert summary.read_text(encoding="utf-8") == EXISTING
    assert sorted(p.name for p in out_dir.iterdir()) == ["audit.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports", "step_summary.md"]
