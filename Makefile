# The README's two set-up commands are `make run` and `make test`.
# Both create .venv in the project root and install the project into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/feedsvc run

test: $(STAMP)
	$(BIN)/ruff check feedsvc tests $(wildcard bench scripts) wsgi.py
	$(BIN)/ruff format --check feedsvc tests $(wildcard bench scripts) wsgi.py
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check --fix feedsvc tests $(wildcard bench scripts) wsgi.py
	$(BIN)/ruff format feedsvc tests $(wildcard bench scripts) wsgi.py
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var
