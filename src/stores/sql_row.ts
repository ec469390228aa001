/**
 * A session row of the SQL stores (SqliteStore, PostgresStore, MySqlStore) as a record:
 * all keep `data` and `flash` as JSON objects of key -> JSON text, the
 * times in milliseconds, and the user, the last write and the session's own
 * settings (`meta`) in nullable columns. A rotation's marker is a row whose
 * `moved_at` is set (see `movedMarker` in store.ts).
 *
 * @module
 */
import {
  emptyFields,
  type JsonFields,
  MOVED_MARKER_MS,
  type SessionRecord,
  type UserSession,
} from "../store.ts";

/**
 * How many leading columns a session row has, in this order: data, flash,
 * created_at, expires_at, user_id, last_seen_at, meta, moved_at. A statement
 * that returns more (the key, for `listByUser`) puts them after these.
 */
export const ROW_COLUMNS = 8;

/**
 * The sessions in `rows` of a user's sessions (a session row, then its key),
 * leaving out unreadable rows and markers: a marker is no session of the
 * user's (only a process of an earlier version could have bound one).
 */
export function userSessions(rows: Iterable<unknown[]>, now: number): UserSession[] {
  const found: UserSession[] = [];
  for (const row of rows) {
    const record = decodeRow(row, now);
    const key = row[ROW_COLUMNS];
    if (record === null || record.movedAt !== undefined) continue;
    if (typeof key === "string") found.push({ key, record });
  }
  return found;
}

/**
 * A row `[data, flash, createdAt, expiresAt, userId, lastSeenAt, meta,
 * movedAt]` as the session it holds, or `null` when any part of it is
 * unreadable (a row edited by hand reads as no session). The expiry is
 * checked here too: a non-numeric `expires_at` written by hand can pass
 * SQL's `expires_at > ?`. The last four are `null` (SQL NULL) when the
 * session has none.
 *
 * A row with `moved_at` is a rotation's marker and reads as one whatever
 * else it holds (a process of the previous version may have written into
 * it): no data, flash or user, and at most {@link MOVED_MARKER_MS} to live.
 */
export function decodeRow(row: unknown[], now: number): SessionRecord | null {
  const movedAt = row[7] ?? null;
  if (movedAt !== null) {
    const expires = row[3];
    if (!isTime(movedAt) || !isTime(expires)) return null;
    const expiresAt = Math.min(expires, movedAt + MOVED_MARKER_MS);
    if (expiresAt <= now) return null;
    return { data: emptyFields(), flash: emptyFields(), createdAt: movedAt, expiresAt, movedAt };
  }
  const data = decodeFields(row[0]);
  const flash = decodeFields(row[1]);
  const createdAt = row[2];
  const expiresAt = row[3];
  if (!data || !flash || !isTime(createdAt) || !isTime(expiresAt) || expiresAt <= now) {
    return null;
  }
  const record: SessionRecord = { data, flash, createdAt, expiresAt };
  const userId = row[4] ?? null;
  const lastSeenAt = row[5] ?? null;
  const meta = row[6] ?? null;
  if (userId !== null) {
    if (typeof userId !== "string") return null;
    record.userId = userId;
  }
  if (lastSeenAt !== null) {
    if (!isTime(lastSeenAt)) return null;
    record.lastSeenAt = lastSeenAt;
  }
  if (meta !== null) {
    if (typeof meta !== "string") return null;
    record.meta = meta;
  }
  return record;
}

function isTime(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

function decodeFields(text: unknown): JsonFields | null {
  if (typeof text !== "string") return null;
  const fields = emptyFields();
  if (text === "{}") return fields;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return null;
  for (const k of Object.keys(parsed)) {
    const v = (parsed as Record<string, unknown>)[k];
    if (typeof v !== "string") return null;
    fields[k] = v;
  }
  return fields;
}
