# The attestor operator. `make help` lists the targets.
SHELL := /usr/bin/env bash
CARGO ?= cargo

.PHONY: cli docs-check image e2e-chart test-images test-go-binaries help demo demo-offline demo-cluster test unit integration e2e lint fmt build release examples sigstore-conformance x509-limbo crds docs bench bench-operator bench-webhook bench-registry cluster-up cluster-down chart-test chart-check registry-smoke

help:
	@echo "make demo          the offline verification demo over examples/, then the operator against"
	@echo "                   the local control plane (started, and built on first use) with crds/"
	@echo "                   and examples/ applied; Ctrl-C stops everything it started"
	@echo "make demo-offline  only the offline verification demo (no cluster needed)"
	@echo "make test          everything CI runs: lints, unit tests, the images, then integration tests,"
	@echo "                   the chart checks, and the chart installed on the local one-node cluster"
	@echo "                   (built from Go modules on first use, stopped afterwards) with the e2e"
	@echo "                   suite against it"
	@echo "make unit          lints and the tests that need no cluster"
	@echo "make docs-check    every command of README.md and docs/*.md, pasted in order into one shell on"
	@echo "                   the local cluster, with the output the docs show compared"
	@echo "make e2e           the e2e suite against KUBECONFIG or the running local cluster (with no chart"
	@echo "                   installed it runs target/debug/attestor as a process)"
	@echo "make e2e-chart     install the chart with the local image on the running node, then the suite,"
	@echo "                   with the test registries on the node's address (images pulled from them)"
	@echo "make cluster-up    start the local cluster with its node (e2e/kubeconfig; ATTESTOR_E2E_NODE=0:"
	@echo "                   control plane only); cluster-down stops it and checks nothing is left"
	@echo "make bench         verification throughput next to openssl speed ecdsap256, and peak RSS and"
	@echo "                   time of verifying each hostile bundle (budget: 64 MiB, 1 s); Sigstore"
	@echo "                   bundles/s per kind beside sigstore-go's, same bundles (e2e/bench-sigstore.sh)"
	@echo "make bench-operator  5,000 ProofVerifications against the local control plane: time to"
	@echo "                   Verified, API requests, operator peak RSS (COUNT=N to change)"
	@echo "make bench-webhook  admission reviews over HTTPS at 1,000 req/s and at saturation, one server"
	@echo "                   thread, 10,000 verified digests: p50/p99/p999 and req/s"
	@echo "make bench-registry  discovery against a local registry with 50 ms per request: digests/s,"
	@echo "                   requests per digest, admission p99 with and without discovery running"
	@echo "make examples      regenerate examples/ (keys and certificates are kept)"
	@echo "make crds          regenerate crds/ from the types in operator/api (CI fails when stale)"
	@echo "make docs          regenerate docs/crds.md from the types in operator/api"
	@echo "make image         the operator image without a container engine: static musl binary +"
	@echo "                   e2e/image/operator.rootfs -> target/images/attestor.tar (OCI archive)"
	@echo "make chart-test    lint, render and server-side dry-run the Helm chart, check its dashboard"
	@echo "                   and alerts (helm built from e2e/go/helm on first use)"
	@echo "make x509-limbo    the public x509-limbo suite against the X.509 path validator: pass count,"
	@echo "                   failures only from the checked-in allowlist"
	@echo "make registry-smoke  real cosign v3 against the two local registries (distribution without"
	@echo "                   the referrers API, refreg with it), offline: sign, attest and verify in the"
	@echo "                   Sigstore bundle format and the legacy .sig/.att tags (tools built on first use)"

demo: demo-offline demo-cluster

# The demo uses the debug build: dependencies are optimised even there (profile.dev.package."*"),
# and it is the binary `make test` builds anyway, so the demo costs no second full build.
demo-offline: cli
	ATTESTOR_BIN=target/debug/attestor examples/demo.sh

demo-cluster: cli
	ATTESTOR_BIN=target/debug/attestor e2e/demo-cluster.sh

cli:
	$(CARGO) build --locked -p attestor

release:
	$(CARGO) build --release --locked -p attestor

# The operator image as the chart runs it, built with no Docker daemon and no base image
# (e2e/image.sh; the Dockerfile builds the same filesystem for hosted CI).
image:
	e2e/image.sh operator

build:
	$(CARGO) build --locked --workspace --all-targets

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	@# ring is the only crypto provider: aws-lc-sys would add a C/CMake build.
	@if $(CARGO) tree --locked --workspace -i aws-lc-sys >/dev/null 2>&1; then \
	  echo "aws-lc-sys entered the dependency tree: keep rustls on the ring provider"; exit 1; fi

# Tests that need no cluster: the integration tests skip (outside CI) with a one-line reason.
unit: lint
	$(CARGO) test --locked --workspace
	$(CARGO) build --locked -p attestor
	ATTESTOR_BIN=target/debug/attestor DEMO_QUIET=1 examples/demo.sh

# The node (kubelet, containerd) needs root, so it is on by default for root only; NODE=0
# runs the control plane alone, and then `make test` runs the e2e suite against `attestor
# run` as a process instead of the chart.
NODE ?= $(if $(filter 0,$(shell id -u)),1,0)

# Everything, with a cluster: compile first so the control plane is not kept waiting.
test:
	@echo "[$$(date +%T)] lint"
	@$(MAKE) --no-print-directory lint
	@echo "[$$(date +%T)] build"
	$(CARGO) build --locked --workspace --all-targets
	$(CARGO) test --locked --workspace --no-run
	@echo "[$$(date +%T)] images, and the cluster's, helm's and the registry tools' binaries (cached after the first run)"
	@$(MAKE) --no-print-directory -j2 test-images test-go-binaries
	@echo "[$$(date +%T)] tests, the chart checks, then the chart on the node and the e2e suite"
	ATTESTOR_E2E_NODE=$(NODE) e2e/with-cluster.sh $(MAKE) --no-print-directory integration chart-check $(if $(filter 1,$(NODE)),e2e-chart,e2e)
	@echo "[$$(date +%T)] the README and docs/, every command as pasted, on a fresh local cluster"
	@$(MAKE) --no-print-directory docs-check
	@echo "[$$(date +%T)] make test passed"

# Run side by side by `make test`: the musl release build and the Go builds each leave the
# other's idle core time (serial crates, links) to use, which shortens a cold run.
test-images:
	e2e/image.sh operator
	e2e/image.sh node

test-go-binaries:
	ATTESTOR_E2E_NODE=$(NODE) e2e/cluster.sh build
	e2e/helm.sh >/dev/null
	e2e/tools.sh build

# The registry tests (cli/tests/registry_e2e.rs) run against the real local registries.
integration:
	e2e/with-registries.sh $(CARGO) test --locked --workspace
	ATTESTOR_BIN=target/debug/attestor DEMO_QUIET=1 examples/demo.sh
	e2e/sigstore-conformance.sh target/debug/attestor
	@$(MAKE) --no-print-directory x509-limbo
	e2e/registry-smoke.sh

e2e:
	e2e/run.sh

# Every runnable block of README.md and docs/*.md, in order, in one shell, output compared with
# what the docs show (e2e/docs-check.py). The README starts the local cluster itself (make
# cluster-up); what it started is stopped here and checked to have left nothing behind.
docs-check:
	@python3 e2e/docs-check.py --self-test
	@if e2e/cluster.sh status >/dev/null 2>&1; then running=1; else running=; fi; \
	  python3 e2e/docs-check.py; rc=$$?; \
	  if [ -z "$$running" ]; then e2e/cluster.sh down && e2e/cluster.sh leftovers || rc=1; fi; \
	  exit $$rc

# The chart as a user installs it, with the image of `make image`, on the local node; then the
# same e2e suite as on kind (ATTESTOR_E2E_EXPECT_CHART: a missing operator fails, no fallback).
# The test registries run on the node's address (started and stopped here unless already
# running): the workload images are pushed there and pulled by the node's containerd, the
# chart's operator reads them (e2e/install-chart.sh), and the suite's registry section must
# run (ATTESTOR_E2E_EXPECT_REGISTRY).
e2e-chart:
	e2e/cluster.sh load target/images/attestor.tar
	ATTESTOR_E2E_EXPECT_CHART=1 ATTESTOR_E2E_EXPECT_REGISTRY=1 e2e/with-registries.sh --host node \
	  bash -c 'e2e/install-chart.sh install attestor.local/attestor:dev && e2e/run.sh'

# The local control plane comes up with the CRDs installed, as envtest does,
# so `kubectl apply --server-side -f crds/ -f examples/` works at once.
cluster-up:
	ATTESTOR_E2E_NODE=$(NODE) e2e/cluster.sh up
	KUBECONFIG=e2e/kubeconfig kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
	KUBECONFIG=e2e/kubeconfig kubectl wait --for=condition=Established --timeout=60s -f crds/ >/dev/null
	@echo "control plane ready with the attestor CRDs: export KUBECONFIG=$$PWD/e2e/kubeconfig"

cluster-down:
	e2e/cluster.sh down
	e2e/cluster.sh leftovers

# Real cosign against both local registries, offline (e2e/registry-smoke.sh): what the
# registry-discovery code reads, written as users write it.
registry-smoke:
	e2e/registry-smoke.sh

# The offline verification cases of the public sigstore-conformance suite, through the CLI.
sigstore-conformance:
	$(CARGO) build --locked -q -p attestor
	e2e/sigstore-conformance.sh target/debug/attestor

# The public x509-limbo suite against the one certificate path validator (attestor_core::x509):
# prints "x509-limbo: P passed, F failed, N not applicable (of T)"; fails below the committed
# floor or on a failure missing from operator/core/tests/data/x509-limbo/allowed-failures.txt.
x509-limbo:
	$(CARGO) test --locked -q -p attestor-core --test x509_limbo

examples:
	$(CARGO) run --locked -p attestor --example make_examples

crds:
	$(CARGO) run --locked -q -p attestor -- crd --output-dir crds
	cp crds/*.yaml charts/attestor-operator/crds/

# The Helm chart against KUBECONFIG or the local control plane (see e2e/chart.sh).
chart-test:
	e2e/with-cluster.sh e2e/chart.sh

chart-check:
	e2e/chart.sh

docs:
	$(CARGO) run --locked -q -p attestor-api --example write_docs

bench:
	$(CARGO) bench --locked -p attestor-core --bench verify
	$(CARGO) bench --locked -p attestor-core --bench hostile
	CARGO=$(CARGO) e2e/bench-sigstore.sh

bench-replay: ; $(CARGO) run --release --locked -p attestor-runtime --example bench_replay

COUNT ?= 5000
bench-operator:
	e2e/with-cluster.sh e2e/bench-operator.sh $(COUNT)

bench-webhook:
	$(CARGO) run --release --locked -p attestor-runtime --example bench_webhook

# Discovery against a local registry with 50 ms per request: digests/s, requests per digest,
# and admission p99 with and without discovery running (e2e/bench-registry.sh).
bench-registry:
	e2e/bench-registry.sh
