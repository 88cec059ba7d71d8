# Two entry points: `make demo` (tiny end-to-end X-STILTs run) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0

.PHONY: install demo test quicktest lint bench

install: $(VENV)/.installed

# torch is pinned (a CPU wheel here); fairseq comes from the ve-fairseq fork without its
# deps because its metadata asks for torchaudio (see docs/installation.md, "Why ve-fairseq").
$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q --no-deps ve-fairseq==0.12.3
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

demo: install
	$(BIN)/stilts-demo --out demo_out

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest -q

quicktest: install
	$(BIN)/python -m pytest -q -m "not slow"

# Every speed benchmark in turn on this machine (about 14 minutes on 2 idle cores; nothing else
# should run meanwhile), each recorded in benchmarks/results.json, then docs/performance.md
# written from that file.
BENCH_MODEL := .bench/model
RESULTS := --results benchmarks/results.json

bench: install
	$(BIN)/python -c "import accelerate" 2>/dev/null || $(BIN)/python -m pip install -q -e ".[bench]"
	test -f $(BENCH_MODEL)/model.pt || $(BIN)/stilts-tiny-model --out $(BENCH_MODEL) --updates 10 --quiet
	$(BIN)/python benchmarks/classification_speed.py --model $(BENCH_MODEL) $(RESULTS)
	$(BIN)/python benchmarks/classification_speed.py --bf16 --model $(BENCH_MODEL) $(RESULTS)
	$(BIN)/python benchmarks/prepare_speed.py --model $(BENCH_MODEL) $(RESULTS)
	$(BIN)/python benchmarks/qa_speed.py --model $(BENCH_MODEL) $(RESULTS)
	$(BIN)/python benchmarks/multitask_speed.py --model $(BENCH_MODEL) $(RESULTS)
	$(BIN)/python benchmarks/retrieval_speed.py --quick $(RESULTS)
	$(BIN)/python benchmarks/report_speed.py $(RESULTS)
	$(BIN)/python benchmarks/performance_page.py
