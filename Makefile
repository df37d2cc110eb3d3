# Chairside: `make run` starts everything on the embedded defaults;
# `make test` runs the whole suite. Both need only Python 3.11.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export PYTHONUNBUFFERED := 1

.PHONY: run test lint migrate seed clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

migrate: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

run: seed
	@echo
	@echo "  Chairside is starting at http://127.0.0.1:8000/"
	@echo "  Log in at http://127.0.0.1:8000/accounts/login/ as scheduler, nurse, pharmacist"
	@echo "  or patient (password: demo). API docs: http://127.0.0.1:8000/api/docs/"
	@echo "  Ctrl-C stops the web server, the worker and beat."
	@echo
	$(BIN)/honcho start -f Procfile

test: $(VENV)/.installed-dev
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/ruff check .
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

clean:
	rm -rf var/broker var/celerybeat-schedule* .pytest_cache
