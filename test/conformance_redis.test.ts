/**
 * RedisStore passes the conformance suite on real Redis: with node-redis
 * (RESP3, its default, and RESP2) and ioredis against the shared Redis on
 * 127.0.0.1:6379, and with the cluster clients of node-redis and ioredis
 * against a 3-node Redis Cluster this file starts on spare loopback ports
 * (and stops afterwards).
 */
import { createClient, createCluster } from "redis";
import { Cluster, Redis } from "ioredis";
import { conformance } from "./conformance.ts";
import { RedisStore } from "../src/stores/redis.ts";
import {
  type OwnCluster,
  requireSharedRedis,
  SHARED_REDIS_URL,
  startOwnCluster,
} from "./kit/redis.ts";
import { dropPrefix, uniquePrefix } from "./helpers/redis_targets.ts";

for (const resp of [3, 2] as const) {
  let client: ReturnType<typeof createClient> | undefined;
  let prefix = "";
  conformance({
    name: `RedisStore (node-redis, RESP${resp})`,
    async makeStore() {
      await requireSharedRedis();
      client = createClient({ url: SHARED_REDIS_URL, RESP: resp });
      client.on("error", () => {});
      await client.connect();
      prefix = uniquePrefix(`conf_nr${resp}`);
      return new RedisStore(client, prefix);
    },
    async teardown() {
      if (!client) return;
      await dropPrefix(client, prefix);
      await client.close();
    },
  });
}

{
  let client: Redis | undefined;
  let prefix = "";
  conformance({
    name: "RedisStore (ioredis)",
    async makeStore() {
      await requireSharedRedis();
      client = new Redis(6379, "127.0.0.1");
      client.on("error", () => {});
      prefix = uniquePrefix("conf_io");
      return new RedisStore(client, { keyPrefix: prefix });
    },
    async teardown() {
      if (!client) return;
      const keys = await client.keys(prefix.replace(/[*?[\]\\]/g, "\\$&") + "*");
      if (keys.length) await client.del(...keys);
      client.disconnect();
    },
  });
}

{
  let cluster: OwnCluster | undefined;
  let client: ReturnType<typeof createCluster> | undefined;
  conformance({
    name: "RedisStore (node-redis cluster, 3 masters)",
    async makeStore() {
      cluster = await startOwnCluster();
      client = createCluster({ rootNodes: cluster.urls.map((url) => ({ url })) });
      client.on("error", () => {});
      await client.connect();
      return new RedisStore(client);
    },
    async teardown() {
      await client?.close().catch(() => {});
      await cluster?.dispose();
    },
  });
}

{
  let cluster: OwnCluster | undefined;
  let client: Cluster | undefined;
  conformance({
    name: "RedisStore (ioredis Cluster, 3 masters)",
    async makeStore() {
      cluster = await startOwnCluster();
      client = new Cluster(cluster.ports.map((port) => ({ host: "127.0.0.1", port })));
      client.on("error", () => {});
      return new RedisStore(client);
    },
    async teardown() {
      client?.disconnect();
      await cluster?.dispose();
    },
  });
}
