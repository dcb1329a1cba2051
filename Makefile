# Every target sets itself up from nothing: a fresh machine needs only Python 3.11.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: demo test lint lab samples notebooks fuzz guarantees bench app clean

# editable_mode=compat: a plain path entry, not setuptools' import finder (20 ms less on every start-up)
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]" --config-settings editable_mode=compat
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

demo: $(STAMP)  ## the main job on the headline sample
	-bash .ci/system-deps graphviz  # the diagram's dot; without it the demo still runs and says so
	$(BIN)/python -m toolkit demo --out out/demo

lint: $(STAMP)  ## ruff (style, complexity) and mypy (strict types on toolkit/), both configured in pyproject.toml
	$(BIN)/ruff check toolkit tests
	$(BIN)/mypy

test: $(STAMP)  ## the whole test suite
	bash .ci/system-deps chromium graphviz
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

fuzz: $(STAMP)  ## a long fuzzing run (FUZZ_EXAMPLES mutated files, default 5000)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-5000} $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_fuzz.py

guarantees: $(STAMP)  ## the robustness suite (crafted files included) with a longer fuzz; prints the README's Guarantees figures
	bash .ci/system-deps
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-2000} $(BIN)/python -m pytest -q -n 2 tests/test_hostile_inputs.py \
		tests/test_fuzz.py tests/test_faults.py tests/test_hostile_content.py \
		tests/test_hostile_files.py tests/test_hostile_generator.py tests/test_guards.py

bench: $(STAMP)  ## benchmarks at 10k, 100k and 1M rows -> BENCHMARKS.md
	bash .ci/system-deps
	$(BIN)/python -m toolkit bench --out BENCHMARKS.md

lab: $(STAMP)  ## JupyterLab on notebooks/
	$(BIN)/jupyter lab --notebook-dir=notebooks $$([ "$$(id -u)" = 0 ] && echo --allow-root)

notebooks: $(STAMP)  ## execute every notebook against the samples, write HTML to out/notebooks
	-bash .ci/system-deps graphviz
	$(BIN)/python -m toolkit notebooks --out out/notebooks

app: $(STAMP)  ## the triage web app (Voila) on http://127.0.0.1:8866/
	$(BIN)/python -m toolkit app --port 8866

samples: $(STAMP)  ## rebuild sample_dbs/ (deterministic)
	$(BIN)/python -m toolkit samples --out sample_dbs

clean:
	rm -rf out .pytest_cache
