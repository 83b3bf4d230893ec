"""Every key a consumer reads (auditor.keys) is emitted by its check in the sample audits."""

from __future__ import annotations

import json

import pytest

from auditor import keys


@pytest.fixture(scope="module")
def emitted(loans_audit, housing_audit, tickets_audit) -> dict[str, set[tuple[str, str]]]:
    found: dict[str, set[tuple[str, str]]] = {"measurements": set(), "tables": set()}
    for sample in (loans_audit, housing_audit, tickets_audit):
        audit = json.loads((sample.out_dir / "audit.json").read_text(encoding="utf-8"))
        for check in audit["checks"]:
            found["measurements"] |= {(check["id"], m["key"]) for m in check["measurements"]}
            found["tables"] |= {(check["id"], t["key"]) for t in check["tables"]}
    return found


@pytest.mark.parametrize("key", keys.MEASUREMENTS, ids=lambda k: f"{k.check}:{k.key}")
def test_each_measurement_a_consumer_reads_is_emitted(key, emitted):
    assert tuple(key) in emitted["measurements"]


@pytest.mark.parametrize("key", keys.TABLES, ids=lambda k: f"{k.check}:{k.key}")
def test_each_table_a_consumer_reads_is_emitted(key, emitted):
    assert tuple(key) in emitted["tables"]


CHECK_IDS = (
    keys.HOLDOUT,
    keys.CROSS_VALIDATION,
    keys.CALIBRATION,
    keys.BASELINE,
    keys.OVERFIT,
    keys.GROUP_METRICS,
    keys.SLICES,
    keys.DECISION,
)


@pytest.mark.parametrize("check_id", CHECK_IDS)
def test_each_check_id_a_consumer_reads_is_registered(check_id):
    from auditor.registry import load_registry

    assert check_id in load_registry()


def test_the_probe_sees_a_key_nobody_emits(emitted):
    assert ("baseline.comparison", "renamed_score") not in emitted["measurements"]
