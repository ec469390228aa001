/**
 * fromV9Store passes the conformance suite over two stores written for the
 * original oak_sessions' interface: its own SqliteStore (on a real SQLite
 * file) and its own RedisStore (on real Redis through node-redis). The suite
 * runs in one process, where the adapter queues the operations on a session,
 * so every property it checks holds here, concurrent writes of different keys
 * and delete-wins included. What does not hold across processes is shown in
 * v9_store_adapter_guarantees.test.ts.
 */
import { createClient } from "redis";
import { conformance } from "./conformance.ts";
import { fromV9Store } from "../src/stores/v9_store.ts";
import { openDb, type RawDb, tempDir } from "./helpers/sqlite_db.ts";
import { requireSharedRedis, SHARED_REDIS_URL } from "./kit/redis.ts";
import { dropPrefix, uniquePrefix } from "./helpers/redis_targets.ts";
import { V9RedisStore, V9SqliteStore } from "./helpers/v9_stores.ts";

{
  const dir = tempDir();
  let db: RawDb | undefined;
  conformance({
    name: "fromV9Store (the original's SqliteStore)",
    async makeStore() {
      db = await openDb(dir.file("v9.db"));
      return fromV9Store(new V9SqliteStore(db, "v9_sessions"));
    },
    teardown() {
      db?.close();
      dir.remove();
    },
  });
}

{
  let client: ReturnType<typeof createClient> | undefined;
  let prefix = "";
  conformance({
    name: "fromV9Store (the original's RedisStore)",
    async makeStore() {
      await requireSharedRedis();
      client = createClient({ url: SHARED_REDIS_URL });
      client.on("error", () => {});
      await client.connect();
      prefix = uniquePrefix("conf_v9");
      return fromV9Store(new V9RedisStore(client, prefix));
    },
    async teardown() {
      if (!client) return;
      await dropPrefix(client, prefix);
      await client.close();
    },
  });
}
