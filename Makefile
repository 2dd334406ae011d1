# `make test` and `make demo` work on a fresh clone: they build .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo bench install clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# A CPU build of torch, named exactly: a plain `torch` would pull a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	# node-postgres and node-q, clients of the pg port and the tickerplant written by others
	# (tests/test_pgclients.py, tests/test_stream_server.py)
	if command -v npm >/dev/null; then npm install --silent --prefix $(VENV)/node pg@8 node-q@2 \
		|| echo "node-postgres and node-q were not installed: their tests skip"; fi
	touch $(STAMP)

install: $(STAMP)

# --durations: the slowest tests listed, for keeping the whole run near 30 minutes
test: $(STAMP)
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -q --durations=25

demo: $(STAMP)
	$(BIN)/indb --db ./demo_db demo

bench: $(STAMP)
	$(BIN)/indb bench

clean:
	rm -rf $(VENV) build *.egg-info
