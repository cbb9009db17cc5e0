#!/usr/bin/env bash
# Checks that the independent Python verifier (scripts/verify-audit-export.py, written from
# docs/audit-format.md) and `tollgate audit verify --file` agree on a real audit export and on
# forged variants of it, and that both give the outcome the document expects.
#
# It runs a throw-away server in a temp dir (checkpoint interval 5), records a few changes,
# saves a witness (`tollgate audit checkpoint`), keeps a copy of the ORIGINAL signing key pair
# (the auditor's public key; the private key plays a stolen one), rotates the server's key,
# records more, exports, and stops the server. scripts/forge-audit-export.py then writes the
# variants and the outcome each should have (see the `what` column it prints on a mismatch).
# For every variant both verifiers run with only the original public key (and the witness where
# the variant says so); they must agree on ok / failed / unreadable and on the failed entry.
#
# Needs the built binary (cargo build -p tollgate). Environment:
#   TOLLGATE_BIN   the binary (default ${CARGO_TARGET_DIR:-$HOME/.cache/tollgate-target}/debug/tollgate)
#   TOLLGATE_VENV  a venv with PyNaCl, created if missing by scripts/ensure-venv.sh
#                  (default $HOME/.cache/tollgate-venv)
# Exit status: 0 when every variant agrees and is as expected, 1 otherwise, 2 on a setup error.
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${TOLLGATE_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/tollgate-target}/debug/tollgate}"
venv="${TOLLGATE_VENV:-$HOME/.cache/tollgate-venv}"
py="$venv/bin/python"
work="$(mktemp -d)"
server_pid=""

die() {
  echo "check-audit-verifier: $*" >&2
  exit 2
}

cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

ensure_venv() {
  TOLLGATE_VENV="$venv" bash scripts/ensure-venv.sh >/dev/null
}

start_server() {
  "$bin" serve --data-dir "$work/D" --listen 127.0.0.1:0 --checkpoint-interval 5 \
    >"$work/serve.out" 2>"$work/serve.err" &
  server_pid=$!
  for _ in $(seq 1 150); do
    [ "$(wc -l <"$work/serve.out")" -ge 3 ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.err" >&2; die "tollgate serve exited"; }
    sleep 0.1
  done
  TOLLGATE_SERVER="$(sed -n '1s/^tollgate listening on //p' "$work/serve.out")"
  TOLLGATE_TOKEN="$(sed -n '3p' "$work/serve.out")"
  [ -n "$TOLLGATE_SERVER" ] && [ -n "$TOLLGATE_TOKEN" ] || die "tollgate serve did not print its address and token"
  export TOLLGATE_SERVER TOLLGATE_TOKEN
}

stop_server() {
  kill -TERM "$server_pid"
  wait "$server_pid" || true
  server_pid=""
}

# The scenario: records, a witness, one key rotation, more records, the export.
make_export() {
  start_server
  "$bin" apply -f examples/tollgate.yaml >/dev/null
  for n in 1 2; do "$bin" team create "team-$n" >/dev/null; done
  "$bin" audit checkpoint >"$work/cp.json"
  cp "$work/D/audit-signing.pub" "$work/original.pub"
  cp "$work/D/audit-signing.key" "$work/original.key"
  "$bin" audit key rotate >/dev/null
  for n in 3 4 5 6 7 8; do "$bin" team create "team-$n" >/dev/null; done
  "$bin" audit export >"$work/audit.jsonl"
  stop_server
}

# Prints a verifier's outcome: ok, fail@N (N the failed entry), error (input refused), or
# odd(...) for anything else. $1: exit status, $2: standard output, $3: its exit status for
# input it cannot read.
classify() {
  "$py" - "$@" <<'EOF'
import json, sys
rc, out, error_rc = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
try:
    report = json.loads(out)
except ValueError:
    report = None
if isinstance(report, dict) and rc == 0 and report.get("ok") is True:
    print("ok")
elif isinstance(report, dict) and rc == 1 and report.get("ok") is False and report.get("failed_entry") is not None:
    print(f"fail@{report['failed_entry']}")
elif rc == error_rc:
    print("error")
else:
    print(f"odd(rc={rc})")
EOF
}

# The message a verifier printed, for the notes under the table.
message_of() {
  "$py" -c 'import json, sys
try: print(json.loads(sys.argv[1])["message"])
except Exception: print(sys.argv[2].strip().splitlines()[-1] if sys.argv[2].strip() else "(nothing)")' "$1" "$2"
}

check_variants() {
  local failures=0 name file witness expected what args rc t_out p_out t_err p_err tollgate python verdict
  printf '%-32s %-9s %-9s %-9s %s\n' variant expected tollgate python verdict
  while IFS=$'\t' read -r name file witness expected what; do
    args=(--public-key "$work/original.pub")
    [ "$witness" = yes ] && args+=(--witness "$work/cp.json")
    rc=0; t_out="$("$bin" audit verify --file "$file" "${args[@]}" --output json 2>"$work/t.err")" || rc=$?
    tollgate="$(classify "$rc" "$t_out" 1)"; t_err="$(cat "$work/t.err")"
    rc=0; p_out="$("$py" scripts/verify-audit-export.py "$file" "${args[@]}" --json 2>"$work/p.err")" || rc=$?
    python="$(classify "$rc" "$p_out" 2)"; p_err="$(cat "$work/p.err")"
    if [ "$tollgate" != "$python" ]; then
      verdict="DISAGREE"
    elif [ "$tollgate" != "$expected" ]; then
      verdict="UNEXPECTED"
    else
      verdict="agree"
    fi
    printf '%-32s %-9s %-9s %-9s %s\n' "$name" "$expected" "$tollgate" "$python" "$verdict"
    if [ "$verdict" != agree ]; then
      failures=$((failures + 1))
      {
        echo "    forged: $what"
        echo "    tollgate: $(message_of "$t_out" "$t_err")"
        echo "    python:   $(message_of "$p_out" "$p_err")"
      } >>"$work/notes"
    fi
  done <"$work/variants/variants.tsv"
  if [ "$failures" -gt 0 ]; then
    echo
    echo "$failures variant(s) where the verifiers disagree or the outcome is not the expected one:"
    cat "$work/notes"
    return 1
  fi
  echo
  echo "all variants agree and are as docs/audit-format.md expects"
}

main() {
  [ -x "$bin" ] || die "no tollgate binary at $bin (cargo build -p tollgate)"
  ensure_venv
  make_export
  "$py" scripts/forge-audit-export.py "$work/variants" --export "$work/audit.jsonl" \
    --witness "$work/cp.json" --stolen-key "$work/original.key"
  check_variants
}

main
