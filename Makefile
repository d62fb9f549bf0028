# The two set-up commands of the README: `make demo` and `make test`.
# Each creates .venv when missing and installs the pinned requirements, then the package (editable).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo_output

.PHONY: demo test lint format clean install monailabel-check test-monailabel

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m custom_networks.data synth --out $(DEMO_DIR)/dataset --subjects 3 --domain source --seed 0 --overwrite
	$(PY) -m custom_networks.data preview --dataset $(DEMO_DIR)/dataset --out $(DEMO_DIR)/preview.png
	$(PY) -m custom_networks.demo --out $(DEMO_DIR)
	@echo "Generated dataset: $(DEMO_DIR)/dataset (preview $(DEMO_DIR)/preview.png);" \
	      "Gemini-GAN outputs: $(DEMO_DIR)/inference (overlay $(DEMO_DIR)/demo_overlay.png)"

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(PY) -m pytest -n 2 --dist loadfile -q

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(DEMO_DIR) .pytest_cache

# MONAI Label in its own environment (about 6 GB, built from the machine's local torch 2.14.1 + torchvision 0.29.1 wheels
# in 4-9 minutes: MONAI Label needs torchvision, which does not import beside the main environment's CPU torch 2.13;
# see requirements-monailabel.txt). test-monailabel: the in-process loading check, then a real server on 127.0.0.1
# answering over HTTP (records in benchmarks/results/monai_label*.md); .ci/run runs it after make test.
MLVENV := .venv-monailabel
MLSTAMP := $(MLVENV)/.installed

$(MLSTAMP): requirements-monailabel.txt pyproject.toml
	test -x $(MLVENV)/bin/python || $(PYTHON) -m venv $(MLVENV)
	$(MLVENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-monailabel.txt
	$(MLVENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(MLSTAMP)

monailabel-check: $(STAMP) $(MLSTAMP)
	$(MLVENV)/bin/python benchmarks/check_monai_label.py --out benchmarks/results/monai_label.md

test-monailabel: monailabel-check
	$(MLVENV)/bin/python benchmarks/check_monai_label_server.py --out benchmarks/results/monai_label_server.md
