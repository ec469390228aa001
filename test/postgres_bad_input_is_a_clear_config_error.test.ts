/**
 * PostgresStore refuses programmer mistakes with a `SessionConfigError` that
 * says what to do: a driver of the wrong kind (or a promise of one, a client
 * checked out of a pool, a pg Client never connected), a closed pool or
 * client, a table name that is not an identifier, a bad option, a table of
 * another shape (left untouched). A server it cannot reach is a
 * `SessionStoreError` whose message never shows the password.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import postgres from "postgres";
import pg from "pg";
import { SessionConfigError, SessionStoreError } from "../src/errors.ts";
import { PostgresStore } from "../src/stores/postgres.ts";
import { freePort } from "./kit/ports.ts";
import { dropTables, POSTGRES_URL, rawPool, uniqueTable } from "./kit/postgres.ts";
import { openStore, StoreSetupError } from "./kit/stores.ts";

// deno-lint-ignore no-explicit-any
const make = (db: unknown, ...rest: any[]) => () => new PostgresStore(db as never, ...rest);

function configError(pattern: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof SessionConfigError, `a SessionConfigError, got ${e}`);
    assert.match(e.message, pattern);
    return true;
  };
}

describe("PostgresStore: bad input is a clear SessionConfigError", () => {
  let raw: pg.Pool;
  const tables: string[] = [];
  before(() => {
    raw = rawPool();
  });
  after(async () => {
    await dropTables(raw, ...tables);
    await raw.end();
  });

  it("refuses objects that are no supported driver, naming the ones it takes", () => {
    // The shapes of a SQLite database (better-sqlite3, node:sqlite) and a Redis client.
    const sqlite = { prepare: () => {}, exec: () => {}, close: () => {} };
    const redis = { get: () => {}, set: () => {}, sendCommand: () => {} };
    const wrongs = [undefined, null, {}, "postgres://postgres@127.0.0.1/test", 42, () => {}];
    for (const wrong of [...wrongs, sqlite, redis]) {
      assert.throws(make(wrong), configError(/postgres\.js.*pg.*Pool/), String(wrong));
    }
  });

  it("says what to do with a promise, a deno-postgres client, or a client checked out of a pool", async () => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
    try {
      const pending = pool.connect();
      assert.throws(make(pending), configError(/promise.*await it/));
      const checkedOut = await pending;
      assert.throws(make(checkedOut), configError(/pass the Pool itself/));
      checkedOut.release();
      const denoPostgres = { query: () => {}, queryArray: () => {}, queryObject: () => {} };
      assert.throws(make(denoPostgres), configError(/deno-postgres.*not supported/));
    } finally {
      await pool.end();
    }
  });

  it("refuses an ended pg Pool or Client at construction", async () => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL });
    await pool.end();
    assert.throws(make(pool), configError(/pg Pool was ended.*pass an open pool/));
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    await client.end();
    assert.throws(make(client), configError(/pg Client was ended/));
  });

  it("an ended postgres.js sql or a never-connected pg Client: the first call says so", async () => {
    const sql = postgres(POSTGRES_URL, { onnotice: () => {} });
    await sql.end();
    const store = new PostgresStore(sql, uniqueTable("ended"));
    await assert.rejects(store.initSessionsTable(), configError(/postgres\.js was ended/));
    await assert.rejects(store.get("k", Date.now()), configError(/postgres\.js was ended/));
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    const early = new PostgresStore(client, uniqueTable("unconnected"));
    await assert.rejects(early.initSessionsTable(), configError(/await client\.connect\(\)/));
    await early.close();
  });

  it("refuses table names that are not identifiers, before any SQL runs", () => {
    const sql = postgres(POSTGRES_URL);
    try {
      for (
        const bad of ["", "1abc", "a b", 'x"; DROP TABLE y; --', "a-b", "a.b", "é", "x".repeat(64)]
      ) {
        assert.throws(make(sql, bad), configError(/not an identifier/), bad);
      }
      assert.throws(make(sql, 42), configError(/must be a string.*third argument/));
      assert.throws(make(sql, { timeoutMs: 1 }), configError(/must be a string/));
    } finally {
      void sql.end();
    }
  });

  it("refuses wrong or misspelt options", () => {
    const sql = postgres(POSTGRES_URL);
    try {
      assert.throws(make(sql, "s", { timeout: 5 }), configError(/unknown option "timeout"/));
      assert.throws(make(sql, "s", { timeoutMs: 0 }), configError(/timeoutMs/));
      assert.throws(make(sql, "s", { cleanupIntervalSeconds: -1 }), configError(/cleanup/));
      assert.throws(make(sql, "s", { log: "yes" }), configError(/log must be a function/));
      assert.throws(make(sql, "s", "opts"), configError(/options must be an object/));
    } finally {
      void sql.end();
    }
  });

  it("a table of another shape is refused by name and left as it was", async () => {
    const table = uniqueTable("othershape");
    tables.push(table);
    await raw.query(`CREATE TABLE "${table}" (sid text PRIMARY KEY, sess json, expire timestamp)`);
    await raw.query(`INSERT INTO "${table}" VALUES ('abc', '{}', now())`);
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
    try {
      const store = new PostgresStore(pool, table);
      await assert.rejects(
        store.initSessionsTable(),
        configError(
          new RegExp(`table "${table}" exists but is not a PostgresStore table.*sid text.*_v2`),
        ),
      );
      // Requests through it fail the same way, not with a half-made table.
      await assert.rejects(store.get("k", Date.now()), configError(/not a PostgresStore table/));
      await store.close();
    } finally {
      await pool.end();
    }
    const cols = await raw.query(
      "SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY 1",
      [table],
    );
    assert.deepEqual(cols.rows.map((r) => r.column_name), ["expire", "sess", "sid"]);
    assert.equal((await raw.query(`SELECT count(*)::int AS n FROM "${table}"`)).rows[0].n, 1);
  });

  it("an unreachable server is a SessionStoreError that never shows the password", async () => {
    const port = await freePort(); // nothing listens there
    const url = `postgres://postgres:s3cret-pw@127.0.0.1:${port}/test`;
    const sql = postgres(url, { connect_timeout: 2, onnotice: () => {} });
    const pool = new pg.Pool({ connectionString: url, connectionTimeoutMillis: 2000 });
    pool.on("error", () => {});
    try {
      for (const db of [sql, pool]) {
        const store = new PostgresStore(db, uniqueTable("unreachable"), { timeoutMs: 3000 });
        for (const call of [() => store.initSessionsTable(), () => store.get("k", Date.now())]) {
          await assert.rejects(call(), (e: unknown) => {
            assert.ok(e instanceof SessionStoreError, String(e));
            assert.equal(e.status, 503);
            assert.ok(!e.message.includes("s3cret-pw"), e.message);
            return true;
          });
        }
        await store.close();
      }
    } finally {
      await sql.end({ timeout: 0 });
      await pool.end();
    }
  });

  it("the demo's STORE=postgres stops with what to do, without the password", async () => {
    const port = await freePort();
    await assert.rejects(
      openStore("postgres", {
        DATABASE_URL: `postgres://postgres:s3cret-pw@127.0.0.1:${port}/test`,
      }),
      (e: unknown) => {
        assert.ok(e instanceof StoreSetupError, String(e));
        assert.match(e.message, /STORE=postgres: cannot use PostgreSQL at .*set DATABASE_URL/);
        assert.ok(!e.message.includes("s3cret-pw"), e.message);
        return true;
      },
    );
    await assert.rejects(
      openStore("postgres", { POSTGRES_TABLE: "no such; table" }),
      (e: unknown) => e instanceof StoreSetupError && /not an identifier/.test(e.message),
    );
  });
});
