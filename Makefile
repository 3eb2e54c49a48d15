# B2B e-commerce operations analytics. `make` alone lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
SAMPLE := data/sample
SCALE ?= 1
SEED ?= 42
JOBS ?= 2
NAME ?=
PARAMS ?=
DATA ?=
OUT ?=
SEND ?=
TO ?=
ATTACH ?=
ENGINE ?=
LAB_ARGS ?=
# The exact versions the tests passed with (pip constraints; `make lock` refreshes it).
LOCK := requirements.lock

# Re-install only when the declared dependencies or the locked versions change.
$(VENV)/.installed: pyproject.toml $(LOCK)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c $(LOCK) -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PY) -m pip install --quiet -c $(LOCK) -e '.[dev,spark]'
	@touch $@

$(SAMPLE)/manifest.json: | $(VENV)/.installed
	$(PY) -m helpers.data generate --scale $(SCALE) --seed $(SEED) --out $(SAMPLE)

## help: list the targets with what they do
.PHONY: help
help:
	@echo "Targets (make <target>):"
	@awk -F': ' '/^## /{sub(/^## /, "", $$1); printf "  %-11s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

## setup: create .venv and install the package with the versions in requirements.lock
.PHONY: setup
setup: $(VENV)/.installed

## lock: re-resolve pyproject.toml's ranges in a fresh venv and write requirements.lock
.PHONY: lock
lock:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install --quiet --upgrade pip; \
	"$$tmp/venv/bin/python" -m pip install --quiet -e '.[dev,spark]'; \
	{ echo "# The exact versions the tests pass with, as pip constraints for make setup and make test."; \
	  echo "# Written by make lock on $$(date -u +%F) with $$("$$tmp/venv/bin/python" -V) on $$(uname -m) Linux;"; \
	  echo "# refresh with make lock, then make test, and commit it when the tests pass."; \
	  "$$tmp/venv/bin/python" -m pip freeze --exclude-editable; } > $(LOCK).new; \
	mv $(LOCK).new $(LOCK); \
	echo "wrote $(LOCK): make test now reinstalls .venv from it; commit it when the tests pass"

## data: generate the sample dataset in data/sample if it is missing (SCALE=1 SEED=42)
.PHONY: data
data: $(SAMPLE)/manifest.json

## reports: build every report in reports.yml into reports/ (FORCE=1, DATA=dir, OUT=dir, ENGINE=spark)
.PHONY: reports
reports: setup data
	$(PY) -m helpers.reports build --jobs $(JOBS) $(if $(DATA),--data $(DATA)) \
		$(if $(OUT),--out $(OUT)) $(if $(ENGINE),--param engine=$(ENGINE))

## report: build one report, e.g. make report NAME=overview PARAMS="start=2025-01-01"
.PHONY: report
report: setup data
	@test -n "$(NAME)" || { echo 'usage: make report NAME=overview [PARAMS="key=value ..."]'; exit 2; }
	$(PY) -m helpers.reports build --only $(NAME) $(foreach p,$(PARAMS),--param $(p)) \
		$(if $(filter 1 yes true,$(FORCE)),--force) $(if $(DATA),--data $(DATA)) \
		$(if $(OUT),--out $(OUT)) $(if $(ENGINE),--param engine=$(ENGINE))

## weekly: build to the last complete week, PDFs, digest (SEND=1 mails it; TO=file of recipients)
.PHONY: weekly
weekly: setup data
	$(PY) -m helpers.reports weekly --jobs $(JOBS) $(if $(DATA),--data $(DATA)) \
		$(if $(OUT),--out $(OUT)) $(if $(ENGINE),--param engine=$(ENGINE)) \
		$(if $(filter 1 yes true,$(SEND)),--send) $(if $(TO),--to-file $(TO)) \
		$(if $(filter 1 yes true,$(ATTACH)),--attach-pdfs)

## test: install the dev extras and run the whole test suite (unit, notebooks, end to end)
.PHONY: test
test: $(VENV)/.installed-dev browser
	$(PY) -m pytest

## screenshot: refresh the README's picture, docs/img/overview.png, in headless Chromium
.PHONY: screenshot
screenshot: $(VENV)/.installed-dev browser
	HELPERS_README_SHOT=docs/img/overview.png $(PY) -m pytest tests/test_browser.py \
		-k overview -q -p no:cacheprovider

## browser: as root, apt-get install Chromium (and a CJK font) for tests/test_browser.py
.PHONY: browser
browser:
	@pkgs=""; \
	command -v chromium >/dev/null || pkgs=" chromium"; \
	fc-list :lang=zh 2>/dev/null | grep -q . || pkgs="$$pkgs fonts-wqy-microhei"; \
	if [ -z "$$pkgs" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends $$pkgs; \
	else \
		echo "not root or no apt-get: install$$pkgs yourself, or tests/test_browser.py is skipped" \
			"(and fails under CI=true)"; \
	fi

## lint: ruff check and format check of the package and tests
.PHONY: lint
lint: $(VENV)/.installed-dev
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m ruff format --check src tests benchmarks

## format: apply ruff's formatting and safe fixes
.PHONY: format
format: $(VENV)/.installed-dev
	$(PY) -m ruff check --fix src tests benchmarks
	$(PY) -m ruff format src tests benchmarks

## lab: open JupyterLab on the notebooks (LAB_ARGS="--no-browser --port 8890"; as root too)
.PHONY: lab
lab: setup data
	$(VENV)/bin/jupyter lab notebooks $$([ "$$(id -u)" = 0 ] && echo --allow-root) $(LAB_ARGS)

## bench: run the benchmarks and write benchmarks/RESULTS.md
.PHONY: bench
bench: $(VENV)/.installed-dev
	$(PY) benchmarks/run.py

## clean: remove generated reports and caches (keeps .venv and data)
.PHONY: clean
clean:
	find reports -mindepth 1 ! -name README.md -exec rm -rf {} +
	rm -rf .pytest_cache .ruff_cache data/.cache
	find . -name __pycache__ -not -path './.venv/*' -exec rm -rf {} +
