# Conveyor: every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PYTHONPATH := $(CURDIR)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: install demo test lint typecheck unit bench synth clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,infra]'
	touch $(STAMP)

install: $(STAMP)

## Run the example catalog end to end on the embedded dev cloud.
demo: $(STAMP)
	POWERTOOLS_LOG_LEVEL=WARNING $(BIN)/conveyor demo

## Lint, type-check and run the whole suite (unit, integration, infra, e2e).
test: $(STAMP) lint typecheck
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit

## Cost and speed benchmarks, each with its baseline measured in the same run.
bench: $(STAMP)
	$(BIN)/python -m bench.cost --json bench/out/cost.json

synth: $(STAMP)
	$(BIN)/python app.py

clean:
	rm -rf $(VENV) cdk.out .pytest_cache .mypy_cache .ruff_cache bench/out
