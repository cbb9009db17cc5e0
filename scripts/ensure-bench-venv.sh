#!/usr/bin/env bash
# Creates or completes the Python virtual environment the benchmarks' Python peers run in:
# regopy (rego-cpp's binding) for crates/tollgate-policy/benches/regopy_gates.py and cedarpy (the
# Cedar engine's binding) for crates/tollgate-authz/benches/cedarpy_authz.py, both of which
# `cargo bench -p tollgate-policy --bench gates` and `cargo bench -p tollgate-authz --bench authz`
# run at the end of their runs. Pinned so that the figures compare across runs; both versions ship
# wheels for CPython 3.11 on x86_64 Linux. Does nothing when the pinned versions are installed.
# Environment:
#   TOLLGATE_BENCH_VENV  the venv (default $HOME/.cache/tollgate-venv-bench)
set -euo pipefail

venv="${TOLLGATE_BENCH_VENV:-$HOME/.cache/tollgate-venv-bench}"
py="$venv/bin/python"
regopy_version=1.5.2
cedarpy_version=4.12.2

pinned() {
  "$py" - "$regopy_version" "$cedarpy_version" 2>/dev/null <<'EOF'
import importlib.metadata, sys
import regopy, cedarpy
sys.exit(0 if [importlib.metadata.version(name) for name in ("regopy", "cedarpy")] == sys.argv[1:] else 1)
EOF
}

if ! pinned; then
  [ -x "$py" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "regopy==$regopy_version" "cedarpy==$cedarpy_version"
fi
pinned || { echo "$venv: regopy $regopy_version and cedarpy $cedarpy_version do not import" >&2; exit 1; }
echo "$venv has regopy $regopy_version and cedarpy $cedarpy_version"
