/**
 * Key rotation: a cookie sealed with an older secret still opens when that
 * secret is listed after the newest one, and is re-sealed with the newest on
 * that very request, even one that only reads; once the older secret is
 * removed from the list, its cookies open to a fresh session. Keys are
 * derived once per secret, never per request.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application, Router } from "@oakserver/oak";
import { nodeCrypto } from "../src/node_builtins.ts";
import { Session } from "../src/session.ts";
import { newSessionId } from "../src/session_id.ts";
import { emptyFields, type SealedSession } from "../src/store.ts";
import { CookieStore } from "../src/stores/cookie.ts";
import { oakJar, setCookies } from "./helpers/oak_cookies.ts";
import { BrowserJar } from "./kit/http_client.ts";
import { type RunningServer, serve } from "./kit/oak_server.ts";
import { CRYPTO_PATHS } from "./helpers/crypto_paths.ts";

const OLD = "the old secret, retired after this test, 32+";
const NEW = "the new secret, sealing from now on, 32+ chars";
const NAME = "session_data";

/** The key ID field of a sealed value (`v1.<keyId>.<iv>.<ciphertext>`). */
function keyIdOf(sealed: string): string {
  return sealed.split(".")[1];
}

for (const cryptoPath of CRYPTO_PATHS) {
  describe(`key rotation over HTTP [${cryptoPath}]`, () => {
    let server: RunningServer;

    before(async () => {
      // One app, three deployments of it side by side: before the rotation
      // (old secret only), during it (new first, old still accepted), after it
      // (new only). They share the cookie, as successive deployments would.
      const router = new Router();
      const deployments = {
        before: new CookieStore(OLD, { crypto: cryptoPath }),
        during: new CookieStore([NEW, OLD], { crypto: cryptoPath }),
        after: new CookieStore(NEW, { crypto: cryptoPath }),
      };
      for (const [stage, store] of Object.entries(deployments)) {
        const middleware = Session.initMiddleware(store, { expireAfterSeconds: 3600 });
        router.post(`/${stage}/login`, middleware, (ctx) => {
          ctx.state.session.set("user", "ada");
          ctx.response.body = { ok: true };
        });
        router.get(`/${stage}/whoami`, middleware, (ctx) => {
          ctx.response.body = { user: ctx.state.session.get("user") ?? null };
        });
      }
      const app = new Application();
      app.use(router.routes());
      server = await serve(app);
    });

    after(() => server.close());

    it("an old-key cookie is accepted and re-sealed with the new key; the old key then goes", async () => {
      const browser = new BrowserJar();
      await browser.fetch(`${server.origin}/before/login`, { method: "POST" });
      const oldCookie = browser.cookies.get(NAME)!.value;
      const captured = browser.clone();

      // During the rotation: a read-only request still re-seals, with the new key.
      assert.deepEqual(await browser.json(`${server.origin}/during/whoami`), { user: "ada" });
      assert.equal(browser.lastSetCookies.length, 1, "one cookie set: the re-sealed session");
      const newCookie = browser.cookies.get(NAME)!.value;
      assert.notEqual(keyIdOf(newCookie), keyIdOf(oldCookie));

      // Re-sealed once: the next read-only request sets nothing.
      assert.deepEqual(await browser.json(`${server.origin}/during/whoami`), { user: "ada" });
      assert.equal(browser.lastSetCookies.length, 0, "nothing set");

      // After the rotation: the re-sealed cookie opens, the old one does not.
      assert.deepEqual(await browser.json(`${server.origin}/after/whoami`), { user: "ada" });
      assert.deepEqual(await captured.json(`${server.origin}/after/whoami`), { user: null });
    });

    it("a cookie sealed with the new key does not open where only the old key is known", async () => {
      const browser = new BrowserJar();
      await browser.fetch(`${server.origin}/after/login`, { method: "POST" });
      assert.deepEqual(await browser.json(`${server.origin}/before/whoami`), { user: null });
    });
  });
}

for (const cryptoPath of CRYPTO_PATHS) {
  describe(`key rotation in the store [${cryptoPath}]`, () => {
    const now = 1_750_000_000_000;
    const session: SealedSession = {
      id: newSessionId(),
      data: Object.assign(emptyFields(), { user: '"ada"' }),
      flash: emptyFields(),
      createdAt: now,
      expiresAt: now + 60_000,
    };

    async function write(store: CookieStore): Promise<Record<string, string>> {
      const { jar, response } = oakJar({});
      await store.write(jar, session, {});
      return Object.fromEntries(setCookies(response));
    }

    it("read() marks a cookie of an older secret stale, and one of the newest fresh", async () => {
      const rotating = new CookieStore([NEW, "a middle secret, also still accepted, 32+", OLD], {
        crypto: cryptoPath,
      });
      const fromOld = await rotating.read(
        oakJar(await write(new CookieStore(OLD, { crypto: cryptoPath }))).jar,
        now,
      );
      assert.deepEqual(fromOld, { session, stale: true });
      const fromNew = await rotating.read(oakJar(await write(rotating)).jar, now);
      assert.deepEqual(fromNew, { session, stale: false });
    });

    it("keys are derived once per secret, not per request", async () => {
      // A counting wrapper around the real derivation of this path (it still
      // does the work): Web Crypto derives each AES key with deriveKey,
      // node:crypto derives the key and the key ID with hkdfSync.
      let derivations = 0;
      let restore: () => void;
      if (cryptoPath === "web") {
        const subtle = crypto.subtle;
        const original = subtle.deriveKey;
        subtle.deriveKey = function (...args: Parameters<SubtleCrypto["deriveKey"]>) {
          derivations++;
          return original.apply(subtle, args);
        } as SubtleCrypto["deriveKey"];
        restore = () => subtle.deriveKey = original;
      } else {
        const node = nodeCrypto!;
        const original = node.hkdfSync;
        node.hkdfSync = function (...args: Parameters<typeof original>) {
          derivations++;
          return original.apply(node, args);
        } as typeof original;
        restore = () => node.hkdfSync = original;
      }
      const perSecret = cryptoPath === "web" ? 1 : 2;
      try {
        const store = new CookieStore([NEW, OLD], { crypto: cryptoPath });
        for (let i = 0; i < 25; i++) {
          const cookies = await write(store);
          assert.ok(await store.read(oakJar(cookies).jar, now));
        }
        assert.equal(derivations, 2 * perSecret, "derived once for each of the two secrets");
      } finally {
        restore();
      }
    });

    it("a derivation that fails is retried on the next request, not kept", async () => {
      // An injected fault (nothing real makes the platform's HKDF fail): the
      // first derivation of this path throws or rejects, the real one follows.
      const sealed = await write(new CookieStore(NEW, { crypto: cryptoPath }));
      let failures = 0;
      let restore: () => void;
      if (cryptoPath === "web") {
        const subtle = crypto.subtle;
        const original = subtle.deriveKey;
        subtle.deriveKey = function (...args: Parameters<SubtleCrypto["deriveKey"]>) {
          if (failures++ === 0) return Promise.reject(new Error("injected fault"));
          return original.apply(subtle, args);
        } as SubtleCrypto["deriveKey"];
        restore = () => subtle.deriveKey = original;
      } else {
        const node = nodeCrypto!;
        const original = node.hkdfSync;
        node.hkdfSync = function (...args: Parameters<typeof original>) {
          if (failures++ === 0) throw new Error("injected fault");
          return original.apply(node, args);
        } as typeof original;
        restore = () => node.hkdfSync = original;
      }
      try {
        const store = new CookieStore(NEW, { crypto: cryptoPath });
        // The failed derivation: the cookie does not open, and nothing throws.
        assert.equal(await store.read(oakJar(sealed).jar, now), null);
        // The next request derives again and opens it.
        assert.deepEqual(await store.read(oakJar(sealed).jar, now), { session, stale: false });
        assert.ok(failures >= 2);
      } finally {
        restore();
      }
    });
  });
}
