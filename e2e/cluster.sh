#!/usr/bin/env bash
# e2e/cluster.sh: a real local Kubernetes cluster for tests and demos: etcd +
# kube-apiserver + kube-controller-manager, and with ATTESTOR_E2E_NODE=1 one
# node (kube-scheduler, kubelet, containerd over runc, bridge CNI in a network
# namespace of its own; e2e/node.sh), built from pinned Go modules. See e2e/README.md.
#
#   e2e/cluster.sh up         build the binaries if not cached, start, wait ready
#   e2e/cluster.sh down       stop what `up` started, remove what it made
#   e2e/cluster.sh status     what runs; exit non-zero unless everything is up
#   e2e/cluster.sh env        print `export KUBECONFIG=...`
#   e2e/cluster.sh build      only build/cache the binaries (e.g. a CI warm-up step)
#   e2e/cluster.sh load F...  import image archives (e2e/image.sh) into the node
#   e2e/cluster.sh trust-registries [HOST:PORT...]
#                             the node's containerd pulls from exactly these registries over plain
#                             HTTP (e2e/registry.sh up/down --host node call it); no argument: none
#   e2e/cluster.sh leftovers  list what of this checkout's cluster is on the machine; exit 1 if any
set -Eeuo pipefail

E2E_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
readonly E2E_DIR
readonly GO_DIR=$E2E_DIR/go
readonly RUN_DIR=$E2E_DIR/.run
readonly PID_DIR=$RUN_DIR/pids
readonly LOG_DIR=$RUN_DIR/logs
readonly PKI_DIR=$RUN_DIR/pki
readonly KUBECONFIG_PATH=$E2E_DIR/kubeconfig
readonly CONTROL_PLANE=(etcd kube-apiserver kube-controller-manager)
COMPONENTS=("${CONTROL_PLANE[@]}")   # plus NODE_COMPONENTS when the node is up
ROOT_DIR=$(cd -- "$E2E_DIR/.." && pwd -P)
readonly ROOT_DIR

READY_TIMEOUT=${ATTESTOR_E2E_READY_TIMEOUT:-180}   # seconds, per wait
STOP_TIMEOUT=${ATTESTOR_E2E_STOP_TIMEOUT:-15}      # seconds before SIGKILL
SERVICE_CIDR=${ATTESTOR_E2E_SERVICE_CIDR:-10.0.0.0/24}
SERVICE_IP=${ATTESTOR_E2E_SERVICE_IP:-10.0.0.1}     # first IP of SERVICE_CIDR

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    sed -n '2,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit 2
}

# --- versions (go.mod is the single source of truth) -----------------------

mod_version() { # <go.mod> <module>: the version the go.mod requires
    local v
    v=$(awk -v m="$2" '($1 == m && $2 ~ /^v/) || ($1 == "require" && $2 == m) { print ($1 == "require" ? $3 : $2); exit }' "$1")
    [[ -n $v ]] || die "$1 does not require $2"
    printf '%s\n' "$v"
}

K8S_VERSION=$(mod_version "$GO_DIR/kube/go.mod" k8s.io/kubernetes)
ETCD_VERSION=$(mod_version "$GO_DIR/etcd/go.mod" go.etcd.io/etcd/server/v3)
readonly K8S_VERSION ETCD_VERSION
CACHE_ROOT=${ATTESTOR_CACHE_DIR:-${HOME:?HOME or ATTESTOR_CACHE_DIR must be set}/.cache/attestor}
readonly BIN_DIR=$CACHE_ROOT/control-plane/$K8S_VERSION-$ETCD_VERSION/bin

bin_path() {
    local n
    for n in "${NODE_COMPONENTS[@]}"; do
        [[ $n == "$1" ]] && { node_bin "$1"; return; }
    done
    printf '%s/%s\n' "$BIN_DIR" "$1"
}

# The node: kube-scheduler, containerd and the kubelet (ATTESTOR_E2E_NODE=1).
# shellcheck source=e2e/node.sh
source "$E2E_DIR/node.sh"
APISERVER_HOST=127.0.0.1   # HOST_IP when the node runs (its netns reaches the host there)

# --- building ----------------------------------------------------------------

find_go() {
    if [[ -n ${GO:-} ]]; then printf '%s\n' "$GO"
    elif command -v go >/dev/null 2>&1; then command -v go
    elif [[ -x /usr/local/go/bin/go ]]; then printf '%s\n' /usr/local/go/bin/go
    else die "go not found (set GO=/path/to/go); needed to build the control plane once"
    fi
}

# Fingerprint of what a binary set is built from; a mismatch rebuilds it.
# Comments and blank lines in go.mod do not count, so editing them does not
# cost a rebuild.
fingerprint() { # <module dir> <ldflags>
    {
        grep -Ev '^[[:space:]]*(//.*)?$' "$1/go.mod"
        cat "$1/go.sum"
        printf '%s\n' "$2"
    } | sha256sum | cut -d' ' -f1
}

BUILD_PID=
BUILD_TAGS=        # go build -tags of the set being built
SET_DIR=           # where build_set puts the set (default: BIN_DIR)
# Runs `go build -v` in the background, printing a timestamped heartbeat.
go_build() { # <label> <module dir> <out dir> <ldflags> <package>...
    local label=$1 dir=$2 out=$3 ldflags=$4
    shift 4
    local go blog start last rc=0 tags=()
    go=$(find_go)
    [[ -z $BUILD_TAGS ]] || tags=(-tags "$BUILD_TAGS")
    blog=$out/build.log
    start=$SECONDS
    last=$SECONDS
    log "building $label with $("$go" env GOVERSION) (go build log: $blog)"
    (
        cd "$dir"
        # -mod=readonly: exactly the committed go.mod/go.sum, never edited.
        exec nice -n 10 env CGO_ENABLED=0 GOTOOLCHAIN=local GOWORK=off GOFLAGS= \
            "$go" build -v -mod=readonly -trimpath -buildvcs=false "${tags[@]}" \
            -ldflags "$ldflags" -o "$out/" "$@"
    ) >"$blog" 2>&1 &
    BUILD_PID=$!
    while kill -0 "$BUILD_PID" 2>/dev/null; do
        sleep 2
        if (( SECONDS - last >= 30 )); then
            last=$SECONDS
            log "  ... $label: $(elapsed $((SECONDS - start))) elapsed, $(grep -vc '^go: ' "$blog" || true) packages compiled so far"
        fi
    done
    wait "$BUILD_PID" || rc=$?
    BUILD_PID=
    if (( rc != 0 )); then
        tail -n 40 "$blog" >&2
        die "building $label failed (exit $rc); full log: $blog"
    fi
    log "built $label in $(elapsed $((SECONDS - start)))"
}

# The file name `go build -o DIR/` gives a main package: its last path element,
# or the one before a major-version suffix (go.etcd.io/etcd/server/v3 -> server).
go_out_name() {
    local base=${1##*/}
    if [[ $base =~ ^v[0-9]+$ ]]; then
        base=${1%/*}
        base=${base##*/}
    fi
    printf '%s\n' "$base"
}

elapsed() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

build_set() { # <set name> <module dir> <ldflags> <binary>=<package>...
    local set=$1 dir=$2 ldflags=$3
    shift 3
    local want have="" spec bins=() pkgs=() missing=0 tmp out=${SET_DIR:-$BIN_DIR}
    want=$(fingerprint "$dir" "$ldflags${BUILD_TAGS:+ tags=$BUILD_TAGS}")
    [[ -r $out/.$set.fingerprint ]] && have=$(<"$out/.$set.fingerprint")
    for spec in "$@"; do
        bins+=("${spec%%=*}")
        pkgs+=("${spec#*=}")
        [[ -x $out/${spec%%=*} ]] || missing=1
    done
    if (( missing == 0 )) && [[ $want == "$have" ]] && [[ -z ${ATTESTOR_REBUILD:-} ]]; then
        return 0
    fi
    if [[ $ldflags == *@BUILD_DATE@* ]]; then
        ldflags=${ldflags//@BUILD_DATE@/${ATTESTOR_K8S_BUILD_DATE:-$(k8s_release_date)}}
    fi
    tmp=$(mktemp -d "$out/.build-$set.XXXXXX")
    go_build "${bins[*]}" "$dir" "$tmp" "$ldflags" "${pkgs[@]}"
    for spec in "$@"; do
        mv -f "$tmp/$(go_out_name "${spec#*=}")" "$out/${spec%%=*}"
    done
    printf '%s\n' "$want" >"$out/.$set.fingerprint"
    rm -rf "$tmp"
}

build() {
    mkdir -p "$BIN_DIR"
    # One build at a time per cache (parallel worktrees/CI jobs share it).
    exec 8>"$BIN_DIR/.lock"
    if ! flock -n 8; then
        log "waiting for another build in $BIN_DIR to finish"
        flock 8
    fi
    local started=$SECONDS
    rm -rf "$BIN_DIR"/.build-*    # left by an interrupted build

    # The same -X flags as upstream's hack/lib/version.sh, so `kubectl version`
    # and /version report the pinned release. The build date is the release's
    # module timestamp (reproducible). gitCommit stays empty: the module zip
    # does not carry it (unset, it would read "$Format:%H$").
    local minor major ldk=(-s -w) pkg
    major=${K8S_VERSION#v}; major=${major%%.*}
    minor=${K8S_VERSION#v*.}; minor=${minor%%.*}
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ldk+=(-X "$pkg.gitVersion=$K8S_VERSION" -X "$pkg.gitMajor=$major" -X "$pkg.gitMinor=$minor"
              -X "$pkg.gitTreeState=clean" -X "$pkg.buildDate=@BUILD_DATE@" -X "$pkg.gitCommit=")
    done
    build_set etcd "$GO_DIR/etcd" "-s -w" etcd=go.etcd.io/etcd/server/v3
    build_set kube "$GO_DIR/kube" "${ldk[*]}" \
        kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver \
        kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager
    if (( SECONDS - started > 1 )); then
        log "binaries ready in $BIN_DIR ($(elapsed $((SECONDS - started))))"
    fi
    exec 8>&-
    if node_wanted; then node_build "${ldk[@]}"; fi
}

# Release date of the pinned k8s.io/kubernetes, from the Go module cache's
# .info file (always present once the module is downloaded).
k8s_release_date() {
    local go info
    go=$(find_go)
    info=$(cd "$GO_DIR/kube" && GOTOOLCHAIN=local GOWORK=off GOFLAGS=-mod=readonly \
        "$go" mod download -json "k8s.io/kubernetes@$K8S_VERSION") || die "go mod download k8s.io/kubernetes@$K8S_VERSION failed"
    info=$(sed -n 's/^[[:space:]]*"Info": "\([^"]*\)".*/\1/p' <<<"$info")
    [[ -r $info ]] || die "no .info file for k8s.io/kubernetes@$K8S_VERSION"
    info=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$info")
    [[ -n $info ]] || die "no release time for k8s.io/kubernetes@$K8S_VERSION"
    printf '%s\n' "$info"
}

# --- pki -----------------------------------------------------------------------

# openssl, quietly; on failure show what it said.
ossl() {
    local out
    out=$(openssl "$@" 2>&1) || { printf '%s\n' "$out" >&2; die "openssl $1 failed"; }
}

new_ca() { # <name> <CN>
    ossl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -sha256 -days 3650 \
        -keyout "$PKI_DIR/$1.key" -out "$PKI_DIR/$1.crt" -subj "/CN=$2" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,digitalSignature,keyCertSign"
}

new_cert() { # <name> <ca> <subject> <extendedKeyUsage> [subjectAltName]
    local name=$1 ca=$2 subj=$3 eku=$4 san=${5:-} ext=$PKI_DIR/$1.ext
    {
        echo "basicConstraints=critical,CA:FALSE"
        echo "keyUsage=critical,digitalSignature"
        echo "extendedKeyUsage=$eku"
        [[ -z $san ]] || echo "subjectAltName=$san"
    } >"$ext"
    ossl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -sha256 -subj "$subj" \
        -keyout "$PKI_DIR/$name.key" -out "$PKI_DIR/$name.csr"
    ossl x509 -req -sha256 -days 3650 -in "$PKI_DIR/$name.csr" \
        -CA "$PKI_DIR/$ca.crt" -CAkey "$PKI_DIR/$ca.key" -CAcreateserial \
        -extfile "$ext" -out "$PKI_DIR/$name.crt"
    rm -f "$PKI_DIR/$name.csr" "$ext"
}

gen_pki() {
    mkdir -p "$PKI_DIR"
    new_ca ca attestor-e2e-ca
    new_ca etcd-ca attestor-e2e-etcd-ca
    new_ca front-proxy-ca attestor-e2e-front-proxy-ca
    new_cert apiserver ca "/CN=kube-apiserver" serverAuth \
        "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:$SERVICE_IP${NODE:+,IP:$HOST_IP}"
    new_cert admin ca "/O=system:masters/CN=attestor-e2e-admin" clientAuth
    new_cert controller-manager ca "/CN=system:kube-controller-manager" clientAuth
    if [[ -n $NODE ]]; then
        new_cert scheduler ca "/CN=system:kube-scheduler" clientAuth
        new_cert kubelet ca "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
        new_cert apiserver-kubelet-client ca "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
    fi
    new_cert etcd-server etcd-ca "/CN=etcd" serverAuth "DNS:localhost,IP:127.0.0.1"
    new_cert apiserver-etcd-client etcd-ca "/CN=kube-apiserver-etcd-client" clientAuth
    new_cert front-proxy-client front-proxy-ca "/CN=front-proxy-client" clientAuth
    # RSA for the ServiceAccount key: RS256 is what every token consumer supports.
    ossl genrsa -out "$PKI_DIR/sa.key" 2048
    ossl rsa -in "$PKI_DIR/sa.key" -pubout -out "$PKI_DIR/sa.pub"
}

write_kubeconfig() { # <path> <client cert name> <user>
    local b64=(base64 -w0)
    cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: attestor-e2e
  cluster:
    server: https://$APISERVER_HOST:$APISERVER_PORT
    certificate-authority-data: $("${b64[@]}" <"$PKI_DIR/ca.crt")
users:
- name: $3
  user:
    client-certificate-data: $("${b64[@]}" <"$PKI_DIR/$2.crt")
    client-key-data: $("${b64[@]}" <"$PKI_DIR/$2.key")
contexts:
- name: attestor-e2e
  context:
    cluster: attestor-e2e
    user: $3
current-context: attestor-e2e
EOF
    chmod 600 "$1"
}

# --- ports ---------------------------------------------------------------------

port_busy() { # <port>
    if command -v ss >/dev/null 2>&1; then
        [[ -n $(ss -Htan "( sport = :$1 )" 2>/dev/null) ]]
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
    fi
}

TAKEN_PORTS=" "
# Sets <var> to a free port: the one in the environment variable <env name>
# (which must be free), else a random free one below the kernel's ephemeral
# range, so that outgoing connections do not grab it before we bind it.
pick_port() { # <var> <env name>
    local want=${!2:-} p i lo=20000 hi=32767 range
    if [[ -n $want ]]; then
        if ! [[ $want =~ ^[0-9]+$ ]] || (( want < 1 || want > 65535 )); then
            die "$2=$want is not a port"
        fi
        port_busy "$want" && die "$2=$want: port is already in use"
        TAKEN_PORTS+="$want "
        printf -v "$1" '%s' "$want"
        return
    fi
    if range=$(cat /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null); then
        range=${range%%[[:space:]]*}
        if (( range > lo + 1000 )); then hi=$((range - 1)); else lo=10000 hi=$((range - 1)); fi
        (( hi > lo )) || { lo=20000 hi=32767; }
    fi
    for ((i = 0; i < 500; i++)); do
        p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1)))
        [[ $TAKEN_PORTS == *" $p "* ]] && continue
        port_busy "$p" && continue
        TAKEN_PORTS+="$p "
        printf -v "$1" '%s' "$p"
        return
    done
    die "found no free port in $lo-$hi"
}

# --- processes -----------------------------------------------------------------

# Field 22 of /proc/PID/stat: start time in clock ticks since boot. Together
# with the PID it identifies one process (a PID alone can be reused).
proc_start() {
    local stat f
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }    # skip "pid (comm) ": comm may contain spaces
    read -r -a f <<<"$stat"
    printf '%s\n' "${f[19]}"
}

proc_state() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    printf '%s\n' "${stat%% *}"
}

# The PID recorded for <component> if it is still that very process: same
# start time, and its executable is the binary we started (named after the
# component). Prints the PID.
live_pid() { # <component>
    local file=$PID_DIR/$1 pid start exe cur cur_exe state
    [[ -r $file ]] || return 1
    read -r pid start exe <"$file" || return 1
    [[ $pid =~ ^[0-9]+$ && ${exe##*/} == "$1" ]] || return 1
    cur=$(proc_start "$pid") || return 1
    [[ $cur == "$start" ]] || return 1
    cur_exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
    [[ ${cur_exe% (deleted)} == "$exe" ]] || return 1
    state=$(proc_state "$pid") || return 1
    [[ $state != Z && $state != X ]] || return 1
    printf '%s\n' "$pid"
}

start_component() { # <component> <args>...
    local name=$1 exe pid start i
    shift
    exe=$(readlink -f "$(bin_path "$name")")   # as /proc/PID/exe shows it
    # setsid: its own session, so the terminal's or CI step's signals don't
    # reach it and it outlives this script. 8>&- 9>&-: it must not inherit
    # (and so hold forever) the build or up/down lock.
    # shellcheck disable=SC2086 # WRAP: a command prefix (nsenter into the node netns)
    setsid ${WRAP:-} "$exe" "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null 8>&- 9>&- &
    pid=$!
    # Wait for the exec to happen before recording the process identity.
    for ((i = 0; i < 50; i++)); do
        [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$exe" ]] && break
        sleep 0.1
    done
    start=$(proc_start "$pid") || fail_start "$name" "exited immediately"
    printf '%s %s %s\n' "$pid" "$start" "$exe" >"$PID_DIR/$name"
    log "started $name (pid $pid, log $LOG_DIR/$name.log)"
}

fail_start() { # <component> <why>
    log "$1 $2; last lines of $LOG_DIR/$1.log:"
    tail -n 30 "$LOG_DIR/$1.log" >&2 || true
    die "$1 did not start; the logs stay in $LOG_DIR until the next up/down"
}

stop_component() { # <component>
    local name=$1 pid i
    if pid=$(live_pid "$name"); then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
            live_pid "$name" >/dev/null || break
            sleep 0.1
        done
        if live_pid "$name" >/dev/null; then
            log "$name (pid $pid) ignored SIGTERM for ${STOP_TIMEOUT}s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            for ((i = 0; i < 50; i++)); do
                live_pid "$name" >/dev/null || break
                sleep 0.1
            done
            live_pid "$name" >/dev/null && die "$name (pid $pid) survived SIGKILL"
        fi
        wait_reaped "$name" "$pid"
        log "stopped $name (pid $pid)"
    elif [[ -e $PID_DIR/$name ]]; then
        log "$name: recorded process is gone (or the PID now belongs to another program); not touching it"
    fi
    rm -f "$PID_DIR/$name"
}

# A dead process stays listed (as a zombie) until its parent reaps it: here
# init or a subreaper, as the `up` that started it has exited. Give it a
# moment, so that right after `down` no etcd/kube-* process is listed at all.
wait_reaped() { # <component> <pid>
    local i state
    for ((i = 0; i < 100; i++)); do
        state=$(proc_state "$2") || return 0
        [[ $state == Z || $state == X ]] || return 0   # PID reused: not ours
        sleep 0.1
    done
    log "$1 (pid $2) is dead but not yet reaped by its parent (pid $(ps -o ppid= -p "$2" 2>/dev/null || echo '?'))"
}

# --- health --------------------------------------------------------------------

api_get() { # <path>: GET from the API server as admin
    curl -fsS --max-time 5 --cacert "$PKI_DIR/ca.crt" \
        --cert "$PKI_DIR/admin.crt" --key "$PKI_DIR/admin.key" \
        "https://$APISERVER_HOST:$APISERVER_PORT$1"
}

wait_for() { # <component> <what> <command>...
    local name=$1 what=$2 deadline=$((SECONDS + READY_TIMEOUT))
    shift 2
    until "$@" >/dev/null 2>&1; do
        live_pid "$name" >/dev/null || fail_start "$name" "exited while waiting for $what"
        (( SECONDS < deadline )) || fail_start "$name" "not ready: no $what after ${READY_TIMEOUT}s"
        sleep 0.5
    done
}

etcd_healthy() {
    [[ $(curl -fsS --max-time 5 --cacert "$PKI_DIR/etcd-ca.crt" \
        --cert "$PKI_DIR/apiserver-etcd-client.crt" --key "$PKI_DIR/apiserver-etcd-client.key" \
        "https://127.0.0.1:$ETCD_PORT/health") == *'"health":"true"'* ]]
}
apiserver_ready() { [[ $(api_get /readyz) == ok ]]; }
kcm_healthy() { [[ $(curl -ksS --max-time 5 "https://127.0.0.1:$KCM_PORT/healthz") == ok ]]; }
default_sa_exists() { api_get /api/v1/namespaces/default/serviceaccounts/default; }

# --- state ---------------------------------------------------------------------

load_ports() {
    [[ -r $RUN_DIR/ports ]] || return 1
    # shellcheck source=/dev/null
    source "$RUN_DIR/ports"
    if [[ -n ${NODE:-} ]]; then
        APISERVER_HOST=$HOST_IP
        COMPONENTS=("${CONTROL_PLANE[@]}" "${NODE_COMPONENTS[@]}")
    fi
}

all_running() {
    local c
    for c in "${COMPONENTS[@]}"; do live_pid "$c" >/dev/null || return 1; done
}

# The cluster's run state: e2e/.run minus registry/, which e2e/registry.sh owns (its
# registries may run with or without the cluster). registry-node/ (the registries on the
# node's HOST_IP) is e2e/registry.sh's too, but lives only as long as the node: `down`
# stops them first.
cluster_state() {
    [[ -d $RUN_DIR ]] || return 0
    find "$RUN_DIR" -mindepth 1 -maxdepth 1 ! -name registry
}

any_state() {
    [[ -n $(cluster_state) || -e $KUBECONFIG_PATH ]]
}

# --- commands ------------------------------------------------------------------

cmd_up() {
    local t0=$SECONDS
    command -v openssl >/dev/null || die "openssl is required"
    command -v curl >/dev/null || die "curl is required"
    command -v setsid >/dev/null || die "setsid (util-linux) is required"
    [[ -d /proc/self ]] || die "needs Linux /proc"
    load_ports || true
    if all_running && { [[ -n ${NODE:-} ]] || ! node_wanted; }; then
        log "already running (kube-apiserver https://$APISERVER_HOST:${APISERVER_PORT:-?}${NODE:+, node $NODE_NAME}); KUBECONFIG=$KUBECONFIG_PATH"
        return 0
    fi
    if any_state; then
        log "found stale run state from an earlier up; cleaning it"
        cmd_down
    fi

    NODE=
    if node_wanted; then
        node_preflight
        NODE=1 APISERVER_HOST=$HOST_IP
        COMPONENTS=("${CONTROL_PLANE[@]}" "${NODE_COMPONENTS[@]}")
    fi
    build
    local etcd apiserver kcm
    etcd=$(bin_path etcd)
    apiserver=$(bin_path kube-apiserver)
    kcm=$(bin_path kube-controller-manager)
    [[ -x $etcd && -x $apiserver && -x $kcm ]] || die "binaries missing in $BIN_DIR"

    # Anything started from here on is stopped again if up fails.
    trap 'rc=$?; if (( rc != 0 )); then log "up failed; stopping what it started"; stop_all; fi' EXIT

    local old_umask
    old_umask=$(umask)
    umask 077
    mkdir -p "$PID_DIR" "$LOG_DIR" "$PKI_DIR" "$RUN_DIR/etcd" "$RUN_DIR/kcm-certs"
    log "generating certificates and keys in $PKI_DIR"
    gen_pki

    pick_port ETCD_PORT ATTESTOR_E2E_ETCD_PORT
    pick_port ETCD_PEER_PORT ATTESTOR_E2E_ETCD_PEER_PORT
    pick_port APISERVER_PORT ATTESTOR_E2E_APISERVER_PORT
    pick_port KCM_PORT ATTESTOR_E2E_KCM_PORT
    printf 'ETCD_PORT=%s\nETCD_PEER_PORT=%s\nAPISERVER_PORT=%s\nKCM_PORT=%s\n' \
        "$ETCD_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" "$KCM_PORT" >"$RUN_DIR/ports"
    write_kubeconfig "$RUN_DIR/controller-manager.kubeconfig" controller-manager system:kube-controller-manager
    local node_flags=()
    if [[ -n $NODE ]]; then
        pick_port SCHEDULER_PORT ATTESTOR_E2E_SCHEDULER_PORT
        # The kubelet's ports are in the node netns: no other process can hold them.
        KUBELET_PORT=10250 KUBELET_HEALTHZ_PORT=10248
        printf 'NODE=1\nSCHEDULER_PORT=%s\nKUBELET_PORT=%s\nKUBELET_HEALTHZ_PORT=%s\n' \
            "$SCHEDULER_PORT" "$KUBELET_PORT" "$KUBELET_HEALTHZ_PORT" >>"$RUN_DIR/ports"
        write_kubeconfig "$RUN_DIR/scheduler.kubeconfig" scheduler system:kube-scheduler
        write_kubeconfig "$RUN_DIR/kubelet.kubeconfig" kubelet "system:node:$NODE_NAME"
        node_net_up
        node_net_service
        node_cgroups_create
        node_write_config
        # The API server calls webhooks (and aggregated APIs) at their Pods' IPs, which the host
        # routes into the node netns; and the kubelets with a client certificate.
        node_flags=(--enable-aggregator-routing=true
            --kubelet-client-certificate="$PKI_DIR/apiserver-kubelet-client.crt"
            --kubelet-client-key="$PKI_DIR/apiserver-kubelet-client.key"
            --kubelet-preferred-address-types=InternalIP)
    fi

    start_component etcd \
        --name=attestor-e2e \
        --data-dir="$RUN_DIR/etcd" \
        --listen-client-urls="https://127.0.0.1:$ETCD_PORT" \
        --advertise-client-urls="https://127.0.0.1:$ETCD_PORT" \
        --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-cluster="attestor-e2e=http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-cluster-state=new \
        --cert-file="$PKI_DIR/etcd-server.crt" --key-file="$PKI_DIR/etcd-server.key" \
        --client-cert-auth --trusted-ca-file="$PKI_DIR/etcd-ca.crt" \
        --unsafe-no-fsync=true \
        --log-level=warn
    wait_for etcd "health on https://127.0.0.1:$ETCD_PORT" etcd_healthy
    log "etcd is healthy on 127.0.0.1:$ETCD_PORT"

    start_component kube-apiserver \
        --etcd-servers="https://127.0.0.1:$ETCD_PORT" \
        --etcd-cafile="$PKI_DIR/etcd-ca.crt" \
        --etcd-certfile="$PKI_DIR/apiserver-etcd-client.crt" \
        --etcd-keyfile="$PKI_DIR/apiserver-etcd-client.key" \
        --bind-address="$APISERVER_HOST" --advertise-address="$APISERVER_HOST" \
        --endpoint-reconciler-type=none \
        --secure-port="$APISERVER_PORT" \
        --tls-cert-file="$PKI_DIR/apiserver.crt" --tls-private-key-file="$PKI_DIR/apiserver.key" \
        --client-ca-file="$PKI_DIR/ca.crt" \
        --authorization-mode=Node,RBAC \
        --service-account-issuer=https://kubernetes.default.svc.cluster.local \
        --service-account-key-file="$PKI_DIR/sa.pub" \
        --service-account-signing-key-file="$PKI_DIR/sa.key" \
        --service-cluster-ip-range="$SERVICE_CIDR" \
        --requestheader-client-ca-file="$PKI_DIR/front-proxy-ca.crt" \
        --requestheader-allowed-names=front-proxy-client \
        --requestheader-username-headers=X-Remote-User \
        --requestheader-group-headers=X-Remote-Group \
        --requestheader-extra-headers-prefix=X-Remote-Extra- \
        --proxy-client-cert-file="$PKI_DIR/front-proxy-client.crt" \
        --proxy-client-key-file="$PKI_DIR/front-proxy-client.key" \
        --allow-privileged=true "${node_flags[@]}" \
        --profiling=false
    wait_for kube-apiserver "ok from /readyz" apiserver_ready
    log "kube-apiserver is ready on https://$APISERVER_HOST:$APISERVER_PORT"

    # --controllers='*': every on-by-default controller. Since v1.31 the cloud
    # ones (cloud-node-lifecycle, node-route, service-lb) are no longer in
    # kube-controller-manager, so there is nothing cloud-bound to switch off.
    start_component kube-controller-manager \
        --kubeconfig="$RUN_DIR/controller-manager.kubeconfig" \
        --authentication-kubeconfig="$RUN_DIR/controller-manager.kubeconfig" \
        --authorization-kubeconfig="$RUN_DIR/controller-manager.kubeconfig" \
        --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
        --cert-dir="$RUN_DIR/kcm-certs" \
        --leader-elect=false \
        --use-service-account-credentials=true \
        --service-account-private-key-file="$PKI_DIR/sa.key" \
        --root-ca-file="$PKI_DIR/ca.crt" \
        --cluster-signing-cert-file="$PKI_DIR/ca.crt" \
        --cluster-signing-key-file="$PKI_DIR/ca.key" \
        --cluster-name=attestor-e2e \
        --service-cluster-ip-range="$SERVICE_CIDR" \
        --controllers='*' \
        --profiling=false
    wait_for kube-controller-manager "ok from /healthz" kcm_healthy
    wait_for kube-controller-manager "ServiceAccount default/default" default_sa_exists
    log "kube-controller-manager is healthy on 127.0.0.1:$KCM_PORT"
    if [[ -n $NODE ]]; then
        "$E2E_DIR/image.sh" node >/dev/null
        node_start
    fi

    write_kubeconfig "$KUBECONFIG_PATH" admin attestor-e2e-admin
    umask "$old_umask"
    trap - EXIT
    log "control plane $K8S_VERSION (etcd $ETCD_VERSION)${NODE:+ and node $NODE_NAME (containerd $CONTAINERD_VERSION)} up in $(elapsed $((SECONDS - t0)))"
    log "export KUBECONFIG=$KUBECONFIG_PATH"
}

stop_all() {
    local i
    # The node whenever any of it may exist (also after an up that failed half-way).
    if [[ -n ${NODE:-} || -e $NODE_DIR ]] || [[ -n $(node_leftovers) ]]; then node_down; fi
    for ((i = ${#CONTROL_PLANE[@]} - 1; i >= 0; i--)); do
        stop_component "${CONTROL_PLANE[i]}"
    done
    node_net_down
}

cmd_down() {
    if ! any_state && [[ -z $(node_leftovers) ]]; then
        log "nothing to stop"
        return 0
    fi
    load_ports || true
    # The registries listening on the node's HOST_IP, which goes away with the node.
    if [[ -e $RUN_DIR/registry-node ]]; then
        "$E2E_DIR/registry.sh" down --host node || log "warning: e2e/registry.sh down --host node failed"
    fi
    stop_all
    local f
    while IFS= read -r f; do rm -rf -- "$f"; done < <(cluster_state)
    rm -f "$KUBECONFIG_PATH"
    rmdir "$RUN_DIR" 2>/dev/null || true         # unless e2e/registry.sh's state is there
    log "control plane stopped; run state removed"
}

cmd_status() {
    local c pid rc=0
    load_ports || true
    for c in "${COMPONENTS[@]}"; do
        if pid=$(live_pid "$c"); then
            printf '%-24s running (pid %s)\n' "$c" "$pid"
        else
            printf '%-24s not running\n' "$c"
            rc=1
        fi
    done
    if (( rc == 0 )); then
        if [[ -n ${APISERVER_PORT:-} ]] && apiserver_ready; then
            printf '%-24s https://%s:%s (/readyz ok)\n' "endpoint" "$APISERVER_HOST" "$APISERVER_PORT"
        else
            printf '%-24s https://%s:%s (/readyz NOT ok)\n' "endpoint" "$APISERVER_HOST" "${APISERVER_PORT:-?}"
            rc=1
        fi
    fi
    printf '%-24s %s (etcd %s)\n' "version" "$K8S_VERSION" "$ETCD_VERSION"
    printf '%-24s %s\n' "binaries" "$BIN_DIR"
    if [[ -e $KUBECONFIG_PATH ]]; then
        printf '%-24s %s\n' "kubeconfig" "$KUBECONFIG_PATH"
    else
        printf '%-24s %s (not written: not up)\n' "kubeconfig" "$KUBECONFIG_PATH"
    fi
    return "$rc"
}

cmd_env() {
    if ! all_running || [[ ! -e $KUBECONFIG_PATH ]]; then
        die "the control plane is not running (run: $0 up)"
    fi
    printf 'export KUBECONFIG=%q\n' "$KUBECONFIG_PATH"
}

# What `up` may have left on the machine (nothing after a `down`): processes of the cached
# binaries, the run state, and everything of the node (see node_leftovers). Exit 1 if any.
# The test registries of e2e/registry.sh (state in e2e/.run/registry/ and, on the node's
# address, e2e/.run/registry-node/) count too: a test that started them must have stopped
# them (`e2e/registry.sh down [--host node]`).
cmd_leftovers() {
    local out p
    out=$(node_leftovers)
    # This checkout's processes: every one `up` starts names a file in the run state
    # (other checkouts' clusters run the same cached binaries).
    for p in /proc/[0-9]*; do
        [[ $p == "/proc/$$" || $p == "/proc/$BASHPID" ]] && continue
        if { tr '\0' '\n' <"$p/cmdline"; } 2>/dev/null | grep -qF "$RUN_DIR/"; then
            out+=$'\n'"process ${p#/proc/} $(readlink "$p/exe" 2>/dev/null)"
            if { tr '\0' '\n' <"$p/cmdline"; } 2>/dev/null | grep -qF "$RUN_DIR/registry/"; then
                out+=" (a test registry: e2e/registry.sh down)"
            elif { tr '\0' '\n' <"$p/cmdline"; } 2>/dev/null | grep -qF "$RUN_DIR/registry-node/"; then
                out+=" (a test registry on the node's address: e2e/registry.sh down --host node)"
            fi
        fi
    done
    [[ -e $RUN_DIR ]] && out+=$'\n'"directory $RUN_DIR"
    [[ -e $KUBECONFIG_PATH ]] && out+=$'\n'"file $KUBECONFIG_PATH"
    out=$(sed '/^$/d' <<<"$out")
    if [[ -n $out ]]; then
        printf 'left behind:\n%s\n' "$out"
        return 1
    fi
    log "nothing of the cluster is left on this machine"
}

# One up/down at a time per checkout.
lock_run_state() {
    exec 9>"$E2E_DIR/.cluster.lock"
    if ! flock -n 9; then
        log "waiting for another up/down in $E2E_DIR to finish"
        flock 9
    fi
}

main() {
    [[ $# -ge 1 ]] || usage
    [[ $1 == load || $1 == trust-registries || $# -eq 1 ]] || usage
    case $1 in
        up) lock_run_state; cmd_up ;;
        down) lock_run_state; cmd_down ;;
        status) cmd_status ;;
        env) cmd_env ;;
        build) build ;;
        load) shift; load_ports || true; [[ -n ${NODE:-} ]] || die "the node is not up"; node_load_images "$@" ;;
        trust-registries)
            shift; load_ports || true; [[ -n ${NODE:-} ]] || die "the node is not up"; node_trust_registries "$@" ;;
        leftovers) cmd_leftovers ;;
        -h|--help|help) usage ;;
        *) usage ;;
    esac
}

on_signal() {
    if [[ -n $BUILD_PID ]]; then
        kill -TERM "$BUILD_PID" 2>/dev/null || true
    fi
    log "interrupted"
    exit 130
}
trap on_signal INT TERM

main "$@"
