#!/usr/bin/env bash
# e2e/helm.sh: build helm from its pinned Go module (e2e/go/helm/go.mod) into
# ~/.cache/attestor/helm/<version>/helm once, then print its path.
#
#   e2e/helm.sh            build if not cached; print the binary's path
#   e2e/helm.sh -- ARGS    build if not cached; run helm ARGS
#
# ATTESTOR_CACHE_DIR overrides ~/.cache/attestor; GO the go binary.
set -Eeuo pipefail

E2E_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
readonly MOD_DIR=$E2E_DIR/go/helm
readonly PKG=helm.sh/helm/v4/cmd/helm

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

VERSION=$(awk '$1 == "helm.sh/helm/v4" && $2 ~ /^v/ { print $2; exit }' "$MOD_DIR/go.mod")
[[ -n $VERSION ]] || die "$MOD_DIR/go.mod does not require helm.sh/helm/v4"
CACHE_ROOT=${ATTESTOR_CACHE_DIR:-${HOME:?HOME or ATTESTOR_CACHE_DIR must be set}/.cache/attestor}
readonly OUT_DIR=$CACHE_ROOT/helm/$VERSION
readonly HELM=$OUT_DIR/helm

find_go() {
    if [[ -n ${GO:-} ]]; then printf '%s\n' "$GO"
    elif command -v go >/dev/null 2>&1; then command -v go
    elif [[ -x /usr/local/go/bin/go ]]; then printf '%s\n' /usr/local/go/bin/go
    else die "go not found (set GO=/path/to/go); needed to build helm once"
    fi
}

build() {
    mkdir -p "$OUT_DIR"
    exec 9>"$OUT_DIR/.lock"
    flock 9    # one build at a time per cache (parallel worktrees share it)
    [[ -x $HELM ]] && return 0
    local go tmp start=$SECONDS
    go=$(find_go)
    tmp=$(mktemp -d "$OUT_DIR/.build.XXXXXX")
    log "building helm $VERSION with $("$go" env GOVERSION) (log: $OUT_DIR/build.log)"
    local v=helm.sh/helm/v4/internal/version
    if ! (cd "$MOD_DIR" && nice -n 10 env CGO_ENABLED=0 GOTOOLCHAIN=local GOWORK=off GOFLAGS= \
        "$go" build -mod=readonly -trimpath -buildvcs=false \
        -ldflags "-s -w -X $v.version=$VERSION -X $v.gitTreeState=clean" \
        -o "$tmp/helm" "$PKG") >"$OUT_DIR/build.log" 2>&1; then
        tail -n 40 "$OUT_DIR/build.log" >&2
        rm -rf "$tmp"
        die "building helm failed; full log: $OUT_DIR/build.log"
    fi
    mv "$tmp/helm" "$HELM"
    rm -rf "$tmp"
    log "built helm $VERSION in $((SECONDS - start))s: $HELM"
}

[[ -x $HELM ]] || build
if [[ ${1:-} == -- ]]; then
    shift
    exec "$HELM" "$@"
fi
printf '%s\n' "$HELM"
