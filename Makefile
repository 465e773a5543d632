# The two commands of the README: `make run` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck bench install system clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "tradefsm needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/tradefsm db upgrade
	$(BIN)/tradefsm run; status=$$?; \
	  $(BIN)/tradefsm runs list --limit 5; \
	  $(BIN)/tradefsm paper positions; exit $$status

system:
	@scripts/ensure-system.sh

test: $(STAMP) system lint typecheck
	$(BIN)/pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m benchmarks all --json --markdown docs/performance.md > benchmarks-report.json

clean:
	rm -rf $(VENV) tradefsm.db* tradefsm-paper.db*
