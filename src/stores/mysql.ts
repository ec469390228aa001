/**
 * `MySqlStore`: sessions in a MySQL or MariaDB table, through the `mysql2`
 * Pool or Connection the application already has (see `mysql_drivers.ts`).
 *
 * One row per session, keyed by the SHA-256 session key. `data` and `flash`
 * are JSON objects of key -> the value's JSON text, in `LONGTEXT` columns
 * (MariaDB's JSON functions keep an object's key order in text; MySQL's
 * `JSON` type would sort the keys). An update is one `UPDATE` that rebuilds
 * `data` from the stored one with `JSON_MERGE_PATCH` (MySQL 5.7.22+, MariaDB
 * 10.2.25+) and adds whole-number increments to stored whole numbers in the
 * same statement, so concurrent changes of different keys and concurrent
 * increments all land. What SQL cannot compute exactly as JavaScript does (a
 * fraction, a number beyond 2^53) and a rotation run in a transaction that
 * locks the row (`SELECT ... FOR UPDATE`), apply the change in JavaScript and
 * write it back before the lock is released. `expires_at` and `user_id` are
 * indexed; `moved_at` is set only on a rotation's marker.
 *
 * @module
 */
import { SessionConfigError, SessionStoreError } from "../errors.ts";
import { checkOptionKeys, keysOf } from "../option_keys.ts";
import type {
  ServerStore,
  SessionChange,
  SessionRecord,
  UserSession,
  WriteResult,
} from "../store.ts";
import { applyChange, incremented, MOVED_MARKER_MS, onlyRefreshes } from "../store.ts";
import { copyFields } from "./shared/record_codec.ts";
import { BackendCalls, liveUserSessions } from "./shared/backend_calls.ts";
import { checkTableName as checkSqlTableName } from "./shared/sql_identifiers.ts";
import {
  cleanupIntervalMs,
  logOption,
  type SqlStoreOptions,
  storeArguments,
  timeoutMsOption,
} from "./shared/store_options.ts";
import { decodeRow } from "./sql_row.ts";
import {
  connectMySql,
  type MySqlConnection,
  type MySqlDatabase,
  type MySqlQueryable,
  type MySqlValue,
} from "./mysql_drivers.ts";
import { isExpressMySqlLayout, migrateExpressMySqlTable } from "./mysql_migration.ts";

/** Keys of `new MySqlStore(pool, nameOrOptions)`. */
export const MYSQL_STORE_OPTION_KEYS: readonly string[] = keysOf<MySqlStoreOptions>({
  table: true,
  timeoutMs: true,
  cleanupIntervalSeconds: true,
  log: true,
});

/**
 * Options of {@link MySqlStore}.
 *
 * ```ts
 * const store = new MySqlStore(pool, { table: "sessions", timeoutMs: 2000 });
 * ```
 */
export interface MySqlStoreOptions extends SqlStoreOptions {
  /** The table the sessions live in (an identifier). Default `"sessions"`. */
  table?: string;
  /**
   * How long one call may take before the request fails with a
   * `SessionStoreError` (503), in milliseconds. Default 5000. It bounds a
   * driver that waits for a connection while the server is unreachable.
   */
  timeoutMs?: number;
  /**
   * Where the store reports a migration of an express-mysql-session table.
   * Default `console.warn`.
   */
  log?: (line: string) => void;
}

/** Increments the `UPDATE` adds in SQL; more go through the locked read. */
const MAX_SQL_INCREMENTS = 16;
/** A stored whole number SQL adds to exactly as JavaScript does (no "-0", no leading zeros). */
const WHOLE = "'^(0|-?[1-9][0-9]{0,15})$'";

/**
 * The SQL `MySqlStore` runs for a table, exposed so it can be audited (for
 * example with `EXPLAIN`). Parameters are `?`; every value is bound.
 * `update(n)` is the `UPDATE` of a change with `n` increments added in SQL.
 *
 * ```ts
 * import { mySqlStatements } from "./mysql.ts";
 * console.log(mySqlStatements("sessions").sweep);
 * ```
 */
export function mySqlStatements(tableName: string): {
  createTable: string;
  get: string;
  lockedRow: string;
  create: string;
  touch: string;
  update(increments: number): string;
  writeLocked: string;
  marker: string;
  delete: string;
  sweep: string;
  listByUser: string;
  deleteByUser(exceptKeys: number): string;
  userLeft(exceptKeys: number): string;
} {
  checkTableName(tableName);
  // A validated identifier, so quoting it is enough.
  const t = `\`${tableName}\``;
  // Times come back as DOUBLE, a JS number whatever the pool's BIGINT settings.
  const row = "data, flash, created_at + 0e0, expires_at + 0e0, " +
    "CONVERT(user_id USING utf8mb4), last_seen_at + 0e0, meta, moved_at + 0e0";
  const text = "LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin";
  const except = (n: number) =>
    n === 0 ? "" : ` AND session_key NOT IN (${Array(n).fill("?").join(", ")})`;
  // The stored text of increment i's key, NULL when the key is absent.
  const stored = "JSON_UNQUOTE(JSON_EXTRACT(data, ?))";
  const live = "session_key = ? AND expires_at > ? AND moved_at IS NULL";
  return {
    // user_id is VARBINARY so that it compares byte for byte (a text
    // collation may ignore trailing spaces or case).
    createTable: `CREATE TABLE IF NOT EXISTS ${t} (` +
      "session_key VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY, " +
      `data ${text} NOT NULL, flash ${text} NOT NULL, created_at BIGINT NOT NULL, ` +
      "expires_at BIGINT NOT NULL, user_id VARBINARY(1024) NULL, last_seen_at BIGINT NULL, " +
      `meta ${text} NULL, moved_at BIGINT NULL, ` +
      `INDEX \`${tableName.slice(0, 53)}_expires_at\` (expires_at), ` +
      `INDEX \`${tableName.slice(0, 56)}_user_id\` (user_id)) ENGINE=InnoDB`,
    get: `SELECT ${row} FROM ${t} WHERE session_key = ? AND expires_at > ?`,
    // The row whatever it holds, locked until the transaction ends.
    lockedRow: `SELECT ${row} FROM ${t} WHERE session_key = ? FOR UPDATE`,
    // Nine values, then the same eight but the key again for a key taken.
    create: `INSERT INTO ${t} (session_key, data, flash, created_at, expires_at, user_id, ` +
      "last_seen_at, meta, moved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE " +
      "data = ?, flash = ?, created_at = ?, expires_at = ?, user_id = ?, last_seen_at = ?, " +
      "meta = ?, moved_at = ?",
    // expiresAt, lastSeenAt (NULL: keep), key, now.
    touch: `UPDATE ${t} SET expires_at = ?, last_seen_at = COALESCE(?, last_seen_at) ` +
      `WHERE ${live}`,
    // clear, set (object), delete (object of nulls), then per increment
    // (key, path, amount text, path, path, amount, path); flash (NULL:
    // keep), expiresAt, lastSeenAt (NULL: keep), user (0 keep, 1 set), user,
    // meta (NULL: keep), key, now, then per increment (path, path, path,
    // amount, path) for the condition. Assignments run left to right and `data`
    // is the first, so every other one reads the row as it was.
    update: (n) => {
      let data = "JSON_MERGE_PATCH(JSON_MERGE_PATCH(IF(?, '{}', data), ?), ?)";
      let fits = "";
      if (n > 0) {
        // A key that is absent becomes the amount; a stored whole number
        // gets the amount added exactly (DECIMAL); anything that is no
        // number stays as it is. A stored number SQL cannot add as
        // JavaScript does makes the statement write nothing (see `fits`).
        const value = `CASE WHEN JSON_CONTAINS_PATH(data, 'one', ?) = 0 THEN ? ` +
          `WHEN ${stored} REGEXP ${WHOLE} THEN CAST(CAST(${stored} AS DECIMAL(20,0)) + ` +
          `CAST(? AS DECIMAL(20,0)) AS CHAR) ELSE ${stored} END`;
        data = `JSON_MERGE_PATCH(${data}, JSON_OBJECT(` +
          Array(n).fill(`?, ${value}`).join(", ") + "))";
        // The stored text is absent, a whole number whose sum stays within
        // 2^53, or plainly no number (what JSON.parse would not read as one).
        const fit = `(JSON_CONTAINS_PATH(data, 'one', ?) = 0 OR (${stored} REGEXP ${WHOLE} AND ` +
          `ABS(CAST(${stored} AS DECIMAL(20,0)) + CAST(? AS DECIMAL(20,0))) <= 9007199254740992) ` +
          `OR ${stored} NOT REGEXP '^[[:space:]]*-?[0-9]')`;
        fits = " AND " + Array(n).fill(fit).join(" AND ");
      }
      return `UPDATE ${t} SET data = ${data}, flash = COALESCE(?, flash), expires_at = ?, ` +
        "last_seen_at = COALESCE(?, last_seen_at), user_id = IF(?, ?, user_id), " +
        `meta = COALESCE(?, meta) WHERE ${live}${fits}`;
    },
    // A whole record over the row a transaction holds: data, flash,
    // createdAt, expiresAt, user, lastSeenAt, meta, key.
    writeLocked: `UPDATE ${t} SET data = ?, flash = ?, created_at = ?, expires_at = ?, ` +
      "user_id = ?, last_seen_at = ?, meta = ?, moved_at = NULL WHERE session_key = ?",
    // now, now + MOVED_MARKER_MS, now, key: the row becomes the marker of a
    // move (no data, no user: out of the user index).
    marker: `UPDATE ${t} SET data = '{}', flash = '{}', created_at = ?, expires_at = ?, ` +
      "user_id = NULL, last_seen_at = NULL, meta = NULL, moved_at = ? WHERE session_key = ?",
    delete: `DELETE FROM ${t} WHERE session_key = ?`,
    sweep: `DELETE FROM ${t} WHERE expires_at <= ?`,
    // The user, now; the key comes after the record's columns. A marker has
    // no user, so it is never listed.
    listByUser: `SELECT ${row}, session_key FROM ${t} WHERE user_id = ? AND expires_at > ?`,
    // The user, then the keys to keep.
    deleteByUser: (n) => `DELETE FROM ${t} WHERE user_id = ?${except(n)}`,
    // The user, the keys to keep, then now twice: how many live sessions of
    // the user created by `now` are left.
    userLeft: (n) =>
      `SELECT COUNT(*) FROM ${t} WHERE user_id = ?${except(n)} AND created_at <= ? ` +
      "AND expires_at > ?",
  };
}

const USAGE =
  'new MySqlStore(pool, "sessions") or new MySqlStore(pool, { table: "sessions", ... })';

function checkTableName(tableName: unknown): asserts tableName is string {
  checkSqlTableName("MySqlStore", tableName, `pass ${USAGE}`, 64);
}

interface Settings {
  table: string;
  timeoutMs: number;
  cleanupIntervalMs: number;
  log: (line: string) => void;
}

function checkOptions(nameOrOptions: unknown, options: unknown): Settings {
  const o = storeArguments("MySqlStore", "table", nameOrOptions, options, USAGE);
  checkOptionKeys("MySqlStore", o, MYSQL_STORE_OPTION_KEYS);
  const table = o.table ?? "sessions";
  checkTableName(table);
  return {
    table,
    timeoutMs: timeoutMsOption("MySqlStore", o.timeoutMs),
    cleanupIntervalMs: cleanupIntervalMs("MySqlStore", o.cleanupIntervalSeconds),
    log: logOption("MySqlStore", o.log),
  };
}

/** The columns of a MySqlStore table and their `DATA_TYPE`. */
const OUR_COLUMNS: Record<string, string> = {
  session_key: "varchar",
  data: "longtext",
  flash: "longtext",
  created_at: "bigint",
  expires_at: "bigint",
  user_id: "varbinary",
  last_seen_at: "bigint",
  meta: "longtext",
  moved_at: "bigint",
};

type Statements = ReturnType<typeof mySqlStatements>;

/** The `UPDATE` of a change and its values. */
interface UpdatePlan {
  sql: string;
  values: MySqlValue[];
}

/**
 * Sessions in MySQL or MariaDB. Pass the `mysql2` Pool (or Connection) you
 * already use, callback or promise API. The store creates its table when
 * absent (on `initSessionsTable()`, or on its first call), keeps the
 * sessions of an existing table, and carries over the sessions of an
 * express-mysql-session table found under its name. Several processes can
 * share the table: concurrent changes of different keys both land,
 * concurrent increments all count, and a deleted session stays deleted.
 *
 * ```ts
 * import mysql from "mysql2/promise";
 * import { Application } from "@oakserver/oak";
 * import { MySqlStore, Session } from "oak-sessions";
 *
 * const pool = mysql.createPool({ host: "127.0.0.1", user: "app", database: "app" });
 * const store = new MySqlStore(pool, "sessions");
 * await store.initSessionsTable();
 * const app = new Application();
 * app.use(Session.initMiddleware(store));
 * ```
 *
 * Throws `SessionConfigError` at construction for an unknown or closed
 * driver, a table name that is not an identifier, or a bad option; the
 * table's set-up rejects with it for a table of another shape or a server
 * without the JSON functions. A call that fails (server down, timeout)
 * rejects with `SessionStoreError` (503).
 */
export class MySqlStore implements ServerStore {
  /** Marks this as a server-side store for the middleware. */
  readonly kind = "server" as const;
  /** The table the sessions live in. */
  readonly tableName: string;
  /** The driver the store recognised: "mysql2 Pool" or "mysql2 Connection". */
  readonly driver: string;
  readonly #conn: MySqlConnection;
  readonly #s: Statements;
  readonly #updates = new Map<number, string>();
  readonly #settings: Settings;
  readonly #calls: BackendCalls;

  /**
   * `db` is a mysql2 Pool or Connection (callback or promise API);
   * `nameOrOptions` the table name (default `"sessions"`) or the options
   * (`table` among them). The old `(db, table, options)` works too. Checks
   * them at once; the table is set up by `initSessionsTable()` or the first
   * call.
   */
  constructor(
    db: MySqlDatabase,
    nameOrOptions?: string | MySqlStoreOptions,
    options?: MySqlStoreOptions,
  ) {
    if (typeof nameOrOptions !== "object") checkTableName(nameOrOptions ?? "sessions");
    this.#settings = checkOptions(nameOrOptions, options);
    this.#conn = connectMySql(db);
    this.tableName = this.#settings.table;
    this.driver = this.#conn.driver;
    this.#s = mySqlStatements(this.tableName);
    this.#calls = new BackendCalls({
      where: "MySqlStore",
      timeoutMs: this.#settings.timeoutMs,
      cleanupIntervalMs: this.#settings.cleanupIntervalMs,
      setUp: () => this.#init(),
      sweep: (now) => this.#conn.query(this.#s.sweep, [time(now)]),
      failure: (what, e) => this.#error(what, e),
      // InnoDB rolled a deadlock's victim back whole: it can run again.
      retryable: (e) => (e as { errno?: unknown })?.errno === 1213,
    });
  }

  /**
   * Creates the table and its indexes when absent, checks an existing
   * table's columns, and migrates an express-mysql-session table (logging
   * one line). Safe to call more than once, and from several processes at
   * once. Every other call runs it first when it has not run.
   *
   * ```ts
   * await store.initSessionsTable();
   * ```
   */
  initSessionsTable(): Promise<void> {
    return this.#calls.setUp();
  }

  /** The live session under `key` at `now`; `null` for none, an expired or an unreadable one. */
  async get(key: string, now: number): Promise<SessionRecord | null> {
    const { rows } = await this.#run("read the session", now, this.#s.get, [key, time(now)]);
    return rows.length > 0 ? decodeRow(rows[0], now) : null;
  }

  /** Writes `record` under `key` (an upsert: whatever was there is replaced). */
  async create(key: string, record: SessionRecord, now: number): Promise<void> {
    const values = recordValues(record);
    await this.#run("store the session", now, this.#s.create, [key, ...values, ...values]);
  }

  /**
   * Applies `change` in one statement, only if the session exists and has
   * not expired at `now` (a change SQL cannot add up exactly as JavaScript
   * does goes through a locked read instead). Returns whether it did, or
   * `"moved"` (writing nothing) when `key` holds a rotation's marker.
   */
  async update(key: string, change: SessionChange, now: number): Promise<WriteResult> {
    if (onlyRefreshes(change)) {
      const r = await this.#run("refresh the session", now, this.#s.touch, [
        time(change.expiresAt),
        change.lastSeenAt === undefined ? null : time(change.lastSeenAt),
        key,
        time(now),
      ]);
      return r.count > 0 ? true : this.#missed(key, now, change);
    }
    const plan = this.#plan(key, change, now);
    if (plan === null) return this.#updateLocked(key, change, now);
    const r = await this.#run("update the session", now, plan.sql, plan.values);
    return r.count > 0 ? true : this.#missed(key, now, change);
  }

  /**
   * Moves the session under `oldKey` to `newKey` with `change` applied, in
   * one transaction that locks the old row, only if it exists and has not
   * expired at `now`, and leaves in its place the marker of the move.
   * Returns whether it did; `"moved"` when `oldKey` holds a marker (a
   * concurrent rotation won). When it did not, nothing was written.
   */
  rotate(oldKey: string, newKey: string, change: SessionChange, now: number): Promise<WriteResult> {
    // The marker would take the place of the session itself.
    if (oldKey === newKey) return this.update(oldKey, change, now);
    return this.#locked("rotate the session", now, async (tx) => {
      const found = await this.#lockedRecord(tx, oldKey, now);
      if (found === false || found === "moved") return found;
      const moved = applyChange(found, change);
      const values = recordValues(moved);
      await tx.query(this.#s.create, [newKey, ...values, ...values]);
      await tx.query(this.#s.marker, [
        time(now),
        time(now) + MOVED_MARKER_MS,
        time(now),
        oldKey,
      ]);
      return true;
    });
  }

  /** Deletes the row under `key`, if any (a logout). */
  delete(key: string): Promise<void> {
    return this.#run("delete the session", undefined, this.#s.delete, [key]).then(() => {});
  }

  /** Every live session of `userId` at `now` (the `user_id` index finds them), markers left out. */
  listByUser(userId: string, now: number): Promise<UserSession[]> {
    const values = [userId, time(now)];
    return this.#run("list the user's sessions", now, this.#s.listByUser, values).then((r) =>
      liveUserSessions(r.rows, now)
    );
  }

  /**
   * Removes every session of `userId` except those under `exceptKeys` (a
   * `DELETE` on the `user_id` index), and returns how many went. A rotation
   * that held one of them while the `DELETE` waited moves it to a row the
   * `DELETE` may not see: the store looks again until no session of the
   * user created by `now` is left.
   */
  async deleteByUser(userId: string, exceptKeys: readonly string[], now: number): Promise<number> {
    const params = [userId, ...exceptKeys];
    const n = exceptKeys.length;
    let removed = 0;
    for (let round = 0; round < 100; round++) {
      const r = await this.#run("delete the user's sessions", now, this.#s.deleteByUser(n), params);
      removed += r.count;
      const left = await this.#run("delete the user's sessions", now, this.#s.userLeft(n), [
        ...params,
        time(now),
        time(now),
      ]);
      if (Number(left.rows[0]?.[0]) === 0) break;
    }
    return removed;
  }

  /**
   * Deletes every session expired at `now` (default: the current time) and
   * returns how many went. One `DELETE` on the `expires_at` index.
   *
   * ```ts
   * const removed = await store.cleanup();
   * ```
   */
  async cleanup(now: number = Date.now()): Promise<number> {
    if (typeof now !== "number" || !Number.isFinite(now)) {
      throw new SessionConfigError("MySqlStore: cleanup(now) needs milliseconds since the epoch");
    }
    const { count } = await this.#run("delete expired sessions", undefined, this.#s.sweep, [
      time(now),
    ]);
    this.#calls.swept(now);
    return count;
  }

  /**
   * Stops the store: it removes the error listener it put on a Connection.
   * The driver stays open: it is yours. The store cannot be used afterwards.
   */
  close(): Promise<void> {
    if (this.#calls.close()) this.#conn.detach();
    return Promise.resolve();
  }

  /**
   * The `UPDATE` of `change`, or `null` when it needs the locked read: an
   * increment by an amount that is not a whole number within 2^53, on a key
   * a JSON path cannot name plainly, or too many of them.
   */
  #plan(key: string, change: SessionChange, now: number): UpdatePlan | null {
    const set = copyFields(change.set);
    const drop: Record<string, string | null> = Object.create(null);
    for (const k of change.delete) drop[k] = null;
    const inSql: Array<[string, number]> = [];
    const increment = change.increment;
    for (const k in increment) {
      const by = increment[k];
      if (k in drop || (change.clear && !(k in set))) {
        // Absent by now: the amount itself, after the deletes.
        drop[k] = JSON.stringify(by);
      } else if (k in set) {
        const next = incremented(set[k], by);
        if (next !== undefined) set[k] = next;
      } else {
        if (!Number.isSafeInteger(by) || !PLAIN_KEY.test(k)) return null;
        inSql.push([k, by]);
      }
    }
    if (inSql.length > MAX_SQL_INCREMENTS) return null;
    const n = inSql.length;
    let sql = this.#updates.get(n);
    if (sql === undefined) this.#updates.set(n, sql = this.#s.update(n));
    const values: MySqlValue[] = [change.clear ? 1 : 0, JSON.stringify(set), JSON.stringify(drop)];
    for (const [k, by] of inSql) {
      const path = jsonPath(k);
      values.push(k, path, JSON.stringify(by), path, path, String(by), path);
    }
    values.push(
      change.flash === null ? null : JSON.stringify(change.flash),
      time(change.expiresAt),
      change.lastSeenAt === undefined ? null : time(change.lastSeenAt),
      change.userId === undefined ? 0 : 1,
      change.userId ?? null,
      change.meta ?? null,
      key,
      time(now),
    );
    for (const [k, by] of inSql) {
      const path = jsonPath(k);
      values.push(path, path, path, String(by), path);
    }
    return { sql, values };
  }

  /**
   * After an `UPDATE` that wrote nothing: `"moved"` when the key holds a
   * live marker; the locked read when a live session is there (its
   * increments need JavaScript's arithmetic, or it appeared meanwhile);
   * `false` when no live session is.
   */
  async #missed(key: string, now: number, change: SessionChange): Promise<WriteResult> {
    const r = await this.#run("update the session", now, this.#s.get, [key, time(now)]);
    const row = r.rows[0];
    if (!row) return false;
    const record = decodeRow(row, now);
    if (record === null) return false;
    if (record.movedAt !== undefined) return "moved";
    return this.#updateLocked(key, change, now);
  }

  /** `change` applied in JavaScript to the row read with a lock, in one transaction. */
  #updateLocked(key: string, change: SessionChange, now: number): Promise<WriteResult> {
    return this.#locked("update the session", now, async (tx) => {
      const found = await this.#lockedRecord(tx, key, now);
      if (found === false || found === "moved") return found;
      const values = recordValues(applyChange(found, change));
      await tx.query(this.#s.writeLocked, [...values.slice(0, 7), key]);
      return true;
    });
  }

  /** The live session under `key`, locked; `"moved"` for a live marker; `false` for none. */
  async #lockedRecord(
    tx: MySqlQueryable,
    key: string,
    now: number,
  ): Promise<SessionRecord | "moved" | false> {
    const r = await tx.query(this.#s.lockedRow, [key]);
    const row = r.rows[0];
    const record = row ? decodeRow(row, now) : null;
    if (record === null) return false;
    if (record.movedAt !== undefined) return "moved";
    // A fresh copy: decodeRow's maps are the store's to change.
    record.data = copyFields(record.data);
    return record;
  }

  async #init(): Promise<void> {
    const migration = await this.#conn.transaction(async (tx) => {
      await this.#checkServer(tx);
      // Processes starting together take turns, so only one creates or migrates.
      const lock = `oak_sessions:${this.tableName}`;
      const got = await tx.query("SELECT GET_LOCK(?, 30)", [lock]);
      if (Number(got.rows[0]?.[0]) !== 1) {
        throw new SessionStoreError(
          `MySqlStore: another process held the set-up lock of table "${this.tableName}" for 30 s`,
        );
      }
      try {
        const columns = await tableColumns(tx, this.tableName);
        if (columns.size === 0) {
          await tx.query(this.#s.createTable, []);
        } else if (isExpressMySqlLayout(columns)) {
          try {
            return await migrateExpressMySqlTable(tx, this.tableName, this.#s.createTable);
          } catch (e) {
            throw new SessionStoreError(
              `MySqlStore: cannot migrate table "${this.tableName}" of express-mysql-session ` +
                `(${messageOf(e)})`,
              { cause: e },
            );
          }
        } else {
          checkOurLayout(this.tableName, columns);
        }
        return undefined;
      } finally {
        await tx.query("SELECT RELEASE_LOCK(?)", [lock]).catch(() => {});
      }
    });
    if (migration) {
      this.#settings.log(
        `MySqlStore: table "${this.tableName}" had express-mysql-session's layout (session_id, ` +
          `expires, data); it is kept as "${migration.backupName}", and ${migration.carried} live ` +
          `session(s) were carried over to a new "${this.tableName}" (${migration.left} expired ` +
          "or unreadable one(s) stay only in the backup). The backup holds the session IDs in " +
          "clear: drop it once you no longer need it.",
      );
    }
  }

  async #checkServer(tx: MySqlQueryable): Promise<void> {
    const db = await tx.query("SELECT DATABASE(), VERSION()", []);
    const [database, version] = db.rows[0] ?? [];
    if (database === null || database === undefined) {
      throw new SessionConfigError(
        "MySqlStore: the connection has no database selected; give the pool a database " +
          '(mysql.createPool({ ..., database: "app" }))',
      );
    }
    try {
      await tx.query("SELECT JSON_MERGE_PATCH('{}', '{}')", []);
    } catch (e) {
      throw new SessionConfigError(
        `MySqlStore: the server (${version}) lacks JSON_MERGE_PATCH; MySqlStore needs MySQL ` +
          `5.7.22 or later, or MariaDB 10.2.25 or later (${messageOf(e)})`,
      );
    }
  }

  /** One statement, through the store's calls (set-up, deadline, errors, sweep). */
  #run(
    what: string,
    now: number | undefined,
    sql: string,
    values: MySqlValue[],
  ): Promise<{ rows: unknown[][]; count: number }> {
    return this.#calls.call(what, now, () => this.#conn.query(sql, values));
  }

  /** `fn` in one transaction, as `#run` runs a statement. */
  #locked<T>(what: string, now: number, fn: (tx: MySqlQueryable) => Promise<T>): Promise<T> {
    return this.#calls.call(what, now, () => this.#conn.transaction(fn));
  }

  /** The store's error for a failure of `what`: a config error for an ended driver, else a 503. */
  #error(what: string, e: unknown): Error {
    const ours = e instanceof SessionConfigError || e instanceof SessionStoreError;
    if (ours) return e;
    const ended = this.#conn.isEnded(e);
    if (ended) {
      const hint = "end the driver only after the server has stopped";
      return new SessionConfigError(
        `MySqlStore: cannot ${what}: the ${this.driver} was ended (end() was called); ${hint}`,
      );
    }
    let reason = `${this.driver} failed: ${messageOf(e)}`;
    if (this.#conn.isDeadConnection(e)) {
      reason += "; a mysql2 Connection does not reconnect once its connection is lost: pass a " +
        "Pool (mysql.createPool), which replaces lost connections";
    } else if ((e as { errno?: unknown })?.errno === 1146) {
      // The table was dropped under us: set it up again on the next call.
      this.#calls.forgetSetUp();
      reason += "; the table is created again on the next call";
    }
    return new SessionStoreError(`MySqlStore: cannot ${what}: ${reason}`, { cause: e });
  }
}

/** Keys a JSON path names as `$."key"` on MySQL and MariaDB alike: no quote, backslash or control character. */
const PLAIN_KEY = /^[^"\\\p{Cc}]+$/u;

function jsonPath(key: string): string {
  return `$."${key}"`;
}

async function tableColumns(tx: MySqlQueryable, tableName: string): Promise<Map<string, string>> {
  const r = await tx.query(
    "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS " +
      "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
    [tableName],
  );
  return new Map(r.rows.map((row) => [String(row[0]), String(row[1]).toLowerCase()]));
}

function checkOurLayout(tableName: string, columns: Map<string, string>): void {
  const wrong = Object.keys(OUR_COLUMNS).filter((c) => columns.get(c) !== OUR_COLUMNS[c]);
  if (wrong.length === 0) return;
  const found = [...columns].map(([n, t]) => `${n} ${t}`).join(", ");
  throw new SessionConfigError(
    `MySqlStore: table "${tableName}" exists but is not a MySqlStore table (it has ${found}); ` +
      "it needs session_key varchar, data, flash and meta longtext, created_at, expires_at, " +
      "last_seen_at and moved_at bigint, user_id varbinary. Choose another table name " +
      `(new MySqlStore(pool, "${tableName}_v2")) or drop the old table`,
  );
}

/** The eight values of a record after its key: data, flash, times, user, last seen, meta, moved at. */
function recordValues(r: SessionRecord): MySqlValue[] {
  const maybeTime = (ms: number | undefined) => ms === undefined ? null : time(ms);
  const [data, flash] = [r.data, r.flash].map((f) => JSON.stringify(f));
  const user = [r.userId ?? null, maybeTime(r.lastSeenAt), r.meta ?? null, maybeTime(r.movedAt)];
  return [data, flash, time(r.createdAt), time(r.expiresAt), ...user];
}

/** A time as whole milliseconds. */
function time(ms: number): number {
  return Math.floor(ms);
}

function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message || (e as { code?: string }).code || e.name;
  return String(e);
}
