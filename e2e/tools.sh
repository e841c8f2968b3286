#!/usr/bin/env bash
# e2e/tools.sh: the Go test tools of the registry tests, built from their pinned Go module
# (e2e/go/tools) into ~/.cache/attestor/tools/<registry>-<cosign>/bin once, like the
# control plane (e2e/cluster.sh): distribution's `registry` (no referrers API), `cosign`,
# `refreg` (an in-memory registry with the OCI referrers API, e2e/go/tools/refreg), and
# go-tuf's `tuf` CLI (makes the TUF repositories of operator/runtime/tests/tuf.rs) and
# `sigstorebench` (sigstore-go's verifications per second, e2e/bench-sigstore.sh).
#
#   e2e/tools.sh build            build the set unless cached (prints the build time)
#   e2e/tools.sh path             build if needed; print the bin directory
#   e2e/tools.sh run TOOL ARGS... build if needed; run registry, cosign, refreg, tuf or sigstorebench
#   e2e/tools.sh versions         the pinned versions
#
# A `.tools.fingerprint` next to the binaries holds a hash of go.mod, go.sum, the sources
# of the module's own tools and the ldflags; when it differs the set is rebuilt. A `.lock`
# (flock) lets worktrees share the cache. ATTESTOR_CACHE_DIR overrides ~/.cache/attestor,
# ATTESTOR_REBUILD=1 forces a rebuild, GO the go binary.
set -Eeuo pipefail

E2E_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
readonly E2E_DIR MOD_DIR=$E2E_DIR/go/tools
readonly TOOLS=(registry cosign refreg tuf sigstorebench)
readonly PKGS=(github.com/distribution/distribution/v3/cmd/registry github.com/sigstore/cosign/v3/cmd/cosign ./refreg github.com/theupdateframework/go-tuf/cmd/tuf ./sigstorebench)
readonly OWN=(refreg sigstorebench)    # the module's own tools: their sources are fingerprinted

log() { printf '[%(%H:%M:%S)T] tools: %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

mod_version() { # <module>: the version e2e/go/tools/go.mod requires
    local v
    v=$(awk -v m="$1" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$MOD_DIR/go.mod")
    [[ -n $v ]] || die "$MOD_DIR/go.mod does not require $1"
    printf '%s\n' "$v"
}

REGISTRY_VERSION=$(mod_version github.com/distribution/distribution/v3)
COSIGN_VERSION=$(mod_version github.com/sigstore/cosign/v3)
readonly REGISTRY_VERSION COSIGN_VERSION
CACHE_ROOT=${ATTESTOR_CACHE_DIR:-${HOME:?HOME or ATTESTOR_CACHE_DIR must be set}/.cache/attestor}
readonly BIN_DIR=$CACHE_ROOT/tools/registry-$REGISTRY_VERSION-cosign-$COSIGN_VERSION/bin

# The version cosign and the registry report (`cosign version`, `registry --version`).
readonly LDFLAGS="-s -w -X sigs.k8s.io/release-utils/version.gitVersion=$COSIGN_VERSION -X sigs.k8s.io/release-utils/version.gitTreeState=clean -X github.com/distribution/distribution/v3/version.version=$REGISTRY_VERSION"

find_go() {
    if [[ -n ${GO:-} ]]; then printf '%s\n' "$GO"
    elif command -v go >/dev/null 2>&1; then command -v go
    elif [[ -x /usr/local/go/bin/go ]]; then printf '%s\n' /usr/local/go/bin/go
    else die "go not found (set GO=/path/to/go); needed to build the test tools once"
    fi
}

# What the set is built from (comments and blank lines of go.mod do not count, nor tests).
fingerprint() {
    {
        grep -Ev '^[[:space:]]*(//.*)?$' "$MOD_DIR/go.mod"
        cat "$MOD_DIR/go.sum"
        local d f
        for d in "${OWN[@]}"; do
            for f in "$MOD_DIR/$d"/*.go; do
                [[ $f == *_test.go ]] || { printf '%s\n' "$d/${f##*/}"; cat "$f"; }
            done
        done
        printf '%s\n' "$LDFLAGS"
    } | sha256sum | cut -d' ' -f1
}

elapsed() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

cached() { # the set is there and built from what the checkout pins
    local t
    [[ -z ${ATTESTOR_REBUILD:-} && -r $BIN_DIR/.tools.fingerprint ]] || return 1
    [[ $(<"$BIN_DIR/.tools.fingerprint") == "$(fingerprint)" ]] || return 1
    for t in "${TOOLS[@]}"; do [[ -x $BIN_DIR/$t ]] || return 1; done
}

BUILD_PID=
build() {
    cached && return 0
    mkdir -p "$BIN_DIR"
    exec 8>"$BIN_DIR/.lock"
    if ! flock -n 8; then
        log "waiting for another build in $BIN_DIR to finish"
        flock 8
    fi
    if cached; then exec 8>&-; return 0; fi
    rm -rf "$BIN_DIR"/.build-*    # left by an interrupted build
    local go tmp blog want start=$SECONDS last=$SECONDS rc=0 t
    go=$(find_go)
    want=$(fingerprint)
    tmp=$(mktemp -d "$BIN_DIR/.build-XXXXXX")
    blog=$tmp/build.log
    log "building registry $REGISTRY_VERSION, cosign $COSIGN_VERSION, refreg, tuf and sigstorebench with $("$go" env GOVERSION) (go build log: $blog)"
    (
        cd "$MOD_DIR"
        # -mod=readonly: exactly the committed go.mod/go.sum.
        exec nice -n 10 env CGO_ENABLED=0 GOTOOLCHAIN=local GOWORK=off GOFLAGS= \
            "$go" build -v -mod=readonly -trimpath -buildvcs=false -ldflags "$LDFLAGS" -o "$tmp/" "${PKGS[@]}"
    ) >"$blog" 2>&1 8>&- &
    BUILD_PID=$!
    while kill -0 "$BUILD_PID" 2>/dev/null; do
        sleep 2
        if (( SECONDS - last >= 30 )); then
            last=$SECONDS
            log "  ... $(elapsed $((SECONDS - start))) elapsed, $(grep -vc '^go: ' "$blog" || true) packages compiled so far"
        fi
    done
    wait "$BUILD_PID" || rc=$?
    BUILD_PID=
    if (( rc != 0 )); then
        tail -n 40 "$blog" >&2
        die "building the test tools failed (exit $rc); full log: $blog"
    fi
    for t in "${TOOLS[@]}"; do mv -f "$tmp/$t" "$BIN_DIR/$t"; done
    printf '%s\n' "$want" >"$BIN_DIR/.tools.fingerprint"
    rm -rf "$tmp"
    exec 8>&-
    log "built ${TOOLS[*]} in $(elapsed $((SECONDS - start))) (load average now $(cut -d' ' -f1-3 /proc/loadavg)): $BIN_DIR"
}

on_signal() {
    [[ -z $BUILD_PID ]] || kill -TERM "$BUILD_PID" 2>/dev/null || true
    log "interrupted"
    exit 130
}
trap on_signal INT TERM

case ${1:-} in
    build) [[ $# -eq 1 ]] || die "usage: e2e/tools.sh build"; build
           cached && log "ready: $BIN_DIR (${TOOLS[*]})" ;;
    path) [[ $# -eq 1 ]] || die "usage: e2e/tools.sh path"; build; printf '%s\n' "$BIN_DIR" ;;
    run)
        [[ $# -ge 2 ]] || die "usage: e2e/tools.sh run registry|cosign|refreg|sigstorebench ARGS..."
        [[ " ${TOOLS[*]} " == *" $2 "* ]] || die "unknown tool $2 (one of: ${TOOLS[*]})"
        build
        t=$2; shift 2
        exec "$BIN_DIR/$t" "$@" ;;
    versions) printf 'registry %s\ncosign %s\n' "$REGISTRY_VERSION" "$COSIGN_VERSION" ;;
    *) sed -n '2,15s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
esac
