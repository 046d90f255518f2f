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

clean:
	rm -rf $(VENV) .ruff_cache .mypy_cache
