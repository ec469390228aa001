/**
 * The two crypto paths are one format: what `node:crypto` seals, Web Crypto
 * opens, and the other way round, for cookies of every size, compressed or
 * not, and under key rotation; with the same IV both seal the very same
 * bytes; what one refuses the other refuses; and both hash a session ID to
 * the same store key. Where the runtime has `node:crypto`, it is the default
 * and `sessionKey` answers without a promise.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type CryptoBackend,
  defaultCryptoBackend,
  nodeCryptoBackend,
  webCryptoBackend,
} from "../src/crypto_backend.ts";
import { nodeCrypto } from "../src/node_builtins.ts";
import { newSessionId, sessionKey } from "../src/session_id.ts";
import { emptyFields, type SealedSession } from "../src/store.ts";
import { CookieStore } from "../src/stores/cookie.ts";
import { seal, SealKeys, unseal } from "../src/stores/cookie_seal.ts";
import { oakJar, setCookies } from "./helpers/oak_cookies.ts";

const SECRET = "cross-path test secret, 32 characters or more";
const OLDER = "an older cross-path secret, still accepted, 32+";
const NAME = "session_data";
const NOW = 1_750_000_000_000;
const enc = new TextEncoder();

function record(data: Record<string, unknown>, flash: Record<string, unknown> = {}): SealedSession {
  const d = emptyFields();
  for (const [k, v] of Object.entries(data)) d[k] = JSON.stringify(v);
  const f = emptyFields();
  for (const [k, v] of Object.entries(flash)) f[k] = JSON.stringify(v);
  return { id: newSessionId(), data: d, flash: f, createdAt: NOW, expiresAt: NOW + 3_600_000 };
}

/** Records of many shapes: empty, small, unicode, odd keys, and about 1, 4 and 10 KB. */
function records(): SealedSession[] {
  const noise = (n: number) => {
    const bytes = crypto.getRandomValues(new Uint8Array(n));
    return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("").slice(0, n);
  };
  return [
    record({}),
    record({ user: "ada" }, { msg: "saved" }),
    record({ "é \u2028": "\u0000 😀", __proto__x: [1, true, null], n: -0.5 }),
    record({ blob: noise(1000) }),
    record({ blob: noise(4000), list: Array.from({ length: 50 }, (_, i) => ({ i })) }),
    record({ blob: noise(10_000) }),
  ];
}

const paths: [string, CryptoBackend, CryptoBackend][] = nodeCryptoBackend
  ? [
    ["node:crypto seals, Web Crypto opens", nodeCryptoBackend, webCryptoBackend],
    ["Web Crypto seals, node:crypto opens", webCryptoBackend, nodeCryptoBackend],
  ]
  : [];

describe("node:crypto is found where the runtime has it", () => {
  it("on Node and Deno it is there and is the default", () => {
    const versions = (globalThis as { process?: { versions?: { node?: string } } }).process
      ?.versions;
    if (versions?.node === undefined) return; // a runtime without node: modules
    assert.ok(nodeCrypto, "node:crypto is found");
    assert.equal(nodeCryptoBackend?.name, "node");
    assert.equal(defaultCryptoBackend, nodeCryptoBackend);
  });

  it("sessionKey answers with a string, not a promise, on the node:crypto path", () => {
    const key = sessionKey(newSessionId());
    if (defaultCryptoBackend.name === "node") assert.equal(typeof key, "string");
    else assert.ok(key instanceof Promise);
  });
});

for (const [title, sealer, opener] of paths) {
  describe(title, () => {
    it("every record opens, compressed or not", async () => {
      const sealing = new SealKeys(SECRET, "CookieStore", sealer);
      const opening = new SealKeys(SECRET, "CookieStore", opener);
      for (const compress of [false, true]) {
        for (const r of records()) {
          const sealed = await seal(sealing, r, NAME, { compress });
          const opened = await unseal(opening, sealed, NAME, NOW);
          assert.deepEqual(opened, { session: r, stale: false }, `compress ${compress}`);
        }
      }
    });

    it("with the same IV, both paths seal the very same value", async () => {
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const a = new SealKeys(SECRET, "CookieStore", sealer);
      const b = new SealKeys(SECRET, "CookieStore", opener);
      for (const r of records()) {
        assert.equal(await seal(a, r, NAME, { iv }), await seal(b, r, NAME, { iv }));
      }
    });

    it("a cookie of an older secret opens stale on the other path", async () => {
      const old = new SealKeys(OLDER, "CookieStore", sealer);
      const rotating = new SealKeys([SECRET, OLDER], "CookieStore", opener);
      const r = record({ user: "ada" });
      assert.deepEqual(await unseal(rotating, await seal(old, r, NAME), NAME, NOW), {
        session: r,
        stale: true,
      });
    });

    it("what is altered, expired or for another cookie is refused on the other path too", async () => {
      const sealing = new SealKeys(SECRET, "CookieStore", sealer);
      const opening = new SealKeys(SECRET, "CookieStore", opener);
      const r = record({ user: "ada", role: "admin" });
      const sealed = await seal(sealing, r, NAME);
      const [v, id, iv, ct] = sealed.split(".");
      // One flipped bit of the tag, of the ciphertext, of the IV.
      const flip = (s: string, i: number) => {
        const c = s[i] === "A" ? "B" : "A";
        return s.slice(0, i) + c + s.slice(i + 1);
      };
      for (
        const bad of [
          [v, id, iv, flip(ct, ct.length - 2)].join("."),
          [v, id, iv, flip(ct, 0)].join("."),
          [v, id, flip(iv, 0), ct].join("."),
          [v, id, iv, ct.slice(0, -4)].join("."),
        ]
      ) {
        assert.equal(await unseal(opening, bad, NAME, NOW), null);
        assert.equal(await unseal(sealing, bad, NAME, NOW), null);
      }
      assert.equal(await unseal(opening, sealed, "other_data", NOW), null);
      assert.equal(await unseal(opening, sealed, NAME, r.expiresAt), null);
      assert.ok(await unseal(opening, sealed, NAME, r.expiresAt - 1));
    });

    it("a cookie store on one path reads what a cookie store on the other wrote", async () => {
      const writer = new CookieStore(SECRET, { crypto: sealer.name, maxCookies: 4 });
      const reader = new CookieStore(SECRET, { crypto: opener.name, maxCookies: 4 });
      for (const r of records()) {
        const { jar, response } = oakJar({});
        await writer.write(jar, r, {});
        const cookies = Object.fromEntries(setCookies(response));
        assert.deepEqual(await reader.read(oakJar(cookies).jar, NOW), { session: r, stale: false });
      }
    });
  });
}

describe("the primitives agree", () => {
  it("SHA-256 store keys: the same on both paths, and the standard digest", async () => {
    // SHA-256("abc") from FIPS 180-2, in base64url.
    const abc = "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0";
    assert.equal(await webCryptoBackend.sha256Base64Url("abc"), abc);
    assert.equal(await sessionKey("abc"), abc);
    if (!nodeCryptoBackend) return;
    assert.equal(nodeCryptoBackend.sha256Base64Url("abc"), abc);
    for (let i = 0; i < 50; i++) {
      const id = newSessionId();
      assert.equal(
        nodeCryptoBackend.sha256Base64Url(id),
        await webCryptoBackend.sha256Base64Url(id),
      );
    }
    // Non-ASCII is hashed as UTF-8 on both.
    assert.equal(
      nodeCryptoBackend.sha256Base64Url("é😀"),
      await webCryptoBackend.sha256Base64Url("é😀"),
    );
  });

  it("HKDF-SHA-256: the same bytes on both paths, and the RFC 5869 test case 1", async () => {
    const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((h) => parseInt(h, 16)));
    const ikm = hex("0b".repeat(22));
    const salt = hex("000102030405060708090a0b0c");
    const info = hex("f0f1f2f3f4f5f6f7f8f9");
    const okm = hex(
      "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
    );
    assert.deepEqual(await webCryptoBackend.hkdfBytes(ikm, salt, info, 42), okm);
    if (!nodeCryptoBackend) return;
    assert.deepEqual(nodeCryptoBackend.hkdfBytes(ikm, salt, info, 42), okm);
    const secret = enc.encode(SECRET);
    for (const length of [6, 32, 64]) {
      assert.deepEqual(
        nodeCryptoBackend.hkdfBytes(secret, salt, enc.encode("x"), length),
        await webCryptoBackend.hkdfBytes(secret, salt, enc.encode("x"), length),
      );
    }
  });

  it("AES-256-GCM decryption gives null, never throws, for what does not authenticate", async () => {
    for (
      const backend of nodeCryptoBackend
        ? [nodeCryptoBackend, webCryptoBackend]
        : [webCryptoBackend]
    ) {
      const key = await backend.hkdfAesGcmKey(enc.encode(SECRET), enc.encode("s"), enc.encode("k"));
      const iv = new Uint8Array(12);
      const aad = enc.encode("aad");
      const sealed = new Uint8Array(await key.encrypt(iv, aad, enc.encode("hello")));
      const opened = await key.decrypt(iv, aad, sealed);
      assert.ok(opened, backend.name);
      assert.deepEqual(new Uint8Array(opened), enc.encode("hello"), backend.name);
      sealed[0] ^= 1;
      assert.equal(await key.decrypt(iv, aad, sealed), null, backend.name);
      assert.equal(await key.decrypt(iv, aad, new Uint8Array(15)), null, backend.name);
      assert.equal(
        await key.decrypt(new Uint8Array(0), aad, new Uint8Array(32)),
        null,
        backend.name,
      );
    }
  });
});

describe("on the node:crypto path, nothing waits for a promise", () => {
  it("seal and unseal of an uncompressed cookie answer at once", () => {
    if (!nodeCryptoBackend) return;
    const keys = new SealKeys(SECRET, "CookieStore", nodeCryptoBackend);
    const r = record({ user: "ada" });
    const sealed = seal(keys, r, NAME);
    assert.equal(typeof sealed, "string");
    const opened = unseal(keys, sealed as string, NAME, NOW);
    assert.deepEqual(opened, { session: r, stale: false });
  });
});
