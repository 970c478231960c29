# `make demo` and `make test` each do the whole set-up on a fresh machine:
# a virtual environment in .venv with relukit and every optional dependency.
# Both are idempotent: the install runs again only when pyproject.toml changes.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint format docs bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[all,test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/relukit demo --out relukit-demo

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

docs: $(STAMP)
	$(PY) docs/build.py

clean:
	rm -rf $(VENV) relukit-demo .pytest_cache .ruff_cache build *.egg-info src/*.egg-info
