/**
 * The session cookie's attributes. Safe by default: `httpOnly`, `sameSite:
 * "lax"`, `path: "/"`, and `secure` whenever the request came over HTTPS.
 * Every option of Oak's cookie jar passes through.
 *
 * @module
 */
import { keysOf } from "./option_keys.ts";

/** The options of Oak's cookie jar for setting and deleting a cookie, as far as they are known. */
export const COOKIE_SET_OPTION_KEYS: readonly string[] = keysOf<CookieSetOptions>({
  domain: true,
  expires: true,
  maxAge: true,
  httpOnly: true,
  ignoreInsecure: true,
  overwrite: true,
  path: true,
  secure: true,
  sameSite: true,
  signed: true,
  partitioned: true,
  priority: true,
});

/** The options of Oak's cookie jar for reading a cookie, as far as they are known. */
export const COOKIE_GET_OPTION_KEYS: readonly string[] = keysOf<CookieGetOptions>({
  signed: true,
});

/** Options for setting or deleting a cookie, as Oak's cookie jar takes them. */
export interface CookieSetOptions {
  /** The `Domain` attribute: the hosts the cookie is sent to (default: this host only). */
  domain?: string;
  /** The `Expires` attribute (the middleware sets it from the session's expiry). */
  expires?: Date;
  /** The `Max-Age` attribute, in seconds. */
  maxAge?: number;
  /** The `HttpOnly` attribute: no access from page scripts (default `true`). */
  httpOnly?: boolean;
  /** Set the `Secure` cookie even over a plain HTTP connection (Oak's option). */
  ignoreInsecure?: boolean;
  /** Replace a cookie of the same name already set on this response (Oak's option). */
  overwrite?: boolean;
  /** The `Path` attribute (default `"/"`). */
  path?: string;
  /** The `Secure` attribute (default: whether the request came over HTTPS). */
  secure?: boolean;
  /** The `SameSite` attribute (default `"lax"`). */
  sameSite?: "strict" | "lax" | "none" | boolean;
  /** Sign the cookie with the application's keys (Oak's option). */
  signed?: boolean;
  /** The `Partitioned` attribute (CHIPS). */
  partitioned?: boolean;
  /** The `Priority` attribute. */
  priority?: "low" | "medium" | "high";
  /** Any other option of Oak's cookie jar, passed through. */
  [option: string]: unknown;
}

/** Options for reading a cookie, as Oak's cookie jar takes them. */
export interface CookieGetOptions {
  /** Check the cookie's signature with the application's keys (Oak's option). */
  signed?: boolean;
  /** Any other option of Oak's cookie jar, passed through. */
  [option: string]: unknown;
}

/** The defaults, before the user's `cookieSetOptions` are laid over them. */
export const COOKIE_DEFAULTS: Readonly<CookieSetOptions> = Object.freeze({
  httpOnly: true,
  sameSite: "lax",
  path: "/",
});

/**
 * The options for one response: the defaults, `secure` from the request, then
 * the user's options (which win), then `maxAge` when the session has one.
 *
 * A request is secure when it came over TLS, or when Oak trusts a proxy
 * (`new Application({ proxy: true })`) whose `X-Forwarded-Proto` says https:
 * Oak's URL says so then, though its cookie jar does not know it, hence
 * `ignoreInsecure`.
 */
export function cookieOptionsFor(
  user: CookieSetOptions,
  request: { secure: boolean; url?: { readonly protocol: string } },
  maxAgeSeconds: number | undefined,
): CookieSetOptions {
  const viaProxy = !request.secure && request.url?.protocol === "https:";
  const options: CookieSetOptions = { ...COOKIE_DEFAULTS, secure: request.secure || viaProxy };
  if (viaProxy) options.ignoreInsecure = true;
  Object.assign(options, user);
  if (maxAgeSeconds !== undefined) options.maxAge = maxAgeSeconds;
  return options;
}
