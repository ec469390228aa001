// With `app.keys`, Oak signs the session cookie and the middleware reads it
// through Oak's cookie jar, which checks the signature: a cookie whose
// signature does not match names no session. Without keys, the middleware
// reads the Cookie header itself (no promise); both ways find the session.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application } from "@oakserver/oak";
import { MemoryStore, Session } from "../mod.ts";
import { CookieClient } from "./kit/http_client.ts";
import { serve } from "./kit/oak_server.ts";

function counterApp(keys?: string[]): Application {
  const app = new Application(keys ? { keys } : {});
  app.use(Session.initMiddleware(new MemoryStore()));
  app.use((ctx) => {
    const count = (ctx.state.session.get("count") ?? 0) + 1;
    ctx.state.session.set("count", count);
    ctx.response.body = { count };
  });
  return app;
}

describe("the session cookie", () => {
  it("signed with app.keys: kept across requests, and a forged signature opens nothing", async () => {
    const server = await serve(counterApp(["a secret key of this app, long enough"]));
    try {
      const c = new CookieClient(server.url);
      assert.equal((await c.get("/")).json().count, 1);
      assert.ok(c.cookies.has("session.sig"), "Oak signed the ID cookie");
      assert.equal((await c.get("/")).json().count, 2);
      const forged = c.clone();
      const sig = forged.cookies.get("session.sig")!;
      forged.cookies.set("session.sig", (sig[0] === "A" ? "B" : "A") + sig.slice(1));
      assert.equal((await forged.get("/")).json().count, 1, "a new session, not the signed one");
      const unsigned = c.clone();
      unsigned.cookies.delete("session.sig");
      assert.equal((await unsigned.get("/")).json().count, 1);
      assert.equal((await c.get("/")).json().count, 3, "the real cookie still works");
    } finally {
      server.close();
    }
  });

  it("without keys: read from the first matching cookie of the header, as Oak does", async () => {
    const server = await serve(counterApp());
    try {
      const c = new CookieClient(server.url);
      assert.equal((await c.get("/")).json().count, 1);
      const id = c.cookies.get("session")!;
      const header = `other=1; xsession=junk;  session=${id}; session=ignored`;
      const reply = await c.request("/", { headers: { cookie: header } });
      assert.equal(reply.json().count, 2);
    } finally {
      server.close();
    }
  });
});
