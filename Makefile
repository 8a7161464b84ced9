# Two commands on a fresh machine:  `make demo`  and  `make test`.
# Each creates the virtual environment (and installs system packages the tests need) when missing.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test check lint typecheck validate bench schemas dev clean system

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# pgmpy (benchmark oracle) needs torch: take the machine's CPU build rather than the
	# registry's multi-GB CUDA one
	$(PY) -m pip install -q 'torch==2.13.0'
	$(PY) -m pip install -q -e '.[all,dev]'
	# byte-compile the editable sources as pip does for installed packages, so a cold
	# `b12dx` process does not compile them when bytecode writing is off
	# (PYTHONDONTWRITEBYTECODE); a source edited later is compiled in memory as usual
	$(PY) -m compileall -q src
	touch $(STAMP)

dev: $(STAMP)

## the main job on a bundled example
demo: $(STAMP)
	$(VENV)/bin/b12dx demo

system:
	bash scripts/setup-system.sh

## the whole test suite, as CI runs it
test: $(STAMP) system
	bash scripts/test.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy

validate: $(STAMP)
	$(VENV)/bin/b12dx kb validate

check: lint typecheck validate

schemas: $(STAMP)
	$(PY) -m b12dx.schemas schemas

bench: $(STAMP)
	$(PY) bench/core.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
