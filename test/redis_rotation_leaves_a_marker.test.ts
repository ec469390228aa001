/**
 * RedisStore's rotation marker in real Redis: the store contract's marker
 * tests (test/helpers/moved_marker_contract.ts) through node-redis (RESP3
 * and RESP2) and ioredis on the shared Redis, and through the cluster
 * clients of node-redis and ioredis on a 3-master Redis Cluster this file
 * starts: once with a plain key prefix (the old and the new key in different
 * slots, so the rotation is "claim, then create", and the claim leaves the
 * marker) and once with a `{hash tag}` prefix (one script over both keys).
 *
 * Then what is particular to Redis: the marker is a hash of its two fields
 * only, with a real TTL of at most `MOVED_MARKER_MS` (Redis drops it by
 * itself), and it is in no user's set.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createClient, createCluster } from "redis";
import { Cluster, Redis } from "ioredis";
import { emptyFields, MOVED_MARKER_MS, type SessionRecord } from "../src/store.ts";
import { RedisStore } from "../src/stores/redis.ts";
import { keySlot } from "../src/stores/redis_cluster.ts";
import { movedMarkerContract } from "./helpers/moved_marker_contract.ts";
import { changeSet } from "./helpers/changes.ts";
import {
  type OwnCluster,
  requireSharedRedis,
  SHARED_REDIS_URL,
  startOwnCluster,
} from "./kit/redis.ts";
import { dropPrefix, uniquePrefix } from "./helpers/redis_targets.ts";

type NodeRedis = ReturnType<typeof createClient>;
type NodeCluster = ReturnType<typeof createCluster>;

for (const resp of [3, 2] as const) {
  let client: NodeRedis | undefined;
  const prefix = uniquePrefix(`marker_nr${resp}`);
  movedMarkerContract({
    name: `RedisStore (node-redis, RESP${resp})`,
    async makeStore() {
      await requireSharedRedis();
      client = createClient({ url: SHARED_REDIS_URL, RESP: resp });
      client.on("error", () => {});
      await client.connect();
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
  let raw: NodeRedis | undefined;
  const prefix = uniquePrefix("marker_io");
  movedMarkerContract({
    name: "RedisStore (ioredis)",
    async makeStore() {
      await requireSharedRedis();
      client = new Redis(6379, "127.0.0.1");
      client.on("error", () => {});
      return new RedisStore(client, { keyPrefix: prefix });
    },
    async teardown() {
      client?.disconnect();
      raw = createClient({ url: SHARED_REDIS_URL });
      raw.on("error", () => {});
      await raw.connect();
      await dropPrefix(raw, prefix);
      await raw.close();
    },
  });
}

describe("RedisStore on a 3-master Redis Cluster", () => {
  // One cluster for every store below, started by the first that needs it.
  let clusterReady: Promise<OwnCluster> | undefined;
  const started = () => clusterReady ??= startOwnCluster();

  after(async () => {
    await clusterReady?.then((cluster) => cluster.dispose(), () => {});
  });

  for (const tagged of [false, true]) {
    const how = tagged ? "{hash tag} prefix" : "plain prefix";
    const prefix = tagged ? `{oaktest_marker}_${crypto.randomUUID().slice(0, 8)}_` : uniquePrefix(
      "marker_cluster",
    );
    {
      let client: NodeCluster | undefined;
      movedMarkerContract({
        name: `RedisStore (node-redis cluster, ${how})`,
        async makeStore() {
          const own = await started();
          client = createCluster({ rootNodes: own.urls.map((url) => ({ url })) });
          client.on("error", () => {});
          await client.connect();
          return new RedisStore(client, prefix + "nr_");
        },
        async teardown() {
          await client?.close().catch(() => {});
        },
      });
    }
    {
      let client: Cluster | undefined;
      movedMarkerContract({
        name: `RedisStore (ioredis Cluster, ${how})`,
        async makeStore() {
          const own = await started();
          client = new Cluster(own.ports.map((port) => ({ host: "127.0.0.1", port })));
          client.on("error", () => {});
          return new RedisStore(client, prefix + "io_");
        },
        teardown() {
          client?.disconnect();
        },
      });
    }
  }

  describe("the marker in Redis", () => {
    let own: OwnCluster;
    let nodeCluster: NodeCluster;
    let ioCluster: Cluster;
    before(async () => {
      own = await started();
      nodeCluster = createCluster({ rootNodes: own.urls.map((url) => ({ url })) });
      nodeCluster.on("error", () => {});
      await nodeCluster.connect();
      ioCluster = new Cluster(own.ports.map((port) => ({ host: "127.0.0.1", port })));
      ioCluster.on("error", () => {});
    });
    after(async () => {
      await nodeCluster?.close().catch(() => {});
      ioCluster?.disconnect();
    });

    for (const client of ["node-redis", "ioredis"] as const) {
      for (const tagged of [false, true]) {
        it(`${client} cluster, ${tagged ? "{hash tag}" : "plain"} prefix: two fields, a real TTL, in no user set`, async () => {
          const prefix = tagged ? `{oaktest_m${crypto.randomUUID().slice(0, 6)}}_` : uniquePrefix(
            "marker_raw",
          );
          const store = new RedisStore(client === "node-redis" ? nodeCluster : ioCluster, prefix);
          const raw = (key: string, args: string[]) => nodeCluster.sendCommand(key, false, args);
          await assertMarkerInRedis(store, raw, !tagged);
        });
      }
    }
  });
});

describe("RedisStore on a single node: the marker in Redis", () => {
  let raw: NodeRedis;
  let io: Redis;
  const prefixes: string[] = [];
  before(async () => {
    await requireSharedRedis();
    raw = createClient({ url: SHARED_REDIS_URL });
    raw.on("error", () => {});
    await raw.connect();
    io = new Redis(6379, "127.0.0.1");
    io.on("error", () => {});
  });
  after(async () => {
    for (const p of prefixes) await dropPrefix(raw, p);
    await raw.close();
    io.disconnect();
  });

  for (const client of ["node-redis", "ioredis"] as const) {
    it(`${client}: two fields, a real TTL, in no user set`, async () => {
      const prefix = uniquePrefix("marker_raw");
      prefixes.push(prefix);
      const store = new RedisStore(client === "node-redis" ? raw : io, prefix);
      await assertMarkerInRedis(store, (_key, args) => raw.sendCommand(args), false);
    });
  }
});

/**
 * Rotate a session of a user on `store` and look at the old key in Redis.
 * `crossSlot`: pick keys in two different cluster slots (the claim path).
 */
async function assertMarkerInRedis(
  store: RedisStore,
  raw: (key: string, args: string[]) => Promise<unknown>,
  crossSlot: boolean,
): Promise<void> {
  const now = Date.now();
  const oldKey = `old${crypto.randomUUID().slice(0, 8)}`;
  let newKey = `new${crypto.randomUUID().slice(0, 8)}`;
  if (crossSlot) {
    while (keySlot(store.redisKey(newKey)) === keySlot(store.redisKey(oldKey))) newKey += "x";
  }
  const record: SessionRecord = {
    data: emptyFields(),
    flash: emptyFields(),
    createdAt: now,
    expiresAt: now + 3_600_000,
    userId: "marker-user",
  };
  record.data.cart = "1";
  await store.create(oldKey, record, now);
  assert.equal(await store.rotate(oldKey, newKey, changeSet(now + 3_600_000), now), true);

  const oldRedisKey = store.redisKey(oldKey);
  const hash = await raw(oldRedisKey, ["HGETALL", oldRedisKey]);
  const fields = hash instanceof Map
    ? Object.fromEntries([...hash].map(([f, v]) => [String(f), String(v)]))
    : Array.isArray(hash)
    ? Object.fromEntries(
      hash.flatMap((v, i) => (i % 2 === 0 ? [[String(v), String(hash[i + 1])]] : [])),
    )
    : Object.fromEntries(Object.entries(hash as object).map(([f, v]) => [f, String(v)]));
  assert.deepEqual(fields, { "m:mv": String(now), "m:mx": String(now + MOVED_MARKER_MS) });

  const ttl = Number(await raw(oldRedisKey, ["PTTL", oldRedisKey]));
  assert.ok(ttl > 0 && ttl <= MOVED_MARKER_MS, `the marker's PTTL is ${ttl}`);

  const set = store.userSetKey("marker-user");
  const members = ((await raw(set, ["SMEMBERS", set])) as unknown[]).map(String);
  assert.deepEqual(members, [newKey], "the user's set holds the new key only");
  assert.equal((await store.get(oldKey, now))?.movedAt, now);
}
