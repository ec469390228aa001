/**
 * Large sessions span several cookies (`session_data`, `session_data.1`,
 * ...): a 12 KB session round-trips through a real Oak server over HTTP, and
 * when the session shrinks the chunk cookies it no longer needs are deleted,
 * so the browser is left with exactly the cookies of the current session.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application, Router } from "@oakserver/oak";
import { sendEverySetCookie } from "../src/oak_set_cookie.ts";
import { Session } from "../src/session.ts";
import { COOKIE_CHUNK_LENGTH, CookieStore } from "../src/stores/cookie.ts";
import { BrowserJar } from "./kit/http_client.ts";
import { type RunningServer, serve } from "./kit/oak_server.ts";
import { CRYPTO_PATHS } from "./helpers/crypto_paths.ts";

const NAME = "session_data";
const SECRET = "chunking test secret, at least 32 characters";

/** `n` characters of random hex: about half as compressible as text, not more. */
function hex(n: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(Math.ceil(n / 2)));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("").slice(0, n);
}

/** A random base64url-like string: barely compressible. */
function noise(n: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  return Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => alphabet[b & 63]).join("");
}

function app(store: CookieStore): Application {
  const router = new Router();
  router.post("/blob", async (ctx) => {
    const { blob } = await ctx.request.body.json();
    ctx.state.session.set("blob", blob);
    ctx.response.body = { ok: true };
  });
  router.post("/destroy", async (ctx) => {
    await ctx.state.session.deleteSession();
    ctx.response.body = { ok: true };
  });
  router.get("/blob", (ctx) => {
    ctx.response.body = { blob: ctx.state.session.get("blob") ?? null };
  });
  const application = new Application();
  // Several Set-Cookie headers in one response need this behind Oak's Node
  // adapter (see src/oak_set_cookie.ts); calling it twice is harmless.
  application.use((ctx, next) => {
    sendEverySetCookie(ctx);
    return next();
  });
  application.use(Session.initMiddleware(store, { expireAfterSeconds: 3600 }));
  application.use(router.routes());
  return application;
}

function post(browser: BrowserJar, url: string, blob: string) {
  return browser.json(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ blob }),
  });
}

/** The names of the store's cookies the browser holds. */
function chunkNames(browser: BrowserJar): string[] {
  return browser.names().filter((n) => n === NAME || n.startsWith(`${NAME}.`));
}

for (const cryptoPath of CRYPTO_PATHS) {
  describe(`a 12 KB session through a real Oak server (compress on, default 3 cookies) [${cryptoPath}]`, () => {
    let server: RunningServer;

    before(async () => {
      server = await serve(app(new CookieStore(SECRET, { crypto: cryptoPath, compress: true })));
    });

    after(() => server.close());

    it("round-trips across three cookies, and shrinking deletes the extra two", async () => {
      const browser = new BrowserJar();
      const big = hex(12 * 1024);
      await post(browser, `${server.origin}/blob`, big);
      assert.deepEqual(chunkNames(browser), [NAME, `${NAME}.1`, `${NAME}.2`]);
      assert.equal(browser.cookies.get(NAME)!.value.length, COOKIE_CHUNK_LENGTH);
      assert.equal(browser.cookies.get(`${NAME}.1`)!.value.length, COOKIE_CHUNK_LENGTH);

      assert.deepEqual(await browser.json(`${server.origin}/blob`), { blob: big });
      assert.equal(browser.lastSetCookies.length, 0, "a read-only request sets no cookie");

      await post(browser, `${server.origin}/blob`, "small");
      const deleted = browser.lastSetCookies.filter((line) =>
        /expires=Thu, 01 Jan 1970/.test(line)
      );
      assert.deepEqual(deleted.map((line) => line.split("=")[0]).sort(), [
        `${NAME}.1`,
        `${NAME}.2`,
      ]);
      assert.deepEqual(chunkNames(browser), [NAME]);
      assert.deepEqual(await browser.json(`${server.origin}/blob`), { blob: "small" });
    });
  });
}

for (const cryptoPath of CRYPTO_PATHS) {
  describe(`chunk cookies follow the session's size (compress off) [${cryptoPath}]`, () => {
    let server: RunningServer;

    before(async () => {
      server = await serve(app(new CookieStore(SECRET, { crypto: cryptoPath })));
    });

    after(() => server.close());

    it("grows from one cookie to three, shrinks to two, then to one", async () => {
      const browser = new BrowserJar();
      const url = `${server.origin}/blob`;
      const steps: [string, string[]][] = [
        [noise(100), [NAME]],
        [noise(7000), [NAME, `${NAME}.1`, `${NAME}.2`]],
        [noise(4000), [NAME, `${NAME}.1`]],
        [noise(10), [NAME]],
      ];
      for (const [blob, names] of steps) {
        await post(browser, url, blob);
        assert.deepEqual(chunkNames(browser), names, `${blob.length} characters`);
        assert.deepEqual(await browser.json(url), { blob });
      }
    });

    it("a destroyed session deletes every chunk cookie", async () => {
      const browser = new BrowserJar();
      await post(browser, `${server.origin}/blob`, noise(7000));
      assert.equal(chunkNames(browser).length, 3);
      await browser.json(`${server.origin}/destroy`, { method: "POST" });
      const deleted = browser.lastSetCookies.filter((line) =>
        /expires=Thu, 01 Jan 1970/.test(line)
      );
      assert.equal(deleted.length, 3);
      assert.deepEqual(chunkNames(browser), []);
    });
  });
}
