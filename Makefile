# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
# Each bootstraps uv into .tools/ from a bare python3, then syncs .venv/ from uv.lock:
# `run` with the runtime dependencies only, `test` with the development group too.

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Compile bytecode at install, so the first `campaignbot` is as quick as the next (about
# 0.2 s for --help instead of 0.4 s where Python may not write .pyc files itself).
export UV_COMPILE_BYTECODE := 1
# One .venv, a stamp for each set. Once `make test` has put the test tools there, `run`
# syncs inexactly and leaves them be; a development sync brings the runtime set up too.
RUNTIME := $(VENV)/.synced-runtime
DEV := $(VENV)/.synced-dev

.PHONY: run test lint typecheck pytest sync sync-runtime lock bench clean chromium systemd messages

run: $(RUNTIME)
	$(VENV)/bin/campaignbot run

test: $(DEV) chromium systemd
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(DEV)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: $(DEV)
	$(VENV)/bin/mypy

pytest: $(DEV)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: $(DEV)
	$(VENV)/bin/python -m bench

sync: $(DEV)

sync-runtime: $(RUNTIME)

# The dashboard's browser tests drive Debian's Chromium (a test tool's own browser
# download does not work here); install it when it is missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# tests/test_deploy.py checks deploy/campaignbot.service with systemd-analyze.
systemd:
	@command -v systemd-analyze >/dev/null 2>&1 || { \
		echo "installing Debian's systemd for the deployment tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd; }

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

$(RUNTIME): $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --no-dev $(if $(wildcard $(DEV)),--inexact) --python $(PYTHON)
	touch $@

$(DEV): $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --python $(PYTHON)
	touch $@ $(RUNTIME)

lock: $(UV)
	$(UV) lock --python $(PYTHON)

# Supporter wording: gather the messages marked in campaigns/wording.py into the template,
# then merge it into each language's catalogue (a new message stays English until it is
# translated there). The .po files are read as they are: nothing to compile.
messages: $(RUNTIME)
	$(VENV)/bin/pybabel extract -F campaigns/locale/babel.cfg -k N_ --no-location \
		--sort-output --width 100 --project campaignbot -o campaigns/locale/messages.pot .
	$(VENV)/bin/pybabel update -i campaigns/locale/messages.pot -d campaigns/locale \
		-D messages --width 100 --ignore-pot-creation-date

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache
