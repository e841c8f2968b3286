#!/usr/bin/env bash
# e2e/install-chart.sh: install or upgrade charts/attestor-operator into KUBECONFIG's cluster
# the way a user does (`helm upgrade --install --wait`), with an image the cluster already
# has (imported, never pulled). Used by `make test` (the local node) and by the e2e-kind
# CI job alike; e2e/run.sh then runs against what it installed.
#
#   e2e/install-chart.sh install REPOSITORY:TAG [HELM ARGS...]
#       install (or upgrade to) the chart with that image, pull policy Never; wait until
#       every replica runs that image and is Ready
#   e2e/install-chart.sh upgrade [HELM ARGS...]
#       helm upgrade --reuse-values with the given changes (e.g. --set k=v); wait the same way
#   e2e/install-chart.sh diagnose
#       what to look at when something failed: Pods, Events, operator logs, node logs
#
# ATTESTOR_RELEASE (attestor) and ATTESTOR_NAMESPACE (attestor-system) name the release;
# ATTESTOR_CHART_TIMEOUT (180s) bounds each wait. helm: HELM, else e2e/helm.sh builds it.
# With ATTESTOR_REGISTRY_PLAIN / ATTESTOR_REGISTRY_REFERRERS (HOST:PORT, e.g. from
# `e2e/registry.sh env --host node`) on an address the Pods reach (not loopback), `install`
# lets the operator read them: --set operator.fetchAllowNetworks={HOST/32} (private
# addresses are denied by default) and --registry-plain-http=HOST:PORT for each in
# operator.extraArgs (both plain HTTP). HELM ARGS given after the image come later and win.
set -Eeuo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
readonly ROOT CHART=$ROOT/charts/attestor-operator
readonly RELEASE=${ATTESTOR_RELEASE:-attestor} NS=${ATTESTOR_NAMESPACE:-attestor-system}
readonly TIMEOUT=${ATTESTOR_CHART_TIMEOUT:-180s}
readonly SELECTOR=app.kubernetes.io/name=attestor-operator,app.kubernetes.io/instance=${ATTESTOR_RELEASE:-attestor}

log() { printf '[%(%H:%M:%S)T] install-chart: %s\n' -1 "$*" >&2; }
die() { log "error: $*"; diagnose >&2 || true; exit 1; }

helm() { "${HELM:-$("$ROOT/e2e/helm.sh")}" "$@"; }

diagnose() {
    echo "--- kubectl get pods -n $NS -o wide"
    kubectl get pods -n "$NS" -o wide 2>&1
    echo "--- kubectl describe pods -n $NS (tail)"
    kubectl describe pods -n "$NS" -l "$SELECTOR" 2>&1 | tail -n 60
    echo "--- events in $NS"
    kubectl get events -n "$NS" --sort-by=.lastTimestamp 2>&1 | tail -n 25
    echo "--- operator logs"
    kubectl logs -n "$NS" -l "$SELECTOR" --all-containers --prefix --tail=40 2>&1
    local f
    for f in kubelet containerd kube-scheduler; do
        if [[ -r $ROOT/e2e/.run/logs/$f.log ]]; then
            echo "--- e2e/.run/logs/$f.log (tail)"
            grep -v 'DEPRECATION' "$ROOT/e2e/.run/logs/$f.log" | tail -n 25
        fi
    done
}

# Every replica of the Deployment is the current revision, runs IMAGE and is Ready.
wait_rolled_out() { # <image>
    local image=$1 want got
    kubectl rollout status -n "$NS" "deployment/$(deployment)" --timeout="$TIMEOUT" >&2 ||
        die "the Deployment did not roll out within $TIMEOUT"
    want=$(kubectl get -n "$NS" "deployment/$(deployment)" -o jsonpath='{.spec.replicas}')
    # Pods of the old ReplicaSet may still be terminating after the rollout: count Running
    # Ready ones with the image.
    local deadline=$((SECONDS + 60))
    while :; do
        got=$(kubectl get pods -n "$NS" -l "$SELECTOR" -o json | python3 -c '
import json, sys
image = sys.argv[1]
pods = [p for p in json.load(sys.stdin)["items"] if not p["metadata"].get("deletionTimestamp")]
ok = [p for p in pods if p["status"].get("phase") == "Running"
      and all(c["image"] == image for c in p["spec"]["containers"])
      and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))]
print(len(ok), len(pods))' "$image")
        [[ $got == "$want $want" ]] && break
        (( SECONDS < deadline )) || die "want $want Running Ready Pods with $image and no others, have (ready total) $got"
        sleep 2
    done
    log "$want operator Pods Running and Ready with $image"
    kubectl get pods -n "$NS" -l "$SELECTOR" -o wide >&2
    kubectl get pods -n "$NS" -l "$SELECTOR" >&2 \
        -o custom-columns='NAME:.metadata.name,STATUS:.status.phase,NODE:.spec.nodeName,IMAGE:.spec.containers[0].image,IMAGE ID:.status.containerStatuses[0].imageID'

}

deployment() {
    kubectl get deployments -n "$NS" -l "$SELECTOR" -o jsonpath='{.items[0].metadata.name}'
}

# The helm values that let the operator read the test registries of the environment
# (see the header); none when there are none, or only on loopback (no Pod reaches it).
REGISTRY_VALUES=()
registry_values() {
    local r hosts=() args=() nets
    for r in ${ATTESTOR_REGISTRY_PLAIN:-} ${ATTESTOR_REGISTRY_REFERRERS:-}; do
        [[ $r =~ ^([0-9.]+):[0-9]+$ ]] || die "registry $r: want IPv4:PORT"
        [[ $r == 127.* ]] && { log "registry $r is on loopback: the operator's Pods cannot reach it, not configured"; continue; }
        [[ " ${hosts[*]} " == *" ${BASH_REMATCH[1]}/32 "* ]] || hosts+=("${BASH_REMATCH[1]}/32")
        args+=("\"--registry-plain-http=$r\"")
    done
    (( ${#args[@]} )) || return 0
    nets=$(IFS=,; printf '%s' "${hosts[*]}")
    REGISTRY_VALUES=(--set "operator.fetchAllowNetworks={$nets}"
        --set-json "operator.extraArgs=[$(IFS=,; printf '%s' "${args[*]}")]")
    log "the operator reads the test registries: ${REGISTRY_VALUES[*]}"
}

cmd_install() {
    local image=${1:?usage: e2e/install-chart.sh install REPOSITORY:TAG [HELM ARGS...]}
    shift
    [[ $image == *:* && ${image##*:} != */* ]] || die "$image: want REPOSITORY:TAG"
    registry_values
    log "helm upgrade --install $RELEASE (namespace $NS, image $image)"
    helm upgrade --install "$RELEASE" "$CHART" --namespace "$NS" --create-namespace \
        --set image.repository="${image%:*}" --set image.tag="${image##*:}" --set image.pullPolicy=Never \
        "${REGISTRY_VALUES[@]}" --wait --timeout "$TIMEOUT" "$@" >&2 || die "helm install failed"
    wait_rolled_out "$image"
}

cmd_upgrade() {
    local image
    log "helm upgrade $RELEASE --reuse-values $*"
    helm upgrade "$RELEASE" "$CHART" --namespace "$NS" --reuse-values --wait --timeout "$TIMEOUT" "$@" >&2 ||
        die "helm upgrade failed"
    image=$(kubectl get -n "$NS" "deployment/$(deployment)" -o jsonpath='{.spec.template.spec.containers[0].image}')
    wait_rolled_out "$image"
}

case ${1:-} in
    install) shift; cmd_install "$@" ;;
    upgrade) shift; cmd_upgrade "$@" ;;
    diagnose) diagnose ;;
    *) sed -n '2,23s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
esac
