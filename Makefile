# wfnet: every target sets itself up on a fresh machine (Python 3.11, offline but for PyPI).
# Dependency graph: venv -> results -> executed notebooks -> book.

SHELL := /bin/bash
PYTHON_BOOT ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_PINS := torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.wfnet-installed

.PHONY: venv test test-fast book bench clean-book

venv: $(STAMP)

# pinned torch first (pip takes it from local disk here), then the package with its extras
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check $(TORCH_PINS)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev,book]'
	touch $@

test: venv
	$(PY) -m pytest -q -m "slow or not slow"

test-fast: venv
	$(PY) -m pytest -q

book: venv
	$(VENV)/bin/wfnet train --dataset mnist-5k --backbone resnet18 --width 0.25 --epochs 1 \
		--device auto --out runs/book/mnist-5k/resnet18 --no-progress

bench: venv
	$(PY) benchmarks/backbone_speed.py
	$(PY) benchmarks/wf_overhead.py
