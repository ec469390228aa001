/**
 * The per-request session: typed `get`/`set`, flash values, and the log of
 * what this request changed, which is all that gets written back.
 *
 * @module
 */
import { SessionConfigError } from "./errors.ts";
import { fromJson, toJson } from "./json_value.ts";
import type { SessionOptions } from "./options.ts";
import type { JsonFields, SessionRecord, SessionStore } from "./store.ts";
import { emptyFields } from "./store.ts";
import { newSessionId } from "./session_id.ts";
import { type OakContextLike, SessionEngine, type SessionMiddleware } from "./middleware.ts";

/** The data a session holds, by key. The untyped default takes any key. */
// deno-lint-ignore no-explicit-any
export type SessionShape = Record<string, any>;

/** @internal The state of one request's session. */
export interface RequestState {
  id: string;
  /** Whether the session exists in the store (or the client's cookie) as loaded. */
  stored: boolean;
  /** A server-side store's key of the stored session (SHA-256 of its ID), hashed once. */
  key: string | undefined;
  /** Whether this request replaced a stored session (regenerate, destroy): removed at commit. */
  retired: boolean;
  /** The server-side store's key of the replaced session. */
  retiredKey: string | undefined;
  /** The request's session cookie led nowhere (unknown, expired): cleared unless a session is stored. */
  deadCookie: boolean;
  record: SessionRecord;
  set: JsonFields;
  deleted: Set<string>;
  cleared: boolean;
  /** Flash values this request set, for the next one. */
  flashOut: JsonFields;
  /** Whether the stored flash values must be replaced at commit. */
  flashChanged: boolean;
  /** Whether the handler used the session at all (for `Vary: Cookie`). */
  touched: boolean;
}

/** @internal A fresh, empty, unstored session state (with `id`, or a new ID when first read). */
export function freshState(now: number, id?: string): RequestState {
  let current = id;
  return {
    // Drawn on first use: most requests without a session never store one,
    // and the random draw is a measurable share of such a request.
    get id() {
      return current ??= newSessionId();
    },
    set id(value: string) {
      current = value;
    },
    stored: false,
    key: undefined,
    retired: false,
    retiredKey: undefined,
    deadCookie: false,
    record: { data: emptyFields(), flash: emptyFields(), createdAt: now, expiresAt: now },
    set: emptyFields(),
    deleted: new Set(),
    cleared: false,
    flashOut: emptyFields(),
    flashChanged: false,
    touched: false,
  };
}

/** @internal The state of a session loaded from its store (under `key`, for a server-side store). */
export function loadedState(
  id: string,
  record: SessionRecord,
  key: string | undefined,
): RequestState {
  const state = freshState(record.createdAt, id);
  state.stored = true;
  state.key = key;
  state.record = record;
  // The flash values the previous request left are shown now and dropped at commit.
  for (const _ in record.flash) {
    state.flashChanged = true;
    break;
  }
  return state;
}

// Set while the middleware builds a per-request Session (the public constructor
// stays the seed's `new Session(store)`).
let pendingState: { engine: SessionEngine; state: RequestState } | undefined;

/** @internal The session of one request. */
export function sessionFor(engine: SessionEngine, state: RequestState): Session {
  pendingState = { engine, state };
  return new Session();
}

/** @internal The request state of a session (undefined for a manager). */
export let stateOf: (session: object) => RequestState | undefined;

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
 * The seed's style works too: `const session = new Session(store)`, then
 * `router.get(path, session.initMiddleware(), handler)` and
 * `await session.deleteSession(ctx)`.
 */
export class Session<T extends SessionShape = SessionShape> {
  #engine: SessionEngine;
  #state: RequestState | undefined;

  /**
   * A session manager for the seed's style: `new Session(store?, options?)`,
   * then `session.initMiddleware()` on the routes that use sessions. The store
   * defaults to a `MemoryStore`.
   */
  constructor(store?: SessionStore, options?: SessionOptions) {
    if (pendingState) {
      this.#engine = pendingState.engine;
      this.#state = pendingState.state;
      pendingState = undefined;
    } else {
      this.#engine = new SessionEngine(store, options);
    }
  }

  static {
    // A brand check: anything else kept at ctx.state.session is not a session.
    stateOf = (session) => #state in session ? session.#state : undefined;
  }

  /**
   * The middleware, in the later original's style:
   * `app.use(Session.initMiddleware(store, options))`.
   */
  static initMiddleware(store?: SessionStore, options?: SessionOptions): SessionMiddleware {
    return new SessionEngine(store, options).middleware;
  }

  /** The middleware of this manager (`router.get(path, session.initMiddleware(), handler)`). */
  initMiddleware(): SessionMiddleware {
    return this.#engine.middleware;
  }

  #req(): RequestState {
    if (this.#state === undefined) {
      throw new SessionConfigError(
        "this Session is a middleware manager (new Session(store)); read and write session data " +
          "through ctx.session or ctx.state.session inside a handler behind session.initMiddleware()",
      );
    }
    this.#state.touched = true;
    return this.#state;
  }

  /** The session ID (also `sid`). A new session gets its ID at once; it is stored only when it holds data. */
  get id(): string {
    return this.#req().id;
  }

  /** The session ID (same as `id`). */
  get sid(): string {
    return this.#req().id;
  }

  /**
   * When the session ends as stored (milliseconds since the epoch): its idle
   * expiry, capped by its absolute one, as of the last refresh. Use pushes it
   * forward. `undefined` while the session is not stored (it has held no data yet).
   */
  get expiresAt(): number | undefined {
    const s = this.#req();
    return s.stored ? s.record.expiresAt : undefined;
  }

  /**
   * The value of `key`, or `undefined`. A flash value is consumed by reading it.
   * Each call returns a fresh copy: changing it changes nothing until `set`.
   */
  get<K extends keyof T & string>(key: K): T[K] | undefined {
    const s = this.#req();
    let text = s.record.data[key];
    if (text === undefined) {
      text = s.flashOut[key] ?? s.record.flash[key];
      if (text !== undefined) this.#dropFlash(s, key);
    }
    return fromJson(text) as T[K] | undefined;
  }

  /**
   * Set `key` to `value`; `null` or `undefined` deletes the key. Throws a
   * `SessionValueError` (a `TypeError`) at once when JSON cannot carry the
   * value faithfully.
   */
  set<K extends keyof T & string>(key: K, value: T[K] | null | undefined): void {
    if (value === null || value === undefined) return this.delete(key);
    const text = toJson(key, value);
    const s = this.#req();
    s.record.data[key] = text;
    s.set[key] = text;
    s.deleted.delete(key);
  }

  /** Whether `key` holds a value (or an unread flash value, which stays unread). */
  has(key: keyof T & string): boolean {
    const s = this.#req();
    return key in s.record.data || key in s.flashOut || key in s.record.flash;
  }

  /**
   * Set a value that lives for this request and the next one (a message that
   * survives one redirect). `get` consumes it; unread, it is gone after the
   * next request.
   */
  flash<K extends keyof T & string>(key: K, value: T[K]): void {
    const text = toJson(key, value);
    const s = this.#req();
    s.flashOut[key] = text;
    s.flashChanged = true;
  }

  /** Remove `key` (and any flash value of that name). */
  delete(key: keyof T & string): void {
    const s = this.#req();
    if (key in s.record.data) {
      delete s.record.data[key];
      delete s.set[key];
      s.deleted.add(key);
    }
    if (key in s.flashOut || key in s.record.flash) this.#dropFlash(s, key);
  }

  /** A copy of every key and value (flash values excluded). */
  all(): Partial<T> {
    const data = this.#req().record.data;
    const out: SessionShape = Object.create(null);
    for (const key in data) out[key] = fromJson(data[key]);
    return out as Partial<T>;
  }

  /** Remove every key and flash value; the session (and its ID) stays. */
  clear(): void {
    const s = this.#req();
    s.record.data = emptyFields();
    s.set = emptyFields();
    s.deleted.clear();
    s.cleared = true;
    s.flashOut = emptyFields();
    if (this.#hasStoredFlash(s)) s.flashChanged = true;
    s.record.flash = emptyFields();
  }

  /**
   * Give the session a new ID, keeping its data; the old ID is destroyed in the
   * store at commit. Call it when privileges change (login), against fixation.
   */
  regenerate(): Promise<void> {
    const s = this.#req();
    if (s.stored) {
      s.retired = true;
      s.retiredKey = s.key;
    }
    s.stored = false;
    s.key = undefined;
    s.id = newSessionId();
    return Promise.resolve();
  }

  /** End the session: its data is gone, in the store and in this request. Same as `deleteSession()`. */
  destroy(): Promise<void> {
    const s = this.#req();
    const fresh = freshState(this.#engine.now());
    fresh.retired = s.retired || s.stored;
    fresh.retiredKey = s.retiredKey ?? s.key;
    fresh.touched = true;
    this.#state = fresh;
    return Promise.resolve();
  }

  /**
   * Without an argument, on `ctx.state.session`: end this session (same as
   * `destroy()`). With an argument, on a manager (`new Session(store)`): end the
   * session of that request context or of that session ID, from any route.
   */
  deleteSession(target?: OakContextLike | string | Promise<string | undefined>): Promise<void> {
    if (target === undefined && this.#state !== undefined) return this.destroy();
    return this.#engine.deleteSession(target);
  }

  #hasStoredFlash(s: RequestState): boolean {
    for (const _ in s.record.flash) return true;
    return false;
  }

  #dropFlash(s: RequestState, key: string): void {
    delete s.flashOut[key];
    delete s.record.flash[key];
    s.flashChanged = true;
  }
}
