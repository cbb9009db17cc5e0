#!/usr/bin/env bash
# Creates or completes the Python virtual environment the independent checks run in:
# PyNaCl for scripts/verify-audit-export.py (scripts/check-audit-verifier.sh) and python-dateutil
# for scripts/rrule-oracle.py (tollgate-calendar's oracle test and rrule benchmark).
# Does nothing when both already import. Environment:
#   TOLLGATE_VENV  the venv (default $HOME/.cache/tollgate-venv)
set -euo pipefail

venv="${TOLLGATE_VENV:-$HOME/.cache/tollgate-venv}"
py="$venv/bin/python"

if ! "$py" -c 'import nacl.signing, dateutil.rrule' 2>/dev/null; then
  [ -x "$py" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'pynacl>=1.5,<2' 'python-dateutil>=2.8,<5'
fi
"$py" -c 'import nacl.signing, dateutil.rrule'
echo "$venv has PyNaCl and python-dateutil"
