#!/usr/bin/env bash
# Installs the vendors' pinned webhook signers (scripts/vendorsign, npm ci) unless they are up
# to date. The Ingest tests call it before signing requests with scripts/vendorsign/sign.mjs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/vendorsign"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
command -v node >/dev/null && command -v npm >/dev/null || { echo "vendorsign: node and npm are needed (make deps installs them)" >&2; exit 1; }
want=$(cat package.json package-lock.json <(node --version) | sha256sum | cut -d' ' -f1)
stamp=node_modules/.vendorsign-stamp
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
# Concurrent test processes wait for one install.
exec 9>"${TMPDIR:-/tmp}/switchboard-vendorsign-$(echo "$PWD" | sha256sum | cut -c1-12).lock"
flock 9
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error >&2
echo "$want" >"$stamp"
