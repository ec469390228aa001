#!/usr/bin/env bash
# The whole test run: every test on Node, the same files on Deno, the browser
# tests on Node, then the type check, lint and format check. Stops at the
# first stage that fails.
set -euo pipefail
cd "$(dirname "$0")/.."

stage() { printf '\n== %s\n' "$*"; }

# The package imports itself ("oak-sessions") from dist/; keep it current.
stage "build"
npm run --silent build

stage "tests on Node"
node --import tsx --test --test-concurrency=1 --test-reporter=spec test/*.test.ts

stage "tests on Deno"
npx deno test -A --no-check --quiet test/

stage "browser tests on Node (Chromium)"
node --import tsx --test --test-concurrency=1 --test-reporter=spec test/browser/*.test.ts

stage "type check (tsc --strict)"
npx tsc --noEmit -p tsconfig.json

stage "deno lint"
npx deno lint

stage "deno fmt --check"
npx deno fmt --check

printf '\nall stages passed\n'
