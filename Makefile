# The two commands of the README: `make run` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The development and CI environment: every package pinned to a version known to pass `make
# test`. pyproject.toml keeps the library's ranges open for users; `make lock` refreshes this.
LOCK := requirements-dev.lock
UV_VERSION := 0.13.8

.PHONY: run test lint typecheck bench docs diagram install lock system clean

$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "tradefsm needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c $(LOCK) -e '.[dev]'
	# The example strategy plugin, which the tests run through `tradefsm run --strategy`.
	$(BIN)/pip install --quiet --no-deps -e examples/strategy-plugin
	@touch $(STAMP)

install: $(STAMP)

# Deliberately move the pins to the newest versions pyproject.toml allows (uv's resolver, for
# every platform), then reinstall; commit the new lock once `make test` passes with it.
lock:
	@test -x $(BIN)/pip || $(PYTHON) -m venv $(VENV)
	@$(BIN)/uv --version 2>/dev/null | grep -qF 'uv $(UV_VERSION) ' || \
	  $(BIN)/pip install --quiet 'uv==$(UV_VERSION)'
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
	  --upgrade --quiet --custom-compile-command 'make lock' --output-file $(LOCK)
	$(MAKE) install

# Whether the newest run was refused by the exchange's calendar (a night, a week-end, a holiday).
CALENDAR_REFUSED := import json, sys; f = json.load(sys.stdin)[0]["failure"] or {}; \
  sys.exit(not f.get("message", "").startswith(("guard as_of_session ", "guard market_open ")))

# A paper rebalance; while the exchange is closed it is refused (naming the sessions either
# side) and a dry run plans the same rebalance instead, sending nothing.
run: $(STAMP)
	$(BIN)/tradefsm db upgrade
	@$(BIN)/tradefsm run; status=$$?; \
	  if [ $$status -eq 1 ] && $(BIN)/tradefsm runs list --limit 1 --format json \
	      | $(BIN)/python -c '$(CALENDAR_REFUSED)'; then \
	    echo "The exchange is closed, so the paper run sent nothing; a dry run plans instead:"; \
	    $(BIN)/tradefsm run --mode dry-run; status=$$?; \
	  fi; \
	  $(BIN)/tradefsm runs list --limit 5; \
	  $(BIN)/tradefsm paper positions; exit $$status

system:
	@scripts/ensure-system.sh

# The suite runs in parallel (pytest-xdist): each worker has its own PostgreSQL cluster and
# temporary folders. Many tests wait on the processes they start (a broker's latency, a lease
# running out), so there are half again as many workers as cores, and an idle worker takes
# tests queued for a busy one (worksteal). TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print(max(2, len(os.sched_getaffinity(0)) * 3 // 2))')
test: $(STAMP) system lint typecheck
	$(BIN)/pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist worksteal

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m benchmarks all --json --markdown docs/performance.md > benchmarks-report.json

# The documentation site (MkDocs, Material theme, API reference by mkdocstrings) into site/;
# --strict turns a broken link, an anchor that is gone or a missing reference into an error.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# The generated pages, and docs/state-diagram.svg redrawn by Graphviz when the chart changed
# (it is committed, so the site builds without Graphviz; a test fails while it is stale).
diagram: $(STAMP) system
	$(BIN)/python -m fsm.docs

clean:
	rm -rf $(VENV) site tradefsm.db* tradefsm-paper.db*
