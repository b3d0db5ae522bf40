# revsim: two commands on a fresh machine with only python3: `make demo`, `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SCENARIO ?= scenarios/compare_motions.yaml
BENCH_SEEDS ?= 200
# test processes (pytest-xdist); each test file runs whole on one of them (its module
# fixtures built once, the fault tests one after another)
TEST_WORKERS ?= 2

.PHONY: demo test bench lint install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/revsim run $(SCENARIO) --seeds 500

test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py --seeds $(BENCH_SEEDS) $(if $(BENCH_SAVE),--save,)
	$(BIN)/python benchmarks/fit.py $(if $(BENCH_SAVE),--save,)
	$(if $(BENCH_PLAN),$(BIN)/python benchmarks/plan.py $(if $(BENCH_SAVE),--save,),)

lint: $(STAMP)
	$(BIN)/ruff check sim tests benchmarks
	$(BIN)/mypy sim

clean:
	rm -rf $(VENV) build *.egg-info
