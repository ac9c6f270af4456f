# PunchGuard: `make run` serves on 127.0.0.1:8000; `make test` sets up and runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# The PostgreSQL pass runs when this URL is set (.ci/run sets it).
TEST_POSTGRES_URL ?= $(PUNCHGUARD_TEST_POSTGRES_URL)

.PHONY: install run demo test lint test-node test-sqlite test-postgres test-browser openapi clean bench drill mutants

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

run: install
	$(PY) -m api init
	$(PY) -m api serve --host 127.0.0.1 --port 8000

# Three weeks of a café chain (honest customers and the frauds an owner reviews) in an empty
# database, for a first look at the console: `make demo run`. See drill/demo.py.
demo: install
	$(PY) -m drill.demo

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: lint test-node test-sqlite test-postgres test-browser

# The published test vectors checked by a second implementation outside Python: WebCrypto in Node,
# with Node's own test runner and no package (tests/node/). CI runs as root, so apt-get may install it.
test-node:
	@command -v node >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs; }
	@echo "== test vectors in Node's WebCrypto ($$(node --version)) =="
	node --test tests/node/

test-sqlite: install tools
	@echo "== test suite on SQLite =="
	env -u DATABASE_URL $(PY) -m pytest

test-postgres: install tools
	@if [ -n "$(TEST_POSTGRES_URL)" ]; then \
		echo "== test suite on PostgreSQL =="; \
		DATABASE_URL="$(TEST_POSTGRES_URL)" $(PY) -m pytest; \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL pass SKIPPED: PUNCHGUARD_TEST_POSTGRES_URL is not set, and CI=true forbids skipping it" >&2; \
		exit 1; \
	else \
		echo "PostgreSQL pass SKIPPED: set PUNCHGUARD_TEST_POSTGRES_URL=postgresql://user:pass@host/db to run it (.ci/run does)"; \
	fi

# The owner's console in a real browser: Debian's Chromium driven by Playwright (no `playwright install`:
# its browser host is unreachable). Its own pytest invocation, apart from the pytest-asyncio suite, whose
# addopts skip tests/browser; the path given here overrides that. CI runs as root, so apt-get may install it.
test-browser: install
	@test -x /usr/bin/chromium || { apt-get update -qq && apt-get install -y -qq chromium; }
	@echo "== the console in Chromium, on SQLite =="
	env -u DATABASE_URL $(PY) -m pytest -p no:playwright --override-ini addopts=-ra tests/browser
	@if [ -n "$(TEST_POSTGRES_URL)" ]; then \
		echo "== the console in Chromium, on PostgreSQL =="; \
		DATABASE_URL="$(TEST_POSTGRES_URL)" $(PY) -m pytest -p no:playwright --override-ini addopts=-ra tests/browser; \
	fi

openapi: install
	$(PY) -m api openapi > mobile_contract/openapi.json

# The README's walk-through, which tests/test_readme.py runs as written, needs curl and jq.
# CI runs as root, so apt-get may install them.
.PHONY: tools vendor
tools:
	@command -v jq >/dev/null && command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq jq curl; }

# Download the vendored front-end files again with npm and check each against
# api/static/vendor/MANIFEST.json (package, version, licence, source, sha256); see api/vendor.py.
vendor: install
	@command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq npm; }
	$(PY) -m api.vendor

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

bench: install
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(PY) bench/run.py
	$(PY) bench/metrics_at_size.py
	$(PY) bench/flat_cost.py

# A month of a three-store chain: 2,000 honest customers and every attack of the threat model,
# over HTTP against the real server on a simulated clock. Fails if a target is missed.
# Fresh temporary SQLite by default; DATABASE_URL=postgresql://… runs it on an empty PostgreSQL database.
drill: install
	$(PY) -m drill

# Mutation testing of the guards ([tool.mutmut] in pyproject.toml lists the files): each mutant is
# a guard changed or removed; the suite must fail for every one. Lists the survivors at the end.
# Hours for all of them: MUTANTS='cards.duties*' runs only those whose name matches.
MUTANTS ?=
mutants: install
	@# One child at a time: the suite's database is one file per session, which parallel forks would share.
	$(VENV)/bin/mutmut run --max-children 1 $(MUTANTS) || true
	@echo "== mutants the suite let live (mutmut show <name> for the change) =="
	$(VENV)/bin/mutmut results
