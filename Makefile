# Conveyor: every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PYTHONPATH := $(CURDIR)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: install demo test lint typecheck unit bench sim chaos synth deploy destroy clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,infra]'
	touch $(STAMP)

NODE_STAMP := node_modules/.installed

$(NODE_STAMP): package.json
	npm install --no-audit --no-fund --silent
	touch $(NODE_STAMP)

install: $(STAMP) $(NODE_STAMP)

## Run the example catalog end to end on the embedded dev cloud.
demo: $(STAMP)
	POWERTOOLS_LOG_LEVEL=WARNING $(BIN)/conveyor demo

## Lint, type-check and run the whole suite (unit, integration, infra, e2e).
test: $(STAMP) $(NODE_STAMP) lint typecheck
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
	$(BIN)/python -m bench.coldstart --json bench/out/coldstart.json
	$(BIN)/python -m bench.policy

## The scheduler simulation: every scenario, fair vs FIFO vs today's round-robin (and for
## heavy1000 one shared lane vs hashing vs shuffle sharding + pool + back-pressure);
## tables on stdout, charts in build/sim/. One scenario: make sim SCENARIO=noisy SEED=2
SCENARIO ?=
SEED ?= 1
sim: $(STAMP)
	$(BIN)/python -m conveyor.sim $(SCENARIO) --seed $(SEED) --out build/sim

## Fault-injection scenarios (AWS faults, kill -9): prints scenario | tasks | lost |
## doubled | re-runs | repair time; fails if a task is lost or succeeded twice.
chaos: $(STAMP)
	$(BIN)/python -m bench.chaos

## Synthesize offline, as `cdk synth` does (the CDK CLI comes from npm, pinned).
synth: $(STAMP) $(NODE_STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" npx cdk synth -q

## Deploy (needs AWS credentials): make deploy STAGE=prod CATALOG=examples.catalog
STAGE ?= dev
CATALOG ?= examples.catalog
deploy: $(STAMP) $(NODE_STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" npx cdk deploy -c stage=$(STAGE) -c catalog=$(CATALOG)

destroy: $(STAMP) $(NODE_STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" npx cdk destroy -c stage=$(STAGE) -c catalog=$(CATALOG)

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .mypy_cache .ruff_cache bench/out
