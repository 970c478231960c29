# `make demo` and `make test` each do the whole set-up on a fresh machine: a virtual
# environment in .venv with relukit, at the exact versions of constraints.txt
# (pyproject.toml itself declares ranges). `make demo` installs only what the demo uses
# (the `demo` extra: torch, scikit-learn, SciPy, matplotlib, rich); `make test` adds the
# rest (JAX, Dask, Triton, the test and docs tools).
# Both are idempotent: each install runs again only when pyproject.toml or
# constraints.txt changes.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
DEMO_STAMP := $(VENV)/.installed-demo
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck format docs measure dist wheel-check bench clean

$(DEMO_STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[demo]'
	touch $(DEMO_STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[all,test,docs]'
	touch $(STAMP)

demo: $(DEMO_STAMP)
	$(VENV)/bin/relukit demo --out relukit-demo

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m pytest -n auto

lint: $(STAMP)
	$(PY) -m ruff check .

typecheck: $(STAMP)
	$(PY) -m mypy

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

# regenerate the pages and figures that come from the code, then build the site
# into site/ with warnings as errors
docs: $(STAMP)
	MPLBACKEND=Agg $(PY) docs/build.py
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

# measure again every accuracy and speed figure and every experiment result that the
# README and docs show (docs/measured/), then rewrite them; about 25 minutes on 2 cores:
# run it on an otherwise idle machine
measure: $(STAMP)
	MPLBACKEND=Agg $(PY) tools/measure.py

# a wheel and an sdist in dist/
dist: $(STAMP)
	rm -rf dist
	$(PY) -m build --no-isolation --outdir dist .

# install the wheel into a clean virtual environment and run the command from it
wheel-check: dist
	bash .ci/wheel-check dist

clean:
	rm -rf $(VENV) relukit-demo .pytest_cache .ruff_cache .mypy_cache build dist site *.egg-info src/*.egg-info
