// `cookieSetOptions: { secure: true }` on a plain-HTTP request: Oak refuses to
// send the cookie. That is a setup mistake, so the error says what to change
// (it is not a failing store, and nothing is stored for a cookie never sent).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application } from "@oakserver/oak";
import { MemoryStore, Session, SessionConfigError } from "../mod.ts";
import { CookieClient } from "./kit/http_client.ts";
import { serve } from "./kit/oak_server.ts";

describe("a secure cookie on plain HTTP", () => {
  it("fails the request with a SessionConfigError that names the fix, storing nothing", async () => {
    const store = new MemoryStore();
    const errors: unknown[] = [];
    const app = new Application({ logErrors: false });
    app.addEventListener("error", (e) => {
      errors.push(e.error);
    });
    app.use(Session.initMiddleware(store, { cookieSetOptions: { secure: true } }));
    app.use((ctx) => {
      ctx.state.session.set("user", "alice");
      ctx.response.body = "ok";
    });
    const server = await serve(app);
    try {
      const reply = await new CookieClient(server.url).get("/");
      assert.equal(reply.status, 500, "a setup mistake, not a 503 store failure");
      assert.equal(reply.setCookies.length, 0);
      assert.equal(errors.length, 1);
      assert.ok(errors[0] instanceof SessionConfigError, String(errors[0]));
      assert.match((errors[0] as Error).message, /proxy: true/);
      assert.match((errors[0] as Error).message, /secure/);
      assert.equal(store.size, 0, "no session stored for a cookie that cannot be sent");
    } finally {
      server.close();
    }
  });

  it("works behind a proxy Oak trusts (X-Forwarded-Proto: https)", async () => {
    const app = new Application({ proxy: true });
    app.use(Session.initMiddleware(new MemoryStore(), { cookieSetOptions: { secure: true } }));
    app.use((ctx) => {
      ctx.state.session.set("user", "alice");
      ctx.response.body = "ok";
    });
    const server = await serve(app);
    try {
      const reply = await new CookieClient(server.url).request("/", {
        headers: { "x-forwarded-proto": "https" },
      });
      assert.equal(reply.status, 200);
      assert.equal(reply.setCookies.length, 1);
      assert.match(reply.headers.get("set-cookie") ?? "", /;\s*secure/i);
    } finally {
      server.close();
    }
  });
});
