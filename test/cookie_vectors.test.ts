/**
 * The sealed format never changes silently: a fixed secret, IV and record
 * seal to a fixed value, and that value opens with nothing but the
 * documented parameters (HKDF-SHA-256 salt and info, AES-256-GCM, the
 * additional data, the plaintext layout). Every vector holds on both crypto
 * paths, `node:crypto` and Web Crypto, and each path's value is checked
 * against an independent use of that path's own primitives.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { decodeBase64Url, encodeBase64Url } from "../src/base64url.ts";
import { cryptoBackend, type CryptoBackendName } from "../src/crypto_backend.ts";
import { nodeCrypto } from "../src/node_builtins.ts";
import { emptyFields, type SealedSession } from "../src/store.ts";
import { seal, SealKeys, unseal } from "../src/stores/cookie_seal.ts";
import { CRYPTO_PATHS } from "./helpers/crypto_paths.ts";

const SECRET = "oak-sessions test vector secret, not for production";
const IV = Uint8Array.from({ length: 12 }, (_, i) => i);
const NAME = "session_data";

function fields(o: Record<string, string>) {
  return Object.assign(emptyFields(), o);
}

const RECORD: SealedSession = {
  id: "A".repeat(43),
  data: fields({ user: '"ada"', n: "42", nested: '{"a":[1,true,null],"b":"é"}' }),
  flash: fields({ msg: '"saved"' }),
  createdAt: 1700000000000,
  expiresAt: 1700003600000,
};

const SEALED = "v1.aei1meKR.AAECAwQFBgcICQoL." +
  "qD_YjKYWD4pfzeB_hyos41ENJnHpgeVMGHtYDngvj-Hf0R0pKsQ-ERoeW_gA2yCLP-tJC4pApYeM71x2E6TI0srgjJhTZ" +
  "DZpghmNpLlso2REJgVp-nlYnexWZJiBFElCA-0k4MMkYyh9YR7jGUv3Rcjh5HBOrzHkIOM8si-tkB3KppXhS7tZc9cFhPs" +
  "CEdqfPzLmDqc-eRHeHKYOMuJmhuBYy8Z8iu_1oU12SwbENNHQFn0SMfxPmG_GP8w";

const PLAINTEXT_JSON = '{"i":"' + "A".repeat(43) + '","c":1700000000000,"e":1700003600000,' +
  '"d":{"user":"ada","n":42,"nested":{"a":[1,true,null],"b":"é"}},"f":{"msg":"saved"}}';

/**
 * A value sealed with `compress: true` (deflate output differs between zlib
 * builds, so only the opening direction is fixed): 40 list items.
 */
const SEALED_DEFLATE = "v1.aei1meKR.AAECAwQFBgcICQoL." +
  "qTxmaFAdIwkugCTffddUoabtYl80w5VZbW6IZ3JF1gpCjX05WqVAsYqgjvYIjHXy8FVkNYZT7opikaSt5Q43RH3_BD0Kzos" +
  "aNBozY8SeLk9EDPqLxTAu_KWgfstmGnLqXnLkDiXsipphAzv_X7eCS2BDggQsmXZERtHNgFuuhgSnHlm7hfmxWCvi-rELHf" +
  "LhkagN1tShZvk58g-FToRXeT9igNXtiV1VTeT2jIHZSsPwi3bcTgW82AilBiXx3tCAyTJP_h1w3X4eDM9hoNXdTQ";

const LIST = JSON.stringify(Array.from({ length: 40 }, (_, i) => ({ item: i, name: "widget" })));

const enc = new TextEncoder();
const SALT = enc.encode("oak-sessions cookie store v1");

/** The key ID by hand, with the primitives of `path`: 6 bytes of HKDF-SHA-256, info "key id". */
async function documentedKeyId(path: CryptoBackendName): Promise<string> {
  if (path === "node") {
    return encodeBase64Url(
      new Uint8Array(nodeCrypto!.hkdfSync("sha256", enc.encode(SECRET), SALT, "key id", 6)),
    );
  }
  const base = await crypto.subtle.importKey("raw", enc.encode(SECRET), "HKDF", false, [
    "deriveBits",
  ]);
  const bits = await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: SALT, info: enc.encode("key id") },
    base,
    48,
  );
  return encodeBase64Url(new Uint8Array(bits));
}

/** AES-256-GCM decryption by hand, with the key HKDF-SHA-256 gives for info "aes-256-gcm key". */
async function documentedOpen(
  path: CryptoBackendName,
  additionalData: Uint8Array<ArrayBuffer>,
  sealed: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array> {
  if (path === "node") {
    const c = nodeCrypto!;
    const key = new Uint8Array(
      c.hkdfSync("sha256", enc.encode(SECRET), SALT, "aes-256-gcm key", 32),
    );
    const decipher = c.createDecipheriv("aes-256-gcm", key, IV);
    decipher.setAAD(additionalData);
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    const plaintext = decipher.update(sealed.subarray(0, sealed.length - 16));
    decipher.final();
    return plaintext;
  }
  const base = await crypto.subtle.importKey("raw", enc.encode(SECRET), "HKDF", false, [
    "deriveKey",
  ]);
  const key = await crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: SALT, info: enc.encode("aes-256-gcm key") },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["decrypt"],
  );
  return new Uint8Array(
    await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: IV, additionalData, tagLength: 128 },
      key,
      sealed,
    ),
  );
}

for (const cryptoPath of CRYPTO_PATHS) {
  describe(`sealed format vectors [${cryptoPath}]`, () => {
    const newKeys = () => new SealKeys(SECRET, "CookieStore", cryptoBackend(cryptoPath, "test"));

    it("a fixed secret, IV and record seal to a fixed value", async () => {
      const keys = newKeys();
      assert.equal(await seal(keys, RECORD, NAME, { iv: IV }), SEALED);
    });

    it("the fixed value opens to the record", async () => {
      const keys = newKeys();
      const opened = await unseal(keys, SEALED, NAME, RECORD.createdAt);
      assert.deepEqual(opened, { session: RECORD, stale: false });
    });

    it("the fixed value opens with only the documented parameters", async () => {
      const [version, id, iv, ciphertext] = SEALED.split(".");
      assert.equal(version, "v1");
      assert.equal(id, await documentedKeyId(cryptoPath));
      assert.deepEqual(decodeBase64Url(iv), IV);
      const additionalData = enc.encode(`oak-sessions v1\n${id}\n${NAME}`);
      const plaintext = await documentedOpen(
        cryptoPath,
        additionalData,
        decodeBase64Url(ciphertext)!,
      );
      assert.equal(plaintext[0], 0, "encoding byte 0: plain JSON");
      assert.equal(new TextDecoder().decode(plaintext.subarray(1)), PLAINTEXT_JSON);
    });

    it("a fixed deflated value opens to its record", async () => {
      const keys = newKeys();
      const opened = await unseal(keys, SEALED_DEFLATE, NAME, RECORD.createdAt);
      assert.ok(opened);
      assert.deepEqual(opened.session.data, fields({ list: LIST }));
      assert.equal(opened.session.id, RECORD.id);
    });

    it("a compressed seal round-trips and is smaller than the plain one", async () => {
      const keys = newKeys();
      const record = { ...RECORD, data: fields({ list: LIST }) };
      const plain = await seal(keys, record, NAME);
      const deflated = await seal(keys, record, NAME, { compress: true });
      assert.ok(deflated.length < plain.length, `${deflated.length} < ${plain.length}`);
      const opened = await unseal(keys, deflated, NAME, RECORD.createdAt);
      assert.deepEqual(opened?.session, record);
    });

    it("compress leaves a record plain when deflate would not make it smaller", async () => {
      const keys = newKeys();
      // A random-looking ID, nothing else: deflate cannot shrink it.
      const tiny = {
        ...RECORD,
        id: "q3Zr8tKx0Vb7mYc2LwN5pH1sJd9fGe4uTa6oRi0zXkQ",
        data: fields({}),
        flash: fields({}),
        createdAt: 1712345678901,
        expiresAt: 1798765432109,
      };
      const a = await seal(keys, tiny, NAME, { iv: IV });
      const b = await seal(keys, tiny, NAME, { iv: IV, compress: true });
      assert.equal(b, a);
    });

    it("keys named __proto__ and other odd keys survive sealing as plain keys", async () => {
      const keys = newKeys();
      const data = emptyFields();
      data["__proto__"] = '{"polluted":true}';
      data["constructor"] = '"c"';
      data[""] = "null";
      data["é \u2028"] = '"\\u0000"';
      const record = { ...RECORD, data };
      const opened = await unseal(keys, await seal(keys, record, NAME), NAME, RECORD.createdAt);
      assert.ok(opened);
      assert.deepEqual(Object.keys(opened.session.data).sort(), Object.keys(data).sort());
      for (const k of Object.keys(data)) assert.equal(opened.session.data[k], data[k]);
      assert.equal(Object.getPrototypeOf(opened.session.data), null);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });
  });
}
