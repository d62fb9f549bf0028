# The two set-up commands of the README: `make demo` and `make test`.
# Each creates .venv when missing and installs the pinned requirements, then the package (editable).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo_output

.PHONY: demo test lint format clean install monailabel-check

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m custom_networks.data synth --out $(DEMO_DIR)/dataset --subjects 3 --domain source --seed 0 --overwrite
	$(PY) -m custom_networks.data preview --dataset $(DEMO_DIR)/dataset --out $(DEMO_DIR)/preview.png
	$(PY) -m custom_networks.bundle.demo --out $(DEMO_DIR)
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

# MONAI Label loading check in its own environment (~6 GB: MONAI Label needs torchvision, which does not import
# beside the main environment's CPU torch 2.13; see requirements-monailabel.txt).
MLVENV := .venv-monailabel
monailabel-check: $(STAMP)
	test -x $(MLVENV)/bin/python || $(PYTHON) -m venv $(MLVENV)
	$(MLVENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-monailabel.txt
	$(MLVENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(MLVENV)/bin/python benchmarks/check_monai_label.py --out benchmarks/results/monai_label.md
