#!/usr/bin/env bash
# Checks the served OpenAPI document against the real server with schemathesis: bash .ci/schemathesis.sh
#
# It installs schemathesis (pinned) into a virtual environment if missing, builds or reuses the
# debug `tollgate` binary, starts `tollgate serve` on a free loopback port with a fresh data
# directory, seeds a small catalog so that many operations can succeed, and runs every
# schemathesis check against every operation but the token routes (exercising those would revoke
# the token the run uses) and applying authorization policies (a valid generated policy such as
# `forbid (principal, action, resource);` would revoke the run's own credentials just as surely:
# every later request would be a 403) for a fixed time with a fixed seed. Per-operation expectations, each
# with its reason, are in .ci/schemathesis.toml. Any failure fails the script, and so does any
# 5xx the server counted. Extra arguments go to `st run` (`--phases coverage`, say). With
# TOLLGATE_DATABASE_URL naming an empty PostgreSQL database, the server runs on it instead of SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tollgate-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
SCHEMATHESIS_VERSION="4.32.5"
VENV="${TOLLGATE_VENV:-$HOME/.cache/tollgate-venv}"
SEED="${SCHEMATHESIS_SEED:-20260301}"
MAX_TIME="${SCHEMATHESIS_MAX_TIME:-130}"
CONFIG="$PWD/.ci/schemathesis.toml"
STARTED=$SECONDS

# schemathesis, pinned, in its own virtual environment.
if [ "$("$VENV/bin/st" --version 2>/dev/null)" != "st, version $SCHEMATHESIS_VERSION" ]; then
  echo "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
fi

# The production build: without the test hooks the workspace tests compile in.
cargo build --quiet --locked -p tollgate
TOLLGATE="$CARGO_TARGET_DIR/debug/tollgate"

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
"$TOLLGATE" serve --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  if [ -s "$WORK/data/admin-token" ] && curl -fsS "$BASE/healthz" >/dev/null 2>&1; then
    break
  fi
  sleep 0.1
done
if ! curl -fsS "$BASE/healthz" >/dev/null 2>&1; then
  echo "the server did not start:"
  cat "$WORK/server.log"
  exit 1
fi
TOKEN="$(cat "$WORK/data/admin-token")"
export TOLLGATE_SERVER="$BASE" TOLLGATE_TOKEN="$TOKEN"

# The seed: the example catalog, a user, a trusted key, a signed artifact under a legal hold, two
# releases (one authored by ana, marked ready by the admin and deployed to dev, one a draft),
# evidence, a retention policy and a just-in-time grant.
"$TOLLGATE" apply -f examples/tollgate.yaml >/dev/null
"$TOLLGATE" user create ana --role member >/dev/null
"$TOLLGATE" key generate --out "$WORK/ci" >/dev/null
"$TOLLGATE" key add --name ci --public-key "$WORK/ci.pub" >/dev/null
echo "ledger 1.0.0" >"$WORK/ledger.tar"
"$TOLLGATE" artifact sign "$WORK/ledger.tar" --name ledger --key "$WORK/ci.key" --envelope "$WORK/ledger.dsse.json" >/dev/null
"$TOLLGATE" artifact push "$WORK/ledger.tar" --name ledger --version 1.0.0 --team payments \
  --tag audit-2026 --signature "$WORK/ledger.dsse.json" >/dev/null
DIGEST="sha256:$(sha256sum "$WORK/ledger.tar" | cut -d' ' -f1)"
ANA_TOKEN="$("$TOLLGATE" token create --user ana --output json | python3 -c 'import json, sys; print(json.load(sys.stdin)["secret"])')"
TOLLGATE_TOKEN="$ANA_TOKEN" "$TOLLGATE" release create --version 1.0.0 --artifact "ledger=ledger@1.0.0@$DIGEST" \
  --include PAY-1="Faster refunds" >/dev/null
"$TOLLGATE" release create --version 1.1.0 --artifact "ledger=ledger@1.0.0@$DIGEST" >/dev/null
for step in plan freeze ready; do "$TOLLGATE" release "$step" 1.0.0 >/dev/null; done
"$TOLLGATE" deployment record --release 1.0.0 --environment dev --status succeeded >/dev/null
printf '<testsuite name="ledger" tests="1"><testcase name="books balance"/></testsuite>\n' >"$WORK/junit.xml"
"$TOLLGATE" evidence upload "$WORK/junit.xml" --release 1.0.0 --service ledger --kind junit >/dev/null
"$TOLLGATE" retention set name:ledger --keep-last 5 >/dev/null
"$TOLLGATE" retention hold audit-2026 --reason "audit 2026" >/dev/null
"$TOLLGATE" authz grant --user ana --role deployer --environment prod --for 4h --reason "on call" >/dev/null

# The requests the server answered, in total and with a 5xx status, from its own metrics.
answered() {
  curl -fsS "$BASE/metrics" | awk -v pattern="$1" '$1 ~ /^tollgate_http_requests_total/ && $1 ~ pattern { n += $2 } END { print n + 0 }'
}
BEFORE="$(answered '')"

# Run in the temporary directory: schemathesis keeps a cache and an example database in its
# working directory, and a run that replays an earlier one's findings is not the run the seed names.
set +e
(cd "$WORK" && "$VENV/bin/st" --config-file "$CONFIG" run "$BASE/api/v1/openapi.json" \
  --header "Authorization: Bearer $TOKEN" \
  --checks all \
  --exclude-path-regex '^/tokens' \
  --exclude-operation-id apply_authz_policies \
  --seed "$SEED" \
  --max-time "$MAX_TIME" \
  --no-color \
  "$@")
STATUS=$?
set -e

SENT=$(($(answered '') - BEFORE))
SERVER_ERRORS="$(answered 'status="5')"
echo "requests answered during the run: $SENT; answered with 5xx: $SERVER_ERRORS; wall time: $((SECONDS - STARTED)) s"
if [ "$SERVER_ERRORS" != "0" ]; then
  echo "the server answered with a 5xx:"
  curl -fsS "$BASE/metrics" | grep 'status="5'
  STATUS=1
fi
if grep -q "panicked" "$WORK/server.log"; then
  echo "the server panicked:"
  grep -B2 -A10 "panicked" "$WORK/server.log"
  STATUS=1
fi
exit "$STATUS"
