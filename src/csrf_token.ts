/**
 * A session's CSRF tokens (`session.csrfToken()`): one random secret kept
 * with the session (in its settings, so every store keeps it, the cookie
 * store too), handed out masked, a new mask per call. A token opens only the
 * session it was made for, and none after the session ends or logs in
 * (`destroy()`, `regenerate()`, `setUser`).
 *
 * @module
 */
import { decodeBase64Url, encodeBase64Url } from "./base64url.ts";
import { randomBytes } from "./random_bytes.ts";
import { ownRecord, type RequestState } from "./request_state.ts";
import { metaText, parseMeta } from "./session_meta.ts";

/** The bytes of a session's token secret. */
const SECRET_BYTES = 32;
const SECRET_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** A new token secret, as it is kept with the session (base64url). */
function newCsrfSecret(): string {
  return encodeBase64Url(randomBytes(SECRET_BYTES));
}

/**
 * A token for `secret` (of {@link SECRET_SHAPE}), masked with fresh random bytes: each call
 * gives another string, so a page compressed with attacker-chosen text
 * (BREACH) never repeats the token's bytes. `mask ‖ (mask XOR secret)`.
 */
function maskedToken(secret: string): string {
  const raw = decodeBase64Url(secret) as Uint8Array;
  const out = randomBytes(SECRET_BYTES * 2);
  for (let i = 0; i < SECRET_BYTES; i++) out[SECRET_BYTES + i] = out[i] ^ raw[i];
  return encodeBase64Url(out);
}

/**
 * @internal Whether `token` was made from `secret` (any masking of it). The
 * comparison takes the same time whichever byte differs.
 */
export function tokenMatches(token: string, secret: string | undefined): boolean {
  if (secret === undefined || token.length !== 86) return false;
  const bytes = decodeBase64Url(token);
  const raw = decodeBase64Url(secret);
  if (bytes === null || raw === null || bytes.length !== 64 || raw.length !== SECRET_BYTES) {
    return false;
  }
  let diff = 0;
  for (let i = 0; i < SECRET_BYTES; i++) diff |= bytes[i] ^ bytes[SECRET_BYTES + i] ^ raw[i];
  return diff === 0;
}

/** @internal The secret of the request's session's tokens, if it has one. */
export function csrfSecretOf(s: RequestState): string | undefined {
  if (s.record.meta === undefined) return undefined;
  const secret = parseMeta(s.record.meta).csrfSecret;
  // A damaged one counts as none (a new one is made): it opens nothing.
  return secret !== undefined && SECRET_SHAPE.test(secret) ? secret : undefined;
}

function keepSecret(s: RequestState, secret: string): void {
  const meta = { ...parseMeta(s.record.meta), csrfSecret: secret };
  ownRecord(s).meta = metaText(meta);
  s.metaChanged = true;
  s.keepsCsrfSecret = true;
}

/** @internal A token of the request's session (`csrfToken()`): its secret is made on first use. */
export function csrfToken(s: RequestState): string {
  let secret = csrfSecretOf(s);
  if (secret === undefined) keepSecret(s, secret = newCsrfSecret());
  else if (s.life.phase !== "loaded") s.keepsCsrfSecret = true;
  return maskedToken(secret);
}

/**
 * @internal The session logged in (or was given a new ID on purpose): tokens
 * handed out before open nothing now. A new secret, if it had one.
 */
export function renewCsrfSecret(s: RequestState): void {
  if (csrfSecretOf(s) !== undefined) keepSecret(s, newCsrfSecret());
}
