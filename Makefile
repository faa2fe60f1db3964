# Two commands matter: `make run` (local stack) and `make test` (everything CI checks).
# The venv's interpreter is the one the template's Lambda runtime names (python3.13), so tests run what deploys.
PYTHON ?= $(shell scripts/lambda_python.sh)
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 3000
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium
CHROMEDRIVER := /usr/bin/chromedriver

.PHONY: run test lint typecheck imports cfn-lint pytest browser openapi bench clean

$(STAMP): pyproject.toml
	@if [ -x $(PY) ] && [ "$$($(PY) -c 'import sys; print(sys.version_info[:2])')" != "$$($(PYTHON) -c 'import sys; print(sys.version_info[:2])')" ]; then \
		echo "$(VENV) was made with another Python: recreating it with $(PYTHON)"; rm -rf $(VENV); fi
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	PORT=$(PORT) $(PY) -m meterhub_dev.local run

test: lint typecheck imports cfn-lint pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy shared devtools functions tests benchmarks

# What may import what (pyproject's [tool.importlinter] contracts): layers inside each feature, features one way,
# boto3 only in adapters, no cycle at any depth, nothing from devtools or tests in the Lambda layer.
imports: $(STAMP)
	$(VENV)/bin/lint-imports --no-cache

cfn-lint: $(STAMP)
	$(VENV)/bin/cfn-lint template.yaml

# One run, spread over the cores (pytest-xdist); the e2e tests share one worker and one local runner.
PYTEST_WORKERS ?= auto
pytest: $(STAMP) browser
	$(PY) -m pytest -n $(PYTEST_WORKERS)

# The Connect browser test drives Debian's chromium through chromium-driver (never a downloaded browser).
browser:
	@if [ ! -x $(CHROMIUM) ] || [ ! -x $(CHROMEDRIVER) ]; then \
		if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; else SUDO=; fi; \
		$$SUDO apt-get install -y --no-install-recommends chromium chromium-driver \
		|| { $$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends chromium chromium-driver; }; \
	fi

openapi: $(STAMP)
	$(PY) scripts/openapi.py > openapi.json

bench: $(STAMP)
	$(PY) benchmarks/cold_start.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .aws-sam
