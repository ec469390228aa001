/**
 * `ExpressSessionStore`: any express-session store (connect-redis,
 * connect-pg-simple, connect-mongo, memorystore, session-file-store, the
 * DynamoDB stores and the rest of that ecosystem) as a server store of
 * oak-sessions.
 *
 * Those stores know three calls, `get(sid, cb)`, `set(sid, session, cb)` and
 * `destroy(sid, cb)`, and read and write whole sessions. Nothing in that API
 * compares and swaps, so this adapter cannot make a change atomic in the
 * backend. What it does instead, and what holds because of it:
 *
 * - Every operation on one session through one wrapped store object is
 *   queued behind the previous one, in this process. Within one process,
 *   concurrent requests that change different keys all land, and a delete
 *   wins over a slow request, exactly as with the atomic stores.
 * - Across processes (several app instances on one backend), two writes of
 *   one session that overlap still lose one of them: the last whole-session
 *   write wins.
 * - A delete writes a short-lived deletion marker (under `key + ".gone"`,
 *   for {@link DELETION_MARKER_SECONDS}) before it destroys the session, and
 *   every update and rotation reads the marker after writing: when it is
 *   there, the write is undone. So a delete wins across processes too, as
 *   long as the backend reads its own writes (connect-redis, connect-pg-simple
 *   and session-file-store do; eventually consistent reads do not).
 * - A rotation writes the new session first, checks the old one's marker,
 *   then marks the old one deleted and writes the rotation's marker over it
 *   (see `movedAt` in the store contract): it never revives a deleted session
 *   and never loses the session to a failure, but it is not one step (for a
 *   moment both IDs are valid; across processes, two rotations of one session
 *   at once can both succeed).
 * - The rotation's marker is a session object `{ cookie, oak_sessions_moved:
 *   { v: 1, at } }` (`at`: when it moved) whose `cookie` expires
 *   `MOVED_MARKER_MS` after the move, so the backend drops it by its own TTL.
 *   In one process, `update` and `rotate` of the old key queue behind the
 *   rotation and find the marker: they write nothing and answer `"moved"`.
 *   Across processes, a write of the old session read before the rotation
 *   and written after it replaces the marker, then finds the deletion marker
 *   and destroys what it wrote: the old ID then opens nothing (the marker is
 *   lost, as the old key was before markers existed). Earlier versions of
 *   this adapter find no `oak_sessions` in the marker and read it as no
 *   session.
 *
 * The session object handed to the store is `{ cookie, oak_sessions }`:
 * `cookie` carries `expires`, `maxAge` and `originalMaxAge` (the store's TTL
 * comes from them, as it does for express-session), `oak_sessions` the record:
 * `v` (always 1), `c` and `e` (creation and expiry times), `d` and `f` (data
 * and flash as JSON text), and, when the session has them, `u` (the user it is
 * bound to), `s` (when a request last wrote it) and `m` (its own settings,
 * as JSON text). A record without `u`, `s` and `m`, as earlier versions wrote
 * it, reads as a session with none. (`boundAt` is not kept: a server store
 * revokes by deleting.) Keys are the SHA-256 of the session ID, never the ID.
 *
 * Counters (`increment`) are added to the record this adapter reads inside
 * the same queued read-modify-write, so concurrent increments in one process
 * all count; across processes, like any other write, one can be lost.
 *
 * @module
 */
import { SessionConfigError, SessionStoreError } from "../errors.ts";
import { checkOptionKeys, keysOf } from "../option_keys.ts";
import {
  changedRecord,
  MOVED_MARKER_MS,
  movedMarker,
  type ServerStore,
  type SessionChange,
  type SessionRecord,
  type WriteResult,
} from "../store.ts";
import { type KeyedQueue, queueOf } from "./shared/keyed_queue.ts";
import { copyFields, payloadRecord } from "./shared/record_codec.ts";

/** Keys of `new ExpressSessionStore(store, options)`. */
export const EXPRESS_SESSION_STORE_OPTION_KEYS: readonly string[] = keysOf<
  ExpressSessionStoreOptions
>({
  timeoutMs: true,
  markDeletions: true,
});

/** The callback of an express-session store call. */
export type ExpressSessionCallback<T = unknown> = (error?: unknown, value?: T) => void;

/** The `cookie` part of an express-session session, as stores read it for their TTL. */
export interface ExpressSessionCookie {
  /** The cookie's lifetime in milliseconds when written (`null`: a browser-session cookie). */
  originalMaxAge: number | null;
  /** Milliseconds left. */
  maxAge?: number;
  /** When the session ends. */
  expires?: Date | string | null;
  /** Cookie attributes, as express-session keeps them. */
  httpOnly?: boolean;
  /** Cookie attributes, as express-session keeps them. */
  path?: string;
}

/** A session as express-session stores hold it: a `cookie` and anything else. */
export interface ExpressSessionData {
  /** What the store reads the session's expiry from. */
  cookie: ExpressSessionCookie;
  /** The session's own fields. */
  [field: string]: unknown;
}

/**
 * The express-session Store API the adapter uses: `get`, `set` and
 * `destroy`, each with a Node-style callback (a returned promise is
 * accepted too, as connect-redis returns one).
 */
export interface ExpressSessionStoreLike {
  /** The session under `sid`, or `null`/`undefined` when there is none. */
  get(sid: string, callback: ExpressSessionCallback<ExpressSessionData | null>): unknown;
  /** Store `session` under `sid`, replacing what is there. */
  set(sid: string, session: ExpressSessionData, callback: ExpressSessionCallback): unknown;
  /** Remove the session under `sid`. */
  destroy(sid: string, callback: ExpressSessionCallback): unknown;
}

/**
 * Options of {@link ExpressSessionStore}.
 *
 * ```ts
 * new ExpressSessionStore(store, { timeoutMs: 2000, markDeletions: true });
 * ```
 */
export interface ExpressSessionStoreOptions {
  /**
   * How long one store call may take before the request fails with a
   * `SessionStoreError` (503), in milliseconds. Default 5000. It bounds a
   * store that never calls back.
   */
  timeoutMs?: number;
  /**
   * Write a deletion marker on delete and check it after each write, so a
   * delete in another process wins over a write in flight. Default `true`.
   * `false` saves one store read per write and one write per delete, and is
   * safe when a single process uses the backend.
   */
  markDeletions?: boolean;
}

/** How long a deletion marker lives, in seconds (far longer than any write is in flight). */
export const DELETION_MARKER_SECONDS = 300;

const PAYLOAD = "oak_sessions";
const MARKER = "oak_sessions_deleted";
// Not under PAYLOAD: an earlier version of the adapter reads the marker as no session.
const MOVED = "oak_sessions_moved";
const MARKER_SUFFIX = ".gone";

const NEEDS = ["get", "set", "destroy"] as const;
const EXAMPLES = "an express-session store instance, e.g. new RedisStore({ client }) from " +
  "connect-redis, new (connectPgSimple(session))({ pool }), new (FileStore(session))({ path })";

function checkStore(store: unknown): ExpressSessionStoreLike {
  if (typeof store === "function") {
    throw new SessionConfigError(
      "ExpressSessionStore: got a function (a store class or a module's factory); pass " +
        EXAMPLES,
    );
  }
  if (store === null || typeof store !== "object") {
    throw new SessionConfigError(
      `ExpressSessionStore: expected ${EXAMPLES}; got ${store === null ? "null" : typeof store}`,
    );
  }
  const missing = NEEDS.filter((m) => typeof (store as Record<string, unknown>)[m] !== "function");
  if (missing.length > 0) {
    throw new SessionConfigError(
      `ExpressSessionStore: the store has no ${
        missing.map((m) => `${m}(sid, ${m === "set" ? "session, " : ""}callback)`).join(", ")
      }; pass ${EXAMPLES}`,
    );
  }
  return store as ExpressSessionStoreLike;
}

/**
 * The record inside what the store returned (a rotation's marker as a record
 * with `movedAt`), or `null` for anything this adapter did not write.
 */
function decode(session: unknown): SessionRecord | null {
  if (session === null || typeof session !== "object") return null;
  const moved = (session as Record<string, unknown>)[MOVED] as Record<string, unknown> | undefined;
  if (moved !== undefined) {
    const ok = moved !== null && typeof moved === "object" && moved.v === 1 &&
      typeof moved.at === "number" && Number.isFinite(moved.at);
    return ok ? movedMarker(moved.at as number) : null;
  }
  const p = (session as Record<string, unknown>)[PAYLOAD] as Record<string, unknown> | undefined;
  if (p === null || typeof p !== "object") return null;
  const record = payloadRecord(p);
  if (record === null) return null;
  // Absent in what earlier versions wrote; present but of another type: not ours.
  if (p.u !== undefined) {
    if (typeof p.u !== "string" || p.u === "") return null;
    record.userId = p.u;
  }
  if (p.s !== undefined) {
    if (typeof p.s !== "number" || !Number.isFinite(p.s)) return null;
    record.lastSeenAt = p.s;
  }
  if (p.m !== undefined) {
    if (typeof p.m !== "string") return null;
    record.meta = p.m;
  }
  return record;
}

/** The `cookie` the store reads its TTL from: `remaining` ms from now on the store's own clock. */
function cookieFor(remaining: number): ExpressSessionCookie {
  if (!Number.isFinite(remaining)) {
    return { originalMaxAge: null, expires: null, httpOnly: true, path: "/" };
  }
  const ms = Math.ceil(remaining);
  return {
    originalMaxAge: ms,
    maxAge: ms,
    expires: new Date(Date.now() + ms),
    httpOnly: true,
    path: "/",
  };
}

function encode(record: SessionRecord, now: number): ExpressSessionData {
  const payload: Record<string, unknown> = {
    v: 1,
    c: record.createdAt,
    e: Number.isFinite(record.expiresAt) ? record.expiresAt : null,
    d: copyFields(record.data),
    f: copyFields(record.flash),
  };
  // Written only when set, so a session without them is stored as before.
  if (record.userId !== undefined) payload.u = record.userId;
  if (record.lastSeenAt !== undefined) payload.s = record.lastSeenAt;
  if (record.meta !== undefined) payload.m = record.meta;
  return { cookie: cookieFor(record.expiresAt - now), [PAYLOAD]: payload };
}

/** The session object of the marker a rotation at `now` leaves under the old key. */
function movedSession(now: number): ExpressSessionData {
  return { cookie: cookieFor(MOVED_MARKER_MS), [MOVED]: { v: 1, at: now } };
}

function markerSession(): ExpressSessionData {
  return { cookie: cookieFor(DELETION_MARKER_SECONDS * 1000), [MARKER]: true };
}

/**
 * Any express-session store as an oak-sessions server store.
 *
 * ```ts
 * import session from "express-session";
 * import { RedisStore } from "connect-redis";
 * import { ExpressSessionStore, Session } from "oak-sessions";
 *
 * const store = new ExpressSessionStore(new RedisStore({ client: redis, prefix: "app:" }));
 * app.use(Session.initMiddleware(store, { expireAfterSeconds: 3600 }));
 * ```
 *
 * The backend keeps expiring sessions by its own TTL, read from the
 * session's `cookie.expires`/`maxAge`. Within one process every guarantee of
 * the atomic stores holds; across processes concurrent writes of one session
 * can lose one another (the last whole write wins), while a delete still
 * wins (see the module's documentation for exactly what holds).
 *
 * It keeps each session's user (`setUser`) but has no `listByUser` or
 * `deleteByUser`: the express-session Store API has no query by anything
 * but the session ID (its optional `all()` reads every session of the
 * backend, and many stores lack it), so a user's sessions cannot be found
 * without a per-user index the backend cannot keep atomically beside them.
 * The middleware therefore refuses `listSessions`, `revokeSession` and
 * `revokeSessions` with a `SessionConfigError`; use a store of this library
 * (MemoryStore, SqliteStore, PostgresStore, MySqlStore, RedisStore, WebdisStore,
 * DenoKvStore) for those.
 */
export class ExpressSessionStore implements ServerStore {
  /** A server-side store (the middleware chooses by this, not by class). */
  readonly kind = "server";
  #store: ExpressSessionStoreLike;
  #name: string;
  #timeoutMs: number;
  #markDeletions: boolean;
  #queue: KeyedQueue;

  /**
   * Wrap `store`, an express-session store instance (never closed by this
   * adapter). Throws a `SessionConfigError` for anything without
   * `get`/`set`/`destroy`.
   */
  constructor(store: ExpressSessionStoreLike, options: ExpressSessionStoreOptions = {}) {
    this.#store = checkStore(store);
    if (typeof options !== "object" || options === null) {
      throw new SessionConfigError(
        "ExpressSessionStore: options must be an object, e.g. { timeoutMs: 5000 }",
      );
    }
    checkOptionKeys("ExpressSessionStore", options, EXPRESS_SESSION_STORE_OPTION_KEYS);
    const { timeoutMs = 5000, markDeletions = true } = options;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
      throw new SessionConfigError(
        `ExpressSessionStore: timeoutMs must be a positive integer (milliseconds), got ${
          String(timeoutMs)
        }`,
      );
    }
    if (typeof markDeletions !== "boolean") {
      throw new SessionConfigError("ExpressSessionStore: markDeletions must be true or false");
    }
    this.#timeoutMs = timeoutMs;
    this.#markDeletions = markDeletions;
    const ctor = (store as { constructor?: { name?: unknown } }).constructor;
    this.#name = typeof ctor?.name === "string" && ctor.name !== "Object" ? ctor.name : "store";
    this.#queue = queueOf(store);
  }

  /** Run `fn` after every earlier operation on any of `keys` (through this store object) ended. */
  #serial<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
    return this.#queue.run(keys, fn);
  }

  /** One store call as a promise: the callback settles it (or a rejected promise, or the timeout). */
  #call(method: (typeof NEEDS)[number], args: unknown[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (error: unknown, value?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error === undefined || error === null) resolve(value);
        else if (method === "get" && (error as { code?: unknown }).code === "ENOENT") {
          // express-session's own reading of a get error: ENOENT means no session.
          resolve(null);
        } else reject(this.#failure(method, error));
      };
      const timer = setTimeout(() => {
        finish(new Error(`no answer within ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
      try {
        const fn = this.#store[method] as (...a: unknown[]) => unknown;
        const returned = fn.call(this.#store, ...args, finish);
        if (returned !== null && typeof returned === "object" && "then" in returned) {
          // Only a rejection counts: the callback is the API's answer.
          (returned as Promise<unknown>).then(undefined, (e) => finish(e ?? new Error("rejected")));
        }
      } catch (error) {
        finish(error);
      }
    });
  }

  #failure(method: string, error: unknown): SessionStoreError {
    const detail = error instanceof Error ? error.message : String(error);
    return new SessionStoreError(`ExpressSessionStore: ${this.#name}.${method} failed: ${detail}`, {
      cause: error,
    });
  }

  async #read(key: string, now: number): Promise<SessionRecord | null> {
    const record = decode(await this.#call("get", [key]));
    return record !== null && record.expiresAt > now ? record : null;
  }

  /** Whether a delete marked `key` (always `false` with `markDeletions: false`). */
  async #deleted(key: string): Promise<boolean> {
    if (!this.#markDeletions) return false;
    const marker = await this.#call("get", [key + MARKER_SUFFIX]);
    return marker !== null && typeof marker === "object" &&
      (marker as Record<string, unknown>)[MARKER] === true;
  }

  async #remove(key: string): Promise<void> {
    if (this.#markDeletions) await this.#call("set", [key + MARKER_SUFFIX, markerSession()]);
    await this.#call("destroy", [key]);
  }

  /**
   * Mark `key` deleted (unless `markDeletions` is off), so that a write of the
   * old session in flight in another process undoes itself, then put the
   * rotation's marker in its place with one `set` (the key never reads as
   * missing in between).
   */
  async #leaveMarker(key: string, now: number): Promise<void> {
    if (this.#markDeletions) await this.#call("set", [key + MARKER_SUFFIX, markerSession()]);
    await this.#call("set", [key, movedSession(now)]);
  }

  /**
   * The session's record (a rotation's marker as a record with `movedAt`), or
   * `null` when missing, expired, or not written by this adapter.
   */
  async get(key: string, now: number): Promise<SessionRecord | null> {
    return await this.#read(key, now);
  }

  /** Store a new session (replacing any under that key); the backend's TTL comes from its expiry. */
  create(key: string, record: SessionRecord, now: number): Promise<void> {
    return this.#serial([key], async () => {
      if (record.expiresAt <= now) await this.#call("destroy", [key]);
      else await this.#call("set", [key, encode(record, now)]);
    });
  }

  /**
   * Read the session, apply `change`, write it whole: only if it exists and
   * is live at `now`. Queued behind other operations on the session in this
   * process; undone (returning `false`) when a delete marked it meanwhile.
   * `"moved"`, writing nothing, when the key holds a rotation's marker.
   */
  update(key: string, change: SessionChange, now: number): Promise<WriteResult> {
    return this.#serial([key], async () => {
      const record = changedRecord(await this.#read(key, now), change);
      if (typeof record !== "object") return record;
      if (record.expiresAt <= now) {
        await this.#call("destroy", [key]);
        return true;
      }
      await this.#call("set", [key, encode(record, now)]);
      if (await this.#deleted(key)) {
        await this.#call("destroy", [key]);
        return false;
      }
      return true;
    });
  }

  /**
   * Move the session to `newKey` in the safest order whole-session writes
   * allow: read the old one (gone or expired: `false`, nothing written),
   * write the new one, check that no delete marked the old one meanwhile
   * (marked: remove the new one, `false`), then mark the old one deleted and
   * write the rotation's marker over it. `"moved"`, writing nothing, when the
   * old key holds a marker. A failure part way removes the new copy again
   * where it can and rethrows; the old session is then as it was, or marked
   * as deleted.
   */
  rotate(oldKey: string, newKey: string, change: SessionChange, now: number): Promise<WriteResult> {
    return this.#serial([oldKey, newKey], async () => {
      const record = changedRecord(await this.#read(oldKey, now), change);
      if (typeof record !== "object") return record;
      if (record.expiresAt <= now) {
        await this.#leaveMarker(oldKey, now);
        return true;
      }
      await this.#call("set", [newKey, encode(record, now)]);
      try {
        if (await this.#deleted(oldKey)) {
          await this.#call("destroy", [newKey]);
          return false;
        }
        await this.#leaveMarker(oldKey, now);
        return true;
      } catch (error) {
        await this.#call("destroy", [newKey]).catch(() => {});
        throw error;
      }
    });
  }

  /** Remove the session (after writing its deletion marker, unless `markDeletions` is off). */
  delete(key: string): Promise<void> {
    return this.#serial([key], () => this.#remove(key));
  }
}
