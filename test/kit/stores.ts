/**
 * Opening a store by name. The one implementation is the demo's
 * `examples/stores.ts` (what a user runs with `STORE=memory|cookie|sqlite|
 * redis|webdis|postgres`, settings from the environment); the tests, the
 * stress suite and the benchmarks reach it through this module, which adds
 * what only tests need: `openOwnStore` opens a store on resources of its own
 * (a temp SQLite file, a fresh cookie secret, a Webdis of its own, a table of
 * its own on PostgreSQL or MariaDB) and removes them all at close. Node.js only (better-sqlite3).
 *
 * @module
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type OpenStore, openStore, type StoreKind } from "../../examples/stores.ts";
import { dropTables, POSTGRES_URL, rawPool, uniqueTable } from "./postgres.ts";
import {
  dropTables as dropMySqlTables,
  MYSQL,
  rawPool as rawMySqlPool,
  uniqueTable as mysqlTable,
} from "./mysql.ts";
import { SHARED_REDIS_URL } from "./redis.ts";
import { startWebdis } from "./webdis.ts";

export {
  isStoreKind,
  type OpenStore,
  openStore,
  STORE_KINDS,
  type StoreKind,
  StoreSetupError,
} from "../../examples/stores.ts";

/** An {@link OpenStore} of a test's own, and the settings it was opened with. */
export interface OwnStore extends OpenStore {
  /** The environment `openStore` read (SQLITE_FILE, COOKIE_SECRET, REDIS_URL, ...). */
  readonly env: Readonly<Record<string, string>>;
  /** Close the store, then remove what was made for it (files, Webdis, table). */
  close(): Promise<void>;
}

/**
 * Open the store named `kind` on what it needs, all of it this call's own
 * but the shared servers: a temp SQLite file, a new cookie secret, the Redis
 * on 127.0.0.1:6379, a Webdis started for it in front of that Redis, or a
 * new table on the PostgreSQL on 127.0.0.1:5432 or the MariaDB on
 * 127.0.0.1:3306 (dropped at close).
 * `ownKeys`: a Redis key prefix of its own too, for a test that lists what a
 * user has while other tests use the same user on the shared Redis.
 */
export async function openOwnStore(
  kind: StoreKind,
  { ownKeys = false }: { ownKeys?: boolean } = {},
): Promise<OwnStore> {
  const dir = mkdtempSync(join(tmpdir(), "oak-sessions-store-"));
  const cleanups: Array<() => unknown> = [() => rmSync(dir, { recursive: true, force: true })];
  const cleanup = async () => {
    for (const step of cleanups.splice(0).reverse()) await step();
  };
  try {
    const env: Record<string, string> = {
      SQLITE_FILE: join(dir, "sessions.db"),
      COOKIE_SECRET: randomBytes(32).toString("base64url"),
      REDIS_URL: SHARED_REDIS_URL,
      DATABASE_URL: POSTGRES_URL,
      POSTGRES_TABLE: uniqueTable("demo"),
      MYSQL_URL: `mysql://${MYSQL.user}@${MYSQL.host}:${MYSQL.port}/${MYSQL.database}`,
      MYSQL_TABLE: mysqlTable("demo"),
    };
    if (ownKeys) env.REDIS_KEY_PREFIX = `demo_test_${randomBytes(6).toString("hex")}_`;
    if (kind === "postgres") {
      cleanups.push(async () => {
        const raw = rawPool();
        await dropTables(raw, env.POSTGRES_TABLE);
        await raw.end();
      });
    }
    if (kind === "mysql") {
      cleanups.push(async () => {
        const raw = rawMySqlPool();
        await dropMySqlTables(raw, env.MYSQL_TABLE);
        await raw.end();
      });
    }
    if ((kind as string) === "mysql") {
      cleanups.push(async () => {
        const { default: mysql } = await import("mysql2/promise");
        const raw = mysql.createPool({ uri: env.MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test" });
        await raw.query(`DROP TABLE IF EXISTS \`${env.MYSQL_TABLE}\``);
        await raw.end();
      });
    }
    if (kind === "webdis") {
      const webdis = await startWebdis();
      cleanups.push(() => webdis.dispose());
      env.WEBDIS_URL = webdis.url;
    }
    const opened = await openStore(kind, env);
    cleanups.push(() => opened.close());
    return { ...opened, env, close: cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
