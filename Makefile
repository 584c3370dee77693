# The documented entry points. Each target creates/uses the local virtual environment .venv,
# so on a fresh machine `make demo` and `make test` are the only commands a newcomer types.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXTRAS ?= dev,serve,notebooks,pm4py,spark,bench,docs
export RETENTIONEERING_NO_TRACK := 1
export PYTHONHASHSEED := 0

.PHONY: venv demo test test-long test-fast bench bench-scale lint format chromium redis clean sample docs

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

# Headless Chromium (Debian package) for the HTML report tests.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: install Debian's 'chromium' package (sudo apt-get install chromium)"; fi; }

# redis-server (Debian package) for the Redis state-store tests (tests start their own on a
# free 127.0.0.1 port with a temporary folder).
redis:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	  else echo "redis-server is missing: install Debian's 'redis-server' package (sudo apt-get install redis-server)"; fi; }

demo: venv
	$(BIN)/jm demo data/sample --out reports

# the suite in two processes (pytest-xdist; each test file on one worker, so a file's
# fixtures are built once), with the slowest tests listed; `make test TEST_WORKERS=0` runs it
# in one process. Tests marked `long` (quality runs of minutes on the largest real logs) are left
# out and run by `make test-long`, which `make bench` runs first.
TEST_WORKERS ?= 2
test: venv chromium redis
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile --durations=15 -m "not long"

test-long: venv
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist load -m long

test-fast: venv
	$(BIN)/python -m pytest -q -x -m "not slow"

bench: venv test-long
	$(BIN)/python -m benchmarks.run

# Out of core at 1M, 10M and 100M events (long: the 100M run takes tens of minutes).
bench-scale: venv
	$(BIN)/python -m benchmarks.run bench_scale

# The documentation site (docs/, mkdocs.yml) into site/, warnings as errors.
docs: venv
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

lint: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

format: venv
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

sample: venv
	$(BIN)/jm generate data/sample --customers 2000 --days 180 --random-state 7 --csv-rows 2000

clean:
	rm -rf $(VENV) build dist site *.egg-info .pytest_cache .mypy_cache .ruff_cache
