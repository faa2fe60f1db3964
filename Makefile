# Two commands matter: `make run` (local stack) and `make test` (everything CI checks).
# The venv's interpreter is the one the template's Lambda runtime names (python3.13), so tests run what deploys.
PYTHON ?= $(shell scripts/lambda_python.sh)
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 3000
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium
CHROMEDRIVER := /usr/bin/chromedriver
# Compiled bytecode (and pytest's assertion-rewritten test modules) kept in one folder outside the source tree,
# even where the environment sets PYTHONDONTWRITEBYTECODE to keep trees clean: without it every test worker,
# every local-runner environment and every CLI call compiled the whole code again (pytest's collection alone
# took 12 s instead of 7), and no __pycache__ lands in a function's folder for `sam build` to ship.
export PYTHONPYCACHEPREFIX ?= $(CURDIR)/.cache/pycache
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test test-big-upload lint typecheck imports cfn-lint checkov pytest browser openapi swagger-ui bench sam-build build-check smoke clean

$(STAMP): pyproject.toml clients/python/pyproject.toml
	@if [ -x $(PY) ] && [ "$$($(PY) -c 'import sys; print(sys.version_info[:2])')" != "$$($(PYTHON) -c 'import sys; print(sys.version_info[:2])')" ]; then \
		echo "$(VENV) was made with another Python: recreating it with $(PYTHON)"; rm -rf $(VENV); fi
	@echo "Installing meterhub and its development tools into $(VENV) with $(PYTHON) (once, or after pyproject.toml changes; a minute or two)..."
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]' -e clients/python
	touch $(STAMP)
	@echo "Installed: $(VENV) is ready."

run: $(STAMP)
	PORT=$(PORT) $(PY) -m meterhub_dev.local run

test: lint typecheck imports cfn-lint checkov pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy shared devtools functions tests benchmarks clients

# What may import what (pyproject's [tool.importlinter] contracts): layers inside each feature, features one way,
# boto3 only in adapters, no cycle at any depth, nothing from devtools or tests in the Lambda layer.
imports: $(STAMP)
	$(VENV)/bin/lint-imports --no-cache

cfn-lint: $(STAMP)
	$(VENV)/bin/cfn-lint template.yaml

# What a security reviewer runs: checkov on template.yaml. Every finding is fixed or skipped in the template with
# its reason (Metadata: checkov: skip: [{id, comment}]; tests/contract/test_checkov_skips.py requires the comment),
# so a new finding fails here. Its own venv, like the SAM CLI's: checkov pins boto3 1.35 and packaging 23, which
# cannot install beside the project's boto3. --skip-download: no call to Prisma Cloud for guideline links.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)

$(CHECKOV_STAMP):
	rm -rf $(CHECKOV_VENV)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet checkov==$(CHECKOV_VERSION)
	touch $(CHECKOV_STAMP)

checkov: $(CHECKOV_STAMP)
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --skip-download --compact --quiet

# One run, spread over the cores (pytest-xdist); the e2e tests share one worker and one local runner.
PYTEST_WORKERS ?= auto
pytest: $(STAMP) browser
	$(PY) -m pytest -n $(PYTEST_WORKERS)

# The CLI's interval upload with a 50 MB file (make test runs the same test with 5.5 MB): 75-150 s of ingestion.
test-big-upload: $(STAMP)
	MH_E2E_UPLOAD_MB=50 $(PY) -m pytest tests/e2e/test_cli_flow.py -k presigned -n 0 --timeout 900 -s -q

# The Connect browser test drives Debian's chromium through chromium-driver (never a downloaded browser).
browser:
	@if [ ! -x $(CHROMIUM) ] || [ ! -x $(CHROMEDRIVER) ]; then \
		if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; else SUDO=; fi; \
		$$SUDO apt-get install -y --no-install-recommends chromium chromium-driver \
		|| { $$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends chromium chromium-driver; }; \
	fi

# The document is served by the API too (GET /openapi.json): the layer ships the same file as package data.
OPENAPI_SERVED := shared/meterhub/platform/api/reference/openapi.json
openapi: $(STAMP)
	$(PY) scripts/openapi.py > openapi.json
	cp openapi.json $(OPENAPI_SERVED)

# The Swagger UI that GET /docs serves, vendored from npm (needs npm and the registry; the files are committed).
# To update: change the version, run `make swagger-ui`, check /docs in `make run`, commit the files.
SWAGGER_UI_VERSION := 5.35.0
swagger-ui:
	scripts/vendor_swagger_ui.sh $(SWAGGER_UI_VERSION)

bench: $(STAMP)
	$(PY) benchmarks/cold_start.py

# The SAM CLI has a venv of its own: aws-sam-cli pins boto3 and pydantic versions that would clash with ours.
SAM_VERSION := 1.170.0
SAM_VENV := .venv-sam
SAM := SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam
SAM_STAMP := $(SAM_VENV)/.installed-$(SAM_VERSION)

$(SAM_STAMP):
	rm -rf $(SAM_VENV)
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet aws-sam-cli==$(SAM_VERSION)
	touch $(SAM_STAMP)

# No container: sam build takes the runtime's python3.13 from PATH (the directory of the interpreter
# scripts/lambda_python.sh finds comes first) and downloads the layer's arm64 wheels with its pip.
sam-build: $(SAM_STAMP)
	$(SAM) validate --lint --template template.yaml
	PATH="$$(dirname "$$(command -v $(PYTHON))"):$$PATH" $(SAM) build --template template.yaml --build-dir .aws-sam/build

# The built layer and functions hold meterhub, its runtime requirements and app.py, nothing from development.
build-check: sam-build $(STAMP)
	MH_REQUIRE_SAM_BUILD=1 $(PY) -m pytest tests/contract/test_sam_build.py -q

# The README tour against a running stage, cleaned up after (README "Smoke test of a stage"); tests/e2e/test_smoke.py
# runs the same script against the local runner. The key goes by environment, and the line is not echoed.
smoke: $(STAMP)
	@if [ -z "$(API)" ] || [ -z "$(KEY)" ]; then \
		echo "usage: make smoke API=<base url> KEY=<partner API key> [RECEIVER=<https webhook receiver>]"; exit 2; fi
	@METERHUB_API_KEY='$(KEY)' $(PY) -m meterhub_dev.smoke --api '$(API)' $(if $(RECEIVER),--receiver-url '$(RECEIVER)')

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .pytest_cache .mypy_cache .ruff_cache .aws-sam
