/**
 * The adapter from the `mysql2` object a user already has to the small
 * interface `MySqlStore` needs. The driver is recognised by the shape of the
 * object, never imported: oak-sessions bundles no driver.
 *
 * Accepted: a `Pool` (`mysql.createPool(...)`) or a `Connection`
 * (`mysql.createConnection(...)`), from the callback API (`mysql2`) or the
 * promise API (`mysql2/promise`, or `.promise()` of either). The store talks
 * to the callback object underneath (a promise wrapper holds it as `.pool`
 * or `.connection`), so both APIs behave alike.
 *
 * @module
 */
import { SessionConfigError } from "../errors.ts";

/** A value `MySqlStore` binds to a statement parameter. */
export type MySqlValue = string | number | null;

/**
 * The user's driver, seen through one adapter: `query` runs one statement
 * (`?` placeholders, a prepared statement with `values` bound) and resolves
 * to its rows (a SELECT's, each as its columns' values in SELECT order; `[]`
 * otherwise) and its count (the rows an UPDATE matched, changed or not, or a
 * DELETE removed).
 */
export interface MySqlConnection {
  query(sql: string, values: MySqlValue[]): Promise<{ rows: unknown[][]; count: number }>;
  /** Runs `fn` in one transaction on one connection; on a Connection, other calls wait for it. */
  transaction<T>(fn: (tx: MySqlQueryable) => Promise<T>): Promise<T>;
  /** "mysql2 Pool" or "mysql2 Connection", for messages. */
  readonly driver: MySqlDriverName;
  /** `error` means the user ended the driver, not that the server went away. */
  isEnded(error: unknown): boolean;
  /** `error` means a Connection's connection is gone for good (it never reconnects). */
  isDeadConnection(error: unknown): boolean;
  /** Takes off what the adapter put on the driver (its error listener). */
  detach(): void;
}

/** What a transaction's statements run on. */
export type MySqlQueryable = Pick<MySqlConnection, "query">;

/** What one statement gave back. */
export type MySqlResult = Awaited<ReturnType<MySqlConnection["query"]>>;

/** The drivers `MySqlStore` recognises. */
export type MySqlDriverName = "mysql2 Pool" | "mysql2 Connection";

/**
 * A `mysql2` Pool or Connection, callback or promise API, as the store sees
 * it: an object with `query` and `execute`.
 *
 * ```ts
 * import mysql from "mysql2/promise";
 * const pool: MySqlDatabase = mysql.createPool({ host: "127.0.0.1", user: "app", database: "app" });
 * ```
 */
export interface MySqlDatabase {
  /** Runs a query (text protocol). */
  query(...args: never[]): unknown;
  /** Runs a prepared statement. */
  execute(...args: never[]): unknown;
}

const SUPPORTED = "pass a mysql2 Pool (mysql.createPool(...), callback or promise API) or a " +
  "Connection (mysql.createConnection(...))";

// deno-lint-ignore no-explicit-any
type Any = any;

/** Recognises `db` by its shape; throws `SessionConfigError` for anything else. */
export function connectMySql(db: unknown): MySqlConnection {
  const d = db as Any;
  // Nothing, or a promise of a driver (mysql2/promise's createConnection) not awaited.
  const missing = d == null
    ? "no database driver given;"
    : typeof d.then === "function"
    ? "got a promise, not a driver; await it first, or"
    : undefined;
  if (missing) throw new SessionConfigError(`MySqlStore: ${missing} ${SUPPORTED}`);
  if (typeof d === "object") {
    // A promise wrapper holds the callback object it wraps.
    const core = isCorePool(d.pool) ? d.pool : isCoreConnection(d.connection) ? d.connection : d;
    if (isCorePool(core)) {
      if (core._closed === true) {
        throw new SessionConfigError(
          "MySqlStore: the mysql2 Pool was ended (pool.end() was called); pass an open pool, " +
            "and end it only after the server has stopped",
        );
      }
      return pool(core);
    }
    if (isCoreConnection(core)) {
      if (typeof core.release === "function") {
        throw new SessionConfigError(
          "MySqlStore: got a connection checked out of a mysql2 Pool (pool.getConnection()); " +
            "pass the Pool itself, which the store borrows connections from for each call",
        );
      }
      if (core._closing === true || core._fatalError) {
        throw new SessionConfigError(
          "MySqlStore: the mysql2 Connection is closed (end() was called, or it failed); pass " +
            "an open connection, or better a Pool, which replaces lost connections",
        );
      }
      return connection(core);
    }
  }
  const what = typeof d === "function" ? "a function" : describe(d);
  throw new SessionConfigError(`MySqlStore: ${what} is not a supported driver; ${SUPPORTED}`);
}

function isCorePool(d: Any): boolean {
  return typeof d === "object" && d !== null && typeof d.getConnection === "function" &&
    typeof d.execute === "function" && typeof d.config?.connectionConfig === "object";
}

function isCoreConnection(d: Any): boolean {
  return typeof d === "object" && d !== null && typeof d.execute === "function" &&
    typeof d.beginTransaction === "function" && typeof d.config === "object" &&
    typeof d.getConnection !== "function";
}

function describe(d: Any): string {
  if (typeof d !== "object") return `a ${typeof d}`;
  const name = d.constructor?.name;
  return typeof name === "string" && name !== "Object" ? `a ${name}` : "an object";
}

/** One prepared statement on `on` (a Pool or a Connection), rows as arrays. */
function send(on: Any, sql: string, values: MySqlValue[]): Promise<MySqlResult> {
  return new Promise((resolve, reject) => {
    on.execute({ sql, rowsAsArray: true }, values, (err: unknown, result: Any) => {
      if (err) return reject(err);
      if (Array.isArray(result)) return resolve({ rows: result, count: result.length });
      resolve({ rows: [], count: matched(result) });
    });
  });
}

/**
 * Rows an UPDATE matched: the server counts only rows it changed unless the
 * client asks for found rows (mysql2 does by default); the OK packet's info
 * ("Rows matched: 1  Changed: 0  Warnings: 0") says it either way.
 */
function matched(header: Any): number {
  const info = typeof header?.info === "string" ? /Rows matched: (\d+)/.exec(header.info) : null;
  return info ? Number(info[1]) : Number(header?.affectedRows ?? 0);
}

function call(on: Any, method: string): Promise<void> {
  return new Promise((resolve, reject) =>
    on[method]((err: unknown) => err ? reject(err) : resolve())
  );
}

async function inTransaction<T>(c: Any, fn: (tx: MySqlQueryable) => Promise<T>): Promise<T> {
  await call(c, "beginTransaction");
  try {
    const result = await fn({ query: (sql, values) => send(c, sql, values) });
    await call(c, "commit");
    return result;
  } catch (e) {
    await call(c, "rollback").catch(() => {});
    throw e;
  }
}

const isEnded = (e: unknown) =>
  e instanceof Error && /Pool is closed|connection is in closed state/i.test(e.message);

function pool(p: Any): MySqlConnection {
  return {
    driver: "mysql2 Pool",
    query: (sql, values) => send(p, sql, values),
    transaction: async <T>(fn: (tx: MySqlQueryable) => Promise<T>): Promise<T> => {
      const c = await new Promise<Any>((resolve, reject) =>
        p.getConnection((err: unknown, c: Any) => err ? reject(err) : resolve(c))
      );
      let failed = false;
      try {
        return await inTransaction(c, fn);
      } catch (e) {
        failed = true;
        throw e;
      } finally {
        // A connection that failed mid-transaction is not given back for reuse.
        if (failed) c.destroy();
        else c.release();
      }
    },
    isEnded,
    isDeadConnection: () => false,
    // The pool listens to its own connections' errors.
    detach: () => {},
  };
}

function connection(c: Any): MySqlConnection {
  // A transaction must have the connection to itself: the store's other
  // statements on it wait until the transaction ends.
  let tail: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const result = tail.then(fn);
    tail = result.catch(() => {});
    return result;
  };
  // A Connection emits "error" when it drops while idle; with no listener
  // Node would end the process. The user's own listeners still hear it.
  const onError = () => {};
  c.on?.("error", onError);
  return {
    driver: "mysql2 Connection",
    query: (sql, values) => exclusive(() => send(c, sql, values)),
    transaction: (fn) => exclusive(() => inTransaction(c, fn)),
    isEnded: (e) => isEnded(e) && c._closing === true && !c._fatalError,
    isDeadConnection: (e) => e instanceof Error && c._fatalError != null,
    detach: () => c.off?.("error", onError) ?? c.removeListener?.("error", onError),
  };
}
