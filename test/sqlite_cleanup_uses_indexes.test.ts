/**
 * Expired sessions do not pile up: `cleanup()` deletes exactly the expired
 * rows with one indexed DELETE, the store sweeps on its own at most once per
 * interval (riding on normal calls, never on every request), and every
 * per-request statement finds its row through the primary key.
 *
 * The clock here is the `now` argument every store call takes (the
 * middleware's clock), set by the test.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { sqliteStatements, SqliteStore } from "../src/stores/sqlite.ts";
import { openDb, type RawDb, record, tempDir } from "./helpers/sqlite_db.ts";

const T0 = Date.UTC(2030, 0, 1);
const MINUTE = 60_000;

function count(raw: RawDb, table = "sessions"): number {
  return (raw.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number }).n;
}

function has(raw: RawDb, key: string): boolean {
  return raw.prepare("SELECT key FROM sessions WHERE key = ?").get(key) !== undefined;
}

/** Puts rows in by hand, as if written earlier, without going through the store. */
function insert(raw: RawDb, key: string, expiresAt: number, table = "sessions"): void {
  raw.prepare(
    `INSERT INTO "${table}" (key, data, flash, created_at, expires_at) VALUES (?, '{}', '{}', ?, ?)`,
  ).run(key, T0 - MINUTE, expiresAt);
}

function plan(raw: RawDb, sql: string): string[] {
  const params = Array((sql.match(/\?/g) ?? []).length).fill(1);
  return raw.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params).map((r) =>
    String((r as { detail: string }).detail)
  );
}

describe("SqliteStore cleanup", () => {
  const dir = tempDir();
  after(() => dir.remove());

  it("deletes the expired rows, keeps the live ones, and returns how many went", async () => {
    const raw = await openDb(dir.file("cleanup.db"));
    const store = new SqliteStore(raw, "sessions", { cleanupIntervalSeconds: 0 });
    for (let i = 0; i < 50; i++) insert(raw, `dead${i}`, T0 - i);
    insert(raw, "edge", T0); // expiresAt == now: expired
    for (let i = 0; i < 20; i++) insert(raw, `live${i}`, T0 + 1 + i);
    assert.equal(await store.cleanup(T0), 51);
    assert.equal(count(raw), 20);
    const left = raw.prepare("SELECT key FROM sessions ORDER BY key").all().map((r) =>
      (r as { key: string }).key
    );
    assert.ok(left.every((k) => k.startsWith("live")));
    assert.equal(await store.cleanup(T0), 0);
    // Without an argument it uses the current time: these 2030 rows stay.
    assert.equal(await store.cleanup(), 0);
    await store.close();
    raw.close();
  });

  it("looks sessions up by primary key and sweeps through the expires_at index", async () => {
    const raw = await openDb(dir.file("plan.db"));
    const store = new SqliteStore(raw, "app_sessions");
    for (let i = 0; i < 500; i++) {
      insert(raw, `k${i}`, T0 + (i % 2 ? MINUTE : -MINUTE), "app_sessions");
    }
    const sql = sqliteStatements("app_sessions");
    const byKey = /^SEARCH app_sessions USING INDEX sqlite_autoindex_app_sessions_1 \(key=\?\)$/;
    for (const name of ["get", "touch", "write", "delete"] as const) {
      const steps = plan(raw, sql[name]);
      assert.equal(steps.length, 1, `${name}: ${steps.join("; ")}`);
      assert.match(steps[0], byKey, name);
    }
    assert.deepEqual(plan(raw, sql.sweep), [
      "SEARCH app_sessions USING INDEX app_sessions_expires_at (expires_at<?)",
    ]);
    await store.close();
    raw.close();
  });
});

describe("SqliteStore automatic sweep", () => {
  const dir = tempDir();
  after(() => dir.remove());

  it("runs at most once per cleanupIntervalSeconds, during normal calls", async () => {
    const raw = await openDb(dir.file("sweep.db"));
    const store = new SqliteStore(raw, "sessions", { cleanupIntervalSeconds: 300 });
    insert(raw, "old1", T0 - 1);
    insert(raw, "live", T0 + 60 * MINUTE);

    await store.get("live", T0); // the first call sweeps
    assert.equal(count(raw), 1);

    insert(raw, "old2", T0 - 1);
    for (let t = T0; t < T0 + 5 * MINUTE; t += 30_000) {
      await store.get("live", t);
      await store.create(`new${t}`, record({}, { createdAt: t, expiresAt: t + 60 * MINUTE }), t);
    }
    assert.equal(
      has(raw, "old2"),
      true,
      "no second sweep within the interval",
    );

    await store.update(
      "live",
      {
        clear: false,
        set: Object.create(null),
        delete: [],
        flash: null,
        expiresAt: T0 + 90 * MINUTE,
      },
      T0 + 5 * MINUTE,
    );
    assert.equal(
      has(raw, "old2"),
      false,
      "swept once the interval passed",
    );
    await store.close();
    raw.close();
  });

  it("is off with cleanupIntervalSeconds: 0 (cleanup() still works)", async () => {
    const raw = await openDb(dir.file("nosweep.db"));
    const store = new SqliteStore(raw, "sessions", { cleanupIntervalSeconds: 0 });
    insert(raw, "old", T0 - 1);
    for (let i = 0; i < 5; i++) await store.get("old", T0 + i * 3_600_000);
    assert.equal(count(raw), 1);
    assert.equal(await store.cleanup(T0), 1);
    await store.close();
    raw.close();
  });
});
