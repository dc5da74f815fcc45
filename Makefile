# The two commands of the README: `make demo` (the main job) and `make test` (every test); `make nbs` re-executes
# the notebooks and saves their outputs, `make docs` builds the docs site into _docs/ (tools/docs.py says how).
# All set up .venv first; setup is skipped while .venv matches settings.ini and setup.py.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat settings.ini setup.py | sha256sum | cut -c1-16)
DATA   ?=
DEMO_ARGS ?=
NBS ?=
export PYTHONUNBUFFERED := 1
# OpenMP waiters sleep instead of spinning: see cxrvit/__init__.py and bench/omp_wait.py
export OMP_WAIT_POLICY ?= PASSIVE
# huge pages for large CPU tensors: see cxrvit/__init__.py
export THP_MEM_ALLOC_ENABLE ?= 1
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup demo test test-slow nbs docs lab bench clean-runs

setup: $(STAMP)

$(STAMP):
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --no-input -q -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name cxrvit --display-name "cxrvit (.venv)" >/dev/null
	@rm -f $(VENV)/.installed-*; touch $@
	@echo "setup: $(VENV) is ready (kernel 'cxrvit' registered)"

demo: setup
	$(PY) -m cxrvit.cli demo $(if $(DATA),--data-root $(DATA)) $(DEMO_ARGS)

test: setup
	$(PY) tools/test_all.py

test-slow: setup
	$(PY) tools/test_all.py --flags "slow"

nbs: setup
	$(PY) tools/run_nbs.py $(NBS)

docs: setup
	$(PY) tools/docs.py

lab: setup
	$(VENV)/bin/jupyter lab nbs

bench: setup
	$(PY) bench/data.py; $(PY) bench/metrics.py; $(PY) bench/train.py

clean-runs:
	rm -rf runs/
