/**
 * MemoryStore with `maxSessions` evicts the least recently used session, not
 * the oldest: a burst of new (anonymous) sessions pushes out idle ones, never
 * a user who keeps using hers. Reading, updating and rotating a session all
 * count as use. At the store level, and over real HTTP through the middleware.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application, Router } from "@oakserver/oak";
import { MemoryStore } from "../src/stores/memory.ts";
import { Session } from "../src/session.ts";
import { emptyFields, type SessionChange, type SessionRecord } from "../src/store.ts";
import { CookieClient } from "./kit/http_client.ts";
import { type RunningServer, serve } from "./kit/oak_server.ts";

function record(now: number): SessionRecord {
  const data = emptyFields();
  data.user = '"someone"';
  return { data, flash: emptyFields(), createdAt: now, expiresAt: now + 60_000 };
}

function touch(now: number): SessionChange {
  return { clear: false, set: emptyFields(), delete: [], flash: null, expiresAt: now + 60_000 };
}

const now = 1_000_000;

describe("MemoryStore evicts the least recently used session", () => {
  it("a session read since its creation outlives younger sessions that were not", async () => {
    const store = new MemoryStore({ maxSessions: 3 });
    for (const key of ["alice", "b", "c"]) await store.create(key, record(now), now);
    assert.ok(await store.get("alice", now), "alice reads her session");
    await store.create("d", record(now), now);
    assert.equal(store.size, 3);
    assert.equal(await store.get("b", now), null, "b, the least recently used, went");
    for (const key of ["alice", "c", "d"]) assert.ok(await store.get(key, now), key);
  });

  it("an update counts as use", async () => {
    const store = new MemoryStore({ maxSessions: 2 });
    await store.create("alice", record(now), now);
    await store.create("b", record(now), now);
    assert.equal(await store.update("alice", touch(now), now), true);
    await store.create("c", record(now), now);
    assert.equal(await store.get("b", now), null);
    assert.ok(await store.get("alice", now));
  });

  it("a rotated session is the most recently used under its new key", async () => {
    const store = new MemoryStore({ maxSessions: 2 });
    await store.create("alice", record(now), now);
    await store.create("b", record(now), now);
    assert.equal(await store.rotate("alice", "alice2", touch(now), now), true);
    assert.equal(store.size, 2);
    await store.create("c", record(now), now);
    assert.equal(await store.get("b", now), null);
    assert.ok(await store.get("alice2", now));
  });

  it("a burst of 10x the bound in new sessions never evicts a user active during it", async () => {
    const bound = 100;
    const store = new MemoryStore({ maxSessions: bound });
    await store.create("alice", record(now), now);
    for (let i = 0; i < bound * 10; i++) {
      await store.create(`anon${i}`, record(now), now);
      // Alice uses her session more often than the bound turns over.
      if (i % (bound / 2) === 0) assert.ok(await store.get("alice", now), `alice at ${i}`);
    }
    assert.ok(await store.get("alice", now), "alice is still logged in");
    assert.equal(store.size, bound);
    assert.equal(await store.get("anon0", now), null, "idle anonymous sessions went");
  });
});

describe("MemoryStore eviction over HTTP", () => {
  let server: RunningServer;
  const bound = 50;
  before(async () => {
    const router = new Router();
    const mw = Session.initMiddleware(new MemoryStore({ maxSessions: bound }));
    router
      .post("/login", mw, (ctx) => {
        ctx.state.session.set("user", "alice");
        ctx.response.body = "ok";
      })
      .post("/cart", mw, (ctx) => {
        ctx.state.session.set("cart", ["item"]);
        ctx.response.body = "ok";
      })
      .get("/me", mw, (ctx) => {
        ctx.response.body = { user: ctx.state.session.get("user") ?? null };
      });
    const app = new Application();
    app.use(router.routes());
    server = await serve(app);
  });
  after(() => server?.close());

  it("a flood of anonymous visitors that store data does not log out a user who keeps browsing", async () => {
    const alice = new CookieClient(server.url);
    assert.equal((await alice.post("/login")).status, 200);
    const first = new CookieClient(server.url);
    await first.post("/cart");
    for (let i = 0; i < bound * 4; i++) {
      // Each visitor is a new browser whose first request stores a cart.
      assert.equal((await new CookieClient(server.url).post("/cart")).status, 200);
      if (i % 10 === 0) {
        assert.deepEqual((await alice.get("/me")).json(), { user: "alice" }, `${i}`);
      }
    }
    assert.deepEqual((await alice.get("/me")).json(), { user: "alice" }, "still logged in");
    // The idle first visitor was evicted (the bound is real).
    const r = await first.get("/me");
    assert.deepEqual(r.json(), { user: null });
  });
});
