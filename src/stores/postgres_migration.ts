/**
 * Moving a table of the original oak_sessions `PostgresStore` (columns `id`
 * and `data`, one JSON document per session) to `PostgresStore`'s layout, in
 * the transaction that opens the schema: the old table is kept under a
 * backup name, and its live sessions are carried over, keyed by the SHA-256
 * of their IDs as every session is.
 *
 * @module
 */
import { isSessionId, sessionKey } from "../session_id.ts";
import { fromOriginalSession } from "./original_session.ts";
import type { PgQueryable } from "./postgres_drivers.ts";

/** What a migration did, for the line the store logs. */
export interface OriginalMigration {
  /** The name the original table is kept under. */
  backupName: string;
  /** Live sessions carried over. */
  carried: number;
  /** Rows not carried over (expired, deleted, unreadable). */
  left: number;
}

const BATCH = 500;

/**
 * Renames the original's table (and its indexes) to a free backup name,
 * creates the new table with `createTable` (the current shape: the carried
 * sessions have no `user_id`, `meta` or `moved_at`, which stay NULL, and
 * their `last_seen_at` is the original's `_accessed`),
 * and carries the live sessions over. Runs inside the caller's transaction,
 * so a failure leaves the original table as it was; the caller adds the
 * indexes.
 */
export async function migrateOriginalTable(
  tx: PgQueryable,
  tableName: string,
  createTable: string,
  now: number,
  idleMs: number,
): Promise<OriginalMigration> {
  const quoted = `"${tableName}"`;
  const backupName = await freeBackupName(tx, tableName);
  const indexes = await tx.query(
    "SELECT c.relname::text FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c " +
      "ON c.oid = i.indexrelid WHERE i.indrelid = to_regclass($1)",
    [quoted],
  );
  const old = await tx.query(`SELECT id::text, data::text FROM ${quoted}`, []);
  await tx.query(`ALTER TABLE ${quoted} RENAME TO "${backupName}"`, []);
  // The new table's primary key index would collide with the old one's name.
  for (let i = 0; i < indexes.rows.length; i++) {
    const name = String(indexes.rows[i][0]).replaceAll('"', '""');
    await tx.query(`ALTER INDEX "${name}" RENAME TO "${backupName.slice(0, 56)}_idx${i}"`, []);
  }
  await tx.query(createTable, []);
  const rows: Array<Record<string, unknown>> = [];
  let left = 0;
  for (const [id, data] of old.rows) {
    // Only IDs a cookie can carry back are worth carrying over.
    const record = isSessionId(id) ? fromOriginalSession(data, now, idleMs) : null;
    if (record === null) {
      left++;
      continue;
    }
    rows.push({
      key: await sessionKey(id as string),
      data: record.data,
      flash: record.flash,
      created_at: record.createdAt,
      expires_at: record.expiresAt,
      last_seen_at: record.lastSeenAt ?? null,
    });
  }
  for (let i = 0; i < rows.length; i += BATCH) {
    await tx.query(
      `INSERT INTO ${quoted} (key, data, flash, created_at, expires_at, last_seen_at) ` +
        "SELECT r.key, r.data, r.flash, r.created_at, r.expires_at, r.last_seen_at " +
        "FROM json_to_recordset($1::text::json) AS r(key text, data json, flash json, " +
        "created_at bigint, expires_at bigint, last_seen_at bigint) " +
        "ON CONFLICT (key) DO NOTHING",
      [JSON.stringify(rows.slice(i, i + BATCH))],
    );
  }
  return { backupName, carried: rows.length, left };
}

async function freeBackupName(tx: PgQueryable, tableName: string): Promise<string> {
  const base = `${tableName.slice(0, 40)}_original_backup`;
  for (let n = 1; n < 1000; n++) {
    const name = n === 1 ? base : `${base}_${n}`;
    const found = await tx.query("SELECT to_regclass($1) IS NOT NULL", [`"${name}"`]);
    if (found.rows[0]?.[0] !== true) return name;
  }
  throw new Error(`no free backup name for table "${tableName}" (${base}_2 to _999 are taken)`);
}
