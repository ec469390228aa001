/**
 * A table written by an earlier version of this library is upgraded in place
 * when PostgresStore sets it up, with each driver: the first layout (no
 * `user_id`, `last_seen_at`, `meta` or `moved_at` columns) and the layout
 * before rotation markers (no `moved_at`). The missing columns and the
 * `user_id` index are added, every session is kept (its user, settings and
 * last write too), a second set-up adds nothing, and stores starting at once
 * all come up. On the upgraded table the new operations work: a rotation
 * leaves its marker, users are bound and unbound, `lastSeenAt` and `meta` are kept,
 * increments follow `incremented` in store.ts exactly (a missing key counts
 * as 0, a non-number stays, the sum is a double), `listByUser` and
 * `deleteByUser` go through the `user_id` index, and 50 concurrent increments
 * from a pg Pool and from postgres.js all land. A table of the original
 * oak_sessions is migrated straight to the new shape.
 *
 * The clock is the `now` argument every store call takes, set by the test.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type pg from "pg";
import { sessionKey } from "../src/session_id.ts";
import {
  incremented,
  MOVED_MARKER_MS,
  type SessionChange,
  type SessionRecord,
} from "../src/store.ts";
import { postgresStatements, type PostgresStore } from "../src/stores/postgres.ts";
import { dropTables, postgresTargets, rawPool, uniqueTable } from "./kit/postgres.ts";
import { changeSet } from "./helpers/changes.ts";

const T0 = Date.UTC(2030, 0, 1);
const HOUR = 3_600_000;

function fields(o: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const k of Object.keys(o)) out[k] = JSON.stringify(o[k]);
  return out;
}

function values(f: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(f)) out[k] = JSON.parse(f[k]);
  return out;
}

function rec(data: Record<string, unknown>, flash: Record<string, unknown> = {}): SessionRecord {
  return { data: fields(data), flash: fields(flash), createdAt: T0 - HOUR, expiresAt: T0 + HOUR };
}

const change = (partial: Partial<SessionChange>): SessionChange =>
  changeSet(T0 + 2 * HOUR, partial);

/** The previous version's `createTable` and `createIndex`, as `git show HEAD~` has them. */
async function createPreviousTable(raw: pg.Pool, table: string): Promise<void> {
  const t = `"${table}"`;
  await raw.query(
    `CREATE TABLE IF NOT EXISTS ${t} (key text PRIMARY KEY, data json NOT NULL, ` +
      "flash json NOT NULL, created_at bigint NOT NULL, expires_at bigint NOT NULL)",
  );
  await raw.query(
    `CREATE INDEX IF NOT EXISTS "${table.slice(0, 52)}_expires_at" ON ${t} (expires_at)`,
  );
}

/**
 * The `createTable`, `createIndex` and `createUserIndex` of the version
 * before rotation markers (every column but `moved_at`).
 */
async function createPreMarkerTable(raw: pg.Pool, table: string): Promise<void> {
  const t = `"${table}"`;
  await raw.query(
    `CREATE TABLE IF NOT EXISTS ${t} (key text PRIMARY KEY, data json NOT NULL, ` +
      "flash json NOT NULL, created_at bigint NOT NULL, expires_at bigint NOT NULL, " +
      "user_id text, last_seen_at bigint, meta text)",
  );
  await raw.query(
    `CREATE INDEX IF NOT EXISTS "${table.slice(0, 52)}_expires_at" ON ${t} (expires_at)`,
  );
  await raw.query(`CREATE INDEX IF NOT EXISTS "${table.slice(0, 55)}_user_id" ON ${t} (user_id)`);
}

/** A session as the `create` statement of the version before markers wrote it. */
async function insertPreMarker(
  raw: pg.Pool,
  table: string,
  key: string,
  r: SessionRecord,
): Promise<void> {
  await raw.query(
    `INSERT INTO "${table}" (key, data, flash, created_at, expires_at, user_id, last_seen_at, ` +
      "meta) VALUES ($1, $2::text::json, $3::text::json, $4::text::bigint, $5::text::bigint, " +
      "$6::text, $7::text::bigint, $8::text)",
    [
      key,
      JSON.stringify(r.data),
      JSON.stringify(r.flash),
      String(r.createdAt),
      String(r.expiresAt),
      r.userId ?? null,
      r.lastSeenAt === undefined ? null : String(r.lastSeenAt),
      r.meta ?? null,
    ],
  );
}

/** A session as the previous version's `create` statement wrote it. */
async function insertPrevious(
  raw: pg.Pool,
  table: string,
  key: string,
  r: SessionRecord,
): Promise<void> {
  await raw.query(
    `INSERT INTO "${table}" (key, data, flash, created_at, expires_at) ` +
      "VALUES ($1, $2::text::json, $3::text::json, $4::text::bigint, $5::text::bigint)",
    [
      key,
      JSON.stringify(r.data),
      JSON.stringify(r.flash),
      String(r.createdAt),
      String(r.expiresAt),
    ],
  );
}

async function columns(raw: pg.Pool, table: string): Promise<string[]> {
  const r = await raw.query(
    "SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod) AS c FROM pg_attribute a " +
      "WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
    [`"${table}"`],
  );
  return r.rows.map((row) => row.c);
}

async function indexes(raw: pg.Pool, table: string): Promise<string[]> {
  const r = await raw.query(
    "SELECT indexname FROM pg_indexes WHERE tablename = $1 ORDER BY indexname",
    [table],
  );
  return r.rows.map((row) => row.indexname);
}

const NEW_COLUMNS = [
  "key text",
  "data json",
  "flash json",
  "created_at bigint",
  "expires_at bigint",
  "user_id text",
  "last_seen_at bigint",
  "meta text",
  "moved_at bigint",
];

const PREVIOUS_SESSIONS: Array<[string, SessionRecord]> = [
  ["alive1", rec({ name: "Zoë", n: 1 })],
  ["alive2", rec({}, { notice: "Saved!" })],
  ["alive3", rec({ cart: [1, 2] })],
  ["gone", { ...rec({ x: 1 }), expiresAt: T0 - HOUR }],
];

describe("PostgresStore upgrades a table of the previous version", () => {
  let raw: pg.Pool;
  const tables: string[] = [];
  const closers: Array<() => Promise<void>> = [];
  before(() => {
    raw = rawPool();
  });
  after(async () => {
    for (const close of closers) await close();
    await dropTables(raw, ...tables);
    await raw.end();
  });
  async function open(target: (typeof postgresTargets)[number], table: string) {
    const opened = await target.open(table, { cleanupIntervalSeconds: 0, log: () => {} });
    closers.push(async () => {
      await opened.store.close();
      await opened.close();
    });
    return opened.store;
  }
  async function previousTable(label: string): Promise<string> {
    const table = uniqueTable(label);
    tables.push(table);
    await createPreviousTable(raw, table);
    for (const [key, r] of PREVIOUS_SESSIONS) await insertPrevious(raw, table, key, r);
    return table;
  }

  for (const target of postgresTargets) {
    it(`adds the columns and the user_id index, keeps every session (${target.name})`, async () => {
      const table = await previousTable(`up_${target.name.replace(/\W/g, "")}`);
      const store = await open(target, table);
      await store.initSessionsTable();
      assert.deepEqual(await columns(raw, table), NEW_COLUMNS);
      assert.deepEqual(await indexes(raw, table), [
        `${table}_expires_at`,
        `${table}_pkey`,
        `${table}_user_id`,
      ]);
      const count = await raw.query(`SELECT count(*)::int AS n FROM "${table}"`);
      assert.equal(
        count.rows[0].n,
        PREVIOUS_SESSIONS.length,
        "every row kept, the expired one too",
      );
      for (const [key, r] of PREVIOUS_SESSIONS.slice(0, 3)) {
        assert.deepEqual(await store.get(key, T0), r, `${key} reads as it was written`);
      }
      assert.equal(await store.get("gone", T0), null);

      // A second store (a restart, another process) changes nothing.
      const again = await open(target, table);
      await again.initSessionsTable();
      assert.deepEqual(await columns(raw, table), NEW_COLUMNS);

      // The new operations on the old rows.
      assert.ok(
        await store.update(
          "alive1",
          change({ userId: "u1", meta: '{"idle":60}', lastSeenAt: T0, increment: { n: 2 } }),
          T0,
        ),
      );
      const bound = await store.get("alive1", T0);
      assert.equal(bound!.userId, "u1");
      assert.equal(bound!.meta, '{"idle":60}');
      assert.equal(bound!.lastSeenAt, T0);
      assert.deepEqual(values(bound!.data), { name: "Zoë", n: 3 });
      assert.ok(await store.update("alive2", change({ userId: "u1", lastSeenAt: T0 + 1 }), T0));
      assert.ok(await store.update("alive3", change({ userId: "u2" }), T0));
      const listed = await store.listByUser("u1", T0);
      assert.deepEqual(listed.map((s) => s.key).sort(), ["alive1", "alive2"]);
      assert.deepEqual(listed.find((s) => s.key === "alive1")!.record, bound);
      assert.deepEqual(await store.listByUser("nobody", T0), []);

      // A rotation keeps the user, the settings and the last write.
      assert.ok(await store.rotate("alive1", "alive1b", change({ lastSeenAt: T0 + 5 }), T0));
      const rotated = await store.get("alive1b", T0);
      assert.equal(rotated!.userId, "u1");
      assert.equal(rotated!.meta, '{"idle":60}');
      assert.equal(rotated!.lastSeenAt, T0 + 5);
      assert.equal((await store.get("alive1", T0))!.movedAt, T0, "the old key holds a marker");
      assert.equal(await store.update("alive1", change({ userId: "u1" }), T0), "moved");

      // A refresh moves the last write; unbinding takes the session out of the list.
      assert.ok(await store.update("alive2", change({ lastSeenAt: T0 + 9 }), T0));
      assert.equal((await store.get("alive2", T0))!.lastSeenAt, T0 + 9);
      assert.equal((await store.get("alive2", T0))!.userId, "u1", "a refresh keeps the user");
      assert.ok(await store.update("alive2", change({ userId: null }), T0));
      assert.equal((await store.get("alive2", T0))!.userId, undefined);
      assert.deepEqual((await store.listByUser("u1", T0)).map((s) => s.key), ["alive1b"]);

      // deleteByUser removes all but the kept keys and counts them.
      for (const k of ["d1", "d2", "d3"]) {
        await store.create(k, { ...rec({}), userId: "u1", lastSeenAt: T0, meta: "{}" }, T0);
      }
      const created = await store.get("d1", T0);
      assert.deepEqual(created, { ...rec({}), userId: "u1", lastSeenAt: T0, meta: "{}" });
      assert.equal(await store.deleteByUser("u1", ["d2", "alive1b"], T0), 2);
      assert.deepEqual((await store.listByUser("u1", T0)).map((s) => s.key).sort(), [
        "alive1b",
        "d2",
      ]);
      assert.equal(await store.deleteByUser("u1", [], T0), 2);
      assert.deepEqual(await store.listByUser("u1", T0), []);
      assert.equal((await store.get("alive3", T0))!.userId, "u2", "another user's session stays");
    });
  }

  it("three stores (postgres.js, pg Pool, pg Client) setting it up at once all come up", async () => {
    const table = await previousTable("up_race");
    const stores = await Promise.all(postgresTargets.map((t) => open(t, table)));
    await Promise.all(stores.map((s) => s.initSessionsTable()));
    assert.deepEqual(await columns(raw, table), NEW_COLUMNS);
    for (const store of stores) {
      assert.deepEqual(await store.get("alive3", T0), PREVIOUS_SESSIONS[2][1]);
    }
  });

  it("listByUser and deleteByUser use the user_id index", async () => {
    const table = await previousTable("up_plan");
    const store = await open(postgresTargets[1], table);
    await store.initSessionsTable();
    // 5000 live sessions of 50 users.
    await raw.query(
      `INSERT INTO "${table}" (key, data, flash, created_at, expires_at, user_id) ` +
        "SELECT 'k' || i, '{}', '{}', $1::bigint, $2::bigint, 'u' || (i % 50) " +
        "FROM generate_series(1, 5000) AS i",
      [T0, T0 + HOUR],
    );
    await raw.query(`ANALYZE "${table}"`);
    const sql = postgresStatements(table);
    const explain = async (text: string, params: unknown[]) => {
      const r = await raw.query(`EXPLAIN ${text}`, params);
      return r.rows.map((row) => row["QUERY PLAN"]).join("\n");
    };
    const userIndex = new RegExp(`Index.* on "?${table}_user_id"?`);
    assert.match(await explain(sql.listByUser, ["u7", String(T0)]), userIndex);
    assert.match(await explain(sql.deleteByUser, ["u7", '["k7"]']), userIndex);
    assert.equal((await store.listByUser("u7", T0)).length, 100);
    assert.equal(await store.deleteByUser("u7", ["k7", "k57"], T0), 98);
  });

  it("increments as store.ts's incremented does, together with set and delete", async () => {
    const table = await previousTable("up_inc");
    const store = await open(postgresTargets[0], table);
    const data = {
      int: 41,
      big: 2 ** 53 - 1,
      frac: 0.1,
      neg: -3,
      tiny: 5e-324,
      huge: 1.7976931348623157e308,
      large: 1e20,
      small: 0.00001,
      smaller: 1e-7,
      exp: 1e21,
      text: "7",
      list: [1],
      nil: null,
      gone: 5,
      reset: 9,
    };
    await store.create("s", rec(data), T0);
    const increment = {
      int: 1,
      big: 1,
      frac: 0.2,
      neg: -0.5,
      tiny: 0,
      huge: 1.7976931348623157e308,
      large: 12345,
      small: 0.0000015,
      smaller: 1e-8,
      exp: 1,
      text: 1,
      list: 1,
      nil: 1,
      gone: 2,
      reset: 1,
      fresh: -1.5e-7,
    };
    assert.ok(
      await store.update(
        "s",
        change({ set: fields({ reset: 100 }), delete: ["gone"], increment }),
        T0,
      ),
    );
    const got = (await store.get("s", T0))!.data;
    // What the reference semantics give, key by key (after the set and the delete).
    const start = { ...fields(data), reset: "100" } as Record<string, string | undefined>;
    delete start.gone;
    for (const [k, by] of Object.entries(increment)) {
      const want = incremented(start[k], by) ?? start[k];
      assert.equal(got[k], want, k);
    }
    assert.equal(got.big, "9007199254740992");
    assert.equal(JSON.parse(got.frac), 0.1 + 0.2);
    assert.equal(got.huge, JSON.stringify(1.7976931348623157e308), "a sum that overflows is left");
    assert.equal(got.text, '"7"');
    assert.deepEqual(Object.keys(got), [
      ...Object.keys(data).filter((k) => k !== "gone"),
      "gone",
      "fresh",
    ]);
    // A session that is not there is not created by an increment.
    assert.equal(await store.update("nope", change({ increment: { a: 1 } }), T0), false);
    assert.equal(await store.get("nope", T0), null);
  });

  for (const target of [postgresTargets[0], postgresTargets[1]]) {
    it(`50 concurrent increments through one ${target.name} land exactly`, async () => {
      const table = await previousTable(`up_c50_${target.name.replace(/\W/g, "")}`);
      const store = await open(target, table);
      await store.initSessionsTable();
      await store.create("counter", rec({ other: "x" }), T0);
      const results = await Promise.all([
        ...Array.from(
          { length: 50 },
          () => store.update("counter", change({ increment: { count: 1 } }), T0),
        ),
        // Sets of other keys in between, which must not lose any increment either.
        ...Array.from(
          { length: 10 },
          (_, i) => store.update("counter", change({ set: fields({ [`k${i}`]: i }) }), T0),
        ),
      ]);
      assert.ok(results.every(Boolean));
      const got = values((await store.get("counter", T0))!.data);
      assert.equal(got.count, 50);
      for (let i = 0; i < 10; i++) assert.equal(got[`k${i}`], i);
    });
  }

  it("a pg Pool and postgres.js each adding 50 at once to one session: +100", async () => {
    const table = await previousTable("up_c100");
    const [a, b] = [await open(postgresTargets[0], table), await open(postgresTargets[1], table)];
    await Promise.all([a.initSessionsTable(), b.initSessionsTable()]);
    await insertPrevious(raw, table, "counter", rec({ count: 7 }));
    const add = (s: PostgresStore) =>
      Array.from(
        { length: 50 },
        () => s.update("counter", change({ increment: { count: 1 } }), T0),
      );
    assert.ok((await Promise.all([...add(a), ...add(b)])).every(Boolean));
    assert.deepEqual(values((await a.get("counter", T0))!.data), { count: 107 });
  });

  it("migrates a table of the original oak_sessions straight to the new shape", async () => {
    const table = uniqueTable("up_original");
    tables.push(table, `${table.slice(0, 40)}_original_backup`);
    await raw.query(
      `create table if not exists "${table}" (id varchar(21) not null primary key, data varchar)`,
    );
    const id = "liveWithExpiry_______";
    const doc = {
      _flash: {},
      _accessed: new Date(T0).toISOString(),
      _expire: new Date(T0 + HOUR).toISOString(),
      _delete: false,
      count: 3,
    };
    await raw.query(`insert into "${table}" (id, data) values ($1, $2)`, [id, JSON.stringify(doc)]);
    const store = await open(postgresTargets[1], table);
    await store.initSessionsTable();
    assert.deepEqual(await columns(raw, table), NEW_COLUMNS);
    assert.ok((await indexes(raw, table)).includes(`${table}_user_id`));
    const key = await sessionKey(id);
    assert.ok(await store.update(key, change({ userId: "u9", increment: { count: 1 } }), T0));
    const got = await store.get(key, T0);
    assert.equal(got!.userId, "u9");
    assert.deepEqual(values(got!.data), { count: 4 });
    assert.deepEqual((await store.listByUser("u9", T0)).map((s) => s.key), [key]);
  });
});

/** Sessions as the version before markers kept them: users, settings, last writes. */
const PRE_MARKER_SESSIONS: Array<[string, SessionRecord]> = [
  ["bound", { ...rec({ cart: [1] }), userId: "u1", lastSeenAt: T0 - 60_000, meta: '{"idle":60}' }],
  ["bound2", { ...rec({ n: 1 }, { notice: "Hi" }), userId: "u1", lastSeenAt: T0 - 1000 }],
  ["anon", rec({ theme: "dark" })],
  ["gone", { ...rec({}), expiresAt: T0 - HOUR, userId: "u1" }],
];

describe("PostgresStore upgrades a table of the version before rotation markers", () => {
  let raw: pg.Pool;
  const tables: string[] = [];
  const closers: Array<() => Promise<void>> = [];
  before(() => {
    raw = rawPool();
  });
  after(async () => {
    for (const close of closers) await close();
    await dropTables(raw, ...tables);
    await raw.end();
  });
  async function open(target: (typeof postgresTargets)[number], table: string) {
    const opened = await target.open(table, { cleanupIntervalSeconds: 0, log: () => {} });
    closers.push(async () => {
      await opened.store.close();
      await opened.close();
    });
    return opened.store;
  }
  async function preMarkerTable(label: string): Promise<string> {
    const table = uniqueTable(label);
    tables.push(table);
    await createPreMarkerTable(raw, table);
    for (const [key, r] of PRE_MARKER_SESSIONS) await insertPreMarker(raw, table, key, r);
    return table;
  }
  const rows = async (table: string) =>
    (await raw.query(
      "SELECT key, data::text, flash::text, created_at, expires_at, user_id, last_seen_at, meta " +
        `FROM "${table}" ORDER BY key`,
    )).rows;

  for (const target of postgresTargets) {
    it(`adds moved_at in place, keeps every session and its user (${target.name})`, async () => {
      const table = await preMarkerTable(`upm_${target.name.replace(/\W/g, "")}`);
      const before = await rows(table);
      const store = await open(target, table);
      await store.initSessionsTable();
      assert.deepEqual(await columns(raw, table), NEW_COLUMNS);
      assert.deepEqual(await indexes(raw, table), [
        `${table}_expires_at`,
        `${table}_pkey`,
        `${table}_user_id`,
      ]);
      // In place: every row as it was, the expired one too, none of them a marker.
      assert.deepEqual(await rows(table), before);
      const markers = await raw.query(
        `SELECT count(*)::int AS n FROM "${table}" WHERE moved_at IS NOT NULL`,
      );
      assert.equal(markers.rows[0].n, 0);
      for (const [key, r] of PRE_MARKER_SESSIONS.slice(0, 3)) {
        assert.deepEqual(await store.get(key, T0), r, `${key} reads as it was written`);
      }
      assert.equal(await store.get("gone", T0), null);
      assert.deepEqual((await store.listByUser("u1", T0)).map((s) => s.key).sort(), [
        "bound",
        "bound2",
      ]);

      // A second store (a restart, another process) changes nothing.
      const again = await open(target, table);
      await again.initSessionsTable();
      assert.deepEqual(await columns(raw, table), NEW_COLUMNS);

      // Markers on the upgraded table: the rotated session leaves one, which
      // takes no write and is not the user's.
      assert.equal(await store.rotate("bound", "bound-new", change({ lastSeenAt: T0 }), T0), true);
      const marker = await store.get("bound", T0 + 1);
      assert.equal(marker!.movedAt, T0);
      assert.equal(marker!.expiresAt, T0 + MOVED_MARKER_MS);
      assert.equal(marker!.userId, undefined);
      assert.deepEqual(values(marker!.data), {});
      assert.equal(await store.update("bound", change({ set: fields({ x: 1 }) }), T0 + 1), "moved");
      assert.equal(await store.update("bound", change({}), T0 + 1), "moved", "a refresh too");
      assert.equal(await store.rotate("bound", "other", change({}), T0 + 1), "moved");
      assert.equal(await store.get("other", T0 + 1), null);
      const moved = await again.get("bound-new", T0 + 1);
      assert.deepEqual(values(moved!.data), { cart: [1] });
      assert.equal(moved!.userId, "u1");
      assert.equal(moved!.meta, '{"idle":60}');
      assert.deepEqual((await store.listByUser("u1", T0 + 1)).map((s) => s.key).sort(), [
        "bound-new",
        "bound2",
      ]);
      assert.equal(await store.deleteByUser("u1", [], T0 + 1), 3, "the expired one goes too");
      assert.equal((await store.get("bound", T0 + 1))?.movedAt, T0, "the marker stays");
      assert.deepEqual(values((await store.get("anon", T0 + 1))!.data), { theme: "dark" });
    });
  }

  it("three stores (postgres.js, pg Pool, pg Client) setting it up at once all come up", async () => {
    const table = await preMarkerTable("upm_race");
    const stores = await Promise.all(postgresTargets.map((t) => open(t, table)));
    await Promise.all(stores.map((s) => s.initSessionsTable()));
    assert.deepEqual(await columns(raw, table), NEW_COLUMNS);
    for (const store of stores) {
      assert.deepEqual(await store.get("bound2", T0), PRE_MARKER_SESSIONS[1][1]);
    }
  });
});
