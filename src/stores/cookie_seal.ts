/**
 * The sealed format of the cookie store: a session record encrypted and
 * authenticated with AES-256-GCM. `node:crypto` and Web Crypto (see
 * `crypto_backend.ts`) produce and open exactly the same values.
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
 * `{"i":id,"c":createdAt,"e":expiresAt,"d":{...},"f":{...},"u":userId,"s":lastSeenAt,"m":meta,"b":boundAt}`,
 * where `d` and `f` hold the session's data and flash values as JSON (not as
 * JSON text in strings, which would escape every quote), and the last four
 * are present only when the session has them: `u` the user it is bound to
 * (a string), `s` when a request last wrote it and `b` when it was bound to
 * its user (milliseconds since the epoch), `m` its own settings (their JSON
 * text, kept as it is, in a string). A value without them (as earlier
 * versions sealed every value) opens as a session with none, and a session
 * without them seals exactly as it did before they existed. The expiry lives
 * inside the ciphertext, so a client replaying a captured cookie cannot
 * extend it.
 *
 * The encryption key of each secret is derived once with HKDF-SHA-256 and kept
 * for the life of the key ring (a non-extractable `CryptoKey` with Web Crypto).
 * With `node:crypto` sealing and opening are synchronous: `seal` and `unseal`
 * then return their result, not a promise (compression aside), so a request
 * pays no promise hop for them.
 *
 * @module
 */
import { decodeBase64Url, encodeBase64Url } from "../base64url.ts";
import {
  type AesGcmKey,
  type Bytes,
  type CryptoBackend,
  defaultCryptoBackend,
  GCM_TAG_BYTES,
} from "../crypto_backend.ts";
import { SessionConfigError, SessionValueError } from "../errors.ts";
import { allOf, chain, type MaybePromise } from "../maybe_promise.ts";
import { randomBytes } from "../random_bytes.ts";
import { emptyFields, type JsonFields, type SealedSession } from "../store.ts";
import { concat } from "./shared/record_codec.ts";

/** A secret for the cookie store: at least 32 characters, or 32 bytes. */
export type CookieSecret = string | Uint8Array;

/** The minimum length of a secret, in characters (string) or bytes (`Uint8Array`). */
export const MIN_SECRET_LENGTH = 32;

/** The format version, the first field of every sealed value. */
export const SEAL_VERSION = "v1";

const IV_BYTES = 12;
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
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** One secret, derived: its public ID and its AES-GCM key. */
export interface SealKey {
  /** base64url key ID, written into every value sealed with this key. */
  readonly id: string;
  /** The AES-256-GCM key (non-extractable with Web Crypto). */
  readonly key: AesGcmKey;
  /** Position in the list of secrets: 0 is the newest, which seals. */
  readonly index: number;
  /** The additional data for the cookie name last asked for (cached: it rarely changes). */
  additionalData(cookieName: string): Bytes;
}

/**
 * The keys of a list of secrets, newest first. The secrets are checked when
 * the ring is built (a short one throws `SessionConfigError` at once); the keys
 * are derived on first use and cached, never derived again per request. With
 * `node:crypto` the keys are ready synchronously.
 *
 * ```ts
 * import { SealKeys } from "./cookie_seal.ts";
 * const keys = new SealKeys(["a-new-secret-of-at-least-32-characters", "the-old-one-of-at-least-32-characters"]);
 * const { id } = await keys.newest();
 * ```
 */
export class SealKeys {
  /** The implementation that derives, seals and opens. */
  readonly backend: CryptoBackend;
  readonly #secrets: Bytes[];
  #derived: MaybePromise<SealKey[]> | null = null;

  /**
   * `who` names the caller in error messages (e.g. `CookieStore`); `backend`
   * is the crypto to use (default: `node:crypto` where the runtime has it).
   */
  constructor(
    secrets: CookieSecret | readonly CookieSecret[],
    who = "CookieStore",
    backend: CryptoBackend = defaultCryptoBackend,
  ) {
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
    this.backend = backend;
  }

  /** How many secrets the ring holds. */
  get size(): number {
    return this.#secrets.length;
  }

  /** Every key, newest first. Derived once, then cached. */
  all(): MaybePromise<SealKey[]> {
    if (this.#derived) return this.#derived;
    const derived = allOf(this.#secrets.map((s, i) => deriveKey(this.backend, s, i)));
    this.#derived = derived;
    if (derived instanceof Promise) {
      // Once derived, the keys are kept as an array, so later lookups wait for
      // no promise. A failed derivation (it should not happen with a working
      // Web Crypto) is retried on the next use rather than cached forever.
      derived.then((keys) => {
        if (this.#derived === derived) this.#derived = keys;
      }, () => {
        if (this.#derived === derived) this.#derived = null;
      });
    }
    return derived;
  }

  /** The key that seals: the first secret's. */
  newest(): MaybePromise<SealKey> {
    return chain(this.all(), (keys) => keys[0]);
  }

  /** The key with this ID, or `undefined`. */
  byId(id: string): MaybePromise<SealKey | undefined> {
    return chain(this.all(), (keys) => find(keys, id));
  }
}

function find(keys: readonly SealKey[], id: string): SealKey | undefined {
  for (const k of keys) if (k.id === id) return k;
  return undefined;
}

function secretBytes(s: CookieSecret, i: number, n: number, who: string): Bytes {
  const label = n === 1 ? "the secret" : `secrets[${i}]`;
  if (typeof s === "string") {
    const chars = [...s].length;
    if (chars < MIN_SECRET_LENGTH) {
      throw new SessionConfigError(
        `${who}: ${label} is ${chars} characters long; use at least ${MIN_SECRET_LENGTH} random ` +
          `characters, e.g. node -e "console.log(crypto.randomBytes(32).toString('base64url'))" ` +
          `(on Deno: deno eval "console.log(btoa(String.fromCharCode(` +
          `...crypto.getRandomValues(new Uint8Array(32)))))")`,
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

function deriveKey(backend: CryptoBackend, secret: Bytes, index: number): MaybePromise<SealKey> {
  // One after the other: started together, a failure of the first would leave
  // the second's rejection unhandled. Derivation happens once per secret.
  return chain(
    backend.hkdfBytes(secret, HKDF_SALT, INFO_KEY_ID, KEY_ID_BYTES),
    (idBytes) =>
      chain(
        backend.hkdfAesGcmKey(secret, HKDF_SALT, INFO_KEY),
        (key) => sealKey(encodeBase64Url(idBytes), key, index),
      ),
  );
}

function sealKey(id: string, key: AesGcmKey, index: number): SealKey {
  let lastName: string | undefined;
  let lastData: Bytes = new Uint8Array(0);
  return {
    id,
    key,
    index,
    additionalData(cookieName) {
      if (cookieName !== lastName) {
        lastData = encoder.encode(`oak-sessions ${SEAL_VERSION}\n${id}\n${cookieName}`);
        lastName = cookieName;
      }
      return lastData;
    },
  };
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
 * Seal `session` with the newest key for the cookie `cookieName`. The value
 * is ready at once with `node:crypto` and without compression, else promised.
 * Throws `SessionValueError` for a value that is not JSON text, and
 * `SessionConfigError` for an IV that is not 12 bytes.
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
export function seal(
  keys: SealKeys,
  session: SealedSession,
  cookieName: string,
  options: SealOptions = {},
): MaybePromise<string> {
  const text = recordJson(session);
  const iv: Bytes = options.iv ? new Uint8Array(options.iv) : randomBytes(IV_BYTES);
  if (iv.length !== IV_BYTES) {
    throw new SessionConfigError(`seal: the IV must be ${IV_BYTES} bytes, not ${iv.length}`);
  }
  if (!options.compress) {
    // The encoding byte 0 is the UTF-8 of U+0000: one encode, no copy.
    return sealPlaintext(keys, encoder.encode("\u0000" + text), iv, cookieName);
  }
  const json = encoder.encode(text);
  return transform(json, new CompressionStream("deflate")).then((deflated) => {
    const smaller = deflated.length < json.length;
    const body = smaller ? deflated : json;
    const plaintext = new Uint8Array(1 + body.length);
    plaintext[0] = smaller ? ENCODING_DEFLATE : ENCODING_JSON;
    plaintext.set(body, 1);
    return sealPlaintext(keys, plaintext, iv, cookieName);
  });
}

function sealPlaintext(
  keys: SealKeys,
  plaintext: Bytes,
  iv: Bytes,
  cookieName: string,
): MaybePromise<string> {
  return chain(keys.newest(), (key) =>
    chain(
      key.key.encrypt(iv, key.additionalData(cookieName), plaintext),
      (ciphertext) =>
        `${SEAL_VERSION}.${key.id}.${encodeBase64Url(iv)}.${encodeBase64Url(ciphertext)}`,
    ));
}

/** What {@linkcode unseal} opens: the session, and whether an older key sealed it. */
export interface Unsealed {
  /** The record and ID that were sealed. */
  session: SealedSession;
  /** Sealed with a key other than the newest: re-seal it. */
  stale: boolean;
}

/** Why a sealed value did not open. */
export type UnsealFailure =
  /** Not a sealed value of this version: cut, too long, not base64url, an unknown encoding or record. */
  | "malformed"
  /** Sealed with a key these secrets do not hold (a removed secret). */
  | "unknown-key"
  /** The authentication failed: altered, or sealed for another cookie name. */
  | "tampered"
  /** Sound, but its session expired. */
  | "expired";

/** What opening a sealed value came to: the session, or why not. */
export type UnsealOutcome =
  | { ok: true; unsealed: Unsealed }
  | { ok: false; reason: UnsealFailure; expired?: SealedSession };

const failed = (reason: UnsealFailure): UnsealOutcome => ({ ok: false, reason });

/**
 * Open a sealed value of the cookie `cookieName`. Gives `null` (never throws,
 * never rejects) when it is malformed, of another version, sealed with an
 * unknown key or for another cookie name, altered in any way, or expired at
 * `now` (`expiresAt <= now`); {@linkcode openSealed} says which. The result
 * is ready at once with `node:crypto` (for an uncompressed value), else
 * promised.
 *
 * ```ts
 * import { SealKeys, unseal } from "./cookie_seal.ts";
 * const keys = new SealKeys("a-secret-of-at-least-32-characters-long");
 * await unseal(keys, "v1.garbage", "session_data", Date.now()); // null
 * ```
 */
export function unseal(
  keys: SealKeys,
  sealed: string,
  cookieName: string,
  now: number,
): MaybePromise<Unsealed | null> {
  return chain(openSealed(keys, sealed, cookieName, now), (o) => o.ok ? o.unsealed : null);
}

/**
 * {@linkcode unseal}, saying why a value did not open (never throws, never
 * rejects): `{ ok: true, unsealed }` or `{ ok: false, reason }`.
 */
export function openSealed(
  keys: SealKeys,
  sealed: string,
  cookieName: string,
  now: number,
): MaybePromise<UnsealOutcome> {
  // Authentication comes first, so what throws after it (a corrupt deflate
  // stream, bad UTF-8) was sealed by us and is malformed, not tampered.
  let opened: MaybePromise<UnsealOutcome>;
  try {
    opened = open(keys, sealed, cookieName, now);
  } catch {
    return failed("malformed");
  }
  return opened instanceof Promise ? opened.catch(() => failed("malformed")) : opened;
}

function open(
  keys: SealKeys,
  sealed: string,
  cookieName: string,
  now: number,
): MaybePromise<UnsealOutcome> {
  if (typeof sealed !== "string" || sealed.length > MAX_SEALED_LENGTH) return failed("malformed");
  const parts = sealed.split(".");
  if (parts.length !== 4 || parts[0] !== SEAL_VERSION) return failed("malformed");
  return chain(keys.byId(parts[1]), (key): MaybePromise<UnsealOutcome> => {
    if (!key) return failed("unknown-key");
    const iv = decodeBase64Url(parts[2]);
    const ciphertext = decodeBase64Url(parts[3]);
    if (!iv || iv.length !== IV_BYTES || !ciphertext || ciphertext.length < GCM_TAG_BYTES + 1) {
      return failed("malformed");
    }
    return chain(
      key.key.decrypt(iv, key.additionalData(cookieName), ciphertext),
      (plaintext) => plaintext ? openPlaintext(plaintext, key, now) : failed("tampered"),
    );
  });
}

function openPlaintext(
  plaintext: Uint8Array,
  key: SealKey,
  now: number,
): MaybePromise<UnsealOutcome> {
  if (plaintext[0] === ENCODING_JSON) return openJson(plaintext.subarray(1), key, now);
  if (plaintext[0] !== ENCODING_DEFLATE) return failed("malformed");
  return transform(plaintext.subarray(1), new DecompressionStream("deflate")).then((json) =>
    openJson(json, key, now)
  );
}

function openJson(json: Uint8Array, key: SealKey, now: number): UnsealOutcome {
  const session = parseRecord(decoder.decode(json));
  if (!session) return failed("malformed");
  // The expired session goes with the reason, to tell which of its limits passed.
  if (session.expiresAt <= now) return { ok: false, reason: "expired", expired: session };
  return { ok: true, unsealed: { session, stale: key.index !== 0 } };
}

/** The record's JSON, embedding each value's JSON text as JSON. */
function recordJson(s: SealedSession): string {
  const sealed: Record<string, unknown> = {
    i: s.id,
    c: s.createdAt,
    e: s.expiresAt,
    d: parsedFields(s.data),
    f: parsedFields(s.flash),
  };
  // Only when set: a session without them seals byte for byte as before.
  if (s.userId !== undefined) sealed.u = s.userId;
  if (s.lastSeenAt !== undefined) sealed.s = s.lastSeenAt;
  if (s.meta !== undefined) sealed.m = s.meta;
  if (s.boundAt !== undefined) sealed.b = s.boundAt;
  return JSON.stringify(sealed);
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
  const session: SealedSession = {
    id: i,
    createdAt: c,
    expiresAt: e,
    data: jsonFields(d),
    flash: jsonFields(f),
  };
  // Absent from values sealed before they existed; of another type: not ours.
  const { u, s, m, b } = r;
  if (u !== undefined) {
    if (typeof u !== "string" || u.length === 0) return null;
    session.userId = u;
  }
  if (s !== undefined) {
    if (!isTime(s)) return null;
    session.lastSeenAt = s;
  }
  if (m !== undefined) {
    if (typeof m !== "string") return null;
    session.meta = m;
  }
  if (b !== undefined) {
    if (!isTime(b)) return null;
    session.boundAt = b;
  }
  return session;
}

function isTime(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
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
  bytes: Uint8Array,
  stream: CompressionStream | DecompressionStream,
): Promise<Bytes> {
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
  const reader = source.pipeThrough(stream as TransformStream<Uint8Array, Uint8Array>).getReader();
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
  return concat(parts);
}
