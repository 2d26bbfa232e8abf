# The two commands the README starts with: `make serve` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install -q -c constraints.txt

# The marked test tiers that `make test` leaves out and `make tiers` (so .ci/run) runs,
# one `test-<marker>` target each (markers: pyproject.toml). A tier that needs more than
# the dev environment installs it in its own target.
TIERS := slow browser container distributed

.PHONY: serve setup test tiers $(addprefix test-,$(TIERS)) lint model tutorial clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Serving needs only the base dependencies.
$(VENV)/.serve: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e .
	touch $@

# Tests and training add the `train` and `dev` extras.
$(VENV)/.dev: $(VENV)/.serve
	$(PIP) -e '.[train,client,dev]'
	touch $@

serve: $(VENV)/.serve  ## set up and serve models/ on http://127.0.0.1:8000
	$(BIN)/rnncast serve

setup: $(VENV)/.dev  ## set up for training and development (the train and dev extras)

test: $(VENV)/.dev  ## set up and run the default test tier (lint and types first)
	bash scripts/install-tools.sh
	$(BIN)/ruff check app tests bench
	$(BIN)/mypy
	$(BIN)/pytest

tiers: $(addprefix test-,$(TIERS))  ## every marked tier, one after the other

test-slow: $(VENV)/.dev  ## heavy load, long training, several processes
	bash scripts/install-tools.sh
	$(BIN)/pytest -m slow

# The browser tier adds Playwright; the browser itself is the system's Chromium.
$(VENV)/.browser: $(VENV)/.dev
	$(PIP) -e '.[train,dev,browser]'
	touch $@

test-browser: $(VENV)/.browser  ## the forecast page in headless Chromium (screenshots in test-artifacts/)
	bash scripts/install-tools.sh browser
	$(BIN)/pytest -m browser

# The distributed tier adds Ray and PySpark; Spark runs on the system's Java 17.
$(VENV)/.distributed: $(VENV)/.dev
	$(PIP) -e '.[train,client,dev,ray,spark]'
	touch $@

test-distributed: $(VENV)/.distributed  ## the Ray (local, 2 CPUs) and Spark (local[2]) batch engines
	bash scripts/install-tools.sh distributed
	$(BIN)/pytest -m distributed

test-container: $(VENV)/.dev  ## build the image with podman and run it (root; about 4 min cold)
	bash scripts/container-check.sh

lint: $(VENV)/.dev
	$(BIN)/ruff check app tests bench
	$(BIN)/mypy

model: $(VENV)/.dev  ## re-train the shipped default model
	$(BIN)/rnncast train --preset default --seed 0 --out models/default

tutorial: $(VENV)/.dev  ## reproduce the original tutorial
	$(BIN)/rnncast train --preset tutorial --seed 0 --out models/tutorial

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build
