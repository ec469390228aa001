/**
 * SqliteStore and bad input: a hostile or invalid table name is refused
 * before any SQL runs; a row corrupted by hand reads as no session without
 * harming the others; a read-only database fails writes with a clear error
 * and loses nothing; and an object that is no supported driver, a table of
 * another schema, or a wrong option is a clear SessionConfigError.
 */
import assert from "node:assert/strict";
import { chmodSync } from "node:fs";
import { after, describe, it } from "node:test";
import { SessionConfigError, SessionStoreError } from "../src/errors.ts";
import type { SessionChange } from "../src/store.ts";
import { SqliteStore } from "../src/stores/sqlite.ts";
import type { SqliteDatabase } from "../src/stores/sqlite_drivers.ts";
import { openDb, type RawDb, record, tempDir, values } from "./helpers/sqlite_db.ts";

const T0 = Date.UTC(2030, 0, 1);
const HOUR = 3_600_000;

function tables(raw: RawDb): string[] {
  return raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all()
    .map((r) => (r as { name: string }).name);
}

function setChange(key: string, value: unknown): SessionChange {
  const set: Record<string, string> = Object.create(null);
  set[key] = JSON.stringify(value);
  return { clear: false, set, delete: [], flash: null, expiresAt: T0 + 2 * HOUR };
}

describe("SqliteStore refuses table names that are not identifiers", () => {
  const dir = tempDir();
  after(() => dir.remove());

  it("`sessions; DROP TABLE x` throws SessionConfigError and runs no SQL", async () => {
    const raw = await openDb(dir.file("hostile.db"));
    raw.exec("CREATE TABLE x (v TEXT); INSERT INTO x VALUES ('still here')");
    assert.throws(
      () => new SqliteStore(raw, "sessions; DROP TABLE x"),
      (e: unknown) =>
        e instanceof SessionConfigError &&
        e.message.includes(JSON.stringify("sessions; DROP TABLE x")) &&
        /not an identifier/.test(e.message),
    );
    assert.deepEqual(tables(raw), ["x"]);
    const rows = raw.prepare("SELECT v FROM x").all().map((r) => ({ ...(r as object) }));
    assert.deepEqual(rows, [{ v: "still here" }]);
    raw.close();
  });

  for (
    const bad of [
      "",
      "1sessions",
      "my sessions",
      'a"b',
      "a-b",
      "sessions--",
      "séances",
      "a".repeat(64),
      "sqlite_sessions",
      42,
      null,
    ]
  ) {
    it(`refuses ${JSON.stringify(bad)}`, async () => {
      const raw = await openDb(":memory:");
      assert.throws(() => new SqliteStore(raw, bad as string), SessionConfigError);
      assert.deepEqual(tables(raw), []);
      raw.close();
    });
  }

  it("accepts a 63-character identifier and creates the table under it", async () => {
    const raw = await openDb(":memory:");
    const name = "_" + "Ab9".repeat(20) + "xy";
    assert.equal(name.length, 63);
    const store = new SqliteStore(raw, name);
    assert.deepEqual(tables(raw), [name]);
    await store.close();
    raw.close();
  });
});

describe("SqliteStore with a corrupt row", () => {
  const dir = tempDir();
  after(() => dir.remove());

  const corrupt: [string, string, string][] = [
    ["not JSON", "{not json", "{}"],
    ["an array", "[1,2]", "{}"],
    ["a value that is not JSON text", '{"a":1}', "{}"],
    ["null", "null", "{}"],
    ["a string", '"text"', "{}"],
    ["corrupt flash", "{}", "{bad"],
  ];

  it("reads that session as none, and the others as they are", async () => {
    const raw = await openDb(dir.file("corrupt.db"));
    const store = new SqliteStore(raw);
    await store.create("good1", record({ a: 1 }, { createdAt: T0, expiresAt: T0 + HOUR }), T0);
    const insert = raw.prepare(
      "INSERT INTO sessions (key, data, flash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
    );
    for (const [name, data, flash] of corrupt) insert.run(name, data, flash, T0, T0 + HOUR);
    // A timestamp that is not a number.
    insert.run("bad time", "{}", "{}", T0, "soon");
    await store.create("good2", record({ b: 2 }, { createdAt: T0, expiresAt: T0 + HOUR }), T0);

    for (const [name] of [...corrupt, ["bad time"]]) {
      assert.equal(await store.get(name, T0), null, name);
      assert.equal(await store.update(name, setChange("x", 1), T0), false, name);
    }
    assert.deepEqual(values((await store.get("good1", T0))!.data), { a: 1 });
    assert.deepEqual(values((await store.get("good2", T0))!.data), { b: 2 });
    assert.equal(await store.update("good2", setChange("c", 3), T0), true);
    assert.deepEqual(values((await store.get("good2", T0))!.data), { b: 2, c: 3 });

    // The corrupt rows can still be deleted, and expire like any other
    // (good2 was refreshed past T0 + HOUR by its update).
    await store.delete("not JSON");
    await store.delete("bad time");
    assert.equal(await store.cleanup(T0 + HOUR), corrupt.length - 1 + 1);
    assert.deepEqual(values((await store.get("good2", T0 + HOUR))!.data), { b: 2, c: 3 });
    await store.close();
    raw.close();
  });
});

describe("SqliteStore on a read-only database", () => {
  const dir = tempDir();
  after(() => dir.remove());

  it("reads its sessions, fails writes with a clear SessionStoreError, and loses nothing", async () => {
    const path = dir.file("readonly.db");
    const writable = await openDb(path);
    const seed = new SqliteStore(writable);
    await seed.create("kept", record({ a: 1 }, { createdAt: T0, expiresAt: T0 + HOUR }), T0);
    await seed.create("old", record({ a: 0 }, { createdAt: T0, expiresAt: T0 - 1 }), T0);
    await seed.close();
    writable.close();

    // chmod alone does not stop root (which CI may be), so the driver's
    // read-only flag makes the connection read-only for certain.
    chmodSync(path, 0o444);
    const raw = await openDb(path, { readonly: true });
    const store = new SqliteStore(raw);
    // The first call also tries the automatic sweep; its failure must not
    // fail the read.
    assert.deepEqual(values((await store.get("kept", T0))!.data), { a: 1 });

    const readOnly = (e: unknown) =>
      e instanceof SessionStoreError && e.status === 503 && /read-only/.test(e.message) &&
      e.cause !== undefined;
    await assert.rejects(
      store.create("new", record({}, { createdAt: T0, expiresAt: T0 + HOUR }), T0),
      readOnly,
    );
    await assert.rejects(store.update("kept", setChange("b", 2), T0), readOnly);
    await assert.rejects(
      store.update("kept", { ...setChange("b", 2), set: Object.create(null) }, T0),
      readOnly,
    );
    await assert.rejects(store.delete("kept"), readOnly);
    await assert.rejects(store.cleanup(T0), readOnly);
    await store.close();
    raw.close();

    chmodSync(path, 0o644);
    const again = await openDb(path);
    const after = new SqliteStore(again, "sessions", { cleanupIntervalSeconds: 0 });
    const kept = await after.get("kept", T0);
    assert.deepEqual(values(kept!.data), { a: 1 });
    assert.equal(kept!.expiresAt, T0 + HOUR);
    assert.equal(await after.get("new", T0), null);
    assert.equal(await after.cleanup(T0), 1, "the expired row was still there to sweep");
    await after.close();
    again.close();
  });

  it("without the table: SessionConfigError at construction, saying why", async () => {
    const path = dir.file("empty.db");
    const writable = await openDb(path);
    writable.exec("CREATE TABLE other (v TEXT)");
    writable.close();
    const raw = await openDb(path, { readonly: true });
    assert.throws(
      () => new SqliteStore(raw),
      (e: unknown) =>
        e instanceof SessionConfigError && /cannot create table "sessions"/.test(e.message) &&
        /read-only/.test(e.message),
    );
    raw.close();
  });
});

describe("SqliteStore refuses what is not a supported driver", () => {
  const names = /better-sqlite3.*node:sqlite.*@db\/sqlite.*x\/sqlite/;
  const cases: [string, unknown][] = [
    ["undefined", undefined],
    ["null", null],
    ["a number", 42],
    ["an empty object", {}],
    ["a Map", new Map()],
    ["a Redis-like client", { get() {}, set() {}, sendCommand() {} }],
    ["a query() that answers nothing", { query() {} }],
    ["an async query() client (like pg)", { query: () => Promise.resolve({ rows: [] }) }],
  ];
  for (const [name, db] of cases) {
    it(`${name}: SessionConfigError naming the supported drivers`, () => {
      assert.throws(
        () => new SqliteStore(db as SqliteDatabase),
        (e: unknown) => e instanceof SessionConfigError && names.test(e.message),
      );
    });
  }

  it("a path instead of a connection: says to open it first", () => {
    assert.throws(
      () => new SqliteStore("./sessions.db" as unknown as SqliteDatabase),
      (e: unknown) => e instanceof SessionConfigError && /open it with your driver/.test(e.message),
    );
  });

  it("a driver that answers with promises: says a synchronous one is needed", () => {
    const asyncDb = {
      prepare: () => ({
        get: () => Promise.resolve({ one: 1 }),
        run: () => Promise.resolve({ changes: 0 }),
      }),
      exec: () => Promise.resolve(),
    };
    assert.throws(
      () => new SqliteStore(asyncDb),
      (e: unknown) => e instanceof SessionConfigError && /synchronous/.test(e.message),
    );
  });

  it("a closed connection: SessionConfigError at construction", async () => {
    const raw = await openDb(":memory:");
    raw.close();
    assert.throws(() => new SqliteStore(raw), SessionConfigError);
  });
});

describe("SqliteStore and a table of another schema", () => {
  it("refuses it with a SessionConfigError and leaves it untouched", async () => {
    const raw = await openDb(":memory:");
    // A sessions table of another library: no key, flash or expiry. (The
    // original oak_sessions' own `id TEXT, data TEXT` is migrated instead:
    // sqlite_migrates_the_original_table.test.ts.)
    raw.exec("CREATE TABLE sessions (id TEXT, data TEXT, expires INTEGER)");
    raw.prepare("INSERT INTO sessions (id, data) VALUES (?, ?)").run("abc", "{}");
    assert.throws(
      () => new SqliteStore(raw),
      (e: unknown) =>
        e instanceof SessionConfigError && /not a SqliteStore table/.test(e.message) &&
        /another table name/.test(e.message),
    );
    const rows = raw.prepare("SELECT id, data FROM sessions").all().map((r) => ({
      ...(r as object),
    }));
    assert.deepEqual(rows, [{ id: "abc", data: "{}" }]);
    raw.close();
  });
});

describe("SqliteStore options", () => {
  const bad: [string, unknown][] = [
    ["walMode: 'yes'", { walMode: "yes" }],
    ["busyTimeoutMs: -1", { busyTimeoutMs: -1 }],
    ["busyTimeoutMs: 1.5", { busyTimeoutMs: 1.5 }],
    ["busyTimeoutMs: '5000'", { busyTimeoutMs: "5000" }],
    ["cleanupIntervalSeconds: -1", { cleanupIntervalSeconds: -1 }],
    ["cleanupIntervalSeconds: NaN", { cleanupIntervalSeconds: NaN }],
    ["a misspelt option", { cleanupInterval: 60 }],
    ["options that are not an object", "fast"],
  ];
  for (const [name, options] of bad) {
    it(`${name}: SessionConfigError`, async () => {
      const raw = await openDb(":memory:");
      assert.throws(
        () => new SqliteStore(raw, "sessions", options as Record<string, never>),
        SessionConfigError,
      );
      raw.close();
    });
  }

  it("options passed as the second argument: says where they go", async () => {
    const raw = await openDb(":memory:");
    assert.throws(
      () => new SqliteStore(raw, { walMode: false } as unknown as string),
      (e: unknown) => e instanceof SessionConfigError && /third argument/.test(e.message),
    );
    raw.close();
  });
});
