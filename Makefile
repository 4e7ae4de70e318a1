# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make demo   virtual environment, install, migrate, load the demo content, train, serve on :8000
#   make test   virtual environment, install, run the test suite
# make test-quick is the development loop: unit and in-process API tests on SQLite (no servers, CLI
# processes, browser or notebooks), in under 3 minutes.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# on every core, a test module per worker at a time (its module-scoped servers are started once)
PYTEST_ARGS ?= -n auto --dist loadscope

.PHONY: demo test test-quick lint install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned, so pip takes the CPU build before sentence-transformers asks for torch.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/helpdesk demo

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-quick: $(STAMP)
	HELPDESK_TEST_BACKENDS=sqlite $(BIN)/python -m pytest $(PYTEST_ARGS) -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports

clean:
	rm -rf $(VENV) var
