# market_assets: `make demo` then `make test` (see README).
SHELL := /bin/bash
PYTHON ?= python3.11
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
export UV_COMPILE_BYTECODE := 1
export DAGSTER_HOME ?= $(CURDIR)/var/dagster_home
# The demo: the synthetic market from two years back (fixed at the first
# `make demo`, kept in var/demo_start) to the last session before today; see
# market_assets/demo.py for the four named jobs it runs.
DEMO_START_FILE := var/demo_start
ifeq ($(origin DEMO_START), undefined)
DEMO_START := $(shell cat $(DEMO_START_FILE) 2>/dev/null || $(PYTHON) -c "import datetime as d; t = d.date.today().replace(day=1); print(t.replace(year=t.year - 2))")
endif
HOST ?= 127.0.0.1
PORT ?= 3000

.PHONY: setup demo demo-headless materialize-demo ui mlflow-ui rollback test bench validate audit clean

$(UV):
	$(PYTHON) -m pip install --user --quiet uv

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

setup: .venv/.synced ## install the locked environment into .venv
	@mkdir -p $(DAGSTER_HOME)
	@test -f $(DAGSTER_HOME)/dagster.yaml || cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml

materialize-demo ui: export MARKET_ASSETS_START := $(DEMO_START)

materialize-demo: setup ## materialize the demo window (synthetic market), one run per named job
	@mkdir -p var && test -f $(DEMO_START_FILE) || echo $(DEMO_START) > $(DEMO_START_FILE)
	.venv/bin/python -m market_assets.demo

demo: materialize-demo ui ## set up, run the pipeline on the demo window, serve the UI

demo-headless: materialize-demo ## the same, without the UI (for scripts)

ui: setup ## serve the Dagster UI on http://$(HOST):$(PORT)
	.venv/bin/dagster dev -w workspace.yaml -h $(HOST) -p $(PORT)

test: .venv/.synced ## run the test suite
	.venv/bin/python -m pytest

mlflow-ui: setup ## the MLflow UI on the local store, http://$(HOST):5000
	.venv/bin/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/var/mlflow/mlflow.db -h $(HOST) -p 5000

rollback: setup ## move the champion alias back: make rollback MODEL=market_assets_regression_h1
	.venv/bin/python -m market_assets.tracking.rollback --model $(MODEL)

validate: setup ## check that the definitions load
	.venv/bin/dagster definitions validate -w workspace.yaml

bench: setup ## speed and memory figures (several minutes each; installs the bench group: vectorbt)
	$(UV) sync --frozen --group bench
	.venv/bin/python benchmarks/bench_validated_prices.py --postgres
	.venv/bin/python benchmarks/bench_features.py
	.venv/bin/python benchmarks/bench_training.py
	.venv/bin/python benchmarks/bench_drift.py
	.venv/bin/python benchmarks/bench_backtest.py
	.venv/bin/python benchmarks/bench_default_model_signal.py
	.venv/bin/python benchmarks/bench_nightly.py
	$(UV) sync --frozen

audit: | $(UV) ## known vulnerabilities of every locked package (pip-audit; needs PyPI's advisory data: not a CI step)
	@mkdir -p var
	$(UV) export --frozen --no-hashes --all-groups --no-emit-project --format requirements-txt -o var/audit-requirements.txt
	$(UV) tool run pip-audit==2.10.1 --strict --no-deps --disable-pip --progress-spinner off -r var/audit-requirements.txt

clean:
	rm -rf var .venv
