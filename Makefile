# wcp-acceptance: one front door for setting up and testing.
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin

.PHONY: setup system-deps test lint typecheck unit clean

## setup: system packages (if missing) and a virtualenv with the project installed
setup: system-deps $(VENV)/.installed

system-deps:
	@bash .ci/system-deps

# The versions come from requirements-dev.lock (every package pinned and hashed), so CI and a machine
# set up a month later run what was tested; the project itself goes in editable, without resolving again.
# A changed pyproject.toml or lock re-runs this (the lock test fails while the lock lags pyproject.toml).
$(VENV)/.installed: pyproject.toml requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

## lock: re-resolve the locks from pyproject.toml: requirements.lock (what the product needs: the container
## image) and requirements-dev.lock (plus the dev extra, constrained to the same runtime pins: setup, CI).
## Unchanged pins are kept; UPGRADE=1 moves every pin to the newest release.
UV_VERSION ?= 0.13.9
UV_COMPILE  = $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
              --custom-compile-command 'make lock' --quiet $(if $(UPGRADE),--upgrade)
.PHONY: lock
lock: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet 'uv==$(UV_VERSION)'
	$(UV_COMPILE) -o requirements.lock
	$(UV_COMPILE) --extra dev -c requirements.lock -o requirements-dev.lock

## lint: ruff (style, bandit, banned transports in tests_live/)
lint: $(VENV)/.installed
	$(BIN)/ruff check .

## typecheck: mypy on the library and the lab
typecheck: $(VENV)/.installed
	$(BIN)/mypy wcp_acceptance lab fixtures

## test: everything the project proves about itself (what CI runs)
test: setup lint typecheck
	$(BIN)/python -m pytest tests

.PHONY: demo bench readme

## readme: write README.md's check table from the check catalogue (wcp_acceptance/catalogue.py)
readme: $(VENV)/.installed
	$(BIN)/python tools/readme_checks.py

## demo: bring the lab up, run the suite from its jumpbox, tear it down, print where the report is.
## FAULT=<name> (see `.venv/bin/wcp-lab faults`) breaks the lab first: the suite exiting 1 is then the expected outcome.
demo: setup
	@rc=0; $(BIN)/wcp-lab demo $(if $(FAULT),--fault $(FAULT)) || rc=$$?; \
	if [ -n "$(FAULT)" ] && [ $$rc -eq 1 ]; then echo "make demo: the suite caught $(FAULT) (exit 1, as expected)"; exit 0; fi; \
	if [ -n "$(FAULT)" ] && [ $$rc -eq 0 ]; then echo "make demo: the suite did not catch $(FAULT)"; exit 1; fi; \
	exit $$rc

## bench: lab up/down time, suite wall time on the healthy lab, fault inject+clear time (BENCH_ARGS=--runs 5);
## then the healthy suite against its floor at 0 and 20 ms round trip, and 1 and 3 silent VMs against one connect
## timeout (FLOOR_ARGS=--rounds 5); then 1, 3 and 10 lab sites in one invocation against the goal 10 sites <= 3 x one site (MULTISITE_ARGS=...);
## then the DLB checks at 300, 3,000 and 10,000 Services beside the admin's kubectl + per-port NSX search script,
## against >= 50 x the script and <= 150 MB at 20,000 virtual servers (DLB_ARGS=--quick, --latency 0.02)
## then the card's 13 checks against the whole catalogue on the healthy lab, goal <= 2 x (GROWTH_ARGS=--rounds 5)
bench: setup
	$(BIN)/python bench/lab_bench.py $(BENCH_ARGS)
	$(BIN)/python bench/suite_floor_bench.py $(FLOOR_ARGS)
	$(BIN)/python bench/multisite_bench.py $(MULTISITE_ARGS)
	$(BIN)/python bench/dlb_bench.py $(DLB_ARGS)
	$(BIN)/python bench/checks_growth_bench.py $(GROWTH_ARGS)

clean:
	rm -rf $(VENV) .ruff_cache .mypy_cache
