#!/usr/bin/env bash
# e2e/with-cluster.sh CMD...: runs CMD with KUBECONFIG pointing at a cluster.
#
# With KUBECONFIG already set, CMD runs against that cluster as is. Otherwise
# the local cluster is started (built first if it is not cached; with its node
# when ATTESTOR_E2E_NODE=1), CMD runs against it, and the cluster is stopped
# again afterwards and checked to have left nothing behind (e2e/cluster.sh
# leftovers), unless it was already running before (then it is left as it was).
set -Euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
stamp() { printf '[with-cluster +%ss] %s\n' "$((SECONDS - start))" "$*" >&2; }

# The tests expect the attestor CRDs, as envtest installs them: every test binary may run first.
install_crds() {
  kubectl apply --server-side --force-conflicts -f crds/ >/dev/null &&
    kubectl wait --for=condition=Established --timeout=60s -f crds/ >/dev/null ||
    { stamp "could not install crds/"; exit 1; }
  stamp "crds/ installed"
}

if [[ -n ${KUBECONFIG:-} ]]; then
  stamp "using the cluster of KUBECONFIG=$KUBECONFIG"
  install_crds
  exec "$@"
fi

started_here=
if ! e2e/cluster.sh status >/dev/null 2>&1; then
  stamp "starting the local cluster${ATTESTOR_E2E_NODE:+ (ATTESTOR_E2E_NODE=$ATTESTOR_E2E_NODE)} (the first run builds it from Go modules and takes a while)"
  e2e/cluster.sh up || { stamp "the cluster did not start"; e2e/cluster.sh down; exit 1; }
  started_here=1
fi
export KUBECONFIG=$PWD/e2e/kubeconfig
stamp "cluster ready"
# Stop what was started here; then nothing of it may be left on the machine.
stop() {
  [[ -n $started_here ]] || return 0
  stamp "stopping the local cluster"
  e2e/cluster.sh down && e2e/cluster.sh leftovers
}
trap 'stop; exit 130' INT TERM
install_crds
"$@"
rc=$?
if (( rc != 0 )) && [[ -d e2e/.run/node ]]; then
  stamp "failed (exit $rc); the node's state for diagnosis:"
  e2e/install-chart.sh diagnose 2>&1 | tail -n 120
fi
trap - INT TERM
stop || { stamp "the cluster left something behind"; (( rc != 0 )) || rc=1; }
stamp "done (exit $rc)"
exit "$rc"
