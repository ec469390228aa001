/**
 * A cookie that is not exactly what the store sealed opens to nothing: every
 * single-character and single-byte change of a real sealed cookie, every
 * truncation, another format version, another key, another cookie name,
 * chunks missing, extra, reordered or re-split, and plain garbage. None of
 * them throws, and over HTTP each gives a fresh empty session, never the old
 * data. (Oak's own cookie map stands in for a request where a loop runs
 * thousands of variants; the HTTP part uses a real Oak server.)
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application } from "@oakserver/oak";
import { decodeBase64Url, encodeBase64Url } from "../src/base64url.ts";
import { Session } from "../src/session.ts";
import { newSessionId } from "../src/session_id.ts";
import { emptyFields, type SealedSession } from "../src/store.ts";
import { COOKIE_CHUNK_LENGTH, CookieStore } from "../src/stores/cookie.ts";
import { oakJar, setCookies } from "./helpers/oak_cookies.ts";
import { BrowserJar } from "./kit/http_client.ts";
import { type RunningServer, serve } from "./kit/oak_server.ts";
import { CRYPTO_PATHS } from "./helpers/crypto_paths.ts";

const SECRET = "tampering test secret: 32 characters or more";
const NAME = "session_data";
const NOW = 1_750_000_000_000;
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

function session(data: Record<string, unknown>): SealedSession {
  const fields = emptyFields();
  for (const [k, v] of Object.entries(data)) fields[k] = JSON.stringify(v);
  return {
    id: newSessionId(),
    data: fields,
    flash: emptyFields(),
    createdAt: NOW,
    expiresAt: NOW + 3_600_000,
  };
}

/** The cookies `store.write` sets for `s`, name to value. */
async function sealedCookies(store: CookieStore, s: SealedSession): Promise<Map<string, string>> {
  const { jar, response } = oakJar({});
  await store.write(jar, s, {});
  return setCookies(response);
}

/** The sealed value (all chunks joined) `store.write` produces for `s`. */
async function sealedValue(store: CookieStore, s: SealedSession): Promise<string> {
  return [...(await sealedCookies(store, s)).values()].join("");
}

/** `store.read` of a request carrying `value`, chunked as the store chunks. */
async function readValue(store: CookieStore, value: string, name = NAME) {
  const cookies: Record<string, string> = {};
  for (let i = 0; i * COOKIE_CHUNK_LENGTH < value.length || i === 0; i++) {
    cookies[i === 0 ? name : `${name}.${i}`] = value.slice(
      i * COOKIE_CHUNK_LENGTH,
      (i + 1) * COOKIE_CHUNK_LENGTH,
    );
  }
  return await store.read(oakJar(cookies).jar, NOW);
}

for (const cryptoPath of CRYPTO_PATHS) {
  describe(`a tampered cookie opens to nothing [${cryptoPath}]`, () => {
    const store = new CookieStore(SECRET, { crypto: cryptoPath });
    const original = session({ user: "ada", role: "admin", cart: [1, 2, 3] });
    let sealed = "";

    before(async () => {
      sealed = await sealedValue(store, original);
    });

    it("the untouched cookie opens (so the variants below fail for the change alone)", async () => {
      const opened = await readValue(store, sealed);
      assert.deepEqual(opened, { session: original, stale: false });
    });

    it("every character position, replaced by two other characters, is rejected", async () => {
      let variants = 0;
      for (let i = 0; i < sealed.length; i++) {
        const c = sealed[i];
        const a = ALPHABET.indexOf(c);
        const others = new Set([
          a < 0 ? "A" : ALPHABET[(a + 1) % 64], // another base64url character
          String.fromCharCode(c.charCodeAt(0) ^ 1), // one bit of the character flipped
        ]);
        for (const other of others) {
          if (other === c) continue;
          const variant = sealed.slice(0, i) + other + sealed.slice(i + 1);
          assert.equal(await readValue(store, variant), null, `position ${i}: ${c} -> ${other}`);
          variants++;
        }
      }
      assert.ok(variants >= sealed.length, `${variants} variants`);
    });

    it("every byte of the key ID, IV and ciphertext, flipped, is rejected", async () => {
      const [version, keyId, iv, ciphertext] = sealed.split(".");
      const fields = [keyId, iv, ciphertext];
      for (let f = 0; f < fields.length; f++) {
        const bytes = decodeBase64Url(fields[f])!;
        for (let i = 0; i < bytes.length; i++) {
          for (const mask of [0x01, 0x80, 0xff]) {
            const changed = bytes.slice();
            changed[i] ^= mask;
            const parts = [...fields];
            parts[f] = encodeBase64Url(changed);
            const variant = [version, ...parts].join(".");
            assert.equal(await readValue(store, variant), null, `field ${f} byte ${i} ^ ${mask}`);
          }
        }
      }
    });

    it("every truncation and every extension is rejected", async () => {
      for (let len = 0; len < sealed.length; len++) {
        assert.equal(await readValue(store, sealed.slice(0, len)), null, `first ${len} characters`);
        assert.equal(
          await readValue(store, sealed.slice(len + 1)),
          null,
          `without first ${len + 1}`,
        );
      }
      for (const extra of ["A", "AA", "AAAA", ".", ".AAAA", "=", "=="]) {
        assert.equal(await readValue(store, sealed + extra), null, `with ${extra} appended`);
      }
    });

    it("another format version, or fields added or dropped, are rejected", async () => {
      const [, keyId, iv, ciphertext] = sealed.split(".");
      for (
        const variant of [
          `v2.${keyId}.${iv}.${ciphertext}`,
          `V1.${keyId}.${iv}.${ciphertext}`,
          `v0.${keyId}.${iv}.${ciphertext}`,
          `${keyId}.${iv}.${ciphertext}`,
          `v1.${keyId}.${iv}.${ciphertext}.`,
          `v1.${keyId}.${iv}.${ciphertext}.AAAA`,
          `v1..${keyId}.${iv}.${ciphertext}`,
          `v1.${keyId}.${ciphertext}`,
          `v1.${keyId}.${iv}.${iv}.${ciphertext}`,
          `v1.${iv}.${keyId}.${ciphertext}`,
        ]
      ) {
        assert.equal(await readValue(store, variant), null, variant.slice(0, 40));
      }
    });

    it("characters outside base64url, padding and percent-encoding are rejected", async () => {
      const at = sealed.lastIndexOf(".") + 5;
      for (const bad of ["+", "/", "=", "%41", " ", "\t", "é", "*", '"']) {
        const variant = sealed.slice(0, at) + bad + sealed.slice(at + 1);
        assert.equal(await store.read(oakJar({ [NAME]: variant }).jar, NOW), null, `with ${bad}`);
      }
      // The same value in standard base64: only a value holding "-" or "_" differs there
      // (a random IV leaves about 1 in 100 sealed values without either), so seal until one does.
      let urlSafe = sealed;
      for (let i = 0; i < 100 && !/[-_]/.test(urlSafe); i++) {
        urlSafe = await sealedValue(store, original);
      }
      const standard = urlSafe.replaceAll("-", "+").replaceAll("_", "/");
      assert.notEqual(standard, urlSafe, "a sealed value with - or _ in it");
      assert.ok(await readValue(store, urlSafe), "the base64url value opens");
      assert.equal(await readValue(store, standard), null);
    });

    it("a cookie sealed with another secret is rejected", async () => {
      const other = new CookieStore("another secret that is 32 characters or longer", {
        crypto: cryptoPath,
      });
      assert.equal(await readValue(store, await sealedValue(other, original)), null);
    });

    it("a value moved to another cookie name is rejected (the name is authenticated)", async () => {
      const other = new CookieStore(SECRET, {
        crypto: cryptoPath,
        sessionDataCookieName: "other_data",
      });
      assert.equal(await readValue(other, sealed, "other_data"), null);
      assert.ok(await readValue(other, await sealedValue(other, original), "other_data"));
    });

    it("an expired cookie is rejected even though it is authentic", async () => {
      const old = { ...original, expiresAt: NOW };
      assert.equal(await readValue(store, await sealedValue(store, old)), null);
      const alive = { ...original, expiresAt: NOW + 1 };
      assert.ok(await readValue(store, await sealedValue(store, alive)));
    });

    it("garbage of any shape is rejected without throwing", async () => {
      const garbage = [
        "",
        ".",
        "...",
        "v1...",
        "v1",
        "v1.AAAAAAAA.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "x".repeat(COOKIE_CHUNK_LENGTH),
        "x".repeat(COOKIE_CHUNK_LENGTH + 1),
        "%7B%7D",
        '{"i":"x"}',
        "null",
      ];
      const random = crypto.getRandomValues(new Uint8Array(4000));
      for (let i = 0; i < 200; i++) {
        garbage.push(encodeBase64Url(random.subarray(0, i * 7)));
        garbage.push(`v1.${encodeBase64Url(random.subarray(i, i + 6))}.` + encodeBase64Url(random));
      }
      for (const g of garbage) {
        assert.equal(await store.read(oakJar({ [NAME]: g }).jar, NOW), null, g.slice(0, 40));
      }
    });
  });
}

for (const cryptoPath of CRYPTO_PATHS) {
  describe(`a chunked cookie must come back whole and in order [${cryptoPath}]`, () => {
    const store = new CookieStore(SECRET, { crypto: cryptoPath });
    // About 9,000 characters sealed: three chunks.
    const big = session({ blob: encodeBase64Url(crypto.getRandomValues(new Uint8Array(4800))) });
    let chunks: [string, string][] = [];

    before(async () => {
      chunks = [...(await sealedCookies(store, big))];
      assert.deepEqual(chunks.map(([n]) => n), [NAME, `${NAME}.1`, `${NAME}.2`]);
    });

    const read = (pairs: [string, string][]) =>
      store.read(oakJar(Object.fromEntries(pairs)).jar, NOW);

    it("all chunks in order open", async () => {
      assert.deepEqual(await read(chunks), { session: big, stale: false });
    });

    it("a missing chunk, first, middle or last, is rejected", async () => {
      for (let i = 0; i < chunks.length; i++) {
        assert.equal(await read(chunks.filter((_, j) => j !== i)), null, `without chunk ${i}`);
      }
    });

    it("chunks swapped between positions are rejected", async () => {
      const [a, b, c] = chunks.map(([, v]) => v);
      for (const order of [[b, a, c], [a, c, b], [c, b, a], [b, c, a]]) {
        assert.equal(await read(order.map((v, i) => [chunks[i][0], v])), null);
      }
    });

    it("an extra chunk, right after or after a gap, is rejected", async () => {
      assert.equal(await read([...chunks, [`${NAME}.3`, "AAAA"]]), null);
      assert.equal(await read([...chunks, [`${NAME}.3`, chunks[2][1]]]), null);
      assert.equal(await read([...chunks, [`${NAME}.5`, "AAAA"]]), null);
    });

    it("the same characters split at other boundaries are rejected", async () => {
      const joined = chunks.map(([, v]) => v).join("");
      const cut = COOKIE_CHUNK_LENGTH - 1;
      const moved: [string, string][] = [
        [NAME, joined.slice(0, cut)],
        [`${NAME}.1`, joined.slice(cut, 2 * cut)],
        [`${NAME}.2`, joined.slice(2 * cut)],
      ];
      assert.equal(await read(moved), null);
    });

    it("more chunk cookies than maxCookies are never gathered", async () => {
      const flood: [string, string][] = [[NAME, "A".repeat(COOKIE_CHUNK_LENGTH)]];
      for (let i = 1; i < 50; i++) flood.push([`${NAME}.${i}`, "A".repeat(COOKIE_CHUNK_LENGTH)]);
      assert.equal(await read(flood), null);
      assert.equal(await read([[NAME, "A".repeat(1 << 20)]]), null);
    });
  });
}

for (const cryptoPath of CRYPTO_PATHS) {
  describe(`over HTTP, a tampered cookie gives a fresh empty session [${cryptoPath}]`, () => {
    let server: RunningServer;

    before(async () => {
      const app = new Application();
      app.use(
        Session.initMiddleware(new CookieStore(SECRET, { crypto: cryptoPath }), {
          expireAfterSeconds: 3600,
        }),
      );
      app.use(async (ctx) => {
        const session = ctx.state.session as Session;
        if (ctx.request.url.pathname === "/login") await session.set("user", "ada");
        ctx.response.body = { user: (await session.get("user")) ?? null };
      });
      server = await serve(app);
    });

    after(() => server.close());

    it("the old data is never shown for any single-character change", async () => {
      const browser = new BrowserJar();
      assert.deepEqual(await browser.json(`${server.origin}/login`), { user: "ada" });
      const sealed = browser.cookies.get(NAME)!.value;
      assert.deepEqual(await browser.json(`${server.origin}/`), { user: "ada" });
      // Every position (a full loop runs above against the store itself).
      for (let i = 0; i < sealed.length; i += 7) {
        const a = ALPHABET.indexOf(sealed[i]);
        const variant = sealed.slice(0, i) + ALPHABET[(a + 1) % 64] + sealed.slice(i + 1);
        const attacker = new BrowserJar();
        attacker.cookies.set(NAME, { value: variant, attributes: {} });
        const res = await attacker.fetch(`${server.origin}/`);
        assert.equal(res.status, 200);
        assert.deepEqual(await res.json(), { user: null }, `position ${i}`);
      }
    });
  });
}
