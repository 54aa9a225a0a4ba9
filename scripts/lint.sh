#!/usr/bin/env bash
# `make lint`: golangci-lint with .golangci.yml (the linters, and depguard holding the layering),
# after a check depguard cannot make (it sees imports only): no directory or package is named
# util, utils, common, models or helpers.
#
# golangci-lint is pinned in scripts/lint/go.mod, a module of its own, so that its hundreds
# of dependencies stay out of the service's go.mod and cannot move versions the service shares
# with it. `go tool -modfile` builds it from that file (once; the build cache keeps it) and
# runs it in this module. To move it: go get -tool -modfile=scripts/lint/go.mod \
#   github.com/golangci/golangci-lint/v2/cmd/golangci-lint@vX.Y.Z
set -euo pipefail
cd "$(dirname "$0")/.."

names='util|utils|common|models|helpers'
bad=$(find . \( -name .git -o -name node_modules -o -name .data -o -name bin \) -prune -o \
  -type d -regextype egrep -regex ".*/($names)" -print)
bad+=$(find . \( -name .git -o -name node_modules -o -name .data -o -name bin \) -prune -o \
  -type f -name '*.go' -print0 | xargs -0 -r grep -lE "^package ($names)(_test)?\$" || true)
if [ -n "$bad" ]; then
  echo "lint: name packages for what they provide, not util/common/models/helpers:"
  echo "$bad"
  exit 1
fi

exec go tool -modfile=scripts/lint/go.mod golangci-lint run ./...
