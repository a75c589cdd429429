# The two commands of the README: `make serve` and `make test`.
# Both set everything up on a fresh machine; later runs only redo what changed.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
export UV_PYTHON_DOWNLOADS := never

WEB_SOURCES := $(shell find web -type f -not -path '*/node_modules/*' -not -path 'web/dist/*' -not -path 'web/test-results/*' -not -path 'web/playwright-report/*' -not -path 'web/e2e/*' 2>/dev/null)
WEB_STAMP := src/hexa/web/index.html

.PHONY: serve bytecode test install install-dev web web-types web-types-check chromium sandbox sandbox-required lint typecheck pytest suite e2e bench clean

serve: $(VENV)/.installed web sandbox bytecode
	$(BIN)/hexa serve

test: $(VENV)/.installed-dev bytecode web chromium sandbox-required postgres containers lint suite e2e

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip uv

# Installed with their bytecode (uv writes none by default): every `hexa serve`, marimo
# server and kernel imports from .pyc files instead of compiling its modules each start,
# even where PYTHONDONTWRITEBYTECODE keeps Python from caching them itself (a `hexa serve`
# came up in 7.3 s without them, 3.5 s with them).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(UV) pip install -q --compile-bytecode --python $(BIN)/python -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(UV) pip install -q --compile-bytecode --python $(BIN)/python -e '.[dev]'
	touch $@ $(VENV)/.installed

# Hexa's own modules (installed editable, so not compiled above); only what changed since.
bytecode: $(VENV)/.installed
	@$(BIN)/python -m compileall -q src

# The web UI is built into the package when its sources exist.
web: $(if $(wildcard web/package.json),$(WEB_STAMP))

$(WEB_STAMP): $(WEB_SOURCES)
	cd web && npm ci --no-audit --no-fund && npm run build
	touch $@

# The web client's types of every reply and WebSocket event, generated from the server's
# OpenAPI document (`hexa openapi`) by openapi-typescript (pinned in web/tools/openapi-typescript,
# installed by `npm ci` in web). `make web-types` after a change of the API; `lint` checks that
# the committed file is current.
WEB_TYPES := web/src/api/schema.d.ts
OPENAPI_TS := web/tools/openapi-typescript/node_modules/.bin/openapi-typescript
# web's node_modules alone (no build: the types must be made even when the app does not
# compile against the old ones). npm ci writes this file last.
WEB_DEPS := web/node_modules/.package-lock.json

$(WEB_DEPS): web/package.json web/package-lock.json web/tools/openapi-typescript/package.json
	cd web && npm ci --no-audit --no-fund
	touch $@

web-types: $(VENV)/.installed-dev $(WEB_DEPS)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  $(BIN)/hexa openapi > "$$tmp/openapi.json" && \
	  $(OPENAPI_TS) "$$tmp/openapi.json" -o $(WEB_TYPES)

web-types-check: $(VENV)/.installed-dev $(WEB_DEPS)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  $(BIN)/hexa openapi > "$$tmp/openapi.json" && \
	  $(OPENAPI_TS) "$$tmp/openapi.json" -o "$$tmp/schema.d.ts" >/dev/null && \
	  if ! diff -u $(WEB_TYPES) "$$tmp/schema.d.ts"; then \
	    echo "!!! $(WEB_TYPES) does not match the server's OpenAPI document:" \
	      "run 'make web-types' and commit the result."; exit 1; fi

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

# The store and API suites run on SQLite and on a real PostgreSQL: the tests start a
# throwaway cluster of their own (tests/support/postgres.py) from Debian's server binaries
# in /usr/lib/postgresql/<version>/bin. Installed without Debian's own `main` cluster
# (createcluster.d), so no PostgreSQL service is set up or left running.
PG_BINDIR := /usr/lib/postgresql/15/bin
.PHONY: postgres
postgres:
	@command -v initdb >/dev/null 2>&1 || [ -x $(PG_BINDIR)/initdb ] || { \
	  as_root() { if [ "$$(id -u)" = 0 ]; then "$$@"; else sudo "$$@"; fi; }; \
	  as_root mkdir -p /etc/postgresql-common/createcluster.d && \
	  echo "create_main_cluster = false" | \
	    as_root tee /etc/postgresql-common/createcluster.d/no-main-cluster.conf >/dev/null && \
	  { $(call APT_INSTALL,postgresql-15); }; }
	@command -v initdb >/dev/null 2>&1 || [ -x $(PG_BINDIR)/initdb ] || \
	  { echo "PostgreSQL 15 (initdb) is needed by the tests"; exit 1; }

# Containers (README "Containers"). `make image` builds the Hexa image from the working
# tree, and the notebook image of HEXA_SANDBOX=docker: the wheel (web UI inside) and a
# wheelhouse of every dependency are made on the host, so `docker build` needs no network;
# BASE_IMAGE, IMAGE and NOTEBOOK_IMAGE pick the base and the two tags.
# `make containers` installs what tests/containers/ needs (Docker, docker-compose v1,
# debootstrap); the tests start and stop a Docker daemon of their own.
.PHONY: containers image bench-containers
containers:
	@tests/containers/install-tools.sh

image: $(VENV)/.installed web
	$(BIN)/python docker/build_image.py $(if $(BASE_IMAGE),--base $(BASE_IMAGE)) $(if $(IMAGE),--tag $(IMAGE)) \
	  $(if $(NOTEBOOK_IMAGE),--notebook-tag $(NOTEBOOK_IMAGE))

bench-containers: $(VENV)/.installed-dev web containers
	$(BIN)/python bench/container.py

lint: web-types-check
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck:
	$(BIN)/mypy
	# The benchmarks are scripts that import each other by file name.
	MYPYPATH=src:bench $(BIN)/mypy --explicit-package-bases bench/*.py

pytest:
	$(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# What `make test` runs between lint and the browser suite: `typecheck` and `pytest` in two
# lanes, one per core (tests/lanes.sh says how); `make pytest` runs every test in one.
suite: $(VENV)/.installed-dev
	@BIN=$(BIN) tests/lanes.sh $(PYTEST_ARGS)

# Browser tests: Playwright with Debian's Chromium against a real `hexa serve`.
e2e: $(VENV)/.installed-dev web chromium
	cd web && npx playwright test

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/open_latency.py
	$(BIN)/python bench/proxy.py
	$(BIN)/python bench/agent.py
	$(BIN)/python bench/memory.py

clean:
	rm -rf $(VENV) src/hexa/web web/node_modules .mypy_cache .ruff_cache
