/**
 * The session document of the original oak_sessions (v9 and earlier), and
 * its conversion to and from our `SessionRecord`. The original stored each
 * session as one JSON document: the user's keys at the top level, beside its
 * bookkeeping keys `_flash` (values flashed and not read yet), `_accessed`,
 * `_expire` (an ISO date, or `null` for no expiry) and `_delete`.
 *
 * @module
 */
import { emptyFields, type JsonFields, type SessionRecord } from "../store.ts";

/**
 * A session as the original oak_sessions kept it (its `SessionData`): what
 * its stores' `getSessionById` returns and `createSession` and
 * `persistSessionData` receive.
 */
export interface OriginalSessionData {
  /** Flashed values not read yet. */
  _flash: Record<string, unknown>;
  /** When the session was last used, ISO 8601. */
  _accessed: string | null;
  /** When the session expires, ISO 8601, or `null` for never. */
  _expire: string | null;
  /** Set by `deleteSession()`; the original deleted such a session at once. */
  _delete: boolean;
  /**
   * When the session was created, ISO 8601. Written by `fromV9Store`'s
   * adapter (the original kept no creation time and ignores the key).
   */
  _created?: string;
  /**
   * User keys that have one of the bookkeeping names above, which cannot sit
   * beside them (written by `fromV9Store`'s adapter).
   */
  _shadowed?: Record<string, unknown>;
  /** The user's keys. */
  [key: string]: unknown;
}

/** The original's bookkeeping keys, never user data. */
const ORIGINAL_KEYS = new Set([
  "_flash",
  "_accessed",
  "_expire",
  "_delete",
  "_created",
  "_shadowed",
]);

/**
 * One session the original library wrote (its JSON text, or the parsed
 * document), carried over: a record, or `null` when it is not live at `now`
 * (deleted, expired, unreadable, or without a readable `_accessed`). A
 * session without an expiry (the original's default) gets `idleMs` from
 * `now`.
 *
 * The app's own timeouts apply to it from its `_accessed` time: it becomes
 * `lastSeenAt` (the idle limit counts from it) and, without `_created`,
 * `createdAt` too (the absolute limit counts from it: the session began no
 * later than that). So a session idle for a week does not open under an idle
 * limit of a minute, whatever `_expire` the original gave it.
 */
export function fromOriginalSession(
  doc: unknown,
  now: number,
  idleMs: number,
): SessionRecord | null {
  const d = documentOf(doc);
  if (d === null) return null;
  // The original wrote `_accessed` with every create and persist, so a
  // document without a readable one is damaged, and how long it has been
  // idle is unknown. Opening it would give a fresh idle period to a session
  // that may have been idle for months, the very thing the idle limit
  // forbids: it is not carried (at worst, its user logs in again).
  const accessed = typeof d._accessed === "string" ? Date.parse(d._accessed) : NaN;
  if (!Number.isFinite(accessed)) return null;
  const record = documentRecord(d, now, idleMs);
  if (record === null) return null;
  // A time after `now` is the original's servers' clocks running ahead of
  // ours: it counts as `now`, as for a session used this moment.
  const lastSeenAt = Math.floor(Math.min(accessed, now));
  record.lastSeenAt = lastSeenAt;
  const created = createdOf(d, now);
  record.createdAt = created !== undefined && created <= lastSeenAt ? created : lastSeenAt;
  return record;
}

/**
 * A document that `fromV9Store`'s adapter wrote (the original's shape plus
 * `_created`), as a record without a `lastSeenAt` (the adapter keeps that
 * apart: its `_accessed` is only when the document was written), or `null`
 * when it is not live at `now`. Without `_created`, the absolute lifetime
 * counts from `now`; without an expiry, the session gets `idle` ms from `now`.
 */
export function fromStoredDocument(doc: unknown, now: number, idle: number): SessionRecord | null {
  const d = documentOf(doc);
  if (d === null) return null;
  const record = documentRecord(d, now, idle);
  if (record !== null) record.createdAt = createdOf(d, now) ?? now;
  return record;
}

/** The document in `doc` (JSON text or a parsed object), or `null` when there is none. */
export function documentOf(doc: unknown): Record<string, unknown> | null {
  if (typeof doc === "string") {
    try {
      doc = JSON.parse(doc);
    } catch {
      return null;
    }
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return null;
  return doc as Record<string, unknown>;
}

/** `_created` in milliseconds, when it is a time no later than `now`. */
function createdOf(d: Record<string, unknown>, now: number): number | undefined {
  const created = typeof d._created === "string" ? Date.parse(d._created) : NaN;
  return Number.isFinite(created) && created <= now ? Math.floor(created) : undefined;
}

/**
 * The data, flash and expiry of document `d` (`createdAt` is `now`, for the
 * caller to set), or `null` when it is deleted or expired at `now`.
 */
function documentRecord(
  d: Record<string, unknown>,
  now: number,
  idleMs: number,
): SessionRecord | null {
  if (d._delete === true) return null;
  let expiresAt = now + idleMs;
  if (d._expire !== null && d._expire !== undefined) {
    const at = typeof d._expire === "string" ? Date.parse(d._expire) : NaN;
    if (!Number.isFinite(at) || at <= now) return null;
    expiresAt = at;
  }
  const data: JsonFields = emptyFields();
  for (const k of Object.keys(d)) {
    // The original removed a key set to null or undefined; JSON keeps no undefined.
    if (!ORIGINAL_KEYS.has(k) && d[k] !== null && d[k] !== undefined) {
      data[k] = JSON.stringify(d[k]);
    }
  }
  const shadowed = d._shadowed;
  if (typeof shadowed === "object" && shadowed !== null && !Array.isArray(shadowed)) {
    for (const k of Object.keys(shadowed)) {
      const v = (shadowed as Record<string, unknown>)[k];
      if (v !== null && v !== undefined) data[k] = JSON.stringify(v);
    }
  }
  const flash: JsonFields = emptyFields();
  const f = d._flash;
  if (typeof f === "object" && f !== null && !Array.isArray(f)) {
    for (const k of Object.keys(f)) {
      const v = (f as Record<string, unknown>)[k];
      if (v !== undefined) flash[k] = JSON.stringify(v);
    }
  }
  return { data, flash, createdAt: now, expiresAt: Math.floor(expiresAt) };
}

/**
 * `record` as the original's document, for a store written for the
 * original. `now` is the access time it records.
 */
export function toOriginalSession(record: SessionRecord, now: number): OriginalSessionData {
  // Null prototypes: a user key such as `__proto__` is plain data here too.
  const doc: OriginalSessionData = Object.assign(Object.create(null), {
    _flash: Object.create(null),
    _accessed: new Date(now).toISOString(),
    _expire: new Date(record.expiresAt).toISOString(),
    _delete: false,
    _created: new Date(record.createdAt).toISOString(),
  });
  for (const k in record.flash) doc._flash[k] = JSON.parse(record.flash[k]);
  for (const k in record.data) {
    const value = JSON.parse(record.data[k]);
    if (!ORIGINAL_KEYS.has(k)) doc[k] = value;
    else (doc._shadowed ??= Object.create(null) as Record<string, unknown>)[k] = value;
  }
  return doc;
}
