#!/usr/bin/env bash
# e2e/bench-operator.sh [COUNT]: COUNT (default 5000) ProofVerifications applied at once against the
# cluster of KUBECONFIG (run it through e2e/with-cluster.sh for the local control plane), verified
# by a release build of `attestor run`. Prints the time until all are Verified=True, the API
# requests the operator made, and its peak RSS.
set -Euo pipefail
cd "$(dirname "$0")/.."
count=${1:-5000}
ns=bench-operator
: "${KUBECONFIG:?run through e2e/with-cluster.sh or set KUBECONFIG}"

cargo build --release --locked -q -p attestor -p attestor-runtime --example bench_operator
bin=target/release/attestor
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log=$(mktemp -t attestor-bench.XXXXXX.log)

kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
kubectl wait --for=condition=Established --timeout=60s -f crds/ >/dev/null
kubectl apply --server-side --force-conflicts -f examples/10-trustanchors.yaml -f examples/20-trustedissuers.yaml >/dev/null
kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
# The ConfigMap of example bundles, moved to the benchmark's namespace.
sed -n '/^kind: ConfigMap/,/^---/p' examples/30-proofverifications.yaml | sed '/^---/d' \
  | sed "s/^  namespace: shop$/  namespace: $ns/" | sed '1i apiVersion: v1' | kubectl apply --server-side -f - >/dev/null
digest=$(sed -n 's/^  artifactDigest: //p' examples/30-proofverifications.yaml | head -n1)

RUST_LOG=warn "$bin" run --leader-elect=false --webhook=false --probe-address "127.0.0.1:$port" >"$log" 2>&1 &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
}
trap cleanup EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done

echo "bench-operator: $count ProofVerifications against $(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}'), operator pid $pid, $(nproc) cores"
target/release/examples/bench_operator "$ns" "$count" "$pid" "http://127.0.0.1:$port/metrics" "$digest"
rc=$?
[[ $rc -eq 0 ]] || { echo "operator log: $log"; tail -n 20 "$log"; }
exit $rc
