#!/usr/bin/env bash
# e2e/bench-sigstore.sh (part of `make bench`): Sigstore bundle verifications per CPU-second,
# attestor beside sigstore-go, on the same real bundles, in one run on this machine (issue 19:
# at least 2x sigstore-go per core).
#
#   attestor:    cargo bench -p attestor-sigstore --bench verify (operator/sigstore/benches/verify.rs)
#   sigstore-go: sigstorebench (e2e/go/tools/sigstorebench, built and cached by e2e/tools.sh)
#
# Both verify every sigstore-conformance case that must verify and cosign v3's key-signed
# bundles, one thread each, parsing the bundle JSON in the timed loop and holding the
# trusted root outside it; both check first that every bundle verifies. The table: kind,
# attestor/s, sigstore-go/s, their ratio, and the geometric mean of the bundles' ratios; the
# ecdsa-* rows (one P-384 and one P-256 signature check on real data) are printed apart,
# as what a keyless bundle's time is made of. Figures, never assertions.
#
# BENCH_SECONDS (default 3): CPU seconds per figure on each side. CARGO: the cargo to run.
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"
CARGO=${CARGO:-cargo}
SECONDS_PER_FIGURE=${BENCH_SECONDS:-3}
DATA=operator/sigstore/tests/data

log() { printf '[%(%H:%M:%S)T] bench-sigstore: %s\n' -1 "$*" >&2; }

bin=$(e2e/tools.sh path)
ours=$(mktemp)
theirs=$(mktemp)
trap 'rm -f "$ours" "$theirs"' EXIT

log "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs: $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))"
BENCH_SECONDS=$SECONDS_PER_FIGURE "$CARGO" bench --locked -q -p attestor-sigstore --bench verify | tee "$ours" >&2
log "sigstore-go $(awk '$1 == "github.com/sigstore/sigstore-go" { print $2 }' e2e/go/tools/go.mod)"
GOMAXPROCS=1 "$bin/sigstorebench" -data "$DATA" -seconds "$SECONDS_PER_FIGURE" >"$theirs"
log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# attestor's rows follow its `kind per CPU-s` header; sigstorebench's are `rate<TAB>kind<TAB>n`.
awk -v seconds="$SECONDS_PER_FIGURE" '
    FNR == NR { if ($1 == "rate" && NF == 3) go[$2] = $3; next }
    $1 == "kind" { table = 1; next }
    table && NF == 2 && $2 ~ /^[0-9]+(\.[0-9]+)?$/ { kinds[++n] = $1; ours[$1] = $2 }
    END {
        for (k in go) if (!(k in ours)) { print "bench-sigstore: sigstore-go timed " k ", attestor did not" > "/dev/stderr"; bad = 1 }
        for (i = 1; i <= n; i++) if (!(kinds[i] in go)) { print "bench-sigstore: attestor timed " kinds[i] ", sigstore-go did not" > "/dev/stderr"; bad = 1 }
        if (bad || n == 0) exit 1
        printf "\nSigstore bundle verifications per CPU-second, one thread each (%ss of CPU per figure)\n\n", seconds
        printf "%-44s %12s %14s %7s\n", "kind", "attestor/s", "sigstore-go/s", "ratio"
        for (pass = 1; pass <= 2; pass++) {
            if (pass == 2) printf "\n%-44s %12s %14s %7s\n", "signature check (what a keyless bundle costs)", "attestor/s", "sigstore-go/s", "ratio"
            for (i = 1; i <= n; i++) {
                k = kinds[i]
                if ((k ~ /^ecdsa-/) != (pass == 2)) continue
                r = ours[k] / go[k]
                printf "%-44s %12.1f %14.1f %6.2fx\n", k, ours[k], go[k], r
                if (pass == 1) { logsum += log(r); m++; if (r < 2) below++ }
            }
        }
        printf "\ngeometric mean of the %d bundle ratios: %.2fx (goal: at least 2x sigstore-go per core; %d kinds below 2x)\n", m, exp(logsum / m), below
    }
' "$theirs" "$ours"
