/**
 * SqliteStore turns on write-ahead logging and a busy timeout when it opens
 * the schema, and leaves the connection's own settings alone when told to.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { SqliteStore } from "../src/stores/sqlite.ts";
import { openDb, type RawDb, tempDir } from "./helpers/sqlite_db.ts";

function pragma(raw: RawDb, name: string): unknown {
  return Object.values(raw.prepare(`PRAGMA ${name}`).get() as object)[0];
}

describe("SqliteStore connection settings", () => {
  const dir = tempDir();
  after(() => dir.remove());

  it("by default: WAL and a 5000 ms busy timeout", async () => {
    const raw = await openDb(dir.file("default.db"));
    const store = new SqliteStore(raw);
    assert.equal(pragma(raw, "journal_mode"), "wal");
    assert.equal(pragma(raw, "busy_timeout"), 5000);
    await store.close();
    raw.close();
  });

  it("walMode: false keeps the journal mode; busyTimeoutMs sets the timeout", async () => {
    const raw = await openDb(dir.file("nowal.db"));
    const store = new SqliteStore(raw, "sessions", { walMode: false, busyTimeoutMs: 1234 });
    assert.equal(pragma(raw, "journal_mode"), "delete");
    assert.equal(pragma(raw, "busy_timeout"), 1234);
    await store.close();
    raw.close();
  });

  it("busyTimeoutMs: null keeps the connection's own timeout", async () => {
    const raw = await openDb(dir.file("own.db"));
    raw.exec("PRAGMA busy_timeout = 777");
    const store = new SqliteStore(raw, "sessions", { busyTimeoutMs: null });
    assert.equal(pragma(raw, "busy_timeout"), 777);
    await store.close();
    raw.close();
  });
});
