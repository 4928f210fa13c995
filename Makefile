# coinvoice developer entry points. `make run` and `make test` do all set-up themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ANVIL_PKG := @foundry-rs/anvil-linux-amd64@1.7.1
ANVIL := .tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil
CONFIG ?= dev/coinvoiced.toml

.PHONY: run test protos bench lint setup clean

setup: $(STAMP) $(ANVIL)

$(STAMP): pyproject.toml clients/coinvoice/__init__.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

$(ANVIL):
	mkdir -p .tools
	npm install --silent --no-save --no-audit --no-fund --prefix .tools $(ANVIL_PKG)
	test -x $(ANVIL)

run: setup
	$(VENV)/bin/coinvoiced-dev --config $(CONFIG) --anvil $(ANVIL)

test: setup
	COINVOICE_ANVIL=$(abspath $(ANVIL)) $(PY) -m pytest -q tests

protos: $(STAMP)
	$(PY) protos/generate.py

bench: setup
	COINVOICE_ANVIL=$(abspath $(ANVIL)) $(PY) bench/run_all.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) .tools data .pytest_cache
