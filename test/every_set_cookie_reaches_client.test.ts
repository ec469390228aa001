/**
 * Several cookies set in one response all reach the client, also behind
 * Oak's Node.js adapter (which on its own sends only the last `Set-Cookie`),
 * with the response's other headers, status and body unchanged; servers that
 * are not that adapter are left alone.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application } from "@oakserver/oak";
import { sendEverySetCookie } from "../src/oak_set_cookie.ts";
import { type RunningServer, serve } from "./kit/oak_server.ts";

describe("every Set-Cookie reaches the client", () => {
  let server: RunningServer;

  before(async () => {
    const app = new Application();
    app.use(async (ctx, next) => {
      sendEverySetCookie(ctx);
      sendEverySetCookie(ctx); // a second call changes nothing
      await next();
    });
    app.use(async (ctx) => {
      const count = Number(ctx.request.url.searchParams.get("n"));
      for (let i = 0; i < count; i++) await ctx.cookies.set(`c${i}`, `v${i}`);
      await ctx.cookies.set("gone", null);
      ctx.response.status = 201;
      ctx.response.headers.set("x-kept", "yes");
      ctx.response.body = "body kept";
    });
    server = await serve(app);
  });

  after(() => server.close());

  for (const n of [0, 1, 3]) {
    it(`${n} cookies and a deletion: all arrive, the rest of the response intact`, async () => {
      const res = await fetch(`${server.origin}/?n=${n}`);
      assert.equal(res.status, 201);
      assert.equal(res.headers.get("x-kept"), "yes");
      assert.equal(await res.text(), "body kept");
      const names = res.headers.getSetCookie().map((line) => line.split("=")[0]);
      assert.deepEqual(names, [...Array.from({ length: n }, (_, i) => `c${i}`), "gone"]);
    });
  }

  it("leaves a request that is not from Oak's Node adapter alone", () => {
    const respond = () => Promise.resolve();
    const native = { respond };
    sendEverySetCookie({ request: { originalRequest: native } });
    assert.equal(native.respond, respond);
    sendEverySetCookie({ request: {} });
  });
});
