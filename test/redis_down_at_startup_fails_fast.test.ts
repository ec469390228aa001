/**
 * Redis down when the app starts: the first request that needs the store
 * answers 503 within the store's `timeoutMs`, never hangs, and its error
 * says why (the client is not connected to Redis). With the fail-fast client
 * options the docs show, `connect()` rejects at once instead of retrying
 * forever, and a request answers 503 at once instead of after the timeout;
 * once connected, such a client still rides out a later outage. Through a
 * real Oak app over HTTP, with real node-redis and ioredis clients aimed at a
 * port where nothing listens, and a redis-server this file stops and starts.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application } from "@oakserver/oak";
import { createClient } from "redis";
import { Redis } from "ioredis";
import { Session } from "../src/session.ts";
import { SessionStoreError } from "../src/errors.ts";
import { RedisStore } from "../src/stores/redis.ts";
import { CookieClient } from "./kit/http_client.ts";
import { serve } from "./kit/oak_server.ts";
import { sparePort } from "./kit/ports.ts";
import { type OwnRedis, startOwnRedis } from "./kit/redis.ts";

/**
 * node-redis as the docs show it for failing fast (the same options, word for
 * word); the docs' error listener logs, the test's collects.
 */
function failFastNodeRedis(url: string, onError: (err: Error) => void) {
  let ready = false;
  const redis = createClient({
    url,
    // A command while the client has no connection fails at once instead of
    // waiting for Redis to come back.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: 2000,
      // Before the first connection: give up, so `await redis.connect()`
      // rejects. After it: reconnect for ever, backing off to 2 s.
      reconnectStrategy: (retries, cause) => ready ? Math.min(2 ** retries * 50, 2000) : cause,
    },
  });
  redis.on("ready", () => (ready = true));
  redis.on("error", onError);
  return redis;
}

/** ioredis as the docs show it for failing fast. */
function failFastIoredis(port: number, onError: (err: Error) => void) {
  const redis = new Redis({
    port,
    host: "127.0.0.1",
    lazyConnect: true, // connect when `await redis.connect()` says so: it rejects when Redis is down
    connectTimeout: 2000,
    enableOfflineQueue: false, // a command while disconnected fails at once
    maxRetriesPerRequest: 1,
  });
  redis.on("error", onError);
  return redis;
}

/** An Oak app over `store` that records the error each failed request raised. */
async function recordingApp(store: RedisStore) {
  const errors: unknown[] = [];
  const app = new Application({ logErrors: false });
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      errors.push(error);
      const status = (error as { status?: unknown }).status;
      ctx.response.status = typeof status === "number" ? status : 500;
    }
  });
  app.use(Session.initMiddleware(store));
  app.use((ctx) => {
    // Setting a value makes the session's first store call (its creation).
    ctx.state.session.set("visits", 1);
    ctx.response.body = "ok";
  });
  const server = await serve(app);
  return { errors, server, client: new CookieClient(server.url) };
}

/** POSTs to the app: the status, how long it took, and the error it raised (if any). */
async function firstRequest(app: Awaited<ReturnType<typeof recordingApp>>) {
  const started = performance.now();
  const reply = await app.client.post("/");
  return { status: reply.status, ms: performance.now() - started, error: app.errors.pop() };
}

function assertStoreError(error: unknown, pattern: RegExp): void {
  assert.ok(error instanceof SessionStoreError, String(error));
  assert.match(error.message, pattern);
}

describe("Redis down at startup: the first store call answers 503 with the reason, never hangs", () => {
  let deadUrl = "";
  let deadPort = 0;
  const cleanups: Array<() => unknown> = [];

  before(async () => {
    deadPort = await sparePort(); // nothing listens there: every connection is refused
    deadUrl = `redis://127.0.0.1:${deadPort}`;
  });

  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  async function appOver(client: unknown, timeoutMs?: number) {
    const app = await recordingApp(
      new RedisStore(client, timeoutMs === undefined ? {} : { timeoutMs }),
    );
    cleanups.push(() => app.server.close());
    return app;
  }

  it("node-redis with default options, connect() left retrying: 503 within timeoutMs, saying it is not connected", async () => {
    const redis = createClient({ url: deadUrl });
    redis.on("error", () => {});
    // With Redis down, this promise would not settle while the client retries.
    const connecting = redis.connect().catch(() => {});
    cleanups.push(async () => {
      redis.destroy();
      await connecting;
    });
    const app = await appOver(redis, 1000);
    const { status, ms, error } = await firstRequest(app);
    assert.equal(status, 503);
    assert.ok(ms < 1000 + 1500, `answered after ${ms} ms`);
    assertStoreError(
      error,
      /timed out: Redis did not answer within 1000 ms \(timeoutMs\); the node-redis client is not connected to Redis \(it is connecting or reconnecting\)/,
    );
  });

  it("node-redis with disableOfflineQueue: 503 at once, long before timeoutMs", async () => {
    const redis = createClient({ url: deadUrl, disableOfflineQueue: true });
    redis.on("error", () => {});
    const connecting = redis.connect().catch(() => {});
    cleanups.push(async () => {
      redis.destroy();
      await connecting;
    });
    const app = await appOver(redis); // the default timeoutMs, 5000
    const { status, ms, error } = await firstRequest(app);
    assert.equal(status, 503);
    assert.ok(ms < 1000, `answered after ${ms} ms`);
    assertStoreError(error, /the node-redis client is not connected to Redis.*offline/);
  });

  it("node-redis with the fail-fast options: connect() rejects with the cause, then 503 at once", async () => {
    const redis = failFastNodeRedis(deadUrl, () => {});
    const started = performance.now();
    await assert.rejects(redis.connect(), /ECONNREFUSED/);
    assert.ok(performance.now() - started < 2000, "connect() gave up at once");
    const app = await appOver(redis);
    const { status, ms, error } = await firstRequest(app);
    assert.equal(status, 503);
    assert.ok(ms < 1000, `answered after ${ms} ms`);
    assertStoreError(
      error,
      /the node-redis client is not connected; call `await client\.connect\(\)`/,
    );
  });

  it("ioredis with default options: 503 within timeoutMs, naming the client's status", async () => {
    const redis = new Redis(deadPort, "127.0.0.1");
    redis.on("error", () => {});
    cleanups.push(() => redis.disconnect());
    const app = await appOver(redis, 1000);
    const { status, ms, error } = await firstRequest(app);
    assert.equal(status, 503);
    assert.ok(ms < 1000 + 1500, `answered after ${ms} ms`);
    assertStoreError(
      error,
      /timed out: Redis did not answer within 1000 ms \(timeoutMs\); the ioredis client is not connected to Redis \(status "(connecting|reconnecting)"\)/,
    );
  });

  it("ioredis with the fail-fast options: connect() rejects with the cause, then 503 at once", async () => {
    const reported: string[] = [];
    const redis = failFastIoredis(deadPort, (err) => reported.push(err.message));
    cleanups.push(() => redis.disconnect());
    const started = performance.now();
    // ioredis rejects with "Connection is closed." and reports the cause to its listener.
    await assert.rejects(redis.connect(), /ECONNREFUSED|Connection is closed/);
    assert.match(reported.join("\n"), /ECONNREFUSED/);
    assert.ok(performance.now() - started < 2000, "connect() gave up at once");
    const app = await appOver(redis);
    const { status, ms, error } = await firstRequest(app);
    assert.equal(status, 503);
    assert.ok(ms < 1000, `answered after ${ms} ms`);
    assertStoreError(error, /the ioredis client is not connected to Redis \(status "\w+"\)/);
  });
});

describe("the fail-fast node-redis client, once connected, rides out an outage", () => {
  let redis: OwnRedis;
  before(async () => {
    redis = await startOwnRedis();
  });
  after(async () => {
    await redis?.dispose();
  });

  it("503 at once while Redis is down, 200 once it is back, without a restart", async () => {
    const client = failFastNodeRedis(redis.url, () => {});
    await client.connect();
    const app = await recordingApp(new RedisStore(client));
    try {
      assert.equal((await firstRequest(app)).status, 200);
      await redis.stop();
      const down = await firstRequest(app);
      assert.equal(down.status, 503);
      assert.ok(down.ms < 1000, `answered after ${down.ms} ms`);
      assertStoreError(down.error, /not connected to Redis/);
      // Not events.once: it rejects on the "error" the client emits for each
      // reconnect attempt that finds Redis still down.
      const reconnected = new Promise((resolve) => client.once("ready", resolve));
      await redis.start();
      await reconnected;
      assert.equal((await firstRequest(app)).status, 200);
    } finally {
      app.server.close();
      client.destroy();
    }
  });
});
