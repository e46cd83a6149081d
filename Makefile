# The two commands (see README): `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: demo test fast lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,dask]'
	touch $@ $(STAMP_RUN)

demo: $(STAMP_RUN)
	$(BIN)/jtl-automator demo

lint: $(STAMP_DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP_DEV)
	$(BIN)/mypy jtl_automator flows tasks blocks deployments

# The whole suite, then every flow's and service's tests again against the strict sandbox.
pytest: $(STAMP_DEV)
	$(BIN)/pytest
	$(BIN)/pytest tests/flows tests/services --sandbox strict -q

test: lint typecheck pytest

# The inner loop: everything but the Prefect server and the slow tests, on both cores (under a minute).
fast: $(STAMP_DEV)
	$(BIN)/pytest -m "not prefect and not slow" -n 2 -q

bench: $(STAMP_DEV)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .prefect-demo demo-output .mypy_cache .ruff_cache .pytest_cache
