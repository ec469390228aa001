/**
 * ExpressSessionStore's rotation marker over real express-session stores:
 * connect-redis on Redis, connect-pg-simple on PostgreSQL,
 * session-file-store in a directory, and express-session's own MemoryStore.
 * The store contract's marker tests (test/helpers/moved_marker_contract.ts)
 * run on each; then what is particular to the adapter, on the three real
 * backends: the marker is a session object the backend drops by its own TTL
 * (its cookie expires `MOVED_MARKER_MS` after the move), and across two
 * processes a write of the old session that read it before the rotation and
 * writes after it ends with the old ID opening nothing (the deletion marker
 * undoes it) and the new session without that write.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import session from "express-session";
import { emptyFields, MOVED_MARKER_MS, type SessionRecord } from "../src/store.ts";
import {
  type ExpressSessionCallback,
  type ExpressSessionData,
  ExpressSessionStore,
  type ExpressSessionStoreLike,
} from "../src/stores/express_session.ts";
import { movedMarkerContract } from "./helpers/moved_marker_contract.ts";
import { changeSet } from "./helpers/changes.ts";
import { BACKENDS, type ExpressBackend, openBackend } from "./helpers/express_session_targets.ts";

for (const name of BACKENDS) {
  let backend: ExpressBackend | undefined;
  movedMarkerContract({
    name: `ExpressSessionStore (${name})`,
    async makeStore() {
      backend = await openBackend(name);
      return new ExpressSessionStore(backend.store());
    },
    async teardown() {
      await backend?.dispose();
    },
  });
}

movedMarkerContract({
  name: "ExpressSessionStore (express-session's MemoryStore)",
  makeStore() {
    const MemoryStore = (session as unknown as { MemoryStore: new () => ExpressSessionStoreLike })
      .MemoryStore;
    return new ExpressSessionStore(new MemoryStore());
  },
});

function sessionRecord(now: number): SessionRecord {
  const r: SessionRecord = {
    data: emptyFields(),
    flash: emptyFields(),
    createdAt: now,
    expiresAt: now + 3_600_000,
  };
  r.data.cart = "1";
  return r;
}

/**
 * `store`, whose first `get` of `key` answers only after `meanwhile` ran:
 * the reply is what the backend held before, as a read that was in flight.
 */
function heldFirstRead(
  store: ExpressSessionStoreLike,
  key: string,
  meanwhile: () => Promise<unknown>,
): ExpressSessionStoreLike {
  let held = false;
  return {
    get(sid, callback: ExpressSessionCallback<ExpressSessionData | null>) {
      if (sid !== key || held) return store.get(sid, callback);
      held = true;
      return store.get(sid, (error, value) => {
        meanwhile().then(() => callback(error, value), (e) => callback(e));
      });
    },
    set: (sid, s, callback) => store.set(sid, s, callback),
    destroy: (sid, callback) => store.destroy(sid, callback),
  };
}

for (const name of BACKENDS) {
  describe(`ExpressSessionStore (${name}): the marker in the backend`, () => {
    let backend: ExpressBackend;
    before(async () => {
      backend = await openBackend(name);
    });
    after(async () => {
      await backend?.dispose();
    });

    it("is a session object of its own, dropped by the backend's TTL", async () => {
      const now = Date.now();
      const store = new ExpressSessionStore(backend.store());
      await store.create("m-old", sessionRecord(now), now);
      assert.equal(await store.rotate("m-old", "m-new", changeSet(now + 3_600_000), now), true);
      const entry = await backend.entry("m-old");
      assert.ok(entry, "no marker under the old key");
      assert.deepEqual(entry.session.oak_sessions_moved, { v: 1, at: now });
      assert.equal(entry.session.oak_sessions, undefined, "the marker holds no session");
      assert.ok(
        entry.ttlMs > 0 && entry.ttlMs <= MOVED_MARKER_MS + 1000,
        `the backend keeps it ${entry.ttlMs} ms`,
      );
      assert.equal((await store.get("m-old", now))?.movedAt, now);
    });

    it("across processes, a write of the old session in flight over the rotation opens nothing", async () => {
      const now = Date.now();
      const a = new ExpressSessionStore(backend.store());
      await a.create("x-old", sessionRecord(now), now);
      // Process B reads the old session; process A rotates it before B's read answers.
      let rotated: unknown;
      const b = new ExpressSessionStore(
        heldFirstRead(backend.store(), "x-old", async () => {
          rotated = await a.rotate("x-old", "x-new", changeSet(now + 3_600_000), now);
        }),
      );
      const late = changeSet(now + 3_600_000, { set: Object.assign(emptyFields(), { late: "1" }) });
      assert.equal(await b.update("x-old", late, now), false, "the deletion marker undid it");
      assert.equal(rotated, true);
      assert.equal(await a.get("x-old", now), null, "the old ID opens nothing");
      const moved = await a.get("x-new", now);
      assert.equal(moved?.data.cart, "1");
      assert.equal(moved?.data.late, undefined);
    });
  });
}
