/**
 * When SQLite fails, SqliteStore fails the call with a SessionStoreError
 * (status 503) carrying the driver's error, loses nothing, leaves no
 * transaction open, and works again on the next call once the cause is gone.
 *
 * The faults are real: another connection holding the write lock, a trigger
 * that aborts a write (SQLite's own fault injection), a connection closed
 * under the store.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { SessionStoreError } from "../src/errors.ts";
import type { SessionChange } from "../src/store.ts";
import { SqliteStore } from "../src/stores/sqlite.ts";
import { openDb, record, tempDir, values } from "./helpers/sqlite_db.ts";

const T0 = Date.UTC(2030, 0, 1);
const HOUR = 3_600_000;

function setChange(key: string, value: unknown): SessionChange {
  const set: Record<string, string> = Object.create(null);
  set[key] = JSON.stringify(value);
  return { clear: false, set, delete: [], flash: null, expiresAt: T0 + HOUR };
}

describe("SqliteStore when SQLite fails", () => {
  const dir = tempDir();
  after(() => dir.remove());

  it("another connection holding the lock: SessionStoreError after busyTimeoutMs, then recovery", async () => {
    const path = dir.file("busy.db");
    const raw = await openDb(path);
    const store = new SqliteStore(raw, "sessions", { busyTimeoutMs: 50 });
    await store.create("s", record({ a: 1 }, { createdAt: T0, expiresAt: T0 + HOUR }), T0);

    const other = await openDb(path);
    other.exec("BEGIN IMMEDIATE");
    const busy = (e: unknown) =>
      e instanceof SessionStoreError && e.status === 503 &&
      /locked by another connection/.test(e.message) && /busyTimeoutMs \(50 ms\)/.test(e.message) &&
      e.cause instanceof Error;
    await assert.rejects(store.update("s", setChange("b", 2), T0), busy);
    await assert.rejects(
      store.update("s", { ...setChange("b", 2), set: Object.create(null) }, T0),
      busy,
    );
    await assert.rejects(
      store.create("t", record({}, { createdAt: T0, expiresAt: T0 + HOUR }), T0),
      busy,
    );
    await assert.rejects(store.delete("s"), busy);
    await assert.rejects(store.cleanup(T0), busy);
    // In WAL mode readers do not wait for the writer.
    assert.deepEqual(values((await store.get("s", T0))!.data), { a: 1 });

    other.exec("COMMIT");
    assert.equal(await store.update("s", setChange("b", 2), T0), true);
    assert.deepEqual(values((await store.get("s", T0))!.data), { a: 1, b: 2 });
    await store.close();
    other.close();
    raw.close();
  });

  it("a write that fails inside the update transaction is rolled back and releases the lock", async () => {
    const path = dir.file("fault.db");
    const raw = await openDb(path);
    const store = new SqliteStore(raw, "sessions", { busyTimeoutMs: 50 });
    await store.create("boom", record({ a: 1 }, { createdAt: T0, expiresAt: T0 + HOUR }), T0);
    await store.create("fine", record({ a: 1 }, { createdAt: T0, expiresAt: T0 + HOUR }), T0);
    raw.exec(`CREATE TRIGGER fault BEFORE UPDATE ON sessions WHEN NEW.key = 'boom'
      BEGIN SELECT RAISE(ABORT, 'injected fault'); END`);

    await assert.rejects(
      store.update("boom", setChange("b", 2), T0),
      (e: unknown) =>
        e instanceof SessionStoreError && /injected fault/.test(e.message) &&
        e.cause instanceof Error && /injected fault/.test(e.cause.message),
    );
    // Nothing half-written, and no transaction left open: another connection
    // takes the write lock at once.
    assert.deepEqual(values((await store.get("boom", T0))!.data), { a: 1 });
    const other = await openDb(path);
    other.exec("PRAGMA busy_timeout = 0");
    other.exec("BEGIN IMMEDIATE");
    other.exec("ROLLBACK");
    other.close();
    // The same store carries on.
    assert.equal(await store.update("fine", setChange("b", 2), T0), true);
    raw.exec("DROP TRIGGER fault");
    assert.equal(await store.update("boom", setChange("b", 2), T0), true);
    assert.deepEqual(values((await store.get("boom", T0))!.data), { a: 1, b: 2 });
    await store.close();
    raw.close();
  });

  it("a connection closed under the store: SessionStoreError with the driver's error", async () => {
    const raw = await openDb(dir.file("closed.db"));
    const store = new SqliteStore(raw);
    raw.close();
    await assert.rejects(
      store.get("s", T0),
      (e: unknown) => e instanceof SessionStoreError && e.cause instanceof Error,
    );
    await assert.rejects(
      store.update("s", setChange("a", 1), T0),
      (e: unknown) => e instanceof SessionStoreError && e.cause instanceof Error,
    );
  });
});
