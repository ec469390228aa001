/**
 * express-session's cookie, read once more after a move from express-session:
 * its sessions, carried over into one of our stores (MySqlStore does so from
 * express-mysql-session's table) under the SHA-256 of their IDs, open from
 * the cookie the browser still holds. That cookie is `s:` + the ID + `.` +
 * the ID's HMAC-SHA256 with the app's express secret (base64, no padding),
 * URL-encoded: only an ID signed with one of the secrets is taken, and the
 * session it opens moves to an ID of ours on that same request.
 *
 * @module
 */
import { decodeBase64Url } from "./base64url.ts";
import { SessionConfigError } from "./errors.ts";
import { checkOptionKeys, keysOf } from "./option_keys.ts";

/** The `expressSessionCookie` option of the middleware. */
export interface ExpressSessionCookieOptions {
  /** express-session's `secret`: one string, or the list it was given (any of them verifies). */
  secret: string | readonly string[];
  /** express-session's cookie `name` (default `connect.sid`). */
  name?: string;
}

/** Keys of the middleware's `expressSessionCookie` option. */
export const EXPRESS_SESSION_COOKIE_KEYS: readonly string[] = keysOf<ExpressSessionCookieOptions>({
  secret: true,
  name: true,
});

/** The checked option: the cookie's name and the HMAC keys of its secrets. */
export interface ExpressSessionCookie {
  readonly name: string;
  readonly secrets: readonly string[];
}

/** Checks the `expressSessionCookie` option; `undefined` when it is not given. */
export function expressSessionCookie(value: unknown): ExpressSessionCookie | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null) {
    throw new SessionConfigError(
      'expressSessionCookie must be an object: { secret: "your express-session secret" }',
    );
  }
  checkOptionKeys("expressSessionCookie", value, EXPRESS_SESSION_COOKIE_KEYS);
  const { secret, name = "connect.sid" } = value as Partial<ExpressSessionCookieOptions>;
  const secrets = typeof secret === "string" ? [secret] : secret;
  if (
    !Array.isArray(secrets) || secrets.length === 0 ||
    secrets.some((s) => typeof s !== "string" || s === "")
  ) {
    throw new SessionConfigError(
      "expressSessionCookie.secret must be the secret express-session was given: a non-empty " +
        "string or a non-empty list of them",
    );
  }
  if (typeof name !== "string" || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) {
    throw new SessionConfigError(
      `expressSessionCookie.name must be a cookie name, got ${JSON.stringify(name)}`,
    );
  }
  return Object.freeze({ name, secrets: Object.freeze([...secrets]) });
}

const encoder = new TextEncoder();

/**
 * The session ID in express-session cookie value `value` when one of
 * `secrets` signed it, else `undefined` (anything from the network that is
 * not such a cookie: never an error). The signature is checked by Web
 * Crypto's `verify`, in constant time.
 */
export async function expressSessionId(
  value: string | undefined,
  secrets: readonly string[],
): Promise<string | undefined> {
  if (value === undefined || value.length > 4096) return undefined;
  let text = value;
  if (text.includes("%")) {
    try {
      text = decodeURIComponent(text);
    } catch {
      return undefined;
    }
  }
  if (!text.startsWith("s:")) return undefined;
  const dot = text.lastIndexOf(".");
  if (dot <= 2) return undefined;
  const id = text.slice(2, dot);
  const mac = text.slice(dot + 1);
  // Standard base64 without padding: 43 characters for 32 bytes.
  if (!/^[A-Za-z0-9+/]{43}$/.test(mac)) return undefined;
  const signature = decodeBase64Url(mac.replaceAll("+", "-").replaceAll("/", "_"));
  if (signature === null) return undefined;
  const data = encoder.encode(id);
  for (const secret of secrets) {
    const key = await crypto.subtle.importKey(
      "raw",
      encoder.encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["verify"],
    );
    if (await crypto.subtle.verify("HMAC", key, signature, data)) return id;
  }
  return undefined;
}
