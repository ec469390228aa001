/**
 * A Redis that lost its script cache (a restart, a failover, SCRIPT FLUSH)
 * answers EVALSHA with NOSCRIPT; the store then sends the script with EVAL,
 * which also caches it again, so the change still lands, once. Through
 * node-redis, ioredis and Webdis, against the test's own redis-server.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { Redis } from "ioredis";
import { emptyFields, type ServerStore } from "../src/store.ts";
import { RedisStore } from "../src/stores/redis.ts";
import { REDIS_WRITE_SCRIPT } from "../src/stores/redis_script.ts";
import { WebdisStore } from "../src/stores/webdis.ts";
import { type OwnRedis, startOwnRedis } from "./kit/redis.ts";
import { type OwnWebdis, startWebdis } from "./kit/webdis.ts";

async function sha1(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

describe("Redis script cache loss: EVALSHA falls back to EVAL", () => {
  let redis: OwnRedis;
  let webdis: OwnWebdis;
  let raw: ReturnType<typeof createClient>;
  let io: Redis;
  let stores: Array<[string, ServerStore]>;
  before(async () => {
    redis = await startOwnRedis();
    webdis = await startWebdis({ redisPort: redis.port });
    raw = createClient({ url: redis.url });
    raw.on("error", () => {});
    await raw.connect();
    io = new Redis(redis.port, "127.0.0.1");
    io.on("error", () => {});
    stores = [
      ["RedisStore (node-redis)", new RedisStore(raw)],
      ["RedisStore (ioredis)", new RedisStore(io)],
      ["WebdisStore", new WebdisStore({ url: webdis.url })],
    ];
  });
  after(async () => {
    await raw?.close();
    io?.disconnect();
    await webdis?.dispose();
    await redis?.dispose();
  });

  it("creates and updates land after SCRIPT FLUSH, and the script is cached again", async () => {
    const sha = await sha1(REDIS_WRITE_SCRIPT);
    for (const [name, store] of stores) {
      const now = Date.now();
      const key = crypto.randomUUID();
      await raw.sendCommand(["SCRIPT", "FLUSH"]);
      const data = emptyFields();
      data.n = "0";
      await store.create(key, {
        data,
        flash: emptyFields(),
        createdAt: now,
        expiresAt: now + 60_000,
      }, now);
      assert.deepEqual(await raw.sendCommand(["SCRIPT", "EXISTS", sha]), [1], name);
      await raw.sendCommand(["SCRIPT", "FLUSH"]);
      const set = emptyFields();
      set.n = "1";
      assert.equal(
        await store.update(key, {
          clear: false,
          set,
          delete: [],
          flash: null,
          expiresAt: now + 60_000,
        }, now),
        true,
        name,
      );
      assert.equal((await store.get(key, now))?.data.n, "1", name);
      assert.deepEqual(await raw.sendCommand(["SCRIPT", "EXISTS", sha]), [1], name);
    }
  });
});
