# The two commands of the README: `make run` and `make test`. Each builds .venv on first use.
# The first interpreter that really runs and is >= 3.11 (a pyenv shim may exist for a version
# that is not installed, so probing beats `command -v`).
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { echo $$p; break; }; \
	done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint format bench install clean example console

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python >= 3.11 with venv is required (none found on PATH)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/stockpilot serve --demo

# Parallel test workers: one per core (pytest-xdist). Tests sharing a module-scoped fixture stay
# on one worker (--dist loadgroup, see tests/conftest.py), handed out heaviest first in the
# order tests/conftest.py sorts them (--no-loadscope-reorder keeps that order); session caches
# (world templates, fitted forecasters) are built once under a file lock and read by every
# worker. TEST_WORKERS=0 runs the suite in one process.
TEST_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
# Native (OpenMP) threads per worker, and per service a test starts: with one worker per core,
# a second thread only spins against the other worker (a weighted sklearn fit in a test took
# 4.5 s of CPU (9 s wall) with the default threads and 0.2 s with one, at load ~10).
TEST_THREADS ?= 1

test: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	@# pytest exits 5 when it collected no tests: say so, and fail (a suite that ran nothing
	@# proves nothing). The slowest tests are listed, so a slow one is seen when it appears.
	@# Bytecode is cached even where the environment says not to (PYTHONDONTWRITEBYTECODE):
	@# each worker and each service the tests start as a process would otherwise compile the
	@# project, and pytest rewrite its plugins' ~600 modules, again (~3 s of CPU a process).
	@PYTHONDONTWRITEBYTECODE= OMP_NUM_THREADS=$(TEST_THREADS) $(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadgroup \
		--no-loadscope-reorder \
		--durations=20; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; \
	exit $$status

# A retailer that is not the demo world (examples/chengdu): CSV import into a fresh SQLite pool,
# forecaster fit, a signed rain alert on the wall clock, approval, WMS references printed.
example: $(STAMP)
	$(BIN)/stockpilot example examples/chengdu --db var/example/pool.sqlite

# The ops console (/console): rebuild its committed bundle api/console_dist from console/ (Node 20
# and npm; `make run` and CI need neither, they serve the committed bundle).
console:
	cd console && npm ci --no-audit --no-fund && npm run build

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python benchmarks/forecast.py --series 100000
	$(BIN)/python benchmarks/optimizer.py
	$(BIN)/python benchmarks/alert_latency.py
	$(BIN)/python benchmarks/api_load.py
	$(BIN)/python benchmarks/eval_suite.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
