# dienhinh — developer tasks (GNU make).
#
#   make venv         create .venv and install the locked dependencies (again only when the locks change)
#   make demo         talk to the bot in the terminal, no Telegram needed  (printf '/start\n' | make demo)
#   make run          run the bot against Telegram (BOT_TOKEN in .env)
#   make test         everything CI runs: lint, types, migrations, catalogs, tests on SQLite and PostgreSQL
#   make test-fast    the tests on SQLite only
#   make fuzz         20,000 random updates from everyone at the real bot (FUZZ_UPDATES=…, FUZZ_SEED=… replays)
#   make help         this list

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.stamp
UV := $(shell command -v uv 2>/dev/null)
PG_SERVER := scripts/pg-test-server.sh
# Options for pytest; e.g. make test-fast PYTEST_ARGS='-k outbox -x'
PYTEST_ARGS ?=
# Which tests run again on PostgreSQL (the others don't touch a database engine of their own).
PG_PYTEST_ARGS ?= -m postgres
# pytest through the interpreter, so the checkout is importable even before `pip install -e .`.
PYTEST := $(PY) -m pytest

.PHONY: help venv install demo run test test-fast test-pg fuzz lint typecheck migrate migrations-check \
	babel catalog-check bench clean distclean

help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))
	@echo "  other targets: install lint typecheck migrate migrations-check babel catalog-check bench clean distclean"

# --- environment -----------------------------------------------------------------------------------

venv: $(STAMP)
install: venv

# Reinstalls only when a lock file or pyproject.toml is newer than the stamp.
$(STAMP): requirements-dev.lock pyproject.toml
ifneq ($(UV),)
	@echo "== creating $(VENV) with uv"
	$(UV) venv --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip install --python $(PY) -r requirements-dev.lock
	$(UV) pip install --python $(PY) --no-deps -e .
else
	@echo "== creating $(VENV) with $(PYTHON) -m venv and pip"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip --version >/dev/null 2>&1 || $(PY) -m ensurepip --upgrade
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
endif
	touch $@

# --- running ---------------------------------------------------------------------------------------

# The recipe reads make's own stdin, so `printf '/start\n' | make demo` reaches the bot.
# `make demo DEMO_ARGS=--keep` continues with the playground database of last time;
# `make demo CHANNEL=zalo` starts everyone on Zalo (`:channel` switches in the session).
CHANNEL ?= telegram
demo: venv
	$(BIN)/dienhinh demo --channel $(CHANNEL) $(DEMO_ARGS)

run: venv
	$(BIN)/dienhinh run

migrate: venv
	$(BIN)/dienhinh db upgrade

bench: venv
	$(PY) -m bench

# --- checks ----------------------------------------------------------------------------------------

test: lint typecheck migrations-check catalog-check test-fast test-pg
	@echo "== make test: all checks passed"

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

# pytest's own exit codes pass through: 5 (no test collected) fails like any other non-zero code.
test-fast: venv
	$(PYTEST) $(PYTEST_ARGS)

# Starts a throwaway PostgreSQL server, runs the PostgreSQL tests against it, and stops it whatever happens.
test-pg: venv
	@trap '$(PG_SERVER) stop' EXIT; \
	url="$$($(PG_SERVER) start)"; \
	echo "== tests on PostgreSQL: $$url"; \
	DIENHINH_TEST_PG_URL="$$url" $(PYTEST) $(PG_PYTEST_ARGS) $(PYTEST_ARGS)

# Random updates at the real Application (tests/fuzz/fuzzer.py): FUZZ_UPDATES of them, with FUZZ_SEED (default:
# a new seed, printed, so a failing run can be replayed), on SQLite, and on PostgreSQL too when
# DIENHINH_TEST_PG_URL is set. Prints the deduplicated failures; FUZZ_REPORT=path keeps them in a file.
FUZZ_UPDATES ?= 20000
FUZZ_SEED ?=
FUZZ_REPORT ?=
fuzz: venv
	@seed="$(FUZZ_SEED)"; seed="$${seed:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}"; \
	report="$(FUZZ_REPORT)"; \
	if [ -z "$$report" ]; then report="$$(mktemp)"; trap 'rm -f "$$report"' EXIT; fi; \
	: > "$$report"; \
	echo "== fuzz: $(FUZZ_UPDATES) updates, seed $$seed (the same run again: make fuzz FUZZ_SEED=$$seed)"; \
	status=0; \
	FUZZ_UPDATES="$(FUZZ_UPDATES)" FUZZ_SEED="$$seed" FUZZ_REPORT="$$report" \
		$(PYTEST) tests/fuzz/test_fuzz.py -k random_updates --show-capture=no --tb=line $(PYTEST_ARGS) || status=$$?; \
	if [ -s "$$report" ]; then cat "$$report"; else echo "no report written: again with PYTEST_ARGS=--tb=long"; fi; \
	if [ $$status -ne 0 ] && grep -q "^no failures" "$$report"; then \
		echo "the updates broke nothing, but the test failed around them (the line above; e.g. its English check at the"; \
		echo "end): make fuzz FUZZ_SEED=$$seed PYTEST_ARGS=--tb=long"; fi; \
	exit $$status

# Upgrade an empty SQLite file to head, then `alembic check`: the models need no migration not yet written.
# Then down to base and up again, so the downgrade path keeps working.
migrations-check: venv
	@tmp="$$(mktemp -d)"; \
	trap 'rm -rf "$$tmp"' EXIT; \
	url="sqlite+aiosqlite:///$$tmp/check.sqlite3"; \
	set -x; \
	$(BIN)/alembic -x url="$$url" upgrade head; \
	$(BIN)/alembic -x url="$$url" check; \
	$(BIN)/alembic -x url="$$url" downgrade base; \
	$(BIN)/alembic -x url="$$url" upgrade head

catalog-check: venv
	$(PY) -m bot.i18n check

babel: venv
	$(BIN)/pybabel extract -F babel.cfg --no-default-keywords -k t -k N_ -k plural:1,2 --sort-by-file \
		--project=dienhinh -o locales/messages.pot bot handlers rules
	$(BIN)/pybabel update -i locales/messages.pot -d locales -D messages --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel compile -d locales -D messages

# --- cleaning --------------------------------------------------------------------------------------

clean:
	-$(PG_SERVER) stop
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
