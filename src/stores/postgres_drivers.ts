/**
 * Adapters from the PostgreSQL driver a user already has to the small
 * interface `PostgresStore` needs. The driver is recognised by the shape of
 * the object, never imported: oak-sessions bundles no driver.
 *
 * - postgres.js: the `sql` function `postgres(...)` returns (it has
 *   `unsafe`, `begin` and `end`).
 * - Bun's `SQL` (`new SQL(url)` from "bun"): the same shape and calls as
 *   postgres.js; told apart by its `beginDistributed`, for messages.
 * - node-postgres (`pg`): a `Pool` (it has `query`, `connect` and its
 *   `totalCount`/`idleCount` counters) or a connected `Client`.
 *
 * @module
 */
import { SessionConfigError } from "../errors.ts";

/** A value `PostgresStore` binds to a statement parameter (always text or null). */
export type PgValue = string | null;

/** Rows as positional values, and how many rows the statement touched. */
export interface PgResult {
  /** The rows, each as its columns' values in SELECT order. */
  rows: unknown[][];
  /** How many rows the statement returned or changed. */
  count: number;
}

/** Something that runs one parameterised statement. */
export interface PgQueryable {
  /** Runs `text` with `params` bound to `$1`, `$2`, ... */
  query(text: string, params: PgValue[]): Promise<PgResult>;
}

/** The user's driver, seen through one adapter. */
export interface PgConnection extends PgQueryable {
  /** "postgres.js", "Bun SQL", "pg Pool" or "pg Client", for messages. */
  readonly driver: PostgresDriverName;
  /** Runs `fn` inside one transaction on one connection (BEGIN ... COMMIT, or ROLLBACK). */
  transaction<T>(fn: (tx: PgQueryable) => Promise<T>): Promise<T>;
  /** Whether `error` says the user closed the driver (`end()`), not that the server went away. */
  isEnded(error: unknown): boolean;
  /** Whether `error` says a pg Client lost its connection for good (pg never reconnects a Client). */
  isDeadClient(error: unknown): boolean;
  /** Why the driver cannot take queries now (a pg Client never connected), or `undefined`. */
  notReady(): string | undefined;
  /** Removes what the adapter attached to the driver (its error listener). */
  detach(): void;
}

/** The drivers `PostgresStore` recognises. */
export type PostgresDriverName = "postgres.js" | "Bun SQL" | "pg Pool" | "pg Client";

/**
 * A postgres.js `sql` function (`postgres(url)` or `postgres({ ... })`).
 *
 * ```ts
 * import postgres from "postgres";
 * const sql: PostgresJsSql = postgres("postgres://app@127.0.0.1:5432/app");
 * ```
 */
export interface PostgresJsSql {
  /** Runs a query given as text, with bound parameters. */
  unsafe(query: string, params?: unknown[], options?: Record<string, unknown>): unknown;
  /** Runs `fn` in a transaction. */
  begin(fn: (tx: unknown) => unknown): Promise<unknown>;
  /** Closes the connections. */
  end(options?: Record<string, unknown>): Promise<void>;
}

/**
 * A node-postgres `Pool` or connected `Client`.
 *
 * ```ts
 * import pg from "pg";
 * const pool: NodePostgresQueryable = new pg.Pool({ connectionString: "postgres://app@127.0.0.1/app" });
 * ```
 */
export interface NodePostgresQueryable {
  /** Runs a query config (`text`, `values`, `name`, `rowMode`). */
  query(config: Record<string, unknown>): Promise<unknown>;
  /** Connects (a Client) or checks a connection out (a Pool). */
  connect(): Promise<unknown>;
  /** Listens for errors of idle connections. */
  on(event: "error", listener: (err: Error) => void): unknown;
}

/** Any driver object `PostgresStore` accepts. */
export type PostgresDatabase = PostgresJsSql | NodePostgresQueryable;

const SUPPORTED = "pass the postgres.js sql function (postgres(...)), Bun's SQL (new SQL(url)) " +
  "or a node-postgres (pg) Pool or connected Client";

// deno-lint-ignore no-explicit-any
type Any = any;

/** Recognises `db` by its shape; throws `SessionConfigError` for anything else. */
export function connectPostgres(db: unknown): PgConnection {
  const d = db as Any;
  if (d === null || d === undefined) {
    throw new SessionConfigError(`PostgresStore: no database driver given; ${SUPPORTED}`);
  }
  if (typeof d.then === "function") {
    throw new SessionConfigError(
      `PostgresStore: got a promise, not a driver; await it first, or ${SUPPORTED}`,
    );
  }
  if (
    typeof d === "function" && typeof d.unsafe === "function" &&
    typeof d.begin === "function" && typeof d.end === "function"
  ) {
    return postgresJs(d, typeof d.beginDistributed === "function" ? "Bun SQL" : "postgres.js");
  }
  if (typeof d === "object" && typeof d.query === "function") {
    if (typeof d.queryArray === "function" || typeof d.queryObject === "function") {
      throw new SessionConfigError(
        `PostgresStore: deno-postgres clients are not supported; ${SUPPORTED} (both run on Deno ` +
          'from npm: import postgres from "npm:postgres")',
      );
    }
    if (typeof d.connect === "function" && typeof d.on === "function") {
      if (typeof d.totalCount === "number" && typeof d.idleCount === "number") {
        if (d.ending === true || d.ended === true) {
          throw new SessionConfigError(
            "PostgresStore: the pg Pool was ended (pool.end() was called); pass an open pool, " +
              "and end it only after the server has stopped",
          );
        }
        return nodePostgres(d, "pg Pool");
      }
      if (typeof d.connectionParameters === "object" && d.connectionParameters !== null) {
        if (typeof d.release === "function") {
          throw new SessionConfigError(
            "PostgresStore: got a client checked out of a pg Pool (pool.connect()); pass the " +
              "Pool itself, which the store borrows connections from for each call",
          );
        }
        if (d._ending === true || d._ended === true) {
          throw new SessionConfigError(
            "PostgresStore: the pg Client was ended (client.end() was called); pass an open " +
              "client, or better a pg Pool, which replaces lost connections",
          );
        }
        return nodePostgres(d, "pg Client");
      }
    }
  }
  const what = typeof d === "function" ? "a function" : describe(d);
  throw new SessionConfigError(`PostgresStore: ${what} is not a supported driver; ${SUPPORTED}`);
}

function describe(d: Any): string {
  if (typeof d !== "object") return `a ${typeof d}`;
  const name = d.constructor?.name;
  return typeof name === "string" && name !== "Object" ? `a ${name}` : "an object";
}

function postgresJs(sql: Any, driver: "postgres.js" | "Bun SQL"): PgConnection {
  const run = (s: Any) => async (text: string, params: PgValue[]): Promise<PgResult> => {
    // prepare: true keeps one named statement per connection for each text.
    const result = await s.unsafe(text, params, { prepare: true }).values();
    return { rows: result as unknown[][], count: Number(result.count ?? result.length) };
  };
  return {
    driver,
    query: run(sql),
    transaction: <T>(fn: (tx: PgQueryable) => Promise<T>) =>
      sql.begin((tx: Any) => fn({ query: run(tx) })) as Promise<T>,
    // Bun's SQL says ERR_POSTGRES_CONNECTION_CLOSED both after close() and
    // when the server went away: no error of it is taken for close().
    isEnded: (e) => driver === "postgres.js" && (e as Any)?.code === "CONNECTION_ENDED",
    isDeadClient: () => false,
    notReady: () => undefined,
    detach: () => {},
  };
}

/** A short, stable statement name for `text` (FNV-1a): pg prepares each once per connection. */
function statementName(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return `oak_sessions_${(h >>> 0).toString(36)}_${text.length}`;
}

function nodePostgres(d: Any, driver: "pg Pool" | "pg Client"): PgConnection {
  const names = new Map<string, string>();
  // A pg Client runs one query at a time; handing it several at once is
  // deprecated (pg 9 refuses it). The store queues its own calls on a Client;
  // a Pool hands each call a connection of its own.
  let tail: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    if (driver === "pg Pool") return fn();
    const result = tail.then(fn);
    tail = result.catch(() => {});
    return result;
  };
  const send = (q: Any) => async (text: string, params: PgValue[]): Promise<PgResult> => {
    let name = names.get(text);
    if (name === undefined) names.set(text, name = statementName(text));
    const result = await q.query({ name, text, values: params, rowMode: "array" });
    return { rows: result.rows as unknown[][], count: Number(result.rowCount ?? 0) };
  };
  // pg emits "error" on the Pool (or Client) when an idle connection drops;
  // with no listener Node would end the process. The user's own listeners
  // still hear it; the store only keeps the process alive, and a Pool
  // replaces the connection on the next call.
  const onError = () => {};
  d.on("error", onError);
  const isConnectionError = (e: unknown) =>
    e instanceof Error && /not queryable|connection error|Connection terminated/i.test(e.message);
  return {
    driver,
    query: (text, params) => exclusive(() => send(d)(text, params)),
    transaction: <T>(fn: (tx: PgQueryable) => Promise<T>): Promise<T> =>
      exclusive(async () => {
        const client = driver === "pg Pool" ? await d.connect() : d;
        let failure: unknown;
        try {
          await client.query("BEGIN");
          const result = await fn({ query: send(client) });
          await client.query("COMMIT");
          return result;
        } catch (e) {
          failure = e;
          await client.query("ROLLBACK").catch(() => {});
          throw e;
        } finally {
          // A connection that failed mid-transaction is not given back for reuse.
          if (driver === "pg Pool") client.release(failure === undefined ? undefined : true);
        }
      }),
    isEnded: (e) =>
      e instanceof Error &&
      /Cannot use a pool after calling end|Client was closed and is not queryable/.test(e.message),
    isDeadClient: (e) => driver === "pg Client" && isConnectionError(e),
    notReady: () =>
      driver === "pg Client" && d._connected !== true && d._connecting !== true &&
        d._ending !== true
        ? "the pg Client is not connected; call await client.connect() before the store's " +
          "first call (or pass a pg Pool, which connects by itself)"
        : undefined,
    detach: () => d.off?.("error", onError) ?? d.removeListener?.("error", onError),
  };
}
