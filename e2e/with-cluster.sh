#!/usr/bin/env bash
# e2e/with-cluster.sh CMD...: runs CMD with KUBECONFIG pointing at a cluster.
#
# With KUBECONFIG already set, CMD runs against that cluster as is. Otherwise
# the local control plane is started (built first if it is not cached), CMD
# runs against it, and the control plane is stopped again afterwards, unless
# it was already running before (then it is left as it was).
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
  stamp "starting the local control plane (the first run builds it from Go modules and takes a while)"
  e2e/cluster.sh up || { stamp "the control plane did not start"; exit 1; }
  started_here=1
fi
if [[ -n $started_here ]]; then
  trap 'stamp "stopping the local control plane"; e2e/cluster.sh down' EXIT
fi
export KUBECONFIG=$PWD/e2e/kubeconfig
stamp "control plane ready"
install_crds
"$@"
rc=$?
stamp "done (exit $rc)"
exit "$rc"
