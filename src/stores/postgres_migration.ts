/**
 * Moving a table of the original oak_sessions `PostgresStore` (columns `id`
 * and `data`, one JSON document per session) to `PostgresStore`'s layout, in
 * the transaction that opens the schema: the old table is kept under a
 * backup name, and its live sessions are carried over, keyed by the SHA-256
 * of their IDs as every session is.
 *
 * @module
 */
import { sessionKey } from "../session_id.ts";
import { emptyFields, type JsonFields, type SessionRecord } from "../store.ts";
import type { PgQueryable } from "./postgres_drivers.ts";

/** The original's bookkeeping keys inside a session's JSON document. */
const ORIGINAL_KEYS = new Set(["_flash", "_accessed", "_expire", "_delete"]);

/**
 * One session of the original's layout as a record, or `null` when it is
 * not live at `now` (deleted, expired, or unreadable). The original kept no
 * creation time, so the absolute lifetime counts from the migration; a
 * session without an expiry (the original's default) gets `idleMs` from now.
 */
export function convertOriginalSession(
  dataText: unknown,
  now: number,
  idleMs: number,
): SessionRecord | null {
  if (typeof dataText !== "string") return null;
  let doc: unknown;
  try {
    doc = JSON.parse(dataText);
  } catch {
    return null;
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
  const data: JsonFields = emptyFields();
  for (const k of Object.keys(d)) {
    // The original removed a key set to null or undefined; JSON keeps neither as a value.
    if (!ORIGINAL_KEYS.has(k) && d[k] !== null) data[k] = JSON.stringify(d[k]);
  }
  const flash: JsonFields = emptyFields();
  const f = d._flash;
  if (typeof f === "object" && f !== null && !Array.isArray(f)) {
    for (const k of Object.keys(f)) {
      const v = (f as Record<string, unknown>)[k];
      if (v !== null && v !== undefined) flash[k] = JSON.stringify(v);
    }
  }
  return { data, flash, createdAt: now, expiresAt: Math.floor(expiresAt) };
}

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
 * creates the new table with `createTable`, and carries the live sessions
 * over. Runs inside the caller's transaction, so a failure leaves the
 * original table as it was.
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
    const record = typeof id === "string" && id !== ""
      ? convertOriginalSession(data, now, idleMs)
      : null;
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
    });
  }
  for (let i = 0; i < rows.length; i += BATCH) {
    await tx.query(
      `INSERT INTO ${quoted} (key, data, flash, created_at, expires_at) ` +
        "SELECT r.key, r.data, r.flash, r.created_at, r.expires_at FROM json_to_recordset($1::text::json) " +
        "AS r(key text, data json, flash json, created_at bigint, expires_at bigint) " +
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
