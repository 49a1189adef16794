# Two set-up commands (README.md): `make demo` and `make test`. Both create .venv when needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ktpledger demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports  # the layer contracts of pyproject.toml ([tool.importlinter])

typecheck: $(STAMP)
	$(BIN)/mypy

# One pytest worker per core (pytest-xdist); a file's tests stay on one worker (its fixtures are
# made once). TEST_WORKERS=0 runs them in this process. The 25 slowest tests are listed at the
# end: the suite should stay near 10 minutes, and this says where its time goes.
TEST_WORKERS ?= auto

unit: $(STAMP)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --durations=25

test: lint typecheck unit

# Every benchmark briefly (a few minutes), one table of figures, floors, ratios and targets
# (bench/run.py). PostgreSQL and Redis on 127.0.0.1 where a benchmark needs them; exits 0.
bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
