# The two set-up commands: `make run` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
# Four test workers: much of the suite waits on servers, browsers and subprocesses.
PYTEST_ARGS ?= -n 4
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Migrate the SQLite database (seeding the 120 breeds) and start the review app on 127.0.0.1:8501.
run: $(STAMP)
	$(BIN)/breedbench init
	$(BIN)/breedbench review --host 127.0.0.1 --port 8501

## Run the whole suite (lint first).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache
