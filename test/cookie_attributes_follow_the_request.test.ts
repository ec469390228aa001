// The session cookie is Secure when the request came over HTTPS (here: Oak
// behind a proxy that says so), not over plain HTTP; user options win; and
// every form of the seed's deleteSession works.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application, Router } from "@oakserver/oak";
import { Session } from "../mod.ts";
import { CookieClient } from "./kit/http_client.ts";
import { serve } from "./kit/oak_server.ts";

describe("cookie attributes follow the request and the options", () => {
  it("Secure over HTTPS (X-Forwarded-Proto with proxy: true), not over HTTP", async () => {
    const app = new Application({ proxy: true });
    app.use(Session.initMiddleware());
    app.use((ctx) => {
      ctx.state.session.set("k", 1);
      ctx.response.body = "ok";
    });
    const server = await serve(app);
    try {
      const https = await new CookieClient(server.url).request("/", {
        headers: { "x-forwarded-proto": "https" },
      });
      assert.ok(https.setCookies[0].attributes.has("secure"));
      const http = await new CookieClient(server.url).get("/");
      assert.ok(!http.setCookies[0].attributes.has("secure"));
      assert.equal(
        http.setCookies[0].attributes.get("expires"),
        undefined,
        "browser-session cookie",
      );
    } finally {
      server.close();
    }
  });

  it("the user's cookieSetOptions and sessionCookieName win over the defaults", async () => {
    const app = new Application();
    app.use(Session.initMiddleware(undefined, {
      sessionCookieName: "sid",
      cookieSetOptions: { sameSite: "strict", path: "/app", httpOnly: true },
      expireAfterSeconds: 120,
    }));
    app.use((ctx) => {
      ctx.state.session.set("k", 1);
      ctx.response.body = "ok";
    });
    const server = await serve(app);
    try {
      const [cookie] = (await new CookieClient(server.url).get("/app")).setCookies;
      assert.equal(cookie.name, "sid");
      assert.equal(cookie.attributes.get("samesite"), "strict");
      assert.equal(cookie.attributes.get("path"), "/app");
      assert.ok(cookie.attributes.has("expires"));
    } finally {
      server.close();
    }
  });

  it("deleteSession accepts a context, an ID, or a promise of an ID (seed style)", async () => {
    const session = new Session();
    const router = new Router();
    router
      .post("/set", session.initMiddleware(), (ctx) => {
        ctx.session.set("user", "ann");
        ctx.response.body = ctx.session.id;
      })
      .get("/get", session.initMiddleware(), (ctx) => {
        ctx.response.body = { user: ctx.session.get("user") ?? null };
      })
      .post("/by-promise", async (ctx) => {
        // The seed's comment: `session.deleteSession(ctx.cookies.get('session'))`.
        await session.deleteSession(ctx.cookies.get("session"));
        ctx.response.body = "ok";
      })
      .post("/by-id", async (ctx) => {
        await session.deleteSession(await ctx.request.body.text());
        ctx.response.body = "ok";
      });
    const app = new Application();
    app.use(router.routes());
    const server = await serve(app);
    try {
      for (const how of ["/by-promise", "/by-id"]) {
        const c = new CookieClient(server.url);
        const id = (await c.post("/set")).text;
        assert.deepEqual((await c.get("/get")).json(), { user: "ann" });
        if (how === "/by-id") await c.request(how, { method: "POST", body: id });
        else await c.post(how);
        assert.deepEqual((await c.get("/get")).json(), { user: null }, how);
      }
    } finally {
      server.close();
    }
  });
});
