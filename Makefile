# phdl — one command per job. From a fresh clone: `make book` (or `make test`).
# Everything runs inside .venv, created on first use; later runs reuse it (stamp file).

PYTHON ?= python3
PROFILE ?= quick
TORCH_VERSION := 2.13.0
# Extra pip arguments for the torch install, e.g. an --index-url serving CPU-only wheels.
TORCH_PIP_ARGS ?=

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv test lint book book-tiny book-quick book-full bench clean lab mutants publish gh-pages

venv: $(STAMP)

# torch goes in first, on its own, so that the package install never picks another build of it.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install "torch==$(TORCH_VERSION)" $(TORCH_PIP_ARGS)
	$(PY) -m pip install -e '.[dev]'
	@touch $(STAMP)

# pytest exits non-zero on failures and with 5 when it collects no tests; both fail here.
test: venv
	$(PY) -m pytest -q

# ruff check and ruff format --check over the package, tests, benchmarks, data scripts and the
# notebooks (notebooks/ruff.toml: 88 characters a line, so code fits the book's page).
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

book: venv
	$(VENV)/bin/phdl book --profile $(PROFILE)

book-tiny:
	$(MAKE) book PROFILE=tiny

book-quick:
	$(MAKE) book PROFILE=quick

book-full:
	$(MAKE) book PROFILE=full

# The online book: build it (as `make book`), then put _build/html on the gh-pages branch with
# ghp-import (-n: a .nojekyll file, so GitHub Pages serves _static/; -f: force the branch). The
# push is optional: `make publish PUSH=1` pushes gh-pages to origin (-p). `make gh-pages` does
# only the import, of HTML (default _build/html) into the repository git finds (GIT_DIR).
HTML ?= _build/html
publish: book
	$(MAKE) gh-pages

gh-pages:
	$(VENV)/bin/ghp-import -n -f $(if $(PUSH),-p) -m "Book ($(PROFILE) profile)" $(HTML)

# JupyterLab on the chapter notebooks, with this environment's kernel (for classroom use).
# As root (containers), Jupyter refuses to start without --allow-root.
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root)
lab: venv
	$(VENV)/bin/jupyter lab $(LAB_ARGS) notebooks/

# Mutation testing (mutmut 3), each science module against its own tests; not in `make test`.
# `make mutants MODULE=labels` for one (list: python benchmarks/mutants.py --list).
MODULE ?=
mutants: venv
	OMP_NUM_THREADS=1 nice -n 10 $(PY) benchmarks/mutants.py $(MODULE)

bench: venv
	@set -e; found=0; for f in benchmarks/*.py; do \
		[ -e "$$f" ] || continue; found=1; \
		echo "== $$f"; $(PY) "$$f"; \
	done; [ $$found = 1 ] || echo "no benchmark scripts in benchmarks/"

clean:
	rm -rf _build runs benchmarks/out mutants
	rm -f book/[0-9][0-9]_*.ipynb book/.*.part.ipynb
