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
 * One session of the original's layout (its JSON text, or the parsed
 * document) as a record, or `null` when it is not live at `now`: deleted,
 * expired, or unreadable. A session without an expiry (the original's
 * default) gets `idleMs` from `now`. Without `_created`, the absolute lifetime
 * counts from `now`.
 */
export function fromOriginalSession(
  doc: unknown,
  now: number,
  idleMs: number,
): SessionRecord | null {
  if (typeof doc === "string") {
    try {
      doc = JSON.parse(doc);
    } catch {
      return null;
    }
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return null;
  const d = doc as Record<string, unknown>;
  if (d._delete === true) return null;
  let expiresAt = now + idleMs;
  if (d._expire !== null && d._expire !== undefined) {
    const at = typeof d._expire === "string" ? Date.parse(d._expire) : NaN;
    if (!Number.isFinite(at) || at <= now) return null;
    expiresAt = at;
  }
  const created = typeof d._created === "string" ? Date.parse(d._created) : NaN;
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
  return {
    data,
    flash,
    createdAt: Number.isFinite(created) && created <= now ? created : now,
    expiresAt: Math.floor(expiresAt),
  };
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
