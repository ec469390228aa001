/**
 * `recordDevice: { ip: true }` keeps the client's IP address with a session.
 * Behind a proxy (`new Application({ proxy: true })`) Oak takes it from the
 * client-controlled `X-Forwarded-For` header: what is not an IP address
 * (markup, a host name, garbage) is not kept. Through a real Oak server.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application, Router } from "@oakserver/oak";
import { Session } from "../src/session.ts";
import { isIpAddress } from "../src/ip_address.ts";
import { CookieClient } from "./kit/http_client.ts";
import { type RunningServer, serve } from "./kit/oak_server.ts";

describe("the IP address a session records", () => {
  let server: RunningServer;

  before(async () => {
    const app = new Application({ proxy: true });
    const router = new Router();
    const session = new Session(undefined, { recordDevice: { ip: true } });
    router.post("/login", session.initMiddleware(), (ctx) => {
      ctx.state.session.setUser(ctx.request.url.searchParams.get("user")!);
      ctx.response.body = "ok";
    });
    router.get("/sessions", session.initMiddleware(), async (ctx) => {
      ctx.response.body = await ctx.state.session.listSessions(
        ctx.request.url.searchParams.get("user")!,
      );
    });
    app.use(router.routes());
    server = await serve(app);
  });
  after(() => server.close());

  let n = 0;
  async function recordedIp(forwardedFor: string): Promise<string | undefined> {
    const user = `ip-user-${++n}`;
    const c = new CookieClient(server.url);
    const login = await c.request(`/login?user=${user}`, {
      method: "POST",
      headers: { "x-forwarded-for": forwardedFor },
    });
    assert.equal(login.status, 200);
    const list = (await c.get(`/sessions?user=${user}`)).json();
    assert.equal(list.length, 1);
    return list[0].ip;
  }

  for (const ip of ["203.0.113.7", "2001:db8::1", "::ffff:192.0.2.1"]) {
    it(`keeps ${ip}, an address`, async () => {
      assert.equal(await recordedIp(ip), ip);
    });
  }

  for (
    const bad of [
      "<svg onload=alert(1)>",
      "evil.example",
      "203.0.113.256",
      "1.2.3",
      "2001:db8::1::2",
      "x".repeat(300),
    ]
  ) {
    it(`keeps nothing for ${JSON.stringify(bad.slice(0, 30))}, not an address`, async () => {
      assert.equal(await recordedIp(bad), undefined);
    });
  }
});

describe("isIpAddress", () => {
  it("accepts addresses and refuses the rest", () => {
    for (
      const ok of ["0.0.0.0", "255.255.255.255", "::", "::1", "1::", "fe80::1:2", "1:2:3:4:5:6:7:8"]
    ) assert.ok(isIpAddress(ok), ok);
    for (
      const no of [
        "",
        "01.2.3.4",
        "1.2.3.4.5",
        "1:2:3:4:5:6:7:8:9",
        ":1",
        "1:2:3:4:5:6:7::8:9",
        "g::1",
      ]
    ) assert.ok(!isIpAddress(no), no);
  });
});
