# e2e/node.sh: the one node of e2e/cluster.sh (sourced by it; see e2e/README.md, "The node").
#
# kube-scheduler runs on the host beside the control plane. containerd (its CRI plugin, the
# runc shim, Debian's runc, the bridge and host-local CNI plugins) and the kubelet run in a
# network namespace of their own, joined to the host by one veth pair:
#
#   host netns                              node netns (NODE_NETNS, a file in the run state)
#   at-<id>  HOST_IP/30  <---- veth ---->  eth0  NODE_IP/30   (the Node's InternalIP)
#   route POD_SUBNET via NODE_IP            cni0  POD_GATEWAY/25 (bridge), Pods: POD_SUBNET
#   kube-apiserver listens on HOST_IP       DNAT 10.0.0.1:443 (the kubernetes Service) -> HOST_IP
#
# The node netns has no default route: a Pod reaches the API server and the other Pods,
# nothing else (an image pull fails at once, no packet leaves the machine), except the test
# registries on HOST_IP that `e2e/cluster.sh trust-registries` names (e2e/registry.sh).
# The API server calls the webhook at its Pod IP (--enable-aggregator-routing: Services
# resolve to their endpoints), so no kube-proxy is needed. `down` stops everything and
# removes what it made: Pods, shims, cgroups, mounts, the netns (veths, bridge, iptables
# rules all live and die in it), the sysctls the kubelet sets are put back.
#
# Needs root, runc, iproute2, iptables (in the node netns only), util-linux nsenter/unshare.

NODE_COMPONENTS=(kube-scheduler containerd kubelet)
readonly NODE_NAME=attestor-e2e
readonly PAUSE_IMAGE=attestor.local/pause:1
# The sysctls the kubelet sets at start (setupKernelTunables); down restores them.
readonly KUBELET_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
    kernel.keys.root_maxkeys kernel.keys.root_maxbytes)

CONTAINERD_VERSION=$(mod_version "$GO_DIR/containerd/go.mod" github.com/containerd/containerd/v2)
readonly CONTAINERD_VERSION
readonly NODE_BIN_DIR=$CACHE_ROOT/node/$K8S_VERSION-$CONTAINERD_VERSION/bin
readonly NODE_DIR=$RUN_DIR/node
readonly NODE_NETNS=$NODE_DIR/netns
# One id per checkout: names and addresses of parallel worktrees' nodes differ.
NODE_ID=$(printf '%s' "$E2E_DIR" | sha256sum | cut -c1-8)
readonly NODE_ID
readonly HOST_IF=at-$NODE_ID CGROUP_ROOT=/attestor-e2e-$NODE_ID
# The node's /24 inside 10.213.0.0/16: .0/30 the veth pair, .128/25 the Pods.
NODE_NET=${ATTESTOR_E2E_NODE_NET:-10.213.$((16#${NODE_ID:0:2} % 254 + 1))}
readonly NODE_NET HOST_IP=$NODE_NET.1 NODE_IP=$NODE_NET.2
readonly POD_SUBNET=$NODE_NET.128/25 POD_GATEWAY=$NODE_NET.129
# Short: a unix socket path has at most 107 bytes.
readonly CONTAINERD_SOCK=/run/attestor-e2e-$NODE_ID/containerd.sock

node_bin() { printf '%s/%s\n' "$NODE_BIN_DIR" "$1"; }

node_wanted() { [[ ${ATTESTOR_E2E_NODE:-0} == 1 ]]; }

node_build() {
    local ldk=("$@")
    mkdir -p "$NODE_BIN_DIR"
    exec 6>"$NODE_BIN_DIR/.lock"
    if ! flock -n 6; then
        log "waiting for another build in $NODE_BIN_DIR to finish"
        flock 6
    fi
    local started=$SECONDS
    rm -rf "$NODE_BIN_DIR"/.build-*
    SET_DIR=$NODE_BIN_DIR build_set node "$GO_DIR/node" "${ldk[*]}" \
        kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler \
        kubelet=k8s.io/kubernetes/cmd/kubelet
    # The tags of containerd's static release, less the snapshotters this node does not use.
    SET_DIR=$NODE_BIN_DIR BUILD_TAGS="no_btrfs no_devmapper no_zfs osusergo netgo" build_set containerd \
        "$GO_DIR/containerd" "-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" \
        containerd=github.com/containerd/containerd/v2/cmd/containerd \
        containerd-shim-runc-v2=github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 \
        ctr=github.com/containerd/containerd/v2/cmd/ctr \
        bridge=github.com/containernetworking/plugins/plugins/main/bridge \
        host-local=github.com/containernetworking/plugins/plugins/ipam/host-local
    if (( SECONDS - started > 1 )); then
        log "node binaries ready in $NODE_BIN_DIR ($(elapsed $((SECONDS - started))))"
    fi
    exec 6>&-
}

node_preflight() {
    (( EUID == 0 )) || die "the node (ATTESTOR_E2E_NODE=1) needs root: containerd, runc and the kubelet run as root"
    local t
    for t in runc ip iptables nsenter unshare mount umount; do
        command -v "$t" >/dev/null || die "$t not found (Debian: apt-get install runc iproute2 iptables util-linux mount)"
    done
    [[ -d /sys/fs/cgroup ]] || die "no /sys/fs/cgroup"
    if ip link show "$HOST_IF" >/dev/null 2>&1; then
        die "interface $HOST_IF exists but this checkout's node is not up: another run left it (ip link del $HOST_IF)"
    fi
}

in_node() { nsenter --net="$NODE_NETNS" "$@"; }

# cgroup v1 (one hierarchy per controller, this machine) or v2 (one unified hierarchy).
cgroup_dirs() { # every directory CGROUP_ROOT is (or would be) in
    local h
    if [[ -e /sys/fs/cgroup/cgroup.controllers ]]; then
        printf '%s\n' "/sys/fs/cgroup$CGROUP_ROOT"
        return
    fi
    for h in /sys/fs/cgroup/*/; do
        [[ -e ${h}cgroup.procs ]] && printf '%s\n' "${h%/}$CGROUP_ROOT"
    done
}

node_cgroups_create() {
    local d parent
    while read -r d; do
        mkdir -p "$d"
        # A new cpuset cgroup starts with no CPUs and no memory nodes: its children could
        # hold no process.
        if [[ -e $d/cpuset.cpus && -z $(<"$d/cpuset.cpus") ]]; then
            parent=${d%/*}
            cat "$parent/cpuset.cpus" >"$d/cpuset.cpus"
            cat "$parent/cpuset.mems" >"$d/cpuset.mems"
        fi
    done < <(cgroup_dirs)
}

node_net_up() {
    mkdir -p "$NODE_DIR"
    : >"$NODE_NETNS"
    unshare --net="$NODE_NETNS" true
    in_node ip link set lo up
    in_node ip link add eth0 type veth peer name "$HOST_IF" netns $$
    in_node ip addr add "$NODE_IP/30" dev eth0
    in_node ip link set eth0 up
    ip addr add "$HOST_IP/30" dev "$HOST_IF"
    ip link set "$HOST_IF" up
    ip route add "$POD_SUBNET" via "$NODE_IP" dev "$HOST_IF"
    # The node routes between the Pods' bridge and the veth (per-netns setting).
    in_node sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'
    log "node network: netns $NODE_NETNS, $HOST_IF $HOST_IP <-> eth0 $NODE_IP, Pods $POD_SUBNET"
}

# The kubernetes Service (10.0.0.1:443, what in-cluster clients use) is the API server on
# the host side of the veth. Called once the API server port is known.
node_net_service() {
    in_node iptables -w -t nat -A PREROUTING -d "$SERVICE_IP/32" -p tcp --dport 443 \
        -j DNAT --to-destination "$HOST_IP:$APISERVER_PORT"
}

node_write_config() {
    local d=$NODE_DIR
    mkdir -p "$d/kubelet" "$d/kubelet-certs" "$d/pod-logs" "$d/cni" "$d/cni-ipam" "$d/runc" \
        "$d/containerd/root" "$d/containerd/state" "$d/containerd/opt" "$d/containerd/certs.d/_default" \
        "${CONTAINERD_SOCK%/*}"
    # Pulls: every registry's only host is a closed loopback port, so a Pod whose image was
    # neither imported nor in a registry the node trusts (node_trust_registries) fails with
    # ErrImagePull at once (the netns has no route out anyway).
    printf 'server = "http://127.0.0.1:9"\n' >"$d/containerd/certs.d/_default/hosts.toml"
    cat >"$d/containerd.toml" <<EOF
version = 3
root = "$d/containerd/root"
state = "$d/containerd/state"

[grpc]
  address = "$CONTAINERD_SOCK"

[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"

[plugins.'io.containerd.internal.v1.opt']
  path = "$d/containerd/opt"

[plugins.'io.containerd.nri.v1.nri']
  disable = true

[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = '$PAUSE_IMAGE'
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = '$d/containerd/certs.d'

[plugins.'io.containerd.cri.v1.runtime']
  netns_mounts_under_state_dir = true
  # This machine's processes may not lower their OOM score (no CAP_SYS_RESOURCE): keep the
  # Pods' at or above containerd's own instead of failing every sandbox.
  restrict_oom_score_adj = true
  cdi_spec_dirs = []
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = 'runc'
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = 'io.containerd.runc.v2'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = '${ATTESTOR_E2E_RUNC:-$(command -v runc)}'
        Root = '$d/runc'
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ['$NODE_BIN_DIR']
    conf_dir = '$d/cni'
    use_internal_loopback = true

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = '127.0.0.1'
  stream_server_port = '0'
EOF
    cat >"$d/cni/10-attestor-e2e.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "attestor-e2e",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$POD_SUBNET", "gateway": "$POD_GATEWAY"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$d/cni-ipam"
      }
    }
  ]
}
EOF
    cat >"$d/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine mounts cgroup v1; the kubelet refuses it unless told (deprecated since 1.35).
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: $CGROUP_ROOT
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
address: $NODE_IP
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: $NODE_IP
healthzPort: $KUBELET_HEALTHZ_PORT
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $PKI_DIR/ca.crt}
authorization:
  mode: AlwaysAllow
podLogsDir: $d/pod-logs
# No cluster DNS and no resolver: a Pod resolves nothing (it could reach no server).
resolvConf: ""
failSwapOn: false
maxPods: 30
serializeImagePulls: false
imageGCHighThresholdPercent: 100
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  imagefs.available: 1%
evictionPressureTransitionPeriod: 5s
nodeStatusUpdateFrequency: 4s
syncFrequency: 10s
shutdownGracePeriod: 0s
EOF
}

node_start() {
    local v
    : >"$NODE_DIR/sysctl.saved"
    for v in "${KUBELET_SYSCTLS[@]}"; do
        printf '%s %s\n' "$v" "$(<"/proc/sys/${v//.//}")" >>"$NODE_DIR/sysctl.saved"
    done
    [[ -d /run/containerd ]] || : >"$NODE_DIR/created-run-containerd"

    start_component kube-scheduler \
        --kubeconfig="$RUN_DIR/scheduler.kubeconfig" \
        --authentication-kubeconfig="$RUN_DIR/scheduler.kubeconfig" \
        --authorization-kubeconfig="$RUN_DIR/scheduler.kubeconfig" \
        --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" \
        --leader-elect=false --profiling=false
    wait_for kube-scheduler "ok from /healthz" scheduler_healthy

    # The run state is private (umask 077), but what containerd and the kubelet create is
    # what the containers see: with 077 a container's / would be 0700, closed to non-root users.
    local old_umask
    old_umask=$(umask)
    umask 022
    PATH=$NODE_BIN_DIR:$PATH WRAP="nsenter --net=$NODE_NETNS" start_component containerd \
        --config "$NODE_DIR/containerd.toml" --log-level warn
    wait_for containerd "the CRI socket $CONTAINERD_SOCK" containerd_ready
    log "containerd $CONTAINERD_VERSION is up in the node netns"
    # Only the pause image: workload images are pulled from a registry (e2e/registry.sh up
    # --host node), or imported on demand (e2e/cluster.sh load).
    node_load_images "$ROOT_DIR/target/images/pause.tar"

    WRAP="nsenter --net=$NODE_NETNS" start_component kubelet \
        --config="$NODE_DIR/kubelet.yaml" \
        --kubeconfig="$RUN_DIR/kubelet.kubeconfig" \
        --root-dir="$NODE_DIR/kubelet" --cert-dir="$NODE_DIR/kubelet-certs" \
        --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" --v=1
    umask "$old_umask"
    wait_for kubelet "Node $NODE_NAME Ready" node_ready
    log "kubelet: Node $NODE_NAME is Ready (InternalIP $NODE_IP, Pods $POD_SUBNET)"
}

ctr_node() { "$(node_bin ctr)" --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"; }

containerd_ready() { ctr_node version; }
scheduler_healthy() { [[ $(curl -ksS --max-time 5 "https://127.0.0.1:$SCHEDULER_PORT/healthz") == ok ]]; }
node_ready() {
    api_get "/api/v1/nodes/$NODE_NAME" | tr -d ' \n' | grep -q '"type":"Ready","status":"True"'
}

# Imports OCI archives (e2e/image.sh) into the node's CRI image store, each also under
# <repository>@<digest>, the name a Pod that pins the digest asks for.
node_load_images() { # <archive>...
    local f ref name digest
    for f in "$@"; do
        [[ -r $f && -r ${f%.tar}.ref ]] || die "$f (and ${f%.tar}.ref) not found: run e2e/image.sh first"
        read -r name digest <"${f%.tar}.ref"
        ctr_node images import --platform linux/amd64 "$f" >"$LOG_DIR/ctr.log" 2>&1 ||
            { tail -n 5 "$LOG_DIR/ctr.log" >&2; die "ctr images import $f failed"; }
        ref=${name%:*}@$digest
        ctr_node images rm "$ref" >/dev/null 2>&1 || true
        ctr_node images tag "$name" "$ref" >>"$LOG_DIR/ctr.log" 2>&1 || die "ctr images tag $name $ref failed"
        log "image $name ($digest) imported into the node"
    done
}

# The registries the node's containerd pulls from, over plain HTTP: exactly the given
# HOST:PORTs (none: no registry), one certs.d/HOST:PORT/hosts.toml each; every other registry
# still goes to the closed port of _default. containerd reads config_path at each pull, so a
# change applies to the next pull, with no restart. e2e/registry.sh up/down --host node call
# this (through `e2e/cluster.sh trust-registries`) for the registries on HOST_IP.
node_trust_registries() { # [HOST:PORT]...
    local dir=$NODE_DIR/containerd/certs.d d hp
    [[ -d $dir/_default ]] || die "the node is not up (no $dir)"
    for hp in "$@"; do
        [[ $hp =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+:[0-9]+$ ]] || die "$hp: want IPv4:PORT"
        [[ $hp != 127.* ]] || die "$hp: loopback in the node netns is the node's own, not the host's (e2e/registry.sh up --host node)"
    done
    for d in "$dir"/*/; do
        d=${d%/}
        hp=${d##*/}
        [[ $hp == _default || " $* " == *" $hp "* ]] && continue
        rm -rf -- "$d"
        log "node: containerd no longer pulls from http://$hp"
    done
    for hp in "$@"; do
        mkdir -p "$dir/$hp"
        # containerd's docs/hosts.md: an http:// host is spoken to in plain HTTP.
        cat >"$dir/$hp/hosts.toml.tmp" <<EOF
# written by e2e/cluster.sh trust-registries (e2e/registry.sh up --host node)
server = "http://$hp"

[host."http://$hp"]
  capabilities = ["pull", "resolve"]
EOF
        mv -f "$dir/$hp/hosts.toml.tmp" "$dir/$hp/hosts.toml"
        log "node: containerd pulls from http://$hp (plain HTTP)"
    done
}

# --- teardown ----------------------------------------------------------------

# Processes that belong to this node although `down` did not start them: the runc shims
# (started by containerd, then on their own) and everything in the node's cgroups.
node_stray_pids() {
    local p d
    for p in /proc/[0-9]*; do
        [[ -r $p/cmdline ]] || continue
        if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "-address $CONTAINERD_SOCK "; then
            printf '%s\n' "${p#/proc/}"
        fi
    done
    while read -r d; do
        [[ -d $d ]] && find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
    done < <(cgroup_dirs)
}

# Mount points under the node's directories, deepest first.
node_mounts() {
    awk -v a="$NODE_DIR/" -v b="${CONTAINERD_SOCK%/*}/" '
        { p = $5; gsub(/\\040/, " ", p) }
        index(p "/", a) == 1 || index(p "/", b) == 1 { print length(p), p }' /proc/self/mountinfo |
        sort -rn | cut -d' ' -f2-
}

node_down() {
    local pids i m d v
    # The kubelet first, so it restarts nothing; then every container, via containerd.
    stop_component kubelet
    if live_pid containerd >/dev/null; then
        for i in $(ctr_node tasks ls -q 2>/dev/null); do
            ctr_node tasks kill -s SIGKILL "$i" >/dev/null 2>&1 || true
        done
        for i in $(ctr_node tasks ls -q 2>/dev/null); do
            ctr_node tasks rm -f "$i" >/dev/null 2>&1 || true
        done
    fi
    stop_component containerd
    stop_component kube-scheduler
    for ((i = 0; i < 50; i++)); do
        pids=$(node_stray_pids | sort -u)
        [[ -z $pids ]] && break
        (( i == 0 )) && log "stopping the node's shims and containers: $(tr '\n' ' ' <<<"$pids")"
        kill -KILL $pids 2>/dev/null || true
        sleep 0.2
    done
    [[ -z $pids ]] || log "warning: processes of the node still alive: $pids"
    while read -r m; do
        [[ -n $m && $m != "$NODE_NETNS" ]] || continue
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "warning: could not unmount $m"
    done < <(node_mounts)
    # Then the cgroups, deepest first (rmdir of an empty cgroup; its files are not real files).
    while read -r d; do
        [[ -d $d ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
        [[ -d $d ]] && log "warning: could not remove cgroup $d"
    done < <(cgroup_dirs)
    if [[ -r $NODE_DIR/sysctl.saved ]]; then
        local val
        while read -r v val; do
            printf '%s\n' "$val" >"/proc/sys/${v//.//}" || log "warning: could not restore $v to $val"
        done <"$NODE_DIR/sysctl.saved"
    fi
    # The kubelet links container logs in /var/log/containers (not configurable).
    find /var/log/containers -maxdepth 1 -lname "$NODE_DIR/*" -delete 2>/dev/null || true
    # The shims' socket directory, /run/containerd/s, if this node made it.
    if [[ -e $NODE_DIR/created-run-containerd ]]; then
        rmdir /run/containerd/s /run/containerd 2>/dev/null || true
    fi
    rm -rf "${CONTAINERD_SOCK%/*}"
}

# After the API server stopped (it listens on HOST_IP): the netns goes with its last mount,
# and its veth (so the host's end and route), the bridge and the DNAT rule with it.
node_net_down() {
    if [[ -e $NODE_NETNS ]]; then
        umount "$NODE_NETNS" 2>/dev/null || umount -l "$NODE_NETNS" 2>/dev/null || true
    fi
    ip link del "$HOST_IF" 2>/dev/null || true
}

# What of this checkout's node is still on the machine; empty when nothing.
node_leftovers() {
    local d
    node_stray_pids | sed 's/^/process /'
    node_mounts | sed 's/^/mount /'
    # Only containerd makes it; with no containerd running it is ours.
    if [[ -e /run/containerd ]] && ! grep -qx containerd /proc/[0-9]*/comm 2>/dev/null; then
        echo "directory /run/containerd"
    fi
    while read -r d; do [[ -d $d ]] && echo "cgroup $d"; done < <(cgroup_dirs)
    ip link show "$HOST_IF" >/dev/null 2>&1 && echo "interface $HOST_IF"
    ip route show | grep -F "$NODE_NET." | sed 's/^/route /'
    [[ -e ${CONTAINERD_SOCK%/*} ]] && echo "directory ${CONTAINERD_SOCK%/*}"
    find /var/log/containers -maxdepth 1 -lname "$NODE_DIR/*" 2>/dev/null | sed 's/^/log link /'
    true
}
