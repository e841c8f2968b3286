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

cleanup() {
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
