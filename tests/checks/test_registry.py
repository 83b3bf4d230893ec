"""The registry: valid ids, modules on disk, names derived from the id, a test file each."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from pathlib import Path

import pytest

import auditor
from auditor.registry import CHECK_MODULES, NEEDS, NoParams, load_registry, register_check
from auditor.result import CATEGORIES

REGISTRY = load_registry()
SPECS = sorted(REGISTRY.values(), key=lambda s: s.id)
# Plug-in checks live in their own packages: the built-in layout rules do not bind them.
BUILTIN_SPECS = [s for s in SPECS if s.plugin is None]
CHECKS_DIR = Path(auditor.__file__).parent / "checks"
TESTS_DIR = Path(__file__).parent


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def test_registry_is_not_empty():
    assert len(REGISTRY) >= len(CHECK_MODULES) >= 1


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_id_is_category_dot_name(spec):
    assert re.fullmatch(r"[a-z]+\.[a-z][a-z0-9_]*", spec.id)
    category, _ = spec.id.split(".", 1)
    assert category in CATEGORIES
    assert spec.category == category


@pytest.mark.parametrize("module", CHECK_MODULES)
def test_every_check_module_exists_and_registers_a_check(module):
    assert importlib.util.find_spec(module) is not None
    assert any(spec.func.__module__ == module for spec in SPECS)


def test_check_modules_on_disk_are_the_declared_ones():
    on_disk = {
        f"auditor.checks.{path.parent.name}.{path.stem}"
        for path in CHECKS_DIR.glob("*/*.py")
        if not path.stem.startswith("_")
    }
    assert on_disk == set(CHECK_MODULES)


@pytest.mark.parametrize("spec", BUILTIN_SPECS, ids=lambda s: s.id)
def test_code_names_follow_the_id(spec):
    category, name = spec.id.split(".", 1)
    assert spec.func.__module__ == f"auditor.checks.{category}.{name}"
    assert spec.func.__name__ == name
    if spec.params_type is not NoParams:
        assert spec.params_type.__name__ == f"{_camel(name)}Params"


@pytest.mark.parametrize("spec", BUILTIN_SPECS, ids=lambda s: s.id)
def test_every_check_has_a_test_file(spec):
    category, name = spec.id.split(".", 1)
    assert (TESTS_DIR / category / f"test_{name}.py").is_file()


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_every_check_documents_itself(spec):
    assert spec.title.strip()
    assert spec.rationale.strip()
    assert spec.remedy.strip()
    assert (spec.func.__doc__ or "").strip()
    assert spec.needs <= set(NEEDS)
    for field in dataclasses.fields(spec.params_type):
        assert spec.param_docs()[field.name].strip(), field.name
    assert dataclasses.is_dataclass(spec.params_type)
    assert spec.params_type.__dataclass_params__.frozen


@pytest.mark.parametrize(
    ("check_id", "needs", "match"),
    [
        pytest.param("missing_values", ("test",), "must be '<category>.<name>'", id="no_dot"),
        pytest.param("quality.missing", ("test",), "known category", id="unknown_category"),
        pytest.param("data.thing", ("test", "gpu"), r"unknown inputs \['gpu'\]", id="bad_need"),
    ],
)
def test_register_check_rejects_invalid_declarations(check_id, needs, match):
    registered = dict(REGISTRY)
    with pytest.raises(ValueError, match=match):
        register_check(check_id, title="t", needs=needs, rationale="r", remedy="r")
    assert registered == REGISTRY
