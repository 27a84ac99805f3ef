# The two commands the README promises. Both create .venv when missing,
# install echoless into it (CPU-only torch), and are quick when already set up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.echoless-installed
TORCH := torch==2.13.0
# This project's machines resolve the pinned torch to a local CPU-only wheel. Elsewhere
# PyPI serves the CUDA build (several GB): there, pass the CPU index, e.g.
#   make test TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
TORCH_PIP_ARGS ?=

.PHONY: demo test browser portaudio

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_PIP_ARGS) $(TORCH)
	$(PY) -m pip install -q -e ".[torch,dev]"
	touch $(STAMP)

demo: $(STAMP) portaudio
	$(PY) -m echoless demo --out out

# The report test opens report.html in headless Chromium. Install it when it is
# missing and we may (root with apt-get); otherwise that one test skips, saying why.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1; } || true

# `echoless live` plays and records through sounddevice, which needs the PortAudio library.
# Install it when it is missing and we may (root with apt-get); otherwise the live tests that
# load the real library skip, saying why (the rest fake it).
portaudio:
	@/sbin/ldconfig -p 2>/dev/null | grep -q libportaudio.so.2 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libportaudio2) >/dev/null 2>&1; } || true

test: $(STAMP) browser portaudio
	$(PY) -m pytest -q
