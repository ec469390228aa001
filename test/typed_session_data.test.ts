// Typed sessions: `Session<{ count: number }>` types get/set. The
// `@ts-expect-error` lines are checked by `tsc --noEmit` (npm test's type
// check fails if any of them stops being an error); the runtime part runs the
// same code over HTTP.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application, Router } from "@oakserver/oak";
import { MemoryStore, Session } from "../mod.ts";
import { CookieClient } from "./kit/http_client.ts";
import { serve } from "./kit/oak_server.ts";

type Cart = { count: number; user: { name: string }; tags: string[] };
type AppState = { session: Session<Cart> };

describe("typed session data", () => {
  it("types get/set from the data type and still runs", async () => {
    const app = new Application<AppState>();
    app.use(Session.initMiddleware(new MemoryStore()));
    app.use((ctx) => {
      const session = ctx.state.session;
      const count: number | undefined = session.get("count");
      session.set("count", (count ?? 0) + 1);
      const added: number = session.increment("count", 0);
      // @ts-expect-error user holds an object, not a number
      if (added < 0) session.increment("user");
      session.set("user", { name: "ann" });
      const name: string | undefined = session.get("user")?.name;
      // @ts-expect-error a string is not a number
      session.set("count", "x");
      // @ts-expect-error not a key of Cart
      session.get("nope");
      // @ts-expect-error tags is string[]
      session.set("tags", [1]);
      session.delete("tags");
      ctx.response.body = { count: session.get("count"), name };
    });
    const server = await serve(app);
    try {
      const c = new CookieClient(server.url);
      // The @ts-expect-error line threw at run time (a string is JSON, so it was stored).
      assert.deepEqual((await c.get("/")).json(), { count: "x", name: "ann" });
    } finally {
      server.close();
    }
  });

  it("untyped sessions accept the seed's arithmetic on get()", async () => {
    const session = new Session();
    const router = new Router();
    router.get("/", session.initMiddleware(), async (ctx) => {
      if (!await ctx.session.has("n")) await ctx.session.set("n", 0);
      else await ctx.session.set("n", await ctx.session.get("n") + 1);
      ctx.response.body = String(await ctx.state.session.get("n"));
    });
    const app = new Application();
    app.use(router.routes());
    const server = await serve(app);
    try {
      const c = new CookieClient(server.url);
      assert.deepEqual([(await c.get("/")).text, (await c.get("/")).text], ["0", "1"]);
    } finally {
      server.close();
    }
  });
});
