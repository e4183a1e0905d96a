# The README's two set-up commands are `make run` and `make test`.
# Both create .venv in the project root and install the project into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The browser tests drive Debian's Chromium; pip's playwright never downloads a browser here.
CHROMIUM := /usr/bin/chromium

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/feedsvc run

# Installed when missing and we are root (CI runs `make test` as root on a clean machine);
# otherwise say how, and the browser tests skip (they fail instead when CI=true).
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then \
		apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-dejavu-core; \
	else \
		echo "note: $(CHROMIUM) is missing: 'sudo apt-get install chromium' runs the browser tests"; \
	fi

test: $(STAMP) | $(CHROMIUM)
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
