#!/usr/bin/env bash
# Installs the peer XMPP servers the benchmark compares waddle with (bench/targets/prosody.ts,
# bench/targets/ejabberd.ts): Debian's prosody and ejabberd packages. The benchmark starts each as a
# child process with its own config, ports and data directory, so the system services the packages
# start are stopped and disabled here: they would otherwise hold 5222/5269/5280 and use CPU during runs.
# Idempotent; needs root (apt-get). Usage: sudo bash bench/peers/install.sh
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d exit 101 = "don't start services from maintainer scripts" (no systemd in containers
# either way); removed again on exit so other installs behave as usual.
POLICY=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$POLICY"
  chmod +x "$POLICY"
  created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then rm -f "$POLICY"; fi; }
trap cleanup EXIT

apt-get update
apt-get install -y --no-install-recommends prosody ejabberd lua-unbound ssl-cert

# Stop and disable whatever the packages may have started anyway.
for svc in prosody ejabberd; do
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now "$svc" >/dev/null 2>&1 || true
  fi
  if [ -x "/etc/init.d/$svc" ]; then "/etc/init.d/$svc" stop >/dev/null 2>&1 || true; fi
  if command -v update-rc.d >/dev/null 2>&1; then update-rc.d "$svc" disable >/dev/null 2>&1 || true; fi
done
# A service started before policy-rc.d existed (re-runs): stop it by its pid file, not by name.
for pidfile in /run/prosody/prosody.pid /run/ejabberd/ejabberd.pid; do
  if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; fi
done
ejabberdctl stop >/dev/null 2>&1 || true

# (not `prosody --version`: Prosody 0.12 has no such flag and starts the server with /etc/prosody's config)
dpkg-query -W -f='${Package} ${Version}\n' prosody ejabberd erlang-base 2>/dev/null || true
