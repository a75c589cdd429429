# The two commands of the README: `make serve` and `make test`.
# Both set everything up on a fresh machine; later runs only redo what changed.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
export UV_PYTHON_DOWNLOADS := never

WEB_SOURCES := $(shell find web -type f -not -path 'web/node_modules/*' -not -path 'web/dist/*' -not -path 'web/test-results/*' -not -path 'web/playwright-report/*' -not -path 'web/e2e/*' 2>/dev/null)
WEB_STAMP := src/hexa/web/index.html

.PHONY: serve test install install-dev web chromium sandbox sandbox-required lint typecheck pytest e2e bench clean

serve: $(VENV)/.installed web sandbox
	$(BIN)/hexa serve

test: $(VENV)/.installed-dev web chromium sandbox-required lint typecheck pytest e2e

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip uv

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(UV) pip install -q --python $(BIN)/python -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(UV) pip install -q --python $(BIN)/python -e '.[dev]'
	touch $@ $(VENV)/.installed

# The web UI is built into the package when its sources exist.
web: $(if $(wildcard web/package.json),$(WEB_STAMP))

$(WEB_STAMP): $(WEB_SOURCES)
	cd web && npm ci --no-audit --no-fund && npm run build
	touch $@

APT_INSTALL = if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q $(1); \
	  else sudo apt-get update -q && sudo apt-get install -y -q $(1); fi

# Browser tests use Debian's Chromium; a test tool's own browser download cannot work here.
chromium:
	@command -v chromium >/dev/null 2>&1 || { $(call APT_INSTALL,chromium); }

# Notebook code runs in bubblewrap (HEXA_SANDBOX=auto); setpriv and prlimit (util-linux)
# drop to a user's uid and set limits. Without apt, Hexa starts with a loud warning.
sandbox:
	@command -v bwrap >/dev/null 2>&1 || { $(call APT_INSTALL,bubblewrap) || \
	  echo "!!! bubblewrap could not be installed: notebooks will run without a sandbox"; }

# The isolation suite must run for real in `make test`, never skip for want of bwrap.
sandbox-required: sandbox
	@command -v bwrap >/dev/null 2>&1 || { echo "bubblewrap is needed by the tests"; exit 1; }

lint:
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# Browser tests: Playwright with Debian's Chromium against a real `hexa serve`.
e2e: $(VENV)/.installed-dev web chromium
	cd web && npx playwright test

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/open_latency.py
	$(BIN)/python bench/proxy.py
	$(BIN)/python bench/agent.py

clean:
	rm -rf $(VENV) src/hexa/web web/node_modules .mypy_cache .ruff_cache
