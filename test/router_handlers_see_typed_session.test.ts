// In a router handler behind session.initMiddleware(), both names of the
// session are Session<T> with no cast: the middleware's type carries the
// state into Oak's router inference (ctx.state.session) and the Context
// declaration reads it from there (ctx.session). The `@ts-expect-error` lines
// sit in a route no request reaches; tsc and deno check fail if any of them
// stops being an error (as they would if either name were `any`). The
// runtime part shows both names are the same session.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application, Router } from "@oakserver/oak";
import { MemoryStore, Session } from "../mod.ts";
import { CookieClient } from "./kit/http_client.ts";
import { serve } from "./kit/oak_server.ts";

type Cart = { items: string[]; owner: string };

describe("router handlers see the typed session", () => {
  it("types ctx.session and ctx.state.session from the manager's T", async () => {
    const session = new Session<Cart>(new MemoryStore());
    const typed = Session.initMiddleware<Cart>(new MemoryStore());
    const router = new Router();
    router.post("/add", session.initMiddleware(), (ctx) => {
      const items: string[] = ctx.session.get("items") ?? [];
      ctx.state.session.set("items", [...items, `item${items.length}`]);
      ctx.response.body = {
        same: ctx.session === ctx.state.session,
        items: ctx.session.get("items"),
      };
    });
    router.get("/never", session.initMiddleware(), (ctx) => {
      // @ts-expect-error not a key of Cart
      ctx.session.get("nope");
      // @ts-expect-error not a key of Cart
      ctx.state.session.get("nope");
      // @ts-expect-error items is string[]
      ctx.session.set("items", "x");
      // @ts-expect-error owner is a string
      ctx.state.session.set("owner", 1);
    });
    router.get("/never-static", typed, (ctx) => {
      const owner: string | undefined = ctx.session.get("owner");
      // @ts-expect-error not a key of Cart
      ctx.state.session.get("nope");
      ctx.response.body = owner;
    });
    const app = new Application();
    app.use(router.routes());
    const server = await serve(app);
    try {
      const c = new CookieClient(server.url);
      assert.deepEqual((await c.post("/add")).json(), { same: true, items: ["item0"] });
      assert.deepEqual((await c.post("/add")).json(), { same: true, items: ["item0", "item1"] });
    } finally {
      server.close();
    }
  });

  it("fits a router whose own state type names no session", async () => {
    const session = new Session();
    const router = new Router<{ user: string }>();
    router.get("/", session.initMiddleware(), (ctx) => {
      const user: string = ctx.state.user ?? "nobody";
      ctx.response.body = user;
    });
    const app = new Application<{ user: string }>({ state: { user: "ann" } });
    app.use(router.routes());
    const server = await serve(app);
    try {
      assert.equal((await new CookieClient(server.url).get("/")).text, "ann");
    } finally {
      server.close();
    }
  });

  it("leaves the untyped session untyped: the seed's arithmetic compiles", async () => {
    const session = new Session();
    const router = new Router();
    router.get("/", session.initMiddleware(), async (ctx) => {
      const n = (await ctx.session.get("n") ?? 0) + 1;
      ctx.state.session.set("n", n);
      ctx.response.body = String(n);
    });
    const app = new Application();
    app.use(router.routes());
    const server = await serve(app);
    try {
      const c = new CookieClient(server.url);
      assert.deepEqual([(await c.get("/")).text, (await c.get("/")).text], ["1", "2"]);
    } finally {
      server.close();
    }
  });
});
