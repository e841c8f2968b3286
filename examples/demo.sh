#!/usr/bin/env bash
# Offline verification demo: runs every case of examples/cases.tsv with the
# attestor binary and shows what a user would see. Exits non-zero when a case
# does not end the way the table says.
set -u
cd "$(dirname "$0")/.."
bin=${ATTESTOR_BIN:-target/debug/attestor}
quiet=${DEMO_QUIET:-}
if [ ! -x "$bin" ]; then
  echo "building $bin ..."
  cargo build --quiet -p attestor || exit 2
fi
pass=0 fail=0
while IFS=$'\t' read -r name want_exit want_reason check expect what cmd; do
  case "$name" in ''|'#'*) continue ;; esac
  # shellcheck disable=SC2086 # the command column is a word list by design
  set -- ${cmd#attestor }
  json=$("$bin" "$@" --output json 2>/dev/null)
  got_exit=$?
  got_reason=$(printf '%s' "$json" | sed -n 's/^  "reason": "\([A-Za-z]*\)",*$/\1/p' | head -n1)
  got_message=$(printf '%s' "$json" | sed -n 's/^  "message": "\(.*\)",*$/\1/p' | head -n1)
  if [ "$got_exit" = "$want_exit" ] && [ "$got_reason" = "$want_reason" ] && [[ "$got_message" == *"$expect"* ]]; then
    status=ok; pass=$((pass + 1))
  else
    status="UNEXPECTED (exit $got_exit, reason ${got_reason:-none}, message: $got_message)"; fail=$((fail + 1))
  fi
  if [ -z "$quiet" ]; then
    printf '\n== %s: %s\n$ %s\n' "$name" "$what" "$cmd"
    "$bin" "$@" 2>&1 | sed 's/^/  /'
    printf '  -> exit %s, reason %s [%s] (expected exit %s, %s, check %s)\n' "$got_exit" "${got_reason:-none}" "$status" "$want_exit" "$want_reason" "$check"
  elif [ "$status" != ok ]; then
    printf '%s: %s\n' "$name" "$status"
  fi
done < examples/cases.tsv
printf '\ndemo: %d passed, %d failed\n' "$pass" "$fail"
[ "$fail" -eq 0 ]
