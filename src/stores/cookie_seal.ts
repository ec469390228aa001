/**
 * The sealed format of the cookie store: a session record encrypted and
 * authenticated with AES-256-GCM (Web Crypto only, so Node and Deno share it).
 *
 * A sealed value is four base64url fields joined by dots:
 *
 * ```text
 * v1.<keyId>.<iv>.<ciphertext>
 * ```
 *
 * - `v1`: the format version. Anything else is rejected.
 * - `keyId`: 6 bytes derived from the secret (HKDF, its own `info`), so
 *   unsealing tries exactly one key and a removed secret's cookies fail.
 * - `iv`: 12 random bytes, fresh for every seal.
 * - `ciphertext`: AES-256-GCM output (with its 16-byte tag) of the plaintext
 *   below. The additional data is `oak-sessions v1 \n keyId \n cookieName`, so
 *   a value moved to another cookie name, or relabelled with another key ID,
 *   does not open.
 *
 * The plaintext is one encoding byte (`0`: JSON, `1`: JSON compressed with
 * `deflate`) followed by the UTF-8 JSON
 * `{"i":id,"c":createdAt,"e":expiresAt,"d":{...},"f":{...}}`, where `d` and
 * `f` hold the session's data and flash values as JSON (not as JSON text in
 * strings, which would escape every quote). The expiry lives inside the
 * ciphertext, so a client replaying a captured cookie cannot extend it.
 *
 * The encryption key of each secret is derived once with HKDF-SHA-256 and kept
 * as a non-extractable `CryptoKey`.
 *
 * @module
 */
import { decodeBase64Url, encodeBase64Url } from "../base64url.ts";
import { SessionConfigError, SessionValueError } from "../errors.ts";
import { emptyFields, type JsonFields, type SealedSession } from "../store.ts";

/** A secret for the cookie store: at least 32 characters, or 32 bytes. */
export type CookieSecret = string | Uint8Array;

/** The minimum length of a secret, in characters (string) or bytes (`Uint8Array`). */
export const MIN_SECRET_LENGTH = 32;

/** The format version, the first field of every sealed value. */
export const SEAL_VERSION = "v1";

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID_BYTES = 6;
const ENCODING_JSON = 0;
const ENCODING_DEFLATE = 1;
/**
 * Bound on a decompressed plaintext. Only a holder of the key can produce a
 * compressed plaintext at all (it is decompressed after authentication), so
 * this is a second line of defence, far above any session that fits cookies.
 */
const MAX_PLAINTEXT_BYTES = 1 << 20;
/** Bound on a sealed value given to `unseal`, so garbage is never decoded at length. */
const MAX_SEALED_LENGTH = 1 << 16;
/** HKDF salt: fixed per application and format, as the secrets carry the entropy. */
const HKDF_SALT = new TextEncoder().encode("oak-sessions cookie store v1");
const INFO_KEY = new TextEncoder().encode("aes-256-gcm key");
const INFO_KEY_ID = new TextEncoder().encode("key id");

const encoder = new TextEncoder();
/** Bytes backed by an ordinary `ArrayBuffer`, as Web Crypto takes them. */
type Bytes = Uint8Array<ArrayBuffer>;
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** One secret, derived: its public ID and its AES-GCM key. */
export interface SealKey {
  /** base64url key ID, written into every value sealed with this key. */
  readonly id: string;
  /** The AES-256-GCM key (non-extractable). */
  readonly key: CryptoKey;
  /** Position in the list of secrets: 0 is the newest, which seals. */
  readonly index: number;
}

/**
 * The keys of a list of secrets, newest first. The secrets are checked when
 * the ring is built (a short one throws `SessionConfigError` at once); the keys
 * are derived on first use and cached, never derived again per request.
 *
 * ```ts
 * import { SealKeys } from "./cookie_seal.ts";
 * const keys = new SealKeys(["a-new-secret-of-at-least-32-characters", "the-old-one-of-at-least-32-characters"]);
 * const { id } = await keys.newest();
 * ```
 */
export class SealKeys {
  readonly #secrets: Bytes[];
  #derived: Promise<SealKey[]> | null = null;

  /** `who` names the caller in error messages (e.g. `CookieStore`). */
  constructor(secrets: CookieSecret | readonly CookieSecret[], who = "CookieStore") {
    const list = Array.isArray(secrets) ? secrets : [secrets as CookieSecret];
    if (list.length === 0) {
      throw new SessionConfigError(
        `${who}: the list of secrets is empty; pass at least one secret of ${MIN_SECRET_LENGTH} or more characters`,
      );
    }
    this.#secrets = list.map((s, i) => secretBytes(s, i, list.length, who));
    for (let i = 0; i < this.#secrets.length; i++) {
      for (let j = 0; j < i; j++) {
        if (sameBytes(this.#secrets[i], this.#secrets[j])) {
          throw new SessionConfigError(
            `${who}: secrets[${j}] and secrets[${i}] are the same secret; list each secret once, newest first`,
          );
        }
      }
    }
  }

  /** How many secrets the ring holds. */
  get size(): number {
    return this.#secrets.length;
  }

  /** Every key, newest first. Derived once, then cached. */
  all(): Promise<SealKey[]> {
    if (!this.#derived) {
      const derived = Promise.all(this.#secrets.map((s, i) => deriveKey(s, i)));
      this.#derived = derived;
      // A failed derivation (it should not happen with a working Web Crypto) is
      // retried on the next use rather than cached forever.
      derived.catch(() => {
        if (this.#derived === derived) this.#derived = null;
      });
    }
    return this.#derived;
  }

  /** The key that seals: the first secret's. */
  async newest(): Promise<SealKey> {
    return (await this.all())[0];
  }

  /** The key with this ID, or `undefined`. */
  async byId(id: string): Promise<SealKey | undefined> {
    return (await this.all()).find((k) => k.id === id);
  }
}

function secretBytes(s: CookieSecret, i: number, n: number, who: string): Bytes {
  const label = n === 1 ? "the secret" : `secrets[${i}]`;
  if (typeof s === "string") {
    const chars = [...s].length;
    if (chars < MIN_SECRET_LENGTH) {
      throw new SessionConfigError(
        `${who}: ${label} is ${chars} characters long; use at least ${MIN_SECRET_LENGTH} random ` +
          `characters, e.g. node -e "console.log(crypto.randomBytes(32).toString('base64url'))"`,
      );
    }
    return encoder.encode(s);
  }
  if (s instanceof Uint8Array) {
    if (s.length < MIN_SECRET_LENGTH) {
      throw new SessionConfigError(
        `${who}: ${label} is ${s.length} bytes long; use at least ${MIN_SECRET_LENGTH} random bytes ` +
          `(crypto.getRandomValues(new Uint8Array(32)))`,
      );
    }
    // A copy, so a caller who later zeroes or reuses the buffer changes nothing.
    return s.slice();
  }
  throw new SessionConfigError(
    `${who}: ${label} is ${s === null ? "null" : typeof s}; pass a string of at least ` +
      `${MIN_SECRET_LENGTH} characters or a Uint8Array of at least ${MIN_SECRET_LENGTH} bytes`,
  );
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function deriveKey(secret: Bytes, index: number): Promise<SealKey> {
  const base = await crypto.subtle.importKey("raw", secret, "HKDF", false, [
    "deriveKey",
    "deriveBits",
  ]);
  const hkdf = (info: Bytes) => ({ name: "HKDF", hash: "SHA-256", salt: HKDF_SALT, info });
  const key = await crypto.subtle.deriveKey(
    hkdf(INFO_KEY),
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
  const idBits = await crypto.subtle.deriveBits(hkdf(INFO_KEY_ID), base, KEY_ID_BYTES * 8);
  return { id: encodeBase64Url(new Uint8Array(idBits)), key, index };
}

/** Options of {@linkcode seal}. */
export interface SealOptions {
  /** Deflate the plaintext when that makes it smaller. Default `false`. */
  compress?: boolean;
  /**
   * The 12-byte IV. Only for test vectors: reusing an IV with one key breaks
   * AES-GCM completely. Leave it out and a fresh random IV is used.
   */
  iv?: Uint8Array;
}

/**
 * Seal `session` with the newest key for the cookie `cookieName`.
 *
 * ```ts
 * import { SealKeys, seal, unseal } from "./cookie_seal.ts";
 * const keys = new SealKeys("a-secret-of-at-least-32-characters-long");
 * const now = Date.now();
 * const session = { id: "abc", data: { n: "1" }, flash: {}, createdAt: now, expiresAt: now + 60_000 };
 * const value = await seal(keys, session, "session_data"); // "v1.<keyId>.<iv>.<ciphertext>"
 * await unseal(keys, value, "session_data", now); // { session, stale: false }
 * ```
 */
export async function seal(
  keys: SealKeys,
  session: SealedSession,
  cookieName: string,
  options: SealOptions = {},
): Promise<string> {
  const json = encoder.encode(recordJson(session));
  let encoding = ENCODING_JSON;
  let body = json;
  if (options.compress) {
    const deflated = await transform(json, new CompressionStream("deflate"));
    if (deflated.length < json.length) {
      encoding = ENCODING_DEFLATE;
      body = deflated;
    }
  }
  const plaintext = new Uint8Array(1 + body.length);
  plaintext[0] = encoding;
  plaintext.set(body, 1);

  const iv: Bytes = options.iv
    ? new Uint8Array(options.iv)
    : crypto.getRandomValues(new Uint8Array(IV_BYTES));
  if (iv.length !== IV_BYTES) {
    throw new SessionConfigError(`seal: the IV must be ${IV_BYTES} bytes, not ${iv.length}`);
  }
  const key = await keys.newest();
  const ciphertext = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: additionalData(key.id, cookieName), tagLength: 128 },
    key.key,
    plaintext,
  );
  return `${SEAL_VERSION}.${key.id}.${encodeBase64Url(iv)}.${
    encodeBase64Url(new Uint8Array(ciphertext))
  }`;
}

/** What {@linkcode unseal} opens: the session, and whether an older key sealed it. */
export interface Unsealed {
  session: SealedSession;
  /** Sealed with a key other than the newest: re-seal it. */
  stale: boolean;
}

/**
 * Open a sealed value of the cookie `cookieName`. Returns `null` (never
 * throws) when it is malformed, of another version, sealed with an unknown
 * key or for another cookie name, altered in any way, or expired at `now`
 * (`expiresAt <= now`).
 *
 * ```ts
 * import { SealKeys, unseal } from "./cookie_seal.ts";
 * const keys = new SealKeys("a-secret-of-at-least-32-characters-long");
 * await unseal(keys, "v1.garbage", "session_data", Date.now()); // null
 * ```
 */
export async function unseal(
  keys: SealKeys,
  sealed: string,
  cookieName: string,
  now: number,
): Promise<Unsealed | null> {
  try {
    if (typeof sealed !== "string" || sealed.length > MAX_SEALED_LENGTH) return null;
    const parts = sealed.split(".");
    if (parts.length !== 4 || parts[0] !== SEAL_VERSION) return null;
    const [, keyId, ivText, ciphertextText] = parts;
    const key = await keys.byId(keyId);
    if (!key) return null;
    const iv = decodeBase64Url(ivText);
    const ciphertext = decodeBase64Url(ciphertextText);
    if (!iv || iv.length !== IV_BYTES || !ciphertext || ciphertext.length < TAG_BYTES + 1) {
      return null;
    }
    const plaintext = new Uint8Array(
      await crypto.subtle.decrypt(
        { name: "AES-GCM", iv, additionalData: additionalData(key.id, cookieName), tagLength: 128 },
        key.key,
        ciphertext,
      ),
    );
    let json: Bytes;
    if (plaintext[0] === ENCODING_JSON) json = plaintext.subarray(1);
    else if (plaintext[0] === ENCODING_DEFLATE) {
      json = await transform(plaintext.subarray(1), new DecompressionStream("deflate"));
    } else return null;
    const session = parseRecord(decoder.decode(json));
    if (!session || session.expiresAt <= now) return null;
    return { session, stale: key.index !== 0 };
  } catch {
    // A failed authentication, a corrupt deflate stream or bad UTF-8: all the
    // same to the caller, a cookie that does not open.
    return null;
  }
}

function additionalData(keyId: string, cookieName: string): Bytes {
  return encoder.encode(`oak-sessions ${SEAL_VERSION}\n${keyId}\n${cookieName}`);
}

/** The record's JSON, embedding each value's JSON text as JSON. */
function recordJson(s: SealedSession): string {
  return JSON.stringify({
    i: s.id,
    c: s.createdAt,
    e: s.expiresAt,
    d: parsedFields(s.data),
    f: parsedFields(s.flash),
  });
}

function parsedFields(fields: JsonFields): Record<string, unknown> {
  // Null prototype: a key named "__proto__" stays an ordinary key.
  const out: Record<string, unknown> = Object.create(null);
  for (const k of Object.keys(fields)) {
    const text = fields[k];
    try {
      out[k] = JSON.parse(text);
    } catch {
      throw new SessionValueError(
        k,
        `CookieStore: the value of session key ${JSON.stringify(k)} is not JSON text`,
      );
    }
  }
  return out;
}

function parseRecord(text: string): SealedSession | null {
  const r: unknown = JSON.parse(text);
  if (!isObject(r)) return null;
  const { i, c, e, d, f } = r;
  if (typeof i !== "string" || i.length === 0) return null;
  if (typeof c !== "number" || !Number.isFinite(c)) return null;
  if (typeof e !== "number" || !Number.isFinite(e)) return null;
  if (!isObject(d) || !isObject(f)) return null;
  return { id: i, createdAt: c, expiresAt: e, data: jsonFields(d), flash: jsonFields(f) };
}

function jsonFields(o: Record<string, unknown>): JsonFields {
  const out = emptyFields();
  for (const k of Object.keys(o)) out[k] = JSON.stringify(o[k]);
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Run `bytes` through a (de)compression stream, refusing output beyond the plaintext bound. */
async function transform(
  bytes: Bytes,
  stream: CompressionStream | DecompressionStream,
): Promise<Bytes> {
  const source = new ReadableStream<Bytes>({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
  const reader = source.pipeThrough(stream as TransformStream<Bytes, Uint8Array>).getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > MAX_PLAINTEXT_BYTES) {
      await reader.cancel();
      throw new RangeError("plaintext too large");
    }
    parts.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
