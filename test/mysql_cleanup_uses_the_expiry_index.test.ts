/**
 * MySqlStore's sweep deletes only expired rows (markers included once they
 * expire), through the `expires_at` index: EXPLAIN of its statement on the
 * machine's MariaDB names that index, so the sweep never scans the table.
 * The automatic sweep rides on a normal call at most once per interval.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type mysqlPromise from "mysql2/promise";
import { mySqlStatements } from "../src/stores/mysql.ts";
import type { SessionRecord } from "../src/store.ts";
import { dropTables, mysqlTargets, rawPool, requireMariaDb, uniqueTable } from "./kit/mysql.ts";
import { waitFor } from "./kit/waiting.ts";

const T0 = Date.UTC(2030, 0, 1);

const record = (expiresAt: number): SessionRecord => ({
  data: Object.create(null),
  flash: Object.create(null),
  createdAt: T0,
  expiresAt,
});

describe("MySqlStore: cleanup deletes expired rows through the expires_at index", () => {
  const table = uniqueTable("sweep");
  let raw: mysqlPromise.Pool;

  before(async () => {
    await requireMariaDb();
    raw = rawPool();
  });
  after(async () => {
    await dropTables(raw, table);
    await raw.end();
  });

  it("removes only what expired, and EXPLAIN shows the index", async () => {
    const opened = await mysqlTargets[0].open(table, { cleanupIntervalSeconds: 0 });
    const store = opened.store;
    try {
      for (let i = 0; i < 200; i++) await store.create(`k${i}`, record(T0 + i * 1000), T0);
      assert.equal(
        await store.rotate("k150", "k150-new", {
          clear: false,
          set: Object.create(null),
          delete: [],
          flash: null,
          expiresAt: T0 + 500_000,
        }, T0),
        true,
      );
      await raw.query(`ANALYZE TABLE \`${table}\``);
      const [plan] = await raw.query({
        sql: `EXPLAIN ${mySqlStatements(table).sweep}`,
        values: [T0 + 5_000],
      });
      const row = (plan as Array<Record<string, unknown>>)[0];
      assert.equal(row.key, `${table.slice(0, 53)}_expires_at`, JSON.stringify(plan));
      assert.equal(row.type, "range", JSON.stringify(plan));
      // k0..k9 expire by T0 + 9 s (expires_at <= now).
      assert.equal(await store.cleanup(T0 + 9_000), 10);
      assert.equal(await store.get("k10", T0 + 9_000) !== null, true);
      // The marker under k150 lives 60 s after the move (T0): gone by T0 + 60 s, with k10..k60.
      assert.equal(await store.cleanup(T0 + 60_000), 52);
      assert.equal(await store.get("k150", T0), null);
      assert.notEqual(await store.get("k150-new", T0 + 60_000), null);
    } finally {
      await store.close();
      await opened.close();
    }
  });

  it("the automatic sweep runs during a normal call, at most once per interval", async () => {
    const auto = `${table}_a`;
    const opened = await mysqlTargets[0].open(auto, { cleanupIntervalSeconds: 60 });
    try {
      // The first call sweeps (nothing is expired yet at T0), the next sweep is due at T0 + 60 s.
      await opened.store.create("old", record(T0 + 1000), T0);
      await opened.store.create("live", record(T0 + 600_000), T0 + 2000);
      const count = async () => {
        const [rows] = await raw.query(`SELECT COUNT(*) AS n FROM \`${auto}\``);
        return Number((rows as Array<{ n: number }>)[0].n);
      };
      assert.equal(await count(), 2);
      await opened.store.get("live", T0 + 61_000);
      await waitFor(async () => (await count()) === 1, {
        what: "the sweep removed the expired row",
      });
      await opened.store.create("old2", record(T0 + 62_000), T0 + 61_500);
      await opened.store.get("live", T0 + 70_000); // within the interval: no sweep
      assert.equal(await count(), 2);
    } finally {
      await opened.store.close();
      await opened.close();
      await dropTables(raw, auto);
    }
  });
});
