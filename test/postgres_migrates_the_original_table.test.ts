/**
 * A table of the original oak_sessions PostgresStore (its v9 layout:
 * `id varchar(21) primary key, data varchar`, one JSON document per
 * session) found under the store's table name is migrated in one
 * transaction: the old table is kept under a backup name with every row,
 * live sessions are carried over under the SHA-256 of their IDs with data and
 * flash converted, expired and deleted ones are not, and one line says what
 * happened; the original's cookie then opens its session through the
 * middleware. Two processes starting at once migrate it once. Set up with the
 * original's own calls: `new PostgresStore(sql, tableName)` and
 * `await store.initSessionsTable()`.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import postgres from "postgres";
import pg from "pg";
import { sessionKey } from "../src/session_id.ts";
import { PostgresStore } from "../src/stores/postgres.ts";
import { startSessionApp } from "./helpers/redis_http.ts";
import { dropTables, POSTGRES_URL, rawPool, uniqueTable } from "./kit/postgres.ts";

const NOW = Date.now();
const iso = (ms: number) => new Date(ms).toISOString();

/** Sessions as the original wrote them (nanoid(21) IDs). */
const ORIGINAL_ROWS: Array<[string, unknown]> = [
  ["liveWithExpiry_______", {
    _flash: { notice: "Saved!" },
    _accessed: iso(NOW - 1000),
    _expire: iso(NOW + 3_600_000),
    _delete: false,
    userId: 7,
    cart: [{ sku: "a", qty: 2 }],
    name: "Zoë",
  }],
  ["liveNoExpiry_________", {
    _flash: {},
    _accessed: iso(NOW - 1000),
    _expire: null,
    _delete: false,
    count: 3,
  }],
  ["expired______________", {
    _flash: {},
    _accessed: iso(NOW - 7_200_000),
    _expire: iso(NOW - 3_600_000),
    _delete: false,
    userId: 8,
  }],
  ["deleted______________", {
    _flash: {},
    _accessed: iso(NOW),
    _expire: null,
    _delete: true,
    userId: 9,
  }],
  ["garbage______________", "not json {"],
  // Not an ID a cookie could bring back (the original never issued one like it).
  ["not an id", { _flash: {}, _accessed: null, _expire: null, _delete: false, x: 1 }],
];

async function createOriginal(raw: pg.Pool, table: string): Promise<void> {
  // The original's initSessionsTable().
  await raw.query(
    `create table if not exists "${table}" (id varchar(21) not null primary key, data varchar)`,
  );
  for (const [id, doc] of ORIGINAL_ROWS) {
    await raw.query(`insert into "${table}" (id, data) values ($1, $2)`, [
      id,
      typeof doc === "string" ? doc : JSON.stringify(doc),
    ]);
  }
}

describe("PostgresStore migrates the original oak_sessions table", () => {
  let raw: pg.Pool;
  const tables: string[] = [];
  before(() => {
    raw = rawPool();
  });
  after(async () => {
    await dropTables(raw, ...tables);
    await raw.end();
  });

  it("keeps the old table as a backup, carries live sessions over hashed, says so in one line", async () => {
    const table = uniqueTable("orig");
    const backup = `${table}_original_backup`;
    tables.push(table, backup);
    await createOriginal(raw, table);
    const sql = postgres(POSTGRES_URL, { onnotice: () => {} });
    const lines: string[] = [];
    try {
      const store = new PostgresStore(sql, table, { log: (l) => lines.push(l) });
      await store.initSessionsTable();
      assert.equal(lines.length, 1, lines.join("\n"));
      assert.match(lines[0], new RegExp(`kept as "${backup}"`));
      assert.match(lines[0], /2 live session\(s\) were carried over/);
      assert.match(lines[0], /4 expired, deleted or unreadable/);
      for (const [id] of ORIGINAL_ROWS) assert.ok(!lines[0].includes(id), "no ID in the line");

      const kept = await raw.query(`SELECT id, data FROM "${backup}" ORDER BY id`);
      assert.equal(kept.rows.length, ORIGINAL_ROWS.length, "every original row is in the backup");

      const rows = await raw.query(`SELECT key FROM "${table}"`);
      const ids = ORIGINAL_ROWS.map(([id]) => id);
      for (const r of rows.rows) assert.ok(!ids.includes(r.key), "keys are hashes, not IDs");

      const first = await store.get(await sessionKey("liveWithExpiry_______"), NOW);
      assert.ok(first);
      assert.deepEqual({ ...first.data }, {
        userId: "7",
        cart: '[{"sku":"a","qty":2}]',
        name: '"Zoë"',
      });
      assert.deepEqual({ ...first.flash }, { notice: '"Saved!"' });
      assert.equal(first.expiresAt, NOW + 3_600_000);
      const second = await store.get(await sessionKey("liveNoExpiry_________"), NOW);
      assert.deepEqual({ ...second?.data }, { count: "3" });
      assert.ok(second!.expiresAt > NOW + 86_000_000, "a session without expiry gets a day");
      for (const dead of ["expired______________", "deleted______________"]) {
        assert.equal(await store.get(await sessionKey(dead), NOW), null, dead);
      }

      // The original's cookie still works, through the middleware.
      let movedId: string | undefined;
      const app = await startSessionApp(store);
      try {
        const browser = app.client();
        browser.cookies.set("session", "liveWithExpiry_______");
        const r = await browser.get("/get");
        assert.equal(r.status, 200);
        assert.deepEqual(r.json(), { userId: 7, cart: [{ sku: "a", qty: 2 }], name: "Zoë" });
        // On that first request the session moved to an ID of ours.
        movedId = browser.cookies.get("session");
        assert.equal(movedId?.length, 43, String(movedId));
      } finally {
        await app.close();
      }

      // It works as a normal table from now on, and a second start does not migrate again.
      const key = await sessionKey(movedId!);
      assert.ok(
        await store.update(key, {
          clear: false,
          set: { more: "1" },
          delete: ["cart"],
          flash: null,
          expiresAt: NOW + 7_200_000,
        }, NOW),
      );
      const again = new PostgresStore(sql, table, { log: (l) => lines.push(l) });
      await again.initSessionsTable();
      assert.equal(lines.length, 1);
      assert.deepEqual(Object.keys((await again.get(key, NOW))!.data), ["userId", "name", "more"]);
    } finally {
      await sql.end();
    }
  });

  it("two stores starting at once migrate it once; a taken backup name gets the next free one", async () => {
    const table = uniqueTable("origrace");
    const taken = `${table}_original_backup`;
    tables.push(table, taken, `${taken}_2`);
    await raw.query(`CREATE TABLE "${taken}" (x int)`);
    await createOriginal(raw, table);
    const a = postgres(POSTGRES_URL, { onnotice: () => {} });
    const b = postgres(POSTGRES_URL, { onnotice: () => {} });
    const lines: string[] = [];
    try {
      const log = (l: string) => lines.push(l);
      await Promise.all([
        new PostgresStore(a, table, { log }).initSessionsTable(),
        new PostgresStore(b, table, { log }).initSessionsTable(),
      ]);
      assert.equal(lines.length, 1, lines.join("\n"));
      assert.match(lines[0], new RegExp(`kept as "${taken}_2"`));
      const n = await raw.query(`SELECT count(*)::int AS n FROM "${table}"`);
      assert.equal(n.rows[0].n, 2);
      const b2 = await raw.query(`SELECT count(*)::int AS n FROM "${taken}_2"`);
      assert.equal(b2.rows[0].n, ORIGINAL_ROWS.length);
    } finally {
      await a.end();
      await b.end();
    }
  });

  it("a failure during the migration leaves the original table as it was", async () => {
    const table = uniqueTable("origfail");
    tables.push(table, `${table}_original_backup`);
    await createOriginal(raw, table);
    // An injected fault: another connection holds a lock on the old table, and
    // the store's only connection has a short lock_timeout, so the migration
    // fails at its ALTER TABLE, after it read the rows.
    const p = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
    p.on("error", () => {});
    try {
      const client = await p.connect();
      const holder = await raw.connect();
      await holder.query("BEGIN");
      await holder.query(`LOCK TABLE "${table}" IN ACCESS SHARE MODE`);
      try {
        await client.query("SET lock_timeout = '200ms'");
        client.release();
        const store = new PostgresStore(p, table, { log: () => {} });
        await assert.rejects(store.initSessionsTable(), /lock timeout/);
        await store.close();
      } finally {
        await holder.query("ROLLBACK");
        holder.release();
      }
      const cols = await raw.query(
        "SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY 1",
        [table],
      );
      assert.deepEqual(cols.rows.map((r) => r.column_name), ["data", "id"]);
      const n = await raw.query(`SELECT count(*)::int AS n FROM "${table}"`);
      assert.equal(n.rows[0].n, ORIGINAL_ROWS.length);
      const backup = await raw.query("SELECT to_regclass($1) AS t", [
        `"${table}_original_backup"`,
      ]);
      assert.equal(backup.rows[0].t, null, "no backup left behind");
    } finally {
      await p.end();
    }
  });
});
