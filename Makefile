# netops.nautobot_backup: the two commands a user runs are `make test` and `make demo`.
# Everything else here is a step of those two. Run `make help` for the list.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT       := $(abspath .)
PYTHON     ?= python3.11
VENV       := $(ROOT)/.venv
BIN        := $(VENV)/bin
CACHE      := $(ROOT)/.cache
BUILD      := $(ROOT)/.build
COLL_PATH  := $(BUILD)/collections
COLL_LINK  := $(COLL_PATH)/ansible_collections/netops/nautobot_backup
PYTEST_ARGS ?=

export ANSIBLE_COLLECTIONS_PATH := $(COLL_PATH)
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH := false
export PATH := $(BIN):$(PATH)

.PHONY: help
help: ## Show the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

# ---------------------------------------------------------------- set-up
.PHONY: system-deps
system-deps: ## Install the Debian packages of bindep.txt (apt-get, through sudo when not root)
	@scripts/install-system-deps.sh

$(VENV)/.installed: requirements.txt requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-test.txt
	touch $@

.PHONY: venv
venv: $(VENV)/.installed ## Create .venv with the runtime and test requirements

.PHONY: collection
collection: ## Link the repo into .build/collections/ansible_collections/netops/nautobot_backup
	@mkdir -p $(dir $(COLL_LINK))
	@ln -sfn ../../../.. $(COLL_LINK)
	@scripts/install-awx-collection.sh

.PHONY: setup
setup: system-deps venv collection ## Everything the tests and the demo need

# ---------------------------------------------------------------- checks
.PHONY: lint
lint: setup ## ruff, ansible-lint (production profile), ansible-doc for every plugin, antsibull-changelog lint
	$(BIN)/ruff check .
	$(BIN)/ansible-lint
	scripts/check-ansible-doc.sh
	$(BIN)/antsibull-changelog lint

.PHONY: docs
docs: setup ## HTML docs with antsibull-docs (plugins, roles, guides) into .build/docsite/html; warnings fail
	scripts/docs.sh

.PHONY: unit
unit: setup ## Unit tests (no test bed)
	$(BIN)/python -m pytest tests/unit -q $(PYTEST_ARGS)

.PHONY: integration
integration: setup ## Integration tests against the real lab, Nautobot and Git remotes
	cd tests && $(BIN)/python -m testbed.nautobot_bed prepare  # the cold Nautobot migrate, outside any test timeout
	$(BIN)/python -m pytest tests/integration -q $(PYTEST_ARGS)

.PHONY: golden
golden: setup ## Regenerate the inventory golden files (review the diff before committing)
	NB_BACKUP_UPDATE_GOLDEN=1 $(BIN)/python -m pytest tests/integration/test_inventory.py -q -k golden

.PHONY: sanity
sanity: setup ## ansible-test sanity on a copy of the tree under ansible_collections/
	scripts/sanity.sh

.PHONY: molecule
molecule: setup ## Molecule scenario of every role (scripts/molecule.sh; ROLES="publish report" for some)
	scripts/molecule.sh $(ROLES)

.PHONY: ee
ee: setup ## ansible-builder introspect on the installed tarball, then the EE's build context in .build/ee (no image)
	scripts/ee-context.sh

.PHONY: ee-venv
ee-venv: setup ## The EE as a venv from the introspected requirements; AWX runner tests in it (not part of `make test`)
	scripts/ee-venv.sh

.PHONY: test
test: setup lint docs unit sanity ee integration molecule ## Set up everything and run every check (what CI runs)
	@echo "make test: all checks passed"

# ---------------------------------------------------------------- benchmarks (never part of `make test`)
# benchmarks/README.md: what each one measures and its set-up. They import the test bed (tests/) and, where
# they time plugin code in-process, the collection as ansible_collections.netops.nautobot_backup from PYTHONPATH.
BENCH        ?= backup_500
BENCH_ARGS   ?=
BENCH_REF    ?=
BENCH_BEFORE ?=
BENCH_COLL   := $(BUILD)/bench-collections

.PHONY: bench
bench: venv collection ## Run benchmarks/BENCH.py (default backup_500) with BENCH_ARGS (not part of `make test`)
	PYTHONPATH=$(ROOT)/tests:$(COLL_PATH) $(BIN)/python benchmarks/$(BENCH).py $(BENCH_ARGS)

.PHONY: bench-galaxy
bench-galaxy: venv ## `make bench` on a copy built and installed by ansible-galaxy (BENCH_REF=<commit>: of that commit)
	rm -rf $(BUILD)/bench-src $(BUILD)/bench-dist $(BENCH_COLL)
	mkdir -p $(BUILD)/bench-src
	if [ -n "$(BENCH_REF)" ]; then git archive $(BENCH_REF) | tar -x -C $(BUILD)/bench-src; src=$(BUILD)/bench-src; \
	else src=$(ROOT); fi; cd $$src && $(BIN)/ansible-galaxy collection build --output-path $(BUILD)/bench-dist .
	ANSIBLE_COLLECTIONS_PATH=$(BENCH_COLL) $(BIN)/ansible-galaxy collection install --no-deps --force \
	  -p $(BENCH_COLL) $(BUILD)/bench-dist/*.tar.gz
	if [ -n "$(BENCH_BEFORE)" ]; then rm -rf $(BUILD)/bench-before*; mkdir -p $(BUILD)/bench-before-src; \
	  git archive $(BENCH_BEFORE) | tar -x -C $(BUILD)/bench-before-src; \
	  (cd $(BUILD)/bench-before-src && $(BIN)/ansible-galaxy collection build --output-path $(BUILD)/bench-before-dist .); \
	  ANSIBLE_COLLECTIONS_PATH=$(BUILD)/bench-before $(BIN)/ansible-galaxy collection install --no-deps --force \
	    -p $(BUILD)/bench-before $(BUILD)/bench-before-dist/*.tar.gz; fi
	ANSIBLE_COLLECTIONS_PATH=$(BENCH_COLL) PYTHONPATH=$(ROOT)/tests:$(BENCH_COLL) \
	  BENCH_COMMIT="$(if $(BENCH_REF),$$(git rev-parse --short $(BENCH_REF)),$$(git describe --always --dirty=+dirty))" \
	  $(BIN)/python benchmarks/$(BENCH).py $(BENCH_ARGS) \
	  $(if $(BENCH_BEFORE),--collection before=$(BUILD)/bench-before)

# ---------------------------------------------------------------- demo
.PHONY: demo
demo: setup ## Start the demo lab (20 devices), a seeded Nautobot and a local Git remote
	@scripts/demo.sh up

.PHONY: demo-stop
demo-stop: ## Stop everything `make demo` started (by PID)
	@scripts/demo.sh down

.PHONY: clean
clean: demo-stop ## Remove build trees (keeps .cache with the Nautobot dump and venvs)
	rm -rf $(BUILD) .pytest_cache .ruff_cache tests/output
