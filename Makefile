# Two entry points (README.md): `make demo` and `make test`. Both build .venv from requirements.txt once;
# `make test` adds the [beam] extra (requirements-beam.txt), which `relive prepare --runner=beam` needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml | cksum | cut -d' ' -f1)
BEAM_STAMP := $(VENV)/.installed-beam-$(shell cat requirements-beam.txt requirements.txt bench/requirements.txt | cksum | cut -d' ' -f1)
DEMO := runs/demo
# The video WGAN shipped with the package (python -m relive_tf.training.shipped, docs/results.md).
SHIPPED := relive_tf/assets/vgan_tiny

.PHONY: demo test bench clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	rm -f $(VENV)/.installed-[0-9]*
	touch $(STAMP)

# The [beam] extra, and PyTorch for the benchmarks' twin (bench/requirements.txt), which the tests
# check too: pip finds the CPU wheel through this machine's pip.conf (find-links).
$(BEAM_STAMP): $(STAMP) requirements-beam.txt bench/requirements.txt
	$(BIN)/python -m pip install -q -r requirements-beam.txt -r bench/requirements.txt
	rm -f $(VENV)/.installed-beam-*
	touch $(BEAM_STAMP)

# Trains the tiny video WGAN on the built-in moving digits (README.md says how long), writes sample
# GIFs of it and of the shipped model (the same recipe trained longer), measures the run for the
# gallery (relive evaluate), writes a gallery page of both, and prints where they and the
# TensorBoard logs are.
demo: $(STAMP)
	$(BIN)/relive train --config=configs/vgan.py:tiny --workdir=$(DEMO)
	$(BIN)/relive generate --workdir=$(DEMO) --num=8 --out=$(DEMO)/samples
	$(BIN)/relive generate --workdir=$(SHIPPED) --num=8 --out=$(DEMO)/shipped_samples
	$(BIN)/relive evaluate --workdir=$(DEMO)
	$(BIN)/relive gallery --workdir=$(DEMO) --workdir=$(SHIPPED) --out=$(DEMO)/site
	@echo
	@echo "sample GIFs:      $(DEMO)/samples/"
	@echo "shipped model's:  $(DEMO)/shipped_samples/"
	@echo "gallery page:     $(DEMO)/site/index.html"
	@echo "TensorBoard logs: $(DEMO)/tb   ($(BIN)/tensorboard --logdir $(DEMO)/tb)"

# Lint and format checks, then the whole test suite in two processes (pytest-xdist), each taking
# whole test files, so a file's session fixtures are built once; the gallery's browser test needs
# Debian's Chromium, installed here once.
test: $(BEAM_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	bash .ci/install_browser.sh
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=15

bench: $(STAMP)
	$(BIN)/python bench/train_step.py

clean:
	rm -rf runs .pytest_cache
