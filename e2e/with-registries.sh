#!/usr/bin/env bash
# e2e/with-registries.sh CMD...: runs CMD with the two local test registries up
# (e2e/registry.sh: distribution without the referrers API, refreg with it) and their
# addresses exported (ATTESTOR_REGISTRY_PLAIN, ATTESTOR_REGISTRY_REFERRERS, ATTESTOR_TOOLS_BIN),
# as the registry tests need them. Registries already running are used and left running;
# ones started here are stopped afterwards.
set -Euo pipefail
cd "$(dirname "$0")/.."
started=
if ! e2e/registry.sh status >/dev/null 2>&1; then
  e2e/registry.sh up >&2 || { echo "with-registries: the registries did not start" >&2; exit 1; }
  started=1
fi
trap '[[ -n $started ]] && e2e/registry.sh down >&2' EXIT
eval "$(e2e/registry.sh env)"
"$@"
