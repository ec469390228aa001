/**
 * PostgresStore keeps the rotation marker of the store contract on the
 * machine's PostgreSQL (127.0.0.1:5432, database `test`), with each driver:
 * postgres.js, a pg Pool and a pg Client. Each run uses its own table and
 * drops it afterwards.
 *
 * Then what is particular to PostgreSQL: an update, a refresh or a rotation
 * that waits for the row while another connection's rotation of it commits
 * sees the marker that rotation left (it answers "moved" and writes
 * nothing), a logout that commits first still wins, and the read that tells
 * a marker apart never runs when the write lands.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type pg from "pg";
import { movedMarkerContract } from "./helpers/moved_marker_contract.ts";
import { MOVED_MARKER_MS, type ServerStore, type SessionChange } from "../src/store.ts";
import { postgresStatements, type PostgresStore } from "../src/stores/postgres.ts";
import {
  dropTables,
  postgresTargets,
  rawPool,
  uniqueTable,
  waitForLockWait,
} from "./kit/postgres.ts";
import { changeSet } from "./helpers/changes.ts";

for (const target of postgresTargets) {
  const table = uniqueTable(`marker_${target.name.replace(/\W/g, "")}`);
  let opened: { store: PostgresStore; close: () => Promise<void> } | undefined;
  movedMarkerContract({
    name: `PostgresStore (${target.name})`,
    async makeStore() {
      opened = await target.open(table, { cleanupIntervalSeconds: 0 });
      await opened.store.initSessionsTable();
      return opened.store;
    },
    async teardown(store: ServerStore) {
      await store.close?.();
      await opened?.close();
      const raw = rawPool();
      await dropTables(raw, table);
      await raw.end();
    },
  });
}

const T0 = Date.UTC(2030, 0, 1);
const HOUR = 3_600_000;

function fields(o: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const k of Object.keys(o)) out[k] = JSON.stringify(o[k]);
  return out;
}

const change = (partial: Partial<SessionChange>): SessionChange => changeSet(T0 + HOUR, partial);

/** The parameters of `postgresStatements(table).rotate` for a rotation that changes nothing. */
function rotateParams(oldKey: string, newKey: string, now: number): Array<string | null> {
  const expires = String(now + HOUR);
  return [oldKey, String(now), "false", "{}", "[]", null, expires, "{}", null, null, null, newKey];
}

// The races are real: a second connection runs the store's own rotation in
// an open transaction while the store's statement waits for the row, then
// commits.
for (const target of postgresTargets) {
  describe(`PostgresStore: a write waiting for a rotation finds its marker (${target.name})`, () => {
    const table = uniqueTable(`mrace_${target.name.replace(/\W/g, "")}`);
    let store: PostgresStore;
    let close: () => Promise<void>;
    let raw: pg.Pool;
    let n = 0;
    const key = () => `race-${++n}`;

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

    /** Runs `during` while another connection's rotation of `oldKey` holds the row, then commits it. */
    async function whileRotating<T>(
      oldKey: string,
      newKey: string,
      during: () => Promise<T>,
    ): Promise<T> {
      const holder = await raw.connect();
      try {
        await holder.query("BEGIN");
        const r = await holder.query({
          text: postgresStatements(table).rotate,
          values: rotateParams(oldKey, newKey, T0),
          rowMode: "array",
        });
        assert.equal(r.rows[0][0], 1, "the other connection's rotation applied");
        const pending = during();
        // Handled now, awaited after the commit: a rejection is never unhandled.
        pending.catch(() => {});
        await waitForLockWait(raw, table);
        await holder.query("COMMIT");
        return await pending;
      } catch (e) {
        await holder.query("ROLLBACK").catch(() => {});
        throw e;
      } finally {
        holder.release();
      }
    }

    async function session(): Promise<string> {
      const k = key();
      await store.create(
        k,
        { data: fields({ cart: 1 }), flash: fields({}), createdAt: T0, expiresAt: T0 + HOUR },
        T0,
      );
      return k;
    }

    it("an update answers moved and writes nothing", async () => {
      const [k, moved] = [await session(), key()];
      const late = change({ set: fields({ late: 1 }), increment: { cart: 5 } });
      assert.equal(await whileRotating(k, moved, () => store.update(k, late, T0 + 1)), "moved");
      assert.deepEqual({ ...(await store.get(moved, T0 + 1))!.data }, { cart: "1" });
      const marker = await store.get(k, T0 + 1);
      assert.equal(marker!.movedAt, T0);
      assert.equal(marker!.expiresAt, T0 + MOVED_MARKER_MS, "the marker's expiry is its own");
    });

    it("a refresh answers moved and writes nothing", async () => {
      const [k, moved] = [await session(), key()];
      const refresh = change({ lastSeenAt: T0 + 1 });
      assert.equal(await whileRotating(k, moved, () => store.update(k, refresh, T0 + 1)), "moved");
      const marker = await store.get(k, T0 + 1);
      assert.equal(marker!.expiresAt, T0 + MOVED_MARKER_MS, "the refresh moved the expiry");
      assert.equal(marker!.lastSeenAt, undefined);
    });

    it("a second rotation answers moved and writes nothing", async () => {
      const [k, moved, other] = [await session(), key(), key()];
      const second = () => store.rotate(k, other, change({ set: fields({ b: 2 }) }), T0 + 1);
      assert.equal(await whileRotating(k, moved, second), "moved");
      assert.equal(await store.get(other, T0 + 1), null);
      assert.deepEqual({ ...(await store.get(moved, T0 + 1))!.data }, { cart: "1" });
    });

    it("a logout of the old ID during a rotation wins: no marker, no moved session", async () => {
      const [k, moved] = [await session(), key()];
      const holder = await raw.connect();
      try {
        await holder.query("BEGIN");
        await holder.query(`DELETE FROM "${table}" WHERE key = $1`, [k]);
        const pending = store.rotate(k, moved, change({}), T0 + 1);
        pending.catch(() => {});
        await waitForLockWait(raw, table);
        await holder.query("COMMIT");
        assert.equal(await pending, false);
      } finally {
        holder.release();
      }
      assert.equal(await store.get(k, T0 + 1), null);
      assert.equal(await store.get(moved, T0 + 1), null);
    });
  });
}

describe("PostgresStore: a write of a live session reads its row once", () => {
  const table = uniqueTable("mplan");
  let raw: pg.Pool;
  before(async () => {
    raw = rawPool();
    const opened = await postgresTargets[1].open(table);
    await opened.store.initSessionsTable();
    await opened.store.close();
    await opened.close();
  });
  after(async () => {
    await dropTables(raw, table);
    await raw.end();
  });

  // The locked read that tells a marker from a missing session runs only
  // when the write wrote nothing: the hot path costs what it did.
  for (const [name, kind] of [["update", "update"], ["refresh", "touch"]] as const) {
    it(`${name}: the locked read is never executed when the write lands`, async () => {
      const sql = postgresStatements(table);
      const c = await raw.connect();
      try {
        await c.query("BEGIN");
        await c.query(
          `INSERT INTO "${table}" (key, data, flash, created_at, expires_at) ` +
            "VALUES ('live', '{}', '{}', $1, $2)",
          [T0, T0 + HOUR],
        );
        const params = kind === "touch" ? ["live", String(T0), String(T0 + HOUR), null] : [
          "live",
          String(T0),
          "false",
          '{"a":"1"}',
          "[]",
          null,
          String(T0 + HOUR),
          "{}",
          null,
          null,
          null,
        ];
        const plan = await c.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql[kind]}`, params);
        const nodes: Array<Record<string, unknown>> = [];
        const walk = (node: Record<string, unknown>) => {
          nodes.push(node);
          for (const child of (node.Plans ?? []) as Array<Record<string, unknown>>) walk(child);
        };
        walk(plan.rows[0]["QUERY PLAN"][0].Plan);
        const updates = nodes.filter((p) => p["Node Type"] === "ModifyTable");
        assert.equal(updates.length, 1);
        assert.equal(updates[0]["Actual Rows"], 1, "the write landed");
        const locks = nodes.filter((p) => p["Node Type"] === "LockRows");
        assert.equal(locks.length, 1, "the statement has its locked read");
        assert.equal(locks[0]["Actual Loops"], 0, "and it never ran");
        const written = await c.query(`SELECT expires_at FROM "${table}" WHERE key = 'live'`);
        assert.equal(Number(written.rows[0].expires_at), T0 + HOUR);
      } finally {
        await c.query("ROLLBACK");
        c.release();
      }
    });
  }
});
