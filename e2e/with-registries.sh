#!/usr/bin/env bash
# e2e/with-registries.sh [--host node] CMD...: runs CMD with the two local test registries up
# (e2e/registry.sh: distribution without the referrers API, refreg with it) and their
# addresses exported (ATTESTOR_REGISTRY_PLAIN, ATTESTOR_REGISTRY_REFERRERS, ATTESTOR_TOOLS_BIN),
# as the registry tests need them. Registries already running are used and left running;
# ones started here are stopped afterwards. --host node: the set on the local node's address,
# which the node's containerd and its Pods reach (the node must be up); without it, the
# loopback set.
set -Euo pipefail
cd "$(dirname "$0")/.."
set_args=()
if [[ ${1:-} == --host ]]; then
  [[ $# -ge 3 ]] || { echo "usage: e2e/with-registries.sh [--host node] CMD..." >&2; exit 2; }
  set_args=(--host "$2")
  shift 2
fi
started=
if ! e2e/registry.sh status "${set_args[@]}" >/dev/null 2>&1; then
  e2e/registry.sh up "${set_args[@]}" >&2 || { echo "with-registries: the registries did not start" >&2; exit 1; }
  started=1
fi
trap '[[ -n $started ]] && e2e/registry.sh down "${set_args[@]}" >&2' EXIT
eval "$(e2e/registry.sh env "${set_args[@]}")"
"$@"
