# make demo: train the book's chapter-10 network (the package alone); make test: run the test suite.
# make notebooks: run every notebook of notebooks/ on the CPU, small.
# make docs: build the documentation site into site/ (strict); make dist: build the sdist and wheel
# into dist/, check them with twine, and run chapter 10 from the wheel in a fresh virtual environment.
# All create .venv with the first Python >= 3.10 they find (or PYTHON=...) and install into it.

PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11 python3.10; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null \
	&& { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
# the package alone (make demo), and with the test extra (make test, which brings torch and CuPy)
BASE_STAMP := $(VENV)/.installed-base
STAMP := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.installed-docs
DIST_STAMP := $(VENV)/.installed-dist
NOTEBOOKS_STAMP := $(VENV)/.installed-notebooks
WHEEL_DIR := wheels
# packages a GPU machine without network needs beyond CuPy, NumPy and pytest, as wheels for its Python
OFFLINE_WHEELS := array-api-compat array-api-strict nnfs hypothesis sortedcontainers tqdm
GPU_PYTHON_VERSION ?= 3.12
GPU_PLATFORM ?= manylinux2014_x86_64

.PHONY: demo test notebooks docs dist bench bench-distributed wheels clean

$(BASE_STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: no Python >= 3.10 found; install one or run make PYTHON=/path/to/python3.x" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(BASE_STAMP)

$(STAMP): $(BASE_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(BASE_STAMP)
	$(BIN)/python examples/ch10_sgd.py

test: $(STAMP)
	$(BIN)/python -m pytest

# the tools of the extras `notebooks`, `docs` and `dist`, installed beside the test ones
$(NOTEBOOKS_STAMP) $(DOCS_STAMP) $(DIST_STAMP): $(VENV)/.installed-%: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[$*]'
	touch $@

# every notebook, top to bottom in a Jupyter kernel, in the small size (NNFS_GPU_NOTEBOOK_SIZE=ci),
# cells tagged gpu left out (and named) without a GPU; fails on any error, and on a stored output
notebooks: $(NOTEBOOKS_STAMP)
	$(BIN)/python scripts/notebooks.py --check
	$(BIN)/python scripts/run_notebooks.py

# NO_MKDOCS_2_WARNING: Material's banner about MkDocs 2 (the docs extra pins mkdocs<2)
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict --site-dir site

dist: $(DIST_STAMP)
	rm -rf dist
	$(BIN)/python -m build --quiet --outdir dist .
	$(BIN)/python -m twine check --strict dist/*
	$(BIN)/python scripts/check_wheel.py dist

# the benchmark suite (not part of the tests); make bench BENCH_ARGS=--quick for a 2-minute run
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

bench-distributed: $(STAMP)
	$(BIN)/python benchmarks/distributed.py $(BENCH_ARGS)

wheels:
	@test -n "$(PYTHON)" || { echo "error: no Python >= 3.10 found" >&2; exit 1; }
	$(PYTHON) -m pip download --quiet --no-deps --only-binary=:all: --implementation cp \
		--python-version $(GPU_PYTHON_VERSION) --platform $(GPU_PLATFORM) --dest $(WHEEL_DIR) $(OFFLINE_WHEELS)

clean:
	rm -rf $(VENV) $(WHEEL_DIR) build dist site .cache *.egg-info .pytest_cache
