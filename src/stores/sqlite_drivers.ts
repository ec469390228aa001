/**
 * Adapters from the SQLite driver a user already has open to the small,
 * synchronous interface `SqliteStore` needs. The driver is recognised by the
 * shape of the object, never imported: oak-sessions bundles no driver.
 *
 * Three shapes are supported:
 * - prepared statements: `db.prepare(sql)` returning a statement with
 *   `get(...params)` / `run(...params)`, and `db.exec(sql)`. This is
 *   better-sqlite3's `Database`, `node:sqlite`'s `DatabaseSync` (Node 22+,
 *   Deno 2) and Deno's `@db/sqlite` `Database`.
 * - Bun's `bun:sqlite` `Database`: prepared statements too, read with the
 *   statement's `values(...params)` (rows as arrays, in column order). It is
 *   told apart by what only it has: `query`, `prepare` and `fileControl`.
 * - queries: `db.query(sql, params)` returning rows as arrays (or an
 *   iterable of them), as the `DB` of deno.land/x/sqlite; its `execute(sql)`
 *   and `prepareQuery(sql)` are used when present.
 *
 * @module
 */
import { SessionConfigError } from "../errors.ts";

/** A value `SqliteStore` binds to a statement parameter. */
export type SqlValue = string | number | null;

/** One statement, prepared once, run many times. */
export interface SqlStatement {
  /** The first row as positional values (in the SELECT's column order), or `undefined`. */
  get(params: SqlValue[]): unknown[] | undefined;
  /** Every row as positional values (in the SELECT's column order). */
  all(params: SqlValue[]): unknown[][];
  /** Runs a statement that returns no rows; returns how many rows it changed. */
  run(params: SqlValue[]): number;
  /** Releases the statement where the driver asks for it; never throws. */
  finalize(): void;
}

/** A user's connection, seen through one adapter. */
export interface SqlConnection {
  /** The driver's name, for messages. */
  readonly driver: string;
  /** Runs SQL that returns nothing of interest (pragmas, schema). */
  exec(sql: string): void;
  /** Prepares `sql` once. */
  prepare(sql: string): SqlStatement;
}

/**
 * A database with prepared statements: better-sqlite3's `Database`,
 * `node:sqlite`'s `DatabaseSync`, `@db/sqlite`'s `Database`, or Bun's
 * `bun:sqlite` `Database`.
 *
 * ```ts
 * import Database from "better-sqlite3";
 * const db: PreparedStatementDatabase = new Database("sessions.db");
 * ```
 */
export interface PreparedStatementDatabase {
  /** Prepare `sql` once, to run many times. */
  prepare(sql: string): unknown;
  /** Run `sql` (one or more statements, no parameters). */
  exec(sql: string): unknown;
}

/**
 * A database queried with `query(sql, params)` (rows as arrays), like the
 * `DB` of deno.land/x/sqlite.
 *
 * ```ts
 * import { DB } from "https://deno.land/x/sqlite@v3.9.1/mod.ts";
 * const db: QueryDatabase = new DB("sessions.db");
 * ```
 */
export interface QueryDatabase {
  /** Run `sql` with `params`, returning its rows as arrays. */
  query(sql: string, params?: SqlValue[]): unknown;
  /** Run `sql` (one or more statements, no parameters), where the driver has it. */
  execute?(sql: string): unknown;
}

/**
 * Any open SQLite connection `SqliteStore` accepts.
 *
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 * const db: SqliteDatabase = new DatabaseSync("sessions.db");
 * ```
 */
export type SqliteDatabase = PreparedStatementDatabase | QueryDatabase;

/** The drivers `SqliteStore` recognises, for messages. */
export const SUPPORTED_SQLITE_DRIVERS =
  "better-sqlite3 (new Database(path)), node:sqlite (new DatabaseSync(path)), " +
  "@db/sqlite (new Database(path)), bun:sqlite (new Database(path)) or " +
  "deno.land/x/sqlite (new DB(path))";

type Fn = (...args: unknown[]) => unknown;
type Loose = Record<string, unknown>;

function isObject(v: unknown): v is Loose {
  return (typeof v === "object" || typeof v === "function") && v !== null;
}

function hasFunctions(v: Loose, ...names: string[]): boolean {
  return names.every((n) => typeof v[n] === "function");
}

/**
 * The adapter for `db`, chosen by its shape. Throws `SessionConfigError`
 * naming the supported drivers when `db` is none of them, or when it answers
 * asynchronously (promise- or callback-based drivers cannot run a transaction
 * without yielding to other requests in between).
 */
export function connectSqlite(db: unknown): SqlConnection {
  if (typeof db === "string" || db instanceof URL) {
    throw new SessionConfigError(
      `SqliteStore: got a path (${String(db)}), not a database; open it with your driver first ` +
        `and pass the connection: ${SUPPORTED_SQLITE_DRIVERS}`,
    );
  }
  let conn: SqlConnection;
  if (isObject(db) && isBunSqlite(db)) {
    conn = bunSqliteShape(db);
  } else if (isObject(db) && hasFunctions(db, "prepare", "exec")) {
    conn = preparedStatementShape(db, driverName(db));
  } else if (isObject(db) && hasFunctions(db, "query")) {
    conn = queryShape(db);
  } else {
    throw new SessionConfigError(
      `SqliteStore: ${describe(db)} is not a SQLite connection it knows; pass an open ` +
        `connection of ${SUPPORTED_SQLITE_DRIVERS}`,
    );
  }
  checkSynchronous(conn);
  return conn;
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (isObject(v)) {
    const name = (v.constructor as { name?: unknown } | undefined)?.name;
    return typeof name === "string" && name !== "Object" ? `a ${name}` : "an object";
  }
  return `a ${typeof v}`;
}

function driverName(db: Loose): string {
  if (typeof db.pragma === "function") return "better-sqlite3";
  const ctor = (db.constructor as { name?: unknown } | undefined)?.name;
  if (ctor === "DatabaseSync") return "node:sqlite";
  if (typeof db.int64 === "boolean") return "@db/sqlite";
  return "prepared-statement driver";
}

/**
 * A driver that hands back promises (or takes callbacks) would make every
 * call look like "no row": catch it here, where the mistake is made.
 */
function checkSynchronous(conn: SqlConnection): void {
  let row: unknown[] | undefined;
  try {
    const probe = conn.prepare("SELECT 1 AS one");
    row = probe.get([]);
    probe.finalize();
  } catch (e) {
    if (e instanceof SessionConfigError) throw e;
    throw configError(
      `SqliteStore: the ${conn.driver} connection failed a first query (${messageOf(e)}); ` +
        `is it open? Supported: ${SUPPORTED_SQLITE_DRIVERS}`,
      e,
    );
  }
  if (!row || Number(row[0]) !== 1) {
    throw new SessionConfigError(
      `SqliteStore: the ${conn.driver} connection did not answer synchronously; SqliteStore ` +
        `needs a synchronous driver: ${SUPPORTED_SQLITE_DRIVERS}`,
    );
  }
}

/**
 * Bun's `bun:sqlite` `Database`: `prepare` and `exec` like better-sqlite3,
 * plus the cached `query(sql)` and `fileControl`, which no other driver's
 * database has (better-sqlite3 has `pragma` instead).
 */
function isBunSqlite(db: Loose): boolean {
  return hasFunctions(db, "prepare", "exec", "query", "fileControl") &&
    typeof db.pragma !== "function";
}

/**
 * bun:sqlite, through statements of its own: `values(...params)` answers
 * rows as arrays in the SELECT's column order, `run(...params)` answers
 * `{ changes }`. Each statement is prepared with `prepare` (not the
 * database's `query` cache) and finalized by the store when it closes.
 *
 * `db.close()` does not stop statements already prepared (SQLite keeps the
 * connection until they are finalized), so the store would go on reading
 * and writing a database the application closed. Reading `inTransaction`
 * throws once it is closed: every call checks it first, and fails as it does
 * on the other drivers.
 */
function bunSqliteShape(db: Loose): SqlConnection {
  const driver = "bun:sqlite";
  const prepare = db.prepare as Fn;
  const exec = db.exec as Fn;
  const ensureOpen = (): void => {
    void db.inTransaction;
  };
  return {
    driver,
    exec: (sql) => void exec.call(db, sql),
    prepare(sql) {
      const stmt = prepare.call(db, sql) as Loose;
      const [values, run] = statementFunctions(driver, stmt, "values", "run");
      const rows = (params: SqlValue[]) => {
        ensureOpen();
        return values.apply(stmt, params) as unknown[][];
      };
      return {
        // The store's single-row reads match one row at most (a key, LIMIT 1, an aggregate).
        get: (params) => rows(params)[0],
        all: rows,
        run: (params) => {
          ensureOpen();
          const result = run.apply(stmt, params) as Loose | undefined;
          return Number(result?.changes ?? 0);
        },
        finalize: () => finalize(stmt),
      };
    },
  };
}

/** The functions `needs` names of what `prepare()` gave, when it is a statement that has them. */
function statementFunctions(driver: string, stmt: unknown, ...needs: string[]): Fn[] {
  if (!isObject(stmt) || !hasFunctions(stmt, ...needs)) {
    throw new SessionConfigError(
      `SqliteStore: the ${driver} connection's prepare() gave no statement with ` +
        `${needs.map((n) => `${n}()`).join(" and ")}; supported: ${SUPPORTED_SQLITE_DRIVERS}`,
    );
  }
  return needs.map((n) => stmt[n] as Fn);
}

function rowValues(row: unknown): unknown[] | undefined {
  if (row === undefined || row === null) return undefined;
  if (Array.isArray(row)) return row;
  // Column order is the SELECT's: every driver builds row objects in column
  // order, and the store's column names are never integer-like keys (which
  // Object.values would move to the front).
  return isObject(row) ? Object.values(row) : [row];
}

function preparedStatementShape(db: Loose, driver: string): SqlConnection {
  const prepare = db.prepare as Fn;
  const exec = db.exec as Fn;
  let changesQuery: SqlStatement | undefined;
  // better-sqlite3 and node:sqlite answer run() with { changes }, @db/sqlite
  // with the count itself; anything else is asked with SQLite's changes().
  const changesOf = (result: unknown): number => {
    if (typeof result === "number") return result;
    if (
      isObject(result) && (typeof result.changes === "number" || typeof result.changes === "bigint")
    ) {
      return Number(result.changes);
    }
    if (typeof db.changes === "number") return db.changes;
    changesQuery ??= conn.prepare("SELECT changes()");
    return Number(changesQuery.get([])?.[0] ?? 0);
  };
  const conn: SqlConnection = {
    driver,
    exec: (sql) => void exec.call(db, sql),
    prepare(sql) {
      const stmt = prepare.call(db, sql) as Loose;
      const [get, run] = statementFunctions(driver, stmt, "get", "run");
      const all = typeof stmt.all === "function" ? stmt.all as Fn : undefined;
      return {
        get: (params) => rowValues(get.apply(stmt, params)),
        all: (params) => {
          if (!all) {
            throw new Error(
              `the ${driver} connection's statements have no all(); supported: ` +
                SUPPORTED_SQLITE_DRIVERS,
            );
          }
          return Array.from(
            all.apply(stmt, params) as Iterable<unknown>,
            (r) => rowValues(r) ?? [],
          );
        },
        run: (params) => changesOf(run.apply(stmt, params)),
        finalize: () => finalize(stmt),
      };
    },
  };
  return conn;
}

function queryShape(db: Loose): SqlConnection {
  const query = db.query as Fn;
  const prepareQuery = typeof db.prepareQuery === "function" ? db.prepareQuery as Fn : undefined;
  const rowsOf = (result: unknown): unknown[][] => {
    // x/sqlite 3 returns an array of row arrays; x/sqlite 2 returns an
    // iterable that finalizes its statement once fully read.
    const rows = Array.isArray(result) ? result : Array.from(result as Iterable<unknown>);
    return rows.map((r) => rowValues(r) ?? []);
  };
  const changes = (): number => {
    if (typeof db.changes === "number") return db.changes;
    return Number(rowsOf(query.call(db, "SELECT changes()", []))[0]?.[0] ?? 0);
  };
  return {
    driver: "x/sqlite",
    exec(sql) {
      // The store only ever execs single statements, so query() will do.
      if (typeof db.execute === "function") (db.execute as Fn).call(db, sql);
      else rowsOf(query.call(db, sql, []));
    },
    prepare(sql) {
      if (prepareQuery) {
        const pq = prepareQuery.call(db, sql) as Loose;
        const all = pq.all as Fn;
        return {
          get: (params) => rowsOf(all.call(pq, params))[0],
          all: (params) => rowsOf(all.call(pq, params)),
          run: (params) => {
            all.call(pq, params);
            return changes();
          },
          finalize: () => finalize(pq),
        };
      }
      return {
        get: (params) => rowsOf(query.call(db, sql, params))[0],
        all: (params) => rowsOf(query.call(db, sql, params)),
        run: (params) => {
          rowsOf(query.call(db, sql, params));
          return changes();
        },
        finalize: () => {},
      };
    },
  };
}

function finalize(stmt: Loose): void {
  if (typeof stmt.finalize !== "function") return;
  try {
    (stmt.finalize as Fn).call(stmt);
  } catch {
    // Already finalized, or the user closed the database first: either way
    // there is nothing left to release.
  }
}

/** The message of any thrown value. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A SessionConfigError carrying the driver's error as its cause. */
export function configError(message: string, cause: unknown): SessionConfigError {
  const err = new SessionConfigError(message);
  Object.defineProperty(err, "cause", { value: cause, configurable: true, writable: true });
  return err;
}

// SQLite's primary result codes, which drivers report in different ways:
// better-sqlite3 and bun:sqlite as code "SQLITE_BUSY", node:sqlite on Node as errcode 5 (on
// Deno only in the message), x/sqlite as numeric code 5.
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_READONLY = 8;

function primaryCode(e: unknown): number | string | undefined {
  if (!isObject(e)) return undefined;
  if (typeof e.code === "string" && e.code.startsWith("SQLITE_")) {
    // Extended codes (SQLITE_BUSY_SNAPSHOT) count as their primary code.
    return e.code.split("_").slice(0, 2).join("_");
  }
  if (typeof e.errcode === "number") return e.errcode & 0xff;
  if (typeof e.code === "number") return e.code & 0xff;
  return undefined;
}

/** Whether `e` says the database stayed locked by another connection. */
export function isBusyError(e: unknown): boolean {
  const code = primaryCode(e);
  if (code === "SQLITE_BUSY" || code === "SQLITE_LOCKED") return true;
  if (code === SQLITE_BUSY || code === SQLITE_LOCKED) return true;
  return /database (table )?is locked/i.test(messageOf(e));
}

/** Whether `e` says the database cannot be written. */
export function isReadonlyError(e: unknown): boolean {
  const code = primaryCode(e);
  if (code === "SQLITE_READONLY" || code === SQLITE_READONLY) return true;
  return /readonly database|read-only/i.test(messageOf(e));
}
