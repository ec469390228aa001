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
}

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
   * The middleware never changes the record it gets (it copies before its
   * first change), so a store may hand out its own object, provided its later
   * writes replace that object's maps rather than change them in place.
   */
  get(key: string, now: number): Promise<SessionRecord | null>;
  /** Store a new record (replacing any under that key). */
  create(key: string, record: SessionRecord, now: number): Promise<void>;
  /**
   * Apply `change` atomically, only if the session exists and has not expired
   * before `now`. Returns whether it was applied.
   */
  update(key: string, change: SessionChange, now: number): Promise<boolean>;
  /**
   * Move the session to a new ID (`regenerate()`, `rotate_session_key`), atomically
   * and only if the session under `oldKey` still exists and has not expired
   * before `now`: write under `newKey` the *stored* record with `change`
   * applied (so a concurrent write of another key is kept), remove `oldKey`,
   * and return `true`. When the old session is gone (a logout, an expiry, a
   * revocation landed while the rotating request was in flight), write nothing
   * and return `false`: a rotation never brings a session back.
   */
  rotate(oldKey: string, newKey: string, change: SessionChange, now: number): Promise<boolean>;
  /** Remove the session; no error when it does not exist. */
  delete(key: string): Promise<void>;
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
   * nothing changed (it was sealed with an older key).
   */
  read(cookies: CookieJar, now: number): Promise<{ session: SealedSession; stale: boolean } | null>;
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
}

/** Any store the middleware accepts. */
export type SessionStore = ServerStore | ClientStore;

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
  if (change.flash !== null) record.flash = change.flash;
  record.expiresAt = change.expiresAt;
  return record;
}
