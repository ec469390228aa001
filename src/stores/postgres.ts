/**
 * `PostgresStore`: sessions in a PostgreSQL table, through the driver the
 * application already has (postgres.js, or node-postgres's `Pool` or
 * `Client`; see `postgres_drivers.ts`).
 *
 * One row per session, keyed by the SHA-256 session key. `data` and `flash`
 * are `json` objects of key -> the value's JSON text. They are `json`, not
 * `jsonb`, because `jsonb` reorders keys and a session's keys keep the order
 * they were set in. Every call is one statement, so it is atomic on its own:
 * an update rebuilds `data` from the stored one inside the `UPDATE` (adding
 * increments there too, so concurrent ones all count), and a rotation locks
 * the old row, turns it into the marker of the move and inserts the moved
 * session under the new key, all in one statement. `expires_at` is indexed
 * so the sweep never scans the table, `user_id` so a user's sessions are
 * found without scanning it. `last_seen_at` and `meta` (the session's own
 * settings, as JSON text the store never reads) complete the record;
 * `moved_at` is set only on a rotation's marker. A table of an earlier
 * version gains the columns it lacks when the store sets the table up.
 *
 * @module
 */
import { SessionConfigError, SessionStoreError } from "../errors.ts";
import { keysOf } from "../option_keys.ts";
import {
  MOVED_MARKER_MS,
  onlyRefreshes,
  type ServerStore,
  type SessionChange,
  type SessionRecord,
  type UserSession,
  type WriteResult,
} from "../store.ts";
import { decodeRow, userSessions } from "./sql_row.ts";
import {
  connectPostgres,
  type PgConnection,
  type PgQueryable,
  type PgValue,
  type PostgresDatabase,
} from "./postgres_drivers.ts";
import { migrateOriginalTable } from "./postgres_migration.ts";
import { withDeadline } from "./shared/deadline.ts";
import { checkTableName } from "./shared/sql_identifiers.ts";
import {
  type MigratingStoreOptions,
  type SqlSettings,
  sqlStoreArguments,
  type SqlStoreOptions,
  timeoutMsOption,
} from "./shared/store_options.ts";

/** Keys of `new PostgresStore(db, tableName, options)`. */
export const POSTGRES_STORE_OPTION_KEYS: readonly string[] = keysOf<PostgresStoreOptions>({
  timeoutMs: true,
  cleanupIntervalSeconds: true,
  log: true,
  migratedIdleSeconds: true,
});

/**
 * Options of {@link PostgresStore}.
 *
 * ```ts
 * const store = new PostgresStore(sql, "sessions", { timeoutMs: 2000 });
 * ```
 */
export interface PostgresStoreOptions extends SqlStoreOptions, MigratingStoreOptions {
  /**
   * How long one call may take before the request fails with a
   * `SessionStoreError` (503), in milliseconds. Default 5000. It bounds a
   * driver that waits for a connection while the server is unreachable.
   */
  timeoutMs?: number;
}

/**
 * `new PostgresStore(db, { table, ...options })`: the options with the
 * table among them.
 */
export interface PostgresStoreTableOptions extends PostgresStoreOptions {
  /** The table the sessions live in, an identifier (`"sessions"`). */
  table: string;
}

/**
 * The SQL `PostgresStore` runs for a table, exposed so it can be audited
 * (for example with `EXPLAIN`). Parameters are `$n`; every value is bound.
 *
 * ```ts
 * import { postgresStatements } from "oak-sessions";
 * console.log(postgresStatements("sessions").rotate);
 * ```
 */
export function postgresStatements(tableName: string): {
  createTable: string;
  createIndex: string;
  createUserIndex: string;
  addColumns: string;
  get: string;
  create: string;
  touch: string;
  update: string;
  rotate: string;
  delete: string;
  sweep: string;
  listByUser: string;
  deleteByUser: string;
  deleteByUserUnlocked: string;
} {
  checkTableName("PostgresStore", tableName, USAGE);
  // A validated identifier, so quoting it is enough.
  const t = `"${tableName}"`;
  // `data` after set and delete, computed from `src` (the stored data) in
  // SQL: $3 clear, $4 the keys to set (json object), $5 the keys to delete
  // (json array). Kept keys keep their place, re-set keys too, new keys
  // follow in the order they were set; deletes apply last, as in applyChange.
  const dataAfter = (src: string) =>
    "(SELECT COALESCE(json_object_agg(f.k, f.v ORDER BY f.o), '{}'::json) FROM (" +
    "SELECT e.key AS k, COALESCE(s.value, e.value) AS v, e.o AS o " +
    `FROM json_each(CASE WHEN $3::text::boolean THEN '{}'::json ELSE ${src} END) ` +
    "WITH ORDINALITY AS e(key, value, o) LEFT JOIN json_each($4::text::json) AS s ON s.key = e.key " +
    "UNION ALL SELECT n.key, n.value, 4294967296 + n.o " +
    "FROM json_each($4::text::json) WITH ORDINALITY AS n(key, value, o) WHERE $3::text::boolean OR NOT " +
    `EXISTS (SELECT 1 FROM json_each(${src}) AS x WHERE x.key = n.key)` +
    ") AS f WHERE f.k NOT IN (SELECT json_array_elements_text($5::text::json)))";
  // Then the increments, $8 (json object of key -> number), as
  // `incremented` in store.ts does them: a missing key becomes the amount,
  // a key holding a JSON number becomes the float8 (IEEE double, as in JS)
  // sum, anything else (or a sum that would not be finite) stays as it is.
  // The sum is written as JSON.stringify writes it: an integer up to 2^53
  // exactly through bigint, other sums from float8's shortest round-trip
  // text (PostgreSQL's default, extra_float_digits > 0), in plain decimals
  // from 1e-6 to 1e21 and in exponent form outside (beyond 2^53 float8 may
  // write one digit more than JS would, for the same double). The stored text is
  // checked to be a number in range before any cast, so no stored value can
  // fail the update.
  const stored = "(d.value #>> '{}')";
  const number = "'^-?(0|[1-9][0-9]*)([.][0-9]+)?([eE][-+]?[0-9]{1,3})?$'";
  const asDouble = `CASE WHEN ${stored} ~ ${number} THEN CASE WHEN abs(${stored}::numeric) <= ` +
    `1.7976931348623157e308 AND (abs(${stored}::numeric) >= 2.5e-324 OR ${stored}::numeric = 0) ` +
    `THEN ${stored}::float8 END END`;
  const sum =
    "(SELECT to_json(CASE WHEN q.s = trunc(q.s) AND abs(q.s) <= 9007199254740992 THEN q.s::bigint::text " +
    "WHEN abs(q.s) >= 1e-6 AND abs(q.s) < 1e21 THEN q.s::text::numeric::text " +
    "ELSE replace(replace(q.s::text, 'e-0', 'e-'), 'e+0', 'e+') END) " +
    "FROM (SELECT CASE WHEN sign(p.x) = sign(p.y) AND " +
    "abs(p.x) > 1.7976931348623157e308::float8 - abs(p.y) THEN NULL ELSE p.x + p.y END AS s " +
    `FROM (SELECT ${asDouble} AS x, i.value::text::float8 AS y) AS p WHERE p.x IS NOT NULL) AS q ` +
    "WHERE q.s IS NOT NULL)";
  const dataAfterAll = (src: string) =>
    "(SELECT COALESCE(json_object_agg(g.k, g.v ORDER BY g.o), '{}'::json) " +
    `FROM (SELECT ${dataAfter(src)} AS j OFFSET 0) AS a CROSS JOIN LATERAL (` +
    "SELECT d.key AS k, CASE WHEN i.value IS NULL THEN d.value " +
    `ELSE COALESCE(${sum}, d.value) END AS v, d.o AS o ` +
    "FROM json_each(a.j) WITH ORDINALITY AS d(key, value, o) " +
    "LEFT JOIN json_each($8::text::json) AS i ON i.key = d.key " +
    "UNION ALL SELECT n.key, to_json(n.value::text), 4294967296 + n.o " +
    "FROM json_each($8::text::json) WITH ORDINALITY AS n(key, value, o) " +
    "WHERE NOT EXISTS (SELECT 1 FROM json_each(a.j) AS x WHERE x.key = n.key)) AS g)";
  // $10: null keeps the user, JSON text binds ("id") or unbinds (null).
  const userAfter = (src: string) =>
    `CASE WHEN $10::text IS NULL THEN ${src} ELSE $10::text::json #>> '{}' END`;
  // Times come back as float8 (a JS number in every driver; bigint would be text).
  const row = "data::text, flash::text, created_at::float8, expires_at::float8, user_id, " +
    "last_seen_at::float8, meta, moved_at::float8";
  const all = "(key, data, flash, created_at, expires_at, user_id, last_seen_at, meta, moved_at)";
  const replaceAll = "ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data, " +
    "flash = EXCLUDED.flash, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at, " +
    "user_id = EXCLUDED.user_id, last_seen_at = EXCLUDED.last_seen_at, meta = EXCLUDED.meta, " +
    "moved_at = EXCLUDED.moved_at";
  // The answer of update and rotate, in the same statement as the write: 1
  // written; 2 the key holds a live marker (nothing written); 0 no live
  // session. `written` is the CTE of the write. Only when it wrote nothing
  // is the row read, with a lock: a locking read waits for a concurrent
  // write of the row and then sees its newest version, so a rotation that
  // committed while this statement waited (turning the row into a marker)
  // is seen as the marker it left, not as a session that is gone.
  const answer = (written: string, live: string) =>
    `SELECT CASE WHEN EXISTS (SELECT 1 FROM ${written}) THEN 1 ` +
    `WHEN EXISTS (SELECT 1 FROM ${live} WHERE ${live}.moved_at IS NOT NULL ` +
    `AND ${live}.expires_at > $2::text::bigint) THEN 2 ELSE 0 END`;
  // The row under $1 whatever it holds, locked, as `answer` reads it. The
  // key is its only condition: one on another column would be checked on
  // the version this statement's snapshot sees, before the lock is taken.
  const lockedRow = `locked AS (SELECT moved_at, expires_at FROM ${t} WHERE key = $1 FOR UPDATE)`;
  // A marker is never written to: updates and refreshes skip it.
  const liveSession = "WHERE key = $1 AND expires_at > $2::text::bigint AND moved_at IS NULL";
  return {
    createTable: `CREATE TABLE IF NOT EXISTS ${t} (key text PRIMARY KEY, data json NOT NULL, ` +
      "flash json NOT NULL, created_at bigint NOT NULL, expires_at bigint NOT NULL, " +
      "user_id text, last_seen_at bigint, meta text, moved_at bigint)",
    createIndex: `CREATE INDEX IF NOT EXISTS "${
      tableName.slice(0, 52)
    }_expires_at" ON ${t} (expires_at)`,
    createUserIndex: `CREATE INDEX IF NOT EXISTS "${
      tableName.slice(0, 55)
    }_user_id" ON ${t} (user_id)`,
    // What a table of an earlier version lacks.
    addColumns: `ALTER TABLE ${t} ADD COLUMN IF NOT EXISTS user_id text, ` +
      "ADD COLUMN IF NOT EXISTS last_seen_at bigint, ADD COLUMN IF NOT EXISTS meta text, " +
      "ADD COLUMN IF NOT EXISTS moved_at bigint",
    get: `SELECT ${row} FROM ${t} WHERE key = $1 AND expires_at > $2::text::bigint`,
    // $1 key, $2..$5 the times, $6 user, $7 last seen, $8 meta, $9 moved at.
    create: `INSERT INTO ${t} ${all} VALUES ($1, $2::text::json, $3::text::json, ` +
      "$4::text::bigint, $5::text::bigint, $6::text, $7::text::bigint, $8::text, " +
      "$9::text::bigint) " + replaceAll,
    // $3 expiresAt, $4 lastSeenAt (null: keep). Answers as `answer`.
    touch: `WITH written AS (UPDATE ${t} SET expires_at = $3::text::bigint, ` +
      `last_seen_at = COALESCE($4::text::bigint, last_seen_at) ${liveSession} RETURNING 1), ` +
      `${lockedRow} ${answer("written", "locked")}`,
    // $1 key, $2 now, $3..$5 as dataAfter, $6 flash (null: keep), $7
    // expiresAt, $8 increments, $9 lastSeenAt (null: keep), $10 as
    // userAfter, $11 meta (null: keep). Answers as `answer`.
    update: `WITH written AS (UPDATE ${t} SET data = ${dataAfterAll(`${t}.data`)}, ` +
      `flash = COALESCE($6::text::json, ${t}.flash), expires_at = $7::text::bigint, ` +
      `last_seen_at = COALESCE($9::text::bigint, ${t}.last_seen_at), ` +
      `user_id = ${userAfter(`${t}.user_id`)}, meta = COALESCE($11::text, ${t}.meta) ` +
      `${liveSession} RETURNING 1), ${lockedRow} ${answer("written", "locked")}`,
    // As update, and $12 the new key. `cur` locks the live old row (it waits
    // for, then sees the newest version of, a concurrent update, delete or
    // rotation of it); `old` turns it into the marker of the move (no data,
    // no user, so out of the user index; expiring MOVED_MARKER_MS after
    // `now`) and hands on what it held; `moved` writes the new row only from
    // a row `old` returned. Answers as `answer` (2: the old row already was
    // a marker, and nothing was written).
    rotate: `WITH cur AS (SELECT key, data, flash, created_at, user_id, last_seen_at, meta, ` +
      `moved_at, expires_at FROM ${t} WHERE key = $1 AND expires_at > $2::text::bigint ` +
      `FOR UPDATE), old AS (UPDATE ${t} SET data = '{}'::json, flash = '{}'::json, ` +
      "created_at = $2::text::bigint, " +
      `expires_at = $2::text::bigint + ${MOVED_MARKER_MS}, user_id = NULL, last_seen_at = NULL, ` +
      `meta = NULL, moved_at = $2::text::bigint FROM cur WHERE ${t}.key = $1 ` +
      `AND ${t}.key = cur.key AND cur.moved_at IS NULL RETURNING cur.data, cur.flash, ` +
      "cur.created_at, cur.user_id, cur.last_seen_at, cur.meta), " +
      `moved AS (INSERT INTO ${t} ${all} ` +
      `SELECT $12, ${dataAfterAll("old.data")}, COALESCE($6::text::json, old.flash), ` +
      "old.created_at, $7::text::bigint, " + userAfter("old.user_id") + ", " +
      "COALESCE($9::text::bigint, old.last_seen_at), COALESCE($11::text, old.meta), NULL " +
      `FROM old ${replaceAll} RETURNING 1) ${answer("moved", "cur")}`,
    delete: `DELETE FROM ${t} WHERE key = $1`,
    sweep: `DELETE FROM ${t} WHERE expires_at <= $1::text::bigint`,
    // $1 the user, $2 now; the key comes after the record's columns. A
    // marker has no user, so it is never listed.
    listByUser: `SELECT ${row}, key FROM ${t} WHERE user_id = $1 AND expires_at > $2::text::bigint`,
    // $1 the user, $2 the keys to keep (json array).
    deleteByUser: `DELETE FROM ${t} WHERE user_id = $1 ` +
      "AND key NOT IN (SELECT json_array_elements_text($2::text::json))",
    // The user's sessions no other statement holds, deleted, and how many the
    // snapshot saw: fewer deleted means one was locked (a rotation may be
    // moving it to a key this snapshot cannot see yet).
    deleteByUserUnlocked: `WITH mine AS (SELECT key FROM ${t} WHERE user_id = $1 ` +
      "AND key NOT IN (SELECT json_array_elements_text($2::text::json))), " +
      `gone AS (DELETE FROM ${t} WHERE key IN (SELECT key FROM ${t} WHERE user_id = $1 ` +
      "AND key NOT IN (SELECT json_array_elements_text($2::text::json)) FOR UPDATE SKIP LOCKED) " +
      "RETURNING key) " +
      "SELECT (SELECT count(*) FROM mine)::int AS seen, (SELECT count(*) FROM gone)::int AS removed",
  };
}

const USAGE = 'pass options as the third argument: new PostgresStore(sql, "sessions", { ... }), ' +
  'or name the table among them: new PostgresStore(sql, { table: "sessions", ... })';

interface Settings extends SqlSettings {
  timeoutMs: number;
}

function checkArguments(tableOrOptions: unknown, options: unknown): Settings {
  const where = "PostgresStore";
  const args = sqlStoreArguments(where, tableOrOptions, options, {
    usage: USAGE,
    keys: POSTGRES_STORE_OPTION_KEYS,
    checkName: (name) => checkTableName(where, name, USAGE),
  });
  return { ...args.settings, timeoutMs: timeoutMsOption(where, args.options.timeoutMs) };
}

const OUR_COLUMNS: Record<string, string> = {
  key: "text",
  data: "json",
  flash: "json",
  created_at: "bigint",
  expires_at: "bigint",
};

/** The columns added since the first version; `addColumns` adds them when missing. */
const ADDED_COLUMNS: Record<string, string> = {
  user_id: "text",
  last_seen_at: "bigint",
  meta: "text",
  moved_at: "bigint",
};

type Statements = ReturnType<typeof postgresStatements>;

/**
 * Sessions in PostgreSQL. Pass the driver you already use: the postgres.js
 * `sql` function, or a node-postgres `Pool` (or connected `Client`). The
 * store creates its table and index when absent (on `initSessionsTable()`,
 * or on its first call), keeps the sessions of an existing table, and
 * migrates a table of the original oak_sessions layout found under its
 * name (a table of an earlier version gains the columns it lacks). Every
 * call is a single statement, so several processes can share the table:
 * concurrent changes of different keys both land, concurrent increments all
 * count, and a deleted session stays deleted.
 *
 * ```ts
 * import postgres from "postgres";
 * import { Application } from "@oakserver/oak";
 * import { PostgresStore, Session } from "oak-sessions";
 *
 * const sql = postgres("postgres://app@127.0.0.1:5432/app");
 * const store = new PostgresStore(sql, "sessions");
 * await store.initSessionsTable();
 * const app = new Application();
 * app.use(Session.initMiddleware(store));
 * ```
 *
 * Throws `SessionConfigError` at construction for an unknown or closed
 * driver, a table name that is not an identifier, or a bad option; the
 * table's set-up rejects with it for a table of another shape. A call that
 * fails (server down, timeout) rejects with `SessionStoreError` (503).
 */
export class PostgresStore implements ServerStore {
  /** Marks this as a server-side store for the middleware. */
  readonly kind = "server" as const;
  /** The table the sessions live in. */
  readonly tableName: string;
  /** The driver the store recognised: "postgres.js", "pg Pool" or "pg Client". */
  readonly driver: string;
  readonly #conn: PgConnection;
  readonly #s: Statements;
  readonly #settings: Settings;
  #ready: Promise<void> | undefined;
  #initialized = false;
  #nextSweepAt = -Infinity;
  #closed = false;

  /**
   * `db` is the driver (postgres.js `sql`, pg `Pool` or connected `Client`),
   * `tableName` an identifier (default `"sessions"`). Checks them at once;
   * the table is set up by `initSessionsTable()` or the first call.
   */
  constructor(
    db: PostgresDatabase,
    tableOrOptions?: string | PostgresStoreTableOptions,
    options?: PostgresStoreOptions,
  ) {
    this.#settings = checkArguments(tableOrOptions, options);
    this.#conn = connectPostgres(db);
    this.tableName = this.#settings.tableName;
    this.driver = this.#conn.driver;
    this.#s = postgresStatements(this.tableName);
  }

  /**
   * Creates the table and its index when absent, checks an existing table's
   * columns, and migrates a table of the original oak_sessions layout
   * (logging one line). Safe to call more than once, and from several
   * processes at once. Every other call runs it first when it has not run.
   *
   * ```ts
   * await store.initSessionsTable();
   * ```
   */
  initSessionsTable(): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new SessionStoreError("PostgresStore: the store was closed"));
    }
    this.#ready ??= this.#withTimeout(this.#init(), "open the session table").then(
      () => {
        this.#initialized = true;
      },
      (e) => {
        // Let the next call try again (the server may be back).
        this.#ready = undefined;
        throw this.#error("open the session table", e);
      },
    );
    return this.#ready;
  }

  /** The session under `key`, or `null` when it is absent, expired at `now`, or unreadable. */
  async get(key: string, now: number): Promise<SessionRecord | null> {
    const r = await this.#run("read the session", now, this.#s.get, [key, time(now)]);
    const row = r.rows[0];
    return row ? decodeRow(row, now) : null;
  }

  /** Stores `record` under `key`, replacing any session there. */
  async create(key: string, record: SessionRecord, now: number): Promise<void> {
    await this.#run("store the session", now, this.#s.create, [
      key,
      JSON.stringify(record.data),
      JSON.stringify(record.flash),
      time(record.createdAt),
      time(record.expiresAt),
      record.userId ?? null,
      record.lastSeenAt === undefined ? null : time(record.lastSeenAt),
      record.meta ?? null,
      record.movedAt === undefined ? null : time(record.movedAt),
    ]);
  }

  /**
   * Applies `change` in one statement, only if the session exists and has
   * not expired at `now`. Returns whether it did, or `"moved"` (writing
   * nothing) when `key` holds a rotation's marker.
   */
  async update(key: string, change: SessionChange, now: number): Promise<WriteResult> {
    if (onlyRefreshes(change)) {
      const r = await this.#run("refresh the session", now, this.#s.touch, [
        key,
        time(now),
        time(change.expiresAt),
        change.lastSeenAt === undefined ? null : time(change.lastSeenAt),
      ]);
      return writeResult(r.rows);
    }
    const r = await this.#run("update the session", now, this.#s.update, [
      key,
      time(now),
      ...changeParams(change),
    ]);
    return writeResult(r.rows);
  }

  /**
   * Moves the session under `oldKey` to `newKey` with `change` applied, in
   * one statement, only if it exists and has not expired at `now`, and
   * leaves in its place the marker of the move. Returns whether it did;
   * `"moved"` when `oldKey` holds a marker (a concurrent rotation won). When
   * it did not, nothing was written.
   */
  async rotate(
    oldKey: string,
    newKey: string,
    change: SessionChange,
    now: number,
  ): Promise<WriteResult> {
    // Same key: the statement's marker would take the moved row's place.
    if (oldKey === newKey) return this.update(oldKey, change, now);
    const r = await this.#run("rotate the session", now, this.#s.rotate, [
      oldKey,
      time(now),
      ...changeParams(change),
      newKey,
    ]);
    return writeResult(r.rows);
  }

  /** Removes the session under `key`; nothing happens when there is none. */
  async delete(key: string): Promise<void> {
    await this.#run("delete the session", undefined, this.#s.delete, [key]);
  }

  /**
   * The live sessions (at `now`) of `userId`, found through the `user_id`
   * index; `[]` when the user has none.
   */
  async listByUser(userId: string, now: number): Promise<UserSession[]> {
    const r = await this.#run("list the user's sessions", now, this.#s.listByUser, [
      userId,
      time(now),
    ]);
    return userSessions(r.rows, now);
  }

  /**
   * Removes every session of `userId` except those under `exceptKeys`, with
   * one `DELETE` on the `user_id` index, and returns how many went.
   */
  async deleteByUser(userId: string, exceptKeys: readonly string[], now: number): Promise<number> {
    const params = [userId, JSON.stringify(exceptKeys)];
    let removed = 0;
    // A statement sees the rows committed when it began: a rotation that held
    // a session's row while a plain DELETE waited for it commits a new row
    // that DELETE cannot see. So delete what no one holds; while some row was
    // held, wait for it (the blocking DELETE) and look again with a new snapshot.
    for (;;) {
      const r = await this.#run(
        "delete the user's sessions",
        now,
        this.#s.deleteByUserUnlocked,
        params,
      );
      const [seen, gone] = r.rows[0]; // positional: seen, removed
      removed += Number(gone);
      if (Number(gone) >= Number(seen)) return removed;
      const held = await this.#run("delete the user's sessions", now, this.#s.deleteByUser, params);
      removed += held.count;
    }
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
      throw new SessionConfigError(
        "PostgresStore: cleanup(now) needs milliseconds since the epoch",
      );
    }
    const r = await this.#run("delete expired sessions", undefined, this.#s.sweep, [time(now)]);
    this.#nextSweepAt = now + this.#settings.cleanupIntervalMs;
    return r.count;
  }

  /**
   * Stops the store: it removes the error listener it put on a pg Pool or
   * Client. The driver stays open: it is yours. The store cannot be used
   * afterwards.
   */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#conn.detach();
    }
    return Promise.resolve();
  }

  async #init(): Promise<void> {
    const notReady = this.#conn.notReady();
    if (notReady !== undefined) throw new SessionConfigError(`PostgresStore: ${notReady}`);
    const migration = await this.#conn.transaction(async (tx) => {
      // CREATE ... IF NOT EXISTS reports "already exists" as a notice, which
      // postgres.js prints; nothing the store runs here is worth a notice.
      await tx.query("SET LOCAL client_min_messages = warning", []);
      // Processes starting together take turns, so only one creates or migrates.
      await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [
        `oak_sessions:${this.tableName}`,
      ]);
      const columns = await tableColumns(tx, this.tableName);
      let migrated;
      if (columns.size === 0) {
        await tx.query(this.#s.createTable, []);
      } else if (isOriginalLayout(columns)) {
        try {
          migrated = await migrateOriginalTable(
            tx,
            this.tableName,
            this.#s.createTable,
            Date.now(),
            this.#settings.migratedIdleMs,
          );
        } catch (e) {
          // The transaction rolls back: nothing of the migration stays.
          throw new SessionStoreError(
            `PostgresStore: cannot migrate table "${this.tableName}" of the original ` +
              `oak_sessions layout (${messageOf(e)}); it was left as it was`,
            { cause: e },
          );
        }
      } else {
        checkOurLayout(this.tableName, columns);
        // A table of an earlier version: add what it lacks, keeping its
        // rows. IF NOT EXISTS as well, for a table changed by anything that
        // does not take the advisory lock.
        if (Object.keys(ADDED_COLUMNS).some((c) => !columns.has(c))) {
          await tx.query(this.#s.addColumns, []);
        }
      }
      await tx.query(this.#s.createIndex, []);
      await tx.query(this.#s.createUserIndex, []);
      return migrated;
    });
    if (migration) {
      this.#settings.log(
        `PostgresStore: table "${this.tableName}" had the original oak_sessions layout (id, ` +
          `data); it is kept as "${migration.backupName}", and ${migration.carried} live ` +
          `session(s) were carried over to a new "${this.tableName}" (${migration.left} expired, ` +
          "deleted or unreadable one(s) stay only in the backup). The backup holds the " +
          "original session IDs in clear: drop it once you no longer need it.",
      );
    }
  }

  /** Runs one statement after the set-up, within the timeout, with errors made clear. */
  async #run(
    what: string,
    now: number | undefined,
    text: string,
    params: PgValue[],
  ): Promise<{ rows: unknown[][]; count: number }> {
    if (this.#closed) {
      throw new SessionStoreError(`PostgresStore: cannot ${what}: the store was closed`);
    }
    if (!this.#initialized) await this.initSessionsTable();
    let result;
    try {
      result = await this.#withTimeout(this.#conn.query(text, params), what);
    } catch (e) {
      throw this.#error(what, e);
    }
    if (now !== undefined) this.#maybeSweep(now);
    return result;
  }

  #withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
    const ms = this.#settings.timeoutMs;
    return withDeadline(
      promise,
      ms,
      () =>
        new SessionStoreError(
          `PostgresStore: cannot ${what}: PostgreSQL did not answer within ${ms} ms ` +
            "(timeoutMs); is the server up and reachable?",
        ),
    );
  }

  #error(what: string, e: unknown): Error {
    if (e instanceof SessionConfigError || e instanceof SessionStoreError) return e;
    if (this.#conn.isEnded(e)) {
      return new SessionConfigError(
        `PostgresStore: cannot ${what}: the ${this.driver} was ended (end() was called); ` +
          "end the driver only after the server has stopped",
      );
    }
    const code = (e as { code?: unknown })?.code;
    let reason = `${this.driver} failed: ${messageOf(e)}`;
    if (this.#conn.isDeadClient(e)) {
      reason += "; a pg Client does not reconnect once its connection is lost: pass a pg Pool, " +
        "which replaces lost connections";
    } else if (code === "42P01") {
      // The table was dropped under us: set it up again on the next call.
      this.#initialized = false;
      this.#ready = undefined;
      reason += "; the table is created again on the next call";
    }
    return new SessionStoreError(`PostgresStore: cannot ${what}: ${reason}`, { cause: e });
  }

  // The sweep rides on normal traffic at most once per interval, without
  // holding up the request that carried it.
  #maybeSweep(now: number): void {
    const interval = this.#settings.cleanupIntervalMs;
    if (interval === 0 || now < this.#nextSweepAt || this.#closed) return;
    this.#nextSweepAt = now + interval;
    this.#conn.query(this.#s.sweep, [time(now)]).catch(() => {
      // Housekeeping must not fail anything; the next interval tries again,
      // and cleanup() reports errors.
    });
  }
}

async function tableColumns(tx: PgQueryable, tableName: string): Promise<Map<string, string>> {
  const r = await tx.query(
    "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a " +
      "WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped",
    [`"${tableName}"`],
  );
  return new Map(r.rows.map((row) => [String(row[0]), String(row[1])]));
}

function isOriginalLayout(columns: Map<string, string>): boolean {
  return columns.size === 2 && columns.has("id") && columns.has("data");
}

function checkOurLayout(tableName: string, columns: Map<string, string>): void {
  const wrong = Object.keys(OUR_COLUMNS).filter((c) => columns.get(c) !== OUR_COLUMNS[c])
    .concat(
      Object.keys(ADDED_COLUMNS).filter((c) =>
        columns.has(c) && columns.get(c) !== ADDED_COLUMNS[c]
      ),
    );
  if (wrong.length === 0) return;
  const found = [...columns].map(([n, t]) => `${n} ${t}`).join(", ");
  throw new SessionConfigError(
    `PostgresStore: table "${tableName}" exists but is not a PostgresStore table (it has ` +
      `${found}); it needs key text, data json, flash json, created_at bigint and expires_at ` +
      "bigint (and, where present, user_id text, last_seen_at bigint, meta text and moved_at " +
      `bigint; missing ones are added). Choose another table name (new PostgresStore(sql, "${tableName}_v2")) ` +
      "or drop the old table",
  );
}

/** A time as the bigint text PostgreSQL parses (whole milliseconds). */
function time(ms: number): string {
  return String(Math.floor(ms));
}

/** What the `answer` of the touch, update and rotate statements says. */
function writeResult(rows: unknown[][]): WriteResult {
  const code = Number(rows[0]?.[0]);
  return code === 1 ? true : code === 2 ? "moved" : false;
}

/** `$3` to `$11` of the update and rotate statements. */
function changeParams(change: SessionChange): PgValue[] {
  return [
    change.clear ? "true" : "false",
    JSON.stringify(change.set),
    JSON.stringify(change.delete),
    change.flash === null ? null : JSON.stringify(change.flash),
    time(change.expiresAt),
    change.increment === undefined ? "{}" : JSON.stringify(change.increment),
    change.lastSeenAt === undefined ? null : time(change.lastSeenAt),
    change.userId === undefined ? null : JSON.stringify(change.userId),
    change.meta ?? null,
  ];
}

function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  return String(e);
}
