/**
 * The errors oak-sessions throws. Bad input from the network never throws
 * (it yields a fresh session); these are for programmer mistakes and for
 * stores that fail.
 *
 * @module
 */

/**
 * Base class of every error oak-sessions throws on purpose: catch it to
 * handle them all.
 */
export class SessionError extends Error {
  /** An error with `message` (and, optionally, the `cause` it wraps). */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * An option, secret, table name or driver the programmer passed is not
 * usable. Thrown where it was passed: at construction, or when the
 * middleware is built.
 *
 * ```ts
 * import { MemoryStore, Session } from "oak-sessions";
 * try {
 *   Session.initMiddleware(new MemoryStore(), { expireAfterSeconds: -1 });
 * } catch (e) {
 *   // SessionConfigError: expireAfterSeconds must be a positive integer ...
 * }
 * ```
 */
export class SessionConfigError extends SessionError {
  /** An error whose `message` says what was wrong and what to do. */
  constructor(message: string) {
    super(message);
  }
}

/**
 * `session.set(key, value)` (or `flash`) got a value that JSON cannot carry
 * faithfully: a function, symbol, BigInt, `undefined` in an array, a
 * non-finite number, a circular structure, or a class instance such as
 * `Map` or `Date`.
 */
export class SessionValueError extends SessionError {
  /** The session key whose value was rejected. */
  readonly key: string;
  /** An error about the value given for `key`. */
  constructor(key: string, message: string) {
    super(message);
    this.key = key;
  }
}

/**
 * A session does not fit its store (the cookie store's size limit). The
 * client keeps its previous cookie: nothing is half-written.
 */
export class SessionTooLargeError extends SessionError {
  /** Bytes the session needed. */
  readonly size: number;
  /** Bytes the store allows. */
  readonly limit: number;
  /** An error for a session of `size` bytes where `limit` fit. */
  constructor(message: string, size: number, limit: number) {
    super(message);
    this.size = size;
    this.limit = limit;
  }
}

/**
 * The store could not be reached or failed (server down, refusing, timing
 * out, or answering garbage). Oak answers it with status 503; nothing
 * already stored is lost, and the next request after recovery works.
 */
export class SessionStoreError extends SessionError {
  /** HTTP status Oak uses for the response. */
  readonly status: number = 503;
  /** Do not show the message to the client. */
  readonly expose = false;
  /** An error with `message`, wrapping the store's own error as `cause`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * Another request of the same session moved it to a new ID (a login,
 * `regenerate()`, `setUser`) while this one ran, or just before it arrived
 * with the old ID: this request's changes were not saved, and its response
 * leaves the client's new cookie alone. Oak answers it with status 409; the
 * client already holds the new cookie, so retrying the request lands it.
 *
 * ```ts
 * import { Application } from "@oakserver/oak";
 * import { Session, SessionMovedError } from "oak-sessions";
 *
 * const app = new Application();
 * app.use(async (ctx, next) => {
 *   try {
 *     await next();
 *   } catch (e) {
 *     if (!(e instanceof SessionMovedError)) throw e;
 *     ctx.response.status = 409;
 *     ctx.response.body = { error: "signed in elsewhere meanwhile: please retry" };
 *   }
 * });
 * app.use(Session.initMiddleware());
 * ```
 */
export class SessionMovedError extends SessionError {
  /** HTTP status Oak uses for the response. */
  readonly status: number = 409;
  /** The message says nothing secret: Oak may show it. */
  readonly expose = true;
  /** An error saying what was not saved and why. */
  constructor(message: string) {
    super(message);
  }
}
