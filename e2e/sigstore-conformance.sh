#!/usr/bin/env bash
# Runs the offline verification cases of the public sigstore-conformance suite
# (operator/sigstore/tests/data/sigstore-conformance/cases, Apache-2.0) through
# `attestor verify --trusted-root`, and prints "N passed, M failed".
# A case passes when the verdict matches its name: `*_fail` cases must not verify.
# Usage: e2e/sigstore-conformance.sh [path/to/attestor]   (default: target/debug/attestor)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/attestor}
data=operator/sigstore/tests/data/sigstore-conformance
cases=$data/cases
default_identity="https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
default_issuer="https://token.actions.githubusercontent.com"
passed=0
failed=0
failures=()
for dir in "$cases"/*/; do
  name=$(basename "$dir")
  root=$data/trusted_root.public-good.json
  [[ -f $dir/trusted_root.json ]] && root=$dir/trusted_root.json
  artifact=$cases/a.txt
  [[ -f $dir/artifact ]] && artifact=$dir/artifact
  args=(verify --bundle "$dir/bundle.sigstore.json" --trusted-root "$root" --artifact-file "$artifact")
  if [[ -f $dir/key.pub ]]; then
    args+=(--public-key "$dir/key.pub")
  elif [[ $name == managed-key-* ]]; then
    # A key-signed bundle without the key: the verifier must refuse it.
    args+=(--certificate-identity "$default_identity" --certificate-oidc-issuer "$default_issuer")
  else
    identity=$default_identity
    issuer=$default_issuer
    [[ -f $dir/identity ]] && identity=$(cat "$dir/identity")
    [[ -f $dir/issuer ]] && issuer=$(cat "$dir/issuer")
    args+=(--certificate-identity "$identity" --certificate-oidc-issuer "$issuer")
  fi
  set +e
  output=$("$bin" "${args[@]}" 2>&1)
  code=$?
  set -e
  if [[ $name == *_fail ]]; then
    want="fail"
    ok=$([[ $code -ne 0 ]] && echo yes || echo no)
  else
    want="verify"
    ok=$([[ $code -eq 0 ]] && echo yes || echo no)
  fi
  if [[ $ok == yes ]]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("$name (expected to $want, exit $code): $(echo "$output" | grep -m1 -E 'Result|error' || true)")
  fi
done
for f in "${failures[@]}"; do echo "FAIL $f"; done
echo "sigstore-conformance: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
