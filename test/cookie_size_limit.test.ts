/**
 * Size limits: a session too large for `maxCookies` cookies fails at commit
 * with a `SessionTooLargeError` naming its size and the limit, before any
 * cookie is set, so the client keeps its previous, valid session. A session
 * that fills the default limit exactly still reaches the server (the default
 * keeps the `Cookie` header inside Node's 16 KB limit for all headers).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application, Router } from "@oakserver/oak";
import { SessionTooLargeError } from "../src/errors.ts";
import { sendEverySetCookie } from "../src/oak_set_cookie.ts";
import { Session } from "../src/session.ts";
import { newSessionId } from "../src/session_id.ts";
import { emptyFields, type SealedSession } from "../src/store.ts";
import { CookieStore, DEFAULT_MAX_COOKIES } from "../src/stores/cookie.ts";
import { oakJar } from "./helpers/oak_cookies.ts";
import { BrowserJar } from "./kit/http_client.ts";
import { type RunningServer, serve } from "./kit/oak_server.ts";
import { CRYPTO_PATHS } from "./helpers/crypto_paths.ts";

const SECRET = "size limit test secret, at least 32 characters";
const NAME = "session_data";

/** A random base64url-like string: barely compressible. */
function noise(n: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  return Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => alphabet[b & 63]).join("");
}

/** A record shaped like the middleware's: 43-character ID, 13-digit times, its last write. */
function record(blob: string): SealedSession {
  const now = Date.now();
  return {
    id: newSessionId(),
    data: Object.assign(emptyFields(), { blob: JSON.stringify(blob) }),
    flash: emptyFields(),
    createdAt: now,
    expiresAt: now + 3_600_000,
    lastSeenAt: now,
  };
}

/** Whether a session holding `n` characters fits `store` (sealed length depends on `n` alone). */
async function fits(store: CookieStore, n: number): Promise<boolean> {
  try {
    await store.write(oakJar({}).jar, record("x".repeat(n)), {});
    return true;
  } catch (error) {
    if (error instanceof SessionTooLargeError) return false;
    throw error;
  }
}

/** The most characters of session data that fit the default limit. */
async function largestFit(store: CookieStore): Promise<number> {
  let lo = 0;
  let hi = store.maxSealedLength;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (await fits(store, mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

for (const cryptoPath of CRYPTO_PATHS) {
  describe(`a session too large for its cookies [${cryptoPath}]`, () => {
    it("throws SessionTooLargeError naming the size and the limit, setting no cookie", async () => {
      const store = new CookieStore(SECRET, { crypto: cryptoPath });
      const { jar, response } = oakJar({});
      await assert.rejects(store.write(jar, record(noise(9000)), {}), (error: unknown) => {
        assert.ok(error instanceof SessionTooLargeError);
        assert.equal(error.limit, 11_400);
        assert.ok(error.size > error.limit, `${error.size} > ${error.limit}`);
        assert.match(error.message, new RegExp(`${error.size} bytes.*limit of 11400 bytes`));
        assert.match(error.message, /compress/);
        return true;
      });
      assert.deepEqual(response.getSetCookie(), []);
    });

    it("the limit follows maxCookies", async () => {
      const store = new CookieStore(SECRET, { crypto: cryptoPath, maxCookies: 1 });
      await assert.rejects(store.write(oakJar({}).jar, record(noise(3000)), {}), {
        name: "SessionTooLargeError",
        limit: 3800,
      });
    });
  });
}

for (const cryptoPath of CRYPTO_PATHS) {
  describe(`size limits over HTTP [${cryptoPath}]`, () => {
    let server: RunningServer;
    let largest = 0;
    const url = (path: string) => `${server.origin}${path}`;

    before(async () => {
      const store = new CookieStore(SECRET, { crypto: cryptoPath });
      largest = await largestFit(store);
      const router = new Router();
      router.post("/blob", async (ctx) => {
        const { blob } = await ctx.request.body.json();
        ctx.state.session.set("blob", blob);
        ctx.response.body = { ok: true };
      });
      router.get("/blob", (ctx) => {
        ctx.response.body = { blob: ctx.state.session.get("blob") ?? null };
      });
      const app = new Application();
      app.use(async (ctx, next) => {
        try {
          await next();
        } catch (error) {
          if (!(error instanceof SessionTooLargeError)) throw error;
          ctx.response.status = 413;
          ctx.response.body = { size: error.size, limit: error.limit };
        }
      });
      app.use((ctx, next) => {
        sendEverySetCookie(ctx);
        return next();
      });
      app.use(Session.initMiddleware(store, { expireAfterSeconds: 3600 }));
      app.use(router.routes());
      server = await serve(app);
    });

    after(() => server.close());

    const post = (browser: BrowserJar, blob: string) =>
      browser.fetch(url("/blob"), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ blob }),
      });

    it("a session filling the default limit is set and read back", async () => {
      const browser = new BrowserJar();
      const blob = noise(largest);
      assert.equal((await post(browser, blob)).status, 200);
      const total = [...browser.cookies.values()].reduce((n, c) => n + c.value.length, 0);
      assert.equal(browser.cookies.size, DEFAULT_MAX_COOKIES);
      assert.ok(total > 11_400 - 4 && total <= 11_400, `${total} characters in cookies`);
      assert.deepEqual(await browser.json(url("/blob")), { blob });
    });

    it("a session over the limit fails at commit and the client keeps its session", async () => {
      const browser = new BrowserJar();
      const kept = noise(100);
      await post(browser, kept);
      const before = browser.header();
      const res = await post(browser, noise(largest + 4));
      assert.equal(res.status, 413);
      const body = await res.json();
      assert.ok(body.size > body.limit && body.limit === 11_400, JSON.stringify(body));
      assert.equal(browser.lastSetCookies.length, 0, "no cookie set, none deleted");
      assert.equal(browser.header(), before);
      assert.deepEqual(await browser.json(url("/blob")), { blob: kept });
      assert.deepEqual(browser.names(), [NAME]);
    });
  });
}
