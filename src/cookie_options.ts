/**
 * The session cookie's attributes. Safe by default: `httpOnly`, `sameSite:
 * "lax"`, `path: "/"`, and `secure` whenever the request came over HTTPS.
 * Every option of Oak's cookie jar passes through.
 *
 * @module
 */

/** Options for setting or deleting a cookie, as Oak's cookie jar takes them. */
export interface CookieSetOptions {
  domain?: string;
  expires?: Date;
  maxAge?: number;
  httpOnly?: boolean;
  ignoreInsecure?: boolean;
  overwrite?: boolean;
  path?: string;
  secure?: boolean;
  sameSite?: "strict" | "lax" | "none" | boolean;
  signed?: boolean;
  partitioned?: boolean;
  priority?: "low" | "medium" | "high";
  [option: string]: unknown;
}

/** Options for reading a cookie, as Oak's cookie jar takes them. */
export interface CookieGetOptions {
  signed?: boolean;
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
 */
export function cookieOptionsFor(
  user: CookieSetOptions,
  requestSecure: boolean,
  maxAgeSeconds: number | undefined,
): CookieSetOptions {
  const options: CookieSetOptions = { ...COOKIE_DEFAULTS, secure: requestSecure, ...user };
  if (maxAgeSeconds !== undefined) options.maxAge = maxAgeSeconds;
  return options;
}
