/**
 * Options renamed to the one naming scheme of the stores keep working under
 * their old names: MemoryStore's `sweepIntervalSeconds` (now
 * `cleanupIntervalSeconds`), SqliteStore's `busyTimeoutMs` (now `timeoutMs`)
 * and DenoKvStore's `prefix` (now `keyPrefix`). Each old name does what the
 * new one does, seen through the store and a real database; each says so
 * with one `console.warn` per process, however often it is passed; both
 * names at once are a `SessionConfigError`. The stores' second argument
 * takes a name or options (`new SqliteStore(db, { table })`,
 * `new PostgresStore(sql, { table })`, `new DenoKvStore(kv, "app")`), tried
 * on a real SQLite file, a real PostgreSQL server and a real Deno KV file.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import postgres from "postgres";
import { SessionConfigError } from "../src/errors.ts";
import type { SessionRecord } from "../src/store.ts";
import { type DenoKvLike, DenoKvStore } from "../src/stores/deno_kv.ts";
import { MemoryStore } from "../src/stores/memory.ts";
import { PostgresStore } from "../src/stores/postgres.ts";
import { SqliteStore } from "../src/stores/sqlite.ts";
import { POSTGRES_URL, rawPool, uniqueTable } from "./kit/postgres.ts";
import { openDb, type RawDb, tempDir } from "./helpers/sqlite_db.ts";

const deno = (globalThis as { Deno?: { openKv(path: string): Promise<DenoKvLike> } }).Deno;
const onlyOnDeno = deno === undefined ? "Deno KV exists only on Deno" : false;

const T0 = 1_700_000_000_000;

function session(expiresAt: number): SessionRecord {
  return {
    data: Object.assign(Object.create(null), { n: "1" }),
    flash: Object.create(null),
    createdAt: T0,
    expiresAt,
  };
}

/** What `console.warn` printed while `fn` ran. */
async function warnings(fn: () => unknown): Promise<string[]> {
  const lines: string[] = [];
  const original = console.warn;
  console.warn = (...args: unknown[]) => lines.push(args.map(String).join(" "));
  try {
    await fn();
  } finally {
    console.warn = original;
  }
  return lines;
}

function pragma(raw: RawDb, name: string): unknown {
  return Object.values(raw.prepare(`PRAGMA ${name}`).get() as object)[0];
}

/** Whether `store` swept an expired session on its next call, `gapMs` after its first sweep. */
async function sweptAfter(store: MemoryStore, gapMs: number): Promise<boolean> {
  await store.cleanup(T0); // the store's first sweep
  await store.create("short", session(T0 + 1), T0);
  await store.get("other", T0 + gapMs); // a normal call, after the session expired
  return store.size === 0;
}

describe("MemoryStore: sweepIntervalSeconds is cleanupIntervalSeconds", () => {
  it("the old name sets how often expired sessions are swept, as the new one does", async () => {
    const lines = await warnings(async () => {
      assert.equal(await sweptAfter(new MemoryStore({ cleanupIntervalSeconds: 10 }), 5_000), false);
      assert.equal(await sweptAfter(new MemoryStore({ cleanupIntervalSeconds: 10 }), 10_000), true);
      assert.equal(await sweptAfter(new MemoryStore({ sweepIntervalSeconds: 10 }), 5_000), false);
      assert.equal(await sweptAfter(new MemoryStore({ sweepIntervalSeconds: 10 }), 10_000), true);
    });
    // Two stores under the old name, one warning.
    assert.equal(lines.length, 1);
    assert.match(
      lines[0],
      /MemoryStore option "sweepIntervalSeconds" is now "cleanupIntervalSeconds"/,
    );
  });

  it("warns no more in this process, and never for the new name", async () => {
    // The test above already passed the old name in this process.
    const lines = await warnings(() => {
      new MemoryStore({ sweepIntervalSeconds: 5 });
      new MemoryStore({ sweepIntervalSeconds: 6 });
    });
    assert.deepEqual(lines, []);
    assert.deepEqual(await warnings(() => new MemoryStore({ cleanupIntervalSeconds: 5 })), []);
  });

  it("both names at once: SessionConfigError", () => {
    assert.throws(
      () => new MemoryStore({ sweepIntervalSeconds: 5, cleanupIntervalSeconds: 5 }),
      (e: unknown) =>
        e instanceof SessionConfigError && /"sweepIntervalSeconds"/.test(e.message) &&
        /pass only "cleanupIntervalSeconds"/.test(e.message),
    );
  });
});

describe("SqliteStore: busyTimeoutMs is timeoutMs; the table may travel in the options", () => {
  const dir = tempDir();
  after(() => dir.remove());

  it("the old name warns once, sets SQLite's busy timeout as the new one does", async () => {
    const raw = await openDb(dir.file("renamed.db"));
    try {
      const first = await warnings(() => new SqliteStore(raw, "old_a", { busyTimeoutMs: 1234 }));
      assert.equal(pragma(raw, "busy_timeout"), 1234);
      assert.equal(first.length, 1);
      assert.match(first[0], /SqliteStore option "busyTimeoutMs" is now "timeoutMs"/);
      const second = await warnings(() => new SqliteStore(raw, "old_b", { busyTimeoutMs: 2345 }));
      assert.equal(pragma(raw, "busy_timeout"), 2345);
      assert.deepEqual(second, []);
      const renamed = await warnings(() => new SqliteStore(raw, "new_a", { timeoutMs: 3456 }));
      assert.equal(pragma(raw, "busy_timeout"), 3456);
      assert.deepEqual(renamed, []);
    } finally {
      raw.close();
    }
  });

  it("both names at once: SessionConfigError", async () => {
    const raw = await openDb(":memory:");
    try {
      assert.throws(
        () => new SqliteStore(raw, "sessions", { busyTimeoutMs: 10, timeoutMs: 10 }),
        (e: unknown) => e instanceof SessionConfigError && /pass only "timeoutMs"/.test(e.message),
      );
    } finally {
      raw.close();
    }
  });

  it("new SqliteStore(db, { table, ...options }) keeps sessions in that table of the file", async () => {
    const path = dir.file("table_in_options.db");
    const raw = await openDb(path);
    const store = new SqliteStore(raw, { table: "app_sessions", timeoutMs: 1500 });
    assert.equal(store.tableName, "app_sessions");
    assert.equal(pragma(raw, "busy_timeout"), 1500);
    await store.create("k", session(T0 + 60_000), T0);
    await store.close();
    raw.close();
    // Reopened from the file: the session is in the named table.
    const again = await openDb(path);
    try {
      const reopened = new SqliteStore(again, "app_sessions");
      assert.equal((await reopened.get("k", T0))?.data.n, "1");
      const tables = again.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()
        .map((r) => (r as { name: string }).name);
      assert.deepEqual(tables, ["app_sessions"]);
      await reopened.close();
    } finally {
      again.close();
    }
  });

  it("the table named twice, or options given twice: SessionConfigError", async () => {
    const raw = await openDb(":memory:");
    try {
      assert.throws(
        () => new SqliteStore(raw, "a", { table: "b" } as never),
        (e: unknown) => e instanceof SessionConfigError && /given twice/.test(e.message),
      );
      assert.throws(
        () => new SqliteStore(raw, { table: "a" }, { walMode: false }),
        (e: unknown) => e instanceof SessionConfigError && /given twice/.test(e.message),
      );
      assert.throws(
        () => new SqliteStore(raw, { table: "sqlite_x" }),
        (e: unknown) => e instanceof SessionConfigError && /reserved by SQLite/.test(e.message),
      );
    } finally {
      raw.close();
    }
  });
});

describe("PostgresStore: the table may travel in the options", () => {
  const sql = postgres(POSTGRES_URL, { max: 2, onnotice: () => {} });
  const raw = rawPool();
  const table = uniqueTable("opts");

  after(async () => {
    await raw.query(`DROP TABLE IF EXISTS "${table}"`);
    await sql.end({ timeout: 1 });
    await raw.end();
  });

  it("new PostgresStore(sql, { table, ...options }) keeps sessions in that table", async () => {
    const store = new PostgresStore(sql, { table, timeoutMs: 3000 });
    assert.equal(store.tableName, table);
    await store.initSessionsTable();
    await store.create("k", session(T0 + 60_000), T0);
    const rows = await raw.query(`SELECT count(*)::int AS n FROM "${table}"`);
    assert.equal(rows.rows[0].n, 1);
    assert.equal((await new PostgresStore(sql, table).get("k", T0))?.data.n, "1");
  });

  it("the table named twice, or options given twice: SessionConfigError", () => {
    assert.throws(
      () => new PostgresStore(sql, "a", { table: "b" } as never),
      (e: unknown) => e instanceof SessionConfigError && /given twice/.test(e.message),
    );
    assert.throws(
      () => new PostgresStore(sql, { table: "a" }, { timeoutMs: 10 }),
      (e: unknown) => e instanceof SessionConfigError && /given twice/.test(e.message),
    );
  });
});

describe("DenoKvStore: prefix is keyPrefix; a string names a one-part prefix", () => {
  const dir = tempDir();
  let kv: DenoKvLike;

  before(async () => {
    if (deno !== undefined) kv = await deno.openKv(dir.file("kv.db"));
  });

  after(() => {
    kv?.close();
    dir.remove();
  });

  /** The keys of the raw KV's entries under `prefix`. */
  async function keysUnder(prefix: string[]): Promise<unknown[][]> {
    const keys: unknown[][] = [];
    for await (const e of kv.list({ prefix })) keys.push([...e.key]);
    return keys;
  }

  it("the old name puts entries under the prefix, as the new one does; warns once", {
    skip: onlyOnDeno,
  }, async () => {
    const first = await warnings(() =>
      new DenoKvStore(kv, { prefix: ["old"] }).create("k", session(T0 + 60_000), T0)
    );
    assert.equal(first.length, 1);
    assert.match(first[0], /DenoKvStore option "prefix" is now "keyPrefix"/);
    assert.deepEqual(await warnings(() => new DenoKvStore(kv, { prefix: ["old2"] })), []);
    await new DenoKvStore(kv, { keyPrefix: ["new"] }).create("k", session(T0 + 60_000), T0);
    assert.equal((await keysUnder(["old"])).length, 1);
    assert.equal((await keysUnder(["new"])).length, 1);
    assert.equal((await keysUnder(["old"]))[0].length, 2, "[prefix, key]");
  });

  it("both names at once: SessionConfigError", { skip: onlyOnDeno }, () => {
    assert.throws(
      () => new DenoKvStore(kv, { prefix: ["a"], keyPrefix: ["a"] }),
      (e: unknown) => e instanceof SessionConfigError && /pass only "keyPrefix"/.test(e.message),
    );
  });

  it('new DenoKvStore(kv, "app") keeps entries under ["app"]', { skip: onlyOnDeno }, async () => {
    const store = new DenoKvStore(kv, "app");
    await store.create("k", session(T0 + 60_000), T0);
    assert.equal((await keysUnder(["app"])).length, 1);
    assert.equal((await new DenoKvStore(kv, { keyPrefix: ["app"] }).get("k", T0))?.data.n, "1");
  });
});
