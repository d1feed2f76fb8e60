# Every target installs what it needs by itself: uv (from PyPI, if missing), then the locked workspace.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
# Tools run by the tests (checkov, locked in tools/checkov, through `uv run`) find the same uv.
export PATH := $(dir $(UV)):$(PATH)
PROTOS = $(shell find proto/rapport -name '*.proto' | sort)
PYTEST_ARGS ?=

.PHONY: help up test lint proto bench clean sync demo images

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(CURDIR)/.tools/bin/uv:
	$(PYTHON) -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/pip install --quiet uv

.venv/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen
	@touch $@

sync: .venv/.synced

up: sync ## run the whole platform locally (Ctrl-C stops it; data under .rapport/)
	$(UV) run --frozen python -m rapport_local up

demo: sync ## with `make up` running: seed a clinic, therapist, client, a session in minutes; print the room links
	$(UV) run --frozen python -m rapport_local.demo

test: sync ## run every test against real nats-server, OpenBao and SecantusDB
	$(UV) run --frozen pytest $(PYTEST_ARGS)

images: sync ## build the six service images with podman, no Docker daemon (TAG=, PYTHON_IMAGE=)
	$(UV) run --frozen python -m rapport_local.images

bench: sync ## print throughput and latency figures with a same-run baseline
	$(UV) run --frozen python -m tests.bench

proto: sync ## format, lint and regenerate the Python code beside each .proto
	cd proto && $(UV) run --frozen buf format -w && $(UV) run --frozen buf lint
	$(UV) run --frozen python -m grpc_tools.protoc -I proto --python_out=proto --pyi_out=proto \
		--grpc_python_out=proto $(PROTOS)

lint: sync ## ruff, mypy, buf lint/breaking, and generated code up to date
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy services/platform/src $(wildcard services/*/src/rapport_*/domain.py)
	cd proto && $(UV) run --frozen buf format --exit-code --diff >/dev/null && $(UV) run --frozen buf lint
	@if git cat-file -e main:proto/buf.yaml 2>/dev/null; then \
		cd proto && $(UV) run --frozen buf breaking --against '../.git#branch=main,subdir=proto'; \
	else echo "buf breaking: main has no proto history yet"; fi
	@tmp=$$(mktemp -d) && $(UV) run --frozen python -m grpc_tools.protoc -I proto --python_out=$$tmp \
		--pyi_out=$$tmp --grpc_python_out=$$tmp $(PROTOS) && \
	for f in $$(cd $$tmp && find rapport -type f); do \
		cmp -s $$tmp/$$f proto/$$f || { echo "generated $$f is stale: run make proto"; exit 1; }; done; \
	stale=$$(cd proto && find rapport -name '*_pb2*.py*' | while read f; do [ -e $$tmp/$$f ] || echo $$f; done); \
	[ -z "$$stale" ] || { echo "generated files without a .proto: $$stale"; exit 1; }; rm -rf $$tmp

clean: ## wipe local stack data (.rapport/) and caches
	rm -rf .rapport .pytest_cache .mypy_cache .ruff_cache .tools
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
