"""Imports point down the layers of docs/architecture.md; a test fails on one that does not.

Every ``import auditor.x`` and ``from auditor.x import ...`` in the package, at module level
or inside a function (lazy imports count: they still tie the layers), is checked against
the layer order below. A module may import from its own layer or a lower one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "auditor"

# Lowest first. A module belongs to the first entry that is a prefix of its dotted name.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", ("auditor._version", "auditor.errors", "auditor.progress")),
    ("contract", ("auditor.result", "auditor.result_schema", "auditor.spec", "auditor.keys")),
    ("measures", ("auditor.io", "auditor.stats", "auditor.metrics")),
    (
        "engine",
        (
            "auditor.engine",
            "auditor.context",
            "auditor.roles",
            "auditor.schemas",
            "auditor.evaluation",
            "auditor.slices",
            "auditor.inputs",
        ),
    ),
    ("checks", ("auditor.registry", "auditor.checks", "auditor.runner", "auditor.corroborate")),
    ("policy", ("auditor.gate", "auditor.compare")),
    ("render", ("auditor.render",)),
    ("orchestration", ("auditor.api", "auditor.tracking")),
    ("interface", ("auditor.cli", "auditor.__main__", "auditor")),
]

# Upward imports that are deliberate, each with its reason (keep this list short).
ALLOWED_UPWARD = {
    ("auditor.result", "auditor.registry"): (
        "read_result upgrades files written before audit.json carried each check's guidance"
    ),
    ("auditor.result", "auditor.engine.headline"): (
        "read_result derives the headline of files written before the block existed"
    ),
    ("auditor.result", "auditor.render.notebook"): (
        "AuditResult._repr_html_ shows the report in a notebook, where auditor.audit() returns it"
    ),
}


def layer_of(module: str) -> int:
    for rank, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS and the map")


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[str, int]]:
    """(imported auditor module, line) for every import statement in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "auditor":
                found += [(f"auditor.{a.name}", node.lineno) for a in node.names]
            elif node.module.startswith("auditor."):
                found.append((node.module, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.startswith("auditor.")]
    return found


def violations(package: Path = PACKAGE) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        importer = module_name(path, package)
        for imported, line in imports_of(path):
            if imported == "auditor._version" or importer == "auditor":
                continue
            upward = layer_of(imported) > layer_of(importer)
            allowed = any(
                importer.startswith(a) and imported.startswith(b) for a, b in ALLOWED_UPWARD
            )
            if upward and not allowed:
                found.append(
                    f"{path.relative_to(package.parent)}:{line} {importer} "
                    f"({LAYERS[layer_of(importer)][0]}) imports {imported} "
                    f"({LAYERS[layer_of(imported)][0]})"
                )
    return found


def test_imports_point_down_the_layers():
    assert violations() == []


def test_every_module_has_a_layer():
    for path in PACKAGE.rglob("*.py"):
        layer_of(module_name(path))


def test_the_probe_sees_an_upward_import(tmp_path):
    """Control: a result module importing a renderer is caught, lazily or not."""
    fake = tmp_path / "auditor"
    fake.mkdir()
    (fake / "result.py").write_text(
        "def write():\n    from auditor.render import write_reports\n", encoding="utf-8"
    )
    (fake / "metrics.py").write_text("import auditor.checks.data\n", encoding="utf-8")
    found = violations(fake)
    assert len(found) == 2
    assert "auditor.result (contract) imports auditor.render (render)" in found[1]
    assert "auditor.metrics (measures) imports auditor.checks.data (checks)" in found[0]


@pytest.mark.parametrize(("module", "layer"), [("auditor.io.models", 2), ("auditor.cli.app", 8)])
def test_modules_are_placed_by_prefix(module, layer):
    assert layer_of(module) == layer
