# Dagster Stack. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

COMPOSE := deploy/scripts/compose.sh
VENV := .venv
PYTEST := $(VENV)/bin/pytest
# A CA bundle that image builds should trust (a TLS-inspecting proxy's); empty for none.
EXTRA_CA_BUNDLE ?= $(or $(PIP_CERT),$(REQUESTS_CA_BUNDLE),$(SSL_CERT_FILE))
# Stacks of their own for tests, faults and benchmarks: each has its own project name, network,
# ports and credentials (env file, then overrides), never the user's.
TEST_STACK := tests/stack.env
FAULT_STACK := tests/faults/stack.env
BENCH_STACK := bench/stack.env
# uv ships its own CA roots; the host's store also holds a TLS-inspecting proxy's CA, if any.
export UV_SYSTEM_CERTS := 1
# Every variable given on the command line (FILE, KEY, Q, WRITE, YES, SERVICE, ...) reaches recipes
# as data: made a simple variable holding its literal text, exported as is. Otherwise make expands
# it when exporting it, running any $(shell ...) in it and eating every `$x`; recipes read such
# variables from the environment ($$NAME), never as $(NAME) pasted into shell text.
$(foreach name,$(foreach v,$(.VARIABLES),$(if $(filter command line,$(origin $v)),$v)),\
  $(eval override $(name) := $$(value $(name)))$(eval export $(name)))
LOCKS := deploy/images/runtime.lock deploy/images/dagster.lock $(wildcard code_locations/*/requirements.lock) tests/requirements.lock

.PHONY: help up dev production start base-images new-location reload down clean ps logs backup restore drop sql upgrade lint bench bench-smoke test test-unit test-integration test-faults images docker lock env-file chromium screenshots k8s-manifests push test-large-files

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  make %-17s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

up: docker base-images env-file images production start ## Build what is missing, start the stack, wait until every service is healthy
	@deploy/scripts/print-urls.sh

dev: docker base-images env-file images ## Dev mode: each location's folder mounted into its code server and runs, reloaded on save (make up ends it)
	@touch "$${STACK_ENV:-.env}.dev-mode"
	@$(MAKE) --no-print-directory start
	@echo "Dev mode: saving a file in code_locations/<name>/ reloads that location; runs use the saved code. 'make up' returns to the images."
	@deploy/scripts/print-urls.sh

production:
	@rm -f "$${STACK_ENV:-.env}.dev-mode"

start: docker ## Start the built stack and wait until every service is healthy (make up builds first)
	@echo "Starting the stack (waits for every healthcheck)..."
	@{ $(COMPOSE) up -d --no-build --remove-orphans && deploy/scripts/wait-healthy.py; } || { $(COMPOSE) ps -a; echo "Some services are not healthy: see 'make logs'."; exit 1; }

down: docker ## Stop the stack; data (volumes) is kept
	@$(COMPOSE) down --remove-orphans

clean: docker ## Stop the stack and DELETE its data volumes (asks first; YES=1 skips the question)
	@if [ "$${YES:-}" != 1 ]; then \
	  read -r -p "Delete the stack's Postgres and S3 volumes (all run history and files)? [y/N] " answer; \
	  [ "$$answer" = y ] || [ "$$answer" = Y ] || { echo "Nothing deleted."; exit 1; }; \
	fi
	@$(COMPOSE) down --volumes --remove-orphans

ps: ## Show the stack's services and their health (installs nothing)
	@$(COMPOSE) ps -a

logs: ## Follow every service's logs (SERVICE=name for one; installs nothing)
	@$(COMPOSE) logs -f --tail=200 $${SERVICE:-}

backup: docker ## Back up both databases and every bucket's objects into backups/<time>/, with a manifest (pauses the daemon)
	@deploy/scripts/backup.sh

restore: export RESTORE_FILE = $(value FILE)
restore: docker ## Restore FILE=backups/<time> (databases and objects) into the running stack, replacing its state (asks; YES=1 skips)
	@deploy/scripts/restore.sh "$$RESTORE_FILE"

unexport DAGSTER
upgrade: export UPGRADE_VERSION = $(value DAGSTER)
upgrade: $(VENV)/.installed docker base-images env-file ## Move to Dagster DAGSTER=<version>: rewrite every pin, relock, rebuild; a running stack is backed up, then migrated
	@deploy/scripts/upgrade.sh "$$UPGRADE_VERSION"

# $(call with_s3_key,ROLE) runs compose with the S3 key S3_<ROLE>_* of the stack's env file in
# its environment, from which `exec $(S3_KEY_VARIABLES)` hands it to the one command: no secret on
# a command line, and the container keeps its own.
with_s3_key = env_file="$${STACK_ENV:-.env}"; \
	AWS_ACCESS_KEY_ID="$$(. "$$env_file"; printf %s "$${S3_$(1)_ACCESS_KEY:-}")" \
	AWS_SECRET_ACCESS_KEY="$$(. "$$env_file"; printf %s "$${S3_$(1)_SECRET_KEY:-}")" $(COMPOSE)
S3_KEY_VARIABLES := -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY

unexport NAME
new-location: export NEW_LOCATION = $(value NAME)
new-location: $(VENV)/.installed ## Scaffold code_locations/NAME (a first asset, its tests, its lock) and register it; make up serves it
	@python3 deploy/scripts/new-location.py "$$NEW_LOCATION"
	@$(VENV)/bin/uv pip compile "code_locations/$$NEW_LOCATION/pyproject.toml" -c deploy/images/runtime.lock $(UV_COMPILE) \
	  -o "code_locations/$$NEW_LOCATION/requirements.lock"
	@echo "Next: make up (builds its image and serves it), then edit it and make reload LOCATION=$$NEW_LOCATION."

unexport LOCATION
reload: export RELOAD_LOCATION = $(value LOCATION)
reload: docker ## Rebuild one code location's image and replace only its code server (LOCATION=name)
	@deploy/scripts/reload.sh "$$RELOAD_LOCATION"

# FILE and KEY reach the shell as environment variables, never as text pasted into the recipe:
# a key like 'x`cmd`.csv' is stored as is, and nothing in it runs. Exported under their own
# names, make would expand them first ($(shell ...) included); $(value ...) does not.
unexport FILE KEY
drop: export DROP_FILE = $(value FILE)
drop: export DROP_KEY = $(value KEY)
drop: ## Upload FILE=path into the landing bucket (KEY=name to store it under another key)
	@if [ -z "$$DROP_FILE" ]; then echo "usage: make drop FILE=samples/orders-2024-05-01.csv [KEY=incoming/orders.csv]"; exit 2; fi; \
	if [ ! -f "$$DROP_FILE" ]; then echo "error: '$$DROP_FILE' is not a file"; exit 2; fi; \
	key="$${DROP_KEY:-$$(basename -- "$$DROP_FILE")}"; \
	$(call with_s3_key,UPLOAD) exec -T $(S3_KEY_VARIABLES) webserver python /opt/dagster/deploy/drop.py "$$key" < "$$DROP_FILE"

sql: docker ## Query the warehouse: Q="select ..." prints one statement's result; no Q opens a prompt (read-only; WRITE=1 allows changes)
	@deploy/scripts/sql.sh

test: lint test-unit bench-smoke test-integration test-faults ## Lint, unit tests, a quick bench, integration tests, then the fault suite, each live part on a throwaway stack

lint: $(VENV)/.installed ## ruff (ruff.toml), shellcheck on every shell script, dg check defs per code location
	$(VENV)/bin/ruff check .
	@deploy/scripts/ensure-package.sh shellcheck shellcheck "make lint"
	shellcheck -S warning $$(git ls-files '*.sh' .ci/run)
	@for location in code_locations/*/; do \
	  echo "dg check defs: $$location"; \
	  (cd $$location && PYTHONPATH=$(CURDIR)/lib $(CURDIR)/$(VENV)/bin/dg check defs >/dev/null) || exit 1; \
	done

test-unit: $(VENV)/.installed ## Fast tests, no Docker: each location's own tests, definitions load, config is sound
	$(PYTEST) tests/unit code_locations

test-integration: $(VENV)/.installed docker .stack/images.env chromium ## Live-stack tests, browser tests included, then the stack on external Postgres and S3 (KEEP_STACK=1 leaves the test stack running)
	@deploy/scripts/with-stack.sh $(TEST_STACK) $(PYTEST) tests/integration
	@deploy/scripts/with-stack.sh $(TEST_STACK) $(PYTEST) tests/external

screenshots: $(VENV)/.installed docker .stack/images.env chromium ## Regenerate docs/screenshots/*.png with the browser tests, on the test stack
	@deploy/scripts/with-stack.sh $(TEST_STACK) env SCREENSHOT_DIR=docs/screenshots $(PYTEST) tests/integration/test_browser.py

chromium: ## Check for (and on Debian as root, install) the chromium the browser tests drive
	@deploy/scripts/ensure-package.sh chromium chromium "the browser tests"

test-faults: $(VENV)/.installed docker .stack/images.env ## The fault suite: kills, restarts and outages on a stack of its own (about 5 min)
	@deploy/scripts/with-stack.sh $(FAULT_STACK) $(PYTEST) -m "not large_files" tests/faults

test-large-files: $(VENV)/.installed docker base-images ## Fault test 10: three 500 MB uploads beside bursts (fails until ingestion holds 500 MB in bounded memory)
	@deploy/scripts/with-stack.sh $(FAULT_STACK) $(PYTEST) -m large_files tests/faults

bench: $(VENV)/.installed docker .stack/images.env ## Measure on a stack of its own: cold up, launch and drop latency, a burst, memory, sizes (QUICK=1, REBUILD=1)
	@deploy/scripts/with-stack.sh $(BENCH_STACK) $(VENV)/bin/python -m bench.run $(if $(QUICK),--quick) $(if $(REBUILD),--rebuild)

bench-smoke: ## The benchmark in quick mode: proves the harness works, judges no speed
	@$(MAKE) --no-print-directory bench QUICK=1

images: docker base-images env-file ## Build the stack's images (only what changed)
	@deploy/scripts/build-images.sh

# Kubernetes (deploy/kubernetes, docs/kubernetes.md). test-unit runs the same checks.
k8s-manifests: $(VENV)/.installed ## Render Dagster's Helm chart with deploy/kubernetes/values.yaml into .stack/k8s/ and check it offline
	@mkdir -p .stack/k8s
	@deploy/kubernetes/render.sh .stack/k8s/manifests.yaml
	$(PYTEST) -q tests/unit/test_kubernetes.py

unexport REGISTRY
push: export PUSH_REGISTRY = $(value REGISTRY)
push: $(VENV)/.installed docker base-images env-file ## Build, tag and push every image of the stack to REGISTRY=host/namespace; prints the helm values
	@deploy/kubernetes/push.sh "$$PUSH_REGISTRY"

docker: ## Check for (and on Debian as root, install) the Docker engine and Compose v2
	@deploy/scripts/ensure-docker.sh

# The base images (official ones, or stand-ins built here where no registry is reachable).
base-images: .stack/images.env

.stack/images.env: deploy/scripts/select-images.sh deploy/images/local/* deploy/postgres/entrypoint.sh deploy/s3/entrypoint.sh | docker ca-bundle
	@deploy/scripts/select-images.sh

.PHONY: ca-bundle
ca-bundle:
	@mkdir -p deploy/images/ca
	@if [ -n "$(EXTRA_CA_BUNDLE)" ] && [ -s "$(EXTRA_CA_BUNDLE)" ]; then \
	  cmp -s "$(EXTRA_CA_BUNDLE)" deploy/images/ca/extra-ca.pem || cp "$(EXTRA_CA_BUNDLE)" deploy/images/ca/extra-ca.pem; \
	else rm -f deploy/images/ca/extra-ca.pem; fi

# The env file of the stack make acts on: .env, or STACK_ENV's. Missing keys are added, with random
# secrets; no value already there is changed.
env-file:
	@deploy/scripts/ensure-env.sh "$${STACK_ENV:-.env}"

$(VENV)/.installed: $(LOCKS)
	@echo "Preparing the test environment in $(VENV)..."
	@test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	@$(VENV)/bin/pip install -q --disable-pip-version-check uv==0.13.9
	@$(VENV)/bin/uv pip install -q --python $(VENV)/bin/python $(addprefix -r ,$(LOCKS))
	@touch $@

lock: $(VENV)/.installed ## Re-resolve the lock files from deploy/images/dagster.in and each pyproject.toml
	$(VENV)/bin/uv pip compile deploy/images/runtime.in $(UV_COMPILE) -o deploy/images/runtime.lock
	$(VENV)/bin/uv pip compile deploy/images/dagster.in -c deploy/images/runtime.lock $(UV_COMPILE) -o deploy/images/dagster.lock
	@for location in code_locations/*/; do \
	  $(VENV)/bin/uv pip compile $$location/pyproject.toml -c deploy/images/runtime.lock $(UV_COMPILE) \
	    -o $$location/requirements.lock; \
	done
	$(VENV)/bin/uv pip compile tests/requirements.in -c deploy/images/dagster.lock $(UV_COMPILE) -o tests/requirements.lock

UV_COMPILE := --quiet --no-header --generate-hashes --python-version 3.11 \
  --python-platform x86_64-manylinux_2_28 --custom-compile-command "make lock"
