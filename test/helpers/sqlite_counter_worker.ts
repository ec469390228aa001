/**
 * A separate OS process that opens a shared SQLite file with its own
 * SqliteStore only when told to, then adds to a counter, for
 * test/sqlite_upgrades_tables_of_the_previous_version.test.ts. Opening on
 * the signal lets two processes upgrade a table of the previous version at
 * the same moment.
 *
 * `node --import tsx sqlite_counter_worker.ts <db> <key> <count>` (or
 * `deno run -A`): prints `ready`, waits for `go` on stdin, opens the store,
 * runs `<count>` updates of session `<key>` at once, each adding 1 to its
 * `count` key, and prints `{"applied": n}` as its last line.
 *
 * @module
 */
import process from "node:process";
import { createInterface } from "node:readline";
import { SqliteStore } from "../../src/stores/sqlite.ts";
import type { SessionChange } from "../../src/store.ts";
import { openDb } from "./sqlite_db.ts";

const [dbPath, key, count] = process.argv.slice(2);
const input = createInterface({ input: process.stdin });
// The parent never closes our stdin: if it does, the parent is gone, and a
// worker must not outlive its test.
let finished = false;
input.on("close", () => {
  if (!finished) process.exit(2);
});
const go = new Promise<void>((resolve, reject) => {
  input.once("line", (line) => line === "go" ? resolve() : reject(new Error(`got ${line}`)));
});

function addOne(now: number): SessionChange {
  const increment: Record<string, number> = Object.create(null);
  increment.count = 1;
  return {
    clear: false,
    set: Object.create(null),
    delete: [],
    flash: null,
    expiresAt: now + 3_600_000,
    increment,
    lastSeenAt: now,
  };
}

console.log("ready");
await go;
const db = await openDb(dbPath);
const store = new SqliteStore(db, "sessions");
const results = await Promise.all(
  Array.from({ length: Number(count) }, () => {
    const now = Date.now();
    return store.update(key, addOne(now), now);
  }),
);
console.log(JSON.stringify({ applied: results.filter(Boolean).length }));
await store.close();
db.close();
finished = true;
input.close();
