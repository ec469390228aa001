/**
 * The per-user index of the Redis stores (a Redis set per user, holding the
 * user's session keys), checked in real Redis: on the shared single node
 * through node-redis (RESP3 and RESP2), ioredis and Webdis (both
 * transports), and on a 3-master Redis Cluster this file starts, through the
 * cluster clients of node-redis and ioredis, once with a plain key prefix
 * (the user's set and the sessions in different slots, kept in separate
 * steps) and once with a `{hash tag}` prefix (one slot, one script).
 *
 * - members whose session ended (Redis's TTL, the store's clock), was deleted
 *   or moved to another user behind the index are pruned when listed;
 * - `deleteByUser` removes the user's sessions but the excepted ones, and
 *   the members with them;
 * - the set's TTL covers its longest-lived member, and is never pulled in;
 * - a change of the session's user or ID moves its member;
 * - increments are added in Redis: 50 concurrent `update()` calls adding 1
 *   to one key land exactly (+50), and a stored value adds up as
 *   `incremented` in `src/store.ts` says.
 *
 * The only fake is the clock: the stores take `now` as an argument.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createClient, createCluster } from "redis";
import { Cluster, Redis } from "ioredis";
import {
  emptyFields,
  incremented,
  type JsonFields,
  type SessionChange,
  type SessionRecord,
} from "../src/store.ts";
import { RedisStore } from "../src/stores/redis.ts";
import { WebdisStore } from "../src/stores/webdis.ts";
import type { RedisSessionLogic } from "../src/stores/redis_logic.ts";
import {
  type OwnCluster,
  requireSharedRedis,
  SHARED_REDIS_URL,
  startOwnCluster,
} from "./kit/redis.ts";
import { type OwnWebdis, startWebdis, WEBDIS_TRANSPORTS } from "./kit/webdis.ts";
import { dropPrefix, uniquePrefix } from "./helpers/redis_targets.ts";

/** One way to reach Redis: a store factory, and a raw command to look at what it wrote. */
interface Target {
  readonly name: string;
  /** Whether the script keeps the index itself (single node, or a one-slot prefix). */
  readonly inline: boolean;
  store(): RedisSessionLogic;
  raw(key: string, args: string[]): Promise<unknown>;
}

function fields(entries: Record<string, string>): JsonFields {
  const out = emptyFields();
  for (const [k, v] of Object.entries(entries)) out[k] = v;
  return out;
}

function record(now: number, lifeMs: number, userId?: string): SessionRecord {
  const r: SessionRecord = {
    data: fields({ n: "1" }),
    flash: emptyFields(),
    createdAt: now,
    expiresAt: now + lifeMs,
  };
  if (userId !== undefined) r.userId = userId;
  return r;
}

function change(partial: Partial<SessionChange> & { expiresAt: number }): SessionChange {
  return { clear: false, set: emptyFields(), delete: [], flash: null, ...partial };
}

async function members(t: Target, store: RedisSessionLogic, userId: string): Promise<string[]> {
  const set = store.userSetKey(userId);
  return ((await t.raw(set, ["SMEMBERS", set])) as string[]).map(String).sort();
}

async function pttl(t: Target, key: string): Promise<number> {
  return Number(await t.raw(key, ["PTTL", key]));
}

/**
 * The set's TTL covers every member's: read the set's first, so a member
 * read later (with less time left) cannot look longer-lived than it is.
 */
async function assertSetCovers(
  t: Target,
  store: RedisSessionLogic,
  userId: string,
): Promise<number> {
  const set = store.userSetKey(userId);
  const setTtl = await pttl(t, set);
  for (const key of await members(t, store, userId)) {
    const ttl = await pttl(t, store.redisKey(key));
    if (ttl === -1) assert.equal(setTtl, -1, `${t.name}: ${key} never expires, nor may its set`);
    else if (setTtl !== -1) {
      assert.ok(setTtl >= ttl, `${t.name}: set PTTL ${setTtl} < member ${key}'s ${ttl}`);
    }
  }
  return setTtl;
}

describe("Redis stores: the per-user index heals itself", () => {
  const targets: Target[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  let cluster: OwnCluster | undefined;

  before(async () => {
    await requireSharedRedis();
    const raw = createClient({ url: SHARED_REDIS_URL });
    raw.on("error", () => {});
    const resp3 = createClient({ url: SHARED_REDIS_URL });
    resp3.on("error", () => {});
    const resp2 = createClient({ url: SHARED_REDIS_URL, RESP: 2 });
    resp2.on("error", () => {});
    await Promise.all([raw.connect(), resp3.connect(), resp2.connect()]);
    const io = new Redis(6379, "127.0.0.1");
    io.on("error", () => {});
    const prefixes: string[] = [];
    cleanups.push(async () => {
      for (const p of prefixes) await dropPrefix(raw, p);
      await Promise.all([raw.close(), resp3.close(), resp2.close()]);
      io.disconnect();
    });
    const rawSingle = (_key: string, args: string[]) => raw.sendCommand(args);
    const single = (name: string, make: (prefix: string) => RedisSessionLogic): Target => ({
      name,
      inline: true,
      store: () => {
        const p = uniquePrefix("users");
        prefixes.push(p);
        return make(p);
      },
      raw: rawSingle,
    });
    targets.push(
      single("RedisStore (node-redis, RESP3)", (p) => new RedisStore(resp3, p)),
      single("RedisStore (node-redis, RESP2)", (p) => new RedisStore(resp2, p)),
      single("RedisStore (ioredis)", (p) => new RedisStore(io, p)),
    );
    const webdis: OwnWebdis = await startWebdis({ redisPort: 6379 });
    const webdisStores: WebdisStore[] = [];
    cleanups.push(async () => {
      for (const s of webdisStores) await s.close();
      await webdis.dispose();
    });
    for (const transport of WEBDIS_TRANSPORTS) {
      targets.push(single(`WebdisStore (${transport})`, (keyPrefix) => {
        const store = new WebdisStore({ url: webdis.url, keyPrefix, transport });
        webdisStores.push(store);
        return store;
      }));
    }

    cluster = await startOwnCluster();
    const nodeCluster = createCluster({ rootNodes: cluster.urls.map((url) => ({ url })) });
    nodeCluster.on("error", () => {});
    await nodeCluster.connect();
    const ioCluster = new Cluster(cluster.ports.map((port) => ({ host: "127.0.0.1", port })));
    ioCluster.on("error", () => {});
    cleanups.push(async () => {
      await nodeCluster.close().catch(() => {});
      ioCluster.disconnect();
      await cluster?.dispose();
    });
    const rawCluster = (key: string, args: string[]) => nodeCluster.sendCommand(key, false, args);
    let n = 0;
    for (const tagged of [false, true]) {
      const prefix = () => tagged ? `{oaktest_tag${n++}}_` : uniquePrefix("cusers");
      const how = tagged ? "{hash tag} prefix" : "plain prefix";
      targets.push(
        {
          name: `RedisStore (node-redis cluster, ${how})`,
          inline: tagged,
          store: () => new RedisStore(nodeCluster, prefix()),
          raw: rawCluster,
        },
        {
          name: `RedisStore (ioredis Cluster, ${how})`,
          inline: tagged,
          store: () => new RedisStore(ioCluster, prefix()),
          raw: rawCluster,
        },
      );
    }
  });

  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it("members whose session ended, was deleted or moved behind the index are pruned when listed", async () => {
    for (const t of targets) {
      const store = t.store();
      const now = Date.now();
      for (const key of ["alive", "deleted", "ttl", "ended", "moved"]) {
        await store.create(key, record(now, key === "ended" ? 1_000 : 60_000, "ann"), now);
      }
      await store.create("other", record(now, 60_000, "bob"), now);
      assert.deepEqual(
        await members(t, store, "ann"),
        ["alive", "deleted", "ended", "moved", "ttl"],
        t.name,
      );
      // Behind the index: a DEL, an expiry in the past (Redis removes the key
      // at once, as its TTL would), and another user written into the hash.
      const rk = (key: string) => store.redisKey(key);
      await t.raw(rk("deleted"), ["DEL", rk("deleted")]);
      await t.raw(rk("ttl"), ["PEXPIREAT", rk("ttl"), "1"]);
      await t.raw(rk("moved"), ["HSET", rk("moved"), "m:u", "bob"]);
      const later = now + 2_000; // "ended" is over by then
      const listed = await store.listByUser("ann", later);
      assert.deepEqual(listed.map((s) => s.key), ["alive"], t.name);
      assert.equal(listed[0].record.userId, "ann", t.name);
      assert.equal(listed[0].record.data.n, "1", t.name);
      assert.deepEqual(await members(t, store, "ann"), ["alive"], `${t.name}: pruned`);
      assert.deepEqual((await store.listByUser("bob", later)).map((s) => s.key), ["other"]);
      assert.deepEqual(await store.listByUser("nobody", later), [], t.name);
    }
  });

  it("delete(key) takes the member out at once where it can (one node or slot); listing heals the rest", async () => {
    for (const t of targets) {
      const store = t.store();
      const now = Date.now();
      await store.create("a", record(now, 60_000, "ann"), now);
      await store.create("b", record(now, 60_000, "ann"), now);
      await store.delete("a");
      assert.deepEqual(await members(t, store, "ann"), t.inline ? ["b"] : ["a", "b"], t.name);
      assert.deepEqual((await store.listByUser("ann", now)).map((s) => s.key), ["b"], t.name);
      assert.deepEqual(await members(t, store, "ann"), ["b"], t.name);
    }
  });

  it("deleteByUser removes the user's sessions but the excepted ones, and their members", async () => {
    for (const t of targets) {
      const store = t.store();
      const now = Date.now();
      await store.create("dead", record(now, 1_000, "ann"), now);
      for (const key of ["keep", "c", "d"]) {
        await store.create(key, record(now, 60_000, "ann"), now);
      }
      await store.create("bobs", record(now, 60_000, "bob"), now);
      const later = now + 2_000;
      // "dead" is over at `later`: removed, not counted.
      assert.equal(await store.deleteByUser("ann", ["keep", "not-a-member"], later), 2, t.name);
      assert.notEqual(await store.get("keep", later), null, t.name);
      assert.equal(await store.get("c", later), null, t.name);
      assert.equal(await store.get("d", later), null, t.name);
      assert.equal(await t.raw(store.redisKey("dead"), ["EXISTS", store.redisKey("dead")]), 0);
      assert.notEqual(await store.get("bobs", later), null, `${t.name}: another user's stays`);
      assert.deepEqual(await members(t, store, "ann"), ["keep"], t.name);
      assert.deepEqual((await store.listByUser("ann", later)).map((s) => s.key), ["keep"]);
      assert.equal(await store.deleteByUser("ann", ["keep"], later), 0, t.name);
      assert.equal(await store.deleteByUser("ann", [], later), 1, t.name);
      assert.equal(await store.get("keep", later), null, t.name);
      assert.deepEqual(await members(t, store, "ann"), [], t.name);
      assert.deepEqual((await store.listByUser("bob", later)).map((s) => s.key), ["bobs"]);
    }
  });

  it("the user's set lives at least as long as its longest-lived member, and is never pulled in", async () => {
    for (const t of targets) {
      const store = t.store();
      const now = Date.now();
      const set = store.userSetKey("ann");
      await store.create("a", record(now, 60_000, "ann"), now);
      await store.create("b", record(now, 120_000, "ann"), now);
      assert.ok(await assertSetCovers(t, store, "ann") > 60_000, t.name);
      assert.equal(
        await store.update("a", change({ expiresAt: now + 300_000, lastSeenAt: now + 5 }), now),
        true,
      );
      assert.ok(await assertSetCovers(t, store, "ann") > 120_000, `${t.name}: pushed`);
      assert.equal(await store.update("a", change({ expiresAt: now + 10_000 }), now), true);
      assert.ok(await pttl(t, set) > 250_000, `${t.name}: the set's TTL was pulled in`);
      // A rotation moves the member, and carries the set's TTL with the new key.
      assert.equal(
        await store.rotate("b", "b2", change({ expiresAt: now + 400_000 }), now),
        true,
        t.name,
      );
      assert.deepEqual(await members(t, store, "ann"), ["a", "b2"], t.name);
      assert.ok(await assertSetCovers(t, store, "ann") > 300_000, `${t.name}: rotated`);
      // A session that never expires makes a set that never expires.
      await store.create("forever", record(now, Infinity, "ann"), now);
      assert.equal(await assertSetCovers(t, store, "ann"), -1, t.name);
    }
  });

  it("a change of the session's user moves its member; unbinding removes it", async () => {
    for (const t of targets) {
      const store = t.store();
      const now = Date.now();
      await store.create("s", record(now, 60_000), now);
      assert.equal(
        await store.update("s", change({ expiresAt: now + 60_000, userId: "ann" }), now),
        true,
      );
      assert.deepEqual(await members(t, store, "ann"), ["s"], t.name);
      assert.equal((await store.get("s", now))?.userId, "ann", t.name);
      assert.equal(
        await store.update("s", change({ expiresAt: now + 90_000, userId: "bob" }), now),
        true,
      );
      assert.deepEqual(await members(t, store, "ann"), [], t.name);
      assert.deepEqual(await members(t, store, "bob"), ["s"], t.name);
      await assertSetCovers(t, store, "bob");
      // Rotation with a new user at once (a login that regenerates).
      assert.equal(
        await store.rotate("s", "s2", change({ expiresAt: now + 90_000, userId: "cy" }), now),
        true,
      );
      assert.deepEqual(await members(t, store, "bob"), [], t.name);
      assert.deepEqual(await members(t, store, "cy"), ["s2"], t.name);
      assert.equal(
        await store.update("s2", change({ expiresAt: now + 90_000, userId: null }), now),
        true,
      );
      assert.deepEqual(await members(t, store, "cy"), [], t.name);
      const back = await store.get("s2", now);
      assert.equal(back?.userId, undefined, t.name);
      assert.equal(back?.data.n, "1", t.name);
      // An update of a session that is gone indexes nothing for long.
      assert.equal(
        await store.update("gone", change({ expiresAt: now + 1, userId: "dee" }), now),
        false,
      );
      assert.deepEqual(await store.listByUser("dee", now), [], t.name);
      assert.deepEqual(await members(t, store, "dee"), [], t.name);
    }
  });

  it("user IDs and meta that cannot travel raw round-trip, each user with its own set", async () => {
    const users = ["a\u0000b", "\uD800x", '"quoted"', "quoted", "sp ace/sl:ash%.json", "😀"];
    for (const t of targets) {
      const store = t.store();
      const now = Date.now();
      for (const [i, userId] of users.entries()) {
        const r = record(now, 60_000, userId);
        r.lastSeenAt = now + i;
        r.meta = JSON.stringify({ ua: "x\u0000y", i });
        await store.create(`k${i}`, r, now);
      }
      for (const [i, userId] of users.entries()) {
        const listed = await store.listByUser(userId, now);
        assert.deepEqual(
          listed.map((s) => s.key),
          [`k${i}`],
          `${t.name}: ${JSON.stringify(userId)}`,
        );
        assert.equal(listed[0].record.userId, userId, t.name);
        assert.equal(listed[0].record.lastSeenAt, now + i, t.name);
        assert.equal(listed[0].record.meta, JSON.stringify({ ua: "x\u0000y", i }), t.name);
      }
      assert.equal(await store.deleteByUser('"quoted"', [], now), 1, t.name);
      assert.notEqual(await store.get("k3", now), null, `${t.name}: "quoted" is another user`);
      assert.equal(await store.get("k2", now), null, t.name);
    }
  });

  it("increments add up in Redis as incremented() says", async () => {
    const stored: Array<string | undefined> = [
      undefined,
      "1",
      "-2.5",
      "0.1",
      "1e21",
      "9007199254740991",
      "-0",
      "1.7976931348623157e308",
      "1e400",
      '"7"',
      "null",
      "true",
      "[1]",
      '{"n":1}',
    ];
    const amounts = [1, 0.2, -1e21, 1.7976931348623157e308, -0.5];
    for (const t of targets) {
      const store = t.store();
      const now = Date.now();
      const data = emptyFields();
      const increment = Object.create(null) as Record<string, number>;
      const expected = emptyFields();
      stored.forEach((value, i) => {
        amounts.forEach((by, j) => {
          const name = `k${i}_${j}`;
          if (value !== undefined) data[name] = value;
          increment[name] = by;
          const next = incremented(value, by) ?? value;
          if (next !== undefined) expected[name] = next;
        });
      });
      await store.create("s", { ...record(now, 60_000), data }, now);
      assert.equal(
        await store.update("s", change({ expiresAt: now + 60_000, increment }), now),
        true,
      );
      const got = (await store.get("s", now))!.data;
      assert.deepEqual(Object.keys(got).sort(), Object.keys(expected).sort(), t.name);
      for (const name in expected) {
        if (expected[name] === data[name]) {
          assert.equal(got[name], data[name], `${t.name}: ${name} left alone`);
        } else {
          // Same double; the text is JSON number text (not always JavaScript's shortest).
          assert.ok(
            Object.is(JSON.parse(got[name]), JSON.parse(expected[name])),
            `${t.name}: ${name}: ${got[name]} vs ${expected[name]}`,
          );
        }
      }
      // clear, set, delete, then increment: in one change, in that order.
      assert.equal(
        await store.update(
          "s",
          change({
            clear: true,
            set: fields({ a: "5", b: '"x"' }),
            delete: ["b"],
            increment: Object.assign(Object.create(null), { a: 1, b: 2, k1_0: 3 }),
            expiresAt: now + 60_000,
          }),
          now,
        ),
        true,
      );
      assert.deepEqual(
        { ...(await store.get("s", now))!.data },
        { a: "6", b: "2", k1_0: "3" },
        t.name,
      );
    }
  });

  it("50 concurrent update() calls each adding 1 to one key land exactly (+50)", async () => {
    for (const t of targets) {
      const store = t.store();
      const now = Date.now();
      await store.create("s", record(now, 60_000, "ann"), now);
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          store.update(
            "s",
            change({
              set: fields({ [`mine${i}`]: String(i) }),
              increment: Object.assign(Object.create(null), { hits: 1, n: 0.5 }),
              expiresAt: now + 60_000,
            }),
            now,
          )),
      );
      assert.ok(results.every((r) => r), t.name);
      const data = (await store.get("s", now))!.data;
      assert.equal(data.hits, "50", t.name);
      assert.equal(data.n, "26", t.name);
      for (let i = 0; i < 50; i++) assert.equal(data[`mine${i}`], String(i), t.name);
    }
  });
});
