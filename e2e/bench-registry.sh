#!/usr/bin/env bash
# e2e/bench-registry.sh [DIGESTS] [CONCURRENCY] [REVIEWS_PER_SECOND]: `make bench-registry`.
# Starts a referrers registry of its own (refreg from e2e/tools.sh, cached in ~/.cache/attestor)
# on a free loopback port with 50 ms added to every request, runs the bench_registry example
# against it (operator/runtime/examples/bench_registry.rs says what is measured), and stops it.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
bin=$(e2e/tools.sh path)
work=$(mktemp -d -t attestor-bench-registry.XXXXXX)
"$bin/refreg" -addr 127.0.0.1:0 -addr-file "$work/addr" -latency "${ATTESTOR_BENCH_LATENCY:-50ms}" \
    >"$work/refreg.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [[ -s $work/addr ]] && break; sleep 0.1; done
[[ -s $work/addr ]] || { cat "$work/refreg.log" >&2; echo "bench-registry: refreg did not start" >&2; exit 1; }
ATTESTOR_BENCH_REGISTRY=$(<"$work/addr") \
    cargo run --release --locked -q -p attestor-runtime --example bench_registry -- "$@"
