#!/usr/bin/env bash
# Installs what ems120's demo and tests need on a fresh Debian machine:
# PostgreSQL server binaries, PostGIS, kcat (the third-party Kafka client used in interop tests),
# Node.js and npm (to bundle the console) and Chromium (the console's browser tests).
# As root it uses apt-get; otherwise it prints one line saying what to install and fails.
set -euo pipefail

need=()
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pgbin" ] || [ ! -x "$pgbin/postgres" ] || [ ! -x "$pgbin/initdb" ]; then
  need+=(postgresql)
fi
if ! ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; then
  # PostGIS must match the server's major version; default to the Debian 12 server (15).
  major=15
  [ -n "$pgbin" ] && major=$(basename "$(dirname "$pgbin")")
  need+=("postgresql-${major}-postgis-3")
fi
command -v kcat >/dev/null 2>&1 || need+=(kcat)
# The console is bundled with npm and esbuild, and tested in a real headless Chromium.
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# Hospital and district names are Chinese: a CJK font, or the screenshots show boxes.
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)

[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "ems120 needs: ${need[*]} — install with: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "setup: installing ${need[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
