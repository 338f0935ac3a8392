# wfnet: every target sets itself up on a fresh machine (Python 3.11, offline but for PyPI).
# Dependency graph: venv -> results -> executed notebooks -> book.

SHELL := /bin/bash
PYTHON_BOOT ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_PINS := torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.wfnet-installed

.PHONY: venv test test-fast book paper vendor experiments interactive-model onnx-page bench clean-book clean-interactive FORCE

venv: $(STAMP)

# pinned torch first (pip takes it from local disk here), then the package with its extras
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check $(TORCH_PINS)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev,book,cluster]'
	touch $@

test: venv
	$(PY) -m pytest -q -m "slow or not slow" --durations=15

test-fast: venv
	$(PY) -m pytest -q

# --- the book: results -> executed notebooks -> _build/html ---------------------------------------
# `make book` runs the experiment notebooks (papermill) for one configuration, reusing results that
# exist, then builds the book offline. Each step reruns only when its inputs change.
PRESET ?= smoke
DATASET ?= mnist-5k
BACKBONE ?= resnet18
DEVICE ?= auto
VENDOR := book/_assets_vendor
EXEC := notebooks/_executed
EXPERIMENTS := 01_train_original 02_untrain_wfnet 03_baselines
EXECUTED := $(EXPERIMENTS:%=$(EXEC)/%_pm.ipynb)
PARAMS := $(EXEC)/params.txt
RES := results/$(PRESET)/$(DATASET)/$(BACKBONE)
# the package's code: a change reruns the notebooks, which reuse every result whose key still
# matches and recompute the others (a changed default changes the key)
WFNET_SRC := $(shell find wfnet -name '*.py')
BOOK_STAMP := _build/html/.built
BOOK_INPUTS := _config.yml _toc.yml $(wildcard book/*.md notebooks/*.py) $(wildcard wfnet/report/*.py)

book: $(BOOK_STAMP)

vendor: $(VENDOR)/.stamp

# MathJax, the widget manager, require.js (npm) and plotly.min.js (pip): served by the book itself
$(VENDOR)/.stamp: book/vendor.sh $(STAMP)
	book/vendor.sh $(VENDOR) $(PY)
	touch $@

# the notebooks' parameters, rewritten only when they change (a new PRESET re-executes them)
$(PARAMS): FORCE
	@mkdir -p $(EXEC)
	@echo "$(DATASET) $(BACKBONE) $(PRESET) $(DEVICE)" | cmp -s - $@ || echo "$(DATASET) $(BACKBONE) $(PRESET) $(DEVICE)" > $@

# an experiment notebook, executed by papermill; it also reruns when its result file is missing
$(EXEC)/%_pm.ipynb: notebooks/%.py $(PARAMS) $(STAMP) $(WFNET_SRC)
	@mkdir -p $(EXEC)/.part
	$(VENV)/bin/jupytext --to ipynb -o - $< | $(VENV)/bin/papermill - $(EXEC)/.part/$*_pm.ipynb \
		--cwd notebooks -p dataset $(DATASET) -p backbone $(BACKBONE) -p preset $(PRESET) \
		-p device $(DEVICE) -p progress False --log-output --no-progress-bar
	mv $(EXEC)/.part/$*_pm.ipynb $@

# the single-class baselines' hyper-parameter search (a validation split of the training set, its
# own original), shown on the ablation page: it runs before the baselines, which then run with what
# it chose for this dataset x backbone (wfnet.experiments.baseline_search.resolve_preset)
SEARCH := $(RES)/baseline_search.json
$(SEARCH): $(STAMP) wfnet/experiments/baseline_search.py wfnet/methods/baselines.py wfnet/methods/ssd.py \
	wfnet/methods/salun.py wfnet/experiments/presets.py wfnet/train.py
	$(VENV)/bin/wfnet search-baselines --dataset $(DATASET) --backbone $(BACKBONE) --preset $(PRESET) \
		--device $(DEVICE) --out results --no-progress

$(EXEC)/01_train_original_pm.ipynb: $(RES)/original.json
$(EXEC)/02_untrain_wfnet_pm.ipynb: $(EXEC)/01_train_original_pm.ipynb $(RES)/wfnet.json
$(EXEC)/03_baselines_pm.ipynb: $(EXEC)/02_untrain_wfnet_pm.ipynb $(SEARCH) $(RES)/retrained.json \
	$(RES)/random_labels.json $(RES)/negative_gradients.json
# result files are written by the notebooks above; a missing one makes them run again
$(RES)/%.json: ;

# more seeds of the book's configuration (Tables 1 and 2 then show mean ± std over them, with their
# number): BOOK_SEEDS lists every seed (0 is the notebooks' own), BOOK_SEED_METHODS what the others
# run. Default: seeds 0 1 2 for Table 1's original and WF-Net rows and Table 2 (about a minute
# more on 2 cores); BOOK_SEED_METHODS="original wfnet retrained random_labels negative_gradients"
# gives every row of Table 1 three seeds, BOOK_SEEDS=0 none.
# (Not SEEDS: that is `make paper`'s, whose `make book` would inherit it.)
BOOK_SEEDS ?= 0 1 2
BOOK_SEED_METHODS ?= original wfnet
EXTRA_SEEDS := $(filter-out 0,$(BOOK_SEEDS))
SEEDS_PARAMS := $(EXEC)/seeds.txt
SEEDS_STAMP := $(EXEC)/seeds.stamp

$(SEEDS_PARAMS): FORCE
	@mkdir -p $(EXEC)
	@echo "$(EXTRA_SEEDS) / $(BOOK_SEED_METHODS)" | cmp -s - $@ || echo "$(EXTRA_SEEDS) / $(BOOK_SEED_METHODS)" > $@

$(SEEDS_STAMP): $(SEEDS_PARAMS) $(EXEC)/03_baselines_pm.ipynb $(WFNET_SRC)
	$(if $(EXTRA_SEEDS),$(VENV)/bin/wfnet reproduce --dataset $(DATASET) --backbone $(BACKBONE) --preset $(PRESET) \
		--device $(DEVICE) --seeds $(EXTRA_SEEDS) --methods $(BOOK_SEED_METHODS) --no-progress)
	touch $@

# beyond the paper: class sets, SalUn and SSD, and the scorecard of every method (MIA, gap to the
# retrained model), from the same cached checkpoints
BEYOND_STAMP := $(EXEC)/beyond.stamp
$(BEYOND_STAMP): $(EXEC)/03_baselines_pm.ipynb $(SEARCH) $(WFNET_SRC)
	$(VENV)/bin/wfnet beyond --dataset $(DATASET) --backbone $(BACKBONE) --preset $(PRESET) --device $(DEVICE) \
		--no-progress
	touch $@

# the interactive page's model: wider and longer-untrained than the smoke run, so that forgetting
# one class visibly keeps the others (every class: Acc_f <= 2, retain >= 90 on mnist-5k). Trained
# once from the command line, with the package's default untraining configuration; retrained only
# when these settings change (`make clean-interactive` forces it).
IA_DATASET ?= mnist-5k
IA_BACKBONE ?= resnet18
IA_WIDTH ?= 0.5
IA_TRAIN_EPOCHS ?= 3
IA_UNTRAIN_EPOCHS ?= 6
# set-aware untraining (issue 30): the share of samples that see a random class set; the value of
# the ablation (results/ablation, variants sets_p*) that forgets the most pairs while keeping the
# single-class scores within 1 point (the beyond chapter shows the ablation)
IA_SET_PROB ?= 0.5
# evaluated at the precision the page's widgets compute in ("auto": bf16 on a CPU with AMX, else
# fp32), so that the page shows these numbers; the sets (every pair, 100 triples, product and min)
# take 290 forward passes of the test set: 401 s in fp32 here, 167 s in bf16 (README, "The book")
IA_EVAL_PRECISION := auto
IA := runs/book-interactive/$(IA_DATASET)/$(IA_BACKBONE)
IA_PARAMS := $(IA)/params.txt
IA_SETTINGS := $(IA_WIDTH) $(IA_TRAIN_EPOCHS) $(IA_UNTRAIN_EPOCHS) $(IA_SET_PROB) $(DEVICE) $(IA_EVAL_PRECISION)
IA_EVAL := $(IA)/evaluate/metrics.json

$(IA_PARAMS): FORCE
	@mkdir -p $(IA)
	@echo "$(IA_SETTINGS)" | cmp -s - $@ || echo "$(IA_SETTINGS)" > $@

$(IA)/original/model.pt: $(IA_PARAMS) | $(STAMP)
	rm -rf $(IA)/original $(IA)/.original.part
	$(VENV)/bin/wfnet train --dataset $(IA_DATASET) --backbone $(IA_BACKBONE) --width $(IA_WIDTH) \
		--epochs $(IA_TRAIN_EPOCHS) --device $(DEVICE) --out $(IA)/.original.part --no-progress
	mv $(IA)/.original.part $(IA)/original

$(IA)/wf/wf.pt: $(IA)/original/model.pt
	rm -rf $(IA)/wf $(IA)/.wf.part
	$(VENV)/bin/wfnet untrain --checkpoint $(IA)/original/model.pt --epochs $(IA_UNTRAIN_EPOCHS) \
		--set set_prob=$(IA_SET_PROB) --device $(DEVICE) --out $(IA)/.wf.part --no-progress
	mv $(IA)/.wf.part $(IA)/wf

$(IA_EVAL): $(IA)/wf/wf.pt
	rm -rf $(IA)/evaluate $(IA)/.evaluate.part
	$(VENV)/bin/wfnet evaluate --checkpoint $(IA)/wf/wf.pt --device $(DEVICE) --precision $(IA_EVAL_PRECISION) \
		--sets pairs --out $(IA)/.evaluate.part --no-progress
	mv $(IA)/.evaluate.part $(IA)/evaluate

interactive-model: $(IA_EVAL)

# the draw-and-forget page: the interactive model exported to ONNX (forget mask as an input), its
# test vectors and the Python check (onnxruntime vs PyTorch <= 1e-4), served as _static/onnx/
ONNX := book/_assets_onnx
ONNX_VECTORS := $(ONNX)/onnx/vectors.json
$(ONNX_VECTORS): $(IA)/wf/wf.pt $(IA_EVAL) wfnet/report/onnx_page.py wfnet/report/sets.py
	rm -rf $(ONNX).part
	$(PY) -m wfnet.report.onnx_page --checkpoint $(IA)/wf/wf.pt --sets $(IA)/evaluate/sets.json --out $(ONNX).part/onnx
	rm -rf $(ONNX) && mv $(ONNX).part $(ONNX)

onnx-page: $(ONNX_VECTORS)

experiments: $(EXECUTED) $(BEYOND_STAMP) $(SEARCH) $(SEEDS_STAMP) $(IA_EVAL) $(ONNX_VECTORS)

# every result file counts (e.g. one written by `papermill ... -p backbone vgg16` or `wfnet reproduce`)
$(BOOK_STAMP): $(EXECUTED) $(BEYOND_STAMP) $(SEARCH) $(SEEDS_STAMP) $(IA_EVAL) $(ONNX_VECTORS) $(BOOK_INPUTS) \
	$(VENDOR)/.stamp \
	$(shell find results -type f 2>/dev/null)
	$(VENV)/bin/jupyter-book build --all -W -n --keep-going .
	touch $@

# --- paper scale on this machine's GPU(s): every unfinished piece of `wfnet plan`, then the book ------
# The estimate first, then a confirmation (YES=1 skips it); a machine without a GPU is refused
# unless ALLOW_SLOW=1. SEEDS="0 1 2" adds the optional seeds (mean +- std); GPUS=0,1 picks GPUs.
SEEDS ?= 0
PAPER_FLAGS = --preset paper --executor local --seeds $(SEEDS) $(if $(GPUS),--gpus $(GPUS)) \
	$(if $(filter 1,$(ALLOW_SLOW)),--allow-slow)

paper: venv
	$(VENV)/bin/wfnet run-plan $(PAPER_FLAGS) --dry-run
	@if [ "$(YES)" != 1 ]; then read -r -p "Run these pieces now? [y/N] " ok && [ "$$ok" = y ] || [ "$$ok" = Y ] \
		|| { echo "not started (YES=1 skips this question)"; exit 1; }; fi
	$(VENV)/bin/wfnet run-plan $(PAPER_FLAGS)
	$(MAKE) book

clean-book:
	rm -rf _build $(EXEC) $(VENDOR) $(ONNX)

clean-interactive:
	rm -rf runs/book-interactive

FORCE:

bench: venv
	$(PY) benchmarks/backbone_speed.py
	$(PY) benchmarks/wf_overhead.py
