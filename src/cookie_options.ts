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
 *
 * A request is secure when it came over TLS, or when Oak trusts a proxy
 * (`new Application({ proxy: true })`) whose `X-Forwarded-Proto` says https:
 * Oak's URL says so then, though its cookie jar does not know it, hence
 * `ignoreInsecure`.
 */
export function cookieOptionsFor(
  user: CookieSetOptions,
  request: { secure: boolean; url?: URL },
  maxAgeSeconds: number | undefined,
): CookieSetOptions {
  const viaProxy = !request.secure && request.url?.protocol === "https:";
  const options: CookieSetOptions = { ...COOKIE_DEFAULTS, secure: request.secure || viaProxy };
  if (viaProxy) options.ignoreInsecure = true;
  Object.assign(options, user);
  if (maxAgeSeconds !== undefined) options.maxAge = maxAgeSeconds;
  return options;
}
