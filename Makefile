# Two commands on a fresh machine: `make demo` (the main job) and `make test` (the tests).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: test test-fast lint venv demo clean builtin-model ablation

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch==2.13.0 is the CPU wheel on these machines' disk; elsewhere pip fetches it from PyPI.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test,demo]'
	touch $@

venv: $(VENV)/.installed

# Lint (ruff) and type check (mypy; settings in pyproject.toml), then everything that runs on a CPU,
# slow-marked tests included: what CI runs. `make test-fast` skips the slow tests and the checks.
test: lint
	$(BIN)/python -m pytest -q -n 2 -m "not gpu"

lint: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

test-fast: venv
	$(BIN)/python -m pytest -q -n 2 -m "not gpu and not slow"

# The main job: render a silent example video with our own renderer, then generate its sound with the
# built-in model (shipped in the package; no download).
demo: venv
	mkdir -p demo
	$(BIN)/openfoley data example --out demo/example.mp4 --force
	$(BIN)/openfoley generate demo/example.mp4 -o demo/example_foley.mp4 --plot --force
	@echo
	@echo "Done. Play it with:  ffplay demo/example_foley.mp4   (or open it in any video player)"
	@echo "Sound alone: demo/example_foley.wav   Plot: demo/example_foley.png   Ground truth: demo/example.json"

# Rebuild the built-in model from the Debian sound packages (resumable: rerun to continue; INIT=src/openfoley/assets/model-small on a new machine).
builtin-model: venv
	scripts/build-builtin-model.sh

ablation: venv  # Tables 3-5 of docs/results.md (~85 min on 2 cores; needs `make builtin-model`'s data)
	scripts/run-ablation.sh 2 200 64

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache
