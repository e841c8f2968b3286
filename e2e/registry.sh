#!/usr/bin/env bash
# e2e/registry.sh: two local OCI registries for the registry-discovery tests, from the
# cached test tools (e2e/tools.sh):
#   - "plain": distribution's registry (github.com/distribution/distribution/v3), filesystem
#     storage, no referrers API (GET /v2/<name>/referrers/<digest> is 404), so cosign and
#     other clients fall back to the `sha256-<hex>` tag index;
#   - "referrers": refreg (e2e/go/tools/refreg), in memory, with the OCI 1.1 referrers API.
# Both speak plain HTTP, anonymous, read-write.
#
#   e2e/registry.sh up [--host IP|node]   start both on free ports, wait for /v2/, write the env file
#   e2e/registry.sh env [--host node]     print `export ATTESTOR_REGISTRY_PLAIN=HOST:PORT` etc.
#   e2e/registry.sh status [--host node]  what runs; exit 1 unless both answer /v2/
#   e2e/registry.sh down [--host node]    stop both, remove their state (e2e/.run/registry/)
#   e2e/registry.sh leftovers             list anything of either set still here; exit 1 if any
#
# --host (or ATTESTOR_REGISTRY_HOST): the address both listen on, default 127.0.0.1.
# `node` means the local node's HOST_IP (e2e/node.sh), the host end of its veth pair, which
# the node's containerd and Pods reach; that address exists only while the node is up.
# The set on HOST_IP is a second one, beside the loopback set (state e2e/.run/registry-node/):
# `up --host node` also makes the node's containerd pull from both over plain HTTP
# (e2e/cluster.sh trust-registries), `down --host node` undoes it, and `e2e/cluster.sh down`
# stops that set with the node.
# ATTESTOR_REGISTRY_PLAIN_PORT / ATTESTOR_REGISTRY_REFERRERS_PORT: fixed ports (else random
# free ones); ATTESTOR_REFREG_ARGS: extra refreg flags (e.g. "-latency 50ms", see refreg -h).
# The env file (e2e/.run/registry/env) holds KEY=VALUE lines: ATTESTOR_REGISTRY_PLAIN,
# ATTESTOR_REGISTRY_REFERRERS (HOST:PORT each) and ATTESTOR_TOOLS_BIN (cosign, registry, refreg, tuf).
set -Eeuo pipefail

E2E_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
readonly E2E_DIR
readonly SET_DIRS=("$E2E_DIR/.run/registry" "$E2E_DIR/.run/registry-node")
# The set a command acts on (use_set): the loopback (or any other address's) one, or the
# one on the node's HOST_IP.
SET= REG_DIR= PID_DIR= LOG_DIR= ENV_FILE=
readonly COMPONENTS=(registry refreg)
READY_TIMEOUT=${ATTESTOR_E2E_READY_TIMEOUT:-60}
STOP_TIMEOUT=${ATTESTOR_E2E_STOP_TIMEOUT:-15}

log() { printf '[%(%H:%M:%S)T] registry: %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }
usage() { sed -n '2,27s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2; }

# The node's HOST_IP, computed as e2e/node.sh does (one /24 per checkout).
node_host_ip() {
    local id net
    id=$(printf '%s' "$E2E_DIR" | sha256sum | cut -c1-8)
    net=${ATTESTOR_E2E_NODE_NET:-10.213.$((16#${id:0:2} % 254 + 1))}
    printf '%s.1\n' "$net"
}

# Resolves --host (node, or an address) and selects its set: the node set when it is HOST_IP.
use_set() { # <host>: sets HOST, SET and the set's paths
    HOST=$1
    [[ $HOST == node ]] && HOST=$(node_host_ip)
    if [[ $HOST == "$(node_host_ip)" ]]; then
        SET=node REG_DIR=${SET_DIRS[1]}
    else
        SET=default REG_DIR=${SET_DIRS[0]}
    fi
    PID_DIR=$REG_DIR/pids LOG_DIR=$REG_DIR/logs ENV_FILE=$REG_DIR/env
}

set_note() { [[ $SET == node ]] && printf ' (the set on the node'"'"'s address)'; true; }

# The node's containerd pulls from exactly these (HOST:PORT...; none: no registry).
trust_on_node() {
    "$E2E_DIR/cluster.sh" trust-registries "$@"
}

# --- ports and processes (as e2e/cluster.sh) ------------------------------------

port_busy() { # <host> <port>
    if command -v ss >/dev/null 2>&1; then
        [[ -n $(ss -Htan "( sport = :$2 )" 2>/dev/null) ]]
    else
        (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
    fi
}

pick_port() { # <host> <env name>: prints a free port (the env's, which must be free)
    local want=${!2:-} p i lo=20000 hi=32767 range
    if [[ -n $want ]]; then
        [[ $want =~ ^[0-9]+$ ]] && (( want >= 1 && want <= 65535 )) || die "$2=$want is not a port"
        port_busy "$1" "$want" && die "$2=$want: port is already in use"
        printf '%s\n' "$want"
        return
    fi
    if range=$(cat /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null); then
        range=${range%%[[:space:]]*}
        if (( range > lo + 1000 )); then hi=$((range - 1)); else lo=10000 hi=$((range - 1)); fi
        (( hi > lo )) || { lo=20000 hi=32767; }
    fi
    for ((i = 0; i < 500; i++)); do
        p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1)))
        port_busy "$1" "$p" || { printf '%s\n' "$p"; return; }
    done
    die "found no free port in $lo-$hi"
}

proc_field() { # <pid> <index after "pid (comm) ">: a field of /proc/PID/stat
    local stat f
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    read -r -a f <<<"$stat"
    printf '%s\n' "${f[$2]}"
}

# The recorded PID of <component> if it is still that process (start time, executable).
live_pid() {
    local file=$PID_DIR/$1 pid start exe cur state
    [[ -r $file ]] || return 1
    read -r pid start exe <"$file" || return 1
    [[ $pid =~ ^[0-9]+$ && ${exe##*/} == "$1" ]] || return 1
    cur=$(proc_field "$pid" 19) || return 1
    [[ $cur == "$start" ]] || return 1
    cur=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
    [[ ${cur% (deleted)} == "$exe" ]] || return 1
    state=$(proc_field "$pid" 0) || return 1
    [[ $state != Z && $state != X ]] || return 1
    printf '%s\n' "$pid"
}

start_component() { # <component> <binary> <args>...
    local name=$1 exe pid start i
    exe=$(readlink -f "$2")
    shift 2
    # setsid: its own session, so it outlives this script until `down`; 9>&-: not the lock.
    setsid "$exe" "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null 9>&- &
    pid=$!
    for ((i = 0; i < 50; i++)); do
        [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$exe" ]] && break
        sleep 0.1
    done
    start=$(proc_field "$pid" 19) || fail_start "$name" "exited immediately"
    printf '%s %s %s\n' "$pid" "$start" "$exe" >"$PID_DIR/$name"
    log "started $name (pid $pid, log $LOG_DIR/$name.log)"
}

fail_start() {
    log "$1 $2; last lines of $LOG_DIR/$1.log:"
    tail -n 30 "$LOG_DIR/$1.log" >&2 || true
    die "$1 did not start"
}

stop_component() {
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
            sleep 0.5
        fi
        # Give init a moment to reap it, so that no zombie is listed right after `down`.
        for ((i = 0; i < 50; i++)); do
            [[ $(proc_field "$pid" 0 2>/dev/null) == [ZX] ]] || break
            sleep 0.1
        done
        log "stopped $name (pid $pid)"
    elif [[ -e $PID_DIR/$name ]]; then
        log "$name: recorded process is gone (or its PID is another program's now); not touching it"
    fi
    rm -f "$PID_DIR/$name"
}

answers() { # <host:port>: any HTTP answer from /v2/ (401 counts: refreg may require auth)
    local code
    code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "http://$1/v2/" 2>/dev/null) || return 1
    [[ $code != 000 ]]
}

wait_answers() { # <component> <host:port>
    local deadline=$((SECONDS + READY_TIMEOUT))
    until answers "$2"; do
        live_pid "$1" >/dev/null || fail_start "$1" "exited before answering /v2/"
        (( SECONDS < deadline )) || fail_start "$1" "no answer from http://$2/v2/ after ${READY_TIMEOUT}s"
        sleep 0.2
    done
}

load_env() {
    [[ -r $ENV_FILE ]] || return 1
    # shellcheck source=/dev/null
    source "$ENV_FILE"
}

# --- commands ------------------------------------------------------------------

cmd_up() {
    local host=$HOST t0=$SECONDS
    [[ $host =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "--host $host: want an IPv4 address or node"
    if [[ $host != 127.* ]] && ! ip -o -4 addr show 2>/dev/null | grep -qF " $host/"; then
        die "no interface has $host (for --host node the local node must be up: ATTESTOR_E2E_NODE=1 e2e/cluster.sh up)"
    fi
    command -v curl >/dev/null || die "curl is required"
    command -v setsid >/dev/null || die "setsid (util-linux) is required"
    if load_env && live_pid registry >/dev/null && live_pid refreg >/dev/null; then
        if [[ ${ATTESTOR_REGISTRY_PLAIN%:*} == "$host" ]]; then
            log "already running: plain $ATTESTOR_REGISTRY_PLAIN, referrers $ATTESTOR_REGISTRY_REFERRERS"
            return 0
        fi
        log "running on ${ATTESTOR_REGISTRY_PLAIN%:*}, wanted on $host: restarting (their content is lost)"
    fi
    [[ -e $REG_DIR ]] && cmd_down
    [[ $SET == node && ! -d $E2E_DIR/.run/node ]] && die "the local node is not up (e2e/.run/node): ATTESTOR_E2E_NODE=1 e2e/cluster.sh up"
    local bin
    bin=$("$E2E_DIR/tools.sh" path) || die "building the test tools failed"
    trap 'rc=$?; if (( rc != 0 )); then log "up failed; stopping what it started"; stop_all; fi' EXIT
    mkdir -p "$PID_DIR" "$LOG_DIR" "$REG_DIR/data"

    local plain_port refreg_addr
    plain_port=$(pick_port "$host" ATTESTOR_REGISTRY_PLAIN_PORT)
    cat >"$REG_DIR/config.yml" <<EOF
# distribution's registry for the attestor tests (written by e2e/registry.sh up)
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: $REG_DIR/data
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: $host:$plain_port
  secret: attestor-e2e-not-a-secret   # one instance; only signs upload state
  headers:
    X-Content-Type-Options: [nosniff]
EOF
    # No telemetry export (distribution v3 has OpenTelemetry; nothing may leave the machine).
    OTEL_SDK_DISABLED=true OTEL_TRACES_EXPORTER=none \
        start_component registry "$bin/registry" serve "$REG_DIR/config.yml"
    wait_answers registry "$host:$plain_port"
    log "distribution registry (no referrers API) on http://$host:$plain_port"

    local port_args=() refreg_args=()
    read -r -a refreg_args <<<"${ATTESTOR_REFREG_ARGS:-}"
    if [[ -n ${ATTESTOR_REGISTRY_REFERRERS_PORT:-} ]]; then
        port_args=(-addr "$host:$(pick_port "$host" ATTESTOR_REGISTRY_REFERRERS_PORT)")
    else
        port_args=(-addr "$host:0")    # refreg picks a free port and writes it to the addr file
    fi
    start_component refreg "$bin/refreg" "${port_args[@]}" -addr-file "$REG_DIR/refreg.addr" "${refreg_args[@]}"
    local deadline=$((SECONDS + READY_TIMEOUT))
    until [[ -s $REG_DIR/refreg.addr ]]; do
        live_pid refreg >/dev/null || fail_start refreg "exited before listening"
        (( SECONDS < deadline )) || fail_start refreg "not listening after ${READY_TIMEOUT}s"
        sleep 0.1
    done
    refreg_addr=$(<"$REG_DIR/refreg.addr")
    wait_answers refreg "$refreg_addr"
    log "refreg (referrers API) on http://$refreg_addr${refreg_args[*]:+ (${refreg_args[*]})}"

    printf 'ATTESTOR_REGISTRY_PLAIN=%s\nATTESTOR_REGISTRY_REFERRERS=%s\nATTESTOR_TOOLS_BIN=%s\n' \
        "$host:$plain_port" "$refreg_addr" "$bin" >"$ENV_FILE.tmp"
    mv "$ENV_FILE.tmp" "$ENV_FILE"
    if [[ $SET == node ]]; then
        trust_on_node "$host:$plain_port" "$refreg_addr" || die "the node's containerd was not told to trust them"
    fi
    trap - EXIT
    log "up in $((SECONDS - t0))s; env file $ENV_FILE (eval \"\$(e2e/registry.sh env$([[ $SET == node ]] && echo ' --host node'))\")"
}

stop_all() {
    local i
    for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do stop_component "${COMPONENTS[i]}"; done
}

cmd_down() {
    if [[ ! -e $REG_DIR ]]; then
        log "nothing to stop"
        return 0
    fi
    stop_all
    rm -rf "$REG_DIR"
    rmdir "$E2E_DIR/.run" 2>/dev/null || true    # unless the cluster's state is there too
    # The node (if still up) no longer pulls from them.
    if [[ $SET == node && -d $E2E_DIR/.run/node ]]; then
        trust_on_node || log "warning: could not remove the node's hosts.toml for them"
    fi
    log "registries stopped$(set_note); state removed"
}

cmd_status() {
    local c pid rc=0
    load_env || true
    for c in "${COMPONENTS[@]}"; do
        if pid=$(live_pid "$c"); then
            printf '%-10s running (pid %s)\n' "$c" "$pid"
        else
            printf '%-10s not running\n' "$c"
            rc=1
        fi
    done
    if (( rc == 0 )); then
        local v addr
        for v in ATTESTOR_REGISTRY_PLAIN ATTESTOR_REGISTRY_REFERRERS; do
            addr=${!v:-}
            if [[ -n $addr ]] && answers "$addr"; then
                printf '%-28s %s (/v2/ answers)\n' "$v" "$addr"
            else
                printf '%-28s %s (/v2/ does NOT answer)\n' "$v" "${addr:-?}"
                rc=1
            fi
        done
    fi
    return "$rc"
}

cmd_env() {
    load_env && live_pid registry >/dev/null && live_pid refreg >/dev/null ||
        die "the registries$(set_note) are not running (run: $0 up$([[ $SET == node ]] && echo ' --host node'))"
    sed 's/^/export /' "$ENV_FILE"
}

# Anything of this checkout's registries (either set) on the machine: processes naming their
# state directory (both get a path under it on their command line), and the directory.
cmd_leftovers() {
    local out="" p d
    for p in /proc/[0-9]*; do
        [[ $p == "/proc/$$" || $p == "/proc/$BASHPID" ]] && continue
        for d in "${SET_DIRS[@]}"; do
            if { tr '\0' '\n' <"$p/cmdline"; } 2>/dev/null | grep -qF "$d/"; then
                out+=$'\n'"process ${p#/proc/} $(readlink "$p/exe" 2>/dev/null)"
            fi
        done
    done
    for d in "${SET_DIRS[@]}"; do
        [[ -e $d ]] && out+=$'\n'"directory $d"
    done
    out=$(sed '/^$/d' <<<"$out")
    if [[ -n $out ]]; then
        printf 'left behind (e2e/registry.sh down [--host node] removes it):\n%s\n' "$out"
        return 1
    fi
    log "nothing of the registries is left on this machine"
}

lock() {
    exec 9>"$E2E_DIR/.registry.lock"
    flock 9
}

cmd=${1:-}
(( $# )) && shift
host=${ATTESTOR_REGISTRY_HOST:-127.0.0.1}
while (( $# )); do
    case $1 in
        --host) [[ $# -ge 2 ]] || usage; host=$2; shift 2 ;;
        --host=*) host=${1#--host=}; shift ;;
        *) usage ;;
    esac
done
use_set "$host"
case $cmd in
    up) lock; cmd_up ;;
    down) lock; cmd_down ;;
    status) cmd_status ;;
    env) cmd_env ;;
    leftovers) cmd_leftovers ;;
    *) usage ;;
esac
