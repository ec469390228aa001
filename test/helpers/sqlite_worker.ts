/**
 * A separate OS process working on a shared SQLite file through its own
 * SqliteStore, for the multi-process tests. Started by `startWorker()` in
 * sqlite_db.ts; talks over stdin/stdout, one line per message, and prints
 * its result as JSON on its last line.
 *
 * Modes:
 * - `hammer <db> <key> <prefix> <count>`: prints `ready`, waits for `go`,
 *   then sets keys `<prefix>0..<count-1>` of session `<key>`, one update each.
 * - `until-deleted <db> <key> <prefix> <half>`: like hammer for `half`
 *   updates, prints `half`, waits for `continue`, then keeps updating (a
 *   millisecond apart) until an update reports the session gone, and tries
 *   20 more.
 * - `delete <db> <key>`: prints `ready`, waits for `go`, deletes the session.
 * - `write <db> <json>`: creates the sessions in `<json>` (key -> record),
 *   then closes the database.
 * - `read <db> <now> <key>...`: prints the records it reads.
 *
 * @module
 */
import process from "node:process";
import { createInterface } from "node:readline";
import { SqliteStore } from "../../src/stores/sqlite.ts";
import type { SessionChange, SessionRecord } from "../../src/store.ts";
import { openDb } from "./sqlite_db.ts";

const [mode, dbPath, ...rest] = process.argv.slice(2);
const input = createInterface({ input: process.stdin });
// The parent never closes our stdin: if it does, the parent is gone, and a
// worker must not outlive its test.
let finished = false;
input.on("close", () => {
  if (!finished) process.exit(2);
});
const pending: string[] = [];
const waiting: ((line: string) => void)[] = [];
input.on("line", (line) => {
  const w = waiting.shift();
  if (w) w(line);
  else pending.push(line);
});

function nextLine(): Promise<string> {
  const line = pending.shift();
  if (line !== undefined) return Promise.resolve(line);
  return new Promise((resolve) => waiting.push(resolve));
}

async function waitFor(expected: string): Promise<void> {
  const line = await nextLine();
  if (line !== expected) throw new Error(`expected ${expected}, got ${line}`);
}

function setOne(name: string, value: number, now: number): SessionChange {
  const set: Record<string, string> = Object.create(null);
  set[name] = JSON.stringify(value);
  return { clear: false, set, delete: [], flash: null, expiresAt: now + 3_600_000 };
}

const db = await openDb(dbPath);
const store = new SqliteStore(db, "sessions");

switch (mode) {
  case "hammer": {
    const [key, prefix, count] = rest;
    console.log("ready");
    await waitFor("go");
    let applied = 0;
    for (let i = 0; i < Number(count); i++) {
      const now = Date.now();
      if (await store.update(key, setOne(`${prefix}${i}`, i, now), now)) applied++;
    }
    console.log(JSON.stringify({ applied }));
    break;
  }
  case "until-deleted": {
    const [key, prefix, half] = rest;
    let i = 0;
    let firstHalfApplied = 0;
    for (; i < Number(half); i++) {
      const now = Date.now();
      if (await store.update(key, setOne(`${prefix}${i}`, i, now), now)) firstHalfApplied++;
    }
    console.log("half");
    await waitFor("continue");
    // Keep writing until the deletion lands (bounded, so a broken delete
    // ends the test instead of hanging it). A millisecond between updates, as
    // between real requests: two processes writing back to back with no gap
    // at all would hold the lock nearly all the time, and SQLite's busy wait
    // is not fair, so the deleter could wait past its busy timeout (a 503,
    // correct under such load, but not what this test is about).
    let appliedBeforeDelete = 0;
    let sawDeleted = false;
    for (; i < Number(half) + 10_000; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      const now = Date.now();
      if (!(await store.update(key, setOne(`${prefix}${i}`, i, now), now))) {
        sawDeleted = true;
        break;
      }
      appliedBeforeDelete++;
    }
    let appliedAfterDelete = 0;
    for (let j = 0; j < 20; j++) {
      const now = Date.now();
      if (await store.update(key, setOne(`${prefix}after${j}`, j, now), now)) appliedAfterDelete++;
    }
    console.log(
      JSON.stringify({ firstHalfApplied, appliedBeforeDelete, sawDeleted, appliedAfterDelete }),
    );
    break;
  }
  case "delete": {
    const [key] = rest;
    console.log("ready");
    await waitFor("go");
    await store.delete(key);
    console.log(JSON.stringify({ deleted: key }));
    break;
  }
  case "write": {
    const sessions = JSON.parse(rest[0]) as Record<string, SessionRecord>;
    for (const [key, rec] of Object.entries(sessions)) await store.create(key, rec, rec.createdAt);
    console.log(JSON.stringify({ written: Object.keys(sessions).length }));
    break;
  }
  case "read": {
    const [now, ...keys] = rest;
    const out: Record<string, SessionRecord | null> = {};
    for (const key of keys) out[key] = await store.get(key, Number(now));
    console.log(JSON.stringify(out));
    break;
  }
  default:
    throw new Error(`unknown mode ${mode}`);
}

await store.close();
db.close();
finished = true;
input.close();
