# OpenDMP: two commands on a fresh machine (README, Quick start).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install clean browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Install, then serve the demo (SQLite + local files under ./var/demo, demo data and tokens)
## on http://127.0.0.1:8080; it prints the URLs, a token and curl commands to paste.
run: $(STAMP)
	$(BIN)/opendmp serve --demo --home var/demo

## Install, then run every check and test (PostgreSQL tests need 127.0.0.1:5432; required when CI=true).
test: $(STAMP) lint browser
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

## Debian's Chromium for the browser tests (tests/e2e); without it they skip, or fail when CI=true.
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || echo "chromium could not be installed: the browser tests will be skipped (or fail when CI=true)"
