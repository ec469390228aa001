/**
 * Redis (or the Redis behind Webdis) going away mid-run: requests that need
 * the store fail with 503 (`SessionStoreError`), nothing crashes and no
 * promise rejection goes unhandled; once Redis is back, the same store and
 * client serve the next requests, with the sessions stored before the outage
 * intact. A hung Redis (SIGSTOP) fails requests after the store's timeout
 * instead of holding them. The test runs its own redis-server and Webdis on
 * spare ports so it can stop them.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { createClient } from "redis";
import { Redis } from "ioredis";
import { RedisStore } from "../src/stores/redis.ts";
import { WebdisStore } from "../src/stores/webdis.ts";
import type { ServerStore } from "../src/store.ts";
import type { CookieClient } from "./kit/http_client.ts";
import { type OwnRedis, startOwnRedis } from "./kit/redis.ts";
import { type OwnWebdis, startWebdis } from "./kit/webdis.ts";
import { letTimePass, waitFor } from "./kit/waiting.ts";
import { type SessionApp, startSessionApp } from "./helpers/redis_http.ts";

interface Subject {
  name: string;
  app: SessionApp;
  user: CookieClient;
}

/** Retry `GET /get` until it answers 200 (Redis clients reconnect with a backoff). */
async function eventuallyOk(s: Subject): Promise<{ status: number; text: string }> {
  let last = { status: 0, text: "" };
  const ok = async () => (last = await s.user.get("/get")).status === 200;
  if (await waitFor(ok, { timeoutMs: 30_000, intervalMs: 200 }).catch(() => false)) return last;
  assert.fail(`${s.name}: still ${last.status} 30 s after Redis came back`);
}

describe("Redis outage: 503 while down, back to work without a restart", () => {
  let redis: OwnRedis;
  let webdis: OwnWebdis;
  let nodeRedis: ReturnType<typeof createClient>;
  let ioredis: Redis;
  const subjects: Subject[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  before(async () => {
    process.on("unhandledRejection", onUnhandled);
    redis = await startOwnRedis();
    webdis = await startWebdis({ redisPort: redis.port });
    nodeRedis = createClient({ url: redis.url });
    // As the docs ask: a node-redis client without an error listener crashes the process.
    nodeRedis.on("error", () => {});
    await nodeRedis.connect();
    ioredis = new Redis(redis.port, "127.0.0.1");
    ioredis.on("error", () => {});
    const stores: Array<[string, ServerStore]> = [
      ["RedisStore (node-redis)", new RedisStore(nodeRedis, { timeoutMs: 1000 })],
      ["RedisStore (ioredis)", new RedisStore(ioredis, { timeoutMs: 1000 })],
      ["WebdisStore", new WebdisStore({ url: webdis.url, timeoutMs: 1000 })],
    ];
    for (const [name, store] of stores) {
      const app = await startSessionApp(store, { expireAfterSeconds: 3600 });
      subjects.push({ name, app, user: app.client() });
    }
  });

  after(async () => {
    for (const s of subjects) await s.app.close();
    await nodeRedis?.close().catch(() => {});
    ioredis?.disconnect();
    await webdis?.dispose();
    await redis?.dispose();
    process.off("unhandledRejection", onUnhandled);
  });

  it("stopped Redis: 503, the process lives, then the same clients recover with the data", async () => {
    for (const s of subjects) {
      assert.equal((await s.user.post("/set", { user: "ann" })).status, 200, s.name);
    }
    await redis.stop();
    for (const s of subjects) {
      const read = await s.user.get("/get");
      assert.equal(read.status, 503, `${s.name}: read while Redis is down`);
      assert.equal(read.text, "error SessionStoreError", s.name);
      const write = await s.app.client().post("/set", { cart: [1] });
      assert.equal(write.status, 503, `${s.name}: new session while Redis is down`);
      // A request that does not need the store is still served.
      const anonymous = await s.app.client().get("/get");
      assert.equal(anonymous.status, 200, s.name);
    }
    await redis.start();
    for (const s of subjects) {
      const read = await eventuallyOk(s);
      assert.deepEqual(JSON.parse(read.text), { user: "ann" }, `${s.name}: session lost`);
      assert.equal((await s.user.post("/set", { more: 1 })).status, 200, s.name);
      assert.deepEqual((await s.user.get("/get")).json(), { user: "ann", more: 1 }, s.name);
    }
    await letTimePass(50);
    assert.deepEqual(unhandled, []);
  });

  it("hung Redis: requests fail after the timeout instead of hanging, then recover", async () => {
    redis.pause();
    try {
      const replies = await Promise.all(subjects.map((s) => s.user.get("/get")));
      replies.forEach((r, i) => assert.equal(r.status, 503, subjects[i].name));
    } finally {
      redis.resume();
    }
    for (const s of subjects) {
      assert.deepEqual(JSON.parse((await eventuallyOk(s)).text), { user: "ann", more: 1 }, s.name);
    }
    await letTimePass(50);
    assert.deepEqual(unhandled, []);
  });

  it("stopped Webdis: 503 with a clear cause, then it serves again", async () => {
    const s = subjects.find((x) => x.name === "WebdisStore")!;
    await webdis.stop();
    assert.equal((await s.user.get("/get")).status, 503);
    await webdis.start();
    assert.deepEqual(JSON.parse((await eventuallyOk(s)).text), { user: "ann", more: 1 });
    assert.deepEqual(unhandled, []);
  });
});
