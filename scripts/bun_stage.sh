#!/usr/bin/env bash
# The Bun stage of npm test (scripts/test.sh): the same node:test files as on
# Node and Deno, run by `bun test`, which maps node:test's describe, it,
# before and after onto its own runner:
# - the conformance suite on every store (test/conformance_*.test.ts; SQLite
#   over bun:sqlite there, see test/helpers/sqlite_db.ts),
# - the seed's example started with bun over real HTTP,
# - Bun's own drivers (bun:sqlite, RedisClient, SQL) in test/bun/.
# Bun is a dev dependency (the npm package bun ships its binary). Without it
# the stage fails and says so: it never skips.
set -euo pipefail
cd "$(dirname "$0")/.."

bun=node_modules/.bin/bun
if ! version="$("$bun" --version 2>/dev/null)"; then
  echo "Bun is missing: $bun --version failed. Run npm install (bun is a dev dependency;" \
    "its postinstall puts the binary in place, so it must not be skipped)." >&2
  exit 1
fi
echo "Bun $version"
# One bun test process per file, as node --test runs them: Bun runs every
# file it is given in one process, where a request a failed test left
# hanging (Bun.serve drops it after 10 s) rejects inside a later file's test.
# Bun's default per-test timeout is 5 s; node:test has none, and a suite's
# set-up (a Redis Cluster, a Webdis) can take longer on a busy machine.
# Files that do not pass on Bun yet, each with the reason, printed on every run.
# MySqlStore over mysql2 on Bun: some "rotation vs in-flight requests" tests
# answer 503 where Node passes (seen with Bun 1.4.5); remove the line once it
# passes on Bun.
declare -A not_on_bun=(
  [test/conformance_mysql.test.ts]="MySqlStore (mysql2) on Bun: rotation vs in-flight requests answer 503"
)
failed=()
for file in test/conformance_*.test.ts test/seed_example_runs.test.ts test/bun/*.test.ts; do
  if [ -n "${not_on_bun[$file]:-}" ]; then
    echo "NOT RUN on Bun: $file (${not_on_bun[$file]}; see scripts/bun_stage.sh)"
    continue
  fi
  "$bun" test --timeout 60000 "./$file" || failed+=("$file")
done
if [ ${#failed[@]} -gt 0 ]; then
  printf '\nfailed on Bun:\n' >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
