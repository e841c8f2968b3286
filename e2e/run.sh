#!/usr/bin/env bash
# e2e/run.sh: the end-to-end suite. Asserts what a user sees with kubectl.
#
# Runs against whatever cluster KUBECONFIG points at (kind in hosted CI), or
# against the local cluster's e2e/kubeconfig when KUBECONFIG is unset.
# It creates only objects named in crds/ and examples/ and its own namespaces
# and TrustedIssuer, and removes them again when it ends (the CRDs stay, like
# any installation).
#
# The operator is the one the Helm chart installed (e2e/install-chart.sh: `make
# test` on the local node, the e2e-kind CI job on kind): then the suite also
# runs a workload of the locally built image (target/images/app.ref, from
# e2e/image.sh node) through admission until its Pod runs, checks leader
# election across the operator Pods, kills the leader Pod, and upgrades the
# chart. With no chart installed it runs `attestor run` ($ATTESTOR_BIN) as a
# process for the length of the suite; ATTESTOR_E2E_EXPECT_CHART=1 makes a
# missing chart a failure instead.
#
# With the test registries (ATTESTOR_REGISTRY_PLAIN, ATTESTOR_REGISTRY_REFERRERS and
# ATTESTOR_TOOLS_BIN from `e2e/registry.sh env`; `make test` runs the chart's suite under
# `e2e/with-registries.sh --host node`, on the node's address): the workload image is pushed
# to the registry and its Pod pulls it from there (the Pod's events say so), and the section
# "proofs found in the registry" signs images with cosign and verifies them with
# ProofVerifications of `source.registry`. Without them that section is skipped with one line;
# ATTESTOR_E2E_EXPECT_REGISTRY=1 makes that a failure instead. The chart's operator runs in
# Pods, which reach no registry on the test machine's loopback: then the same applies.
set -Euo pipefail
cd "$(dirname "$0")/.."

if [[ -z ${KUBECONFIG:-} ]]; then
  if [[ -f e2e/kubeconfig ]]; then
    export KUBECONFIG=$PWD/e2e/kubeconfig
  elif kubectl config current-context >/dev/null 2>&1; then
    : # kubectl's own configuration (kind writes ~/.kube/config)
  else
    echo "e2e: no cluster: set KUBECONFIG or run 'make cluster-up'" >&2
    exit 2
  fi
fi

pass=0 fail=0
ok() { pass=$((pass + 1)); printf '  ok    %s\n' "$1"; }
bad() { fail=$((fail + 1)); printf '  FAIL  %s\n' "$1"; [[ -n ${2:-} ]] && printf '%s\n' "$2" | sed 's/^/        /'; }
section() { printf '\n== %s\n' "$1"; }

operator_pid= webhook_config= workload_issuer= registry_anchor= registry_issuer= registry_work= discovery_issuer=
reg_plain=${ATTESTOR_REGISTRY_PLAIN:-} reg_referrers=${ATTESTOR_REGISTRY_REFERRERS:-}
run_id=$$-$RANDOM
admission_ns=(e2e-enforce-$run_id e2e-warn-$run_id e2e-open-$run_id)
cleanup() {
  # The webhook configuration first: with failurePolicy Fail and no operator it would deny Pods.
  if [[ -n $webhook_config ]]; then kubectl delete --ignore-not-found validatingwebhookconfiguration "$webhook_config" >/dev/null 2>&1; fi
  if [[ -n $operator_pid ]]; then kill -TERM "$operator_pid" 2>/dev/null; wait "$operator_pid" 2>/dev/null; fi
  kubectl delete --ignore-not-found --wait=false namespace "${admission_ns[@]}" >/dev/null 2>&1 || true
  if [[ -n $workload_issuer ]]; then kubectl delete --ignore-not-found trustedissuer "$workload_issuer" >/dev/null 2>&1; fi
  if [[ -n $registry_issuer ]]; then kubectl delete --ignore-not-found trustedissuer "$registry_issuer" >/dev/null 2>&1; fi
  if [[ -n $discovery_issuer ]]; then kubectl delete --ignore-not-found trustedissuer "$discovery_issuer" >/dev/null 2>&1; fi
  if [[ -n $registry_anchor ]]; then kubectl delete --ignore-not-found trustanchor "$registry_anchor" >/dev/null 2>&1; fi
  if [[ -n $registry_work ]]; then rm -rf "$registry_work"; fi
  kubectl delete --ignore-not-found --wait=false -f examples/ >/dev/null 2>&1 || true
}
trap cleanup EXIT

section "cluster"
if out=$(kubectl version -o json 2>&1); then
  ok "API server answers ($(printf '%s' "$out" | sed -n 's/.*"gitVersion": "\([^"]*\)".*/\1/p' | tail -n1))"
else
  bad "API server answers" "$out"; exit 1
fi

section "custom resource definitions"
if out=$(kubectl apply --server-side --force-conflicts -f crds/ 2>&1); then ok "kubectl apply --server-side -f crds/"; else bad "apply crds" "$out"; fi
for crd in crds/*.yaml; do
  name=$(sed -n 's/^  name: \(.*\)$/\1/p' "$crd" | head -n1)
  if out=$(kubectl wait --for=condition=Established --timeout=60s "crd/$name" 2>&1); then ok "$name established"; else bad "$name established" "$out"; fi
done

section "examples"
if out=$(kubectl apply --server-side --force-conflicts -f examples/ 2>&1); then
  ok "kubectl apply --server-side -f examples/ ($(printf '%s\n' "$out" | wc -l) objects)"
else
  bad "apply examples" "$out"
fi

# kubectl get shows the printer columns a user relies on.
expect_columns() { # <resource> <column>...
  local resource=$1; shift
  local header
  header=$(kubectl get "$resource" -A 2>&1 | head -n1)
  local missing=()
  for col in "$@"; do [[ $header == *"$col"* ]] || missing+=("$col"); done
  if [[ ${#missing[@]} -eq 0 ]]; then ok "kubectl get $resource shows $*"; else bad "kubectl get $resource columns (missing ${missing[*]})" "$header"; fi
}
expect_columns trustanchors READY "KEY ID" ALGORITHM EXPIRES AGE
expect_columns trustedissuers TRUSTED ISSUER KEYS AGE
expect_columns proofverifications VERIFIED REASON DIGEST ISSUER AGE
expect_columns replayjobs SCHEDULE SUSPEND "LAST RUN" DRIFTED AGE
if out=$(kubectl get attestor -A 2>&1) && [[ $out == *trustanchor* || $out == *TrustAnchor* || $out == *"trustanchor."* ]]; then
  ok "kubectl get attestor lists every kind"
else
  bad "kubectl get attestor lists every kind" "$out"
fi

section "the operator"
# An operator installed in the cluster (the Helm chart on kind) is used as it is; otherwise the
# locally built binary runs against KUBECONFIG for the length of the suite.
metrics_url= webhook_port= installed= chart_ns= chart_selector=
chart=$(kubectl get deployments -A -l app.kubernetes.io/name=attestor-operator \
  -o jsonpath='{range .items[*]}{.metadata.namespace} {.metadata.labels.app\.kubernetes\.io/instance}{"\n"}{end}' 2>/dev/null | head -n1)
if [[ -n $chart ]]; then
  installed=1
  chart_ns=${chart%% *}
  chart_selector=app.kubernetes.io/name=attestor-operator,app.kubernetes.io/instance=${chart#* }
  ready=$(kubectl get pods -n "$chart_ns" -l "$chart_selector" -o jsonpath='{range .items[*]}{.metadata.name}={.status.phase}{"\n"}{end}')
  ok "operator installed by the chart in $chart_ns: $(tr '\n' ' ' <<<"$ready")"
  metrics_url=pods
elif [[ ${ATTESTOR_E2E_EXPECT_CHART:-} == 1 ]]; then
  bad "operator installed by the chart (ATTESTOR_E2E_EXPECT_CHART=1; run e2e/install-chart.sh)"
  printf '\ne2e: %d passed, %d failed\n' "$pass" "$fail"
  exit 1
else
  bin=${ATTESTOR_BIN:-target/debug/attestor}
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  oplog=$(mktemp -t attestor-e2e-operator.XXXXXX.log)
  if [[ -x $bin ]]; then
    # The webhook on loopback: the local API server calls it at https://127.0.0.1 (a cluster
    # elsewhere runs the operator with the Helm chart, see above).
    webhook_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    webhook_config=attestor-e2e-$run_id
    # The test registries, as the chart's values do it (e2e/install-chart.sh): plain HTTP, and
    # their address allowed (loopback and private ones are denied by default).
    registry_flags=()
    for r in $reg_plain $reg_referrers; do
      registry_flags+=(--registry-plain-http "$r")
      [[ " ${registry_flags[*]} " == *" ${r%:*}/32 "* ]] || registry_flags+=(--fetch-allow-network "${r%:*}/32")
    done
    "$bin" run --leader-elect=false --probe-address "127.0.0.1:$port" \
      --webhook-address "127.0.0.1:$webhook_port" --webhook-dns-name 127.0.0.1 \
      --webhook-configuration "$webhook_config" --lease-namespace default --admission-wait 2s \
      --allow-file-stores=true "${registry_flags[@]}" \
      >"$oplog" 2>&1 &
    operator_pid=$!
    metrics_url=http://127.0.0.1:$port/metrics
    for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
    if curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then ok "$bin run is ready (log $oplog)"; else bad "$bin run is ready" "$(tail -n 20 "$oplog")"; fi
  else
    bad "operator binary $bin exists (cargo build -p attestor)"
  fi
fi

# /metrics of the operator: of every operator Pod (through the API server's Pod proxy) when
# the chart installed it, else of the process this suite started.
scrape() {
  if [[ $metrics_url != pods ]]; then curl -fs "$metrics_url"; return; fi
  local pod port
  for pod in $(kubectl get pods -n "$chart_ns" -l "$chart_selector" --field-selector=status.phase=Running -o name); do
    port=$(kubectl get -n "$chart_ns" "$pod" -o jsonpath='{.spec.containers[0].ports[?(@.name=="metrics")].containerPort}')
    kubectl get --raw "/api/v1/namespaces/$chart_ns/pods/${pod#pod/}:$port/proxy/metrics" || return 1
  done
}

# expect_condition <kind/name> <namespace or -> <type> <status> <reason>
expect_condition() {
  local obj=$1 ns=$2 type=$3 status=$4 reason=$5 nsflag=() out
  [[ $ns != - ]] && nsflag=(-n "$ns")
  if out=$(kubectl wait "${nsflag[@]}" "$obj" --timeout=90s \
      --for=jsonpath="{.status.conditions[?(@.type==\"$type\")].reason}=$reason" 2>&1) &&
     [[ $(kubectl get "${nsflag[@]}" "$obj" -o jsonpath="{.status.conditions[?(@.type==\"$type\")].status}") == "$status" ]]; then
    ok "$obj: $type=$status $reason"
  else
    bad "$obj: $type=$status $reason" "$out
$(kubectl get "${nsflag[@]}" "$obj" -o jsonpath='{.status.conditions}' 2>&1)"
  fi
}
# expect_describe <kind/name> <namespace or -> <phrase>...: kubectl describe shows each phrase
# (Events are published after the status they report, so give them a few seconds).
expect_describe() {
  local obj=$1 ns=$2; shift 2
  local nsflag=() out missing=()
  [[ $ns != - ]] && nsflag=(-n "$ns")
  for _ in $(seq 20); do
    out=$(kubectl describe "${nsflag[@]}" "$obj" 2>&1)
    missing=()
    for phrase in "$@"; do [[ $out == *"$phrase"* ]] || missing+=("$phrase"); done
    [[ ${#missing[@]} -eq 0 ]] && break
    sleep 0.5
  done
  if [[ ${#missing[@]} -eq 0 ]]; then ok "kubectl describe $obj shows: $*"; else bad "kubectl describe $obj lacks: ${missing[*]}" "$out"; fi
}

expect_condition trustanchor/example-ci-signing-2026 - Ready True Valid
expect_condition trustanchor/example-ci-signing-2024 - Ready False Expired
expect_describe trustanchor/example-ci-signing-2024 - Expired "add its successor as a new TrustAnchor"
expect_condition trustanchor/example-root-ca - Ready True Valid
expect_condition trustedissuer/example-ci - Trusted True Approved
expect_condition trustedissuer/example-vendor-unapproved - Trusted False ApprovalMissing
expect_describe trustedissuer/example-vendor-unapproved - ApprovalMissing "set spec.approval.approvedBy"
expect_condition proofverification/cart shop Verified True Verified
expect_condition proofverification/cart-inline-envelope shop Verified True Verified
expect_condition proofverification/cart-tampered-signature shop Verified False SignatureInvalid
expect_condition proofverification/cart-tampered-signature shop SignatureValid False SignatureInvalid
# The on-call view: the reason, what to do next, and the Event, all in kubectl describe.
expect_describe proofverification/cart-tampered-signature shop "SignatureInvalid" "Next: treat the bundle as tampered" "VerificationFailed"
expect_condition proofverification/cart-expired-key shop Verified False KeyExpired
expect_describe proofverification/cart-expired-key shop "KeyExpired" "expired at 2025-03-31" "Next: re-sign the proof with a current key"
expect_condition proofverification/cart-from-url shop Verified False SourceUnavailable
expect_condition proofverification/cart-from-url shop SourceAvailable False SourceHostReserved
out=$(kubectl get proofverifications -n shop 2>&1)
if [[ $(printf '%s\n' "$out" | awk '$1=="cart-tampered-signature"{print $2, $3}') == "False SignatureInvalid" ]]; then
  ok "kubectl get proofverifications shows VERIFIED False, REASON SignatureInvalid"
else
  bad "kubectl get proofverifications columns" "$out"
fi
if [[ -n $metrics_url ]]; then
  out=$(scrape 2>&1)
  missing=()
  for m in 'proof_verification_total{' proof_verification_failures_total proof_verification_success_rate proof_verification_duration_seconds_bucket proof_bundle_size_bytes_bucket attestor_reconcile_total; do
    [[ $out == *"$m"* ]] || missing+=("$m")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then ok "/metrics exports the runbook's verification metrics"; else bad "/metrics lacks ${missing[*]}"; fi
fi

section "admission: workloads need a verified proof in opted-in namespaces"
digest=$(kubectl get proofverification -n shop cart -o jsonpath='{.spec.artifactDigest}')
image="registry.example/shop/cart@$digest"
kubectl create namespace "${admission_ns[0]}" >/dev/null && kubectl label namespace "${admission_ns[0]}" attestor.stellaops.io/enforcement=enforce e2e.attestor.stellaops.io/run="$run_id" >/dev/null
kubectl create namespace "${admission_ns[1]}" >/dev/null && kubectl label namespace "${admission_ns[1]}" attestor.stellaops.io/enforcement=warn e2e.attestor.stellaops.io/run="$run_id" >/dev/null
kubectl create namespace "${admission_ns[2]}" >/dev/null
if [[ -z $installed ]]; then
  # Only this run's namespaces are sent to this run's webhook; the operator fills in caBundle.
  kubectl apply -f - >/dev/null <<YAML
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: $webhook_config
webhooks:
  - name: images.attestor.stellaops.io
    clientConfig:
      url: https://127.0.0.1:$webhook_port/validate
    rules:
      - {apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [pods], scope: Namespaced}
      - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [deployments, replicasets], scope: Namespaced}
    namespaceSelector:
      matchLabels: {e2e.attestor.stellaops.io/run: "$run_id"}
    failurePolicy: Fail
    timeoutSeconds: 5
    sideEffects: NoneOnDryRun
    admissionReviewVersions: [v1]
YAML
  for _ in $(seq 50); do
    [[ -n $(kubectl get validatingwebhookconfiguration "$webhook_config" -o jsonpath='{.webhooks[0].clientConfig.caBundle}' 2>/dev/null) ]] && break
    sleep 0.2
  done
  if [[ -n $(kubectl get validatingwebhookconfiguration "$webhook_config" -o jsonpath='{.webhooks[0].clientConfig.caBundle}') ]]; then
    ok "the operator put its CA into the caBundle of $webhook_config"
  else
    bad "the operator put its CA into the caBundle of $webhook_config" "$(tail -n 20 "$oplog")"
  fi
fi

# expect_pulled <namespace> <app label> <image>: the Pod's events say the kubelet pulled the image,
# as `kubectl get events` shows them (an image already on the node says "already present").
expect_pulled() {
  local ns=$1 app=$2 image=$3 pod out=
  pod=$(kubectl get pods -n "$ns" -l "app=$app" -o jsonpath='{.items[0].metadata.name}' 2>&1)
  for _ in $(seq 20); do
    out=$(kubectl get events -n "$ns" --field-selector "involvedObject.name=$pod" 2>&1)
    [[ $out == *"Successfully pulled image \"$image\""* ]] && break
    sleep 0.5
  done
  if [[ $out == *"Successfully pulled image \"$image\""* ]]; then
    ok "kubectl get events --field-selector involvedObject.name=$pod: $(grep -o 'Pulled .*Successfully pulled image.* in [^ ]*' <<<"$out" | head -n1 | sed 's/  */ /g')"
  else
    bad "the events of Pod $pod say the image was pulled: Successfully pulled image \"$image\"" "$out"
  fi
}

# A registry the cluster's Pods (and nodes) reach: not the test machine's loopback, unless the
# operator is the process this suite started on this machine.
registry_reachable() { [[ -n $1 && ( -z $installed || ( $1 != 127.* && $1 != localhost:* ) ) ]]; }

# expect_create_fails <namespace> <phrase>... -- kubectl create args
expect_refused() {
  local ns=$1; shift
  local phrases=() out
  while [[ $1 != -- ]]; do phrases+=("$1"); shift; done; shift
  if out=$(kubectl create -n "$ns" "$@" 2>&1); then
    bad "kubectl create $* in $ns is refused" "$out"; return
  fi
  for phrase in "${phrases[@]}"; do
    [[ $out == *"$phrase"* ]] || { bad "kubectl create $* in $ns: the denial says \"$phrase\"" "$out"; return; }
  done
  ok "kubectl create $* in $ns is refused: ${phrases[*]}"
}

enforce=${admission_ns[0]}
expect_refused "$enforce" "denied the request" "registry.example/shop/cart" "no ProofVerification for $digest" \
  -- deployment cart --image "$image"
expect_refused "$enforce" "nginx:1.27" "not pinned by digest" -- deployment web --image nginx:1.27
# The proof arrives: the inline-envelope example, copied into the namespace.
kubectl get proofverification -n shop cart-inline-envelope -o json | python3 -c '
import json, sys
pv = json.load(sys.stdin)
print(json.dumps({"apiVersion": pv["apiVersion"], "kind": pv["kind"],
                  "metadata": {"name": "cart", "namespace": sys.argv[1]}, "spec": pv["spec"]}))' "$enforce" |
  kubectl apply -f - >/dev/null
expect_condition proofverification/cart "$enforce" Verified True Verified
created=
for _ in $(seq 20); do
  if out=$(kubectl create -n "$enforce" deployment cart --image "$image" 2>&1); then created=1; break; fi
  sleep 0.5
done
if [[ -n $created ]]; then ok "after its proof is Verified the same kubectl create succeeds"; else bad "after its proof is Verified the same kubectl create succeeds" "$out"; fi

warn=${admission_ns[1]}
if out=$(kubectl create -n "$warn" deployment web --image nginx:1.27 2>&1) && [[ $out == *"Warning:"*"not pinned by digest"* ]]; then
  ok "a warn namespace admits nginx:1.27 with a warning"
else
  bad "a warn namespace admits nginx:1.27 with a warning" "$out"
fi
if out=$(kubectl create -n "${admission_ns[2]}" deployment web --image nginx:1.27 2>&1) && [[ $out != *Warning* ]]; then
  ok "a namespace that did not opt in is untouched"
else
  bad "a namespace that did not opt in is untouched" "$out"
fi
if [[ -n $metrics_url ]]; then
  out=$(scrape 2>&1)
  if [[ $out == *'admission_requests_total{decision="denied",reason="ProofMissing"}'* && $out == *'admission_requests_total{decision="warned"'* ]]; then
    ok "/metrics counts admission decisions by decision and reason"
  else
    bad "/metrics counts admission decisions" "$(printf '%s\n' "$out" | grep admission_ | head -n 20)"
  fi
fi

section "a workload of the locally built image: denied, admitted once its proof is Verified, Running"
if [[ -z $installed ]]; then
  ok "skipped: no node runs Pods for the operator this suite started (the chart path runs it)"
elif [[ ! -r target/images/app.ref ]]; then
  bad "target/images/app.ref exists (e2e/image.sh node builds the workload image)"
else
  read -r app_name app_digest <target/images/app.ref
  app_repo=${app_name%:*}
  app_image=$app_repo@$app_digest
  pulled=
  # With a registry the node pulls from, the image goes there (unchanged: same digest) and the
  # Pod pulls it; the repository is this run's, so no node has it under that name already.
  # Without one, the image must be on the node already (kind load, e2e/cluster.sh load).
  if registry_reachable "$reg_plain"; then
    if out=$(e2e/image.sh push target/images/app.tar "$reg_plain/attestor-e2e/app-$run_id:1" 2>&1) &&
       [[ $(tail -n1 <<<"$out") == *"@$app_digest" ]]; then
      app_image=$(tail -n1 <<<"$out") app_repo=${app_image%@*} pulled=1
      ok "e2e/image.sh push target/images/app.tar: $app_image"
    else
      bad "e2e/image.sh push target/images/app.tar to $reg_plain keeps its digest $app_digest" "$out"
    fi
  fi
  workload_issuer=e2e-workloads-$run_id
  bin=${ATTESTOR_BIN:-target/debug/attestor}
  # An issuer for the local images, signing with the example CI key and log (TEST ONLY).
  kubectl apply -f - >/dev/null <<YAML
apiVersion: attestor.stellaops.io/v1alpha1
kind: TrustedIssuer
metadata:
  name: $workload_issuer
spec:
  issuer: https://ci.example/e2e-workloads
  anchors: [example-ci-signing-2026, example-transparency-log]
  approval:
    approvedBy: e2e@attestor.local
    reason: "e2e/run.sh: the workload image it builds and signs"
    approvedAt: "2026-01-15T10:00:00Z"
  scope:
    images: ["${app_repo%/*}/*"]
YAML
  expect_condition "trustedissuer/$workload_issuer" - Trusted True Approved
  expect_refused "$enforce" "denied the request" "$app_repo" "no ProofVerification for $app_digest" \
    -- deployment app --image "$app_image"
  work=$(mktemp -d -t attestor-e2e-work.XXXXXX)
  if "$bin" score --sbom examples/inputs/sbom.cdx.json --feed examples/inputs/feed.json \
      --vex examples/inputs/vex.json --policy examples/inputs/policy.json --artifact "$app_digest" \
      --artifact-name "$app_repo" --key examples/keys/test-only-signing.pem \
      --tlog "$work/tlog.json" --tlog-key examples/keys/test-only-log.pem \
      --tlog-origin transparency.example/attestations --output "$work/app.zip" >"$work/score.log" 2>&1 &&
     kubectl create configmap -n "$enforce" app-proof --from-file=bundle.zip="$work/app.zip" >/dev/null; then
    ok "$bin score signed a proof bundle for $app_digest"
  else
    bad "$bin score signed a proof bundle for $app_digest" "$(cat "$work/score.log")"
  fi
  rm -rf "$work"
  kubectl apply -f - >/dev/null <<YAML
apiVersion: attestor.stellaops.io/v1alpha1
kind: ProofVerification
metadata:
  name: app
  namespace: $enforce
spec:
  artifactDigest: $app_digest
  image: $app_repo
  source:
    configMapKeyRef: {name: app-proof, key: bundle.zip}
  issuerRef:
    name: $workload_issuer
YAML
  expect_condition proofverification/app "$enforce" Verified True Verified
  created=
  for _ in $(seq 20); do
    if out=$(kubectl create -n "$enforce" deployment app --image "$app_image" 2>&1); then created=1; break; fi
    sleep 0.5
  done
  if [[ -n $created ]]; then ok "after its proof is Verified, kubectl create deployment app succeeds"; else bad "kubectl create deployment app after its proof is Verified" "$out"; fi
  if out=$(kubectl rollout status -n "$enforce" deployment/app --timeout=90s 2>&1) &&
     phase=$(kubectl get pods -n "$enforce" -l app=app -o jsonpath='{.items[0].status.phase} {.items[0].status.containerStatuses[0].imageID}') &&
     [[ $phase == Running* && $phase == *"$app_digest"* ]]; then
    ok "its Pod is Running the image $app_digest ($(kubectl get pods -n "$enforce" -l app=app -o jsonpath='{.items[0].spec.nodeName}'))"
  else
    bad "its Pod is Running" "$out
$(kubectl get pods -n "$enforce" -l app=app -o wide 2>&1)
$(kubectl describe pods -n "$enforce" -l app=app 2>&1 | tail -n 15)"
  fi
  [[ -z $pulled ]] || expect_pulled "$enforce" app "$app_image"
fi

section "proofs found in the registry: signed with cosign, verified by the operator, admitted"
# cosign, offline: its own HOME, TUF root and docker config in <dir>, no password on the key,
# every proxied connection to a closed port and the registry reached directly.
cosign_in() { # <dir> <cosign args>...
  local dir=$1 host=${reg_referrers%:*}
  shift
  mkdir -p "$dir/docker"
  [[ -e $dir/docker/config.json ]] || echo '{}' >"$dir/docker/config.json"
  (cd "$dir" && env -u SIGSTORE_ID_TOKEN -u ACTIONS_ID_TOKEN_REQUEST_URL -u ACTIONS_ID_TOKEN_REQUEST_TOKEN \
    HOME="$dir" TUF_ROOT="$dir/tuf" DOCKER_CONFIG="$dir/docker" COSIGN_PASSWORD= COSIGN_YES=true \
    HTTPS_PROXY=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 \
    http_proxy=http://127.0.0.1:9 NO_PROXY="$host" no_proxy="$host" \
    "$ATTESTOR_TOOLS_BIN/cosign" "$@")
}
cosign_sign() { # <dir with cosign.key> <REF@sha256:...>
  cosign_in "$1" sign --key cosign.key --tlog-upload=false --use-signing-config=false --allow-http-registry "$2"
}
# registry_image <name>: a workload image of this run's own (its own digest), pushed to the
# referrers registry as attestor-e2e/<name>; prints REF@sha256:...
registry_image() {
  local out
  e2e/image.sh app "$registry_work/$1.tar" "attestor.local/e2e-$1:1" "E2E_RUN=$run_id" "E2E_IMAGE=$1" >/dev/null &&
    out=$(e2e/image.sh push "$registry_work/$1.tar" "$reg_referrers/attestor-e2e/$1:1") &&
    printf '%s\n' "$(tail -n1 <<<"$out")"
}
# proof_from_registry <name> <REF@sha256:...>: a ProofVerification in the enforce namespace
# that finds the image's proofs in its registry.
proof_from_registry() {
  kubectl apply -f - >/dev/null <<YAML
apiVersion: attestor.stellaops.io/v1alpha1
kind: ProofVerification
metadata:
  name: $1
  namespace: $enforce
spec:
  artifactDigest: ${2#*@}
  image: ${2%@*}
  source:
    registry: {}
  issuerRef:
    name: $registry_issuer
  checks:
    transparencyLog: IfPresent
YAML
}

# expect_denied_with <namespace> <what> <phrase>... -- kubectl create args: the create is
# refused and the message has every phrase (retried briefly while the webhook's index catches up).
expect_denied_with() {
  local ns=$1 what=$2 out= phrase missing
  shift 2
  local phrases=()
  while [[ $1 != -- ]]; do phrases+=("$1"); shift; done; shift
  for _ in $(seq 20); do
    if out=$(kubectl create -n "$ns" "$@" 2>&1); then
      kubectl delete -n "$ns" "$1" "$2" --wait=false >/dev/null 2>&1
    else
      missing=
      for phrase in "${phrases[@]}"; do [[ $out == *"$phrase"* ]] || missing=1; done
      [[ -z $missing ]] && { ok "$what"; return 0; }
    fi
    sleep 0.5
  done
  bad "$what" "$out"
  return 1
}

# Discovery: a TrustedIssuer that discovers proofs in the registry, and no ProofVerification
# written by hand. The first kubectl create is denied naming the ProofVerification discovery
# creates; it appears and turns Verified (or says why not); the retry is admitted (or denied
# with that reason). Last, the registry stops: a digest already verified stays admitted, a new
# one is denied with RegistryUnavailable.
registry_discovery() {
  discovery_issuer=e2e-discovery-$run_id
  local issuer=$discovery_issuer signed unsigned foreign late out name
  if signed=$(registry_image disc-signed 2>&1) && unsigned=$(registry_image disc-unsigned 2>&1) &&
     foreign=$(registry_image disc-foreign 2>&1) && late=$(registry_image disc-late 2>&1); then
    ok "four more images of this run pushed for discovery"
  else
    bad "four more images of this run pushed for discovery" "$signed $unsigned $foreign $late"
    return
  fi
  mkdir -p "$registry_work/other"
  if out=$(cosign_sign "$registry_work/cosign" "$signed" 2>&1 &&
           cosign_in "$registry_work/other" generate-key-pair 2>&1 &&
           cosign_sign "$registry_work/other" "$foreign" 2>&1); then
    ok "cosign signs disc-signed with the trusted key, disc-foreign with another"
  else
    bad "cosign signs the discovery images" "$out"
    return
  fi
  kubectl apply -f - >/dev/null <<YAML
apiVersion: attestor.stellaops.io/v1alpha1
kind: TrustedIssuer
metadata:
  name: $issuer
spec:
  issuer: https://ci.example/e2e-discovery
  anchors: [$registry_anchor]
  approval:
    approvedBy: e2e@attestor.local
    reason: "e2e/run.sh: discovery of the images it signs in the test registry"
  scope:
    images: ["$reg_referrers/attestor-e2e/disc-*"]
  discovery:
    transparencyLog: IfPresent
YAML
  expect_condition "trustedissuer/$issuer" - Trusted True Approved
  discovered() { local hex=${1#*@sha256:}; printf 'discovered-%s' "${hex:0:32}"; }
  # The leader creates it a moment after the denial: kubectl wait needs the object to exist.
  appears() { # <name>
    for _ in $(seq 60); do kubectl get -n "$enforce" proofverification "$1" >/dev/null 2>&1 && return 0; sleep 0.5; done
  }

  # Signed: denied first, naming the proof discovery creates; then Verified; then admitted.
  name=$(discovered "$signed")
  out=$(kubectl create -n "$enforce" deployment disc-signed --image "$signed" 2>&1)
  if [[ $out == *"denied the request"*"ProofVerification $enforce/$name is being created by discovery"*"retry in a few seconds"* ]]; then
    ok "the first kubectl create deployment disc-signed is denied: ProofVerification $enforce/$name is being created by discovery"
  else
    bad "the first kubectl create deployment disc-signed is denied naming ProofVerification $enforce/$name" "$out"
    kubectl delete -n "$enforce" deployment disc-signed --wait=false >/dev/null 2>&1
  fi
  appears "$name"
  expect_condition "proofverification/$name" "$enforce" Verified True Verified
  out=$(kubectl get pvf -n "$enforce" -l attestor.stellaops.io/discovered=true -o name 2>&1)
  if [[ $out == *"proofverification.attestor.stellaops.io/$name"* ]]; then
    ok "kubectl get pvf -l attestor.stellaops.io/discovered=true lists it"
  else
    bad "kubectl get pvf -l attestor.stellaops.io/discovered=true lists $name" "$out"
  fi
  expect_describe "proofverification/$name" "$enforce" "Discovered" "SigstoreBundle"
  out=$(kubectl get events -n "$enforce" --field-selector reason=DiscoveryRequested 2>&1)
  if [[ $out == *"discover $signed for TrustedIssuer $issuer"* ]]; then
    ok "kubectl get events --field-selector reason=DiscoveryRequested shows the webhook's hand-off"
  else
    bad "kubectl get events --field-selector reason=DiscoveryRequested shows the webhook's hand-off" "$out"
  fi
  local created=
  for _ in $(seq 20); do
    if out=$(kubectl create -n "$enforce" deployment disc-signed --image "$signed" 2>&1); then created=1; break; fi
    sleep 0.5
  done
  if [[ -n $created ]]; then ok "the retry is admitted"; else bad "the retry of kubectl create deployment disc-signed is admitted" "$out"; fi
  if [[ -n $created && -n $installed ]]; then
    if out=$(kubectl rollout status -n "$enforce" deployment/disc-signed --timeout=90s 2>&1); then
      ok "its Pod is Running"
    else
      bad "its Pod is Running" "$out
$(kubectl describe pods -n "$enforce" -l app=disc-signed 2>&1 | tail -n 15)"
    fi
    expect_pulled "$enforce" disc-signed "$signed"
  fi

  # Unsigned, and signed by an untrusted key: the proof appears and the create stays denied.
  local image reason app
  for image in "$unsigned NoSignaturesFound disc-unsigned" "$foreign SignatureInvalid disc-foreign"; do
    read -r image reason app <<<"$image"
    name=$(discovered "$image")
    kubectl create -n "$enforce" deployment "$app" --image "$image" >/dev/null 2>&1 &&
      kubectl delete -n "$enforce" deployment "$app" --wait=false >/dev/null 2>&1
    appears "$name"
    expect_condition "proofverification/$name" "$enforce" Verified False "$reason"
    expect_denied_with "$enforce" "kubectl create deployment $app stays denied: $reason" \
      "ProofVerification $enforce/$name failed: $reason" -- deployment "$app" --image "$image"
  done

  # The registry stops (only where this machine runs it).
  local pidfile=e2e/.run/registry-node/pids/refreg pid
  if [[ ! -r $pidfile ]]; then
    ok "skipped: the registry outage (the referrers registry is not run by this machine)"
    return
  fi
  read -r pid _ <"$pidfile"
  kill -TERM "$pid" 2>/dev/null; for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  ok "the referrers registry is stopped"
  for _ in $(seq 20); do
    if out=$(kubectl create -n "$enforce" deployment disc-signed-again --image "$signed" 2>&1); then break; fi
    sleep 0.5
  done
  if [[ $out == *created* ]]; then
    ok "a digest already verified is still admitted with the registry down"
  else
    bad "a digest already verified is still admitted with the registry down" "$out"
  fi
  name=$(discovered "$late")
  kubectl create -n "$enforce" deployment disc-late --image "$late" >/dev/null 2>&1 &&
    kubectl delete -n "$enforce" deployment disc-late --wait=false >/dev/null 2>&1
  appears "$name"
  expect_condition "proofverification/$name" "$enforce" Verified False RegistryUnavailable
  expect_denied_with "$enforce" "a new digest is denied with RegistryUnavailable while the registry is down" \
    "ProofVerification $enforce/$name failed: RegistryUnavailable" -- deployment disc-late --image "$late"
}

registry_section() {
  local why=
  if [[ -z $reg_referrers || -z $reg_plain ]]; then
    why="no test registry (ATTESTOR_REGISTRY_PLAIN/ATTESTOR_REGISTRY_REFERRERS unset: e2e/with-registries.sh sets them)"
  elif ! registry_reachable "$reg_referrers"; then
    why="the registry $reg_referrers is on this machine's loopback, which the chart's Pods cannot reach (e2e/registry.sh up --host node)"
  fi
  if [[ -n $why ]]; then
    if [[ ${ATTESTOR_E2E_EXPECT_REGISTRY:-} == 1 ]]; then bad "a test registry (ATTESTOR_E2E_EXPECT_REGISTRY=1): $why"; else ok "skipped: $why"; fi
    return
  fi
  if [[ ! -x ${ATTESTOR_TOOLS_BIN:-}/cosign ]]; then
    bad "cosign in ATTESTOR_TOOLS_BIN (${ATTESTOR_TOOLS_BIN:-unset}; e2e/registry.sh env sets it)"
    return
  fi
  registry_work=$(mktemp -d -t attestor-e2e-registry.XXXXXX)
  local signed unsigned out
  if signed=$(registry_image signed 2>&1) && unsigned=$(registry_image unsigned 2>&1); then
    ok "two images of this run pushed: $signed, $unsigned"
  else
    bad "two images of this run pushed to $reg_referrers" "$signed
$unsigned"
    return
  fi
  mkdir -p "$registry_work/cosign"
  if out=$(cosign_in "$registry_work/cosign" generate-key-pair 2>&1 && cosign_sign "$registry_work/cosign" "$signed" 2>&1); then
    ok "cosign generate-key-pair; cosign sign --key cosign.key $signed"
  else
    bad "cosign signs $signed" "$out"
    return
  fi

  # The key as a TrustAnchor, an approved issuer for the registry's attestor-e2e/* images.
  registry_anchor=e2e-cosign-$run_id registry_issuer=e2e-registry-$run_id
  kubectl apply -f - >/dev/null <<YAML
apiVersion: attestor.stellaops.io/v1alpha1
kind: TrustAnchor
metadata:
  name: $registry_anchor
spec:
  publicKey: |
$(sed 's/^/    /' "$registry_work/cosign/cosign.pub")
  purposes: [AttestationSigning]
---
apiVersion: attestor.stellaops.io/v1alpha1
kind: TrustedIssuer
metadata:
  name: $registry_issuer
spec:
  issuer: https://ci.example/e2e-cosign
  anchors: [$registry_anchor]
  approval:
    approvedBy: e2e@attestor.local
    reason: "e2e/run.sh: the images it signs with cosign in the test registry"
  scope:
    images: ["$reg_referrers/attestor-e2e/*"]
YAML
  expect_condition "trustanchor/$registry_anchor" - Ready True Valid
  expect_condition "trustedissuer/$registry_issuer" - Trusted True Approved

  # The signed image: Verified from what the registry holds, listed as the candidate.
  proof_from_registry signed "$signed"
  expect_condition proofverification/signed "$enforce" Verified True Verified
  out=$(kubectl get pvf -n "$enforce" signed 2>&1)
  if [[ $(awk '$1=="signed"{print $2, $3}' <<<"$out") == "True Verified" ]]; then
    ok "kubectl get pvf -n $enforce signed shows VERIFIED True, REASON Verified"
  else
    bad "kubectl get pvf -n $enforce signed shows VERIFIED True, REASON Verified" "$out"
  fi
  expect_describe proofverification/signed "$enforce" "Candidates Found" "SigstoreBundle" "referrers" "$registry_anchor"
  out=$(kubectl get pvf -n "$enforce" signed -o jsonpath='{.status.candidatesFound} {.status.candidates[0].kind} {.status.candidates[0].foundVia} {.status.candidates[0].reason}' 2>&1)
  if [[ $out == "1 SigstoreBundle referrers Verified" ]]; then
    ok "status: 1 candidate, a SigstoreBundle found via referrers, Verified"
  else
    bad "status: 1 candidate, a SigstoreBundle found via referrers, Verified" "$out"
  fi
  local created=
  for _ in $(seq 20); do
    if out=$(kubectl create -n "$enforce" deployment signed --image "$signed" 2>&1); then created=1; break; fi
    sleep 0.5
  done
  if [[ -n $created ]]; then ok "kubectl create deployment signed --image $signed is admitted"; else bad "kubectl create deployment signed --image $signed is admitted" "$out"; fi
  if [[ -n $created && -n $installed ]]; then
    local phase
    if out=$(kubectl rollout status -n "$enforce" deployment/signed --timeout=90s 2>&1) &&
       phase=$(kubectl get pods -n "$enforce" -l app=signed -o jsonpath='{.items[0].status.phase} {.items[0].status.containerStatuses[0].imageID}') &&
       [[ $phase == Running* && $phase == *"${signed#*@}"* ]]; then
      ok "its Pod is Running ${signed#*@}"
    else
      bad "its Pod is Running" "$out
$(kubectl get pods -n "$enforce" -l app=signed -o wide 2>&1)
$(kubectl describe pods -n "$enforce" -l app=signed 2>&1 | tail -n 15)"
    fi
    expect_pulled "$enforce" signed "$signed"
  fi

  # The unsigned image: nothing found, and its Deployment is denied saying so.
  proof_from_registry unsigned "$unsigned"
  expect_condition proofverification/unsigned "$enforce" Verified False NoSignaturesFound
  expect_describe proofverification/unsigned "$enforce" "NoSignaturesFound" "Next:"
  for _ in $(seq 20); do
    out=$(kubectl create -n "$enforce" deployment unsigned --image "$unsigned" 2>&1) && break
    [[ $out == *NoSignaturesFound* ]] && break
    sleep 0.5
  done
  if [[ $out == *"denied the request"*"ProofVerification $enforce/unsigned failed: NoSignaturesFound"* ]]; then
    ok "kubectl create deployment unsigned is refused: ProofVerification $enforce/unsigned failed: NoSignaturesFound"
  else
    bad "kubectl create deployment unsigned is refused: ProofVerification $enforce/unsigned failed: NoSignaturesFound" "$out"
  fi

  registry_discovery
}
registry_section

section "ReplayJob: scores are replayed and drift is reported"
if [[ -n $installed ]]; then
  ok "skipped: the installed operator cannot read a snapshot store on this machine (tests/replay.rs covers it)"
else
  store=$(mktemp -d -t attestor-e2e-store.XXXXXX)
  trap 'cleanup; rm -rf "$store"' EXIT
  replay_ns=${admission_ns[2]}
  # The store holds the inputs the example bundles were scored from.
  "$bin" score --sbom examples/inputs/sbom.cdx.json --feed examples/inputs/feed.json \
    --vex examples/inputs/vex.json --policy examples/inputs/policy.json --artifact "$digest" \
    --key examples/keys/test-only-signing.pem --output "$store/unused.zip" --store "$store" >/dev/null
  kubectl get proofverification -n shop cart -o json | python3 -c '
import json, sys
pv = json.load(sys.stdin)
print(json.dumps({"apiVersion": pv["apiVersion"], "kind": pv["kind"],
                  "metadata": {"name": "cart", "namespace": sys.argv[1], "labels": {"app": "cart"}},
                  "spec": pv["spec"]}))' "$replay_ns" | kubectl apply -f - >/dev/null
  kubectl get configmap -n shop proof-bundles -o json | python3 -c '
import json, sys
cm = json.load(sys.stdin)
print(json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "proof-bundles", "namespace": sys.argv[1]},
                  "binaryData": cm.get("binaryData", {}), "data": cm.get("data", {})}))' "$replay_ns" | kubectl apply -f - >/dev/null
  expect_condition proofverification/cart "$replay_ns" Verified True Verified
  kubectl apply -f - >/dev/null <<YAML
apiVersion: attestor.stellaops.io/v1alpha1
kind: ReplayJob
metadata:
  name: nightly
  namespace: $replay_ns
  annotations: {attestor.stellaops.io/run-now: first}
spec:
  schedule: "0 3 * * *"
  timeZone: Europe/Berlin
  selector: {matchLabels: {app: cart}}
  store: {url: "file://$store"}
  snapshots: Latest
YAML
  if kubectl wait -n "$replay_ns" replayjob/nightly --timeout=90s --for=jsonpath='{.status.lastRun.reproduced}'=1 >/dev/null 2>&1; then
    ok "replayjob/nightly: the run-now run reproduced 1 of 1 proof"
  else
    bad "replayjob/nightly reproduced its proof" "$(kubectl get -n "$replay_ns" replayjob/nightly -o jsonpath='{.status}')"
  fi
  if [[ $(kubectl get -n "$replay_ns" replayjob/nightly -o jsonpath='{.status.nextRunTime}') == *T0[12]:00:00Z ]]; then
    ok "replayjob/nightly: the next run is at 03:00 Berlin time"
  else
    bad "replayjob/nightly: the next run is at 03:00 Berlin time" "$(kubectl get -n "$replay_ns" replayjob/nightly -o jsonpath='{.status.nextRunTime}')"
  fi
  # A new advisory for a component the artifact ships, in a new latest feed: the proof drifts.
  python3 - "$store" <<'PY'
import json, sys
feed = json.load(open("examples/inputs/feed.json"))
advisories = feed["advisories"] if isinstance(feed, dict) else feed
new = json.loads(json.dumps(advisories[0]))
new["id"] = "GHSA-e2e0-0000-0001"
advisories.append(new)
json.dump(feed, open(sys.argv[1] + "/feed-update.json", "w"))
PY
  "$bin" score --sbom examples/inputs/sbom.cdx.json --feed "$store/feed-update.json" \
    --vex examples/inputs/vex.json --policy examples/inputs/policy.json --artifact "$digest" \
    --key examples/keys/test-only-signing.pem --output "$store/unused.zip" --store "$store" >/dev/null
  kubectl annotate -n "$replay_ns" replayjob/nightly attestor.stellaops.io/run-now=second --overwrite >/dev/null
  if kubectl wait -n "$replay_ns" replayjob/nightly --timeout=90s --for=jsonpath='{.status.lastRun.drifted}'=1 >/dev/null 2>&1; then
    ok "replayjob/nightly: after a feed update the proof drifted"
  else
    bad "replayjob/nightly: after a feed update the proof drifted" "$(kubectl get -n "$replay_ns" replayjob/nightly -o jsonpath='{.status}')"
  fi
  expect_describe replayjob/nightly "$replay_ns" "Feed" "ScoreDrifted" "cart (cause Feed)"
  expect_describe proofverification/cart "$replay_ns" "ScoreDrifted" "cause: Feed"
  cause=$(kubectl get -n "$replay_ns" proofverification/cart -o jsonpath='{.status.lastReplay.result}/{.status.lastReplay.cause}')
  if [[ $cause == Drifted/Feed ]]; then ok "proofverification/cart: lastReplay Drifted, cause Feed"; else bad "proofverification/cart: lastReplay Drifted, cause Feed" "$cause"; fi
fi

section "invalid objects are refused with a message that says what to fix"
for f in examples/invalid/*.yaml; do
  [[ -e $f ]] || { bad "examples/invalid/ holds invalid examples"; break; }
  expect=$(sed -n 's/^# expect: //p' "$f" | head -n1)
  if out=$(kubectl apply --server-side --dry-run=server -f "$f" 2>&1); then
    bad "$f is refused" "accepted: $out"
  elif [[ $out == *"$expect"* ]]; then
    ok "$(basename "$f"): $expect"
  else
    bad "$(basename "$f") says \"$expect\"" "$out"
  fi
done

section "metrics after the suite"
if [[ -n $metrics_url ]]; then
  scrape_file=$(mktemp -t attestor-e2e-metrics.XXXXXX)
  scrape >"$scrape_file"
  # Break-glass is off by default, no reconcile failed, no replay failed to start.
  not_exercised=(admission_break_glass_total attestor_reconcile_errors_total score_replay_failures_total)
  # The installed operator runs no ReplayJob here (see above).
  [[ -n $installed ]] && not_exercised+=(replay_runs_total score_replay_total)
  if out=$(e2e/metrics_check.py "$scrape_file" --not-exercised "${not_exercised[@]}" 2>&1); then
    ok "${out#metrics_check: }"
  else
    bad "every metric of the dashboard and alerts is on /metrics with its labels" "$out"
  fi
  rm -f "$scrape_file"
fi

section "the chart: leader election across Pods, failover, upgrade"
if [[ -z $installed ]]; then
  ok "skipped: no chart installed"
else
  # The holder of the chart's Lease if it is one of the operator Pods that are not shutting down.
  live_pods() {
    kubectl get pods -n "$chart_ns" -l "$chart_selector" -o json | python3 -c '
import json, sys
for p in json.load(sys.stdin)["items"]:
    if not p["metadata"].get("deletionTimestamp") and p["status"].get("phase") == "Running":
        print(p["metadata"]["name"])'
  }
  lease_holder() {
    kubectl get leases -n "$chart_ns" -o jsonpath='{range .items[*]}{.spec.holderIdentity}{"\n"}{end}' 2>/dev/null |
      grep -Fx -f <(live_pods) | head -n1
  }
  pods=$(kubectl get pods -n "$chart_ns" -l "$chart_selector" --field-selector=status.phase=Running -o name | wc -l)
  leader=$(lease_holder)
  if [[ $pods -ge 2 && -n $leader ]]; then
    ok "$pods operator Pods Running; the Lease is held by $leader"
  else
    bad "2 operator Pods Running, one holding the Lease" "$(kubectl get pods,leases -n "$chart_ns" -o wide 2>&1)"
  fi
  standby=$(live_pods | grep -vFx "${leader:-none}" | head -n1)
  if [[ -n $leader && -n $standby ]]; then
    # The node is cordoned first, so the leader's replacement cannot start and win the Lease:
    # the standby that was already running must take over.
    node=$(kubectl get pod -n "$chart_ns" "$leader" -o jsonpath='{.spec.nodeName}')
    nodes=$(kubectl get nodes -o name)
    kubectl cordon $nodes >/dev/null
    kubectl delete pod -n "$chart_ns" "$leader" --wait=false >/dev/null
    new=
    for _ in $(seq 60); do
      new=$(lease_holder)
      [[ -n $new && $new != "$leader" ]] && break
      new=
      sleep 1
    done
    if [[ $new == "$standby" ]]; then
      ok "after kubectl delete pod $leader, the standby $standby holds the Lease"
    else
      bad "the standby $standby takes the Lease after the leader Pod $leader is deleted" "holder: ${new:-none}
$(kubectl get leases,pods -n "$chart_ns" -o wide 2>&1)"
    fi
    kubectl uncordon $nodes >/dev/null
    deploy=$(kubectl get deployments -n "$chart_ns" -l "$chart_selector" -o jsonpath='{.items[0].metadata.name}')
    if kubectl rollout status -n "$chart_ns" "deployment/$deploy" --timeout=90s >/dev/null 2>&1 &&
       [[ $(live_pods | wc -l) -ge 2 ]]; then
      ok "the leader's replacement runs on $node after uncordon: $(live_pods | tr '\n' ' ')"
    else
      bad "the leader's replacement runs after uncordon" "$(kubectl get pods -n "$chart_ns" -o wide 2>&1)"
    fi
    # The new leader reconciles: a new ProofVerification becomes Verified.
    kubectl get proofverification -n shop cart -o json | python3 -c '
import json, sys
pv = json.load(sys.stdin)
print(json.dumps({"apiVersion": pv["apiVersion"], "kind": pv["kind"],
                  "metadata": {"name": "cart-after-failover", "namespace": "shop"}, "spec": pv["spec"]}))' |
      kubectl apply -f - >/dev/null
    expect_condition proofverification/cart-after-failover shop Verified True Verified
    kubectl delete proofverification -n shop cart-after-failover --ignore-not-found >/dev/null 2>&1
  fi
  # A changed value rolls out (maxUnavailable 0: a webhook replica serves throughout).
  if out=$(e2e/install-chart.sh upgrade --set operator.logLevel=debug --set webhook.timeoutSeconds=7 2>&1); then
    ok "helm upgrade --set operator.logLevel=debug --set webhook.timeoutSeconds=7 rolled out"
  else
    bad "helm upgrade with a changed value rolled out" "$(tail -n 40 <<<"$out")"
  fi
  env=$(kubectl get deployments -n "$chart_ns" -l "$chart_selector" -o jsonpath='{.items[0].spec.template.spec.containers[0].env[?(@.name=="RUST_LOG")].value}')
  timeout=$(kubectl get validatingwebhookconfigurations -l "$chart_selector" -o jsonpath='{.items[0].webhooks[0].timeoutSeconds}')
  if [[ $env == debug && $timeout == 7 ]]; then ok "the upgraded release runs RUST_LOG=debug and the webhook times out after 7s"; else bad "the upgrade changed RUST_LOG and timeoutSeconds" "RUST_LOG=$env timeoutSeconds=$timeout"; fi
  # The new Pods got the webhook certificate and serve it: still a denial.
  denied=
  for _ in $(seq 20); do
    if out=$(kubectl create -n "$enforce" deployment web2 --image nginx:1.27 2>&1); then break; fi
    [[ $out == *"not pinned by digest"* ]] && { denied=1; break; }
    sleep 1
  done
  if [[ -n $denied ]]; then ok "after the upgrade the webhook still refuses nginx:1.27 in $enforce"; else bad "after the upgrade the webhook still refuses nginx:1.27" "$out"; fi
  holder=
  for _ in $(seq 60); do holder=$(lease_holder); [[ -n $holder ]] && break; sleep 1; done
  if [[ -n $holder ]]; then ok "after the upgrade $holder, a Pod of the new revision, holds the Lease"; else bad "after the upgrade a Pod of the new revision holds the Lease" "$(kubectl get leases,pods -n "$chart_ns" -o wide 2>&1)"; fi
fi

printf '\ne2e: %d passed, %d failed\n' "$pass" "$fail"
[[ $fail -eq 0 ]]
