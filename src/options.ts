/**
 * The middleware's options, checked once when the middleware is built.
 *
 * @module
 */
import type { CookieGetOptions, CookieSetOptions } from "./cookie_options.ts";
import { SessionConfigError } from "./errors.ts";

/** Options of `Session.initMiddleware(store, options)` and `new Session(store, options)`. */
export interface SessionOptions {
  /**
   * Idle timeout: a session unused this long ends (sliding). Also the
   * cookie's Max-Age. Unset: the cookie lasts for the browser session, and
   * stores drop sessions idle longer than `storeIdleSeconds`.
   */
  expireAfterSeconds?: number;
  /** Absolute timeout: a session ends this long after it was created, used or not. */
  absoluteTimeoutSeconds?: number;
  /**
   * A session's sliding expiry is written at most once per this interval, not
   * on every request. Default: a tenth of the idle timeout.
   */
  refreshIntervalSeconds?: number;
  /**
   * The idle timeout stores apply when `expireAfterSeconds` is unset, so no
   * store grows forever. Default 86400 (24 hours).
   */
  storeIdleSeconds?: number;
  /** Name of the session ID cookie. Default `"session"`. */
  sessionCookieName?: string;
  /** Passed to Oak's `cookies.get` (e.g. `{ signed: true }` with `app.keys`). */
  cookieGetOptions?: CookieGetOptions;
  /** Laid over the cookie defaults (`httpOnly`, `sameSite: "lax"`, `path: "/"`, `secure` on HTTPS). */
  cookieSetOptions?: CookieSetOptions;
  /** The clock, in milliseconds since the epoch. For tests; default `Date.now`. */
  now?: () => number;
}

/** Options after checking, with defaults applied and times in milliseconds. */
export interface ResolvedOptions {
  idleMs: number;
  absoluteMs: number;
  refreshMs: number;
  /** Cookie Max-Age in seconds, or undefined for a browser-session cookie. */
  cookieMaxAge: number | undefined;
  cookieName: string;
  cookieGetOptions: CookieGetOptions;
  cookieSetOptions: CookieSetOptions;
  now: () => number;
}

const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function seconds(name: string, value: unknown, allowZero = false): number | undefined {
  if (value === undefined) return undefined;
  if (
    typeof value !== "number" || !Number.isInteger(value) || value < 0 ||
    (value === 0 && !allowZero)
  ) {
    throw new SessionConfigError(
      `${name} must be a positive integer number of seconds, got ${String(value)}`,
    );
  }
  return value;
}

/** Check `options` and fill in the defaults; throws `SessionConfigError`. */
export function resolveOptions(options: SessionOptions = {}): ResolvedOptions {
  if (typeof options !== "object" || options === null) {
    throw new SessionConfigError("session options must be an object");
  }
  const idle = seconds("expireAfterSeconds", options.expireAfterSeconds);
  const absolute = seconds("absoluteTimeoutSeconds", options.absoluteTimeoutSeconds);
  const refresh = seconds("refreshIntervalSeconds", options.refreshIntervalSeconds, true);
  const storeIdle = seconds("storeIdleSeconds", options.storeIdleSeconds) ?? 86_400;
  const cookieName = options.sessionCookieName ?? "session";
  if (typeof cookieName !== "string" || !COOKIE_NAME.test(cookieName)) {
    throw new SessionConfigError(
      `sessionCookieName must be a non-empty cookie name (letters, digits and !#$%&'*+-.^_\`|~), got ${
        JSON.stringify(cookieName)
      }`,
    );
  }
  if (options.now !== undefined && typeof options.now !== "function") {
    throw new SessionConfigError("now must be a function returning milliseconds since the epoch");
  }
  for (const name of ["cookieGetOptions", "cookieSetOptions"] as const) {
    const value = options[name];
    if (value !== undefined && (typeof value !== "object" || value === null)) {
      throw new SessionConfigError(`${name} must be an object of Oak cookie options`);
    }
  }
  const idleMs = (idle ?? storeIdle) * 1000;
  if (refresh !== undefined && refresh * 1000 >= idleMs) {
    throw new SessionConfigError(
      `refreshIntervalSeconds (${refresh}) must be shorter than the idle timeout (${
        idleMs / 1000
      })`,
    );
  }
  return {
    idleMs,
    absoluteMs: absolute === undefined ? Infinity : absolute * 1000,
    refreshMs: refresh === undefined ? idleMs / 10 : refresh * 1000,
    cookieMaxAge: idle,
    cookieName,
    cookieGetOptions: { ...options.cookieGetOptions },
    cookieSetOptions: { ...options.cookieSetOptions },
    now: options.now ?? Date.now,
  };
}
