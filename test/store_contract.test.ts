/**
 * Every server store keeps the store contract, checked by the contract
 * suite the library ships for store authors (`oak-sessions/testing`), which
 * calls each store directly: MemoryStore, SqliteStore, PostgresStore (pg
 * and postgres.js), MySqlStore (mysql2 on MariaDB), RedisStore (node-redis), WebdisStore (a real webdis),
 * ExpressSessionStore, fromV9Store, and DenoKvStore on Deno (Node.js has no
 * Deno KV). Real backends throughout; each run uses its own file, table or
 * key prefix.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import session from "express-session";
import { createClient } from "redis";
import { storeContract } from "../testing.ts";
import type { ServerStore } from "../src/store.ts";
import { type DenoKvLike, DenoKvStore } from "../src/stores/deno_kv.ts";
import {
  ExpressSessionStore,
  type ExpressSessionStoreLike,
} from "../src/stores/express_session.ts";
import { MemoryStore } from "../src/stores/memory.ts";
import { RedisStore } from "../src/stores/redis.ts";
import { SqliteStore } from "../src/stores/sqlite.ts";
import { fromV9Store } from "../src/stores/v9_store.ts";
import { WebdisStore } from "../src/stores/webdis.ts";
import { dropTables, postgresTargets, rawPool, uniqueTable } from "./kit/postgres.ts";
import * as mariadb from "./kit/mysql.ts";
import { requireSharedRedis, SHARED_REDIS_URL } from "./kit/redis.ts";
import { dropPrefix, uniquePrefix } from "./helpers/redis_targets.ts";
import { nativeDriver, openDb, type RawDb, tempDir } from "./helpers/sqlite_db.ts";
import { V9SqliteStore } from "./helpers/v9_stores.ts";
import { type OwnWebdis, startWebdis } from "./kit/webdis.ts";

const deno = (globalThis as { Deno?: { openKv(path: string): Promise<DenoKvLike> } }).Deno;

/** A store under test: how to open it, and how to release what it opened. */
interface Target {
  name: string;
  open(): Promise<ServerStore>;
  close(store: ServerStore): Promise<void>;
}

/** A fresh node-redis client on the shared Redis. */
async function redisClient() {
  await requireSharedRedis();
  const client = createClient({ url: SHARED_REDIS_URL });
  client.on("error", () => {});
  await client.connect();
  return client;
}

const targets: Target[] = [
  {
    name: "MemoryStore",
    open: () => Promise.resolve(new MemoryStore()),
    close: async (store) => await store.close?.(),
  },
];

{
  const dir = tempDir();
  let raw: RawDb | undefined;
  targets.push({
    name: `SqliteStore (${nativeDriver})`,
    async open() {
      raw = await openDb(dir.file("contract.db"));
      return new SqliteStore(raw, "sessions", { cleanupIntervalSeconds: 0 });
    },
    async close(store) {
      await store.close?.();
      raw?.close();
      dir.remove();
    },
  });
}

for (const target of postgresTargets.filter((t) => t.name !== "pg Client")) {
  const table = uniqueTable("contract");
  let close: (() => Promise<void>) | undefined;
  targets.push({
    name: `PostgresStore (${target.name})`,
    async open() {
      const opened = await target.open(table, { cleanupIntervalSeconds: 0 });
      close = opened.close;
      await opened.store.initSessionsTable();
      return opened.store;
    },
    async close(store) {
      await store.close?.();
      await close?.();
      const pool = rawPool();
      await dropTables(pool, table);
      await pool.end();
    },
  });
}

{
  const target = mariadb.mysqlTargets[0];
  const table = mariadb.uniqueTable("contract");
  let close: (() => Promise<void>) | undefined;
  targets.push({
    name: `MySqlStore (${target.name})`,
    async open() {
      await mariadb.requireMariaDb();
      const opened = await target.open(table, { cleanupIntervalSeconds: 0 });
      close = opened.close;
      await opened.store.initSessionsTable();
      return opened.store;
    },
    async close(store) {
      await store.close?.();
      await close?.();
      const pool = mariadb.rawPool();
      await mariadb.dropTables(pool, table);
      await pool.end();
    },
  });
}

{
  const prefix = uniquePrefix("contract");
  let client: Awaited<ReturnType<typeof redisClient>> | undefined;
  targets.push({
    name: "RedisStore (node-redis)",
    async open() {
      client = await redisClient();
      return new RedisStore(client, prefix);
    },
    async close() {
      if (!client) return;
      await dropPrefix(client, prefix);
      await client.close();
    },
  });
}

{
  const prefix = uniquePrefix("contract_webdis");
  let webdis: OwnWebdis | undefined;
  targets.push({
    name: "WebdisStore",
    async open() {
      await requireSharedRedis();
      webdis = await startWebdis({ redisPort: 6379 });
      return new WebdisStore({ url: webdis.url, keyPrefix: prefix });
    },
    async close(store) {
      await store.close?.();
      await webdis?.dispose();
      const client = await redisClient();
      try {
        await dropPrefix(client, prefix);
      } finally {
        await client.close();
      }
    },
  });
}

targets.push({
  name: "ExpressSessionStore (express-session's MemoryStore)",
  open() {
    const MemoryStore = (session as unknown as { MemoryStore: new () => ExpressSessionStoreLike })
      .MemoryStore;
    return Promise.resolve(new ExpressSessionStore(new MemoryStore()));
  },
  close: async (store) => await store.close?.(),
});

{
  const dir = tempDir();
  let db: RawDb | undefined;
  targets.push({
    name: "fromV9Store (the original's SqliteStore)",
    async open() {
      db = await openDb(dir.file("v9_contract.db"));
      return fromV9Store(new V9SqliteStore(db, "v9_sessions"));
    },
    async close(store) {
      await store.close?.();
      db?.close();
      dir.remove();
    },
  });
}

if (deno !== undefined) {
  let dir = "";
  let kv: DenoKvLike | undefined;
  targets.push({
    name: "DenoKvStore",
    async open() {
      dir = mkdtempSync(join(tmpdir(), "oak-sessions-kv-contract-"));
      kv = await deno.openKv(join(dir, "sessions.db"));
      return new DenoKvStore(kv);
    },
    async close(store) {
      await store.close?.();
      kv?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

for (const target of targets) {
  describe(`${target.name} keeps the store contract`, () => {
    let store: ServerStore | undefined;
    before(async () => {
      store = await target.open();
    });
    after(async () => {
      if (store) await target.close(store);
    });
    // One store for every check: each check uses keys of its own.
    const checks = storeContract(() => {
      if (!store) throw new Error(`${target.name} did not open`);
      return Promise.resolve(store);
    });
    for (const check of checks) {
      it(check.name, async (t) => {
        const skipped = await check.run();
        if (skipped) t.diagnostic(`not applicable: ${skipped}`);
      });
    }
  });
}
