#!/usr/bin/env bash
# e2e/image.sh: container images built with no container engine and no base image.
#
#   e2e/image.sh operator     the operator image: static musl `attestor` (cargo build
#                             --release) + e2e/image/operator.rootfs ->
#                             target/images/attestor.tar (OCI layout + docker manifest)
#   e2e/image.sh node         the node's pause image and the e2e workload image ->
#                             target/images/{pause,app}.tar
#   e2e/image.sh app FILE NAME [K=V...]  the workload image with K=V in its config's Env, so
#                             with a digest of its own (after `node`); prints its digest
#   e2e/image.sh check FILE   FILE (an archive of ours, or `docker save` of the
#                             Dockerfile's image) holds exactly operator.rootfs
#   e2e/image.sh ls FILE      the flattened filesystem of an image archive
#   e2e/image.sh push FILE REF  push an archive's image to a registry unchanged (same digest);
#                             prints REF@digest (plain HTTP to loopback/private addresses)
#   e2e/image.sh tool         build the assembling tool (e2e/go/tools/ociimage) if needed; print its path
#
# Each build prints "<name> <manifest digest>" and writes it to target/images/<x>.ref.
# Same inputs, same digest: one layer, fixed mtimes, fixed config.
# ATTESTOR_CACHE_DIR overrides ~/.cache/attestor (where the tool is cached); GO the go binary.
set -Eeuo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
readonly ROOT MOD_DIR=$ROOT/e2e/go/tools SPEC_DIR=$ROOT/e2e/image OUT=$ROOT/target/images
readonly OPERATOR_NAME=${ATTESTOR_IMAGE_NAME:-attestor.local/attestor:dev}
readonly PAUSE_NAME=attestor.local/pause:1 APP_NAME=attestor.local/e2e-app:1
readonly MUSL_TARGET=x86_64-unknown-linux-musl
readonly CA_BUNDLE=${ATTESTOR_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
CACHE_ROOT=${ATTESTOR_CACHE_DIR:-${HOME:?HOME or ATTESTOR_CACHE_DIR must be set}/.cache/attestor}

log() { printf '[%(%H:%M:%S)T] image: %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

find_go() {
    if [[ -n ${GO:-} ]]; then printf '%s\n' "$GO"
    elif command -v go >/dev/null 2>&1; then command -v go
    elif [[ -x /usr/local/go/bin/go ]]; then printf '%s\n' /usr/local/go/bin/go
    else die "go not found (set GO=/path/to/go); needed to build e2e/go/tools/ociimage once"
    fi
}

# The tool (package ociimage of the test tools' module, e2e/go/tools), cached under a hash
# of its source and the module's go.mod/go.sum.
tool() {
    local fp dir bin go start=$SECONDS
    fp=$(cat "$MOD_DIR/go.mod" "$MOD_DIR/go.sum" "$MOD_DIR"/ociimage/*.go | sha256sum | cut -c1-16)
    dir=$CACHE_ROOT/ociimage/$fp
    bin=$dir/ociimage
    if [[ ! -x $bin ]]; then
        mkdir -p "$dir"
        exec 7>"$dir/.lock"
        flock 7
        if [[ ! -x $bin ]]; then
            go=$(find_go)
            (cd "$MOD_DIR" && nice -n 10 env CGO_ENABLED=0 GOTOOLCHAIN=local GOWORK=off GOFLAGS= \
                "$go" build -mod=readonly -trimpath -buildvcs=false -ldflags "-s -w" -o "$bin.tmp" ./ociimage) \
                >"$dir/build.log" 2>&1 || { tail -n 30 "$dir/build.log" >&2; die "building e2e/go/tools/ociimage failed"; }
            mv "$bin.tmp" "$bin"
            log "built $bin in $((SECONDS - start))s"
        fi
        exec 7>&-
    fi
    printf '%s\n' "$bin"
}

assemble() { # <out base name> <image name> <spec> <ociimage build args>...
    local base=$1 name=$2 spec=$3 digest ociimage
    shift 3
    ociimage=$(tool)
    mkdir -p "$OUT"
    digest=$("$ociimage" build -spec "$spec" -name "$name" -out "$OUT/$base.tar" "$@") ||
        die "assembling $name failed"
    printf '%s %s\n' "$name" "$digest" | tee "$OUT/$base.ref"
}

cmd_operator() {
    local start=$SECONDS bin=$ROOT/target/$MUSL_TARGET/release/attestor hdr
    [[ -r $CA_BUNDLE ]] || die "$CA_BUNDLE not found: install Debian's ca-certificates package"
    command -v musl-gcc >/dev/null || die "musl-gcc not found: install Debian's musl-tools package"
    # No line tables: the image strips them anyway, and not generating them makes this cold
    # build (the longest of the images) faster. The Dockerfile sets the same.
    log "cargo build --release --target $MUSL_TARGET -p attestor (CARGO_PROFILE_RELEASE_DEBUG=false)"
    (cd "$ROOT" && CARGO_PROFILE_RELEASE_DEBUG=false cargo build --release --locked --target "$MUSL_TARGET" -p attestor) >&2
    # Static, so the image needs no libc: refuse a dynamically linked binary.
    if hdr=$(LC_ALL=C readelf -l "$bin" 2>/dev/null) && [[ $hdr == *"Requesting program interpreter"* ]]; then
        die "$bin is dynamically linked"
    fi
    # --strip-debug, as the Dockerfile: symbols stay, the release profile's line tables go.
    mkdir -p "$OUT"
    objcopy --strip-debug "$bin" "$OUT/attestor.bin" || die "objcopy --strip-debug $bin failed"
    # The Dockerfile's ENV, USER, WORKDIR, ENTRYPOINT and CMD are the same.
    assemble attestor "$OPERATOR_NAME" "$SPEC_DIR/operator.rootfs" \
        -set attestor="$OUT/attestor.bin" -set ca-certificates="$CA_BUNDLE" \
        -entrypoint /attestor -cmd run -user 65532:65532 -workdir /home/nonroot \
        -env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        -env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
    cmd_check "$OUT/attestor.tar" >&2
    log "operator image: $OUT/attestor.tar ($(du -h "$OUT/attestor.tar" | cut -f1), $((SECONDS - start))s)"
}

cmd_node() {
    local pause=$OUT/pause.bin
    mkdir -p "$OUT"
    command -v gcc >/dev/null || die "gcc not found (Debian's gcc and libc6-dev build the static pause binary)"
    gcc -static -Os -s -o "$pause.tmp" "$SPEC_DIR/pause.c" || die "gcc -static failed"
    mv "$pause.tmp" "$pause"
    assemble pause "$PAUSE_NAME" "$SPEC_DIR/pause.rootfs" -set pause="$pause" -entrypoint /pause
    assemble app "$APP_NAME" "$SPEC_DIR/app.rootfs" -set pause="$pause" -entrypoint /bin/sleeper
}

# A variant of the workload image (e2e/run.sh signs some and not others): the same files,
# K=V in the config's Env, so a digest of its own. Writes FILE, prints the digest.
cmd_app() { # <file> <name> [K=V]...
    local file=${1:?usage: e2e/image.sh app FILE NAME [K=V...]} name=${2:?usage: e2e/image.sh app FILE NAME [K=V...]} kv envs=()
    shift 2
    [[ -x $OUT/pause.bin ]] || die "$OUT/pause.bin not found: run e2e/image.sh node first"
    for kv in "$@"; do
        [[ $kv == ?*=* ]] || die "$kv: want K=V"
        envs+=(-env "$kv")
    done
    "$(tool)" build -spec "$SPEC_DIR/app.rootfs" -name "$name" -out "$file" -set pause="$OUT/pause.bin" \
        -entrypoint /bin/sleeper "${envs[@]}" || die "assembling $name failed"
}

# What operator.rootfs says the filesystem is, in `ociimage ls` form minus size and
# hash for the files that come from the build machine ({key} sources).
expected_listing() {
    local typ path mode uid gid src
    while read -r typ path mode uid gid src; do
        [[ -z $typ || $typ == \#* ]] && continue
        if [[ $typ == f && $src != \{* ]]; then
            printf '%s %04o %s:%s %s %s %s\n' f "$((8#$mode))" "$uid" "$gid" \
                "$(stat -c %s "$SPEC_DIR/$src")" "$(sha256sum <"$SPEC_DIR/$src" | cut -d' ' -f1)" "$path"
        elif [[ $typ == f ]]; then
            printf '%s %04o %s:%s * * %s\n' f "$((8#$mode))" "$uid" "$gid" "$path"
        else
            printf '%s %04o %s:%s 0 - %s\n' d "$((8#$mode))" "$uid" "$gid" "$path"
        fi
    done <"$SPEC_DIR/operator.rootfs" | sort -k6
}

cmd_check() { # <archive>
    local file=${1:?usage: e2e/image.sh check FILE} got want
    got=$("$(tool)" ls "$file") || die "cannot read $file"
    # / itself: root's, 0755, whether the layer lists it or not (docker's do not always).
    if [[ $got == *$'\n'"d "*" /"$'\n'* || $got == "d "*" /"$'\n'* ]]; then
        grep -qx 'd 0755 0:0 0 - /' <<<"$got" || die "$file: / is not a root-owned 0755 directory"
        got=$(grep -vx 'd [0-7]* [0-9]*:[0-9]* 0 - /' <<<"$got")
    fi
    want=$(expected_listing)
    # Sizes and hashes of the binary and CA bundle depend on where they were built.
    got=$(awk 'NR==FNR { if ($4 == "*") wild[$6] = 1; next }
               ($6 in wild) { $4 = "*"; $5 = "*" } { print }' <(printf '%s\n' "$want") - <<<"$got")
    if [[ $got != "$want" ]]; then
        diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | sed 's/^/  /' >&2 || true
        die "$file does not hold exactly e2e/image/operator.rootfs (< expected, > found)"
    fi
    log "$file holds exactly e2e/image/operator.rootfs ($(wc -l <<<"$got") entries)"
}

case ${1:-} in
    operator) cmd_operator ;;
    node) cmd_node ;;
    app) shift; cmd_app "$@" ;;
    check) shift; cmd_check "$@" ;;
    ls) shift; [[ $# -eq 1 ]] || die "usage: e2e/image.sh ls FILE"; exec "$(tool)" ls "$1" ;;
    push) shift; [[ $# -eq 2 ]] || die "usage: e2e/image.sh push FILE REF"; exec "$(tool)" push "$1" "$2" ;;
    tool) tool ;;
    *) sed -n '2,20s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
esac
