/**
 * PostgresStore keeps the store contract when called directly, with each
 * driver, on real PostgreSQL: a change set lands in one statement (clear,
 * set, delete in that order, the flash replaced or kept, the expiry moved),
 * only on a live session; keys keep the order they were set in; a delete
 * that commits while an update or a rotation waits for the row wins; a
 * rotation moves the stored row (a write that committed first is kept) and
 * leaves its marker, or writes nothing; two rotations of one session cannot
 * both succeed (the second finds the first's marker); the
 * sweep deletes only expired rows and can use the `expires_at` index.
 *
 * The races are real: a second connection holds the row in an open
 * transaction while the store's statement waits for it.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type pg from "pg";
import type { SessionChange } from "../src/store.ts";
import type { PostgresStore } from "../src/stores/postgres.ts";
import {
  dropTables,
  postgresTargets,
  rawPool,
  uniqueTable,
  waitForLockWait,
} from "./kit/postgres.ts";
import { changeSet } from "./helpers/changes.ts";

const T0 = Date.UTC(2030, 0, 1);
const HOUR = 3_600_000;

function fields(o: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const k of Object.keys(o)) out[k] = JSON.stringify(o[k]);
  return out;
}

const change = (partial: Partial<SessionChange>): SessionChange =>
  changeSet(T0 + 2 * HOUR, partial);

function values(f: Record<string, string> | undefined): Record<string, unknown> | undefined {
  if (!f) return undefined;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(f)) out[k] = JSON.parse(f[k]);
  return out;
}

for (const target of postgresTargets) {
  describe(`PostgresStore keeps the store contract (${target.name})`, () => {
    const table = uniqueTable(`contract_${target.name.replace(/\W/g, "")}`);
    let store: PostgresStore;
    let close: () => Promise<void>;
    let raw: pg.Pool;
    let n = 0;
    const key = () => `key-${++n}`;
    const seed = (k: string, data: Record<string, unknown>, expiresAt = T0 + HOUR) =>
      store.create(k, { data: fields(data), flash: fields({}), createdAt: T0, expiresAt }, T0);

    before(async () => {
      raw = rawPool();
      ({ store, close } = await target.open(table, { cleanupIntervalSeconds: 0 }));
      await store.initSessionsTable();
    });
    after(async () => {
      await store.close();
      await close();
      await dropTables(raw, table);
      await raw.end();
    });

    it("reports its driver and creates the table with an index on expires_at", async () => {
      assert.equal(store.driver, target.name);
      const idx = await raw.query("SELECT indexdef FROM pg_indexes WHERE tablename = $1", [table]);
      assert.ok(
        idx.rows.some((r) => /\(expires_at\)/.test(r.indexdef)),
        JSON.stringify(idx.rows),
      );
    });

    it("applies clear, set and delete in that order, replaces or keeps the flash, moves the expiry", async () => {
      const k = key();
      await seed(k, { a: 1, b: 2, c: 3 });
      assert.ok(
        await store.update(k, change({ set: fields({ b: 20, d: 4 }), delete: ["c", "d"] }), T0),
      );
      let got = await store.get(k, T0);
      assert.deepEqual(values(got?.data), { a: 1, b: 20 });
      assert.equal(got?.expiresAt, T0 + 2 * HOUR);
      assert.equal(got?.createdAt, T0);
      assert.ok(
        await store.update(
          k,
          change({ clear: true, set: fields({ e: 5 }), flash: fields({ msg: "hi" }) }),
          T0,
        ),
      );
      got = await store.get(k, T0);
      assert.deepEqual(values(got?.data), { e: 5 });
      assert.deepEqual(values(got?.flash), { msg: "hi" });
      assert.ok(await store.update(k, change({ set: fields({ f: 6 }) }), T0));
      assert.deepEqual(values((await store.get(k, T0))?.flash), { msg: "hi" }, "flash kept");
      assert.ok(await store.update(k, change({ flash: fields({}) }), T0));
      assert.deepEqual(values((await store.get(k, T0))?.flash), {}, "flash replaced");
    });

    it("keeps keys in the order they were set; a re-set key keeps its place", async () => {
      const k = key();
      await seed(k, { zeta: 1, alpha: 2, mid: 3 });
      await store.update(
        k,
        change({ set: fields({ b: 4, alpha: 20, a: 5 }), delete: ["mid"] }),
        T0,
      );
      const got = await store.get(k, T0);
      assert.deepEqual(Object.keys(got!.data), ["zeta", "alpha", "b", "a"]);
      assert.equal(got!.data.alpha, "20");
    });

    it("carries every JSON text exactly, NUL escapes and prototype-like keys included", async () => {
      const k = key();
      const data = Object.create(null);
      data.text = JSON.stringify('a\u0000b "q" \\ 🌍 \u2028');
      data.__proto__ = JSON.stringify({ polluted: true });
      data.big = "1e300";
      data.nested = JSON.stringify({ z: 1, a: [1, { b: null }] });
      await store.create(k, { data, flash: fields({}), createdAt: T0, expiresAt: T0 + HOUR }, T0);
      await store.update(k, change({ set: fields({ more: "x" }) }), T0);
      const got = await store.get(k, T0);
      assert.deepEqual({ ...got!.data }, { ...data, more: '"x"' });
      assert.equal(Object.getPrototypeOf(got!.data), null);
    });

    it("does not update, refresh or rotate a session that is absent or expired, and writes nothing", async () => {
      const k = key();
      await seed(k, { a: 1 }, T0 + 1000);
      const later = T0 + 1000;
      assert.equal(await store.update(k, change({ set: fields({ b: 2 }) }), later), false);
      assert.equal(await store.update(k, change({}), later), false, "refresh");
      const newKey = key();
      assert.equal(await store.rotate(k, newKey, change({}), later), false);
      assert.equal(await store.get(newKey, T0), null, "rotation wrote nothing");
      const row = await raw.query(`SELECT data::text, expires_at FROM "${table}" WHERE key = $1`, [
        k,
      ]);
      assert.equal(row.rows[0].data, '{"a":"1"}', "the expired row is untouched");
      assert.equal(await store.update("absent", change({ set: fields({ b: 2 }) }), T0), false);
      assert.equal(await store.rotate("absent", key(), change({}), T0), false);
    });

    it("rotate moves the stored record with the change applied; the old key holds a marker", async () => {
      const k = key();
      await seed(k, { user: "ann", cart: [1] });
      const newKey = key();
      assert.ok(
        await store.rotate(
          k,
          newKey,
          change({ set: fields({ cart: [1, 2] }), flash: fields({ note: "moved" }) }),
          T0,
        ),
      );
      const marker = await store.get(k, T0);
      assert.equal(marker?.movedAt, T0);
      assert.deepEqual(values(marker?.data), {});
      const got = await store.get(newKey, T0);
      assert.deepEqual(values(got?.data), { user: "ann", cart: [1, 2] });
      assert.deepEqual(values(got?.flash), { note: "moved" });
      assert.equal(got?.createdAt, T0, "createdAt kept");
      assert.equal(got?.expiresAt, T0 + 2 * HOUR);
    });

    it("delete wins: an update waiting for the row finds it deleted and writes nothing", async () => {
      const k = key();
      await seed(k, { a: 1 });
      const holder = await raw.connect();
      try {
        await holder.query("BEGIN");
        await holder.query(`DELETE FROM "${table}" WHERE key = $1`, [k]);
        const pending = store.update(k, change({ set: fields({ late: 1 }) }), T0);
        await waitForLockWait(raw, table);
        await holder.query("COMMIT");
        assert.equal(await pending, false);
      } finally {
        holder.release();
      }
      assert.equal(await store.get(k, T0), null);
    });

    it("delete wins over a rotation too: nothing appears under the new key", async () => {
      const k = key();
      await seed(k, { a: 1 });
      const newKey = key();
      const holder = await raw.connect();
      try {
        await holder.query("BEGIN");
        await holder.query(`DELETE FROM "${table}" WHERE key = $1`, [k]);
        const pending = store.rotate(k, newKey, change({ set: fields({ late: 1 }) }), T0);
        await waitForLockWait(raw, table);
        await holder.query("COMMIT");
        assert.equal(await pending, false);
      } finally {
        holder.release();
      }
      assert.equal(await store.get(newKey, T0), null);
      assert.equal(await store.get(k, T0), null);
    });

    it("a rotation waiting for the row moves what the other write committed", async () => {
      const k = key();
      await seed(k, { a: 1 });
      const newKey = key();
      const holder = await raw.connect();
      try {
        await holder.query("BEGIN");
        await holder.query(
          `UPDATE "${table}" SET data = '{"a":"1","other":"\\"tab\\""}' WHERE key = $1`,
          [k],
        );
        const pending = store.rotate(k, newKey, change({ set: fields({ mine: 2 }) }), T0);
        await waitForLockWait(raw, table);
        await holder.query("COMMIT");
        assert.equal(await pending, true);
      } finally {
        holder.release();
      }
      assert.deepEqual(values((await store.get(newKey, T0))?.data), {
        a: 1,
        other: "tab",
        mine: 2,
      });
    });

    it("two rotations of one session at once: exactly one succeeds, the other finds its marker", async () => {
      const k = key();
      await seed(k, { a: 1 });
      const [k1, k2] = [key(), key()];
      const results = await Promise.all([
        store.rotate(k, k1, change({}), T0),
        store.rotate(k, k2, change({}), T0),
      ]);
      assert.deepEqual(results.map(String).sort(), ["moved", "true"]);
      const live = [await store.get(k1, T0), await store.get(k2, T0)].filter((r) => r !== null);
      assert.equal(live.length, 1);
    });

    it("fifty concurrent updates of different keys all land", async () => {
      const k = key();
      await seed(k, { base: 0 });
      const results = await Promise.all(
        Array.from(
          { length: 50 },
          (_, i) => store.update(k, change({ set: fields({ [`k${i}`]: i }) }), T0),
        ),
      );
      assert.ok(results.every(Boolean));
      const data = values((await store.get(k, T0))?.data)!;
      for (let i = 0; i < 50; i++) assert.equal(data[`k${i}`], i);
      assert.equal(data.base, 0);
    });

    it("cleanup deletes only expired sessions, and its DELETE can use the expiry index", async () => {
      const [dead, alive] = [key(), key()];
      await seed(dead, { a: 1 }, T0 + 10);
      await seed(alive, { a: 1 }, T0 + 10 * HOUR);
      const removed = await store.cleanup(T0 + HOUR);
      assert.ok(removed >= 1);
      assert.equal(await store.get(dead, T0), null);
      assert.notEqual(await store.get(alive, T0), null);
      const c = await raw.connect();
      try {
        await c.query("SET enable_seqscan = off");
        const plan = await c.query(
          `EXPLAIN DELETE FROM "${table}" WHERE expires_at <= '1'::text::bigint`,
        );
        const text = plan.rows.map((r) => r["QUERY PLAN"]).join("\n");
        assert.match(text, /Index|Bitmap/, text);
      } finally {
        c.release();
      }
    });

    it("a row edited by hand into garbage reads as no session", async () => {
      const k = key();
      await seed(k, { a: 1 });
      await raw.query(`UPDATE "${table}" SET data = '[1,2]' WHERE key = $1`, [k]);
      assert.equal(await store.get(k, T0), null);
    });
  });
}
