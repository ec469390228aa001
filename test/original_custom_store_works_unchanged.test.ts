// A store its user wrote for the original oak_sessions (its `Store`
// interface: getSessionById, createSession, persistSessionData,
// deleteSession) is passed to `new Session(store)` exactly as before, with
// only the import line changed, and the seed's page counter and logout work
// on it over real HTTP. Its sessions are written under hashed keys.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application, Router } from "@oakserver/oak";
import { Session, type V9Store as Store } from "../mod.ts";
import { sessionKey } from "../src/session_id.ts";
import { CookieClient } from "./kit/http_client.ts";
import { serve } from "./kit/oak_server.ts";

// deno-lint-ignore no-explicit-any
type Doc = any;

/** A user's own store of the original's interface: documents in a Map. */
class MapStore implements Store {
  readonly docs = new Map<string, Doc>();
  getSessionById(id: string): Doc | null {
    return this.docs.has(id) ? structuredClone(this.docs.get(id)) : null;
  }
  createSession(id: string, initialData: Doc): void {
    this.docs.set(id, structuredClone(initialData));
  }
  persistSessionData(id: string, data: Doc): void {
    this.docs.set(id, structuredClone(data));
  }
  deleteSession(id: string): void {
    this.docs.delete(id);
  }
}

describe("a store written for the original's Store interface", () => {
  it("works when passed to new Session(store), as in the original", async () => {
    const store = new MapStore();
    const session = new Session(store);
    const router = new Router();
    router.get("/", session.initMiddleware(), async (ctx) => {
      await ctx.state.session.set("pageCount", (await ctx.state.session.get("pageCount") ?? 0) + 1);
      ctx.response.body = String(await ctx.state.session.get("pageCount"));
    });
    router.post("/delete", async (ctx) => {
      await session.deleteSession(ctx);
      ctx.response.body = "deleted";
    });
    const app = new Application();
    app.use(router.routes());
    const server = await serve(app);
    try {
      const c = new CookieClient(server.url);
      assert.equal((await c.get("/")).text, "1");
      assert.equal((await c.get("/")).text, "2");
      const id = c.cookies.get("session")!;
      assert.equal(store.docs.size, 1);
      assert.ok(store.docs.has(await sessionKey(id)), "kept under the hash of the ID");
      assert.ok(!store.docs.has(id), "never under the ID itself");
      assert.equal((await c.post("/delete")).text, "deleted");
      assert.equal(store.docs.size, 0);
      assert.equal((await c.get("/")).text, "1", "a fresh session after the logout");
    } finally {
      server.close();
    }
  });
});
