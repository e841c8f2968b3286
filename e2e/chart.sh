#!/usr/bin/env bash
# e2e/chart.sh: test the Helm chart charts/attestor-operator.
#
#   1. charts/attestor-operator/crds/ is identical to crds/ (`make crds` updates both);
#   2. `helm lint --strict` with the default values and with everything toggled on;
#   3. `helm template` of three value sets: defaults; cert-manager + ServiceMonitor +
#      PrometheusRule + dashboard; a single replica without leader election or webhook;
#   4. `kubectl apply --server-side --dry-run=server` of every rendered manifest (CRDs
#      included) against KUBECONFIG, in a throw-away namespace: the API server validates
#      them (schemas, RBAC, webhook configuration) and persists nothing;
#   5. e2e/chart_check.py on what the API server returned (restricted security context,
#      least-privilege RBAC, webhook settings) and on the monitoring content (Grafana
#      dashboard JSON; every metric in the dashboard and the alerts is one the operator
#      exports, per charts/attestor-operator/metrics.txt; runbook links resolve; every
#      value in values.yaml is documented);
#   6. chart_check.py rejects a dashboard with a metric the operator does not export.
#
# The ServiceMonitor, PrometheusRule and cert-manager Certificate/Issuer are rendered
# and checked, but not dry-run: their CRDs are not installed in the local cluster, and
# installing stand-ins there would add cluster-scoped objects that other users of the
# cluster see, while validating nothing but apiVersion/kind/metadata (a stand-in has no
# schema). chart_check.py checks those objects' structure instead.
#
# helm is built from its pinned Go module on first use (e2e/helm.sh).
set -Eeuo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
readonly ROOT CHART=$ROOT/charts/attestor-operator
log() { printf '[%(%H:%M:%S)T] chart: %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ -n ${KUBECONFIG:-} ]] || die "KUBECONFIG is not set (e.g. e2e/with-cluster.sh e2e/chart.sh)"
HELM=${HELM:-$("$ROOT/e2e/helm.sh")}
log "$("$HELM" version --short)"

WORK=$(mktemp -d)
NS=attestor-chart-$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')
cleanup() {
    kubectl delete namespace "$NS" --ignore-not-found --wait=false >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

log "1. chart CRDs match crds/"
diff -r "$ROOT/crds" "$CHART/crds" >&2 || die "charts/attestor-operator/crds differs from crds/: run make crds"

ALL_ON=(--set certManager.enabled=true --set 'operator.fetchAllowNetworks={10.96.0.0/12}'
        --set monitoring.serviceMonitor.enabled=true
        --set monitoring.prometheusRule.enabled=true --set monitoring.dashboard.enabled=true)
MINIMAL=(--set replicaCount=1 --set leaderElection.enabled=false --set webhook.enabled=false)

log "2. helm lint"
"$HELM" lint --strict "$CHART" >&2
"$HELM" lint --strict "$CHART" "${ALL_ON[@]}" >&2
"$HELM" lint --strict "$CHART" "${MINIMAL[@]}" >&2

log "3. helm template"
render() { # <name> <helm args>...
    local name=$1
    shift
    "$HELM" template attestor "$CHART" --namespace "$NS" --include-crds "$@" >"$WORK/$name.yaml"
    # Kinds whose CRDs the local cluster does not have go to a file of their own.
    python3 - "$WORK/$name.yaml" "$WORK/$name.core.yaml" "$WORK/$name.external.yaml" <<'EOF'
import re, sys
src, core, ext = sys.argv[1:]
docs = re.split(r"(?m)^---\s*$", open(src).read())
external = ("ServiceMonitor", "PrometheusRule", "Certificate", "Issuer")
with open(core, "w") as c, open(ext, "w") as e:
    for d in docs:
        m = re.search(r"(?m)^kind:\s*(\S+)", d)
        if not m:
            continue
        (e if m.group(1) in external else c).write("---" + d.rstrip() + "\n")
EOF
    log "   $name: $(grep -c '^kind:' "$WORK/$name.core.yaml") objects to dry-run, $(grep -c '^kind:' "$WORK/$name.external.yaml" || true) checked offline"
}
render default
render all-on "${ALL_ON[@]}"
render minimal "${MINIMAL[@]}"

log "4. kubectl apply --dry-run=server (namespace $NS, created for the test and deleted)"
kubectl create namespace "$NS" >/dev/null
for name in default all-on minimal; do
    kubectl apply --server-side --force-conflicts --field-manager=attestor-chart-test \
        --dry-run=server -o json -f "$WORK/$name.core.yaml" >"$WORK/$name.applied.json" \
        || die "the API server rejected the $name manifests ($WORK/$name.core.yaml)"
done

log "5. chart_check.py"
for name in default all-on minimal; do
    args=(--objects "$WORK/$name.applied.json" --external "$WORK/$name.external.yaml" --values "$name")
    if [[ $name == all-on ]]; then
        "$HELM" template attestor "$CHART" --namespace "$NS" "${ALL_ON[@]}" \
            --show-only templates/prometheusrule.yaml >"$WORK/rules.yaml"
        args+=(--rules "$WORK/rules.yaml" --dashboard "$CHART/files/dashboard.json"
               --metrics "$CHART/metrics.txt" --metrics-rs "$ROOT/operator/runtime/src/metrics.rs"
               --runbooks "${RUNBOOKS:-$ROOT/docs/runbooks.md}" --values-yaml "$CHART/values.yaml")
    fi
    python3 "$ROOT/e2e/chart_check.py" "${args[@]}"
done

log "6. chart_check.py fails on a metric the operator does not export"
sed 's/sum(replay_queue_depth{/sum(replay_queue_length{/' "$CHART/files/dashboard.json" >"$WORK/bad-dashboard.json"
cmp -s "$CHART/files/dashboard.json" "$WORK/bad-dashboard.json" && die "could not plant an unknown metric"
if python3 "$ROOT/e2e/chart_check.py" --rules "$WORK/rules.yaml" --dashboard "$WORK/bad-dashboard.json" \
    --metrics "$CHART/metrics.txt" --metrics-rs "$ROOT/operator/runtime/src/metrics.rs" 2>"$WORK/bad.err"; then
    die "chart_check.py accepted a dashboard with the unknown metric replay_queue_length"
fi
grep -q "unknown metric 'replay_queue_length'" "$WORK/bad.err" || { cat "$WORK/bad.err" >&2; die "unexpected chart_check.py failure"; }
log "chart tests passed"
