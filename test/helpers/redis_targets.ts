/**
 * The ways a test reaches the shared Redis on 127.0.0.1:6379: RedisStore over
 * node-redis (RESP3, its default, and RESP2), over ioredis, and WebdisStore
 * over a Webdis the helper starts. Plus a plain node-redis connection for
 * looking at what the stores wrote.
 *
 * @module
 */
import { createClient } from "redis";
import { Redis } from "ioredis";
import { RedisStore } from "../../src/stores/redis.ts";
import { WebdisStore } from "../../src/stores/webdis.ts";
import type { ServerStore } from "../../src/store.ts";
import { requireSharedRedis, SHARED_REDIS_URL } from "../kit/redis.ts";
import { type OwnWebdis, startWebdis } from "../kit/webdis.ts";

function rawClient() {
  const client = createClient({ url: SHARED_REDIS_URL });
  client.on("error", () => {});
  return client;
}

/** A plain node-redis client for assertions (any command through `sendCommand`). */
export type RawRedis = ReturnType<typeof rawClient>;

/** One way to build a store over the shared Redis. */
export interface RedisTarget {
  readonly name: string;
  store(keyPrefix: string): ServerStore;
}

/** Everything a test needs; `close()` in `after()`. */
export interface RedisTargets {
  readonly targets: RedisTarget[];
  readonly raw: RawRedis;
  close(): Promise<void>;
}

/** A key prefix no other test (or earlier run) uses. */
export function uniquePrefix(label: string): string {
  return `oaktest_${label}_${crypto.randomUUID().slice(0, 8)}_`;
}

/** Connect node-redis (RESP3 and RESP2), ioredis and a fresh Webdis to the shared Redis. */
export async function openRedisTargets(): Promise<RedisTargets> {
  await requireSharedRedis();
  const raw = rawClient();
  const resp3 = createClient({ url: SHARED_REDIS_URL });
  resp3.on("error", () => {});
  const resp2 = createClient({ url: SHARED_REDIS_URL, RESP: 2 });
  resp2.on("error", () => {});
  await Promise.all([raw.connect(), resp3.connect(), resp2.connect()]);
  const io = new Redis(6379, "127.0.0.1");
  io.on("error", () => {});
  let webdis: OwnWebdis | undefined;
  try {
    webdis = await startWebdis({ redisPort: 6379 });
  } catch (error) {
    await Promise.all([raw.close(), resp3.close(), resp2.close()]);
    io.disconnect();
    throw error;
  }
  const webdisUrl = webdis.url;
  return {
    raw,
    targets: [
      { name: "RedisStore (node-redis, RESP3)", store: (p) => new RedisStore(resp3, p) },
      { name: "RedisStore (node-redis, RESP2)", store: (p) => new RedisStore(resp2, p) },
      { name: "RedisStore (ioredis)", store: (p) => new RedisStore(io, p) },
      { name: "WebdisStore", store: (p) => new WebdisStore({ url: webdisUrl, keyPrefix: p }) },
    ],
    close: async () => {
      await Promise.all([raw.close(), resp3.close(), resp2.close()]);
      io.disconnect();
      await webdis?.dispose();
    },
  };
}

/** Any node-redis client (RESP2 or RESP3): all these helpers need. */
export interface CommandSender {
  sendCommand(args: string[]): Promise<unknown>;
}

/** Delete every key under `prefix` (SCAN, then DEL). */
export async function dropPrefix(raw: CommandSender, prefix: string): Promise<void> {
  for (const key of await scanPrefix(raw, prefix)) await raw.sendCommand(["DEL", key]);
}

/** Every key under `prefix`. */
export async function scanPrefix(raw: CommandSender, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = (await raw.sendCommand([
      "SCAN",
      cursor,
      "MATCH",
      prefix.replace(/[*?[\]\\]/g, "\\$&") + "*",
      "COUNT",
      "1000",
    ])) as [string, string[]];
    cursor = next;
    keys.push(...batch);
  } while (cursor !== "0");
  return keys;
}
