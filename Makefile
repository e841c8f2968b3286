# The attestor operator. `make help` lists the targets.
SHELL := /usr/bin/env bash
CARGO ?= cargo

.PHONY: help demo test check fmt lint build release examples bench crds docs cluster-up cluster-down

help:
	@echo "make demo      offline verification demo over examples/ (no cluster needed)"
	@echo "make test      everything CI runs: format, lints, unit and integration tests, example cases"
	@echo "make bench     verification throughput next to openssl speed ecdsap256"
	@echo "make examples  regenerate examples/ (keys and certificates are kept)"
	@echo "make crds      regenerate crds/ from the types in operator/api"
	@echo "make docs      regenerate docs/crds.md from the types in operator/api"
	@echo "make cluster-up    start the local control plane (e2e/cluster.sh up); the API server tests use it"
	@echo "make cluster-down  stop it"

demo: release
	ATTESTOR_BIN=target/release/attestor examples/demo.sh

release:
	$(CARGO) build --release --locked -p attestor

build:
	$(CARGO) build --locked --workspace --all-targets

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

test: lint
	$(CARGO) test --locked --workspace
	$(CARGO) build --locked -p attestor
	ATTESTOR_BIN=target/debug/attestor DEMO_QUIET=1 examples/demo.sh

examples:
	$(CARGO) run --locked -p attestor --example make_examples

crds:
	$(CARGO) run --locked -q -p attestor -- crd --output-dir crds

docs:
	$(CARGO) run --locked -q -p attestor-api --example write_docs

cluster-up:
	e2e/cluster.sh up

cluster-down:
	e2e/cluster.sh down

bench:
	$(CARGO) bench --locked -p attestor-core --bench verify
