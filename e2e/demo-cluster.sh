#!/usr/bin/env bash
# e2e/demo-cluster.sh: the operator against a cluster, with the examples applied.
#
# Uses the cluster of KUBECONFIG, or starts the local control plane (building it from Go modules
# the first time, ~20 minutes on 2 cores). Applies crds/ and examples/, runs `attestor run`,
# waits for the verifications to settle, prints `kubectl get` of every kind and the
# `kubectl describe` of a failing ProofVerification. In a terminal it then keeps the operator
# running until Ctrl-C; either way it stops what it started.
set -Euo pipefail
cd "$(dirname "$0")/.."
bin=${ATTESTOR_BIN:-target/debug/attestor}
[[ -x $bin ]] || { echo "demo: $bin not built (make cli)" >&2; exit 2; }

started_cluster= operator_pid=
stop() {
  trap - EXIT INT TERM
  if [[ -n $operator_pid ]]; then
    echo "demo: stopping the operator"
    kill -TERM "$operator_pid" 2>/dev/null; wait "$operator_pid" 2>/dev/null
  fi
  [[ -n ${store:-} ]] && rm -rf "$store"
  if [[ -n $started_cluster ]]; then
    echo "demo: stopping the local control plane"
    e2e/cluster.sh down >/dev/null
  fi
}
trap stop EXIT
trap 'exit 130' INT TERM

if [[ -z ${KUBECONFIG:-} ]]; then
  if ! e2e/cluster.sh status >/dev/null 2>&1; then
    echo "demo: starting the local control plane (the first time it is built from Go modules: ~20 minutes)"
    e2e/cluster.sh up >/dev/null || { echo "demo: the control plane did not start" >&2; exit 1; }
    started_cluster=1
  fi
  export KUBECONFIG=$PWD/e2e/kubeconfig
fi
echo "demo: cluster $(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')"

kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
kubectl wait --for=condition=Established --timeout=60s -f crds/ >/dev/null
kubectl apply --server-side --force-conflicts -f examples/ >/dev/null
echo "demo: applied crds/ and examples/"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log=${DEMO_LOG:-$(mktemp -t attestor-demo.XXXXXX.log)}
# --allow-file-stores: the demo ReplayJob reads a snapshot store in a local directory.
"$bin" run --leader-elect=false --webhook=false --allow-file-stores=true --probe-address "127.0.0.1:$port" >"$log" 2>&1 &
operator_pid=$!
echo "demo: operator running (pid $operator_pid, metrics http://127.0.0.1:$port/metrics, log $log)"

# Settled: every ProofVerification has a Verified condition that is not Unknown, except the one
# whose URL cannot be reached, which only needs its first attempt.
for _ in $(seq 120); do
  pending=$(kubectl get proofverifications -A -o jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Verified")].status}{"\n"}{end}' | grep -cv '=True$\|=False$' || true)
  [[ $pending -eq 0 ]] && break
  sleep 1
done

# A ReplayJob against a local snapshot store holding the inputs the example bundles were scored
# from: every minute, and once right away (run-now).
store=$(mktemp -d -t attestor-demo-store.XXXXXX)
digest=$(kubectl get proofverification -n shop cart -o jsonpath='{.spec.artifactDigest}')
"$bin" score --sbom examples/inputs/sbom.cdx.json --feed examples/inputs/feed.json \
  --vex examples/inputs/vex.json --policy examples/inputs/policy.json --artifact "$digest" \
  --key examples/keys/test-only-signing.pem --output "$store/demo.zip" --store "$store" >/dev/null
kubectl apply -f - >/dev/null <<YAML
apiVersion: attestor.stellaops.io/v1alpha1
kind: ReplayJob
metadata:
  name: demo-every-minute
  namespace: shop
  annotations: {attestor.stellaops.io/run-now: demo}
spec:
  schedule: "* * * * *"
  selector: {matchLabels: {app.kubernetes.io/part-of: shop}}
  store: {url: "file://$store"}
  skipUnchanged: false
YAML
kubectl wait -n shop replayjob/demo-every-minute --timeout=60s --for=jsonpath='{.status.lastRun.result}'=Succeeded >/dev/null 2>&1 || true

for kind in trustanchors trustedissuers proofverifications replayjobs; do
  printf '\n$ kubectl get %s -A\n' "$kind"
  kubectl get "$kind" -A
done
printf '\n$ kubectl describe proofverification -n shop cart-tampered-signature\n'
kubectl describe proofverification -n shop cart-tampered-signature
printf '\n$ kubectl describe replayjob -n shop demo-every-minute\n'
kubectl describe replayjob -n shop demo-every-minute | sed -n '/^Status:/,$p'
printf '\n$ kubectl get events -n shop --field-selector involvedObject.kind=ProofVerification\n'
kubectl get events -n shop --field-selector involvedObject.kind=ProofVerification --sort-by=.lastTimestamp 2>/dev/null | tail -n 8

if [[ -t 0 && -z ${DEMO_NO_WAIT:-} ]]; then
  printf '\ndemo: the operator keeps running: try kubectl against KUBECONFIG=%s. Ctrl-C stops everything.\n' "$KUBECONFIG"
  wait "$operator_pid"
fi
