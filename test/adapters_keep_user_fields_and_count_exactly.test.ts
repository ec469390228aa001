/**
 * ExpressSessionStore (over connect-redis, connect-pg-simple and
 * session-file-store) and fromV9Store (over the original's SqliteStore on a
 * real file and its RedisStore on real Redis) keep the record's newer fields
 * and apply the newer change fields:
 *
 * - userId, lastSeenAt and meta round-trip through create, update (bind,
 *   replace, keep, unbind) and rotate, and are in what the backend holds;
 *   boundAt is dropped (a server store revokes by deleting);
 * - a session stored by the previous version (without them) still loads,
 *   and takes them on its next write;
 * - 50 concurrent update() increments of one key land exactly (+50), also
 *   through two adapters over one store object and interleaved with sets of
 *   other keys: the read-modify-write runs under the adapter's queue;
 * - neither adapter has listByUser/deleteByUser (no per-user query).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import type {
  JsonFields,
  ServerStore,
  SessionChange,
  SessionRecord,
  WriteResult,
} from "../src/store.ts";
import {
  ExpressSessionStore,
  type ExpressSessionStoreLike,
} from "../src/stores/express_session.ts";
import { type OriginalSessionData, toOriginalSession } from "../src/stores/original_session.ts";
import { fromV9Store, type V9Store } from "../src/stores/v9_store.ts";
import { BACKENDS, openBackend } from "./helpers/express_session_targets.ts";
import { requireSharedRedis, SHARED_REDIS_URL } from "./kit/redis.ts";
import { dropPrefix, uniquePrefix } from "./helpers/redis_targets.ts";
import { openDb, type RawDb, tempDir, values } from "./helpers/sqlite_db.ts";
import { V9RedisStore, V9SqliteStore } from "./helpers/v9_stores.ts";

const MIN = 60_000;
const META = '{"i":2592000,"p":true,"ua":"Mozilla/5.0","ip":"127.0.0.1"}';

function fields(o: Record<string, unknown>): JsonFields {
  const out: JsonFields = Object.create(null);
  for (const k of Object.keys(o)) out[k] = JSON.stringify(o[k]);
  return out;
}

function record(data: Record<string, unknown>, now: number): SessionRecord {
  return {
    data: fields(data),
    flash: Object.create(null),
    createdAt: now,
    expiresAt: now + 10 * MIN,
  };
}

function change(now: number, partial: Partial<SessionChange> = {}): SessionChange {
  return {
    clear: false,
    set: Object.create(null),
    delete: [],
    flash: null,
    expiresAt: now + 10 * MIN,
    ...partial,
  };
}

/** The newer fields of a record, for comparing. */
function userFields(r: SessionRecord | null) {
  assert.ok(r, "the session is there");
  return { userId: r.userId, lastSeenAt: r.lastSeenAt, meta: r.meta, boundAt: r.boundAt };
}

/** One backend under an adapter, with ways around the adapter. */
interface Target {
  /** A new adapter over one store object (the same object every call). */
  adapter(): ServerStore;
  /** Write `r` under `key` as the previous version of the adapter did (without the newer fields). */
  writeAsBefore(key: string, r: SessionRecord, now: number): Promise<void>;
  /** What the backend holds for the newer fields of `key` (read around the adapter). */
  stored(key: string): Promise<Record<string, unknown> | undefined>;
  dispose(): Promise<void>;
}

function callback<T>(fn: (cb: (e?: unknown, v?: T) => void) => unknown): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    fn((e, v) => (e ? reject(e) : resolve(v)));
  });
}

async function expressTarget(name: (typeof BACKENDS)[number]): Promise<Target> {
  const backend = await openBackend(name);
  const raw: ExpressSessionStoreLike = backend.store();
  return {
    adapter: () => new ExpressSessionStore(raw),
    async writeAsBefore(key, r, now) {
      // The session object the previous version wrote: its payload had v, c, e, d, f only.
      const ms = r.expiresAt - now;
      const session = {
        cookie: { originalMaxAge: ms, maxAge: ms, expires: new Date(Date.now() + ms) },
        oak_sessions: { v: 1, c: r.createdAt, e: r.expiresAt, d: { ...r.data }, f: { ...r.flash } },
      };
      await callback((cb) => raw.set(key, session, cb));
    },
    async stored(key) {
      const entry = await backend.entry(key);
      const p = entry?.session.oak_sessions as Record<string, unknown> | undefined;
      if (!p) return undefined;
      const out: Record<string, unknown> = {};
      for (const k of ["u", "s", "m", "b"]) if (k in p) out[k] = p[k];
      return out;
    },
    dispose: () => backend.dispose(),
  };
}

function v9Target(raw: V9Store, done: () => Promise<void>): Target {
  return {
    adapter: () => fromV9Store(raw),
    async writeAsBefore(key, r, now) {
      // The previous version wrote the original's document with `_created`, nothing more.
      await raw.createSession(key, toOriginalSession(r, now));
    },
    async stored(key) {
      const doc = await raw.getSessionById(key) as OriginalSessionData | null;
      return doc?._oak_sessions as Record<string, unknown> | undefined;
    },
    dispose: done,
  };
}

const TARGETS: Array<{ name: string; open(): Promise<Target> }> = [
  ...BACKENDS.map((b) => ({ name: `ExpressSessionStore (${b})`, open: () => expressTarget(b) })),
  {
    name: "fromV9Store (the original's SqliteStore)",
    async open() {
      const dir = tempDir();
      const db: RawDb = await openDb(dir.file("v9.db"));
      return v9Target(new V9SqliteStore(db, "v9_sessions"), () => {
        db.close();
        dir.remove();
        return Promise.resolve();
      });
    },
  },
  {
    name: "fromV9Store (the original's RedisStore)",
    async open() {
      await requireSharedRedis();
      const client = createClient({ url: SHARED_REDIS_URL });
      client.on("error", () => {});
      await client.connect();
      const prefix = uniquePrefix("v9_fields");
      return v9Target(new V9RedisStore(client, prefix), async () => {
        await dropPrefix(client, prefix);
        await client.close();
      });
    },
  },
];

for (const { name, open } of TARGETS) {
  describe(`${name}: user fields and counters`, () => {
    let target: Target;
    let store: ServerStore;
    let keys = 0;
    const newKey = () => `k${++keys}_${Math.random().toString(36).slice(2, 10)}`;
    before(async () => {
      target = await open();
      store = target.adapter();
    });
    after(async () => {
      await target?.dispose();
    });

    it("create and get keep userId, lastSeenAt and meta (boundAt is dropped)", async () => {
      const now = Date.now();
      const key = newKey();
      const r = {
        ...record({ cart: 1 }, now - 5000),
        userId: "ann",
        lastSeenAt: now - 10,
        meta: META,
      };
      await store.create(key, { ...r, boundAt: now - 5000 }, now);
      const got = await store.get(key, now);
      assert.deepEqual(userFields(got), {
        userId: "ann",
        lastSeenAt: now - 10,
        meta: META,
        boundAt: undefined,
      });
      assert.deepEqual(values(got!.data), { cart: 1 });
      const stored = await target.stored(key);
      assert.ok(stored, "the backend holds them");
      assert.equal(stored.u, "ann");
      assert.equal(stored.s, now - 10);
      assert.equal(stored.m, META);
      assert.ok(!("b" in stored), "boundAt is not stored");
    });

    it("a session without them is stored without them", async () => {
      const now = Date.now();
      const key = newKey();
      await store.create(key, record({ a: 1 }, now), now);
      assert.deepEqual(userFields(await store.get(key, now)), {
        userId: undefined,
        lastSeenAt: undefined,
        meta: undefined,
        boundAt: undefined,
      });
      const stored = await target.stored(key);
      assert.ok(stored === undefined || Object.keys(stored).length === 0, JSON.stringify(stored));
    });

    it("update binds, replaces, keeps and unbinds; rotate carries them", async () => {
      const now = Date.now();
      const key = newKey();
      await store.create(key, record({ a: 1 }, now - 1000), now);
      assert.equal(
        await store.update(key, change(now, { userId: "bob", lastSeenAt: now, meta: META }), now),
        true,
      );
      assert.deepEqual(userFields(await store.get(key, now)), {
        userId: "bob",
        lastSeenAt: now,
        meta: META,
        boundAt: undefined,
      });
      // Absent fields keep what is stored.
      assert.equal(await store.update(key, change(now, { set: fields({ b: 2 }) }), now), true);
      const kept = await store.get(key, now);
      assert.deepEqual(userFields(kept), {
        userId: "bob",
        lastSeenAt: now,
        meta: META,
        boundAt: undefined,
      });
      assert.deepEqual(values(kept!.data), { a: 1, b: 2 });
      // Another user, a later write, other settings.
      await store.update(key, change(now, { userId: "cy", lastSeenAt: now + 1, meta: "{}" }), now);
      assert.deepEqual(userFields(await store.get(key, now)).userId, "cy");
      // Unbinding removes the user and keeps the rest.
      await store.update(key, change(now, { userId: null, lastSeenAt: now + 2 }), now);
      assert.deepEqual(userFields(await store.get(key, now)), {
        userId: undefined,
        lastSeenAt: now + 2,
        meta: "{}",
        boundAt: undefined,
      });
      assert.equal((await target.stored(key))?.u, undefined, "no user in the backend either");
      // A rotation carries them to the new key, with its own change applied.
      await store.update(key, change(now, { userId: "dee" }), now);
      const moved = newKey();
      assert.equal(await store.rotate(key, moved, change(now, { lastSeenAt: now + 3 }), now), true);
      // The old key holds only the rotation's marker: no user, nothing of the session.
      const marker = await store.get(key, now);
      assert.equal(marker?.movedAt, now);
      assert.deepEqual(userFields(marker), {
        userId: undefined,
        lastSeenAt: undefined,
        meta: undefined,
        boundAt: undefined,
      });
      assert.deepEqual(userFields(await store.get(moved, now)), {
        userId: "dee",
        lastSeenAt: now + 3,
        meta: "{}",
        boundAt: undefined,
      });
    });

    it("a session stored by the previous version loads without them, and takes them on its next write", async () => {
      const now = Date.now();
      const key = newKey();
      await target.writeAsBefore(key, record({ views: 4, name: "ann" }, now - 2000), now);
      const old = await store.get(key, now);
      assert.deepEqual(userFields(old), {
        userId: undefined,
        lastSeenAt: undefined,
        meta: undefined,
        boundAt: undefined,
      });
      assert.deepEqual(values(old!.data), { views: 4, name: "ann" });
      assert.equal(old!.createdAt, now - 2000);
      const incremented = change(now, {
        increment: Object.assign(Object.create(null), { views: 2 }),
        userId: "ann",
        lastSeenAt: now,
      });
      assert.equal(await store.update(key, incremented, now), true);
      const got = await store.get(key, now);
      assert.deepEqual(values(got!.data), { views: 6, name: "ann" });
      assert.equal(got!.userId, "ann");
      assert.equal(got!.lastSeenAt, now);
    });

    it("50 concurrent update() increments of one key land exactly", async () => {
      const now = Date.now();
      const key = newKey();
      await store.create(key, record({ views: 10, name: "ann" }, now), now);
      const inc = (k: string, by: number) =>
        change(now, { increment: Object.assign(Object.create(null), { [k]: by }) });
      const results = await Promise.all(
        Array.from({ length: 50 }, () => store.update(key, inc("views", 1), now)),
      );
      assert.deepEqual(new Set(results), new Set([true]));
      assert.deepEqual(values((await store.get(key, now))!.data), { views: 60, name: "ann" });

      // Two adapters over one store object (one process) share the queue; sets of
      // other keys interleaved; a missing key counts as 0; a non-number is left alone.
      const second = target.adapter();
      const mixed: Promise<WriteResult>[] = [];
      for (let i = 0; i < 50; i++) {
        const via = i % 2 === 0 ? store : second;
        mixed.push(via.update(key, inc("views", 1), now));
        mixed.push(via.update(key, inc("fresh", 0.5), now));
        mixed.push(via.update(key, inc("name", 1), now));
        if (i % 10 === 0) {
          mixed.push(via.update(key, change(now, { set: fields({ [`s${i}`]: i }) }), now));
        }
      }
      await Promise.all(mixed);
      assert.deepEqual(values((await store.get(key, now))!.data), {
        views: 110,
        fresh: 25,
        name: "ann",
        s0: 0,
        s10: 10,
        s20: 20,
        s30: 30,
        s40: 40,
      });
    });

    it("has no listByUser or deleteByUser (no per-user query)", () => {
      assert.equal(store.listByUser, undefined);
      assert.equal(store.deleteByUser, undefined);
    });
  });
}

describe("fromV9Store: its extra document key never takes a user key's place", () => {
  const dir = tempDir();
  let db: RawDb;
  before(async () => {
    db = await openDb(dir.file("v9_names.db"));
  });
  after(() => {
    db.close();
    dir.remove();
  });

  it("a user key named _oak_sessions is kept as data, beside the user fields", async () => {
    const raw = new V9SqliteStore(db, "v9_extra");
    const store = fromV9Store(raw);
    const now = Date.now();
    const mine = { v: 1, u: "mallory", s: 1 };
    await store.create("k", { ...record({ _oak_sessions: mine }, now), userId: "ann" }, now);
    const got = await store.get("k", now);
    assert.equal(got!.userId, "ann");
    assert.deepEqual(values(got!.data), { _oak_sessions: mine });
    // Without user fields the key is still shadowed, so it is never read as them.
    await store.create("j", record({ _oak_sessions: mine }, now), now);
    const plain = await store.get("j", now);
    assert.equal(plain!.userId, undefined);
    assert.deepEqual(values(plain!.data), { _oak_sessions: mine });
    // One written at the top level by the previous version, not of our shape, is data too.
    const doc = toOriginalSession(record({}, now), now);
    doc._oak_sessions = { note: "an app's own value" };
    await raw.createSession("old", doc);
    const old = await store.get("old", now);
    assert.equal(old!.userId, undefined);
    assert.deepEqual(values(old!.data), { _oak_sessions: { note: "an app's own value" } });
  });

  it("damaged user fields read as no session", async () => {
    const raw = new V9SqliteStore(db, "v9_damaged");
    const store = fromV9Store(raw);
    const now = Date.now();
    for (const bad of [{ v: 1, u: 42 }, { v: 1, u: "" }, { v: 1, s: "later" }, { v: 1, m: {} }]) {
      const doc = toOriginalSession(record({ a: 1 }, now), now);
      doc._oak_sessions = bad;
      await raw.createSession("d", doc);
      assert.equal(await store.get("d", now), null, JSON.stringify(bad));
    }
  });
});
