#!/usr/bin/env bash
# nginx from Debian's packages, for the traffic-provider tests, which run their own nginx
# unprivileged from a prefix in a temporary directory (-p, -c) on loopback ports. Debian's
# package would start the system's nginx on port 80: a policy-rc.d kept only for the install
# stops that, and the system's nginx is never used.
set -euo pipefail
if command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]]; then
  echo "nginx is installed: $(/usr/sbin/nginx -v 2>&1)"
  exit 0
fi
policy=/usr/sbin/policy-rc.d
added_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  added_policy=1
fi
trap '[[ $added_policy -eq 1 ]] && rm -f "$policy"' EXIT
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx-light
/usr/sbin/nginx -v
