# The two commands the README promises. Both create .venv when missing,
# install echoless into it (CPU-only torch), and are quick when already set up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.echoless-installed
TORCH := torch==2.13.0

.PHONY: demo test

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e ".[torch,dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m echoless demo --out out

test: $(STAMP)
	$(PY) -m pytest -q
