/**
 * RedisStore recognises the client it is given by its shape, and anything
 * else is a `SessionConfigError` that names the clients it takes. The Deno
 * `redis` module cannot be installed here, so its three generations of API
 * are reproduced as thin adapters over a real node-redis connection to a real
 * Redis (the test's own server, so it may flush the script cache):
 * `sendCommand(command, args)` with plain replies (current), the same with
 * reply objects that have `value()` (middle versions, as in the seed's
 * v0.22), and `executor.exec(command, ...args)` with `["bulk", value]` tuples
 * (the oldest). Redis errors reach them as the module's `ErrorReplyError`.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createClient, RESP_TYPES } from "redis";
import { SessionConfigError, SessionStoreError } from "../src/errors.ts";
import { emptyFields, type ServerStore } from "../src/store.ts";
import { RedisStore } from "../src/stores/redis.ts";
import { type OwnRedis, startOwnRedis } from "./kit/redis.ts";

/** How Deno's redis module reports an error reply. */
class ErrorReplyError extends Error {
  override name = "ErrorReplyError";
}

type Raw = ReturnType<typeof createClient>;

async function forward(raw: Raw, command: string, args: unknown[]): Promise<unknown> {
  try {
    return await raw.sendCommand([command, ...args.map(String)]);
  } catch (error) {
    throw new ErrorReplyError((error as Error).message);
  }
}

function tag(reply: unknown): [string, unknown] {
  if (Array.isArray(reply)) return ["array", reply];
  if (typeof reply === "number") return ["integer", reply];
  return ["bulk", reply === null ? undefined : reply];
}

/** The three generations of Deno redis's low-level API, over `raw`. */
function denoShapes(raw: Raw): Array<[string, unknown]> {
  return [
    ["Deno redis, sendCommand with plain replies", {
      isConnected: true,
      isClosed: false,
      executor: {},
      sendCommand: (command: string, args: unknown[] = []) => forward(raw, command, args),
    }],
    ["Deno redis, sendCommand with value() replies", {
      isConnected: true,
      isClosed: false,
      executor: {},
      sendCommand: async (command: string, args: unknown[] = []) => {
        const reply = await forward(raw, command, args);
        const [type, value] = tag(reply);
        return { type, value: () => value };
      },
    }],
    ["Deno redis, executor.exec with tuples", {
      isConnected: true,
      isClosed: false,
      executor: {
        exec: async (command: string, ...args: unknown[]) => tag(await forward(raw, command, args)),
      },
    }],
  ];
}

async function cycle(store: ServerStore, raw: Raw, name: string): Promise<void> {
  const now = Date.now();
  const key = crypto.randomUUID();
  const data = emptyFields();
  data.a = '"x"';
  await raw.sendCommand(["SCRIPT", "FLUSH"]);
  await store.create(
    key,
    { data, flash: emptyFields(), createdAt: now, expiresAt: now + 60_000 },
    now,
  );
  assert.deepEqual({ ...(await store.get(key, now))?.data }, { a: '"x"' }, name);
  assert.equal(await store.get("missing", now), null, name);
  const set = emptyFields();
  set.b = "2";
  await raw.sendCommand(["SCRIPT", "FLUSH"]);
  assert.equal(
    await store.update(key, {
      clear: false,
      set,
      delete: ["a"],
      flash: null,
      expiresAt: now + 60_000,
    }, now),
    true,
    name,
  );
  assert.deepEqual({ ...(await store.get(key, now))?.data }, { b: "2" }, name);
  await store.delete(key);
  assert.equal(
    await store.update(
      key,
      { clear: false, set, delete: [], flash: null, expiresAt: now + 60_000 },
      now,
    ),
    false,
    name,
  );
}

describe("RedisStore recognises clients by shape", () => {
  let redis: OwnRedis;
  let raw: Raw;
  before(async () => {
    redis = await startOwnRedis();
    raw = createClient({ url: redis.url });
    raw.on("error", () => {});
    await raw.connect();
  });
  after(async () => {
    await raw?.close();
    await redis?.dispose();
  });

  it("each generation of Deno's redis client works, including after the script cache is flushed", async () => {
    for (const [name, client] of denoShapes(raw)) await cycle(new RedisStore(client), raw, name);
  });

  it("node-redis with type mappings (hashes as Map, strings as Buffer) works the same", async () => {
    const mapped = raw.withTypeMapping({ [RESP_TYPES.MAP]: Map, [RESP_TYPES.BLOB_STRING]: Buffer });
    await cycle(new RedisStore(mapped), raw, "node-redis withTypeMapping");
  });

  it("a node-redis client not yet connected: SessionStoreError saying to connect()", async () => {
    const client = createClient({ url: redis.url });
    const error = await new RedisStore(client).get("k", Date.now()).then(
      () => assert.fail("expected a failure"),
      (e) => e,
    );
    assert.ok(error instanceof SessionStoreError);
    assert.match(error.message, /not connected; call `await client\.connect\(\)` first/);
  });

  it("anything else: SessionConfigError naming the supported clients", () => {
    const others: unknown[] = [
      undefined,
      null,
      "redis://127.0.0.1:6379",
      42,
      {},
      { get() {}, set() {} },
      { executor: {} },
      fetch,
    ];
    for (const other of others) {
      assert.throws(() => new RedisStore(other), (error: unknown) => {
        assert.ok(error instanceof SessionConfigError, String(other));
        assert.match(error.message, /node-redis .*ioredis .*Deno's redis module/);
        return true;
      });
    }
  });

  it("bad options: SessionConfigError", () => {
    const client = createClient({ url: redis.url });
    for (const options of [{ timeoutMs: 0 }, { timeoutMs: Infinity }, { keyPrefix: 1 }, null]) {
      assert.throws(() => new RedisStore(client, options as never), SessionConfigError);
    }
    assert.throws(() => new RedisStore(client, "\uD800"), SessionConfigError);
  });
});
