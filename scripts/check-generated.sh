#!/usr/bin/env bash
# Fails when `make generate` would change the committed gen/ (a spec was edited without
# regenerating, or generated code was edited by hand). Compares against a snapshot rather than
# git, so it also works with uncommitted changes.
set -euo pipefail
cd "$(dirname "$0")/.."
snap=$(mktemp -d)
trap 'rm -rf "$snap"' EXIT
cp -a gen "$snap/"
go generate ./gen/...
if ! diff -r "$snap/gen" gen >"$snap/diff"; then
  echo "check-generated: gen/ was stale; it has been regenerated. Commit the result:"
  head -n 40 "$snap/diff"
  exit 1
fi
echo "check-generated: gen/ matches openapi/"
