/**
 * MySqlStore on the machine's MariaDB, called directly and over HTTP, with
 * each mysql2 shape:
 * - a change set applies clear, set, delete, increments in that order, only
 *   on a live session, and keys keep the order they were set in;
 * - no session ID is at rest: after real logins over HTTP, no column of any
 *   row holds a cookie's ID (the key is its SHA-256);
 * - delete wins: an update or a rotation of a deleted session writes
 *   nothing, also when the delete commits while the write waits for the row;
 * - increments are exact under concurrency: concurrent whole-number
 *   increments (added in the UPDATE) and fractional ones (added in
 *   JavaScript under the row lock) all count, as JavaScript would add them.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type mysqlPromise from "mysql2/promise";
import type { SessionChange } from "../src/store.ts";
import type { MySqlStore } from "../src/stores/mysql.ts";
import { startSessionApp } from "./helpers/redis_http.ts";
import { changeSet } from "./helpers/changes.ts";
import {
  dropTables,
  mysqlTargets,
  type OpenedMySql,
  rawPool,
  requireMariaDb,
  uniqueTable,
} from "./kit/mysql.ts";

const T0 = Date.UTC(2030, 0, 1);
const HOUR = 3_600_000;

function fields(o: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const k of Object.keys(o)) out[k] = JSON.stringify(o[k]);
  return out;
}

function values(f: Record<string, string> | undefined): Record<string, unknown> | undefined {
  if (!f) return undefined;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(f)) if (k !== "__proto__") out[k] = JSON.parse(f[k]);
  return out;
}

const change = (partial: Partial<SessionChange>): SessionChange =>
  changeSet(T0 + 2 * HOUR, partial);

for (const target of mysqlTargets) {
  describe(`MySqlStore: atomic change sets, delete wins, exact increments (${target.name})`, () => {
    const table = uniqueTable(`atomic_${target.name.replace(/\W/g, "")}`);
    let opened: OpenedMySql;
    let store: MySqlStore;
    let raw: mysqlPromise.Pool;
    let n = 0;
    const key = () => `key-${++n}`;
    const seed = (k: string, data: Record<string, unknown>, expiresAt = T0 + HOUR) =>
      store.create(k, { data: fields(data), flash: fields({}), createdAt: T0, expiresAt }, T0);

    before(async () => {
      await requireMariaDb();
      raw = rawPool();
      opened = await target.open(table, { cleanupIntervalSeconds: 0 });
      store = opened.store;
      await store.initSessionsTable();
    });
    after(async () => {
      await store.close();
      await opened.close();
      await dropTables(raw, table);
      await raw.end();
    });

    it("applies clear, set, delete and increments in that order; keys keep their order", async () => {
      const k = key();
      await seed(k, { b: 1, a: 2, n: 5, gone: true });
      const answer = await store.update(
        k,
        change({
          set: fields({ a: 20, c: 3, 'odd "key"': "v", ["__proto__"]: "p" }),
          delete: ["gone"],
          increment: Object.assign(Object.create(null), { n: 2, fresh: 4, c: 1 }),
          flash: fields({ note: "hi" }),
        }),
        T0,
      );
      assert.equal(answer, true);
      const r = await store.get(k, T0);
      assert.deepEqual(Object.keys(r!.data), [
        "b",
        "a",
        "n",
        "c",
        'odd "key"',
        "__proto__",
        "fresh",
      ]);
      assert.deepEqual(values(r!.data), {
        b: 1,
        a: 20,
        n: 7,
        c: 4,
        'odd "key"': "v",
        fresh: 4,
      });
      assert.equal(r!.data["__proto__"], '"p"');
      assert.deepEqual(values(r!.flash), { note: "hi" });
      assert.equal(r!.expiresAt, T0 + 2 * HOUR);
      const cleared = await store.update(
        k,
        change({ clear: true, set: fields({ z: 1 }), increment: { n: 1 } }),
        T0,
      );
      assert.equal(cleared, true);
      assert.deepEqual(values((await store.get(k, T0))!.data), { z: 1, n: 1 });
    });

    it("an increment leaves a non-number as it is and adds to numbers as JavaScript does", async () => {
      const k = key();
      await seed(k, { s: "5", f: 0.1, big: 2 ** 53 - 1, neg: -3 });
      const answer = await store.update(
        k,
        change({ increment: { s: 1, f: 0.2, big: 2, neg: 3, zero: 0.5 } }),
        T0,
      );
      assert.equal(answer, true);
      const r = await store.get(k, T0);
      assert.equal(r!.data.s, '"5"');
      assert.equal(r!.data.f, JSON.stringify(0.1 + 0.2));
      assert.equal(r!.data.big, JSON.stringify(2 ** 53 - 1 + 2));
      assert.equal(r!.data.neg, "0");
      assert.equal(r!.data.zero, "0.5");
    });

    it("delete wins: an update, a refresh or a rotation of a deleted session writes nothing", async () => {
      const k = key();
      await seed(k, { a: 1 });
      await store.delete(k);
      assert.equal(await store.update(k, change({ set: fields({ a: 2 }) }), T0), false);
      assert.equal(await store.update(k, change({ increment: { a: 1 } }), T0), false);
      assert.equal(await store.update(k, change({}), T0), false);
      assert.equal(await store.rotate(k, `${k}-new`, change({}), T0), false);
      assert.equal(await store.get(k, T0), null);
      assert.equal(await store.get(`${k}-new`, T0), null);
      const [rows] = await raw.query(
        `SELECT COUNT(*) AS n FROM \`${table}\` WHERE session_key IN (?, ?)`,
        [
          k,
          `${k}-new`,
        ],
      );
      assert.equal((rows as Array<{ n: number }>)[0].n, 0);
    });

    it("delete wins: a delete committing while a fractional increment waits for the row", async () => {
      const k = key();
      await seed(k, { f: 0.5 });
      const tx = await raw.getConnection();
      try {
        await tx.beginTransaction();
        await tx.query(`SELECT 1 FROM \`${table}\` WHERE session_key = ? FOR UPDATE`, [k]);
        const pending = store.update(k, change({ increment: { f: 0.25 } }), T0);
        await new Promise((resolve) => setTimeout(resolve, 200));
        await tx.query(`DELETE FROM \`${table}\` WHERE session_key = ?`, [k]);
        await tx.commit();
        assert.equal(await pending, false);
      } finally {
        tx.release();
      }
      assert.equal(await store.get(k, T0), null);
    });

    it("an expired session takes no write", async () => {
      const k = key();
      await seed(k, { a: 1 }, T0 + 10);
      assert.equal(await store.update(k, change({ set: fields({ a: 2 }) }), T0 + 10), false);
      assert.equal(await store.update(k, change({ increment: { a: 0.5 } }), T0 + 10), false);
      assert.equal(await store.rotate(k, `${k}-r`, change({}), T0 + 10), false);
    });

    it("50 concurrent whole-number increments and 20 fractional ones all count", async () => {
      const k = key();
      await seed(k, { count: 0, half: 0.5 });
      const whole = Array.from(
        { length: 50 },
        () => store.update(k, change({ increment: { count: 1 } }), T0),
      );
      const halves = Array.from(
        { length: 20 },
        () => store.update(k, change({ increment: { half: 0.5 } }), T0),
      );
      const answers = await Promise.all([...whole, ...halves]);
      assert.ok(answers.every((a) => a === true));
      const r = await store.get(k, T0);
      assert.equal(r!.data.count, "50");
      assert.equal(r!.data.half, "10.5");
    });
  });
}

describe("MySqlStore keeps no session ID at rest (black box, over HTTP)", () => {
  const table = uniqueTable("no_raw_id");
  let opened: OpenedMySql;
  let raw: mysqlPromise.Pool;

  before(async () => {
    await requireMariaDb();
    raw = rawPool();
    opened = await mysqlTargets[0].open(table);
  });
  after(async () => {
    await opened.store.close();
    await opened.close();
    await dropTables(raw, table);
    await raw.end();
  });

  it("no column of any row holds the cookie's session ID", async () => {
    const app = await startSessionApp(opened.store);
    try {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const client = app.client();
        const res = await client.post("/set", { user: `u${i}`, note: "hello" });
        assert.equal(res.status, 200);
        assert.equal(client.cookies.size, 1, "one session cookie was set");
        ids.push(decodeURIComponent([...client.cookies.values()][0]));
      }
      const [rows] = await raw.query({ sql: `SELECT * FROM \`${table}\``, rowsAsArray: true });
      const dump = JSON.stringify(rows);
      assert.equal((rows as unknown[]).length, 5);
      for (const id of ids) {
        assert.match(id, /^[A-Za-z0-9_-]{43}$/);
        assert.ok(!dump.includes(id), "a session ID is in the table");
      }
    } finally {
      await app.close();
    }
  });
});
