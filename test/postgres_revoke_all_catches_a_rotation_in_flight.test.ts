/**
 * PostgresStore: "log out everywhere" (`deleteByUser`) that lands while a
 * rotation of one of the user's sessions holds its row still removes the
 * session the rotation moved: a plain DELETE that waited for the row lock
 * would find only the marker and never see the new row (its snapshot began
 * before the rotation committed). The rotation is held open in a real
 * transaction on a second connection, and the test waits until the delete is
 * really blocked on its lock (PostgreSQL's own view of it), then commits.
 *
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { PostgresStore } from "../src/stores/postgres.ts";
import { emptyFields, type SessionRecord } from "../src/store.ts";
import { changeSet } from "./helpers/changes.ts";
import { POSTGRES_URL, uniqueTable } from "./kit/postgres.ts";

describe("PostgresStore: revoking a user's sessions while a rotation holds one", () => {
  const table = uniqueTable("revoke_vs_rotate");
  const rotating = new pg.Client({ connectionString: POSTGRES_URL });
  const revoking = new pg.Client({ connectionString: POSTGRES_URL });
  const probe = new pg.Client({ connectionString: POSTGRES_URL });
  let storeA: PostgresStore;
  let storeB: PostgresStore;

  before(async () => {
    await Promise.all([rotating.connect(), revoking.connect(), probe.connect()]);
    storeA = new PostgresStore(rotating, table);
    storeB = new PostgresStore(revoking, table);
    await storeA.get("warm", Date.now()); // the table exists before the race
    await storeB.get("warm", Date.now());
  });
  after(async () => {
    await probe.query(`DROP TABLE IF EXISTS "${table}"`);
    await Promise.all([rotating.end(), revoking.end(), probe.end()]);
  });

  /** Until the revoking connection's statement waits for a row lock. */
  async function blockedOnLock(): Promise<void> {
    const pid = (await revoking.query("SELECT 1")).rows && (revoking as unknown as {
      processID: number;
    }).processID;
    for (;;) {
      const r = await probe.query(
        "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1",
        [pid],
      );
      if (r.rows[0]?.wait_event_type === "Lock") return;
    }
  }

  it("the rotated session is removed too", async () => {
    const now = Date.now();
    const record: SessionRecord = {
      data: emptyFields(),
      flash: emptyFields(),
      createdAt: now,
      expiresAt: now + 3_600_000,
      userId: "u",
    };
    await storeA.create("old", record, now);
    await storeA.create("other", record, now);
    await rotating.query("BEGIN");
    assert.equal(await storeA.rotate("old", "new", changeSet(now + 3_600_000), now), true);
    const revoked = storeB.deleteByUser("u", [], now);
    await blockedOnLock();
    await rotating.query("COMMIT");
    assert.equal(await revoked, 2, "both of the user's sessions");
    assert.equal(await storeA.get("new", now), null, "the rotated session survived");
    assert.equal(await storeA.get("other", now), null);
    assert.equal((await storeA.get("old", now))?.movedAt, now, "the marker opens nothing");
  });
});
