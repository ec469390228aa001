/**
 * Opening each store by name, as the demo app does for `STORE=...`
 * (Node.js: better-sqlite3 and node-redis are dev dependencies). The tests,
 * the benchmarks and the stress suite open stores through this module too,
 * by way of test/kit/stores.ts.
 *
 * Environment: `SQLITE_FILE` (default `oak-sessions-demo.db` in the working
 * directory; the cookie store keeps its revocations there too),
 * `REDIS_URL` (default `redis://127.0.0.1:6379`), `WEBDIS_URL` (default
 * `http://127.0.0.1:7379`), `REDIS_KEY_PREFIX` (default `session_`, for
 * Redis and Webdis), `COOKIE_SECRET` (at least 32 characters; required for
 * the cookie store), `DATABASE_URL` (default
 * `postgres://postgres@127.0.0.1:5432/test`) and `POSTGRES_TABLE` (default
 * `oak_sessions_demo`) for PostgreSQL through postgres.js; `MYSQL_URL` (default
 * `mysql://root@127.0.0.1:3306/test`) and `MYSQL_TABLE` (default
 * `oak_sessions_demo`) for MySQL or MariaDB through a mysql2 pool.
 *
 * @module
 */
import Database from "better-sqlite3";
import { createClient } from "redis";
import postgres from "postgres";
import mysql from "mysql2/promise";
import {
  CookieStore,
  MemoryStore,
  MySqlStore,
  PostgresStore,
  RedisStore,
  SessionConfigError,
  SqliteStore,
  WebdisStore,
} from "../mod.ts";
import type { SessionStore } from "../mod.ts";

/** The stores the project has. */
export const STORE_KINDS = [
  "memory",
  "cookie",
  "sqlite",
  "redis",
  "webdis",
  "postgres",
  "mysql",
] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

/** An open store and how to close what was opened for it. */
export interface OpenStore {
  kind: StoreKind;
  store: SessionStore;
  /** One line for a person: the store and where its data lives. */
  description: string;
  close(): Promise<void>;
}

/** A problem a person can fix (missing setting, server down): print the message, no stack. */
export class StoreSetupError extends Error {
  override name = "StoreSetupError";
}

/** Whether `name` is a store kind. */
export function isStoreKind(name: string): name is StoreKind {
  return (STORE_KINDS as readonly string[]).includes(name);
}

/** Open the store named `kind`, with its settings from `env`. */
export async function openStore(
  kind: StoreKind,
  env: Record<string, string | undefined> = process.env,
): Promise<OpenStore> {
  switch (kind) {
    case "memory": {
      const store = new MemoryStore({ maxSessions: 100_000 });
      return {
        kind,
        store,
        description: "MemoryStore (in this process; gone on restart)",
        close: () => store.close(),
      };
    }
    case "cookie": {
      const secret = env.COOKIE_SECRET;
      if (!secret || secret.length < 32) {
        throw new StoreSetupError(
          "STORE=cookie needs COOKIE_SECRET with at least 32 characters; make one with\n" +
            `  export COOKIE_SECRET=$(node -e "console.log(crypto.randomBytes(32).toString('base64url'))")`,
        );
      }
      // The sessions stay in the cookies; the server keeps only when each user last
      // logged out everywhere ("revokeSessions"), so older cookies open nothing.
      const file = env.SQLITE_FILE ?? "oak-sessions-demo.db";
      const db = openSqlite(file);
      const revocations = new SqliteStore(db);
      return {
        kind,
        store: new CookieStore(secret, { revocations }),
        description: `CookieStore (AES-256-GCM sealed cookies; revocations in SQLite file ${file})`,
        close: async () => {
          await revocations.close();
          db.close();
        },
      };
    }
    case "sqlite": {
      const file = env.SQLITE_FILE ?? "oak-sessions-demo.db";
      const db = openSqlite(file);
      const store = new SqliteStore(db);
      return {
        kind,
        store,
        description: `SqliteStore (better-sqlite3, file ${file})`,
        close: async () => {
          await store.close();
          db.close();
        },
      };
    }
    case "redis": {
      const url = env.REDIS_URL ?? "redis://127.0.0.1:6379";
      const client = createClient({
        url,
        socket: { connectTimeout: 2000, reconnectStrategy: (n) => Math.min(n * 100, 2000) },
      });
      // Reconnects are the client's job; a request meanwhile gets a 503.
      client.on("error", () => {});
      try {
        await withTimeout(client.connect(), 3000);
      } catch {
        client.destroy();
        throw new StoreSetupError(
          `STORE=redis: cannot reach Redis at ${url}; start it (redis-server) or set REDIS_URL`,
        );
      }
      const store = new RedisStore(client, { keyPrefix: env.REDIS_KEY_PREFIX ?? "session_" });
      return {
        kind,
        store,
        description: `RedisStore (node-redis, ${url})`,
        close: () => {
          client.destroy();
          return Promise.resolve();
        },
      };
    }
    case "webdis": {
      const url = env.WEBDIS_URL ?? "http://127.0.0.1:7379";
      // Shown to a person: never a URL that may hold a password.
      const where = url.includes("@") ? "the WEBDIS_URL given" : url;
      const store = new WebdisStore({ url, keyPrefix: env.REDIS_KEY_PREFIX ?? "session_" });
      try {
        // A read through the store itself, so credentials and the ACL are checked too.
        await store.get("startup_probe", Date.now());
      } catch (error) {
        await store.close();
        throw new StoreSetupError(
          `STORE=webdis: cannot use Webdis at ${where} (${
            (error as Error).message
          }); start it (webdis) or set WEBDIS_URL`,
        );
      }
      return {
        kind,
        store,
        description: `WebdisStore (${where}, ${store.transport})`,
        close: () => store.close(),
      };
    }
    case "postgres": {
      const url = env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
      const table = env.POSTGRES_TABLE ?? "oak_sessions_demo";
      // Shown to a person: never the password.
      const where = withoutPassword(url);
      let sql: ReturnType<typeof postgres>;
      try {
        sql = postgres(url, { connect_timeout: 3, onnotice: () => {} });
      } catch (error) {
        throw new StoreSetupError(
          `STORE=postgres: DATABASE_URL is not usable (${(error as Error).name}); ` +
            "use postgres://user@host:5432/database",
        );
      }
      let store: PostgresStore;
      try {
        store = new PostgresStore(sql, table);
        await store.initSessionsTable();
      } catch (error) {
        await sql.end({ timeout: 0 });
        if (error instanceof SessionConfigError) {
          throw new StoreSetupError(`STORE=postgres: ${error.message}`);
        }
        const reason = error instanceof Error ? error.message : String(error);
        throw new StoreSetupError(
          `STORE=postgres: cannot use PostgreSQL at ${where} (${reason}); start it or set ` +
            "DATABASE_URL",
        );
      }
      return {
        kind,
        store,
        description: `PostgresStore (postgres.js, ${where}, table ${table})`,
        close: async () => {
          await store.close();
          await sql.end({ timeout: 2 });
        },
      };
    }
    case "mysql": {
      const url = env.MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test";
      const table = env.MYSQL_TABLE ?? "oak_sessions_demo";
      // Shown to a person: never the password.
      const where = withoutPassword(url);
      let pool: mysql.Pool;
      try {
        pool = mysql.createPool({ uri: url, connectTimeout: 3000, connectionLimit: 10 });
      } catch (error) {
        throw new StoreSetupError(
          `STORE=mysql: MYSQL_URL is not usable (${(error as Error).name}); ` +
            "use mysql://user@host:3306/database",
        );
      }
      let store: MySqlStore;
      try {
        store = new MySqlStore(pool, table);
        await store.initSessionsTable();
      } catch (error) {
        await pool.end().catch(() => {});
        if (error instanceof SessionConfigError) {
          throw new StoreSetupError(`STORE=mysql: ${error.message}`);
        }
        const reason = error instanceof Error ? error.message : String(error);
        throw new StoreSetupError(
          `STORE=mysql: cannot use MySQL/MariaDB at ${where} (${reason}); start it or set ` +
            "MYSQL_URL",
        );
      }
      return {
        kind,
        store,
        description: `MySqlStore (mysql2 pool, ${where}, table ${table})`,
        close: async () => {
          await store.close();
          await pool.end();
        },
      };
    }
  }
}

function openSqlite(file: string): Database.Database {
  try {
    return new Database(file);
  } catch (error) {
    throw new StoreSetupError(`cannot open SQLite file ${file}: ${(error as Error).message}`);
  }
}

function withoutPassword(url: string): string {
  try {
    const u = new URL(url);
    u.password = "";
    return u.toString();
  } catch {
    return "the DATABASE_URL given";
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
