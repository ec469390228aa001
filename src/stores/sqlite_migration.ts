/**
 * Moving a table of the original oak_sessions `SqliteStore` to our layout
 * when `SqliteStore` opens it. The original created
 * `CREATE TABLE IF NOT EXISTS <name> (id TEXT, data TEXT)` (every version up
 * to v9) and kept one JSON document per session under its plain ID. In one
 * `BEGIN IMMEDIATE` transaction the old table is renamed to a backup name,
 * our table is created under the name, and the live sessions are carried
 * over under the SHA-256 of their IDs, so their cookies keep working.
 *
 * Also the upgrade of a table of an earlier version of this library (without
 * some of the `user_id`, `last_seen_at`, `meta` and `moved_at` columns): the
 * missing columns are added in place, in one `BEGIN IMMEDIATE` transaction,
 * keeping every row.
 *
 * @module
 */
import { isSessionId, sessionKey } from "../session_id.ts";
import { fromOriginalSession } from "./original_session.ts";
import { configError, messageOf, type SqlConnection, type SqlStatement } from "./sqlite_drivers.ts";

/** The original's columns as `tableLayout` describes them. */
const ORIGINAL_LAYOUT = "id TEXT, data TEXT";

/** What a migration did, for the line the store logs. */
export interface SqliteOriginalMigration {
  /** Where the original table now is. */
  backupName: string;
  /** Live sessions carried over. */
  carried: number;
  /** Rows left only in the backup: expired, deleted, or unreadable. */
  left: number;
}

/**
 * The columns of `tableName` as `name TYPE, ...` in their order, or `null`
 * when there is no such table.
 */
export function tableLayout(conn: SqlConnection, tableName: string): string | null {
  const stmt = conn.prepare(
    "SELECT group_concat(name, ', ') FROM (SELECT lower(name) || ' ' || upper(type) AS name " +
      "FROM pragma_table_info(?) ORDER BY cid)",
  );
  try {
    const row = stmt.get([tableName]);
    const layout = row?.[0];
    return typeof layout === "string" ? layout : null;
  } finally {
    stmt.finalize();
  }
}

/** What the migration needs of the store's SQL. */
export interface MigrationStatements {
  createTable: string;
  createIndex: string;
  createUserIndex: string;
  create: string;
}

/**
 * When `tableName` has the original's layout, migrates it (see the module)
 * and returns what it did; otherwise does nothing and returns `null`. A
 * failure rolls everything back, leaves the original table as it was, and
 * throws a `SessionConfigError`.
 */
export function migrateOriginalTable(
  conn: SqlConnection,
  tableName: string,
  sql: MigrationStatements,
  now: number,
  idleMs: number,
): SqliteOriginalMigration | null {
  // The common case, our own table or none, costs one read and no lock.
  if (tableLayout(conn, tableName) !== ORIGINAL_LAYOUT) return null;
  conn.exec("BEGIN IMMEDIATE");
  const statements: SqlStatement[] = [];
  try {
    // Another process may have migrated it while this one waited for the lock.
    if (tableLayout(conn, tableName) !== ORIGINAL_LAYOUT) {
      conn.exec("ROLLBACK");
      return null;
    }
    const backupName = freeName(conn, `${tableName}_original_backup`);
    conn.exec(`ALTER TABLE "${tableName}" RENAME TO "${backupName}"`);
    conn.exec(sql.createTable);
    conn.exec(sql.createIndex);
    conn.exec(sql.createUserIndex);
    // One row per read, by rowid: every driver's statement gives its first
    // row, and each read is one index seek.
    const next = conn.prepare(
      `SELECT CAST(rowid AS REAL), id, data FROM "${backupName}" WHERE rowid > ? ` +
        "ORDER BY rowid LIMIT 1",
    );
    statements.push(next);
    const insert = conn.prepare(sql.create);
    statements.push(insert);
    let carried = 0;
    let left = 0;
    for (let row = next.get([-1]); row !== undefined; row = next.get([row[0] as number])) {
      const id = row[1];
      const record = isSessionId(id) ? fromOriginalSession(row[2], now, idleMs) : null;
      if (record === null) {
        left++;
        continue;
      }
      const key = sessionKey(id as string);
      if (typeof key !== "string") {
        throw new Error("hashing the IDs needs node:crypto's synchronous SHA-256 in this runtime");
      }
      // The original had no users, per-session settings or rotation
      // markers; its `_accessed` is the last-seen time the idle limit counts from.
      insert.run([
        key,
        JSON.stringify(record.data),
        JSON.stringify(record.flash),
        record.createdAt,
        record.expiresAt,
        null,
        record.lastSeenAt ?? null,
        null,
        null,
      ]);
      carried++;
    }
    for (const s of statements.splice(0)) s.finalize();
    conn.exec("COMMIT");
    return { backupName, carried, left };
  } catch (e) {
    for (const s of statements) s.finalize();
    try {
      conn.exec("ROLLBACK");
    } catch {
      // SQLite may have rolled back already; the original error matters.
    }
    throw configError(
      `SqliteStore: cannot migrate table "${tableName}" of the original oak_sessions layout (${
        messageOf(e)
      }); it was left as it was`,
      e,
    );
  }
}

/**
 * The columns added to the table since its first version, with how `ALTER
 * TABLE ADD COLUMN` declares them. All nullable: rows of an earlier version
 * read as sessions without a user, a last write or settings of their own,
 * and none of them is a rotation's marker (`moved_at`, added last).
 */
export const ADDED_COLUMNS: ReadonlyArray<readonly [name: string, declaration: string]> = [
  ["user_id", "user_id TEXT"],
  ["last_seen_at", "last_seen_at INTEGER"],
  ["meta", "meta TEXT"],
  ["moved_at", "moved_at INTEGER"],
];

/**
 * Adds to `tableName` (which exists) the {@link ADDED_COLUMNS} it lacks, in
 * one `BEGIN IMMEDIATE` transaction, and returns their names (`[]` when it
 * has them all, which costs one read and no lock). Processes opening the
 * table at once take turns for the lock, and the one that comes second finds
 * the columns there. A failure rolls back and throws the driver's error.
 */
export function addMissingColumns(conn: SqlConnection, tableName: string): string[] {
  if (missingColumns(conn, tableName).length === 0) return [];
  conn.exec("BEGIN IMMEDIATE");
  try {
    // A read of the database itself makes this connection see a schema that
    // another process changed while this one waited for the lock.
    conn.exec("SELECT count(*) FROM sqlite_master");
    const missing = missingColumns(conn, tableName);
    for (const name of missing) {
      const declaration = ADDED_COLUMNS.find(([n]) => n === name)![1];
      conn.exec(`ALTER TABLE "${tableName}" ADD COLUMN ${declaration}`);
    }
    conn.exec("COMMIT");
    return missing;
  } catch (e) {
    try {
      conn.exec("ROLLBACK");
    } catch {
      // SQLite may have rolled back already; the original error matters.
    }
    throw e;
  }
}

function missingColumns(conn: SqlConnection, tableName: string): string[] {
  const stmt = conn.prepare("SELECT lower(name) FROM pragma_table_info(?)");
  try {
    const have = new Set(stmt.all([tableName]).map((row) => row[0]));
    return ADDED_COLUMNS.map(([name]) => name).filter((name) => !have.has(name));
  } finally {
    stmt.finalize();
  }
}

// `base`, or `base_2`, `base_3`... : the first name no table, index or view has.
function freeName(conn: SqlConnection, base: string): string {
  const taken = conn.prepare("SELECT 1 FROM sqlite_master WHERE lower(name) = lower(?)");
  try {
    for (let n = 1;; n++) {
      const name = n === 1 ? base : `${base}_${n}`;
      if (taken.get([name]) === undefined) return name;
    }
  } finally {
    taken.finalize();
  }
}

/** The line `SqliteStore` logs after a migration (no session ID in it). */
export function migrationLine(tableName: string, m: SqliteOriginalMigration): string {
  return `SqliteStore: table "${tableName}" had the original oak_sessions layout (id, data); ` +
    `it is kept as "${m.backupName}", and ${m.carried} live session(s) were carried over to a ` +
    `new "${tableName}" (${m.left} expired, deleted or unreadable left in the backup). The ` +
    "backup holds the original session IDs in clear: drop it once you no longer need it.";
}
