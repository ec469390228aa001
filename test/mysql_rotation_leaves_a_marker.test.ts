/**
 * MySqlStore keeps the rotation marker of the store contract on the
 * machine's MariaDB (127.0.0.1:3306, database `test`), with each mysql2
 * shape. Each run uses its own table and drops it afterwards.
 *
 * Then what is particular to MySqlStore: an update, a refresh and a
 * rotation that wait for the row while another connection's rotation of it
 * commits see the marker that rotation left (they answer "moved" and write
 * nothing), and a logout that commits first still wins.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type mysqlPromise from "mysql2/promise";
import { movedMarkerContract } from "./helpers/moved_marker_contract.ts";
import { changeSet } from "./helpers/changes.ts";
import { MOVED_MARKER_MS, type ServerStore, type SessionChange } from "../src/store.ts";
import { mySqlStatements, type MySqlStore } from "../src/stores/mysql.ts";
import {
  dropTables,
  mysqlTargets,
  type OpenedMySql,
  rawPool,
  requireMariaDb,
  uniqueTable,
} from "./kit/mysql.ts";

for (const target of mysqlTargets) {
  const table = uniqueTable(`marker_${target.name.replace(/\W/g, "")}`);
  let opened: OpenedMySql | undefined;
  movedMarkerContract({
    name: `MySqlStore (${target.name})`,
    async makeStore() {
      await requireMariaDb();
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

/** Resolves once a statement on `table` waits for a row lock another connection holds. */
async function waitForLockWait(raw: mysqlPromise.Pool, table: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const [rows] = await raw.query(
      "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE ? " +
        "AND STATE IN ('Updating', 'Sending data', 'Statistics', 'Searching rows for update') " +
        "AND TIME >= 0 AND COMMAND IN ('Query', 'Execute')",
      [`%\`${table}\`%`],
    );
    const [trx] = await raw.query(
      "SELECT COUNT(*) AS n FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'",
    );
    if ((rows as Array<{ n: number }>)[0].n > 0 && (trx as Array<{ n: number }>)[0].n > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail("the store's statement never waited for the row lock");
}

// The races are real: a second connection runs a rotation of the row (the
// store's own statements) in an open transaction while the store's call
// waits for the row, then commits.
for (const target of mysqlTargets) {
  describe(`MySqlStore: a write waiting for a rotation finds its marker (${target.name})`, () => {
    const table = uniqueTable(`mrace_${target.name.replace(/\W/g, "")}`);
    const s = mySqlStatements(table);
    let opened: OpenedMySql;
    let store: MySqlStore;
    let raw: mysqlPromise.Pool;

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

    /** Holds `old` locked, runs `write`, then commits the rotation of `old` to `moved`. */
    async function racedWithRotation<T>(
      old: string,
      moved: string,
      write: () => Promise<T>,
      commit: "rotate" | "delete" = "rotate",
    ): Promise<T> {
      await store.create(old, {
        data: fields({ a: 1 }),
        flash: fields({}),
        createdAt: T0,
        expiresAt: T0 + HOUR,
      }, T0);
      const tx = await raw.getConnection();
      try {
        await tx.beginTransaction();
        await tx.query(`SELECT 1 FROM \`${table}\` WHERE session_key = ? FOR UPDATE`, [old]);
        const pending = write();
        await waitForLockWait(raw, table);
        if (commit === "rotate") {
          await tx.query(
            `INSERT INTO \`${table}\` (session_key, data, flash, created_at, expires_at) ` +
              "VALUES (?, '{\"a\":\"1\"}', '{}', ?, ?)",
            [moved, T0, T0 + HOUR],
          );
          await tx.execute(s.marker, [T0, T0 + MOVED_MARKER_MS, T0, old]);
        } else {
          await tx.execute(s.delete, [old]);
        }
        await tx.commit();
        return await pending;
      } finally {
        tx.release();
      }
    }

    it("an update waiting for the rotation answers moved and writes nothing", async () => {
      const answer = await racedWithRotation(
        "u-old",
        "u-new",
        () => store.update("u-old", change({ set: fields({ b: 2 }) }), T0),
      );
      assert.equal(answer, "moved");
      const marker = await store.get("u-old", T0);
      assert.equal(marker?.movedAt, T0);
      assert.deepEqual({ ...marker?.data }, {});
      assert.deepEqual({ ...(await store.get("u-new", T0))?.data }, { a: "1" });
    });

    it("a refresh waiting for the rotation answers moved", async () => {
      const answer = await racedWithRotation(
        "r-old",
        "r-new",
        () => store.update("r-old", change({}), T0),
      );
      assert.equal(answer, "moved");
    });

    it("an increment waiting for the rotation answers moved and adds nothing", async () => {
      const answer = await racedWithRotation(
        "i-old",
        "i-new",
        () => store.update("i-old", change({ increment: { a: 1 } }), T0),
      );
      assert.equal(answer, "moved");
      assert.deepEqual({ ...(await store.get("i-new", T0))?.data }, { a: "1" });
    });

    it("a rotation waiting for another rotation answers moved and leaves no second copy", async () => {
      const answer = await racedWithRotation(
        "x-old",
        "x-new",
        () => store.rotate("x-old", "x-other", change({}), T0),
      );
      assert.equal(answer, "moved");
      assert.equal(await store.get("x-other", T0), null);
    });

    it("a logout that commits first still wins: the waiting update answers false", async () => {
      const answer = await racedWithRotation(
        "d-old",
        "d-new",
        () => store.update("d-old", change({ set: fields({ b: 2 }) }), T0),
        "delete",
      );
      assert.equal(answer, false);
      assert.equal(await store.get("d-old", T0), null);
    });
  });
}
