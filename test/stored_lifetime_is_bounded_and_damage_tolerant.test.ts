// A session's own lifetime is stored with it (`meta`). What a store hands
// back is trusted only as far as it must be: a damaged `meta` reads as no
// settings (the app's defaults), never a failed request; a lifetime stored
// when the app allowed more is cut to the app's maximum as it is now.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application } from "@oakserver/oak";
import { MemoryStore, Session } from "../mod.ts";
import { sessionKey } from "../src/session_id.ts";
import { newSessionId } from "../src/session_id.ts";
import { CookieClient } from "./kit/http_client.ts";
import { serve } from "./kit/oak_server.ts";

const IDLE = 600;

async function appWith(store: MemoryStore, clock: { now: number }) {
  const app = new Application();
  app.use(Session.initMiddleware(store, {
    expireAfterSeconds: IDLE,
    maxIdleSeconds: 3600,
    now: () => clock.now,
  }));
  app.use((ctx) => {
    ctx.response.body = ctx.state.session.all();
  });
  return await serve(app);
}

/** A client holding the ID of a session planted in `store` with `meta`. */
async function planted(store: MemoryStore, server: { url: string }, now: number, meta: string) {
  const id = newSessionId();
  await store.create(await sessionKey(id), {
    data: { k: '"v"' },
    flash: {},
    createdAt: now,
    lastSeenAt: now,
    // As the store would have it after a long lifetime: far ahead.
    expiresAt: now + 86_400_000,
    meta,
  }, now);
  const c = new CookieClient(server.url);
  c.cookies.set("session", id);
  return c;
}

describe("a stored lifetime", () => {
  for (const meta of ["{not json", "null", "[]", '"text"', '{"i":"86400","p":"yes"}', '{"i":-5}']) {
    it(`damaged meta ${meta} reads as the app's defaults`, async () => {
      const store = new MemoryStore();
      const clock = { now: Date.now() };
      const server = await appWith(store, clock);
      try {
        const c = await planted(store, server, clock.now, meta);
        const r = await c.get("/");
        assert.equal(r.status, 200);
        assert.deepEqual(r.json(), { k: "v" });
        // The app's idle timeout applies, not the stored one.
        clock.now += (IDLE + 1) * 1000;
        assert.deepEqual((await c.get("/")).json(), {});
      } finally {
        server.close();
      }
    });
  }

  it("is cut to the app's maximum as it is now", async () => {
    const store = new MemoryStore();
    const clock = { now: Date.now() };
    const server = await appWith(store, clock);
    try {
      // Stored when the app allowed a day; it allows an hour now.
      const c = await planted(store, server, clock.now, JSON.stringify({ i: 86_400, p: true }));
      const r = await c.get("/");
      assert.deepEqual(r.json(), { k: "v" });
      const cookie = r.setCookies.find((x) => x.name === "session");
      assert.ok(cookie, "the refresh re-sends the cookie");
      const expires = Date.parse(cookie.attributes.get("expires") ?? "");
      assert.ok(Math.abs(expires - (Date.now() + 3600_000)) < 10_000, "Max-Age of an hour");
      clock.now += 3601_000;
      assert.deepEqual((await c.get("/")).json(), {});
    } finally {
      server.close();
    }
  });
});
