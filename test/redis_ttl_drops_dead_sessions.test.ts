/**
 * Expiry is Redis's own: once a session's idle timeout passes, its key is
 * gone from Redis with no cleanup call, through every client and Webdis.
 * Real time, a 1-second idle timeout; the test polls EXISTS (with a generous
 * deadline, so it asserts what happens, not how fast).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startSessionApp } from "./helpers/redis_http.ts";
import { waitFor } from "./kit/waiting.ts";
import {
  dropPrefix,
  openRedisTargets,
  type RedisTargets,
  scanPrefix,
  uniquePrefix,
} from "./helpers/redis_targets.ts";

describe("Redis drops dead sessions by itself", () => {
  let t: RedisTargets;
  const prefixes: string[] = [];
  before(async () => {
    t = await openRedisTargets();
  });
  after(async () => {
    for (const p of prefixes) await dropPrefix(t.raw, p);
    await t.close();
  });

  it("after the idle timeout the key is gone, without any cleanup call", async () => {
    await Promise.all(t.targets.map(async (target) => {
      const prefix = uniquePrefix("ttl");
      prefixes.push(prefix);
      const app = await startSessionApp(target.store(prefix), { expireAfterSeconds: 1 });
      try {
        const client = app.client();
        assert.equal((await client.post("/set", { user: "ann" })).status, 200);
        const keys = await scanPrefix(t.raw, prefix);
        assert.equal(keys.length, 1, `${target.name}: one session key`);
        const ttl = await t.raw.pTTL(keys[0]);
        assert.ok(ttl > 0 && ttl <= 1000, `${target.name}: PTTL ${ttl} should be the idle timeout`);
        let exists = 1;
        // Redis expires the key by itself: ask until it is gone (up to 15 s).
        await waitFor(async () => (exists = await t.raw.exists(keys[0])) === 0, {
          timeoutMs: 15_000,
          intervalMs: 100,
        }).catch(() => {});
        assert.equal(exists, 0, `${target.name}: key still in Redis 15 s after a 1 s idle timeout`);
        // The cookie the browser still has now leads to a fresh, empty session.
        const after = await client.get("/get");
        assert.equal(after.status, 200);
        assert.deepEqual(JSON.parse(after.text), {}, target.name);
      } finally {
        await app.close();
      }
    }));
  });
});
