# `make demo` and `make test` work on a fresh machine: each creates .venv and installs what it needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEMO_OUT ?= out/demo

.PHONY: demo test lint bench clean sandbox-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

demo: $(STAMP)
	rm -rf $(DEMO_OUT)
	$(BIN)/corpusmill curate --config configs/curate.yaml --output $(DEMO_OUT)

test: $(STAMP) lint sandbox-deps
	$(BIN)/pytest

# The code sandbox (synth/sandbox.py) uses bubblewrap when it is installed; as root on Debian
# this installs it, elsewhere the sandbox falls back to `unshare` and says so.
sandbox-deps:
	@command -v bwrap >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { apt-get install -y -q bubblewrap >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && \
	    apt-get install -y -q bubblewrap >/dev/null 2>&1; }; }; } || echo "note: bubblewrap not installed"

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/pip install --quiet -e ".[test,bench]"
	$(BIN)/python bench/curate.py

clean:
	rm -rf $(VENV) out
