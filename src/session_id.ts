/**
 * Session IDs and the keys stores keep them under.
 *
 * An ID is 256 random bits from `crypto.getRandomValues` (drawn in batches,
 * see `random_bytes.ts`), base64url (43 characters). Server-side stores never
 * see it: they get its SHA-256, so a leaked store dump holds no usable
 * session.
 *
 * @module
 */
import { encodeBase64Url } from "./base64url.ts";
import { defaultCryptoBackend } from "./crypto_backend.ts";
import { randomBytes } from "./random_bytes.ts";
import { sha256Base64Url } from "./sha256.ts";

// The IDs we issue (43 characters), and the original oak_sessions' nanoid(21)
// IDs, so that its users' cookies keep working after an upgrade (126 random
// bits: as unguessable; and an ID the store does not know is never adopted).
const ID_SHAPE = /^(?:[A-Za-z0-9_-]{43}|[A-Za-z0-9_-]{21})$/;

/** A new session ID: 32 random bytes, base64url. */
export function newSessionId(): string {
  return encodeBase64Url(randomBytes(32));
}

/**
 * Whether `id` is one of the original library's shorter IDs (carried over by
 * an upgrade): such a session moves to an ID of ours on its first request.
 */
export function isOriginalSessionId(id: string): boolean {
  return id.length !== 43;
}

/**
 * Whether `value` has the shape of an ID we issue, or of one the original
 * oak_sessions issued (garbage never reaches a store).
 */
export function isSessionId(value: unknown): value is string {
  return typeof value === "string" && ID_SHAPE.test(value);
}

/**
 * The key a server-side store keeps session `id` under: SHA-256, base64url.
 * A string at once where the runtime has `node:crypto` (the request path pays
 * no promise hop), a promise of it with the Web Crypto fallback.
 *
 * ```ts
 * import { newSessionId, sessionKey } from "./session_id.ts";
 * const key = await sessionKey(newSessionId()); // 43 characters, base64url
 * ```
 */
export function sessionKey(id: string): string | Promise<string> {
  return defaultCryptoBackend.sha256Base64Url(id);
}

/**
 * The fingerprint of the session stored under `key`: what `listSessions` and
 * the lifecycle events show of a session, from which neither its ID nor its
 * key can be recovered.
 */
export function fingerprintOf(key: string): string {
  return sha256Base64Url(`fingerprint:${key}`).slice(0, 16);
}
