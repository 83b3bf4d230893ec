# Two entry points: `make demo` and `make test`. Both create .venv with Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Oversubscribed OpenMP threads make scikit-learn up to 100x slower on small CI machines.
export OMP_NUM_THREADS ?= 1

.PHONY: demo test lint install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml tests/plugins/auditor_example_plugin/pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m pip install --quiet -e tests/plugins/auditor_example_plugin
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/auditor demo --out-dir reports

# One worker per core: the suite takes about 2.5 minutes on 2 cores instead of 4.
test: install-dev
	$(BIN)/python -m pytest -q -n auto --dist loadscope

lint: install-dev
	$(BIN)/ruff check src tests benchmarks sample_data
	$(BIN)/ruff format --check src tests benchmarks sample_data

clean:
	rm -rf $(VENV) reports build dist .pytest_cache .ruff_cache
