/**
 * The middleware's options, checked once when the middleware is built.
 *
 * @module
 */
import {
  type ExpressSessionCookie,
  expressSessionCookie,
  type ExpressSessionCookieOptions,
} from "./express_session_cookie.ts";
import {
  COOKIE_GET_OPTION_KEYS,
  COOKIE_SET_OPTION_KEYS,
  type CookieGetOptions,
  type CookieSetOptions,
} from "./cookie_options.ts";
import { type CsrfOptions, resolveCsrf, type ResolvedCsrf } from "./csrf.ts";
import { SessionConfigError } from "./errors.ts";
import type { SessionEventListener } from "./events.ts";
import { checkNearMisses, checkOptionKeys, keysOf } from "./option_keys.ts";

/** Keys of `Session.initMiddleware(store, options)` and `new Session(store, options)`. */
export const SESSION_OPTION_KEYS: readonly string[] = keysOf<SessionOptions>({
  expireAfterSeconds: true,
  absoluteTimeoutSeconds: true,
  refreshIntervalSeconds: true,
  storeIdleSeconds: true,
  sessionCookieName: true,
  cookieGetOptions: true,
  cookieSetOptions: true,
  maxIdleSeconds: true,
  maxAbsoluteSeconds: true,
  recordDevice: true,
  expressSessionCookie: true,
  csrf: true,
  onEvent: true,
  slowStoreCallMs: true,
  now: true,
});

/** Keys of the middleware's `recordDevice` option. */
export const RECORD_DEVICE_KEYS: readonly string[] = keysOf<
  NonNullable<SessionOptions["recordDevice"]>
>({ userAgent: true, ip: true });

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
  /**
   * The longest idle timeout `session.setLifetime({ idleSeconds })` may give
   * one session ("remember me"). Default: the app's idle timeout
   * (`expireAfterSeconds`, or `storeIdleSeconds` when that is unset).
   */
  maxIdleSeconds?: number;
  /**
   * The longest absolute lifetime `session.setLifetime({ absoluteSeconds })`
   * may give one session. Default: `absoluteTimeoutSeconds` (none when unset).
   */
  maxAbsoluteSeconds?: number;
  /**
   * What `listSessions` may show of the device a session was bound on
   * (`setUser`): its User-Agent header, its IP address (`ctx.request.ip`:
   * behind a proxy, create the app with `proxy: true`). Off by default: they
   * are personal data, kept only when the app asks for them.
   */
  recordDevice?: { userAgent?: boolean; ip?: boolean };
  /**
   * After a move from express-session: its sessions, carried over into a
   * server store under the SHA-256 of their IDs (MySqlStore carries over
   * express-mysql-session's table), open from express-session's own cookie
   * (`connect.sid`, signed with `secret`) when the request has none of ours,
   * and move to an ID of ours on that request. Off by default.
   */
  expressSessionCookie?: ExpressSessionCookieOptions;
  /**
   * Cross-site request forgery protection, on by default: a request of any
   * method but GET, HEAD and OPTIONS that the browser marks as sent by
   * another site (`Sec-Fetch-Site`) or, in older browsers, whose `Origin` is
   * not the request's host (the one Oak trusts: `app.proxy`) is refused with
   * status 403 before its session is loaded. Requests with neither header
   * (curl, server-to-server calls) pass. Options: `trustedOrigins`,
   * `exemptPaths`, `exemptMethods`, and `tokens` (`session.csrfToken()`, for
   * browsers that send neither header); `false` turns it off.
   */
  csrf?: CsrfOptions | false;
  /**
   * Told of each event of a session's life (created, rotated, destroyed,
   * revoked, expired, a rejected cookie, a refused cross-site request, a
   * store call that failed or was slow); never a session's ID or data. See
   * `SessionEvent`. Without a listener, nothing is timed or hashed for it.
   */
  onEvent?: SessionEventListener;
  /** A store call this long or longer (ms) is reported as `slow-store-call`. Default 100. */
  slowStoreCallMs?: number;
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
  /** Bounds of `setLifetime`, in milliseconds (`Infinity`: none). */
  maxIdleMs: number;
  maxAbsoluteMs: number;
  recordUserAgent: boolean;
  recordIp: boolean;
  /** express-session's cookie, read for sessions carried over from it; `undefined`: not read. */
  expressCookie: ExpressSessionCookie | undefined;
  /** CSRF protection; `undefined`: off. */
  csrf: ResolvedCsrf | undefined;
  onEvent: SessionEventListener | undefined;
  slowStoreCallMs: number;
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
  checkOptionKeys("session options", options, SESSION_OPTION_KEYS);
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
  checkNearMisses("cookieGetOptions", options.cookieGetOptions, COOKIE_GET_OPTION_KEYS);
  checkNearMisses("cookieSetOptions", options.cookieSetOptions, COOKIE_SET_OPTION_KEYS);
  const maxIdle = seconds("maxIdleSeconds", options.maxIdleSeconds);
  const maxAbsolute = seconds("maxAbsoluteSeconds", options.maxAbsoluteSeconds);
  const device = options.recordDevice ?? {};
  checkOptionKeys("recordDevice", device, RECORD_DEVICE_KEYS);
  if (
    typeof device !== "object" || device === null ||
    Object.values(device).some((v) => typeof v !== "boolean")
  ) {
    throw new SessionConfigError(
      "recordDevice must be an object of booleans: { userAgent?: boolean, ip?: boolean }",
    );
  }
  const idleMs = (idle ?? storeIdle) * 1000;
  const absoluteMs = absolute === undefined ? Infinity : absolute * 1000;
  if (maxIdle !== undefined && maxIdle * 1000 < idleMs) {
    throw new SessionConfigError(
      `maxIdleSeconds (${maxIdle}) must not be shorter than the idle timeout (${idleMs / 1000})`,
    );
  }
  if (maxAbsolute !== undefined && maxAbsolute * 1000 < absoluteMs) {
    throw new SessionConfigError(
      `maxAbsoluteSeconds (${maxAbsolute}) must not be shorter than absoluteTimeoutSeconds (${
        absoluteMs / 1000
      }); without absoluteTimeoutSeconds sessions have no absolute limit to raise`,
    );
  }
  if (refresh !== undefined && refresh * 1000 >= idleMs) {
    throw new SessionConfigError(
      `refreshIntervalSeconds (${refresh}) must be shorter than the idle timeout (${
        idleMs / 1000
      })`,
    );
  }
  if (options.onEvent !== undefined && typeof options.onEvent !== "function") {
    throw new SessionConfigError(
      "onEvent must be a function taking a SessionEvent ({ type, ... })",
    );
  }
  const slow = options.slowStoreCallMs ?? 100;
  if (typeof slow !== "number" || !Number.isFinite(slow) || slow < 0) {
    throw new SessionConfigError(
      `slowStoreCallMs must be a number of milliseconds (0 or more), got ${String(slow)}`,
    );
  }
  return {
    idleMs,
    absoluteMs,
    refreshMs: refresh === undefined ? idleMs / 10 : refresh * 1000,
    cookieMaxAge: idle,
    cookieName,
    cookieGetOptions: { ...options.cookieGetOptions },
    cookieSetOptions: { ...options.cookieSetOptions },
    maxIdleMs: maxIdle === undefined ? idleMs : maxIdle * 1000,
    maxAbsoluteMs: maxAbsolute === undefined ? absoluteMs : maxAbsolute * 1000,
    recordUserAgent: device.userAgent === true,
    recordIp: device.ip === true,
    expressCookie: expressSessionCookie(options.expressSessionCookie),
    csrf: resolveCsrf(options.csrf),
    onEvent: options.onEvent,
    slowStoreCallMs: slow,
    now: options.now ?? Date.now,
  };
}
