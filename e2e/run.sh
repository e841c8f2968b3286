#!/usr/bin/env bash
# e2e/run.sh: the end-to-end suite. Asserts what a user sees with kubectl.
#
# Runs against whatever cluster KUBECONFIG points at (kind in hosted CI), or
# against the local control plane's e2e/kubeconfig when KUBECONFIG is unset.
# It creates only objects named in crds/ and examples/, and removes the
# example objects again when it ends (the CRDs stay, like any installation).
set -Euo pipefail
cd "$(dirname "$0")/.."

if [[ -z ${KUBECONFIG:-} ]]; then
  if [[ -f e2e/kubeconfig ]]; then
    export KUBECONFIG=$PWD/e2e/kubeconfig
  else
    echo "e2e: no cluster: set KUBECONFIG or run 'make cluster-up'" >&2
    exit 2
  fi
fi

pass=0 fail=0
ok() { pass=$((pass + 1)); printf '  ok    %s\n' "$1"; }
bad() { fail=$((fail + 1)); printf '  FAIL  %s\n' "$1"; [[ -n ${2:-} ]] && printf '%s\n' "$2" | sed 's/^/        /'; }
section() { printf '\n== %s\n' "$1"; }

operator_pid=
cleanup() {
  if [[ -n $operator_pid ]]; then kill -TERM "$operator_pid" 2>/dev/null; wait "$operator_pid" 2>/dev/null; fi
  kubectl delete --ignore-not-found --wait=false -f examples/ >/dev/null 2>&1 || true
}
trap cleanup EXIT

section "cluster"
if out=$(kubectl version -o json 2>&1); then
  ok "API server answers ($(printf '%s' "$out" | sed -n 's/.*"gitVersion": "\([^"]*\)".*/\1/p' | tail -n1))"
else
  bad "API server answers" "$out"; exit 1
fi

section "custom resource definitions"
if out=$(kubectl apply --server-side --force-conflicts -f crds/ 2>&1); then ok "kubectl apply --server-side -f crds/"; else bad "apply crds" "$out"; fi
for crd in crds/*.yaml; do
  name=$(sed -n 's/^  name: \(.*\)$/\1/p' "$crd" | head -n1)
  if out=$(kubectl wait --for=condition=Established --timeout=60s "crd/$name" 2>&1); then ok "$name established"; else bad "$name established" "$out"; fi
done

section "examples"
if out=$(kubectl apply --server-side --force-conflicts -f examples/ 2>&1); then
  ok "kubectl apply --server-side -f examples/ ($(printf '%s\n' "$out" | wc -l) objects)"
else
  bad "apply examples" "$out"
fi

# kubectl get shows the printer columns a user relies on.
expect_columns() { # <resource> <column>...
  local resource=$1; shift
  local header
  header=$(kubectl get "$resource" -A 2>&1 | head -n1)
  local missing=()
  for col in "$@"; do [[ $header == *"$col"* ]] || missing+=("$col"); done
  if [[ ${#missing[@]} -eq 0 ]]; then ok "kubectl get $resource shows $*"; else bad "kubectl get $resource columns (missing ${missing[*]})" "$header"; fi
}
expect_columns trustanchors READY "KEY ID" ALGORITHM EXPIRES AGE
expect_columns trustedissuers TRUSTED ISSUER KEYS AGE
expect_columns proofverifications VERIFIED REASON DIGEST ISSUER AGE
expect_columns replayjobs SCHEDULE SUSPEND "LAST RUN" DRIFTED AGE
if out=$(kubectl get attestor -A 2>&1) && [[ $out == *trustanchor* || $out == *TrustAnchor* || $out == *"trustanchor."* ]]; then
  ok "kubectl get attestor lists every kind"
else
  bad "kubectl get attestor lists every kind" "$out"
fi

section "the operator"
# An operator installed in the cluster (the Helm chart on kind) is used as it is; otherwise the
# locally built binary runs against KUBECONFIG for the length of the suite.
metrics_url=
if [[ -n $(kubectl get deployments -A -l app.kubernetes.io/name=attestor-operator -o name 2>/dev/null) ]]; then
  ok "operator installed in the cluster"
else
  bin=${ATTESTOR_BIN:-target/debug/attestor}
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  oplog=$(mktemp -t attestor-e2e-operator.XXXXXX.log)
  if [[ -x $bin ]]; then
    "$bin" run --leader-elect=false --webhook=false --probe-address "127.0.0.1:$port" >"$oplog" 2>&1 &
    operator_pid=$!
    metrics_url=http://127.0.0.1:$port/metrics
    for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
    if curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then ok "$bin run is ready (log $oplog)"; else bad "$bin run is ready" "$(tail -n 20 "$oplog")"; fi
  else
    bad "operator binary $bin exists (cargo build -p attestor)"
  fi
fi

# expect_condition <kind/name> <namespace or -> <type> <status> <reason>
expect_condition() {
  local obj=$1 ns=$2 type=$3 status=$4 reason=$5 nsflag=() out
  [[ $ns != - ]] && nsflag=(-n "$ns")
  if out=$(kubectl wait "${nsflag[@]}" "$obj" --timeout=90s \
      --for=jsonpath="{.status.conditions[?(@.type==\"$type\")].reason}=$reason" 2>&1) &&
     [[ $(kubectl get "${nsflag[@]}" "$obj" -o jsonpath="{.status.conditions[?(@.type==\"$type\")].status}") == "$status" ]]; then
    ok "$obj: $type=$status $reason"
  else
    bad "$obj: $type=$status $reason" "$out
$(kubectl get "${nsflag[@]}" "$obj" -o jsonpath='{.status.conditions}' 2>&1)"
  fi
}
# expect_describe <kind/name> <namespace or -> <phrase>...: kubectl describe shows each phrase.
expect_describe() {
  local obj=$1 ns=$2; shift 2
  local nsflag=() out missing=()
  [[ $ns != - ]] && nsflag=(-n "$ns")
  out=$(kubectl describe "${nsflag[@]}" "$obj" 2>&1)
  for phrase in "$@"; do [[ $out == *"$phrase"* ]] || missing+=("$phrase"); done
  if [[ ${#missing[@]} -eq 0 ]]; then ok "kubectl describe $obj shows: $*"; else bad "kubectl describe $obj lacks: ${missing[*]}" "$out"; fi
}

expect_condition trustanchor/example-ci-signing-2026 - Ready True Valid
expect_condition trustanchor/example-ci-signing-2024 - Ready False Expired
expect_describe trustanchor/example-ci-signing-2024 - Expired "add its successor as a new TrustAnchor"
expect_condition trustanchor/example-root-ca - Ready True Valid
expect_condition trustedissuer/example-ci - Trusted True Approved
expect_condition trustedissuer/example-vendor-unapproved - Trusted False ApprovalMissing
expect_describe trustedissuer/example-vendor-unapproved - ApprovalMissing "set spec.approval.approvedBy"
expect_condition proofverification/cart shop Verified True Verified
expect_condition proofverification/cart-inline-envelope shop Verified True Verified
expect_condition proofverification/cart-tampered-signature shop Verified False SignatureInvalid
expect_condition proofverification/cart-tampered-signature shop SignatureValid False SignatureInvalid
# The on-call view: the reason, what to do next, and the Event, all in kubectl describe.
expect_describe proofverification/cart-tampered-signature shop "SignatureInvalid" "Next: treat the bundle as tampered" "VerificationFailed"
expect_condition proofverification/cart-expired-key shop Verified False KeyExpired
expect_describe proofverification/cart-expired-key shop "KeyExpired" "expired at 2025-03-31" "Next: re-sign the proof with a current key"
expect_condition proofverification/cart-from-url shop Verified False SourceUnavailable
out=$(kubectl get proofverifications -n shop 2>&1)
if [[ $(printf '%s\n' "$out" | awk '$1=="cart-tampered-signature"{print $2, $3}') == "False SignatureInvalid" ]]; then
  ok "kubectl get proofverifications shows VERIFIED False, REASON SignatureInvalid"
else
  bad "kubectl get proofverifications columns" "$out"
fi
if [[ -n $metrics_url ]]; then
  out=$(curl -fs "$metrics_url" 2>&1)
  missing=()
  for m in 'proof_verification_total{' proof_verification_failures_total proof_verification_success_rate proof_verification_duration_seconds_bucket proof_bundle_size_bytes_bucket attestor_reconcile_total; do
    [[ $out == *"$m"* ]] || missing+=("$m")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then ok "/metrics exports the runbook's verification metrics"; else bad "/metrics lacks ${missing[*]}"; fi
fi

section "invalid objects are refused with a message that says what to fix"
for f in examples/invalid/*.yaml; do
  [[ -e $f ]] || { bad "examples/invalid/ holds invalid examples"; break; }
  expect=$(sed -n 's/^# expect: //p' "$f" | head -n1)
  if out=$(kubectl apply --server-side --dry-run=server -f "$f" 2>&1); then
    bad "$f is refused" "accepted: $out"
  elif [[ $out == *"$expect"* ]]; then
    ok "$(basename "$f"): $expect"
  else
    bad "$(basename "$f") says \"$expect\"" "$out"
  fi
done

printf '\ne2e: %d passed, %d failed\n' "$pass" "$fail"
[[ $fail -eq 0 ]]
