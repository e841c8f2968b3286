# The attestor operator. `make help` lists the targets.
SHELL := /usr/bin/env bash
CARGO ?= cargo

.PHONY: help demo test check fmt lint build release examples bench

help:
	@echo "make demo      offline verification demo over examples/ (no cluster needed)"
	@echo "make test      everything CI runs: format, lints, unit and integration tests, example cases"
	@echo "make bench     verification throughput next to openssl speed ecdsap256"
	@echo "make examples  regenerate examples/ (keys and certificates are kept)"

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

bench:
	$(CARGO) bench --locked -p attestor-core --bench verify
