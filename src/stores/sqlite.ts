/**
 * `SqliteStore`: sessions in a SQLite database the application already has
 * open, through any of the drivers in `sqlite_drivers.ts`.
 *
 * One row per session, keyed by the SHA-256 session key. `data` and `flash`
 * hold JSON objects of key -> JSON text (the store's own field maps, so a
 * read is one `JSON.parse` per column). Times are milliseconds since the
 * epoch; `expires_at` is indexed so the sweep never scans the table, and
 * `user_id` so a user's sessions are found without scanning it either.
 * `last_seen_at` and `meta` (the session's own settings, as JSON text the
 * store never reads) complete the record. `moved_at` is set only on the
 * marker a rotation leaves under the old key (no data, no user, expiring
 * `MOVED_MARKER_MS` after the move). A table of an earlier version, without
 * some of those four columns, gains them when the store opens it.
 *
 * @module
 */
import { SessionConfigError, SessionStoreError } from "../errors.ts";
import { keysOf } from "../option_keys.ts";
import {
  applyChange,
  movedMarker,
  onlyRefreshes,
  type ServerStore,
  type SessionChange,
  type SessionRecord,
  type UserSession,
  type WriteResult,
} from "../store.ts";
import { decodeRow, userSessions } from "./sql_row.ts";
import {
  configError,
  connectSqlite,
  isBusyError,
  isReadonlyError,
  messageOf,
  type SqlConnection,
  type SqliteDatabase,
  type SqlStatement,
  type SqlValue,
} from "./sqlite_drivers.ts";
import { addMissingColumns, migrateOriginalTable, migrationLine } from "./sqlite_migration.ts";
import { checkTableName } from "./shared/sql_identifiers.ts";
import {
  givenName,
  type MigratingStoreOptions,
  type SqlSettings,
  sqlStoreArguments,
  type SqlStoreOptions,
} from "./shared/store_options.ts";

/** Keys of `new SqliteStore(db, tableName, options)` (`busyTimeoutMs`: the old name of `timeoutMs`). */
export const SQLITE_STORE_OPTION_KEYS: readonly string[] = keysOf<SqliteStoreOptions>({
  walMode: true,
  timeoutMs: true,
  busyTimeoutMs: true,
  cleanupIntervalSeconds: true,
  log: true,
  migratedIdleSeconds: true,
});

/** Options of {@link SqliteStore}. */
export interface SqliteStoreOptions extends SqlStoreOptions, MigratingStoreOptions {
  /**
   * Switch the database to write-ahead logging when the store opens it, so
   * readers never wait for a writer. Default `true`. It changes the file's
   * journal mode for every connection; pass `false` to keep yours.
   */
  walMode?: boolean;
  /**
   * How long (ms) a call waits for another connection's write lock before
   * failing with `SessionStoreError` (SQLite's busy timeout). Default `5000`.
   * `null` keeps the connection's own busy timeout.
   */
  timeoutMs?: number | null;
  /** @deprecated Renamed `timeoutMs` (the name every store uses); the old name still works. */
  busyTimeoutMs?: number | null;
}

/**
 * `new SqliteStore(db, { table, ...options })`: the options with the table
 * among them.
 */
export interface SqliteStoreTableOptions extends SqliteStoreOptions {
  /** The table the sessions live in, an identifier (`"sessions"`). */
  table: string;
}

/**
 * The SQL `SqliteStore` runs for a table, exposed so it can be audited (for
 * example with `EXPLAIN QUERY PLAN`). The table name must already be valid.
 *
 * ```ts
 * import { sqliteStatements } from "oak-sessions";
 * console.log(sqliteStatements("sessions").get);
 * ```
 */
export function sqliteStatements(tableName: string): {
  createTable: string;
  createIndex: string;
  createUserIndex: string;
  columns: string;
  get: string;
  create: string;
  touch: string;
  write: string;
  delete: string;
  sweep: string;
  listByUser: string;
  deleteByUser: string;
} {
  checkSqliteTableName(tableName);
  // The name is a validated identifier, so quoting it is enough; every value
  // travels as a bound parameter.
  const t = `"${tableName}"`;
  // Times are read as REAL: @db/sqlite reads INTEGER columns as 32-bit
  // unless the user's connection enables int64, and better-sqlite3 may be
  // set to return BigInt. A double holds every millisecond timestamp. Every
  // column has a name of its own: some drivers hand rows out as objects.
  const row = "data, flash, CAST(created_at AS REAL) AS created, " +
    "CAST(expires_at AS REAL) AS expires, user_id, CAST(last_seen_at AS REAL) AS last_seen, " +
    "meta, CAST(moved_at AS REAL) AS moved";
  return {
    createTable: `CREATE TABLE IF NOT EXISTS ${t} (` +
      "key TEXT PRIMARY KEY NOT NULL, data TEXT NOT NULL, flash TEXT NOT NULL, " +
      "created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, user_id TEXT, " +
      "last_seen_at INTEGER, meta TEXT, moved_at INTEGER)",
    createIndex: `CREATE INDEX IF NOT EXISTS "${tableName}_expires_at" ON ${t} (expires_at)`,
    createUserIndex: `CREATE INDEX IF NOT EXISTS "${tableName}_user_id" ON ${t} (user_id)`,
    // The columns of the previous version too: the ones added since are
    // added by the store when they are missing.
    columns: `SELECT key, data, flash, created_at, expires_at FROM ${t} LIMIT 0`,
    get: `SELECT ${row} FROM ${t} WHERE key = ? AND expires_at > ?`,
    create: `INSERT OR REPLACE INTO ${t} ` +
      "(key, data, flash, created_at, expires_at, user_id, last_seen_at, meta, moved_at) " +
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    // A marker is never refreshed: `update` tells it from a missing session
    // with a read, only when this changed nothing.
    touch: `UPDATE ${t} SET expires_at = ?, last_seen_at = coalesce(?, last_seen_at) ` +
      "WHERE key = ? AND expires_at > ? AND moved_at IS NULL",
    write: `UPDATE ${t} SET data = ?, flash = ?, expires_at = ?, user_id = ?, ` +
      "last_seen_at = ?, meta = ? WHERE key = ?",
    delete: `DELETE FROM ${t} WHERE key = ?`,
    sweep: `DELETE FROM ${t} WHERE expires_at <= ?`,
    listByUser: `SELECT ${row}, key FROM ${t} WHERE user_id = ? AND expires_at > ?`,
    // With no session kept; each kept key adds a `?` to `AND key NOT IN (...)`.
    deleteByUser: deleteByUserSql(t, 0),
  };
}

function deleteByUserSql(quotedTable: string, kept: number): string {
  const sql = `DELETE FROM ${quotedTable} WHERE user_id = ?`;
  return kept === 0 ? sql : `${sql} AND key NOT IN (${Array(kept).fill("?").join(", ")})`;
}

/** `record`'s columns after the key, in the order of the `create` statement. */
function rowValues(record: SessionRecord): SqlValue[] {
  return [
    JSON.stringify(record.data),
    JSON.stringify(record.flash),
    record.createdAt,
    record.expiresAt,
    record.userId ?? null,
    record.lastSeenAt ?? null,
    record.meta ?? null,
    record.movedAt ?? null,
  ];
}

const USAGE = 'pass options as the third argument: new SqliteStore(db, "sessions", { ... }), ' +
  'or name the table among them: new SqliteStore(db, { table: "sessions", ... })';

/** A table name SQLite takes, not one of its own (`sqlite_...`); a `SessionConfigError` if not. */
function checkSqliteTableName(tableName: unknown): asserts tableName is string {
  checkTableName("SqliteStore", tableName, USAGE);
  if (/^sqlite_/i.test(tableName)) {
    throw new SessionConfigError(
      `SqliteStore: table name ${JSON.stringify(tableName)} is reserved by SQLite (sqlite_...); ` +
        "choose another",
    );
  }
}

interface Settings extends SqlSettings {
  walMode: boolean;
  timeoutMs: number | null;
  /** The name the application gave the timeout, for messages that name it. */
  timeoutName: string;
}

function checkArguments(tableOrOptions: unknown, options: unknown): Settings {
  const where = "SqliteStore";
  const given = typeof tableOrOptions === "object" ? tableOrOptions : options;
  const timeoutName = givenName(given, "busyTimeoutMs", "timeoutMs");
  const args = sqlStoreArguments(where, tableOrOptions, options, {
    usage: USAGE,
    keys: SQLITE_STORE_OPTION_KEYS,
    renames: { busyTimeoutMs: "timeoutMs" },
    checkName: checkSqliteTableName,
  });
  const o = args.options;
  const walMode = o.walMode ?? true;
  if (typeof walMode !== "boolean") {
    throw new SessionConfigError("SqliteStore: walMode must be true or false");
  }
  const timeoutMs = o.timeoutMs === undefined ? 5000 : o.timeoutMs;
  if (
    timeoutMs !== null &&
    !(Number.isInteger(timeoutMs) && (timeoutMs as number) >= 0 &&
      (timeoutMs as number) <= 0x7fffffff)
  ) {
    throw new SessionConfigError(
      `SqliteStore: ${timeoutName} must be a whole number of milliseconds (0 or more), or null ` +
        "to keep the connection's own",
    );
  }
  return { ...args.settings, walMode, timeoutMs: timeoutMs as number | null, timeoutName };
}

type Statements =
  & Record<
    Exclude<
      keyof ReturnType<typeof sqliteStatements>,
      "createTable" | "createIndex" | "createUserIndex" | "columns"
    >,
    SqlStatement
  >
  & {
    begin: SqlStatement;
    commit: SqlStatement;
    rollback: SqlStatement;
  };

/**
 * Sessions in a SQLite database. Pass the connection you already have open;
 * the store creates its table and index when they are absent and keeps the
 * sessions of an existing file (a table of the previous version gains the
 * columns it lacks). Several processes may share one file: updates are
 * transactions, so no process loses another's changes (increments from
 * several processes all count), and a deleted session stays deleted.
 *
 * ```ts
 * import Database from "better-sqlite3"; // or DatabaseSync from "node:sqlite"
 * import { Application } from "@oakserver/oak";
 * import { Session, SqliteStore } from "oak-sessions";
 *
 * const store = new SqliteStore(new Database("sessions.db"));
 * const app = new Application();
 * app.use(Session.initMiddleware(store));
 * ```
 *
 * Throws `SessionConfigError` at construction for an unknown driver, a table
 * name that is not an identifier, or a schema it cannot create (a read-only
 * file without the table). A call that fails rejects with `SessionStoreError`.
 */
export class SqliteStore implements ServerStore {
  /** Marks this as a server-side store for the middleware. */
  readonly kind = "server" as const;
  /** The table the sessions live in. */
  readonly tableName: string;
  /** The driver the store recognised: "better-sqlite3", "node:sqlite", "@db/sqlite" or "x/sqlite". */
  readonly driver: string;
  readonly #conn: SqlConnection;
  readonly #s: Statements;
  readonly #timeoutMs: number | null;
  readonly #timeoutName: string;
  readonly #cleanupIntervalMs: number;
  /** `deleteByUser` statements by how many keys they keep (1 to `CACHED_KEPT`). */
  readonly #deleteByUserCache = new Map<number, SqlStatement>();
  #nextSweepAt = -Infinity;
  #closed = false;

  /**
   * A store in a table (created if missing) of the open database `db`, from
   * any of the drivers {@link SqliteDatabase} lists. The second argument is
   * the table's name (default `"sessions"`), with options after it, or the
   * options with the table among them:
   *
   * ```ts
   * new SqliteStore(db);
   * new SqliteStore(db, "sessions", { timeoutMs: 2000 });
   * new SqliteStore(db, { table: "sessions", timeoutMs: 2000 });
   * ```
   */
  constructor(
    db: SqliteDatabase,
    tableOrOptions?: string | SqliteStoreTableOptions,
    options?: SqliteStoreOptions,
  ) {
    const settings = checkArguments(tableOrOptions, options);
    const tableName = settings.tableName;
    const conn = connectSqlite(db);
    this.tableName = tableName;
    this.driver = conn.driver;
    this.#conn = conn;
    this.#timeoutMs = settings.timeoutMs;
    this.#timeoutName = settings.timeoutName;
    this.#cleanupIntervalMs = settings.cleanupIntervalMs;
    const sql = sqliteStatements(tableName);
    openSchema(conn, tableName, sql, settings);
    this.#s = prepareStatements(conn, sql);
  }

  /**
   * The session under `key`, or `null` when it is absent, expired at `now`,
   * or its row is not readable (corrupt rows read as no session).
   */
  get(key: string, now: number): Promise<SessionRecord | null> {
    return this.#call("read the session", now, () => {
      const row = this.#s.get.get([key, now]);
      return row ? decodeRow(row, now) : null;
    });
  }

  /** Stores `record` under `key`, replacing any session there. */
  create(key: string, record: SessionRecord, now: number): Promise<void> {
    return this.#call("store the session", now, () => {
      this.#s.create.run([key, ...rowValues(record)]);
    });
  }

  /**
   * Applies `change` in one transaction, only if the session exists and has
   * not expired at `now`. Returns whether it did, or `"moved"` (writing
   * nothing) when `key` holds a rotation's marker.
   */
  update(key: string, change: SessionChange, now: number): Promise<WriteResult> {
    return this.#call("update the session", now, (): WriteResult => {
      // A change that only moves the expiry (a refresh) is one statement,
      // atomic on its own; it needs no read. Only when it changed nothing
      // does a read tell a marker from a session that is gone: no session
      // can become a marker after that statement found none (a rotation
      // needs a live session), so the two answer as one step would.
      if (onlyRefreshes(change)) {
        if (this.#s.touch.run([change.expiresAt, change.lastSeenAt ?? null, key, now]) > 0) {
          return true;
        }
        const row = this.#s.get.get([key, now]);
        return row && decodeRow(row, now)?.movedAt !== undefined ? "moved" : false;
      }
      // Increments too are applied to the row read under the lock, so
      // concurrent ones from any process all count.
      return this.#changeLocked(key, change, now, (record) => {
        this.#s.write.run([
          JSON.stringify(record.data),
          JSON.stringify(record.flash),
          record.expiresAt,
          record.userId ?? null,
          record.lastSeenAt ?? null,
          record.meta ?? null,
          key,
        ]);
      });
    });
  }

  /**
   * Moves the session under `oldKey` to `newKey` with `change` applied, in
   * one `BEGIN IMMEDIATE` transaction, only if it exists and has not expired
   * at `now`, and leaves in its place the marker of the move. Returns
   * whether it did; `"moved"` when `oldKey` holds a marker (a concurrent
   * rotation won). When it did not, nothing was written.
   */
  rotate(
    oldKey: string,
    newKey: string,
    change: SessionChange,
    now: number,
  ): Promise<WriteResult> {
    // Same key: the marker's INSERT OR REPLACE would overwrite the moved session.
    if (oldKey === newKey) return this.update(oldKey, change, now);
    return this.#call("rotate the session", now, (): WriteResult => {
      // The write lock comes before the read: no other connection can delete
      // the old row (a logout) between the check and the move.
      return this.#changeLocked(oldKey, change, now, (record) => {
        this.#s.create.run([newKey, ...rowValues(record)]);
        // The marker replaces the old row (INSERT OR REPLACE): no user, so
        // it leaves the user index with it.
        this.#s.create.run([oldKey, ...rowValues(movedMarker(now))]);
      });
    });
  }

  /** Removes the session under `key`; nothing happens when there is none. */
  delete(key: string): Promise<void> {
    return this.#call("delete the session", undefined, () => {
      this.#s.delete.run([key]);
    });
  }

  /**
   * The live sessions (at `now`) of `userId`, found through the `user_id`
   * index; `[]` when the user has none.
   */
  listByUser(userId: string, now: number): Promise<UserSession[]> {
    return this.#call(
      "list the user's sessions",
      now,
      () => userSessions(this.#s.listByUser.all([userId, now]), now),
    );
  }

  /**
   * Removes every session of `userId` except those under `exceptKeys`, with
   * one `DELETE` on the `user_id` index, and returns how many went.
   */
  deleteByUser(userId: string, exceptKeys: readonly string[], now: number): Promise<number> {
    return this.#call("delete the user's sessions", now, () => {
      const kept = [...new Set(exceptKeys)];
      const stmt = this.#deleteByUserKeeping(kept.length);
      try {
        return stmt.run([userId, ...kept]);
      } finally {
        if (kept.length > CACHED_KEPT) stmt.finalize();
      }
    });
  }

  /** The `deleteByUser` statement that keeps `kept` keys: prepared once, for a few. */
  #deleteByUserKeeping(kept: number): SqlStatement {
    if (kept === 0) return this.#s.deleteByUser;
    let stmt = this.#deleteByUserCache.get(kept);
    if (stmt === undefined) {
      stmt = this.#conn.prepare(deleteByUserSql(`"${this.tableName}"`, kept));
      if (kept <= CACHED_KEPT) this.#deleteByUserCache.set(kept, stmt);
    }
    return stmt;
  }

  /**
   * Deletes every session expired at `now` (default: the current time) and
   * returns how many went. One indexed `DELETE`.
   *
   * ```ts
   * const removed = await store.cleanup();
   * ```
   */
  cleanup(now: number = Date.now()): Promise<number> {
    if (typeof now !== "number" || !Number.isFinite(now)) {
      return Promise.reject(
        new SessionConfigError("SqliteStore: cleanup(now) needs milliseconds since the epoch"),
      );
    }
    return this.#call("delete expired sessions", undefined, () => {
      const removed = this.#s.sweep.run([now]);
      this.#nextSweepAt = now + this.#cleanupIntervalMs;
      return removed;
    });
  }

  /**
   * Releases the store's prepared statements (drivers such as x/sqlite
   * refuse to close a database that still has some). The connection stays
   * open: it is yours. The store cannot be used afterwards.
   */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      for (const stmt of Object.values(this.#s)) stmt.finalize();
      for (const stmt of this.#deleteByUserCache.values()) stmt.finalize();
      this.#deleteByUserCache.clear();
    }
    return Promise.resolve();
  }

  /**
   * Runs `fn` (synchronous, like every supported driver) and settles the
   * promise with its result, or with a SessionStoreError: a failing store
   * rejects, it never throws at the caller. With `now`, the call may also
   * carry the automatic sweep.
   */
  #call<T>(what: string, now: number | undefined, fn: () => T): Promise<T> {
    if (this.#closed) {
      return Promise.reject(
        new SessionStoreError(`SqliteStore: cannot ${what}: the store was closed`),
      );
    }
    let result: T;
    try {
      result = fn();
    } catch (e) {
      return Promise.reject(this.#storeError(what, e));
    }
    if (now !== undefined) this.#maybeSweep(now);
    return Promise.resolve(result);
  }

  /**
   * Reads the live session under `key`, applies `change` and hands it to
   * `write`, all in one `BEGIN IMMEDIATE` transaction: the write lock comes
   * before the read, so no other connection can change or delete the row
   * in between, and everything from BEGIN to COMMIT runs synchronously, so
   * no other request of this process interleaves either. `false` (gone) or
   * `"moved"` (a marker) writes nothing.
   */
  #changeLocked(
    key: string,
    change: SessionChange,
    now: number,
    write: (record: SessionRecord) => void,
  ): WriteResult {
    this.#s.begin.run([]);
    try {
      const row = this.#s.get.get([key, now]);
      const record = row ? decodeRow(row, now) : null;
      if (!record || record.movedAt !== undefined) {
        this.#s.rollback.run([]);
        return record ? "moved" : false;
      }
      applyChange(record, change);
      write(record);
      this.#s.commit.run([]);
      return true;
    } catch (e) {
      try {
        this.#s.rollback.run([]);
      } catch {
        // SQLite may already have rolled back (e.g. after SQLITE_FULL);
        // the original error is the one worth reporting.
      }
      throw e;
    }
  }

  #storeError(what: string, e: unknown): SessionStoreError {
    let reason: string;
    if (isBusyError(e)) {
      const waited = this.#timeoutMs === null
        ? "the connection's busy timeout"
        : `${this.#timeoutName} (${this.#timeoutMs} ms)`;
      reason = `the database stayed locked by another connection for longer than ${waited}`;
    } else if (isReadonlyError(e)) {
      reason = `the database is read-only (${messageOf(e)}); open it writable`;
    } else {
      reason = `${this.#conn.driver} failed: ${messageOf(e)}`;
    }
    return new SessionStoreError(`SqliteStore: cannot ${what}: ${reason}`, { cause: e });
  }

  // The sweep rides on normal traffic at most once per interval, so no timer
  // keeps the process alive and no request pays for it more than once.
  #maybeSweep(now: number): void {
    if (this.#cleanupIntervalMs === 0 || now < this.#nextSweepAt || this.#closed) return;
    this.#nextSweepAt = now + this.#cleanupIntervalMs;
    try {
      this.#s.sweep.run([now]);
    } catch {
      // Housekeeping must not fail the request that carried it (the database
      // may be busy or read-only); the next interval tries again, and
      // cleanup() reports errors.
    }
  }
}

function openSchema(
  conn: SqlConnection,
  tableName: string,
  sql: ReturnType<typeof sqliteStatements>,
  settings: Settings,
): void {
  if (settings.timeoutMs !== null) {
    // A validated integer, not text from anywhere else: pragmas take no
    // bound parameters.
    conn.exec(`PRAGMA busy_timeout = ${settings.timeoutMs}`);
  }
  if (settings.walMode) {
    try {
      conn.exec("PRAGMA journal_mode = WAL");
    } catch (e) {
      // A read-only connection can still read its sessions; its writes fail
      // with a clear SessionStoreError.
      if (!isReadonlyError(e)) {
        throw configError(
          `SqliteStore: cannot switch the database to WAL (${messageOf(e)}); pass ` +
            "{ walMode: false } to keep its journal mode",
          e,
        );
      }
    }
  }
  const cannotCreate = (e: unknown) => {
    const hint = isReadonlyError(e)
      ? "the database is read-only: open it writable once so the table can be created"
      : "check that the database is open and writable";
    return configError(
      `SqliteStore: cannot create table "${tableName}" (${messageOf(e)}); ${hint}`,
      e,
    );
  };
  // A table of the original oak_sessions under this name is moved aside and
  // its live sessions carried over, so an upgrade logs nobody out.
  const migration = migrateOriginalTable(conn, tableName, sql, Date.now(), settings.migratedIdleMs);
  if (migration) settings.log(migrationLine(tableName, migration));
  try {
    conn.exec(sql.createTable);
  } catch (e) {
    throw cannotCreate(e);
  }
  // An existing table of another shape (say, an older library's) must be
  // named as such, before creating the index trips over its columns.
  try {
    conn.prepare(sql.columns).finalize();
  } catch (e) {
    throw configError(
      `SqliteStore: table "${tableName}" exists but is not a SqliteStore table (${
        messageOf(e)
      }); ` +
        "it needs the columns key, data, flash, created_at and expires_at (a table of the " +
        "original oak_sessions, id and data, is migrated). Choose another table " +
        `name (new SqliteStore(db, "${tableName}_v2")) or drop the old table`,
      e,
    );
  }
  // A table of the previous version gains the columns added since, keeping
  // its sessions.
  try {
    addMissingColumns(conn, tableName);
  } catch (e) {
    const hint = isReadonlyError(e)
      ? "the database is read-only: open it writable once so the columns can be added"
      : isBusyError(e)
      ? "another connection held the database locked; try again"
      : "check that the database is open and writable";
    throw configError(
      `SqliteStore: cannot add the columns user_id, last_seen_at, meta and moved_at to ` +
        `table "${tableName}" of an earlier version (${messageOf(e)}); ${hint}`,
      e,
    );
  }
  try {
    conn.exec(sql.createIndex);
    conn.exec(sql.createUserIndex);
  } catch (e) {
    throw cannotCreate(e);
  }
}

function prepareStatements(
  conn: SqlConnection,
  sql: ReturnType<typeof sqliteStatements>,
): Statements {
  return {
    get: conn.prepare(sql.get),
    create: conn.prepare(sql.create),
    touch: conn.prepare(sql.touch),
    write: conn.prepare(sql.write),
    delete: conn.prepare(sql.delete),
    sweep: conn.prepare(sql.sweep),
    listByUser: conn.prepare(sql.listByUser),
    deleteByUser: conn.prepare(sql.deleteByUser),
    begin: conn.prepare("BEGIN IMMEDIATE"),
    commit: conn.prepare("COMMIT"),
    rollback: conn.prepare("ROLLBACK"),
  };
}

/** How many keys kept by `deleteByUser` still get a statement prepared once and kept. */
const CACHED_KEPT = 4;
