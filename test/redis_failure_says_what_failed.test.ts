/**
 * When Redis is down, the 503 comes with an error that says what failed:
 * what the store was doing (reading, creating a session...), the command
 * (HGETALL, EVALSHA...) and why (the connection refused, a timeout, the
 * error's class when the client gave no message), and never the session's
 * data. Through a real Oak app over HTTP, with node-redis, ioredis and
 * Webdis (both HTTP clients) in front of a redis-server this file starts and
 * kills, and with a Webdis that is itself gone.
 *
 * Clients may report a failure with an empty message (Node's AggregateError
 * for a connection refused on every address of a dual-stack host): the last
 * test takes a real one from `node:net` and checks it is described.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createConnection } from "node:net";
import { Application } from "@oakserver/oak";
import { createClient } from "redis";
import { Redis } from "ioredis";
import { Session } from "../src/session.ts";
import { SessionStoreError } from "../src/errors.ts";
import type { ServerStore } from "../src/store.ts";
import { RedisStore } from "../src/stores/redis.ts";
import { failureText } from "../src/stores/failure_text.ts";
import { WebdisStore } from "../src/stores/webdis.ts";
import { CookieClient } from "./kit/http_client.ts";
import { serve } from "./kit/oak_server.ts";
import { sparePort } from "./kit/ports.ts";
import { type OwnRedis, startOwnRedis } from "./kit/redis.ts";
import { type OwnWebdis, startWebdis, WEBDIS_TRANSPORTS } from "./kit/webdis.ts";

const SECRET = "cart-holds-secret-item-7f3a";

/** An Oak app over `store` that records every error the session middleware raised. */
async function recordingApp(store: ServerStore) {
  const errors: unknown[] = [];
  const app = new Application({ logErrors: false });
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      errors.push(error);
      const status = (error as { status?: unknown }).status;
      ctx.response.status = typeof status === "number" ? status : 500;
      ctx.response.body = "store down";
    }
  });
  app.use(Session.initMiddleware(store));
  app.use(async (ctx) => {
    if (ctx.request.method === "POST") {
      const body = await ctx.request.body.json();
      for (const k of Object.keys(body)) ctx.state.session.set(k, body[k]);
    }
    ctx.response.body = ctx.state.session.all();
  });
  const server = await serve(app);
  return { errors, server, client: () => new CookieClient(server.url) };
}

/** The one error a 503 request raised: a SessionStoreError saying what, which command and why. */
function assertSaysWhatFailed(
  name: string,
  errors: unknown[],
  what: RegExp,
  command: RegExp,
  cause: RegExp,
): void {
  assert.equal(errors.length, 1, `${name}: one error per failed request`);
  const error = errors.pop();
  assert.ok(error instanceof SessionStoreError, `${name}: ${String(error)}`);
  const { message } = error;
  assert.match(message, what, `${name}: says what the store was doing: ${message}`);
  assert.match(message, command, `${name}: names the command: ${message}`);
  assert.match(message, cause, `${name}: names the cause: ${message}`);
  assert.doesNotMatch(message, /:\s*$/, `${name}: ends in an empty reason: ${message}`);
  assert.ok(!message.includes(SECRET), `${name}: shows session data: ${message}`);
}

// The causes a client may give for a server that is gone: refused, reset or
// closed connections, the store's own timeout, or the client giving up.
const GONE =
  /ECONNREFUSED|ECONNRESET|closed|timed out: Redis did not answer within 1000 ms|retries/i;

describe("Redis down: the 503's error says what failed, which command, and why", () => {
  let redis: OwnRedis;
  let webdis: OwnWebdis;
  let nodeRedis: ReturnType<typeof createClient>;
  let ioredis: Redis;
  const apps: Array<{ name: string; app: Awaited<ReturnType<typeof recordingApp>> }> = [];
  const closers: Array<() => Promise<void>> = [];

  before(async () => {
    redis = await startOwnRedis();
    webdis = await startWebdis({ redisPort: redis.port });
    nodeRedis = createClient({ url: redis.url });
    nodeRedis.on("error", () => {});
    await nodeRedis.connect();
    ioredis = new Redis(redis.port, "127.0.0.1");
    ioredis.on("error", () => {});
    const stores: Array<[string, ServerStore]> = [
      ["RedisStore (node-redis)", new RedisStore(nodeRedis, { timeoutMs: 1000 })],
      ["RedisStore (ioredis)", new RedisStore(ioredis, { timeoutMs: 1000 })],
    ];
    for (const transport of WEBDIS_TRANSPORTS) {
      const store = new WebdisStore({ url: webdis.url, timeoutMs: 1000, transport });
      closers.push(() => store.close());
      stores.push([`WebdisStore (${transport})`, store]);
    }
    for (const [name, store] of stores) apps.push({ name, app: await recordingApp(store) });
  });

  after(async () => {
    for (const { app } of apps) app.server.close();
    for (const close of closers) await close();
    // destroy, not close: close waits for the queued commands of a server that is gone.
    nodeRedis?.destroy();
    ioredis?.disconnect();
    await webdis?.dispose();
    await redis?.dispose();
  });

  it("Redis killed: a read names HGETALL, a new session EVALSHA, each with its cause", async () => {
    const users = new Map<string, CookieClient>();
    for (const { name, app } of apps) {
      const user = app.client();
      assert.equal((await user.post("/", { cart: SECRET })).status, 200, name);
      users.set(name, user);
    }
    await redis.dispose();
    for (const { name, app } of apps) {
      const webdis = name.startsWith("WebdisStore");
      // Webdis answers for the Redis behind it: HTTP 503.
      const cause = webdis ? /HTTP 503 \(Webdis cannot reach Redis\)/ : GONE;

      const read = await users.get(name)!.get("/");
      assert.equal(read.status, 503, `${name}: read`);
      assertSaysWhatFailed(name, app.errors, /: cannot read a session: /, /\bHGETALL\b/, cause);

      const created = await app.client().post("/", { cart: SECRET });
      assert.equal(created.status, 503, `${name}: new session`);
      assertSaysWhatFailed(
        name,
        app.errors,
        /: cannot create a session: /,
        /\bEVALSHA\b/,
        cause,
      );
    }
  });

  it("Webdis gone too: the connection it could not make, and the command", async () => {
    await webdis.stop();
    for (const { name, app } of apps.filter((a) => a.name.startsWith("WebdisStore"))) {
      const read = await app.client().post("/", { cart: SECRET });
      assert.equal(read.status, 503, name);
      assertSaysWhatFailed(
        name,
        app.errors,
        /^WebdisStore: cannot create a session: EVALSHA: /,
        /\bEVALSHA\b/,
        /could not reach Webdis at http:\/\/127\.0\.0\.1:\d+ \(.*(ECONNREFUSED|Connection refused)/,
      );
    }
  });
});

describe("an error without a message is still described", () => {
  it("a connection refused on both addresses of a dual-stack host (AggregateError)", async () => {
    const port = await sparePort();
    // What a resolver answers for a dual-stack name such as localhost: ::1 and 127.0.0.1.
    const lookup = (
      _host: string,
      _options: unknown,
      done: (error: null, addresses: Array<{ address: string; family: number }>) => void,
    ) => done(null, [{ address: "::1", family: 6 }, { address: "127.0.0.1", family: 4 }]);
    const error = await new Promise<unknown>((resolve) => {
      const socket = createConnection({
        host: "dual-stack.invalid",
        port,
        lookup: lookup as never,
        autoSelectFamily: true,
      });
      socket.once("error", resolve);
    });
    assert.equal((error as Error).message, "", "the runtime's error has no message of its own");
    const text = failureText(error);
    assert.equal(
      text,
      `AggregateError with no message (ECONNREFUSED): connect ECONNREFUSED ::1:${port}; ` +
        `connect ECONNREFUSED 127.0.0.1:${port}`,
    );
  });

  it("a client error with an empty message is named by its class", () => {
    class SocketClosedUnexpectedlyError extends Error {
      override name = "SocketClosedUnexpectedlyError";
    }
    assert.equal(
      failureText(new SocketClosedUnexpectedlyError("")),
      "SocketClosedUnexpectedlyError with no message",
    );
    assert.equal(failureText(new Error("")), "Error with no message");
    const refused = Object.assign(new Error(""), { code: "ECONNREFUSED" });
    assert.equal(
      failureText(new Error("fetch failed", { cause: refused })),
      "fetch failed (cause: Error with no message (ECONNREFUSED))",
    );
  });
});
