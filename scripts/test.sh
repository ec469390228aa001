#!/usr/bin/env bash
# The whole test run: every test on Node, the same files on Deno, the
# conformance suite and the seed's example on Bun, the browser
# tests on Node, Deno users' projects and the JSR package, then the type
# check, lint and format check. Stops at the first stage that fails.
set -euo pipefail
cd "$(dirname "$0")/.."

stage() { printf '\n== %s\n' "$*"; }

# The package imports itself ("oak-sessions") from dist/; keep it current.
stage "build"
npm run --silent build

stage "tests on Node"
node --import tsx --test --test-concurrency=1 --test-reporter=spec test/*.test.ts

stage "tests on Deno (type-checked)"
npx deno test -A --quiet test/

# Bun runs the same node:test files (bun test maps describe/it/before/after):
# the conformance suite on every store, the seed's example over real HTTP,
# and Bun's own drivers (bun:sqlite, RedisClient, SQL) in test/bun/. Bun is a
# dev dependency (npm package bun); without it this stage fails, never skips.
stage "tests on Bun"
bash scripts/bun_stage.sh

# Deno users' own projects, outside this repository: the seed's example
# type-checks with npm Oak inline, under import-map names, and with the
# @oakserver/oak entry (see the script for what stands in for JSR's Oak 17).
stage "deno check in Deno projects outside the repository"
node --import tsx scripts/deno_check_configs.ts

# npm users' own projects: the README's seed example and the original's
# makeStore pattern under tsc --strict, over TypeScript 5 to 7, @types/node 20
# to the latest and none, and npm Oak 12 to 14 (installs from the registry,
# cached under the temp directory).
stage "tsc in npm projects across TypeScript, @types/node and Oak versions"
node --import tsx scripts/npm_toolchains_type_check.ts

stage "deno publish --dry-run (JSR)"
# With a packed tarball in the tree, as after `npm pack`: only library files may be listed.
npm pack --ignore-scripts --silent >/dev/null
trap 'rm -f oak-sessions-*.tgz' EXIT
# --allow-dirty: the run checks the working tree as it is, committed or not.
publish_log="$(NO_COLOR=1 npx deno publish --dry-run --allow-dirty 2>&1)" || { printf '%s\n' "$publish_log"; exit 1; }
printf '%s\n' "$publish_log" | tail -n 1
if printf '%s\n' "$publish_log" | grep -E '^\s+file:///' | grep -vE '/(mod\.ts|oakserver\.ts|testing\.ts|deno\.json|README\.md|LICENSE|src/[^ ]+\.ts)( |$)'; then
  echo "deno publish would ship the files above: only the library belongs in the JSR package"
  exit 1
fi
if printf '%s\n' "$publish_log" | grep -qi "warning"; then
  printf '%s\n' "$publish_log"
  echo "deno publish --dry-run gave warnings"
  exit 1
fi

stage "deno doc --lint (every export documented)"
npx deno doc --lint mod.ts oakserver.ts testing.ts 2>&1 | grep -v -e "^Warning Failed resolving types" -e "@types/node/index.d.ts"

stage "browser tests on Node (Chromium)"
node --import tsx --test --test-concurrency=1 --test-reporter=spec test/browser/*.test.ts

stage "type check (tsc --strict)"
npx tsc --noEmit -p tsconfig.json

stage "deno lint"
npx deno lint

stage "deno fmt --check"
npx deno fmt --check

printf '\nall stages passed\n'
