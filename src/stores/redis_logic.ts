/**
 * The session logic shared by `RedisStore` and `WebdisStore`. Both speak to
 * Redis; only the way a command travels differs (a client's socket or
 * Webdis over HTTP), so each gives this module a {@link RedisTransport} and
 * everything else (layout, script, parsing, errors) lives here once.
 *
 * Layout: a session is one Redis hash under `keyPrefix + key` (the key is
 * already the SHA-256 of the session ID). Its fields:
 *
 * - `d:<name>`: JSON text of the user's key `<name>`;
 * - `f:<name>`: JSON text of flash value `<name>`;
 * - `D:"<name>"`, `F:"<name>"`: the same, for a name holding a NUL or a lone
 *   surrogate (which cannot travel raw), the name written as a JSON string;
 * - `m:c`: created-at, milliseconds since the epoch;
 * - `m:e`: expires-at, milliseconds since the epoch (`inf`: never).
 *
 * Reading is one `HGETALL`. Creating, updating and rotating are one Lua
 * script (sent by `EVALSHA`, falling back to `EVAL` when the server does not
 * have it cached), so a change set is applied atomically, touches only the
 * fields it changed, does nothing once the session is gone (delete wins over
 * a slow request), and sets the key's TTL so Redis drops dead sessions by
 * itself.
 *
 * Rotation (a new session ID) is one script over the old and the new key,
 * where both keys can be named in one script: on a single node, and on a
 * Redis Cluster when both keys hash to one slot (a `{hash tag}` in the key
 * prefix). On a cluster where they do not, it is two steps: the script first
 * claims the old key (checks it is alive, removes it, returns it), then the
 * new key is created from what it returned. A failure between the two steps
 * loses the session (its user logs in again); it never brings one back.
 *
 * @module
 */
import { SessionConfigError, SessionStoreError } from "../errors.ts";
import {
  applyChange,
  emptyFields,
  type JsonFields,
  type ServerStore,
  type SessionChange,
  type SessionRecord,
} from "../store.ts";
import {
  checkOriginalKeysOptions,
  OriginalRedisKeys,
  type OriginalRedisKeysSettings,
} from "./redis_original.ts";
import { type NodeCrypto, nodeCrypto } from "../node_builtins.ts";

/**
 * How a command reaches Redis. `call` resolves with the reply as plain
 * values (strings, numbers, `null`, arrays; a hash may come as an array of
 * field/value pairs, a `Map` or an object) and rejects with a
 * {@link RedisReplyError} for an error reply, or with anything else for a
 * transport failure.
 */
export interface RedisTransport {
  /**
   * Send `args` (command name first). `key` is the Redis key it touches (cluster
   * routing; a command over several keys names one of them, all in its slot).
   */
  call(key: string, args: string[]): Promise<unknown>;
  /**
   * `true` for a Redis Cluster client: keys may live on different nodes, so
   * one script may name several keys only when they share a hash slot.
   * Default `false` (a single node).
   */
  readonly cluster?: boolean;
}

/** An error reply from Redis (`-ERR ...`, `-NOSCRIPT ...`), as opposed to a transport failure. */
export class RedisReplyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RedisReplyError";
  }
}

// One script for create (`c`), update (`u`), rotate (`r`: KEYS[1] old, KEYS[2]
// new) and claim (`k`: remove a live session and return its fields). ARGV:
//  1 op, 2 now, 3 expiresAt text, 4 TTL in ms ("inf": none, <= 0: already over),
//  5 createdAt (create) or clear flag (update, rotate), 6 flash flag ("1": replace),
//  7 number of fields to set, 8 number of fields to delete,
//  then the field/value pairs to set, the fields to delete, the flash field/value pairs.
// A claim needs only ARGV 1 and 2.
// Fields are set one call at a time: unpacking thousands of arguments into one
// HSET would overflow Lua's C stack. No argument is ever an empty string, as
// Webdis drops empty path segments.
const WRITE_SCRIPT = `local key = KEYS[1]
local op = ARGV[1]
if op ~= 'c' then
  local e = redis.call('HGET', key, 'm:e')
  if not e then return 0 end
  if e ~= 'inf' then
    local n = tonumber(e)
    if not n or n <= tonumber(ARGV[2]) then return 0 end
  end
  if op == 'k' then
    local h = redis.call('HGETALL', key)
    redis.call('DEL', key)
    return h
  end
  if op == 'r' then
    redis.call('RENAME', key, KEYS[2])
    key = KEYS[2]
  end
  if ARGV[5] == '1' or ARGV[6] == '1' then
    for _, f in ipairs(redis.call('HKEYS', key)) do
      local p = string.lower(string.sub(f, 1, 2))
      if (p == 'd:' and ARGV[5] == '1') or (p == 'f:' and ARGV[6] == '1') then
        redis.call('HDEL', key, f)
      end
    end
  end
else
  redis.call('DEL', key)
  redis.call('HSET', key, 'm:c', ARGV[5])
end
redis.call('HSET', key, 'm:e', ARGV[3])
local i = 9
for _ = 1, tonumber(ARGV[7]) do
  redis.call('HSET', key, ARGV[i], ARGV[i + 1])
  i = i + 2
end
for _ = 1, tonumber(ARGV[8]) do
  redis.call('HDEL', key, ARGV[i])
  i = i + 1
end
if ARGV[6] == '1' then
  while i < #ARGV do
    redis.call('HSET', key, ARGV[i], ARGV[i + 1])
    i = i + 2
  end
end
if ARGV[4] == 'inf' then
  redis.call('PERSIST', key)
elseif tonumber(ARGV[4]) > 0 then
  redis.call('PEXPIRE', key, ARGV[4])
else
  redis.call('DEL', key)
end
return 1`;

/**
 * The SHA-1 of `text` in hex, as `EVALSHA` names a script: with `node:crypto`
 * where the runtime has it (synchronous), else with Web Crypto. `node` is for
 * tests (`null` takes the Web Crypto path).
 */
export function scriptSha1(
  text: string,
  node: NodeCrypto | null | undefined = nodeCrypto,
): string | Promise<string> {
  if (node) return node.createHash("sha1").update(text).digest("hex");
  return crypto.subtle.digest("SHA-1", new TextEncoder().encode(text)).then(
    (digest) => Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join(""),
  );
}

let scriptSha: string | Promise<string> | undefined;

/** SHA-1 of the script, as `EVALSHA` wants it; computed once per process. */
function writeScriptSha(): string | Promise<string> {
  scriptSha ??= scriptSha1(WRITE_SCRIPT);
  return scriptSha;
}

/** The script's source, for tests and for operators who preload it (`SCRIPT LOAD`). */
export const REDIS_WRITE_SCRIPT: string = WRITE_SCRIPT;

const DATA = "d";
const FLASH = "f";
const CREATED = "m:c";
const EXPIRES = "m:e";
// A name Redis or Webdis cannot carry as it is: a NUL (Webdis cuts its C
// strings there) or a lone UTF-16 surrogate (no UTF-8 form).
// deno-lint-ignore no-control-regex -- matching NUL is the point
const UNSAFE_NAME = /[\u0000\uD800-\uDFFF]/u;
const decoder = new TextDecoder();

function timeText(ms: number): string {
  return Number.isFinite(ms) ? String(ms) : "inf";
}

function parseTime(text: string | undefined): number {
  if (text === undefined) return NaN;
  if (text === "inf") return Infinity;
  return text === "" ? NaN : Number(text);
}

/**
 * The hash field of user key `name` (`kind` "d" data, "f" flash): `d:name`,
 * or `D:` + the name as a JSON string when it holds a character that cannot
 * travel raw (JSON escapes it).
 */
function field(kind: string, name: string): string {
  return UNSAFE_NAME.test(name)
    ? kind.toUpperCase() + ":" + JSON.stringify(name)
    : kind + ":" + name;
}

/** The kind ("d"/"f") and user key of hash field `f`, or null for a metadata/foreign field. */
function parseField(f: string): [string, string] | null {
  const kind = f.slice(0, 2);
  if (kind === "d:" || kind === "f:") return [kind[0], f.slice(2)];
  if (kind === "D:" || kind === "F:") {
    try {
      const name: unknown = JSON.parse(f.slice(2));
      return typeof name === "string" ? [kind[0].toLowerCase(), name] : null;
    } catch {
      return null;
    }
  }
  return null;
}

function replyText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return decoder.decode(value);
  return undefined;
}

/**
 * A hash reply as field/value pairs: RESP2 gives a flat array, RESP3 clients
 * a `Map` or a plain object, Webdis a JSON object.
 */
function hashEntries(reply: unknown): Array<[string, string]> | null {
  const out: Array<[string, string]> = [];
  const push = (f: unknown, v: unknown): boolean => {
    const ft = replyText(f);
    const vt = replyText(v);
    if (ft === undefined || vt === undefined) return false;
    out.push([ft, vt]);
    return true;
  };
  if (Array.isArray(reply)) {
    if (reply.length % 2 !== 0) return null;
    for (let i = 0; i < reply.length; i += 2) if (!push(reply[i], reply[i + 1])) return null;
    return out;
  }
  if (reply instanceof Map) {
    for (const [f, v] of reply) if (!push(f, v)) return null;
    return out;
  }
  if (reply !== null && typeof reply === "object" && !(reply instanceof Uint8Array)) {
    for (const f of Object.keys(reply)) {
      if (!push(f, (reply as Record<string, unknown>)[f])) return null;
    }
    return out;
  }
  return null;
}

/** Options of {@link RedisSessionLogic}. */
export interface RedisSessionLogicOptions {
  /** Prefix of every session's Redis key. */
  keyPrefix: string;
  /** Name used in error messages, e.g. `RedisStore`. */
  storeName: string;
  /** Convert the original oak_sessions' keys on a miss (see `redis_original.ts`). */
  original?: OriginalRedisKeysSettings | null;
}

/**
 * The options both Redis stores share, checked: `keyPrefix` (default
 * `"session_"`), `timeoutMs` (default 5000), and those of the original's
 * keys (`originalKeyPrefix`, `log`, `migratedIdleSeconds`).
 */
export function checkRedisOptions(
  storeName: string,
  options: {
    keyPrefix?: unknown;
    timeoutMs?: unknown;
    originalKeyPrefix?: unknown;
    log?: unknown;
    migratedIdleSeconds?: unknown;
  },
): { keyPrefix: string; timeoutMs: number; original: OriginalRedisKeysSettings | null } {
  const keyPrefix = options.keyPrefix ?? "session_";
  if (typeof keyPrefix !== "string") {
    throw new SessionConfigError(
      `${storeName}: keyPrefix must be a string, got ${typeof keyPrefix}`,
    );
  }
  const timeoutMs = options.timeoutMs ?? 5000;
  if (typeof timeoutMs !== "number" || !(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
    throw new SessionConfigError(
      `${storeName}: timeoutMs must be a positive number of milliseconds, got ${String(timeoutMs)}`,
    );
  }
  return { keyPrefix, timeoutMs, original: checkOriginalKeysOptions(storeName, options) };
}

/**
 * The store operations over a {@link RedisTransport}. `RedisStore` and
 * `WebdisStore` extend it, each with its own transport.
 *
 * ```ts
 * const logic = new RedisSessionLogic(transport, { keyPrefix: "session_", storeName: "RedisStore" });
 * const record = await logic.get(key, Date.now());
 * ```
 */
export class RedisSessionLogic implements ServerStore {
  readonly kind = "server" as const;
  readonly #transport: RedisTransport;
  readonly #prefix: string;
  readonly #name: string;
  readonly #cluster: boolean;
  readonly #original: OriginalRedisKeys | null;

  /** The session operations over `transport`, under `options.keyPrefix`. */
  constructor(transport: RedisTransport, options: RedisSessionLogicOptions) {
    if (UNSAFE_NAME.test(options.keyPrefix)) {
      throw new SessionConfigError(
        `${options.storeName}: keyPrefix holds a NUL or a lone UTF-16 surrogate; ` +
          'use printable, well-formed text such as "session_"',
      );
    }
    this.#transport = transport;
    this.#prefix = options.keyPrefix;
    this.#name = options.storeName;
    this.#cluster = transport.cluster === true;
    this.#original = options.original
      ? new OriginalRedisKeys({
        storeName: options.storeName,
        cluster: this.#cluster,
        command: (redisKey, args) => this.#transport.call(redisKey, args),
        create: (key, record, now) => this.create(key, record, now),
      }, options.original)
      : null;
  }

  /** The Redis key of session `key`. */
  redisKey(key: string): string {
    return this.#prefix + key;
  }

  /** The session under `key`, or `null` when it is missing or expired at `now`. One HGETALL. */
  async get(key: string, now: number): Promise<SessionRecord | null> {
    const reply = await this.#call(key, ["HGETALL", this.redisKey(key)]);
    const record = this.#decode(reply, "HGETALL", now);
    // A miss may be a session the original library wrote: convert its keys, read again.
    if (record === null && this.#original !== null && await this.#original.afterMiss(now)) {
      return this.#decode(await this.#call(key, ["HGETALL", this.redisKey(key)]), "HGETALL", now);
    }
    return record;
  }

  /** A hash reply as a session record, or `null` when it holds no live session. */
  #decode(reply: unknown, what: string, now: number): SessionRecord | null {
    const entries = hashEntries(reply);
    if (entries === null) {
      throw new SessionStoreError(
        `${this.#name}: Redis answered ${what} with an unexpected reply (${describe(reply)})`,
      );
    }
    if (entries.length === 0) return null;
    const data = emptyFields();
    const flash = emptyFields();
    let createdAt = NaN;
    let expiresAt = NaN;
    for (const [f, v] of entries) {
      if (f === CREATED) createdAt = parseTime(v);
      else if (f === EXPIRES) expiresAt = parseTime(v);
      else {
        const parsed = parseField(f);
        if (parsed) (parsed[0] === DATA ? data : flash)[parsed[1]] = v;
      }
    }
    // A hash without our metadata is not a session we wrote: treat it as absent.
    if (Number.isNaN(createdAt) || Number.isNaN(expiresAt) || expiresAt <= now) return null;
    return { data, flash, createdAt, expiresAt };
  }

  /** Store a new session (replacing any under that key) and set its TTL. */
  async create(key: string, record: SessionRecord, now: number): Promise<void> {
    const sets = pairs(DATA, record.data);
    const flash = pairs(FLASH, record.flash);
    await this.#write([key], [
      "c",
      String(now),
      timeText(record.expiresAt),
      ttlText(record.expiresAt, now),
      timeText(record.createdAt),
      "1",
      String(sets.length / 2),
      "0",
      ...sets,
      ...flash,
    ]);
  }

  /** Apply `change` atomically if the session still exists; sets its TTL again. */
  async update(key: string, change: SessionChange, now: number): Promise<boolean> {
    return await this.#write([key], changeArgs("u", change, now)) === 1;
  }

  /**
   * Move the session to `newKey` with `change` applied, only if the one under
   * `oldKey` is alive at `now`; returns whether it did. One script over both
   * keys (`RENAME`, then the change), except on a Redis Cluster whose slots
   * for the two keys differ: there the old session is claimed first (one
   * script: check, remove, return it) and the new one created from it, so an
   * ended session is never brought back, though a failure between the two
   * steps loses the session.
   */
  async rotate(
    oldKey: string,
    newKey: string,
    change: SessionChange,
    now: number,
  ): Promise<boolean> {
    if (!this.#cluster || keySlot(this.redisKey(oldKey)) === keySlot(this.redisKey(newKey))) {
      return await this.#write([oldKey, newKey], changeArgs("r", change, now)) === 1;
    }
    const claimed = await this.#eval([oldKey], ["k", String(now)]);
    if (claimed === 0 || claimed === "0") return false;
    // The script checked the expiry; a hash that is not a session reads as gone.
    const record = this.#decode(claimed, "the session script", -Infinity);
    if (record === null) return false;
    await this.create(newKey, applyChange(record, change), now);
    return true;
  }

  /** Remove the session. */
  async delete(key: string): Promise<void> {
    await this.#call(key, ["DEL", this.redisKey(key)]);
  }

  /**
   * Run the session script over `keys` (session keys; the first routes the
   * call): `EVALSHA`, then `EVAL` when the server lost its script cache.
   */
  async #eval(keys: string[], argv: string[]): Promise<unknown> {
    const pending = writeScriptSha();
    const sha = typeof pending === "string" ? pending : await pending;
    const tail = [String(keys.length), ...keys.map((k) => this.redisKey(k)), ...argv];
    try {
      return await this.#transport.call(this.redisKey(keys[0]), ["EVALSHA", sha, ...tail]);
    } catch (error) {
      if (!(error instanceof RedisReplyError && /\bNOSCRIPT\b/.test(error.message))) {
        throw this.#storeError(error);
      }
      return await this.#call(keys[0], ["EVAL", WRITE_SCRIPT, ...tail]);
    }
  }

  /** Run a create, update or rotate: the script answers 1 (done) or 0 (no live session). */
  async #write(keys: string[], argv: string[]): Promise<number> {
    let reply = await this.#eval(keys, argv);
    if (typeof reply === "string" && /^[01]$/.test(reply)) reply = Number(reply);
    if (reply !== 0 && reply !== 1) {
      throw new SessionStoreError(
        `${this.#name}: Redis answered the session script with an unexpected reply (${
          describe(reply)
        })`,
      );
    }
    return reply;
  }

  async #call(key: string, args: string[]): Promise<unknown> {
    try {
      return await this.#transport.call(this.redisKey(key), args);
    } catch (error) {
      throw this.#storeError(error);
    }
  }

  #storeError(error: unknown): SessionStoreError {
    if (error instanceof SessionStoreError) return error;
    const detail = error instanceof Error ? error.message : String(error);
    const what = error instanceof RedisReplyError ? "Redis answered with an error" : "Redis failed";
    return new SessionStoreError(`${this.#name}: ${what}: ${detail}`, { cause: error });
  }
}

/** The script's ARGV for an update (`u`) or rotate (`r`) with `change`. */
function changeArgs(op: "u" | "r", change: SessionChange, now: number): string[] {
  const sets = pairs(DATA, change.set);
  const deletes = change.delete.map((name) => field(DATA, name));
  const flash = change.flash === null ? [] : pairs(FLASH, change.flash);
  return [
    op,
    String(now),
    timeText(change.expiresAt),
    ttlText(change.expiresAt, now),
    change.clear ? "1" : "0",
    change.flash === null ? "0" : "1",
    String(sets.length / 2),
    String(deletes.length),
    ...sets,
    ...deletes,
    ...flash,
  ];
}

const encoder = new TextEncoder();

/**
 * The Redis Cluster hash slot of `key` (CRC16-XMODEM of its UTF-8 bytes,
 * mod 16384), honouring a `{hash tag}`: when the key holds a `{` followed
 * later by a `}` with something between, only that part is hashed. Exposed
 * so tests can compare it with `CLUSTER KEYSLOT`.
 *
 * ```ts
 * keySlot("{user1000}.following") === keySlot("{user1000}.followers"); // true
 * ```
 */
export function keySlot(key: string): number {
  let bytes = encoder.encode(key);
  const open = bytes.indexOf(0x7b);
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc % 16384;
}

function pairs(prefix: string, fields: JsonFields): string[] {
  const out: string[] = [];
  for (const name in fields) out.push(field(prefix, name), fields[name]);
  return out;
}

// Beyond this (over 30,000 years) a TTL is "never": PEXPIRE would overflow.
const MAX_TTL_MS = 1e15;

function ttlText(expiresAt: number, now: number): string {
  const ttl = Math.ceil(expiresAt - now);
  if (Number.isNaN(ttl)) return "0";
  return ttl >= MAX_TTL_MS ? "inf" : String(ttl);
}

function describe(reply: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(reply) ?? String(reply);
  } catch {
    text = String(reply);
  }
  return text.length > 80 ? text.slice(0, 80) + "..." : text;
}
