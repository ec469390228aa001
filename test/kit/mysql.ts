/**
 * The ways a test reaches the machine's MariaDB (127.0.0.1:3306, user root,
 * no password, database `test`) through mysql2: a Pool and a Connection, each
 * from the callback API and the promise API. Plus unique table names, a raw
 * pool for looking at what the store wrote, and a TCP proxy a test can cut
 * and restore to make the database go away (an injected fault: the shared
 * server itself is never stopped).
 *
 * Every opener fails loudly when MariaDB is down (a test never skips).
 *
 * @module
 */
import mysql from "mysql2";
import mysqlPromise from "mysql2/promise";
import { MySqlStore, type MySqlStoreOptions } from "../../src/stores/mysql.ts";
import { type CuttableProxy, startCuttableProxy } from "./proxy.ts";

export type { CuttableProxy };

/** The shared server. */
export const MYSQL = { host: "127.0.0.1", port: 3306, user: "root", database: "test" };

/** A table name no other test (or earlier run) uses. */
export function uniqueTable(label: string): string {
  const rand = Math.random().toString(36).slice(2, 8);
  return `t_${label}_${Date.now().toString(36)}_${rand}`.slice(0, 64);
}

/** What an opener gives: the store, and how to end the driver under it. */
export interface OpenedMySql {
  store: MySqlStore;
  close: () => Promise<void>;
}

/** One driver shape under test. */
export interface MySqlTarget {
  readonly name: string;
  open(tableName: string, options?: MySqlStoreOptions & { port?: number }): Promise<OpenedMySql>;
}

// Generous: a loaded machine can starve the event loop for seconds (a cut proxy refuses at once).
const connectTimeout = 10_000;

/** mysql2 Pool and Connection, callback and promise API. */
export const mysqlTargets: MySqlTarget[] = [
  {
    name: "mysql2/promise Pool",
    open(tableName, { port = MYSQL.port, ...options } = {}) {
      const pool = mysqlPromise.createPool({ ...MYSQL, port, connectionLimit: 4, connectTimeout });
      const store = new MySqlStore(pool, tableName, options);
      return Promise.resolve({ store, close: () => pool.end() });
    },
  },
  {
    name: "mysql2 Pool (callback)",
    open(tableName, { port = MYSQL.port, ...options } = {}) {
      const pool = mysql.createPool({ ...MYSQL, port, connectionLimit: 4, connectTimeout });
      const store = new MySqlStore(pool, { table: tableName, ...options });
      return Promise.resolve({
        store,
        close: () => new Promise<void>((resolve) => pool.end(() => resolve())),
      });
    },
  },
  {
    name: "mysql2/promise Connection",
    async open(tableName, { port = MYSQL.port, ...options } = {}) {
      const c = await mysqlPromise.createConnection({ ...MYSQL, port, connectTimeout });
      const store = new MySqlStore(c, tableName, options);
      return { store, close: () => c.end().catch(() => {}) };
    },
  },
  {
    name: "mysql2 Connection (callback)",
    open(tableName, { port = MYSQL.port, ...options } = {}) {
      const c = mysql.createConnection({ ...MYSQL, port, connectTimeout });
      c.on("error", () => {});
      const store = new MySqlStore(c, { table: tableName, ...options });
      return Promise.resolve({
        store,
        close: () => new Promise<void>((resolve) => c.end(() => resolve())),
      });
    },
  },
];

/** A plain promise pool on the shared server, for assertions and clean-up. */
export function rawPool(): mysqlPromise.Pool {
  return mysqlPromise.createPool({ ...MYSQL, connectionLimit: 2, connectTimeout });
}

/**
 * Throws, naming what to do, when the shared MariaDB does not answer: the
 * MySqlStore tests never skip.
 */
export async function requireMariaDb(): Promise<void> {
  const pool = rawPool();
  try {
    await pool.query("SELECT 1");
  } catch (e) {
    throw new Error(
      `MariaDB is not reachable at ${MYSQL.host}:${MYSQL.port} (${(e as Error).message}); ` +
        "start it (.ci/run does: start-stop-daemon --start --background --exec /usr/sbin/mariadbd)",
    );
  } finally {
    await pool.end();
  }
}

/** Drops `tables` (if they exist) through `pool`. */
export async function dropTables(pool: mysqlPromise.Pool, ...tables: string[]): Promise<void> {
  for (const t of tables) await pool.query(`DROP TABLE IF EXISTS \`${t}\``);
}

/** A cuttable TCP proxy (the injected outage) in front of the shared MariaDB. */
export function startProxy(): Promise<CuttableProxy> {
  return startCuttableProxy(MYSQL.port, MYSQL.host);
}
