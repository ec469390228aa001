/**
 * What fromV9Store guarantees, and what it says it cannot: over the
 * original's own RedisStore and SqliteStore (real Redis, real SQLite).
 *
 * - Two adapters over one store object (one process) queue behind each
 *   other: concurrent writes of different keys both land.
 * - Two store objects over one backend (two processes) do not: one of two
 *   overlapping writes is lost, and a slow write brings a deleted session
 *   back when the store's persistSessionData creates what is missing (the
 *   original's RedisStore), not when it runs an UPDATE (its SqliteStore).
 * - rotate never loses the session to a failure and leaves no second copy.
 * - carryOver moves the original's sessions (plain IDs) to hashed keys.
 *
 * The one fake: a pause inserted into persistSessionData (a gate the test
 * opens), to make two writes overlap at a known point.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createClient } from "redis";
import { SessionConfigError, SessionStoreError } from "../src/errors.ts";
import { sessionKey } from "../src/session_id.ts";
import type { SessionChange, SessionRecord } from "../src/store.ts";
import type { OriginalSessionData } from "../src/stores/original_session.ts";
import { fromV9Store, type V9Store } from "../src/stores/v9_store.ts";
import { requireSharedRedis, SHARED_REDIS_URL } from "./kit/redis.ts";
import { dropPrefix, uniquePrefix } from "./helpers/redis_targets.ts";
import { openDb, type RawDb, tempDir, values } from "./helpers/sqlite_db.ts";
import { V9RedisStore, V9SqliteStore } from "./helpers/v9_stores.ts";

const NOW = Date.now();

function rec(data: Record<string, unknown>, flash: Record<string, unknown> = {}): SessionRecord {
  const f = (o: Record<string, unknown>) => {
    const out: Record<string, string> = Object.create(null);
    for (const k of Object.keys(o)) out[k] = JSON.stringify(o[k]);
    return out;
  };
  return { data: f(data), flash: f(flash), createdAt: NOW - 1000, expiresAt: NOW + 600_000 };
}

function set(fields: Record<string, unknown>): SessionChange {
  const s: Record<string, string> = Object.create(null);
  for (const k of Object.keys(fields)) s[k] = JSON.stringify(fields[k]);
  return { clear: false, set: s, delete: [], flash: null, expiresAt: NOW + 600_000 };
}

/** `store` with persistSessionData paused at a gate the test opens, once armed. */
function gated(store: V9Store) {
  let armed: { entered: () => void; release: Promise<void> } | null = null;
  const wrapped: V9Store = {
    getSessionById: (id) => store.getSessionById(id),
    createSession: (id, d) => store.createSession(id, d),
    deleteSession: (id) => store.deleteSession(id),
    async persistSessionData(id, d) {
      const gate = armed;
      armed = null;
      if (gate) {
        gate.entered();
        await gate.release;
      }
      return store.persistSessionData(id, d);
    },
  };
  return {
    store: wrapped,
    /** Pause the next persistSessionData; resolves `entered` when it is paused. */
    arm() {
      let entered!: () => void;
      let release!: () => void;
      const e = new Promise<void>((r) => (entered = r));
      armed = { entered, release: new Promise<void>((r) => (release = r)) };
      return { entered: e, release };
    },
  };
}

describe("fromV9Store: what holds in one process and what does not across processes", () => {
  let client: ReturnType<typeof createClient>;
  const prefix = uniquePrefix("v9g");
  const dir = tempDir();
  let db: RawDb;
  before(async () => {
    await requireSharedRedis();
    client = createClient({ url: SHARED_REDIS_URL });
    client.on("error", () => {});
    await client.connect();
    db = await openDb(dir.file("v9g.db"));
  });
  after(async () => {
    await dropPrefix(client, prefix);
    await client.close();
    db.close();
    dir.remove();
  });

  it("one store object, two adapters (one process): both concurrent writes land", async () => {
    const backend = gated(new V9RedisStore(client, `${prefix}one_`));
    const a = fromV9Store(backend.store);
    const b = fromV9Store(backend.store);
    await a.create("k", rec({ base: 0 }), NOW);
    const gate = backend.arm();
    const first = a.update("k", set({ left: 1 }), NOW);
    await gate.entered;
    const second = b.update("k", set({ right: 2 }), NOW); // queued behind the first
    gate.release();
    assert.equal(await first, true);
    assert.equal(await second, true);
    assert.deepEqual(values((await a.get("k", NOW))!.data), { base: 0, left: 1, right: 2 });
  });

  it("two store objects on one backend (two processes): the last whole write wins", async () => {
    const shared = `${prefix}two_`;
    const p1 = gated(new V9RedisStore(client, shared));
    const a = fromV9Store(p1.store);
    const b = fromV9Store(new V9RedisStore(client, shared));
    await a.create("k", rec({ base: 0 }), NOW);
    const gate = p1.arm();
    const first = a.update("k", set({ left: 1 }), NOW); // read, then paused before writing
    await gate.entered;
    assert.equal(await b.update("k", set({ right: 2 }), NOW), true);
    gate.release();
    assert.equal(await first, true);
    // As documented: the second process's key is lost.
    assert.deepEqual(values((await b.get("k", NOW))!.data), { base: 0, left: 1 });
  });

  it("across processes a delete does not win over a store whose persist creates (Redis SET)", async () => {
    const shared = `${prefix}del_`;
    const p1 = gated(new V9RedisStore(client, shared));
    const a = fromV9Store(p1.store);
    const b = fromV9Store(new V9RedisStore(client, shared));
    await a.create("k", rec({ user: "ann" }), NOW);
    const gate = p1.arm();
    const slow = a.update("k", set({ late: 1 }), NOW);
    await gate.entered;
    await b.delete("k");
    gate.release();
    assert.equal(await slow, true);
    assert.ok(await b.get("k", NOW), "as documented: the deleted session is back");
  });

  it("... and does win over a store whose persist is an UPDATE (the original's SqliteStore)", async () => {
    const p1 = gated(new V9SqliteStore(db, "v9_del"));
    const a = fromV9Store(p1.store);
    const b = fromV9Store(new V9SqliteStore(db, "v9_del"));
    await a.create("k", rec({ user: "ann" }), NOW);
    const gate = p1.arm();
    const slow = a.update("k", set({ late: 1 }), NOW);
    await gate.entered;
    await b.delete("k");
    gate.release();
    await slow;
    assert.equal(await b.get("k", NOW), null);
  });

  it("rotate: a failure while writing the new session leaves the old one, and no second copy", async () => {
    const real = new V9RedisStore(client, `${prefix}rot_`);
    // createSession writes the new session; persistSessionData of "old" puts the marker there.
    let failOn: "createSession" | "persistSessionData" | null = null;
    const faulty: V9Store = {
      getSessionById: (id) => real.getSessionById(id),
      persistSessionData(id, d) {
        if (failOn === "persistSessionData" && id === "old") {
          throw new Error("injected: backend down");
        }
        return real.persistSessionData(id, d);
      },
      createSession(id, d) {
        if (failOn === "createSession") throw new Error("injected: backend down");
        return real.createSession(id, d);
      },
      deleteSession: (id) => real.deleteSession(id),
    };
    const store = fromV9Store(faulty);
    await store.create("old", rec({ user: "bo" }), NOW);
    for (const fault of ["createSession", "persistSessionData"] as const) {
      failOn = fault;
      await assert.rejects(store.rotate("old", "new", set({ x: 1 }), NOW), (e: unknown) => {
        assert.ok(e instanceof SessionStoreError);
        assert.match(e.message, new RegExp(`store's ${fault} failed: injected`));
        return true;
      });
      failOn = null;
      assert.deepEqual(values((await store.get("old", NOW))!.data), { user: "bo" }, fault);
      assert.equal(await store.get("new", NOW), null, `${fault}: no second copy`);
    }
    assert.equal(await store.rotate("old", "new", set({ x: 1 }), NOW), true);
    assert.equal((await store.get("old", NOW))?.movedAt, NOW, "the old key holds the marker");
    assert.deepEqual(values((await store.get("new", NOW))!.data), { user: "bo", x: 1 });
    assert.equal(await store.rotate("gone", "new2", set({}), NOW), false);
    assert.equal(await store.get("new2", NOW), null);
  });

  it("keeps user keys named like the original's bookkeeping, and times, in its documents", async () => {
    const store = fromV9Store(new V9SqliteStore(db, "v9_names"));
    const r = rec({ _flash: "mine", _expire: 1, plain: true }, { note: "hi" });
    await store.create("k", r, NOW);
    const got = await store.get("k", NOW);
    assert.deepEqual(values(got!.data), { _flash: "mine", _expire: 1, plain: true });
    assert.deepEqual(values(got!.flash), { note: "hi" });
    assert.equal(got!.createdAt, r.createdAt);
    assert.equal(got!.expiresAt, r.expiresAt);
    // An expired session reads as gone and is deleted, as the original did.
    assert.equal(await store.get("k", r.expiresAt + 1), null);
    assert.equal(await new V9SqliteStore(db, "v9_names").getSessionById("k"), null);
  });

  it("carryOver moves the original's sessions (plain IDs) to hashed keys", async () => {
    const v9 = new V9RedisStore(client, `${prefix}carry_`);
    const live = "V1StGXR8_Z5jdHi6B-myT";
    const dead = "expired0expired0expir";
    const doc = (expire: string | null, extra: Record<string, unknown>): OriginalSessionData => ({
      _flash: { notice: "Saved!" },
      _accessed: new Date(NOW).toISOString(),
      _expire: expire,
      _delete: false,
      ...extra,
    });
    await v9.createSession(live, doc(null, { userId: 7 }));
    await v9.createSession(dead, doc(new Date(NOW - 1).toISOString(), { userId: 8 }));
    const store = fromV9Store(v9, { migratedIdleSeconds: 120 });
    assert.deepEqual(await store.carryOver([live, dead, "absent0absent0absent0"], NOW), {
      moved: 1,
      failed: 0,
    });
    const got = await store.get(await sessionKey(live), NOW);
    assert.deepEqual(values(got!.data), { userId: 7 });
    assert.deepEqual(values(got!.flash), { notice: "Saved!" });
    assert.equal(got!.expiresAt, NOW + 120_000);
    assert.equal(await v9.getSessionById(live), null, "the plain-ID copy is gone");
    assert.equal(await v9.getSessionById(dead), null, "an expired one is removed");
  });

  it("refuses what is not a store of the original's interface", () => {
    for (const bad of [null, 1, {}, { getSessionById() {}, createSession() {} }]) {
      // deno-lint-ignore no-explicit-any
      assert.throws(() => fromV9Store(bad as any), SessionConfigError);
    }
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => fromV9Store({ get() {}, rotate() {} } as any),
      /passed to the middleware as it is/,
    );
  });
});
