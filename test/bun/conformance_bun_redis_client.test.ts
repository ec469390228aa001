/**
 * RedisStore passes the conformance suite over Bun's own Redis client
 * (`new RedisClient(url)` from "bun", RESP3), against the shared Redis on
 * 127.0.0.1:6379. The node-redis and ioredis runs are
 * test/conformance_redis.test.ts, which the Bun stage runs too.
 */
import { conformance } from "../conformance.ts";
import { RedisStore } from "../../src/stores/redis.ts";
import { requireSharedRedis, SHARED_REDIS_URL } from "../kit/redis.ts";
import { uniquePrefix } from "../helpers/redis_targets.ts";
import { bun, type BunRedisClient } from "./bun_runtime.ts";

const { RedisClient } = await bun();

let client: BunRedisClient | undefined;
let prefix = "";
conformance({
  name: "RedisStore (Bun's RedisClient)",
  async makeStore() {
    await requireSharedRedis();
    client = new RedisClient(SHARED_REDIS_URL);
    await client.connect();
    prefix = uniquePrefix("conf_bun");
    return new RedisStore(client, prefix);
  },
  async teardown() {
    if (!client) return;
    const pattern = prefix.replace(/[*?[\]\\]/g, "\\$&") + "*";
    const keys = await client.send("KEYS", [pattern]) as string[];
    if (keys.length) await client.send("DEL", keys);
    client.close();
  },
});
