/**
 * `fromV9Store`: a store written for the original oak_sessions (its `Store`
 * interface of v9 and earlier: `getSessionById`, `createSession`,
 * `persistSessionData`, `deleteSession`) as a server store of oak-sessions,
 * so a user's own store keeps working after the upgrade.
 *
 * That interface reads and writes whole sessions and offers nothing that
 * compares and swaps, so the adapter cannot make a change atomic in the
 * backend. What holds, exactly:
 *
 * - In one process, every operation on a session through one wrapped store
 *   object waits for the previous one to end. So within a process,
 *   concurrent requests that change different keys all land, a logout wins
 *   over a slow request, and a rotation never revives an ended session, as
 *   with the atomic stores.
 * - Across processes (several app instances on one backend) none of that
 *   holds: two overlapping writes of one session lose one of them (the last
 *   whole-session write wins), and a slow request in one process can write a
 *   session back after another process deleted it, when the store's
 *   `persistSessionData` creates what is missing (the original's Redis and
 *   Webdis stores did; its SQL stores ran an `UPDATE` and did not).
 * - `rotate` reads the old session, writes the new one, reads the old one
 *   again (gone meanwhile: the new one is removed, `false`; moved by another
 *   process meanwhile: the new one is removed, `"moved"`), then replaces the
 *   old one with the rotation's marker, in one `persistSessionData` (so the
 *   old key never reads as missing in between). A failure part way never
 *   loses the session (the old one is kept until the new one is written) and
 *   removes the new copy where it can; for a moment both IDs are valid.
 * - The marker (see `movedAt` in the store contract) lives
 *   `MOVED_MARKER_MS` after the move and, as any expired document, is
 *   deleted when it is read after that (the interface has no TTL). In one
 *   process, `update` and `rotate` of the old key queue behind the rotation
 *   and find the marker: they write nothing and answer `"moved"`. Across
 *   processes, a slow write of the old session in another process, read
 *   before the rotation and written after it, replaces the marker with that
 *   session (the original's SQL stores included, since the marker is a
 *   document their `UPDATE` finds): the old ID then opens that request's
 *   copy of the session, valid beside the new one (one more way two IDs are
 *   valid at once across processes).
 *   The marker document is the original's shape with `_delete: true` and
 *   `_oak_sessions: { v: 1, mv }` (when it moved), so an earlier version of
 *   this adapter reads it as a deleted session: nothing, as the old key read
 *   before markers existed.
 * - Expired sessions are deleted when they are read (the interface has no
 *   sweep, as the original had none); others stay until the backend drops
 *   them.
 *
 * Sessions are kept under the SHA-256 of their IDs, as by every store, in
 * the original's document shape (user keys at the top level beside `_flash`,
 * `_expire`, `_accessed`, `_delete`, plus `_created`), and, when the session
 * has them, `_oak_sessions: { v: 1, u, s, m }`: the user it is bound to, when
 * a request last wrote it (milliseconds since the epoch) and its own settings
 * (JSON text). A user key of that name is kept under `_shadowed`, as the other
 * bookkeeping names are; a document without it (as earlier versions wrote
 * them) reads as a session with no user. (`boundAt` is not kept: a server
 * store revokes by deleting.) Counters (`increment`) are added inside the
 * queued read-modify-write, so concurrent increments in one process all count;
 * across processes one can be lost, like any other write. Sessions the original
 * library wrote into the same backend are keyed by their plain IDs and are
 * not found: carry them over with `carryOver(ids)` while you still have the
 * IDs, or let those users log in again.
 *
 * @module
 */
import { SessionConfigError, SessionStoreError } from "../errors.ts";
import { checkOptionKeys, keysOf } from "../option_keys.ts";
import { isSessionId, sessionKey } from "../session_id.ts";
import {
  changedRecord,
  MOVED_MARKER_MS,
  movedMarker,
  type ServerStore,
  type SessionChange,
  type SessionRecord,
  type WriteResult,
} from "../store.ts";
import {
  documentOf,
  fromOriginalSession,
  fromStoredDocument,
  type OriginalSessionData,
  toOriginalSession,
} from "./original_session.ts";
import { type KeyedQueue, queueOf } from "./shared/keyed_queue.ts";

/** Keys of `fromV9Store(store, options)` and `new V9StoreAdapter(store, options)`. */
export const V9_STORE_OPTION_KEYS: readonly string[] = keysOf<V9StoreOptions>({
  migratedIdleSeconds: true,
});

/**
 * A store written for the original oak_sessions: its `Store` interface (v9
 * and earlier), exported there as `type Store`.
 *
 * ```ts
 * const store: V9Store = {
 *   getSessionById: (id) => rows.get(id) ?? null,
 *   createSession: (id, data) => void rows.set(id, data),
 *   persistSessionData: (id, data) => void rows.set(id, data),
 *   deleteSession: (id) => void rows.delete(String(id)),
 * };
 * ```
 */
export interface V9Store {
  /** The session's document, or `null`. */
  getSessionById(
    sessionId: string,
  ): OriginalSessionData | null | undefined | Promise<OriginalSessionData | null | undefined>;
  /** Stores a new session. */
  createSession(sessionId: string, initialData: OriginalSessionData): void | Promise<void>;
  /** Replaces the session's document. */
  persistSessionData(sessionId: string, sessionData: OriginalSessionData): void | Promise<void>;
  /** Removes the session (the adapter always passes the key, never a context). */
  // deno-lint-ignore no-explicit-any
  deleteSession(sessionIdOrContext: any): void | Promise<void>;
}

/** Options of {@link fromV9Store}. */
export interface V9StoreOptions {
  /**
   * The idle lifetime, in seconds, given to a session whose document has no
   * expiry (`_expire: null`, the original's default), when `carryOver` reads
   * it. Default `86400`.
   */
  migratedIdleSeconds?: number;
}

const METHODS = ["getSessionById", "createSession", "persistSessionData", "deleteSession"] as const;

/** The document key for what the original had no field for (user, last write, settings). */
const EXTRA = "_oak_sessions";

/** `record` as a document of the original's shape, with {@link EXTRA} when there is any. */
function toDocument(record: SessionRecord, now: number): OriginalSessionData {
  const doc = toOriginalSession(record, now);
  if (Object.hasOwn(doc, EXTRA)) {
    // A user key of that name: kept where the reader restores user keys from.
    (doc._shadowed ??= Object.create(null) as Record<string, unknown>)[EXTRA] = doc[EXTRA];
    delete doc[EXTRA];
  }
  const extra: Record<string, unknown> = { v: 1 };
  if (record.userId !== undefined) extra.u = record.userId;
  if (record.lastSeenAt !== undefined) extra.s = record.lastSeenAt;
  if (record.meta !== undefined) extra.m = record.meta;
  if (Object.keys(extra).length > 1) doc[EXTRA] = extra;
  return doc;
}

/**
 * The document of the marker a rotation at `now` leaves under the old key:
 * `_oak_sessions: { v: 1, mv }` (when it moved), and `_delete: true`, so that
 * an earlier version of this adapter (and the original library) reads it as
 * a deleted session, as the old key read before markers existed.
 */
function markerDocument(now: number): OriginalSessionData {
  const doc = toOriginalSession(movedMarker(now), now);
  doc._delete = true;
  doc[EXTRA] = { v: 1, mv: now };
  return doc;
}

/**
 * A document this adapter wrote as a record (a rotation's marker as a record
 * with `movedAt`), or `null` when it is not live at `now` (deleted, expired,
 * unreadable, or its {@link EXTRA} damaged).
 */
function fromDocument(stored: unknown, now: number, idleMs: number): SessionRecord | null {
  const doc = documentOf(stored);
  if (doc === null) return null;
  const extra = doc[EXTRA] as Record<string, unknown> | undefined;
  // Without `v: 1` it is a user key an earlier version wrote at the top level.
  if (typeof extra !== "object" || extra === null || extra.v !== 1) {
    return fromStoredDocument(doc, now, idleMs);
  }
  if (extra.mv !== undefined) {
    if (typeof extra.mv !== "number" || !Number.isFinite(extra.mv)) return null;
    return extra.mv + MOVED_MARKER_MS > now ? movedMarker(extra.mv) : null;
  }
  const rest: Record<string, unknown> = Object.assign(Object.create(null), doc);
  delete rest[EXTRA];
  const record = fromStoredDocument(rest, now, idleMs);
  if (record === null) return null;
  const { u, s, m } = extra;
  if (u !== undefined) {
    if (typeof u !== "string" || u === "") return null;
    record.userId = u;
  }
  if (s !== undefined) {
    if (typeof s !== "number" || !Number.isFinite(s)) return null;
    record.lastSeenAt = s;
  }
  if (m !== undefined) {
    if (typeof m !== "string") return null;
    record.meta = m;
  }
  return record;
}

/**
 * A store of the original oak_sessions as a `ServerStore`. See the module
 * for what it guarantees and what it cannot.
 *
 * It keeps each session's user (`setUser`) but has no `listByUser` or
 * `deleteByUser`: the original's `Store` interface finds a session only by
 * its ID and has no query by anything else (nor a way to list sessions), so a
 * user's sessions cannot be found. The middleware therefore refuses
 * `listSessions`, `revokeSession` and `revokeSessions` with a
 * `SessionConfigError`; move to a store of this library (MemoryStore,
 * SqliteStore, PostgresStore, MySqlStore, RedisStore, WebdisStore, DenoKvStore) for those.
 *
 * ```ts
 * import { Application } from "@oakserver/oak";
 * import { fromV9Store, Session } from "oak-sessions";
 * import { MyV9Store } from "./my_store.ts"; // written for oak_sessions v9
 *
 * const app = new Application();
 * app.use(Session.initMiddleware(fromV9Store(new MyV9Store())));
 * ```
 */
export class V9StoreAdapter implements ServerStore {
  /** Marks this as a server-side store for the middleware. */
  readonly kind = "server" as const;
  readonly #store: V9Store;
  readonly #queue: KeyedQueue;
  readonly #idleMs: number;

  /** Wraps `store`; throws `SessionConfigError` when it lacks one of the four methods. */
  constructor(store: V9Store, options: V9StoreOptions = {}) {
    if (typeof store !== "object" || store === null) {
      throw new SessionConfigError(
        "fromV9Store: pass the store object (with getSessionById, createSession, " +
          `persistSessionData and deleteSession), got ${store === null ? "null" : typeof store}`,
      );
    }
    const missing = METHODS.filter((m) =>
      typeof (store as unknown as Record<string, unknown>)[m] !== "function"
    );
    if (missing.length > 0) {
      const ours = typeof (store as unknown as Record<string, unknown>).rotate === "function";
      throw new SessionConfigError(
        `fromV9Store: the store has no ${missing.join(", ")}; it must have the original ` +
          "oak_sessions Store methods getSessionById, createSession, persistSessionData and " +
          "deleteSession" +
          (ours ? " (a store of this library is passed to the middleware as it is)" : ""),
      );
    }
    checkOptionKeys("fromV9Store", options, V9_STORE_OPTION_KEYS);
    const idle = options.migratedIdleSeconds ?? 86_400;
    if (typeof idle !== "number" || !Number.isFinite(idle) || idle <= 0) {
      throw new SessionConfigError(
        "fromV9Store: migratedIdleSeconds must be a number of seconds, more than 0",
      );
    }
    this.#store = store;
    this.#idleMs = idle * 1000;
    this.#queue = queueOf(store);
  }

  /** The session under `key`, or `null` (an expired one is deleted). */
  get(key: string, now: number): Promise<SessionRecord | null> {
    return this.#serial([key], () => this.#read(key, now));
  }

  /** Stores `record` under `key` (`createSession`). */
  create(key: string, record: SessionRecord, now: number): Promise<void> {
    return this.#serial(
      [key],
      () => this.#call("createSession", key, toDocument(record, now)),
    );
  }

  /**
   * Reads the session, applies `change`, writes it whole; `false` when it is
   * gone, `"moved"` (nothing written) when the key holds a rotation's marker.
   */
  update(key: string, change: SessionChange, now: number): Promise<WriteResult> {
    return this.#serial([key], async () => {
      const record = changedRecord(await this.#read(key, now), change);
      if (typeof record !== "object") return record;
      await this.#call("persistSessionData", key, toDocument(record, now));
      return true;
    });
  }

  /**
   * Moves the session to `newKey` with `change` applied, in the safest order
   * the interface allows (see the module), leaving a marker under `oldKey`:
   * `false`, with nothing written, when the old session is gone or expired,
   * and `"moved"` when `oldKey` holds a marker.
   */
  rotate(oldKey: string, newKey: string, change: SessionChange, now: number): Promise<WriteResult> {
    return this.#serial([oldKey, newKey], async () => {
      const record = changedRecord(await this.#read(oldKey, now), change);
      if (typeof record !== "object") return record;
      await this.#call("createSession", newKey, toDocument(record, now));
      try {
        const again = await this.#read(oldKey, now);
        if (again === null || again.movedAt !== undefined) {
          // Ended, or moved by another process, meanwhile: the copy goes.
          await this.#call("deleteSession", newKey);
          return again === null ? false : "moved";
        }
        // One call replaces the old document, so the old key never reads as
        // missing in between (which would clear the new cookie of a request in flight).
        await this.#call("persistSessionData", oldKey, markerDocument(now));
        return true;
      } catch (error) {
        await this.#call("deleteSession", newKey).catch(() => {});
        throw error;
      }
    });
  }

  /** Removes the session (`deleteSession`). */
  delete(key: string): Promise<void> {
    return this.#serial([key], () => this.#call("deleteSession", key));
  }

  /**
   * Moves sessions the original library wrote into this store (under their
   * plain IDs) to the keys this library reads them by, the SHA-256 of the
   * IDs, so those users stay logged in with the cookies they have. Give it
   * the IDs (the original's interface cannot list them; list them from the
   * backend; what is not shaped like an ID is skipped). Expired or deleted
   * ones are removed. A session the store fails
   * to read or write is left as it was and counted in `failed` (call again
   * for those: moved ones are no longer under their plain IDs).
   *
   * ```ts
   * const { moved, failed } = await store.carryOver(await listIdsFromMyBackend());
   * ```
   */
  async carryOver(
    ids: Iterable<string>,
    now: number = Date.now(),
  ): Promise<{ moved: number; failed: number }> {
    let moved = 0;
    let failed = 0;
    for (const id of ids) {
      // A value no cookie can carry to the middleware is never looked up: left as it is.
      if (!isSessionId(id)) continue;
      const key = await sessionKey(id);
      try {
        const done = await this.#serial([id, key], async () => {
          const doc = await this.#call("getSessionById", id);
          if (doc === null || doc === undefined) return false;
          // The original's document: the app's timeouts count from its `_accessed`.
          const record = fromOriginalSession(doc, now, this.#idleMs);
          if (record !== null) {
            await this.#call("createSession", key, toDocument(record, now));
          }
          await this.#call("deleteSession", id);
          return record !== null;
        });
        if (done) moved++;
      } catch {
        failed++;
      }
    }
    return { moved, failed };
  }

  async #read(key: string, now: number): Promise<SessionRecord | null> {
    const doc = await this.#call("getSessionById", key);
    if (doc === null || doc === undefined) return null;
    // Our own documents always carry `_expire`; a missing one reads as idle from now.
    const record = fromDocument(doc, now, this.#idleMs);
    if (record === null) {
      // Expired or marked deleted: gone, as the original removed it on read.
      await this.#call("deleteSession", key);
      return null;
    }
    return record;
  }

  /** Run `fn` after every earlier operation on any of `keys` (through this store object) ended. */
  #serial<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
    return this.#queue.run(keys, fn);
  }

  // One call of the wrapped store; what it throws becomes a SessionStoreError
  // (the request fails with 503, nothing else is written).
  async #call<M extends (typeof METHODS)[number]>(
    method: M,
    ...args: Parameters<V9Store[M]>
  ): Promise<Awaited<ReturnType<V9Store[M]>>> {
    try {
      // deno-lint-ignore no-explicit-any
      return await (this.#store[method] as (...a: any[]) => any).apply(this.#store, args);
    } catch (error) {
      throw new SessionStoreError(
        `fromV9Store: the store's ${method} failed: ${
          error instanceof Error ? error.message : String(error)
        }`,
        { cause: error },
      );
    }
  }
}

/**
 * Wraps a store written for the original oak_sessions (`getSessionById`,
 * `createSession`, `persistSessionData`, `deleteSession`) for this library's
 * middleware. See {@link V9StoreAdapter} for what it guarantees.
 *
 * ```ts
 * import { fromV9Store, Session } from "oak-sessions";
 * app.use(Session.initMiddleware(fromV9Store(myV9Store)));
 * ```
 */
export function fromV9Store(store: V9Store, options?: V9StoreOptions): V9StoreAdapter {
  return new V9StoreAdapter(store, options);
}
