// A store that fails fails the request with a 503, not a crash; nothing
// stored is half-written, and once the store is back the next request works.
// The failure is injected (a real MemoryStore behind a switch that makes its
// calls throw): no real backend here can be made to fail on cue this
// precisely. Real outages of Redis and Webdis are tested in their own files.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application } from "@oakserver/oak";
import { MemoryStore, Session, SessionStoreError } from "../mod.ts";
import type { ServerStore } from "../mod.ts";
import { CookieClient } from "./kit/http_client.ts";
import { serve } from "./kit/oak_server.ts";

function breakable(store: MemoryStore) {
  let down = false;
  const guard = <T>(call: () => Promise<T>): Promise<T> =>
    down ? Promise.reject(new Error("connection refused (injected)")) : call();
  const wrapped: ServerStore = {
    kind: "server",
    get: (k, n) => guard(() => store.get(k, n)),
    create: (k, r, n) => guard(() => store.create(k, r, n)),
    update: (k, c, n) => guard(() => store.update(k, c, n)),
    rotate: (o, k, c, n) => guard(() => store.rotate(o, k, c, n)),
    delete: (k) => guard(() => store.delete(k)),
  };
  return { store: wrapped, setDown: (value: boolean) => (down = value) };
}

describe("a failing store", () => {
  it("answers 503, keeps the process up, loses nothing, and recovers", async () => {
    const errors: unknown[] = [];
    const { store, setDown } = breakable(new MemoryStore());
    const app = new Application({ logErrors: false });
    app.addEventListener("error", (e) => {
      errors.push(e.error);
    });
    app.use(Session.initMiddleware(store));
    app.use(async (ctx) => {
      if (ctx.request.method === "POST") {
        const body = await ctx.request.body.json();
        for (const k of Object.keys(body)) ctx.state.session.set(k, body[k]);
      }
      ctx.response.body = ctx.state.session.all();
    });
    const server = await serve(app);
    try {
      const c = new CookieClient(server.url);
      await c.post("/", { a: 1 });
      setDown(true);
      const read = await c.get("/");
      assert.equal(read.status, 503);
      assert.doesNotMatch(read.text, /refused/, "the cause is not shown to the client");
      const write = await c.post("/", { a: 2, b: 3 });
      assert.equal(write.status, 503);
      assert.equal((await new CookieClient(server.url).post("/", { x: 1 })).status, 503);
      assert.ok(errors.length >= 3);
      for (const e of errors) {
        assert.ok(e instanceof SessionStoreError);
        assert.match((e as Error).message, /session store failed while (reading|saving)/);
      }
      setDown(false);
      const after = await c.get("/");
      assert.equal(after.status, 200);
      assert.deepEqual(after.json(), { a: 1 }, "the failed write left nothing half-written");
    } finally {
      server.close();
    }
  });
});
