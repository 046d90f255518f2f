# wcp-acceptance: one front door for setting up and testing.
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin

.PHONY: setup system-deps test lint typecheck unit clean

## setup: system packages (if missing) and a virtualenv with the project installed
setup: system-deps $(VENV)/.installed

system-deps:
	@bash .ci/system-deps

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

## lint: ruff (style, bandit, banned transports in tests_live/)
lint: $(VENV)/.installed
	$(BIN)/ruff check .

## typecheck: mypy on the library and the lab
typecheck: $(VENV)/.installed
	$(BIN)/mypy wcp_acceptance lab

## test: everything the project proves about itself (what CI runs)
test: setup lint typecheck
	$(BIN)/python -m pytest tests

.PHONY: demo bench

## demo: bring the lab up, run the suite from its jumpbox, tear it down, print where the report is.
## FAULT=<name> (see `.venv/bin/wcp-lab faults`) breaks the lab first: the suite exiting 1 is then the expected outcome.
demo: setup
	@rc=0; $(BIN)/wcp-lab demo $(if $(FAULT),--fault $(FAULT)) || rc=$$?; \
	if [ -n "$(FAULT)" ] && [ $$rc -eq 1 ]; then echo "make demo: the suite caught $(FAULT) (exit 1, as expected)"; exit 0; fi; \
	if [ -n "$(FAULT)" ] && [ $$rc -eq 0 ]; then echo "make demo: the suite did not catch $(FAULT)"; exit 1; fi; \
	exit $$rc

## bench: lab up/down time, suite wall time on the healthy lab, fault inject+clear time (BENCH_ARGS=--runs 5)
bench: setup
	$(BIN)/python bench/lab_bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .ruff_cache .mypy_cache
