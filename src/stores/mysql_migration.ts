/**
 * Moving a table of express-mysql-session (columns `session_id`, `expires`
 * in seconds, `data`: the express-session object as JSON) to `MySqlStore`'s
 * layout: the old table is kept under a backup name, and its live sessions
 * are carried over, keyed by the SHA-256 of their IDs as every session is.
 *
 * @module
 */
import { sessionKey } from "../session_id.ts";
import { emptyFields, type SessionRecord } from "../store.ts";
import type { MySqlQueryable } from "./mysql_drivers.ts";

/** What a migration did, for the line the store logs. */
export interface ExpressMySqlMigration {
  /** The name the old table is kept under. */
  backupName: string;
  /** Live sessions carried over. */
  carried: number;
  /** Rows not carried over (expired, unreadable). */
  left: number;
}

/** express-mysql-session's `expiration` default: how long a session without a cookie lifetime lives after a write. */
const EXPRESS_MYSQL_DEFAULT_EXPIRATION_MS = 86_400_000;
const BATCH = 200;

/** Whether `columns` (name -> DATA_TYPE) are express-mysql-session's. */
export function isExpressMySqlLayout(columns: Map<string, string>): boolean {
  return columns.size === 3 && columns.has("session_id") && columns.has("expires") &&
    columns.has("data");
}

/**
 * Renames express-mysql-session's table to a free backup name, creates the
 * new table with `createTable` and carries the live sessions over. MySQL
 * commits a RENAME at once, so a failure after it puts the old table back
 * under its name (the caller holds the set-up lock meanwhile).
 */
export async function migrateExpressMySqlTable(
  tx: MySqlQueryable,
  tableName: string,
  createTable: string,
): Promise<ExpressMySqlMigration> {
  const backupName = await freeBackupName(tx, tableName);
  const now = Date.now();
  const old = await tx.query(
    `SELECT session_id, expires + 0e0, data FROM \`${tableName}\` WHERE expires * 1000 > ?`,
    [now],
  );
  const total = await tx.query(`SELECT COUNT(*) FROM \`${tableName}\``, []);
  await tx.query(`RENAME TABLE \`${tableName}\` TO \`${backupName}\``, []);
  try {
    await tx.query(createTable, []);
    const rows: unknown[][] = [];
    for (const [id, expires, data] of old.rows) {
      const record = typeof id === "string" ? fromExpressSession(data, expires, now) : null;
      if (record !== null) rows.push([await sessionKey(id as string), record]);
    }
    for (let i = 0; i < rows.length; i += BATCH) {
      const batch = rows.slice(i, i + BATCH);
      await tx.query(
        `INSERT IGNORE INTO \`${tableName}\` (session_key, data, flash, created_at, expires_at, ` +
          "last_seen_at) VALUES " + batch.map(() => "(?, ?, '{}', ?, ?, ?)").join(", "),
        batch.flatMap(([key, r]) => {
          const record = r as SessionRecord;
          return [
            key as string,
            JSON.stringify(record.data),
            record.createdAt,
            record.expiresAt,
            record.lastSeenAt ?? null,
          ];
        }),
      );
    }
    return { backupName, carried: rows.length, left: Number(total.rows[0]?.[0]) - rows.length };
  } catch (e) {
    await tx.query(`DROP TABLE IF EXISTS \`${tableName}\``, []).catch(() => {});
    await tx.query(`RENAME TABLE \`${backupName}\` TO \`${tableName}\``, []).catch(() => {});
    throw e;
  }
}

/**
 * An express-session object (JSON text) as a record, or `null` when it is
 * unreadable or expired at `now`. Every key but `cookie` becomes a session
 * key. The last write is when its cookie's expiry was last pushed
 * (`cookie.expires` minus `cookie.originalMaxAge`), else the row's expiry
 * minus express-mysql-session's default lifetime; the app's idle limit
 * counts from it, and, as express-session keeps no creation time, the
 * absolute limit too.
 */
export function fromExpressSession(
  data: unknown,
  expiresSeconds: unknown,
  now: number,
): SessionRecord | null {
  const session = typeof expiresSeconds === "number" ? jsonObject(data) : null;
  if (session === null) return null;
  const expiresAt = (expiresSeconds as number) * 1000;
  if (!Number.isFinite(expiresAt) || expiresAt <= now) return null;
  const fields = emptyFields();
  for (const [k, v] of Object.entries(session)) {
    if (k === "cookie" || v === undefined) continue;
    fields[k] = JSON.stringify(v);
  }
  const cookie = (session as { cookie?: { expires?: unknown; originalMaxAge?: unknown } }).cookie;
  const cookieExpires = typeof cookie?.expires === "string" ? Date.parse(cookie.expires) : NaN;
  const maxAge = cookie?.originalMaxAge;
  let lastSeenAt = typeof maxAge === "number" && Number.isFinite(cookieExpires)
    ? cookieExpires - maxAge
    : expiresAt - EXPRESS_MYSQL_DEFAULT_EXPIRATION_MS;
  if (!Number.isFinite(lastSeenAt)) return null;
  lastSeenAt = Math.floor(Math.min(lastSeenAt, now));
  return {
    data: fields,
    flash: emptyFields(),
    createdAt: lastSeenAt,
    expiresAt: Math.floor(expiresAt),
    lastSeenAt,
  };
}

/** `text` parsed, when it is JSON text of an object (not an array); else `null`. */
function jsonObject(text: unknown): Record<string, unknown> | null {
  if (typeof text !== "string") return null;
  const parsed: unknown = (() => {
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  })();
  const isObject = typeof parsed === "object" && parsed !== null && !Array.isArray(parsed);
  return isObject ? parsed as Record<string, unknown> : null;
}

async function freeBackupName(tx: MySqlQueryable, tableName: string): Promise<string> {
  const base = `${tableName.slice(0, 40)}_express_backup`;
  for (let n = 1; n < 1000; n++) {
    const name = n === 1 ? base : `${base}_${n}`;
    const found = await tx.query(
      "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() " +
        "AND TABLE_NAME = ?",
      [name],
    );
    if (Number(found.rows[0]?.[0]) === 0) return name;
  }
  throw new Error(`no free backup name for table "${tableName}" (${base}_2 to _999 are taken)`);
}
