/**
 * The per-request session: typed `get`/`set`, flash values, and the log of
 * what this request changed, which is all that gets written back.
 *
 * @module
 */
import { SessionConfigError, SessionValueError } from "./errors.ts";
import { fromJson, toJson } from "./json_value.ts";
import type { SessionOptions } from "./options.ts";
import type { SessionStore } from "./store.ts";
import { MemoryStore } from "./stores/memory.ts";
import { fromV9Store, type V9Store } from "./stores/v9_store.ts";
import { hasFields } from "./stores/shared/record_codec.ts";
import { emptyFields } from "./store.ts";
import {
  endSession,
  idOf,
  isStored,
  moveSession,
  ownRecord,
  type RequestState,
} from "./request_state.ts";
import { SessionEngine } from "./engine/engine.ts";
import { csrfToken, renewCsrfSecret } from "./csrf_token.ts";
import { type OakContextLike, type SessionMiddleware, sessionMiddleware } from "./middleware.ts";
import {
  bindUser,
  checkUserId,
  listSessions,
  revokeSession,
  revokeSessions,
  type SessionInfo,
  type SessionLifetime,
  setLifetime,
  stateOfTarget,
} from "./user_sessions.ts";

/** The data a session holds, by key. The untyped default takes any key. */
// deno-lint-ignore no-explicit-any
export type SessionShape = Record<string, any>;

/** The keys of `T` that hold numbers (any key of the untyped default). */
export type NumberKeys<T> = {
  [K in keyof T & string]: T[K] extends number | undefined ? K : never;
}[keyof T & string];

// A session's engine, and for a request's session its state (for a manager,
// its middleware). Kept under a module-private symbol rather than private
// fields, so the middleware can hand a request its session without calling
// the public constructor (which builds a manager: `new Session(store)`).
const LINK = Symbol("oak-sessions.session");

interface Link {
  engine: SessionEngine;
  state: RequestState | undefined;
  /** Made when first asked for, once per manager. */
  middleware?: SessionMiddleware<Session>;
}

type Linked = { [LINK]: Link };

function linkOf(session: object): Link | undefined {
  return (session as Partial<Linked>)[LINK];
}

/** A request's session, made by the middleware for each request. */
function requestSession(engine: SessionEngine, state: RequestState): Session {
  const session = Object.create(Session.prototype) as Session & Linked;
  session[LINK] = { engine, state };
  return session;
}

/** The request state of a session of ours (undefined for a manager or anything else). */
function stateOfSession(value: unknown): RequestState | undefined {
  return typeof value === "object" && value !== null ? linkOf(value)?.state : undefined;
}

/** Whether `store` is written for the original oak_sessions' store interface (and only that). */
function isV9Store(store: unknown): store is V9Store {
  const s = store as Record<string, unknown> | null;
  return s !== null && typeof s === "object" && typeof s.get !== "function" &&
    typeof s.getSessionById === "function" && typeof s.createSession === "function" &&
    typeof s.persistSessionData === "function" && typeof s.deleteSession === "function";
}

/**
 * The engine of `store`: a `MemoryStore` when none is given; a store of the
 * original's interface keeps working as it was passed (`new
 * Session(myV9Store)`), through its adapter.
 */
function engineFor(
  store: SessionStore | V9Store | undefined,
  options: SessionOptions | undefined,
): SessionEngine {
  const chosen = store === undefined
    ? new MemoryStore()
    : isV9Store(store)
    ? fromV9Store(store)
    : store;
  return new SessionEngine(chosen, options, stateOfSession);
}

/** The middleware of `engine`, whose requests get a `Session` each. */
function middlewareOf(engine: SessionEngine): SessionMiddleware<Session> {
  return sessionMiddleware(engine, (state) => requestSession(engine, state));
}

/** The request state of `ctx` (a manager's `{ current: ctx }`). */
function current(link: Link, ctx: OakContextLike | undefined): RequestState | undefined {
  return stateOfTarget(link.engine, ctx, "listSessions: current");
}

function req(session: object): RequestState {
  const state = linkOf(session)?.state;
  if (state === undefined) {
    throw new SessionConfigError(
      "this Session is a middleware manager (new Session(store)); read and write session data " +
        "through ctx.session or ctx.state.session inside a handler behind session.initMiddleware()",
    );
  }
  state.touched = true;
  return state;
}

function dropFlash(s: RequestState, key: string): void {
  delete s.flashOut[key];
  if (key in s.record.flash) delete ownRecord(s).flash[key];
  s.flashChanged = true;
}

/**
 * Sessions for Oak. Build the middleware once, then use the session of each
 * request at `ctx.state.session` (and `ctx.session`).
 *
 * ```ts
 * import { Application } from "@oakserver/oak";
 * import { MemoryStore, Session } from "oak-sessions";
 *
 * type AppState = { session: Session<{ count: number }> };
 * const app = new Application<AppState>();
 * app.use(Session.initMiddleware(new MemoryStore(), { expireAfterSeconds: 3600 }));
 * app.use((ctx) => {
 *   const count = (ctx.state.session.get("count") ?? 0) + 1;
 *   ctx.state.session.set("count", count);
 *   ctx.response.body = `visit ${count}`;
 * });
 * ```
 *
 * The original library's style works too: `const session = new Session(store)`, then
 * `router.get(path, session.initMiddleware(), handler)` and
 * `await session.deleteSession(ctx)`.
 */
export class Session<T extends SessionShape = SessionShape> {
  /**
   * A session manager for the original library's style: `new Session(store?, options?)`,
   * then `session.initMiddleware()` on the routes that use sessions. The store
   * defaults to a `MemoryStore`; a store written for the original
   * oak_sessions' `Store` interface is taken as it is (see `fromV9Store`).
   */
  constructor(store?: SessionStore | V9Store, options?: SessionOptions) {
    (this as unknown as Linked)[LINK] = { engine: engineFor(store, options), state: undefined };
  }

  /**
   * The middleware, in the later original's style:
   * `app.use(Session.initMiddleware(store, options))`.
   */
  static initMiddleware<T extends SessionShape = SessionShape>(
    store?: SessionStore | V9Store,
    options?: SessionOptions,
  ): SessionMiddleware<Session<T>> {
    return middlewareOf(engineFor(store, options)) as SessionMiddleware<Session<T>>;
  }

  /** The middleware of this manager (`router.get(path, session.initMiddleware(), handler)`). */
  initMiddleware(): SessionMiddleware<Session<T>> {
    const link = linkOf(this) as Link;
    return (link.middleware ??= middlewareOf(link.engine)) as SessionMiddleware<Session<T>>;
  }

  /** The session ID (also `sid`). A new session gets its ID at once; it is stored only when it holds data. */
  get id(): string {
    return idOf(req(this));
  }

  /** The session ID (same as `id`). */
  get sid(): string {
    return idOf(req(this));
  }

  /**
   * When the session ends as stored (milliseconds since the epoch): its idle
   * expiry, capped by its absolute one, as of the last refresh. Use pushes it
   * forward. `undefined` while the session is not stored (it has held no data yet).
   */
  get expiresAt(): number | undefined {
    const s = req(this);
    return isStored(s) ? s.record.expiresAt : undefined;
  }

  /**
   * The value of `key`, or `undefined`. A flash value is consumed by reading it.
   * Each call returns a fresh copy: changing it changes nothing until `set`.
   */
  get<K extends keyof T & string>(key: K): T[K] | undefined {
    const s = req(this);
    let text = s.record.data[key];
    if (text === undefined) {
      text = s.flashOut[key] ?? s.record.flash[key];
      if (text !== undefined) dropFlash(s, key);
    }
    return fromJson(text) as T[K] | undefined;
  }

  /**
   * Set `key` to `value`; `null` or `undefined` deletes the key. Throws a
   * `SessionValueError` at once when JSON cannot carry the
   * value faithfully.
   */
  set<K extends keyof T & string>(key: K, value: T[K] | null | undefined): void {
    if (value === null || value === undefined) return this.delete(key);
    const text = toJson(key, value);
    const s = req(this);
    ownRecord(s).data[key] = text;
    s.set[key] = text;
    s.deleted.delete(key);
    delete s.increment[key];
  }

  /**
   * Add `by` (default 1) to the number at `key` (a missing key counts as 0),
   * in the store itself, as part of this request's changes: concurrent
   * requests that each add to one key all count (50 tabs adding 1 end at
   * +50), where `set(key, get(key) + 1)` would lose some. Returns the value
   * after this request's own increment, as far as this request can know it:
   * the stored total may be higher, by what other requests added meanwhile.
   * Throws a `SessionValueError` when the key holds something other than a
   * number, or `by` is not a finite number.
   */
  increment<K extends NumberKeys<T>>(key: K, by: number = 1): number {
    if (typeof by !== "number" || !Number.isFinite(by)) {
      throw new SessionValueError(
        key,
        `increment(${JSON.stringify(key)}, by): by must be a finite number, got ${String(by)}`,
      );
    }
    const s = req(this);
    const stored = fromJson(s.record.data[key]) ?? 0;
    if (typeof stored !== "number") {
      throw new SessionValueError(
        key,
        `increment(${JSON.stringify(key)}): the key holds ${
          Array.isArray(stored) ? "an array" : typeof stored
        }, not a number; increment only a key that holds a number (or none yet)`,
      );
    }
    const sum = stored + by;
    if (!Number.isFinite(sum)) {
      throw new SessionValueError(
        key,
        `increment(${JSON.stringify(key)}, ${by}): the sum is not a finite number`,
      );
    }
    const text = JSON.stringify(sum);
    ownRecord(s).data[key] = text;
    // Set (or cleared) in this request: the store sets the sum, no addition to merge.
    if (key in s.set || s.cleared) s.set[key] = text;
    else s.increment[key] = (s.increment[key] ?? 0) + by;
    return sum;
  }

  /** The user this session belongs to (`setUser`), or `undefined`. */
  get userId(): string | undefined {
    return req(this).record.userId;
  }

  /**
   * Bind the session to a user (call it at login). Binding, or binding to
   * another user, is a privilege change: the session gets a new ID by itself
   * (as `regenerate()` gives; calling that first is harmless), so an ID an
   * attacker planted before the login stays useless. The store indexes it:
   * `listSessions(userId)` finds the session and `revokeSessions(userId)`
   * ends it. `regenerate()` keeps it, `destroy()` ends it. A session bound to
   * a user is stored even if it holds no data. Throws a `SessionValueError`
   * unless `userId` is a non-empty string of at most 256 characters.
   */
  setUser(userId: string): void {
    const user = checkUserId(userId, "setUser");
    const s = req(this);
    if (s.record.userId === user) return;
    // A stored session gets a new ID (once: after that it is no longer the stored one).
    if (isStored(s)) moveSession(s);
    bindUser(s, user, (linkOf(this) as Link).engine.now());
    // Tokens handed out before the login open nothing after it.
    renewCsrfSecret(s);
  }

  /**
   * Give this session its own lifetime, kept with it (and across
   * `regenerate()`): `idleSeconds` and `absoluteSeconds` (bounded by the
   * app's `maxIdleSeconds` and `maxAbsoluteSeconds`), and `persistent`: `true`
   * for a cookie that outlives the browser ("remember me"), `false` for a
   * browser-session cookie. What is left out is the app's default. Throws a
   * `SessionConfigError` for a value that is not allowed.
   */
  setLifetime(lifetime: SessionLifetime): void {
    const s = req(this);
    setLifetime((linkOf(this) as Link).engine, s, lifetime);
  }

  /**
   * Push the session's idle expiry forward now (and re-send its cookie), even
   * when nothing else changed and no refresh is due yet.
   */
  touch(): void {
    req(this).touchRequested = true;
  }

  /**
   * The live sessions of `userId`, newest first, each with a `fingerprint`
   * (for `revokeSession`), `createdAt`, `lastSeenAt`, `expiresAt`, `current`
   * (whether it is this request's), `persistent`, and the device it was bound
   * on when the app records it (`recordDevice`). `[]` for an unknown user.
   * On `ctx.state.session`, `current` marks this request's session; on a
   * manager, pass `{ current: ctx }`. A session bound in this very request is
   * stored at its end, so it is listed from the next request on.
   */
  listSessions(userId: string, options: { current?: OakContextLike } = {}): Promise<SessionInfo[]> {
    const link = linkOf(this) as Link;
    return Promise.resolve().then(() =>
      listSessions(link.engine, userId, link.state ?? current(link, options.current))
    );
  }

  /**
   * End every session of `userId` in the store at once ("log out
   * everywhere"), or all but one: `{ except: ctx }` keeps the session of that
   * request. A request of a revoked session already in flight cannot bring it
   * back. Returns how many sessions ended (the cookie store, which holds no
   * sessions on the server, returns 0: its revocation is a time, after which
   * the user's older cookies open nothing).
   */
  revokeSessions(
    userId: string,
    options: { except?: OakContextLike | Session<SessionShape> } = {},
  ): Promise<number> {
    const link = linkOf(this) as Link;
    return Promise.resolve().then(() => {
      const except = stateOfTarget(link.engine, options.except, "revokeSessions: except");
      return revokeSessions(link.engine, userId, except, link.state);
    });
  }

  /**
   * End the session of `userId` that `listSessions` showed with
   * `fingerprint`. Returns whether there was one.
   */
  revokeSession(userId: string, fingerprint: string): Promise<boolean> {
    const link = linkOf(this) as Link;
    return Promise.resolve().then(() =>
      revokeSession(link.engine, userId, fingerprint, link.state)
    );
  }

  /** Whether `key` holds a value (or an unread flash value, which stays unread). */
  has(key: keyof T & string): boolean {
    const s = req(this);
    return key in s.record.data || key in s.flashOut || key in s.record.flash;
  }

  /**
   * Set a value that lives for this request and the next one (a message that
   * survives one redirect). `get` consumes it; unread, it is gone after the
   * next request.
   */
  flash<K extends keyof T & string>(key: K, value: T[K]): void {
    const text = toJson(key, value);
    const s = req(this);
    s.flashOut[key] = text;
    s.flashChanged = true;
  }

  /** Remove `key` (and any flash value of that name). */
  delete(key: keyof T & string): void {
    const s = req(this);
    delete s.increment[key];
    if (key in s.record.data) {
      delete ownRecord(s).data[key];
      delete s.set[key];
      s.deleted.add(key);
    }
    if (key in s.flashOut || key in s.record.flash) dropFlash(s, key);
  }

  /** A copy of every key and value (flash values excluded). */
  all(): Partial<T> {
    const data = req(this).record.data;
    const out: SessionShape = Object.create(null);
    for (const key in data) out[key] = fromJson(data[key]);
    return out as Partial<T>;
  }

  /** Remove every key and flash value; the session (and its ID) stays. */
  clear(): void {
    const s = req(this);
    ownRecord(s).data = emptyFields();
    s.set = emptyFields();
    s.deleted.clear();
    s.increment = Object.create(null);
    s.cleared = true;
    s.flashOut = emptyFields();
    if (hasFields(s.record.flash)) s.flashChanged = true;
    s.record.flash = emptyFields();
  }

  /**
   * Give the session a new ID, keeping its data; the old ID is destroyed in the
   * store at commit. Call it when privileges change (login), against fixation.
   * The session's CSRF tokens change with it.
   */
  regenerate(): Promise<void> {
    const s = req(this);
    moveSession(s);
    renewCsrfSecret(s);
    return Promise.resolve();
  }

  /**
   * A token against cross-site request forgery, for browsers that send
   * neither `Sec-Fetch-Site` nor `Origin` (the middleware's `csrf: { tokens:
   * true }`): put it in a form's `_csrf` field or a request's `x-csrf-token`
   * header. Each call gives another string (masked, so a compressed page
   * never repeats it); all of them open this session only, and none after
   * it ends or logs in (`destroy()`, `regenerate()`, `setUser`). The first
   * call stores the session, even with no data.
   */
  csrfToken(): string {
    return csrfToken(req(this));
  }

  /** End the session: its data is gone, in the store and in this request. Same as `deleteSession()`. */
  destroy(): Promise<void> {
    const link = linkOf(this) as Link;
    endSession(req(this), link.engine.now());
    return Promise.resolve();
  }

  /**
   * Without an argument, on `ctx.state.session`: end this session (same as
   * `destroy()`). With an argument, on a manager (`new Session(store)`): end the
   * session of that request context or of that session ID, from any route.
   */
  deleteSession(target?: OakContextLike | string | Promise<string | undefined>): Promise<void> {
    const link = linkOf(this) as Link;
    if (target === undefined && link.state !== undefined) return this.destroy();
    return link.engine.deleteSession(target);
  }
}
