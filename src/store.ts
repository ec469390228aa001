/**
 * The store contract. A request commits *what it changed*, never a snapshot
 * of what it read, so two concurrent requests of one session that change
 * different keys both land, and an update of a session that was deleted in
 * the meantime does nothing (delete wins).
 *
 * Values travel as JSON text: the session serialises (and validates) a value
 * once at `set`, stores keep the text, and a value is parsed only when it is
 * read.
 *
 * @module
 */

/** A key to its JSON text. Always a null-prototype object. */
export type JsonFields = Record<string, string>;

/** A session as a store keeps it. Times are milliseconds since the epoch. */
export interface SessionRecord {
  /** The user's keys, each as JSON text. */
  data: JsonFields;
  /** Flash values set by the previous request, each as JSON text. */
  flash: JsonFields;
  /** When the session was created (the absolute lifetime counts from it). */
  createdAt: number;
  /** When the session ends: its idle expiry, capped by its absolute one. */
  expiresAt: number;
  /**
   * The user the session belongs to (`session.setUser`); absent when none.
   * Server stores keep it indexed, for `listByUser` and `deleteByUser`.
   */
  userId?: string;
  /** When a request last wrote the session (a read does not write). Absent: `createdAt`. */
  lastSeenAt?: number;
  /**
   * The session's own settings (its lifetime, the device it was bound on) as
   * JSON text. Stores keep it as it is and never read it. Absent: none.
   */
  meta?: string;
  /**
   * When the session was bound to its user. Only client-side stores keep it
   * (it is checked against a user's "not valid before", since their sessions
   * cannot be deleted); server stores revoke by deleting and may drop it.
   */
  boundAt?: number;
  /**
   * Set only on the marker that `rotate` leaves under the old key: when the
   * session moved to a new ID. A marker holds no data, flash or user (it is
   * in no user index), lives {@link MOVED_MARKER_MS} after the move, and
   * `update` and `rotate` of its key write nothing and answer `"moved"`. It
   * lets a request still carrying the old ID (in flight when the move landed)
   * leave the new cookie alone, while the old ID opens nothing.
   */
  movedAt?: number;
}

/**
 * How long (ms) the marker of a rotation stays under the old key: longer
 * than any request that was in flight when the session moved.
 */
export const MOVED_MARKER_MS = 60_000;

/** The marker a rotation at `now` leaves under the old key. */
export function movedMarker(now: number): SessionRecord {
  return {
    data: emptyFields(),
    flash: emptyFields(),
    createdAt: now,
    expiresAt: now + MOVED_MARKER_MS,
    movedAt: now,
  };
}

/**
 * What a conditional write did: `true`, applied; `false`, no live session
 * under the key (it ended: a logout, an expiry or a revocation wins);
 * `"moved"`, the key holds a rotation's marker (the session moved to a new
 * ID meanwhile): nothing was written.
 */
export type WriteResult = boolean | "moved";

/** Amounts to add to numeric keys, by key. Always a null-prototype object. */
export type Increments = Record<string, number>;

/** What one request changed. Applied atomically, in the order listed. */
export interface SessionChange {
  /** Remove every data key first (`session.clear()`). */
  clear: boolean;
  /** Keys to set, to their JSON text. */
  set: JsonFields;
  /** Keys to remove. */
  delete: string[];
  /** The flash values for the next request; replaces the stored ones. `null`: keep them. */
  flash: JsonFields | null;
  /** The new `expiresAt`. */
  expiresAt: number;
  /**
   * Amounts to add, after `set` and `delete`, in the store itself (so that
   * concurrent requests that add to one key all count): a missing key counts
   * as 0; a key that holds something other than a number is left as it is
   * (a concurrent `set` of it wins). The sum is stored as JSON number text.
   * Absent: none.
   */
  increment?: Increments;
  /** When this request wrote: the new `lastSeenAt`. Absent: keep it. */
  lastSeenAt?: number;
  /** `undefined`: keep the session's user; a string: bind it to that user; `null`: unbind it. */
  userId?: string | null;
  /** `undefined`: keep the session's `meta`; a string: replace it. */
  meta?: string;
  /** `undefined`: keep `boundAt`; a number: replace it (client-side stores only). */
  boundAt?: number;
}

/** A stored session of a user, as `listByUser` finds it. */
export interface UserSession {
  /** The session's store key. */
  key: string;
  /** The session, as `get` would return it. */
  record: SessionRecord;
}

/**
 * A store that keeps sessions on a server (memory, SQLite, Redis, Webdis).
 * `key` is always the SHA-256 of the session ID (base64url), never the ID.
 * `now` is the middleware's clock in milliseconds since the epoch.
 */
export interface ServerStore {
  /** `"server"` (or absent): the middleware keeps only the session ID in the cookie. */
  readonly kind?: "server";
  /**
   * The record, or `null` when it does not exist or expired before `now`.
   * A rotation's marker is returned as a record with `movedAt` set (until it
   * expires, like any record).
   * The middleware never changes the record it gets (it copies before its
   * first change), so a store may hand out its own object, provided its later
   * writes replace that object's maps rather than change them in place.
   */
  get(key: string, now: number): Promise<SessionRecord | null>;
  /** Store a new record (replacing any under that key). */
  create(key: string, record: SessionRecord, now: number): Promise<void>;
  /**
   * Apply `change` atomically, only if the session exists and has not expired
   * before `now`. Returns whether it was applied, or `"moved"` (writing
   * nothing) when the key holds a rotation's marker. A store written before
   * markers existed may answer only booleans.
   */
  update(key: string, change: SessionChange, now: number): Promise<WriteResult>;
  /**
   * Move the session to a new ID (`regenerate()`, `rotate_session_key`), atomically
   * and only if the session under `oldKey` still exists and has not expired
   * before `now`: write under `newKey` the *stored* record with `change`
   * applied (so a concurrent write of another key is kept), remove `oldKey`,
   * and return `true`. When the old session is gone (a logout, an expiry, a
   * revocation landed while the rotating request was in flight), write nothing
   * and return `false`: a rotation never brings a session back.
   *
   * In the same atomic step, leave {@link movedMarker}(now) under `oldKey`
   * (not in any user index), so that a request still carrying the old ID
   * neither opens the new session nor clears its cookie. When `oldKey`
   * already holds a marker (a concurrent rotation won), write nothing and
   * return `"moved"`.
   */
  rotate(oldKey: string, newKey: string, change: SessionChange, now: number): Promise<WriteResult>;
  /** Remove the session; no error when it does not exist. */
  delete(key: string): Promise<void>;
  /**
   * The live sessions (at `now`) bound to `userId`, in any order; `[]` for a
   * user with none. A store that keeps no per-user index omits this (and
   * `deleteByUser`), and the middleware then refuses `listSessions` with a
   * `SessionConfigError`.
   */
  listByUser?(userId: string, now: number): Promise<UserSession[]>;
  /**
   * Remove every session bound to `userId` except those under `exceptKeys`,
   * at once (no session of the user created before the call survives it,
   * whatever else runs meanwhile). Returns how many were removed.
   */
  deleteByUser?(userId: string, exceptKeys: readonly string[], now: number): Promise<number>;
  /** Remove expired sessions; returns how many went. Stores with their own TTL may omit it. */
  cleanup?(now?: number): Promise<number>;
  /** Release what the store holds (timers); never closes the user's own connection. */
  close?(): Promise<void>;
}

/** The part of Oak's cookie jar a client-side store uses. */
export interface CookieJar {
  /** The value of the request's cookie `name`, or `undefined`. */
  get(name: string, options?: Record<string, unknown>): Promise<string | undefined>;
  /** Set the response's cookie `name` (`null` deletes it). */
  set(name: string, value: string | null, options?: Record<string, unknown>): Promise<unknown>;
}

/** A session as a client-side store seals it: the record and the session ID. */
export interface SealedSession extends SessionRecord {
  /** The session ID. */
  id: string;
}

/**
 * Told by a client-side store's `read` why the request's cookie opened no
 * session (for the middleware's lifecycle events): `"expired"` with the
 * session it held, or `"malformed"`, `"tampered"` or `"unknown-key"`.
 */
export type CookieRejected = (
  reason: "malformed" | "tampered" | "unknown-key" | "expired",
  expired?: SealedSession,
) => void;

/**
 * A store that keeps the whole session in the client's cookies (the cookie
 * store). The middleware calls it instead of a server store; it decides by
 * `kind`, not by class.
 */
export interface ClientStore {
  /** `"client"`: the middleware hands the cookies to this store instead of keeping an ID. */
  readonly kind: "client";
  /** The name of the (first) cookie the session lives in. */
  readonly cookieName: string;
  /**
   * The session in the request's cookies, or `null` when there is none, or it
   * is tampered, expired (at `now`), or sealed with an unknown key. Never throws
   * for bad cookies. `stale: true` asks the middleware to re-seal it even when
   * nothing changed (it was sealed with an older key). `{ revoked: true }`: a
   * sound cookie of a session revoked since (`revokeUser`); the request starts
   * empty, and the cookie is not cleared, since the browser may hold a newer
   * one by now (the session that "log out other devices" kept, re-sealed).
   * `rejected`, when given, is told why a cookie that is there opened nothing.
   */
  read(
    cookies: CookieJar,
    now: number,
    rejected?: CookieRejected,
  ): Promise<{ session: SealedSession; stale: boolean } | { revoked: true } | null>;
  /**
   * Seal `session` into the response's cookies. Throws `SessionTooLargeError`
   * before writing anything when it does not fit. `cookieOptions` are the
   * middleware's cookie options (path, domain, secure, sameSite, maxAge...).
   */
  write(
    cookies: CookieJar,
    session: SealedSession,
    cookieOptions: Record<string, unknown>,
  ): Promise<void>;
  /** Remove the session's cookies. */
  clear(cookies: CookieJar, cookieOptions: Record<string, unknown>): Promise<void>;
  /**
   * Record that every session of `userId` bound before `notBefore` is
   * revoked, until `until` (when the last of them could have expired
   * anyway). `read` then returns `null` for them. A client-side store without
   * a server-side record for that omits this, and `revokeSessions` is
   * refused with a `SessionConfigError`.
   *
   * `exceptBoundAt` is when the session asking to be kept
   * (`revokeSessions(user, { except })`) was bound: when a revocation already
   * recorded covers it (it was revoked after its request loaded it), nothing
   * is recorded and the promise resolves `false`, so it is neither kept nor
   * bound again. Otherwise it resolves `true` (or nothing).
   */
  revokeUser?(
    userId: string,
    notBefore: number,
    until: number,
    exceptBoundAt?: number,
  ): Promise<boolean | void>;
}

/** Any store the middleware accepts. */
export type SessionStore = ServerStore | ClientStore;

/** The JSON text of `current` with `by` added, or `undefined` when it is not a number. */
export function incremented(current: string | undefined, by: number): string | undefined {
  if (current === undefined) return JSON.stringify(by);
  let value: unknown;
  try {
    value = JSON.parse(current);
  } catch {
    return undefined; // Not JSON (a damaged row): left as it is, like any non-number.
  }
  if (typeof value !== "number") return undefined;
  const sum = value + by;
  return Number.isFinite(sum) ? JSON.stringify(sum) : undefined;
}

/**
 * Whether `change` only moves the expiry and the last write (no data, flash,
 * user or settings): stores write that with a plain refresh of the row.
 */
export function onlyRefreshes(change: SessionChange): boolean {
  if (change.clear || change.flash !== null || change.delete.length > 0) return false;
  if (change.userId !== undefined || change.meta !== undefined) return false;
  for (const _ in change.set) return false;
  for (const _ in change.increment) return false;
  return true;
}

/** An empty null-prototype field map. */
export function emptyFields(): JsonFields {
  return Object.create(null);
}

/**
 * Apply `change` to `record` in place (for stores that hold records as
 * objects). Returns the record.
 */
export function applyChange(record: SessionRecord, change: SessionChange): SessionRecord {
  if (change.clear) record.data = emptyFields();
  for (const k in change.set) record.data[k] = change.set[k];
  for (const k of change.delete) delete record.data[k];
  const increment = change.increment;
  for (const k in increment) {
    const next = incremented(record.data[k], increment[k]);
    if (next !== undefined) record.data[k] = next;
  }
  if (change.flash !== null) record.flash = change.flash;
  record.expiresAt = change.expiresAt;
  if (change.lastSeenAt !== undefined) record.lastSeenAt = change.lastSeenAt;
  if (change.userId === null) delete record.userId;
  else if (change.userId !== undefined) record.userId = change.userId;
  if (change.meta !== undefined) record.meta = change.meta;
  if (change.boundAt !== undefined) record.boundAt = change.boundAt;
  return record;
}

/**
 * `record` (as a store read it) with `change` applied, or what `update` and
 * `rotate` answer when there is no session to change: `false` when it is
 * gone or expired (`null`), `"moved"` when it is a rotation's marker.
 */
export function changedRecord(
  record: SessionRecord | null,
  change: SessionChange,
): SessionRecord | false | "moved" {
  if (record === null) return false;
  if (record.movedAt !== undefined) return "moved";
  return applyChange(record, change);
}
