#!/usr/bin/env bash
# e2e/registry-smoke.sh: the test tools do what users do, offline. Against both local
# registries (e2e/registry.sh: distribution without the referrers API, refreg with it), it
# pushes the e2e workload image (target/images/app.tar, e2e/image.sh node) to three
# repositories, and with real cosign and a fresh key pair signs and attests (SLSA v1
# provenance) it in cosign v3's new Sigstore bundle format (OCI referrers; the fallback tag
# on the plain registry), in the legacy `sha256-<hex>.sig` / `.att` tags, and in both;
# `cosign verify` and `verify-attestation` must succeed for each, and what the registry
# holds is printed (e2e/registry_inspect.py) and checked. Then a key with an X.509
# certificate from a local CA (legacy .sig and bundle, verified by identity and issuer), and
# refreg's token auth with injected 429s. Any failure exits non-zero.
#
#   e2e/registry-smoke.sh [--save DIR]    DIR: keep the key pair and every manifest and blob
#
# Uses running registries (e2e/registry.sh up), else starts them and stops them afterwards.
# Nothing leaves the machine: cosign runs with --tlog-upload=false --use-signing-config=false
# (no Rekor, no TUF signing config), a private TUF_ROOT, and an HTTPS proxy on a closed
# port, so that any attempt to reach the internet fails instead of passing silently.
set -Eeuo pipefail

E2E_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd -- "$E2E_DIR/.." && pwd -P)
readonly E2E_DIR ROOT

log() { printf '[%(%H:%M:%S)T] smoke: %s\n' -1 "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

SAVE=
case ${1:-} in
    --save) [[ $# -eq 2 ]] || die "usage: $0 [--save DIR]"; SAVE=$(mkdir -p "$2" && cd "$2" && pwd -P) ;;
    "") ;;
    *) sed -n '2,18s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
esac

BIN=$("$E2E_DIR/tools.sh" path)
COSIGN=$BIN/cosign
WORK=$(mktemp -d "${TMPDIR:-/tmp}/attestor-registry-smoke.XXXXXX")
started= AUTH_PID=
cleanup() {
    local rc=$?
    if [[ -n $AUTH_PID ]]; then kill "$AUTH_PID" 2>/dev/null; wait "$AUTH_PID" 2>/dev/null; fi
    if [[ -n $started ]]; then "$E2E_DIR/registry.sh" down || rc=1; fi
    rm -rf "$WORK"
    if (( rc == 0 )); then log "passed"; else log "FAILED (exit $rc)"; fi
    exit "$rc"
}
trap cleanup EXIT

if ! "$E2E_DIR/registry.sh" status >/dev/null 2>&1; then
    "$E2E_DIR/registry.sh" up
    started=1
fi
eval "$("$E2E_DIR/registry.sh" env)"

APP=$ROOT/target/images/app.tar
[[ -r $APP ]] || "$E2E_DIR/image.sh" node >/dev/null
OCIIMAGE=$("$E2E_DIR/image.sh" tool)   # before HOME changes (Go's and our caches are under it)

# cosign, offline: its own TUF cache (never ~/.sigstore), no ambient credentials, and
# every outgoing HTTPS request to a closed port (the registries are plain HTTP on
# loopback/private addresses and bypass the proxy).
export HOME=$WORK/home TUF_ROOT=$WORK/tuf COSIGN_PASSWORD= COSIGN_YES=true DOCKER_CONFIG=$WORK/docker
export HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 http_proxy=http://127.0.0.1:9
export NO_PROXY=${ATTESTOR_REGISTRY_PLAIN%:*},${ATTESTOR_REGISTRY_REFERRERS%:*} no_proxy=${ATTESTOR_REGISTRY_PLAIN%:*},${ATTESTOR_REGISTRY_REFERRERS%:*}
mkdir -p "$HOME" "$DOCKER_CONFIG"
echo '{}' >"$DOCKER_CONFIG/config.json"
unset SIGSTORE_ID_TOKEN ACTIONS_ID_TOKEN_REQUEST_URL ACTIONS_ID_TOKEN_REQUEST_TOKEN

run() { # <what> <command>...: run, show its output on failure, fail loudly
    local out
    if ! out=$("$@" 2>&1); then
        printf '%s\n' "$out" | sed 's/^/    /' >&2
        die "$*"
    fi
    [[ -z ${SMOKE_VERBOSE:-} ]] || printf '%s\n' "$out" | sed 's/^/    /' >&2
    LAST_OUT=$out
}

cd "$WORK"
run "$COSIGN" generate-key-pair
[[ -r cosign.key && -r cosign.pub ]] || die "cosign generate-key-pair wrote no key pair"
log "cosign $("$COSIGN" version 2>/dev/null | awk '/GitVersion/ { print $2 }'): key pair generated (ECDSA P-256, cosign.key encrypted with an empty password)"
cat >predicate.json <<'EOF'
{
  "buildDefinition": {
    "buildType": "https://attestor.local/e2e/registry-smoke/v1",
    "externalParameters": {"source": "git+https://example.invalid/attestor@refs/heads/main"},
    "internalParameters": {},
    "resolvedDependencies": []
  },
  "runDetails": {
    "builder": {"id": "https://attestor.local/e2e/registry-smoke"},
    "metadata": {"invocationId": "registry-smoke"}
  }
}
EOF
if [[ -n $SAVE ]]; then cp cosign.key cosign.pub predicate.json "$SAVE/"; fi

REG_FLAGS=(--allow-http-registry --allow-insecure-registry)
SIGN_FLAGS=(--key cosign.key --tlog-upload=false --use-signing-config=false "${REG_FLAGS[@]}")
VERIFY_FLAGS=(--key cosign.pub --insecure-ignore-tlog=true "${REG_FLAGS[@]}")

checked=0
for kind in plain referrers; do
    if [[ $kind == plain ]]; then host=$ATTESTOR_REGISTRY_PLAIN; else host=$ATTESTOR_REGISTRY_REFERRERS; fi
    for format in bundle legacy both; do
        repo=smoke/$format
        run "$OCIIMAGE" push "$APP" "$host/$repo:1"
        ref=$(tail -n 1 <<<"$LAST_OUT")
        [[ $ref == "$host/$repo@sha256:"* ]] || die "push printed $ref"
        digest=${ref#*@}
        log "$kind $host: pushed $ref"
        case $format in
            bundle) fmts=(true) ;;
            legacy) fmts=(false) ;;
            both) fmts=(false true) ;;
        esac
        for nbf in "${fmts[@]}"; do
            run "$COSIGN" sign "${SIGN_FLAGS[@]}" --new-bundle-format="$nbf" "$ref"
            run "$COSIGN" attest "${SIGN_FLAGS[@]}" --new-bundle-format="$nbf" \
                --type slsaprovenance1 --predicate predicate.json "$ref"
            run "$COSIGN" verify "${VERIFY_FLAGS[@]}" --new-bundle-format="$nbf" "$ref"
            grep -q '"critical"' <<<"$LAST_OUT" || die "cosign verify printed no signature payload"
            run "$COSIGN" verify-attestation "${VERIFY_FLAGS[@]}" --new-bundle-format="$nbf" \
                --type slsaprovenance1 "$ref"
            log "$kind/$format: signed, attested, verified (new bundle format: $nbf)"
            checked=$((checked + 1))
        done
        # Verified with the wrong key: must fail.
        if [[ ! -r other.pub ]]; then
            COSIGN_PASSWORD= "$COSIGN" generate-key-pair --output-key-prefix other >/dev/null 2>&1 ||
                die "cosign generate-key-pair --output-key-prefix other failed"
        fi
        if "$COSIGN" verify --key other.pub --insecure-ignore-tlog=true "${REG_FLAGS[@]}" "$ref" >/dev/null 2>&1; then
            die "cosign verify with another key succeeded for $ref"
        fi
        args=("$host" "$repo" "$digest" --expect "$format" --kind "$kind")
        [[ -z $SAVE ]] || args+=(--save "$SAVE/$kind/$format")
        python3 "$E2E_DIR/registry_inspect.py" "${args[@]}" || die "$kind/$format: the registry does not hold what cosign should have written"
        [[ -z $SAVE ]] || printf '%s\n' "$ref" >"$SAVE/$kind/$format/image-ref"
    done
done
(( checked == 8 )) || die "only $checked of 8 sign/attest/verify rounds ran"
log "8 sign + attest + verify rounds over 2 registries x {bundle, legacy, both}: all verified offline"

# Signed with a key and an X.509 certificate from a local CA (what keyless signing stores,
# minus Fulcio and Rekor): the legacy .sig carries dev.sigstore.cosign/certificate, the bundle
# an x509CertificateChain; verified against the CA with an identity and an issuer.
ident=https://github.com/example/app/.github/workflows/release.yml@refs/tags/v1.0.0
issuer=https://token.actions.githubusercontent.com
run openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -sha256 -days 30 \
    -keyout ca.key -out ca.pem -subj "/O=attestor-e2e/CN=attestor-e2e-smoke-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign"
run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out leaf.key
# The OIDC issuer in both of Fulcio's extensions: v1 (…57264.1.1) raw, v2 (…1.8) a DER
# UTF8String; cosign v3.1.3 reads the v1 one (with only v2 it sees an empty issuer).
{
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n'
    printf 'subjectAltName=critical,URI:%s\n' "$ident"
    printf '1.3.6.1.4.1.57264.1.1=DER:%s\n' "$(printf %s "$issuer" | od -An -tx1 | tr -d ' \n')"
    printf '1.3.6.1.4.1.57264.1.8=ASN1:UTF8String:%s\n' "$issuer"
} >leaf.ext
run openssl req -new -key leaf.key -subj /O=attestor-e2e -out leaf.csr
run openssl x509 -req -sha256 -days 30 -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -extfile leaf.ext -out leaf.pem
run "$COSIGN" import-key-pair --key leaf.key --output-key-prefix leaf-cosign
CERT_FLAGS=(--key leaf-cosign.key --certificate leaf.pem --certificate-chain ca.pem
    --tlog-upload=false --use-signing-config=false "${REG_FLAGS[@]}")
CERT_VERIFY=(--ca-roots ca.pem --certificate-identity "$ident" --certificate-oidc-issuer "$issuer"
    --insecure-ignore-sct --insecure-ignore-tlog=true "${REG_FLAGS[@]}")
for host in "$ATTESTOR_REGISTRY_PLAIN" "$ATTESTOR_REGISTRY_REFERRERS"; do
    run "$OCIIMAGE" push "$APP" "$host/smoke/certificate:1"
    ref=$(tail -n 1 <<<"$LAST_OUT")
    for nbf in false true; do
        run "$COSIGN" sign "${CERT_FLAGS[@]}" --new-bundle-format="$nbf" "$ref"
        run "$COSIGN" verify "${CERT_VERIFY[@]}" --new-bundle-format="$nbf" "$ref"
        if "$COSIGN" verify "${CERT_VERIFY[@]/$ident/https://example.invalid/other}" --new-bundle-format="$nbf" "$ref" >/dev/null 2>&1; then
            die "cosign verify accepted another identity for $ref"
        fi
    done
    hexd=${ref#*@sha256:}
    sig=$(curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
        "http://$host/v2/smoke/certificate/manifests/sha256-$hexd.sig") || die "no .sig manifest for $ref"
    grep -q '"dev.sigstore.cosign/certificate":"-----BEGIN CERTIFICATE-----' <<<"$sig" ||
        die "the .sig manifest of $ref has no dev.sigstore.cosign/certificate annotation: $sig"
    args=("$host" smoke/certificate "${ref#*@}")
    [[ -z $SAVE ]] || { args+=(--save "$SAVE/certificate/$host"); mkdir -p "$SAVE/certificate"; cp ca.pem leaf.pem "$SAVE/certificate/"; }
    python3 "$E2E_DIR/registry_inspect.py" "${args[@]}" || die "inspecting $ref failed"
    log "certificate-signed (local CA) .sig and bundle on $host: verified with identity and issuer"
done

# refreg's test knobs against the same real clients: the Docker token flow (credentials
# from the docker config, as users log in) and a 429 with Retry-After: 1 on every 4th
# read, which go-containerregistry (under both cosign and ociimage) retries.
"$BIN/refreg" -addr 127.0.0.1:0 -addr-file "$WORK/auth.addr" -token-auth -htpasswd smoke:s3cret \
    -fail-every 4 >"$WORK/refreg-auth.log" 2>&1 &
AUTH_PID=$!
for _ in $(seq 50); do [[ -s $WORK/auth.addr ]] && break; sleep 0.1; done
[[ -s $WORK/auth.addr ]] || { cat "$WORK/refreg-auth.log" >&2; die "refreg -token-auth did not start"; }
auth=$(<"$WORK/auth.addr")
code=$(curl -sS -o /dev/null -w '%{http_code}' "http://$auth/v2/smoke/auth/manifests/1")
[[ $code == 401 ]] || die "refreg -token-auth answered $code without credentials, want 401"
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$auth" "$(printf smoke:s3cret | base64)" >"$DOCKER_CONFIG/config.json"
run "$OCIIMAGE" push "$APP" "$auth/smoke/auth:1"
ref=$(tail -n 1 <<<"$LAST_OUT")
run "$COSIGN" sign "${SIGN_FLAGS[@]}" "$ref"
run "$COSIGN" attest "${SIGN_FLAGS[@]}" --type slsaprovenance1 --predicate predicate.json "$ref"
run "$COSIGN" verify "${VERIFY_FLAGS[@]}" "$ref"
run "$COSIGN" verify-attestation "${VERIFY_FLAGS[@]}" --type slsaprovenance1 "$ref"
echo '{}' >"$DOCKER_CONFIG/config.json"
if "$COSIGN" verify "${VERIFY_FLAGS[@]}" "$ref" >/dev/null 2>&1; then
    die "cosign verify succeeded against refreg -token-auth without credentials"
fi
stats=$(curl -sS "http://$auth/_refreg/stats")
python3 - "$stats" <<'PY' || die "refreg -token-auth -fail-every 4: unexpected request counts: $stats"
import json, sys
s = json.loads(sys.argv[1])
assert s["failed"] > 0 and s["challenged"] > 0 and s["byKind"].get("GET token", 0) > 0, s
PY
log "token auth + 429 on every 4th read: pushed, signed, attested, verified through the retries ($stats)"
