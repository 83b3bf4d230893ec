"""The model card: its JSON carries the audit's own numbers in the Model Card Toolkit's
fields, its Markdown escapes what people and data wrote, and it re-renders from audit.json."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditor import keys
from auditor.cli.app import app
from auditor.errors import InputError
from auditor.render.card import MCT_SCHEMA_VERSION
from auditor.spec import spec_from_mapping

# [model_card] values that would break a Markdown table or inject markup if printed raw.
HOSTILE_USE = "Score applications | then <script>alert(1)</script> `rm` *all*\nsecond line"
OWNER = "Credit Risk [team](https://evil.example) <risk@example.com>"
TOOLKIT_TOP_LEVEL = {
    "schema_version",
    "model_details",
    "model_parameters",
    "quantitative_analysis",
    "considerations",
}


@dataclass(frozen=True)
class CardAudit:
    audit: dict
    card: dict
    markdown: str
    out_dir: Path


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


@pytest.fixture(scope="module")
def card_audit(loans, tmp_path_factory) -> CardAudit:
    """The loans sample audited with [decision] costs and a [model_card] table."""
    folder = tmp_path_factory.mktemp("card")
    config = folder / "audit.toml"
    config.write_text(
        f"train = {json.dumps(str(loans['train']))}\n"
        f"test = {json.dumps(str(loans['test']))}\n"
        f"model = {json.dumps(str(loans['model']))}\n"
        'target = "default"\n'
        "[columns]\n"
        'id = "application_id"\n'
        'sensitive = ["sex"]\n'
        "[decision]\n"
        "cost_false_positive = 1\n"
        "cost_false_negative = 4\n"
        "[model_card]\n"
        f"owners = {_toml_list([OWNER])}\n"
        f"intended_use = {json.dumps(HOSTILE_USE)}\n"
        'out_of_scope = ["Automated rejection without review."]\n'
        'limitations = ["Applicants of 2019 only."]\n'
        'ethical_considerations = ["Sex is recorded in the data."]\n',
        encoding="utf-8",
    )
    out_dir = folder / "out"
    ran = CliRunner().invoke(
        app,
        [
            "audit",
            "--config",
            str(config),
            "--out-dir",
            str(out_dir),
            "--format",
            "json,card",
            *("--select", "performance", "--select", "baseline"),
            *("--select", "slices", "--select", "fairness"),
        ],
    )
    assert ran.exit_code in (0, 1), ran.stdout + ran.stderr
    return CardAudit(
        audit=json.loads((out_dir / "audit.json").read_text(encoding="utf-8")),
        card=json.loads((out_dir / "model_card.json").read_text(encoding="utf-8")),
        markdown=(out_dir / "model_card.md").read_text(encoding="utf-8"),
        out_dir=out_dir,
    )


def _check(audit: dict, check_id: str) -> dict:
    return next(c for c in audit["checks"] if c["id"] == check_id)


def _metrics(card: dict, slice_: str | None = None) -> dict[str, dict]:
    return {
        m["type"]: m
        for m in card["quantitative_analysis"]["performance_metrics"]
        if m.get("slice") == slice_
    }


def _as_floats(entry: dict) -> tuple[float, float | None, float | None]:
    bounds = entry.get("confidence_interval") or {}
    low, high = bounds.get("lower_bound"), bounds.get("upper_bound")
    return (
        float(entry["value"]),
        None if low is None else float(low),
        None if high is None else float(high),
    )


def _table(check: dict, key: str) -> list[dict]:
    table = next(t for t in check["tables"] if t["key"] == key)
    return [dict(zip(table["columns"], row, strict=True)) for row in table["rows"]]


def test_card_json_has_the_toolkit_fields_only(card_audit):
    card = card_audit.card
    assert set(card) == TOOLKIT_TOP_LEVEL
    assert card["schema_version"] == MCT_SCHEMA_VERSION
    for entry in card["quantitative_analysis"]["performance_metrics"]:
        assert set(entry) <= {"type", "value", "slice", "confidence_interval"}
        assert isinstance(entry["value"], str)
    assert set(card["considerations"]) == {
        "use_cases",
        "limitations",
        "tradeoffs",
        "ethical_considerations",
    }


def test_every_holdout_metric_and_its_interval_equal_the_audit(card_audit):
    holdout = _check(card_audit.audit, keys.HOLDOUT)
    metrics = _metrics(card_audit.card)
    measured = [m for m in holdout["measurements"] if m["key"] != keys.N_TEST_ROWS.key]
    assert measured
    for m in measured:
        assert _as_floats(metrics[m["key"]]) == (m["value"], m["ci_low"], m["ci_high"])
    headline = card_audit.audit["headline"]
    best = headline["best_baseline"]
    baseline = metrics[f"{headline['metric']} of the best baseline ({best['name']})"]
    assert _as_floats(baseline) == (best["value"], best["ci_low"], best["ci_high"])


def test_the_chosen_operating_point_equals_performance_decision(card_audit):
    decision = {m["key"]: m for m in _check(card_audit.audit, keys.DECISION)["measurements"]}
    metrics = _metrics(card_audit.card)
    threshold = decision["chosen_threshold"]["value"]
    assert float(metrics["chosen_threshold"]["value"]) == threshold
    for key in (k.key for k in keys.DECISION_METRICS):
        m = decision[key]
        assert _as_floats(metrics[key]) == (m["value"], m["ci_low"], m["ci_high"])
    (tradeoff,) = card_audit.card["considerations"]["tradeoffs"]
    assert f"{threshold:.3f}" in tradeoff["description"]
    assert "## Operating point" in card_audit.markdown


def test_failure_slices_equal_the_weak_slices_table(card_audit):
    rows = _table(_check(card_audit.audit, keys.SLICES), "weak_slices")
    assert rows, "the loans sample has a weak slice; without one this test proves nothing"
    for row in rows:
        sliced = _metrics(card_audit.card, row["slice"])
        assert _as_floats(sliced["error_rate lift"]) == (
            row["lift"],
            row["lift_ci_low"],
            row["lift_ci_high"],
        )
        assert float(sliced["error_rate"]["value"]) == row["error_rate_in_slice"]


def test_group_gaps_equal_the_group_metrics_gap_table(card_audit):
    rows = _table(_check(card_audit.audit, keys.GROUP_METRICS), "group_gaps")
    assert rows
    for row in rows:
        pair = f"{row['column']}: {row['higher_group']} vs {row['lower_group']}"
        entry = _metrics(card_audit.card, pair)[f"{row['metric']} gap"]
        assert _as_floats(entry) == (row["gap"], row["ci_low"], row["ci_high"])


def test_the_data_are_named_with_rows_and_hashes(card_audit):
    data = {d["name"]: d for d in card_audit.card["model_parameters"]["data"]}
    for given in card_audit.audit["inputs"]:
        if given["role"] in ("train", "test"):
            described = data[given["file_name"]]["description"]
            assert given["sha256"] in described
            assert f"{given['rows']:,} rows" in described
            assert data[given["file_name"]]["sensitive"] == {"sensitive_data": ["sex"]}
            assert given["sha256"] in card_audit.markdown
    model = next(i for i in card_audit.audit["inputs"] if i["role"] == "model")
    assert card_audit.card["model_details"]["version"]["name"] == f"sha256:{model['sha256']}"


def test_findings_that_need_a_decision_are_considerations(card_audit):
    findings = [
        f["message"]
        for c in card_audit.audit["checks"]
        for f in c["findings"]
        if f["severity"] in ("medium", "high")
    ]
    considerations = card_audit.card["considerations"]
    written = [entry["description"] for entry in considerations["limitations"]] + [
        entry["name"] for entry in considerations["ethical_considerations"]
    ]
    assert findings, "the loans sample warns; without a finding this test proves nothing"
    for message in findings:
        assert sum(text.endswith(message) for text in written) == 1
    assert card_audit.markdown.count("- **MEDIUM**") + card_audit.markdown.count(
        "- **HIGH**"
    ) == len(findings)


def test_model_card_values_are_recorded_in_the_manifest(card_audit):
    assert card_audit.audit["manifest"]["spec"]["model_card"] == {
        "owners": [OWNER],
        "intended_use": [HOSTILE_USE],
        "out_of_scope": ["Automated rejection without review."],
        "limitations": ["Applicants of 2019 only."],
        "ethical_considerations": ["Sex is recorded in the data."],
    }


def test_model_card_values_are_escaped_in_markdown_and_kept_in_json(card_audit):
    md = card_audit.markdown
    assert "<script" not in md
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    assert "Score applications \\| then" in md
    assert "\\`rm\\` \\*all\\* second line" in md
    assert "[team](https://evil.example)" not in md  # the link stays text
    owners = next(line for line in md.splitlines() if line.startswith("- **Owners:**"))
    assert owners.endswith("Credit Risk \\[team\\](https://evil.example) &lt;risk@example.com&gt;")
    assert card_audit.card["considerations"]["use_cases"][0] == {"description": HOSTILE_USE}
    assert card_audit.card["model_details"]["owners"] == [
        {"name": "Credit Risk [team](https://evil.example)", "contact": "risk@example.com"}
    ]


def test_render_reproduces_the_card_from_audit_json(card_audit, tmp_path):
    target = tmp_path / "card.md"
    ran = CliRunner().invoke(
        app,
        ["render", str(card_audit.out_dir / "audit.json"), "--format", "card", "-o", str(target)],
    )
    assert ran.exit_code == 0, ran.stdout + ran.stderr
    assert target.read_text(encoding="utf-8") == card_audit.markdown
    assert (
        target.with_suffix(".json").read_bytes()
        == (card_audit.out_dir / "model_card.json").read_bytes()
    )


def test_render_refuses_a_json_name_for_the_card(card_audit, tmp_path):
    ran = CliRunner().invoke(
        app,
        [
            "render",
            str(card_audit.out_dir / "audit.json"),
            "--format",
            "card",
            "-o",
            str(tmp_path / "c.json"),
        ],
    )
    assert ran.exit_code == 2
    assert len(ran.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_card_without_model_card_or_decision_says_what_to_declare(loans_audit, tmp_path):
    target = tmp_path / "model_card.md"
    ran = CliRunner().invoke(
        app,
        ["render", str(loans_audit.out_dir / "audit.json"), "--format", "card", "-o", str(target)],
    )
    assert ran.exit_code == 0, ran.stderr
    md = target.read_text(encoding="utf-8")
    assert "Not declared (add intended_use to [model_card] in audit.toml)." in md
    assert "## Operating point" not in md
    card = json.loads(target.with_suffix(".json").read_text(encoding="utf-8"))
    assert card["model_details"]["owners"] == []
    assert "chosen_threshold" not in _metrics(card)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"owner": ["x"]}, "did you mean 'owners'"),
        ({"limitations": 3}, "must be a string or a list of strings"),
    ],
    ids=["unknown-key", "wrong-type"],
)
def test_model_card_table_is_validated(table, message):
    with pytest.raises(InputError, match=message):
        spec_from_mapping({"model_card": table}, where="audit.toml")
