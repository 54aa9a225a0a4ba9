#!/usr/bin/env bash
# Installs, through the system's package manager, what building and testing Switchboard needs
# and a fresh machine may lack: PostgreSQL's server binaries (the embedded default and the
# tests start private clusters from them), Node.js with npm (spec lint and SDK check), and
# Chromium (the dashboard's browser test drives Debian's /usr/bin/chromium).
set -euo pipefail
missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v pg_dump >/dev/null 2>&1 || missing+=(postgresql-client)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
id postgres >/dev/null 2>&1 || missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
