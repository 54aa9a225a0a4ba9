#!/usr/bin/env bash
# Spec quality and SDK generation check for every openapi/*.yaml (run by `make test`).
#
#   1. every spec has a usage file scripts/sdkcheck/usage/<name>.ts and vice versa
#   2. npm ci in scripts/sdkcheck (skipped while node_modules matches the lock)
#   3. redocly lint each spec with scripts/sdkcheck/redocly.yaml (fails on any error)
#   4. spectral lint each spec with scripts/sdkcheck/.spectral.yaml (spectral:oas; fails on any
#      error or warning)
#   5. ogen generates a Go client and server from each spec, into a temporary directory (fails
#      when it cannot: a name collision, a construct it does not read)
#   6. openapi-typescript each spec into scripts/sdkcheck/out/<name>.ts
#   7. tsc -p scripts/sdkcheck: the usage files must type-check against the generated SDKs
#
# Needs node (>= 20.19) and npm; tool versions are pinned in scripts/sdkcheck/package-lock.json,
# ogen's in scripts/ogen/go.mod (a module of its own, like golangci-lint's in scripts/lint).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

SDK=scripts/sdkcheck
BIN=$SDK/node_modules/.bin
STAMP=$SDK/node_modules/.spec-check-stamp

export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

started=$SECONDS
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
  echo "spec-check: FAIL: $*" >&2
  exit 1
}

# Drops the boxed "Node.js 20 support is ending" banner redocly prints.
strip_banner() {
  grep -v -e '^[[:space:]]*[╔║╚]' -e '^[[:space:]]*$' || true
}

for tool in node npm; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (needed to lint the specs and type-check the SDKs)"
done

# --- 1. specs <-> usage files -------------------------------------------------------------
shopt -s nullglob
specs=(openapi/*.yaml)
usages=("$SDK"/usage/*.ts)
shopt -u nullglob
[ ${#specs[@]} -gt 0 ] || fail "no openapi/*.yaml found"

names=()
missing=()
for spec in "${specs[@]}"; do
  name=$(basename "$spec" .yaml)
  names+=("$name")
  [ -f "$SDK/usage/$name.ts" ] || missing+=("$spec has no usage file $SDK/usage/$name.ts")
done
for usage in "${usages[@]}"; do
  name=$(basename "$usage" .ts)
  [ -f "openapi/$name.yaml" ] || missing+=("$usage has no matching spec openapi/$name.yaml")
done
if [ ${#missing[@]} -gt 0 ]; then
  printf '  %s\n' "${missing[@]}" >&2
  fail "every openapi/<name>.yaml needs a $SDK/usage/<name>.ts that calls a few of its operations through the generated SDK (copy usage/activities.ts as a start), and every usage file needs its spec"
fi
echo "spec-check: ${#specs[@]} specs, each with a usage file"

# --- 2. tools -------------------------------------------------------------------------------
want=$(cat "$SDK/package.json" "$SDK/package-lock.json" <(node --version) | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] &&
   [ -x "$BIN/redocly" ] && [ -x "$BIN/spectral" ] && [ -x "$BIN/openapi-typescript" ] && [ -x "$BIN/tsc" ]; then
  echo "spec-check: tools up to date ($SDK/node_modules)"
else
  echo "spec-check: npm ci in $SDK"
  (cd "$SDK" && npm ci --no-audit --no-fund --loglevel=error) >"$tmp/npm.log" 2>&1 || {
    cat "$tmp/npm.log" >&2
    fail "npm ci in $SDK failed"
  }
  echo "$want" >"$STAMP"
fi

# --- 3. lint --------------------------------------------------------------------------------
lint_errors=0
lint_warnings=0
for spec in "${specs[@]}"; do
  rc=0
  "$BIN/redocly" lint --config "$SDK/redocly.yaml" --format=json "$spec" \
    >"$tmp/lint.json" 2>"$tmp/lint.err" || rc=$?
  if ! node "$SDK/lint-report.mjs" "$tmp/lint.json" "$spec" >"$tmp/lint.txt"; then
    strip_banner <"$tmp/lint.err" >&2
    fail "redocly lint $spec did not produce a report (exit $rc)"
  fi
  counts=$(tail -n 1 "$tmp/lint.txt")
  errors=${counts#errors=}; errors=${errors%% *}
  warnings=${counts##*warnings=}
  sed '$d' "$tmp/lint.txt"
  if [ "$rc" -ne 0 ] && [ "$errors" -eq 0 ]; then
    strip_banner <"$tmp/lint.err" >&2
    errors=1
  fi
  echo "spec-check: lint $spec: $errors errors, $warnings warnings"
  lint_errors=$((lint_errors + errors))
  lint_warnings=$((lint_warnings + warnings))
done
[ "$lint_errors" -eq 0 ] || fail "redocly lint found $lint_errors errors (listed above); fix the spec, or, if a rule fights a deliberate design, turn it off in $SDK/redocly.yaml with a comment saying why"

# --- 4. spectral ----------------------------------------------------------------------------
# spectral:oas, as third-party tools read the specs; a warning fails as an error does.
if ! "$BIN/spectral" lint --ruleset "$SDK/.spectral.yaml" --fail-severity=warn --format=text \
       "${specs[@]}" >"$tmp/spectral.txt" 2>&1; then
  sed "s/^/  /" "$tmp/spectral.txt" >&2
  fail "spectral lint (spectral:oas) found errors or warnings (listed above); fix the spec, or, if a rule fights a deliberate design, turn it off in $SDK/.spectral.yaml with a comment saying why"
fi
echo "spec-check: spectral:oas: ${#specs[@]} specs, no errors or warnings"

# --- 5. ogen --------------------------------------------------------------------------------
# A strict Go generator (its own name rules: a security scheme and a schema that map to one
# name are a collision). Generated into $tmp and thrown away: only that it can is checked.
for name in "${names[@]}"; do
  if ! go tool -modfile=scripts/ogen/go.mod ogen --clean --package "$name" --target "$tmp/ogen/$name" \
         "openapi/$name.yaml" >"$tmp/ogen.log" 2>&1; then
    grep -v '^.*WARN' "$tmp/ogen.log" | sed "s/^/  /" >&2
    fail "ogen cannot generate Go code from openapi/$name.yaml (see above)"
  fi
done
echo "spec-check: ogen generated a Go client and server from each of the ${#names[@]} specs"

# --- 6. generate ----------------------------------------------------------------------------
rm -rf "$SDK/out"
mkdir -p "$SDK/out"
for name in "${names[@]}"; do
  # Run from out/ so openapi-typescript never picks up some redocly.yaml from the working
  # directory (it lints again with it); linting is step 3's job. --default-non-nullable false:
  # a property with a `default` stays optional, so request bodies need not send it.
  if ! (cd "$SDK/out" && ../node_modules/.bin/openapi-typescript "../../../openapi/$name.yaml" \
          -o "$name.ts" --default-non-nullable false) >"$tmp/gen.log" 2>&1; then
    cat "$tmp/gen.log" >&2
    fail "openapi-typescript could not generate $SDK/out/$name.ts from openapi/$name.yaml"
  fi
done
echo "spec-check: generated ${#names[@]} TypeScript SDKs in $SDK/out"

# --- 7. type-check --------------------------------------------------------------------------
# --incremental keeps per-file results (by content hash) under node_modules/.cache: warm runs
# re-check only what changed.
if ! "$BIN/tsc" -p "$SDK" --pretty false --incremental \
       --tsBuildInfoFile "$SDK/node_modules/.cache/sdkcheck.tsbuildinfo" >"$tmp/tsc.log" 2>&1; then
  sed "s/^/  /" "$tmp/tsc.log" >&2
  fail "tsc: the usage files do not type-check against the generated SDKs (see above)"
fi
echo "spec-check: tsc -p $SDK ok"

echo "spec-check: ${#specs[@]} specs linted ($lint_warnings warnings), ${#names[@]} TypeScript SDKs generated and type-checked in $((SECONDS - started))s"
