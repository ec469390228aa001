/**
 * The ways a test reaches the machine's PostgreSQL (127.0.0.1:5432, database
 * `test`): postgres.js, a pg Pool and a pg Client, each at a URL (the real
 * server, or a proxy in front of it). Plus unique table names, a raw
 * connection for looking at what the store wrote, and a TCP proxy a test can
 * cut and restore to make the database go away (an injected fault: the
 * shared server itself is never stopped).
 *
 * @module
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import pg from "pg";
import { PostgresStore, type PostgresStoreOptions } from "../../src/stores/postgres.ts";
import { type CuttableProxy, startCuttableProxy } from "./proxy.ts";
import { waitFor } from "./waiting.ts";

/** The shared server, overridable for other set-ups. */
export const POSTGRES_URL: string = (globalThis as { process?: { env: Record<string, string> } })
  .process?.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** A table name no other test (or earlier run) uses. */
export function uniqueTable(label: string): string {
  const rand = Math.random().toString(36).slice(2, 8);
  return `t_${label}_${Date.now().toString(36)}_${rand}`.slice(0, 63);
}

/** One driver under test: opens a store over its own connection to `url`. */
export interface PostgresTarget {
  readonly name: "postgres.js" | "pg Pool" | "pg Client";
  open(
    tableName: string,
    options?: PostgresStoreOptions & { url?: string },
  ): Promise<{ store: PostgresStore; close: () => Promise<void> }>;
}

/** postgres.js, pg Pool and pg Client. */
export const postgresTargets: PostgresTarget[] = [
  {
    name: "postgres.js",
    open(tableName, { url = POSTGRES_URL, ...options } = {}) {
      // A short connect timeout so a cut proxy fails fast; no retries of its own.
      const sql = postgres(url, { max: 4, connect_timeout: 2, onnotice: () => {} });
      const store = new PostgresStore(sql, tableName, options);
      return Promise.resolve({ store, close: () => sql.end({ timeout: 1 }) });
    },
  },
  {
    name: "pg Pool",
    open(tableName, { url = POSTGRES_URL, ...options } = {}) {
      const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 2000 });
      const store = new PostgresStore(pool, tableName, options);
      return Promise.resolve({ store, close: () => pool.end() });
    },
  },
  {
    name: "pg Client",
    async open(tableName, { url = POSTGRES_URL, ...options } = {}) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const store = new PostgresStore(client, tableName, options);
      return { store, close: () => client.end().catch(() => {}) };
    },
  },
];

/** A plain pg Pool on the shared server, for assertions and clean-up. */
export function rawPool(): pg.Pool {
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
  pool.on("error", () => {});
  return pool;
}

/** Drops `tables` (if they exist) through `pool`. */
export async function dropTables(pool: pg.Pool, ...tables: string[]): Promise<void> {
  for (const t of tables) await pool.query(`DROP TABLE IF EXISTS "${t}"`);
}

/**
 * Resolves once a statement on `table` waits for a row lock another
 * connection holds (seen in `pg_stat_activity`): the moment a race test
 * lets the other side go.
 */
export async function waitForLockWait(raw: pg.Pool, table: string): Promise<void> {
  const waiting = async () => {
    const r = await raw.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' " +
        "AND query LIKE $1",
      [`%"${table}"%`],
    );
    return r.rows[0].n > 0;
  };
  await waitFor(waiting, { timeoutMs: 10_000, maxIntervalMs: 10 }).catch(() => {
    assert.fail("the store's statement never waited for the row lock");
  });
}

/** A {@link CuttableProxy} with the URL of the database behind it. */
export interface PostgresProxy extends CuttableProxy {
  /** `postgres://postgres@127.0.0.1:<proxy port>/<database>`. */
  readonly url: string;
}

/** Start a {@link CuttableProxy} to the shared PostgreSQL (127.0.0.1:5432). */
export async function startProxy(database = "test"): Promise<PostgresProxy> {
  const proxy = await startCuttableProxy(5432);
  return Object.assign(proxy, { url: `postgres://postgres@127.0.0.1:${proxy.port}/${database}` });
}
