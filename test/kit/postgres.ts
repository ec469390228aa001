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
import { createServer, type Server, type Socket } from "node:net";
import { connect } from "node:net";
import postgres from "postgres";
import pg from "pg";
import { PostgresStore, type PostgresStoreOptions } from "../../src/stores/postgres.ts";

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
 * A TCP proxy on a free loopback port in front of the shared PostgreSQL.
 * `cut()` closes every connection and refuses new ones (the database "went
 * away"); `restore()` accepts again. `hang()` keeps every socket open but
 * stops passing bytes (a server that does not answer); `resume()` passes
 * them again. These are the faults the outage tests inject.
 */
export interface CuttableProxy {
  readonly url: string;
  cut(): Promise<void>;
  restore(): Promise<void>;
  hang(): void;
  resume(): void;
  close(): Promise<void>;
}

/** Starts a {@link CuttableProxy} to 127.0.0.1:5432. */
export async function startProxy(database = "test"): Promise<CuttableProxy> {
  const sockets = new Set<Socket>();
  const held: Array<() => void> = [];
  let hung = false;
  let port = 0;
  let server: Server | undefined;
  const pair = (client: Socket) => {
    const upstream = connect(5432, "127.0.0.1");
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  };
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((client) => {
        if (!hung) return pair(client);
        sockets.add(client);
        client.on("error", () => client.destroy());
        held.push(() => pair(client));
      });
      s.on("error", reject);
      s.listen(port, "127.0.0.1", () => {
        const address = s.address();
        if (typeof address === "object" && address) port = address.port;
        server = s;
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      sockets.clear();
      held.length = 0;
      if (!server) return resolve();
      server.close(() => resolve());
      server = undefined;
    });
  await listen();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/${database}`,
    cut: stop,
    restore: listen,
    hang() {
      hung = true;
      for (const s of sockets) s.pause();
    },
    resume() {
      hung = false;
      for (const s of sockets) s.resume();
      for (const go of held.splice(0)) go();
    },
    close: stop,
  };
}
