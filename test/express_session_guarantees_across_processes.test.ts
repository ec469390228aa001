/**
 * What ExpressSessionStore guarantees, and what it does not, over three real
 * express-session stores (connect-redis, connect-pg-simple,
 * session-file-store), exactly as the README states it:
 *
 * - in one process: concurrent changes of different keys all land (also
 *   through two adapters over one store object), a delete wins, a rotation
 *   is never undone by a write queued behind it;
 * - across processes (two store objects over one backend, each with its own
 *   adapter queue, as two app instances have): a delete still wins over an
 *   update or a rotation in flight (the deletion marker), and without the
 *   marker it would not; a rotation that lost the race with another
 *   rotation writes nothing; overlapping updates of different keys lose one
 *   (the last whole-session write wins);
 * - the backend's own TTL follows the session's expiry; the backend sees the
 *   SHA-256 of the ID, never the ID;
 * - a store that hangs fails the call with a SessionStoreError, and the next
 *   call after it recovers works; a store missing get/set/destroy is refused
 *   with a SessionConfigError naming what to pass.
 *
 * The one injected fault: a wrapper around a real store that holds one `get`
 * answer until the test releases it, to put another process's write exactly
 * inside the adapter's read-to-write window.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application } from "@oakserver/oak";
import session from "express-session";
import connectPgSimple from "connect-pg-simple";
import sessionFileStore from "session-file-store";
import { createClient } from "redis";
import { RedisStore as ConnectRedisStore } from "connect-redis";
import { SessionConfigError, SessionStoreError } from "../src/errors.ts";
import { Session } from "../src/session.ts";
import { sessionKey } from "../src/session_id.ts";
import type { JsonFields, SessionChange, SessionRecord } from "../src/store.ts";
import {
  DELETION_MARKER_SECONDS,
  ExpressSessionStore,
  type ExpressSessionStoreLike,
} from "../src/stores/express_session.ts";
import { BACKENDS, type ExpressBackend, openBackend } from "./helpers/express_session_targets.ts";
import { CookieClient } from "./kit/http_client.ts";
import { serve } from "./kit/oak_server.ts";
import { type OwnRedis, startOwnRedis } from "./kit/redis.ts";

const MIN = 60_000;

function fields(o: Record<string, unknown>): JsonFields {
  const out: JsonFields = Object.create(null);
  for (const k of Object.keys(o)) out[k] = JSON.stringify(o[k]);
  return out;
}

function values(f: JsonFields | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k in f) out[k] = JSON.parse(f[k]);
  return out;
}

function record(data: Record<string, unknown>, now: number, life = 10 * MIN): SessionRecord {
  return { data: fields(data), flash: Object.create(null), createdAt: now, expiresAt: now + life };
}

function change(now: number, partial: Partial<SessionChange>): SessionChange {
  return {
    clear: false,
    set: Object.create(null),
    delete: [],
    flash: null,
    expiresAt: now + 10 * MIN,
    ...partial,
  };
}

/** A real store whose next `get` of one key answers only when the test releases it. */
function holding(store: ExpressSessionStoreLike) {
  let held: { key: string; reached: () => void; release: Promise<void> } | undefined;
  const wrapper: ExpressSessionStoreLike = {
    get(sid, cb) {
      store.get(sid, (err, value) => {
        const h = held;
        if (h !== undefined && h.key === sid) {
          held = undefined;
          h.reached();
          void h.release.then(() => cb(err, value));
        } else cb(err, value);
      });
    },
    set: (sid, s, cb) => store.set(sid, s, cb),
    destroy: (sid, cb) => store.destroy(sid, cb),
  };
  return {
    store: wrapper,
    /** Hold the next answer to `get(key)`: `reached` resolves once it is held. */
    holdNextGet(key: string) {
      let reached!: () => void;
      let release!: () => void;
      const reachedP = new Promise<void>((r) => (reached = r));
      held = { key, reached, release: new Promise<void>((r) => (release = r)) };
      return { reached: reachedP, release };
    },
  };
}

let counter = 0;
const newKey = () => `k${++counter}_${crypto.randomUUID().slice(0, 8)}`;

for (const name of BACKENDS) {
  describe(`ExpressSessionStore over ${name}`, () => {
    let backend: ExpressBackend;
    before(async () => {
      backend = await openBackend(name);
    });
    after(async () => {
      await backend?.dispose();
    });

    it("in one process, 20 concurrent updates of different keys all land", async () => {
      const now = Date.now();
      const store = new ExpressSessionStore(backend.store());
      const k = newKey();
      await store.create(k, record({ base: 0 }, now), now);
      const results = await Promise.all(
        Array.from(
          { length: 20 },
          (_, i) => store.update(k, change(now, { set: fields({ [`k${i}`]: i }) }), now),
        ),
      );
      assert.deepEqual(results, Array(20).fill(true));
      const got = values((await store.get(k, now))?.data);
      for (let i = 0; i < 20; i++) assert.equal(got[`k${i}`], i, `k${i}`);
    });

    it("in one process, two adapters over one store object share its queue", async () => {
      const now = Date.now();
      const shared = backend.store();
      const [one, two] = [new ExpressSessionStore(shared), new ExpressSessionStore(shared)];
      const k = newKey();
      await one.create(k, record({ base: 0 }, now), now);
      await Promise.all(
        Array.from(
          { length: 10 },
          (_, i) =>
            (i % 2 ? one : two).update(k, change(now, { set: fields({ [`k${i}`]: i }) }), now),
        ),
      );
      const got = values((await one.get(k, now))?.data);
      for (let i = 0; i < 10; i++) assert.equal(got[`k${i}`], i, `k${i}`);
    });

    it("in one process, an update queued behind a rotation finds the session moved", async () => {
      const now = Date.now();
      const store = new ExpressSessionStore(backend.store());
      const [oldK, newK] = [newKey(), newKey()];
      await store.create(oldK, record({ a: 1 }, now), now);
      const [rotated, updated] = await Promise.all([
        store.rotate(oldK, newK, change(now, { set: fields({ b: 2 }) }), now),
        store.update(oldK, change(now, { set: fields({ late: true }) }), now),
      ]);
      // The update finds the rotation's marker: it writes nothing and says so.
      assert.deepEqual([rotated, updated], [true, "moved"]);
      const marker = await store.get(oldK, now);
      assert.equal(marker?.movedAt, now);
      assert.deepEqual(values(marker?.data), {});
      const moved = await store.get(newK, now);
      assert.deepEqual(values(moved?.data), { a: 1, b: 2 });
      assert.equal(moved?.createdAt, now, "createdAt kept");
    });

    it("across processes, a delete during another's update wins: the update is undone", async () => {
      const now = Date.now();
      const a = holding(backend.store());
      const processA = new ExpressSessionStore(a.store);
      const processB = new ExpressSessionStore(backend.store());
      const k = newKey();
      await processB.create(k, record({ user: "ann" }, now), now);
      const held = a.holdNextGet(k);
      const update = processA.update(k, change(now, { set: fields({ late: true }) }), now);
      await held.reached; // A read the live session and is about to write it whole
      await processB.delete(k);
      held.release();
      assert.equal(await update, false, "the update reports it did not apply");
      assert.equal(await processB.get(k, now), null);
      assert.equal(await backend.entry(k), null, "nothing left under the key");
    });

    it("across processes, without deletion markers the same race brings the session back", async () => {
      const now = Date.now();
      const a = holding(backend.store());
      const processA = new ExpressSessionStore(a.store, { markDeletions: false });
      const processB = new ExpressSessionStore(backend.store(), { markDeletions: false });
      const k = newKey();
      await processB.create(k, record({ user: "bob" }, now), now);
      const held = a.holdNextGet(k);
      const update = processA.update(k, change(now, { set: fields({ late: true }) }), now);
      await held.reached;
      await processB.delete(k);
      held.release();
      assert.equal(await update, true);
      assert.deepEqual(values((await processB.get(k, now))?.data), { user: "bob", late: true });
    });

    it("across processes, a rotation whose session is deleted meanwhile leaves nothing", async () => {
      const now = Date.now();
      const a = holding(backend.store());
      const processA = new ExpressSessionStore(a.store);
      const processB = new ExpressSessionStore(backend.store());
      const [oldK, newK] = [newKey(), newKey()];
      await processB.create(oldK, record({ user: "cy" }, now), now);
      const held = a.holdNextGet(oldK);
      const rotation = processA.rotate(oldK, newK, change(now, {}), now);
      await held.reached;
      await processB.delete(oldK);
      held.release();
      assert.equal(await rotation, false);
      assert.equal(await backend.entry(newK), null, "no session under the new key");
      assert.equal(await backend.entry(oldK), null);
    });

    it("across processes, a second rotation of a session already rotated writes nothing", async () => {
      const now = Date.now();
      const a = holding(backend.store());
      const processA = new ExpressSessionStore(a.store);
      const processB = new ExpressSessionStore(backend.store());
      const [oldK, toA, toB] = [newKey(), newKey(), newKey()];
      await processB.create(oldK, record({ user: "dee" }, now), now);
      const held = a.holdNextGet(oldK);
      const rotationA = processA.rotate(oldK, toA, change(now, {}), now);
      await held.reached; // A read the old session before B moved it
      assert.equal(await processB.rotate(oldK, toB, change(now, {}), now), true);
      held.release();
      assert.equal(await rotationA, false, "the old session was marked when B moved it");
      assert.equal(await backend.entry(toA), null);
      assert.deepEqual(values((await processB.get(toB, now))?.data), { user: "dee" });
    });

    it("across processes, overlapping updates of different keys lose one (the last whole write wins)", async () => {
      const now = Date.now();
      const a = holding(backend.store());
      const processA = new ExpressSessionStore(a.store);
      const processB = new ExpressSessionStore(backend.store());
      const k = newKey();
      await processB.create(k, record({ base: 0 }, now), now);
      const held = a.holdNextGet(k);
      const left = processA.update(k, change(now, { set: fields({ left: 1 }) }), now);
      await held.reached;
      assert.equal(await processB.update(k, change(now, { set: fields({ right: 2 }) }), now), true);
      held.release();
      assert.equal(await left, true);
      assert.deepEqual(values((await processB.get(k, now))?.data), { base: 0, left: 1 });
    });

    it("the backend's own TTL follows the session's expiry, and a deletion marker's is short", async () => {
      const now = Date.now();
      const store = new ExpressSessionStore(backend.store());
      const k = newKey();
      await store.create(k, record({ a: 1 }, now, 10 * MIN), now);
      const first = await backend.entry(k);
      assert.ok(first, "stored");
      assert.ok(Math.abs(first.ttlMs - 10 * MIN) < 5000, `TTL ${first.ttlMs} ms, wanted 10 min`);
      await store.update(k, change(now, { expiresAt: now + 30 * MIN }), now);
      const second = await backend.entry(k);
      assert.ok(second && Math.abs(second.ttlMs - 30 * MIN) < 5000, `TTL ${second?.ttlMs} ms`);
      await store.delete(k);
      assert.equal(await backend.entry(k), null);
      const marker = await backend.entry(k + ".gone");
      assert.ok(marker, "a deletion marker");
      assert.ok(Math.abs(marker.ttlMs - DELETION_MARKER_SECONDS * 1000) < 5000, `${marker.ttlMs}`);
    });

    it("a key the backend never held, or a session another app wrote there, reads as none", async () => {
      const now = Date.now();
      const raw = backend.store();
      const store = new ExpressSessionStore(raw);
      assert.equal(await store.get(newKey(), now), null);
      const foreign = newKey();
      await new Promise<void>((resolve, reject) =>
        raw.set(
          foreign,
          { cookie: { originalMaxAge: MIN, expires: new Date(now + MIN) }, user: "x" },
          (e) => (e ? reject(e) : resolve()),
        )
      );
      assert.equal(await store.get(foreign, now), null);
      assert.equal(await store.update(foreign, change(now, { set: fields({ a: 1 }) }), now), false);
    });

    it("the backend sees the SHA-256 of the session ID, never the ID", async () => {
      const app = new Application();
      const adapter = new ExpressSessionStore(backend.store());
      app.use(Session.initMiddleware(adapter));
      app.use(async (ctx) => {
        if (ctx.request.url.pathname === "/logout") await ctx.state.session.deleteSession();
        else ctx.state.session.set("n", 1);
        ctx.response.body = "ok";
      });
      const server = await serve(app);
      try {
        const before = new Set(await backend.keys());
        const c = new CookieClient(server.url);
        await c.get("/");
        const id = c.cookies.get("session") ?? "";
        assert.match(id, /^[A-Za-z0-9_-]{43}$/);
        const added = (await backend.keys()).filter((k) => !before.has(k));
        assert.deepEqual(added, [await sessionKey(id)]);
        await c.get("/logout");
        const after = (await backend.keys()).filter((k) => !before.has(k));
        assert.deepEqual(after, [(await sessionKey(id)) + ".gone"], "only the deletion marker");
        assert.ok(!after.some((k) => k.includes(id)));
      } finally {
        server.close();
      }
    });
  });
}

describe("ExpressSessionStore: a store that hangs, and stores that are not stores", () => {
  let own: OwnRedis | undefined;
  let client: ReturnType<typeof createClient> | undefined;
  after(async () => {
    own?.resume();
    await client?.close().catch(() => {});
    await own?.dispose();
  });

  it("a hung backend fails the call with a SessionStoreError, and the next call after it works", async () => {
    own = await startOwnRedis();
    client = createClient({ url: own.url });
    client.on("error", () => {});
    await client.connect();
    const store = new ExpressSessionStore(
      new ConnectRedisStore({ client, prefix: "hang:" }) as unknown as ExpressSessionStoreLike,
      { timeoutMs: 300 },
    );
    const now = Date.now();
    await store.create("k", record({ a: 1 }, now), now);
    own.pause();
    await assert.rejects(store.get("k", now), (e: unknown) => {
      assert.ok(e instanceof SessionStoreError);
      assert.equal(e.status, 503);
      assert.match(e.message, /RedisStore\.get failed: no answer within 300 ms/);
      return true;
    });
    own.resume();
    assert.deepEqual(values((await store.get("k", now))?.data), { a: 1 });
  });

  it("refuses what lacks get/set/destroy with a SessionConfigError naming what to pass", () => {
    const PGStore = connectPgSimple(session);
    const FileStore = sessionFileStore(session);
    const cases: Array<[unknown, RegExp]> = [
      [
        connectPgSimple,
        /got a function \(a store class or a module's factory\); pass an express-session store instance/,
      ],
      [FileStore, /got a function/],
      [PGStore, /new \(connectPgSimple\(session\)\)\(\{ pool \}\)/],
      [
        new session.Store(),
        /has no get\(sid, callback\), set\(sid, session, callback\), destroy\(sid, callback\)/,
      ],
      [{ get() {}, set() {} }, /has no destroy\(sid, callback\); pass/],
      [null, /expected an express-session store instance.*got null/],
      ["redis://127.0.0.1", /got string/],
    ];
    for (const [value, message] of cases) {
      assert.throws(
        () => new ExpressSessionStore(value as ExpressSessionStoreLike),
        (e: unknown) => e instanceof SessionConfigError && message.test(e.message),
        String(message),
      );
    }
    const ok = { get() {}, set() {}, destroy() {} } as unknown as ExpressSessionStoreLike;
    assert.throws(
      () => new ExpressSessionStore(ok, { timeoutMs: 0 }),
      /timeoutMs must be a positive integer/,
    );
    assert.throws(
      () => new ExpressSessionStore(ok, { markDeletions: "yes" as unknown as boolean }),
      /markDeletions must be true or false/,
    );
  });
});
