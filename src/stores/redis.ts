/**
 * `RedisStore`: sessions in Redis, through the client the application
 * already has. The client is recognised by its shape, never imported:
 * node-redis (v4 and later, single node or `createCluster`), ioredis (`Redis`
 * or `Cluster`), Deno's `redis` module (`connect()`), old and new, and Bun's
 * `RedisClient`.
 *
 * @module
 */
import { SessionConfigError, SessionStoreError } from "../errors.ts";
import { checkOptionKeys, keysOf } from "../option_keys.ts";
import { failureText } from "./failure_text.ts";
import { checkRedisOptions, RedisSessionLogic, type RedisTransport } from "./redis_logic.ts";
import { RedisReplyError } from "./redis_reply.ts";
import { withDeadline } from "./shared/deadline.ts";
import type { OriginalRedisKeysOptions } from "./redis_original.ts";

/** Keys of `new RedisStore(client, options)`. */
export const REDIS_STORE_OPTION_KEYS: readonly string[] = keysOf<RedisStoreOptions>({
  keyPrefix: true,
  timeoutMs: true,
  originalKeyPrefix: true,
  log: true,
  migratedIdleSeconds: true,
});

/**
 * Options of {@link RedisStore}.
 *
 * ```ts
 * const store = new RedisStore(redis, { keyPrefix: "shop_session_", timeoutMs: 2000 });
 * ```
 */
export interface RedisStoreOptions extends OriginalRedisKeysOptions {
  /** Prefix of every session's Redis key. Default `"session_"`. */
  keyPrefix?: string;
  /**
   * How long one command may take before the request fails with a
   * `SessionStoreError` (503), in milliseconds. Default 5000. It bounds a
   * client that queues commands while it reconnects, which would otherwise
   * hold the request until Redis comes back.
   */
  timeoutMs?: number;
}

type Send = (key: string, args: string[]) => Promise<unknown>;
// deno-lint-ignore no-explicit-any
type AnyClient = Record<string, any>;

const SUPPORTED =
  "pass a connected client of node-redis (createClient() or createCluster(), v4 or later), " +
  "ioredis (new Redis() or new Cluster()), Deno's redis module (connect()) or Bun's RedisClient";

/**
 * Sessions in Redis, one hash per session, expiring by Redis's own TTL (no
 * cleanup job), with a set per user for `listSessions` and `revokeSessions`.
 * `client` is the connection the application already has; the store never
 * closes it. On a Redis Cluster, a `{hash tag}` in the key prefix (e.g.
 * `"{sess}_"`) keeps every key of the store in one slot (so on one node), and
 * rotations and the per-user index are then one atomic script each, as on a
 * single node; without one, they take a few steps each (see
 * `redis_logic.ts` for what holds then).
 *
 * ```ts
 * import { createClient } from "redis";
 * import { RedisStore, Session } from "oak-sessions";
 *
 * const redis = createClient({ url: "redis://127.0.0.1:6379" });
 * redis.on("error", (err) => console.error("redis:", err.message));
 * await redis.connect();
 * app.use(Session.initMiddleware(new RedisStore(redis), { expireAfterSeconds: 3600 }));
 * ```
 *
 * The second argument is the key prefix (as in earlier versions) or
 * {@link RedisStoreOptions}: `new RedisStore(redis, { keyPrefix: "app_", timeoutMs: 2000 })`.
 */
export class RedisStore extends RedisSessionLogic {
  /**
   * A store over `client`: a node-redis, ioredis or Deno redis client (or
   * cluster) the application connected, with a key prefix or {@link RedisStoreOptions}.
   */
  constructor(client: unknown, keyPrefixOrOptions: string | RedisStoreOptions = "session_") {
    const options: RedisStoreOptions = typeof keyPrefixOrOptions === "string"
      ? { keyPrefix: keyPrefixOrOptions }
      : keyPrefixOrOptions;
    if (typeof options !== "object" || options === null) {
      throw new SessionConfigError(
        "RedisStore: the second argument must be a key prefix string or an options object",
      );
    }
    checkOptionKeys("RedisStore", options, REDIS_STORE_OPTION_KEYS);
    const { keyPrefix, timeoutMs, original } = checkRedisOptions("RedisStore", options);
    const { send, cluster, offline } = adapt(client);
    const transport: RedisTransport = {
      call: (key, args) => withTimeout(send(key, args), timeoutMs, offline),
      cluster,
    };
    super(transport, { keyPrefix, storeName: "RedisStore", original });
  }
}

function isFn(client: AnyClient, name: string): boolean {
  return typeof client[name] === "function";
}

/**
 * Why a command of this client cannot reach Redis now (it is not connected,
 * or reconnecting), or `undefined` when it is connected or cannot say.
 */
type Offline = () => string | undefined;

/**
 * A `Send` for the client's shape, whether it is a cluster client (keys may
 * live on different nodes), and what it says of its connection;
 * `SessionConfigError` when the shape is unknown.
 */
function adapt(client: unknown): { send: Send; cluster: boolean; offline: Offline } {
  if (typeof client !== "object" || client === null) {
    throw new SessionConfigError(
      `RedisStore: expected a Redis client, got ${
        client === null ? "null" : typeof client
      }; ${SUPPORTED}`,
    );
  }
  const c = client as AnyClient;
  // ioredis (Redis and Cluster): `call(command, ...args)` routes by the key itself.
  // A Cluster says so with `isCluster` (a plain Redis has it false).
  if (isFn(c, "call")) {
    // Its `status` is "ready" once connected ("wait" before a lazy connect,
    // "connecting", "reconnecting", "end" once it gave up or was closed).
    const offline: Offline = () =>
      typeof c.status === "string" && c.status !== "ready"
        ? `the ioredis client is not connected to Redis (status "${c.status}"); ` +
          "is the server up and reachable?"
        : undefined;
    return {
      send: (_key, args) => tagged(() => c.call(...args), offline),
      cluster: c.isCluster === true,
      offline,
    };
  }
  // node-redis cluster: `sendCommand(firstKey, isReadonly, args)`. Reads go to the master
  // too (isReadonly false): a replica may not have the write the previous request made.
  if (isFn(c, "sendCommand") && (isFn(c, "getSlotMaster") || isFn(c, "getMasters"))) {
    return {
      send: (key, args) => tagged(() => c.sendCommand(key, false, args)),
      cluster: true,
      offline: () => undefined,
    };
  }
  // node-redis client: `sendCommand(args)`; in v4's legacy mode the promise API is `client.v4`.
  if (isFn(c, "sendCommand") && "isOpen" in c) {
    const target: AnyClient = typeof c.v4 === "object" && c.v4 !== null && isFn(c.v4, "sendCommand")
      ? c.v4
      : c;
    // `isOpen` is false before `connect()` and once it gave up; `isReady` is
    // false while it connects or reconnects (its commands wait in the offline
    // queue then, or fail at once with `disableOfflineQueue`).
    const offline: Offline = () =>
      c.isOpen === false
        ? "the node-redis client is not connected; call `await client.connect()` first"
        : c.isReady === false
        ? "the node-redis client is not connected to Redis (it is connecting or reconnecting); " +
          "is the server up and reachable?"
        : undefined;
    const send: Send = (_key, args) => tagged(() => target.sendCommand(args), offline);
    return { send, cluster: false, offline };
  }
  // Deno's redis module: `sendCommand(command, args)` (newer) or `executor.exec(command, ...args)`.
  // Its clients are single-node connections.
  if (isFn(c, "sendCommand") && ("executor" in c || "isConnected" in c)) {
    const send: Send = (_key, [command, ...args]) =>
      tagged(async () => denoReply(await c.sendCommand(command, args), false));
    return { send, cluster: false, offline: () => undefined };
  }
  // Bun's RedisClient: `send(command, args)`, and `connected` (it connects
  // by itself on the first command, and reconnects). A single-node client.
  if (isFn(c, "send") && typeof c.connected === "boolean") {
    const offline: Offline = () =>
      c.connected === false
        ? "the Bun RedisClient is not connected to Redis; is the server up and reachable?"
        : undefined;
    const send: Send = (_key, [command, ...args]) => tagged(() => c.send(command, args), offline);
    return { send, cluster: false, offline };
  }
  const executor = c.executor;
  if (typeof executor === "object" && executor !== null) {
    if (isFn(executor, "sendCommand")) {
      const send: Send = (_key, [command, ...args]) =>
        tagged(async () => denoReply(await executor.sendCommand(command, args), false));
      return { send, cluster: false, offline: () => undefined };
    }
    if (isFn(executor, "exec")) {
      const send: Send = (_key, [command, ...args]) =>
        tagged(async () => denoReply(await executor.exec(command, ...args), true));
      return { send, cluster: false, offline: () => undefined };
    }
  }
  throw new SessionConfigError(
    `RedisStore: the client (${
      c.constructor?.name ?? "object"
    }) is not one RedisStore recognises; ${SUPPORTED}`,
  );
}

const RAW_TAGS = new Set(["status", "integer", "bulk", "array"]);

/**
 * Deno redis replies: a plain value (newer versions), a reply object with
 * `value()` (middle versions), or a `["bulk", value]` tuple (the oldest).
 */
function denoReply(reply: unknown, tuples: boolean): unknown {
  if (reply === undefined) return null;
  if (
    tuples && Array.isArray(reply) && reply.length === 2 && typeof reply[0] === "string" &&
    RAW_TAGS.has(reply[0])
  ) {
    return reply[1] === undefined ? null : reply[1];
  }
  if (
    reply !== null && typeof reply === "object" && !Array.isArray(reply) &&
    typeof (reply as { value?: unknown }).value === "function"
  ) {
    const value = (reply as { value(): unknown }).value();
    return value === undefined ? null : value;
  }
  return reply;
}

/**
 * Run a client call, turning its error replies (NOSCRIPT, WRONGTYPE...) into
 * `RedisReplyError` and leaving transport failures as they are. `hint` adds
 * what the user should do when the failure is their set-up.
 */
async function tagged(
  run: () => Promise<unknown>,
  hint?: () => string | undefined,
): Promise<unknown> {
  try {
    return await run();
  } catch (error) {
    if (isErrorReply(error)) throw new RedisReplyError((error as Error).message);
    const advice = hint?.();
    if (advice) {
      throw new SessionStoreError(`RedisStore: ${advice} (${failureText(error)})`, {
        cause: error,
      });
    }
    throw error;
  }
}

function isErrorReply(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  // node-redis: SimpleError/BlobError (v5+), ErrorReply (v4); ioredis: ReplyError;
  // Deno redis: ErrorReplyError; Bun: a RedisError with code ERR_REDIS_SERVER_ERROR.
  if ((error as { code?: unknown }).code === "ERR_REDIS_SERVER_ERROR") return true;
  const names = [error.name, error.constructor?.name];
  return names.some((n) =>
    typeof n === "string" && /ReplyError|ErrorReply|SimpleError|BlobError/.test(n)
  ) ||
    /\bNOSCRIPT\b/.test(error.message);
}

/**
 * `promise`, or a `SessionStoreError` once `ms` have passed (the timer never
 * outlives it), saying why when the client knows it is not connected.
 */
function withTimeout<T>(promise: Promise<T>, ms: number, offline: Offline): Promise<T> {
  return withDeadline(
    promise,
    ms,
    () =>
      new SessionStoreError(
        `RedisStore: timed out: Redis did not answer within ${ms} ms (timeoutMs); ` +
          (offline() ?? "is the server up and reachable?"),
      ),
  );
}
