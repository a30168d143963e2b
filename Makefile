# evict: the two commands of the quickstart are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format bench bench-full fuzz soak system-deps clean catalog

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: install evict and run the main job on embedded defaults
demo: $(STAMP)
	$(BIN)/evict demo

## system-deps: Debian packages the tests and benchmarks use (needs root; skipped otherwise)
system-deps:
	bash scripts/system-deps.sh

## test: the whole test suite (SQLite always; PostgreSQL when EVICT_TEST_DATABASE_URL is set)
test: $(STAMP) system-deps
	$(BIN)/python -m pytest $(if $(T),$(T),tests) $(if $(TESTS),-k "$(TESTS)") -q

## lint: ruff and mypy
lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

## fuzz: every parser under atheris, FUZZ_SECONDS each (default 60; FUZZ_JOBS at a time,
## default 1; FUZZ_TARGETS to pick, e.g. "reg hive"); crashes in fuzz/crashes/<target>/,
## logs and fuzz/logs/summary.json (see docs/security.md)
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 1
fuzz: $(STAMP) $(VENV)/.fuzz-installed
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) $(BIN)/python fuzz/run.py $(FUZZ_TARGETS)

$(VENV)/.fuzz-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[fuzz]'
	touch $@

## bench: benchmarks at reduced size (minutes); results under bench/results/
bench: $(STAMP) system-deps
	$(BIN)/python bench/run.py

## bench-full: benchmarks at full size (a fleet per backend grown to 1,000,000 hosts, PostgreSQL then SQLite; ~4-5 hours)
bench-full: $(STAMP) system-deps
	$(BIN)/python bench/run.py --full

## soak: the long crash and soak tests on loopback, SQLite and PostgreSQL if
## EVICT_TEST_DATABASE_URL is set (100 SIGKILLs per backend; SOAK_SECONDS of load, default 300;
## figures printed as "crash-test:" and "soak:" lines; see docs/security.md)
SOAK_SECONDS ?= 300
soak: $(STAMP)
	EVICT_SOAK=1 EVICT_SOAK_SECONDS=$(SOAK_SECONDS) $(BIN)/python -m pytest \
		tests/security/test_crash.py tests/security/test_soak.py -q -s --timeout=0

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

## catalog: regenerate the catalog rules from the pinned registries (src/evict/catalog/registries)
## into src/evict/catalog/data/products/generated/; commit the result (a test checks it is fresh)
catalog: $(STAMP)
	$(BIN)/python scripts/make_catalog.py
