/**
 * Anti-replay: the expiry is sealed inside the cookie, so a captured cookie
 * stops opening at its idle expiry and at the session's absolute expiry,
 * however often a client replays it and whatever cookie attributes it
 * ignores. A cookie copied before a logout replays only until its sealed
 * idle expiry (a client-side store keeps no server state to revoke it
 * sooner; use a server-side store when that matters). The clock is the
 * middleware's `now` option, the one fake here: real time cannot be
 * fast-forwarded.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application, Router } from "@oakserver/oak";
import { Session } from "../src/session.ts";
import { newSessionId } from "../src/session_id.ts";
import { emptyFields } from "../src/store.ts";
import { CookieStore } from "../src/stores/cookie.ts";
import { oakJar, setCookies } from "./helpers/oak_cookies.ts";
import { BrowserJar } from "./kit/http_client.ts";
import { type RunningServer, serve } from "./kit/oak_server.ts";
import { CRYPTO_PATHS } from "./helpers/crypto_paths.ts";

const IDLE_S = 60;
const ABSOLUTE_S = 300;
const SECRET = "anti-replay test secret, at least 32 characters";

for (const cryptoPath of CRYPTO_PATHS) {
  describe(`a captured cookie is not accepted after its expiry [${cryptoPath}]`, () => {
    let server: RunningServer;
    let clock = 1_750_000_000_000;
    const url = (path: string) => `${server.origin}${path}`;

    before(async () => {
      const middleware = Session.initMiddleware(new CookieStore(SECRET, { crypto: cryptoPath }), {
        expireAfterSeconds: IDLE_S,
        absoluteTimeoutSeconds: ABSOLUTE_S,
        now: () => clock,
      });
      const router = new Router();
      router.post("/login", middleware, (ctx) => {
        ctx.state.session.set("user", "ada");
        ctx.response.body = { ok: true };
      });
      router.get("/whoami", middleware, (ctx) => {
        ctx.response.body = { user: ctx.state.session.get("user") ?? null };
      });
      router.post("/logout", middleware, async (ctx) => {
        await ctx.state.session.deleteSession();
        ctx.response.body = { ok: true };
      });
      const app = new Application();
      app.use(router.routes());
      server = await serve(app);
    });

    after(() => server.close());

    const seconds = (s: number) => (clock += s * 1000);

    it("after its idle expiry, however the client replays it", async () => {
      const browser = new BrowserJar();
      await browser.fetch(url("/login"), { method: "POST" });
      const captured = browser.clone();
      seconds(IDLE_S - 1);
      assert.deepEqual(await captured.clone().json(url("/whoami")), { user: "ada" });
      seconds(1);
      // The jar never drops cookies by time: only the sealed expiry decides.
      assert.deepEqual(await captured.clone().json(url("/whoami")), { user: null });
      seconds(3600);
      assert.deepEqual(await captured.clone().json(url("/whoami")), { user: null });
    });

    it("after the absolute expiry, even a cookie refreshed by constant use", async () => {
      const browser = new BrowserJar();
      await browser.fetch(url("/login"), { method: "POST" });
      const start = clock;
      const captures: BrowserJar[] = [];
      // Use every 50 s: each request slides the idle expiry and re-seals.
      while (clock + 50_000 < start + ABSOLUTE_S * 1000) {
        seconds(50);
        assert.deepEqual(await browser.json(url("/whoami")), { user: "ada" });
        captures.push(browser.clone());
      }
      assert.ok(captures.length >= 5);
      clock = start + ABSOLUTE_S * 1000 - 1;
      assert.deepEqual(await captures.at(-1)!.clone().json(url("/whoami")), { user: "ada" });
      clock = start + ABSOLUTE_S * 1000;
      for (const captured of [browser, ...captures]) {
        assert.deepEqual(await captured.clone().json(url("/whoami")), { user: null });
      }
    });

    it("a cookie copied before a logout stops opening at its sealed idle expiry", async () => {
      const browser = new BrowserJar();
      await browser.fetch(url("/login"), { method: "POST" });
      const copied = browser.clone();
      await browser.fetch(url("/logout"), { method: "POST" });
      assert.equal(browser.cookies.size, 0, "the logout deleted the browser's cookies");
      assert.deepEqual(await browser.json(url("/whoami")), { user: null });
      seconds(IDLE_S);
      assert.deepEqual(await copied.clone().json(url("/whoami")), { user: null });
    });
  });
}

for (const cryptoPath of CRYPTO_PATHS) {
  describe(`the store itself refuses an expired record [${cryptoPath}]`, () => {
    it("at expiresAt exactly, and after it, read() gives null", async () => {
      const store = new CookieStore(SECRET, { crypto: cryptoPath });
      const now = 1_750_000_000_000;
      const session = {
        id: newSessionId(),
        data: Object.assign(emptyFields(), { user: '"ada"' }),
        flash: emptyFields(),
        createdAt: now - 1000,
        expiresAt: now + 1000,
      };
      const { jar, response } = oakJar({});
      await store.write(jar, session, {});
      const cookies = Object.fromEntries(setCookies(response));
      assert.ok(await store.read(oakJar(cookies).jar, now + 999));
      assert.equal(await store.read(oakJar(cookies).jar, now + 1000), null);
      assert.equal(await store.read(oakJar(cookies).jar, now + 10_000_000), null);
    });
  });
}
