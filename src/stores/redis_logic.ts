/**
 * The session logic shared by `RedisStore` and `WebdisStore`. Both speak to
 * Redis; only the way a command travels differs (a client's socket or
 * Webdis over HTTP), so each gives this module a {@link RedisTransport} and
 * everything else (layout, script, parsing, errors) lives here once.
 *
 * Layout: a session is one Redis hash under `keyPrefix + key` (the key is
 * already the SHA-256 of the session ID, 43 base64url characters). Its fields:
 *
 * - `d:<name>`: JSON text of the user's key `<name>`;
 * - `f:<name>`: JSON text of flash value `<name>`;
 * - `D:"<name>"`, `F:"<name>"`: the same, for a name holding a NUL or a lone
 *   surrogate (which cannot travel raw), the name written as a JSON string;
 * - `m:c`: created-at, milliseconds since the epoch;
 * - `m:e`: expires-at, milliseconds since the epoch (`inf`: never);
 * - `m:s`: last-seen-at, milliseconds since the epoch (absent: created-at);
 * - `m:m`: the session's meta (JSON text), when it has one;
 * - `m:u`: the user it is bound to, as a *user token*: the user ID itself,
 *   or the ID as a JSON string when it is one that cannot travel raw (a NUL,
 *   a lone surrogate) or that starts with `"`. (`boundAt` is not kept.)
 *
 * A rotation's marker (see `rotate` in `src/store.ts`) is a hash of two
 * fields only: `m:mv`, when the session moved, and `m:mx`, when the marker
 * ends (`m:mv` + `MOVED_MARKER_MS`, which is its Redis TTL too). It has no
 * `m:e`, so a store of the previous version, which knows no markers, reads
 * it as no session and writes nothing to it.
 *
 * The sessions of a user are indexed in a Redis set under
 * `keyPrefix + "user:" + token`, whose members are the session keys (without
 * the prefix). A session key never holds a `:`, so the set can never be
 * mistaken for a session (nor for a key of the original oak_sessions, whose
 * IDs hold none either). The set's TTL is pushed, never pulled in, to at least
 * the TTL of the member just written (no TTL when that one never expires), so
 * it outlives every member. Both TTLs are relative ones on Redis's clock
 * (`PTTL` compared, `PEXPIRE` only when longer), so the app's clock and
 * Redis's need not agree. Members whose session ended (Redis's TTL, a
 * `delete`) or moved to another user are pruned by `listByUser` and
 * `deleteByUser`: the index may hold too much for a while, never too little.
 *
 * Reading is one `HGETALL`. Every write is one Lua script (sent by
 * `EVALSHA`, falling back to `EVAL` when the server does not have it
 * cached), so a change set is applied atomically, touches only the fields it
 * changed (increments are added in the script, so concurrent ones all
 * count), does nothing once the session is gone (delete wins over a slow
 * request), and sets the key's TTL so Redis drops dead sessions by itself.
 *
 * On a single node, and on a Redis Cluster whose `keyPrefix` holds a
 * `{hash tag}` (every key of the store then lives in one slot), the script
 * keeps the user index in the same atomic step: create, update, rotate and
 * delete add and remove the session's member, `listByUser` and `deleteByUser`
 * are one script each (a deletion by user removes every member session but
 * the excepted ones at once). The script names the user's set itself (from
 * the prefix it is given), which a single node and a one-slot cluster allow.
 *
 * On a Redis Cluster without such a tag, a user's set and the sessions live
 * in different slots, so the index is kept in separate steps around the
 * session's own script: a write that binds a session to a user adds it to
 * the set first, and every write of a session that has a user adds it (and
 * pushes the set's TTL) again after (one more round trip per write); the old
 * user's member is removed after. `delete` removes only the session (listing
 * heals the index). `deleteByUser` reads the set, removes each member session
 * that still belongs to the user (one script per key, which checks the user),
 * then those members from the set, and reads the set again until no new
 * member turns up. What holds there: every session that was bound to the user
 * and indexed before the call is removed; a session whose binding or rotation
 * runs concurrently with the call may survive it, as may one whose write
 * failed between its steps (its index entry then points at nothing, and
 * listing prunes it).
 *
 * Rotation (a new session ID) is one script over the old and the new key,
 * where both keys can be named in one script: on a single node, and on a
 * Redis Cluster when both keys hash to one slot (a `{hash tag}` in the key
 * prefix). On a cluster where they do not, it is two steps: the script first
 * claims the old key (checks it is alive, removes it, leaves the marker in
 * its place, returns it), then the new key is created from what it returned.
 * A failure between the two steps loses the session (its user logs in
 * again); it never brings one back. Either way the marker is written in the
 * same script that removes the old session, so no request ever finds the old
 * key empty between the two; an update or rotation of a key holding a marker
 * writes nothing and answers `"moved"`.
 *
 * The commands the script runs (for a Redis ACL): `HGET`, `HGETALL`, `HSET`,
 * `HDEL`, `HKEYS`, `DEL`, `RENAME`, `PEXPIRE`, `PERSIST`, `PTTL`, `SADD`,
 * `SREM`, `SMEMBERS`; the store itself sends `HGETALL`, `EVALSHA`, `EVAL`
 * and (on a cluster) `DEL`.
 *
 * @module
 */
import { SessionConfigError, SessionStoreError } from "../errors.ts";
import {
  applyChange,
  emptyFields,
  type JsonFields,
  MOVED_MARKER_MS,
  type ServerStore,
  type SessionChange,
  type SessionRecord,
  type UserSession,
  type WriteResult,
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

// One script for all the store does but a read. The op (ARGV[1]) picks what it does:
//
// - `c` create, `u` update (KEYS[1] the session), `r` rotate (KEYS[1] old,
//   KEYS[2] new). ARGV: 1 op, 2 now, 3 expiresAt text, 4 TTL in ms ("inf":
//   none, <= 0: already over), 5 createdAt (create) or clear flag (update,
//   rotate), 6 flash flag ("1": replace), 7 number of fields to set, 8 number
//   of fields to delete, 9 number of fields to increment, 10 user ("k" keep,
//   "n" none, "s" + token: bind), 11 last-seen ("k" keep, "s" + time),
//   12 meta ("k" keep, "s" + text), 13 index ("1" + prefix: keep the user
//   sets here; "0" + prefix: the caller keeps them), then the field/value
//   pairs to set, the fields to delete, the field/amount pairs to increment,
//   the flash field/value pairs. Answers 0 when the session is not alive, 2
//   (writing nothing) when KEYS[1] holds a live rotation marker; else 1, or
//   with index "0" the array {1, user token before, after} ("" for none).
//   Rotate leaves a marker under KEYS[1].
// - `k` claim (KEYS[1]): remove a live session, leave a marker in its place and
//   return the session's fields (0 and 2 as above). ARGV 1, 2.
// - `x` delete (KEYS[1]): ARGV 2 now, 3 index as above, 4 "*" or "u" + the
//   token the session must belong to. Answers 1 when a live session went.
// - `i` index (KEYS[1] a user set): add member ARGV[2], push the set's TTL to
//   at least ARGV[3] ("inf": none). `z`: remove members ARGV[2..]. `m`: members.
// - `l` list, `d` delete by user (KEYS[1] a user set): ARGV 2 now, 3 "p" +
//   prefix, 4 token, 5.. members to leave alone (`d`). Prunes members that are
//   dead or another user's; `l` answers member, field count, fields... flat
//   (Webdis mangles nested arrays), `d` how many live sessions it removed.
//
// Fields are set one call at a time: unpacking thousands of arguments into one
// HSET would overflow Lua's C stack. No argument is ever an empty string, as
// Webdis drops empty path segments. An increment counts a missing field as 0,
// leaves a field that is not JSON number text alone, and writes the sum as the
// shortest of %.15g, %.16g, %.17g that reads back as the same double (never
// inf or nan: then the field is left alone too).
const WRITE_SCRIPT = `local op = ARGV[1]
local MARKER_MS = ${MOVED_MARKER_MS}
local function alive(e, now)
  if not e then return false end
  if e == 'inf' then return true end
  local n = tonumber(e)
  return n ~= nil and n > now
end
local function index(set, member, ttl)
  local left = redis.call('PTTL', set)
  redis.call('SADD', set, member)
  if ttl == 'inf' then
    redis.call('PERSIST', set)
  elseif left == -2 or (left >= 0 and left < tonumber(ttl)) then
    redis.call('PEXPIRE', set, ttl)
  end
end
local function jsonNumber(s)
  s = string.match(s, '^[ \\t\\n\\r]*(.-)[ \\t\\n\\r]*$')
  local digits, rest = string.match(s, '^-?(%d+)(.*)$')
  if not digits or (#digits > 1 and string.sub(digits, 1, 1) == '0') then return nil end
  local frac = string.match(rest, '^%.%d+')
  if frac then rest = string.sub(rest, #frac + 1) end
  if rest ~= '' and not string.match(rest, '^[eE][-+]?%d+$') then return nil end
  return tonumber(s)
end
local function numberText(n)
  if n ~= n or n == math.huge or n == -math.huge then return nil end
  if n == math.floor(n) and n > -2^53 and n < 2^53 then return string.format('%d', n) end
  for p = 15, 16 do
    local t = string.format('%.' .. p .. 'g', n)
    if tonumber(t) == n then return t end
  end
  return string.format('%.17g', n)
end
local function leaveMarker(key)
  redis.call('HSET', key, 'm:mv', ARGV[2])
  redis.call('HSET', key, 'm:mx', numberText(tonumber(ARGV[2]) + MARKER_MS))
  redis.call('PEXPIRE', key, MARKER_MS)
end
if op == 'i' then
  index(KEYS[1], ARGV[2], ARGV[3])
  return 1
end
if op == 'z' then
  for i = 2, #ARGV do redis.call('SREM', KEYS[1], ARGV[i]) end
  return 1
end
if op == 'm' then return redis.call('SMEMBERS', KEYS[1]) end
if op == 'l' or op == 'd' then
  local now = tonumber(ARGV[2])
  local prefix = string.sub(ARGV[3], 2)
  local token = ARGV[4]
  local except = {}
  for i = 5, #ARGV do except[ARGV[i]] = true end
  local out = {}
  local removed = 0
  for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    if not except[m] then
      local key = prefix .. m
      local u = redis.pcall('HGET', key, 'm:u')
      if type(u) ~= 'string' then u = false end
      local live = u == token and alive(redis.call('HGET', key, 'm:e'), now)
      if op == 'l' and live then
        local h = redis.call('HGETALL', key)
        out[#out + 1] = m
        out[#out + 1] = #h
        for j = 1, #h do out[#out + 1] = h[j] end
      else
        if op == 'd' and u == token then
          if live then removed = removed + 1 end
          redis.call('DEL', key)
        end
        redis.call('SREM', KEYS[1], m)
      end
    end
  end
  if op == 'l' then return out end
  return removed
end
local key = KEYS[1]
local now = tonumber(ARGV[2])
if op == 'x' then
  local u = redis.call('HGET', key, 'm:u')
  if ARGV[4] ~= '*' and u ~= string.sub(ARGV[4], 2) then return 0 end
  local live = alive(redis.call('HGET', key, 'm:e'), now)
  redis.call('DEL', key)
  if u and string.sub(ARGV[3], 1, 1) == '1' then
    local prefix = string.sub(ARGV[3], 2)
    redis.call('SREM', prefix .. 'user:' .. u, string.sub(key, #prefix + 1))
  end
  if live then return 1 end
  return 0
end
local before = false
if op ~= 'c' then
  if not alive(redis.call('HGET', key, 'm:e'), now) then
    if alive(redis.call('HGET', key, 'm:mx'), now) then return 2 end
    return 0
  end
  if op == 'k' then
    local h = redis.call('HGETALL', key)
    redis.call('DEL', key)
    leaveMarker(key)
    return h
  end
  before = redis.call('HGET', key, 'm:u')
  if op == 'r' then
    redis.call('RENAME', key, KEYS[2])
    leaveMarker(key)
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
  local u = redis.pcall('HGET', key, 'm:u')
  if type(u) == 'string' then before = u end
  redis.call('DEL', key)
  redis.call('HSET', key, 'm:c', ARGV[5])
end
redis.call('HSET', key, 'm:e', ARGV[3])
local i = 14
for _ = 1, tonumber(ARGV[7]) do
  redis.call('HSET', key, ARGV[i], ARGV[i + 1])
  i = i + 2
end
for _ = 1, tonumber(ARGV[8]) do
  redis.call('HDEL', key, ARGV[i])
  i = i + 1
end
for _ = 1, tonumber(ARGV[9]) do
  local current = redis.call('HGET', key, ARGV[i])
  local n = 0
  if current then n = jsonNumber(current) end
  if n then
    local text = numberText(n + tonumber(ARGV[i + 1]))
    if text then redis.call('HSET', key, ARGV[i], text) end
  end
  i = i + 2
end
if ARGV[6] == '1' then
  while i < #ARGV do
    redis.call('HSET', key, ARGV[i], ARGV[i + 1])
    i = i + 2
  end
end
if string.sub(ARGV[11], 1, 1) == 's' then redis.call('HSET', key, 'm:s', string.sub(ARGV[11], 2)) end
if string.sub(ARGV[12], 1, 1) == 's' then redis.call('HSET', key, 'm:m', string.sub(ARGV[12], 2)) end
local after = before
if ARGV[10] == 'n' then
  redis.call('HDEL', key, 'm:u')
  after = false
elseif string.sub(ARGV[10], 1, 1) == 's' then
  after = string.sub(ARGV[10], 2)
  redis.call('HSET', key, 'm:u', after)
end
local live = true
if ARGV[4] == 'inf' then
  redis.call('PERSIST', key)
elseif tonumber(ARGV[4]) > 0 then
  redis.call('PEXPIRE', key, ARGV[4])
else
  redis.call('DEL', key)
  live = false
end
if string.sub(ARGV[13], 1, 1) ~= '1' then return {1, before or '', after or ''} end
local prefix = string.sub(ARGV[13], 2)
local old = string.sub(KEYS[1], #prefix + 1)
local new = string.sub(key, #prefix + 1)
if before and (before ~= after or old ~= new or not live) then
  redis.call('SREM', prefix .. 'user:' .. before, old)
end
if after and live then index(prefix .. 'user:' .. after, new, ARGV[4]) end
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

/**
 * The script's source, for tests and for operators who preload it (`SCRIPT
 * LOAD`). It is the store's only script: every write, listing and deletion
 * by user runs it, so one `EVALSHA` SHA covers them all.
 */
export const REDIS_WRITE_SCRIPT: string = WRITE_SCRIPT;

const DATA = "d";
const FLASH = "f";
const CREATED = "m:c";
const EXPIRES = "m:e";
const LAST_SEEN = "m:s";
const META = "m:m";
const USER = "m:u";
// The two fields of a rotation's marker (see the module's layout).
const MOVED_AT = "m:mv";
const MOVED_UNTIL = "m:mx";
/** What the script answers for a write to a key that holds a live rotation marker. */
const MOVED = 2;
/** Between the key prefix and a user token: the name of a user's set of sessions. */
const USER_SET = "user:";
/** How often `deleteByUser` on a cluster reads a user's set again while new members turn up. */
const MAX_DELETE_PASSES = 8;
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
 * The field of user key `name` (`kind` "d" data, "f" flash): `d:name`,
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

/**
 * How `userId` is written in a session (`m:u`) and in its set's key: as it
 * is, or as a JSON string when it cannot travel raw or starts with `"` (so
 * the two forms never meet).
 */
function userToken(userId: string): string {
  return UNSAFE_NAME.test(userId) || userId.startsWith('"') ? JSON.stringify(userId) : userId;
}

/** The user ID of token `token`, or `undefined` when it is damaged. */
function parseUserToken(token: string): string | undefined {
  if (!token.startsWith('"')) return token === "" ? undefined : token;
  try {
    const userId: unknown = JSON.parse(token);
    return typeof userId === "string" && userId !== "" ? userId : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether every key under `prefix` hashes to one Redis Cluster slot: the
 * prefix holds a complete, non-empty `{hash tag}` (the first `{` and the
 * first `}` after it), so nothing after the prefix takes part in the hash.
 */
function prefixPinsSlot(prefix: string): boolean {
  const open = prefix.indexOf("{");
  if (open < 0) return false;
  const close = prefix.indexOf("}", open + 1);
  return close > open + 1;
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

/** An integer reply (a number, or its text from some clients), or `undefined`. */
function replyInteger(value: unknown): number | undefined {
  const n = typeof value === "number"
    ? value
    : typeof value === "string" && /^-?\d+$/.test(value)
    ? Number(value)
    : NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** The user tokens an index-elsewhere write answered: before and after it. */
interface WriteUsers {
  before: string | undefined;
  after: string | undefined;
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
  /** Whether the script can keep the user sets itself (one node, or one slot for the prefix). */
  readonly #inline: boolean;
  /** ARGV 13 of a write: where the user sets are kept, and the prefix. */
  readonly #indexArg: string;
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
    this.#inline = !this.#cluster || prefixPinsSlot(this.#prefix);
    this.#indexArg = (this.#inline ? "1" : "0") + this.#prefix;
    this.#original = options.original
      ? new OriginalRedisKeys({
        storeName: options.storeName,
        cluster: this.#cluster,
        command: (redisKey, args) =>
          this.#transport.call(redisKey, args).catch((error) => {
            throw this.#storeError(error, "convert the original oak_sessions' keys", args[0]);
          }),
        create: (key, record, now) => this.create(key, record, now),
      }, options.original)
      : null;
  }

  /** The Redis key of session `key`. */
  redisKey(key: string): string {
    return this.#prefix + key;
  }

  /** The Redis key of the set of `userId`'s session keys. */
  userSetKey(userId: string): string {
    return this.#setKey(userToken(userId));
  }

  #setKey(token: string): string {
    return this.#prefix + USER_SET + token;
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
    if (entries === null) throw this.#unexpected(what, reply);
    if (entries.length === 0) return null;
    const data = emptyFields();
    const flash = emptyFields();
    let createdAt = NaN;
    let expiresAt = NaN;
    let lastSeenAt = NaN;
    let userId: string | undefined;
    let meta: string | undefined;
    let movedAt = NaN;
    let movedUntil = NaN;
    for (const [f, v] of entries) {
      if (f === CREATED) createdAt = parseTime(v);
      else if (f === EXPIRES) expiresAt = parseTime(v);
      else if (f === MOVED_AT) movedAt = parseTime(v);
      else if (f === MOVED_UNTIL) movedUntil = parseTime(v);
      else if (f === LAST_SEEN) lastSeenAt = parseTime(v);
      else if (f === USER) userId = parseUserToken(v);
      else if (f === META) meta = v;
      else {
        const parsed = parseField(f);
        if (parsed) (parsed[0] === DATA ? data : flash)[parsed[1]] = v;
      }
    }
    // As the script decides: a live session first, else a live rotation marker.
    if (Number.isNaN(createdAt) || Number.isNaN(expiresAt) || expiresAt <= now) {
      if (Number.isNaN(movedAt) || !(movedUntil > now)) return null;
      return {
        data: emptyFields(),
        flash: emptyFields(),
        createdAt: movedAt,
        expiresAt: movedUntil,
        movedAt,
      };
    }
    // (A hash without our metadata is not a session we wrote: it read as absent above.)
    const record: SessionRecord = { data, flash, createdAt, expiresAt };
    if (userId !== undefined) record.userId = userId;
    if (!Number.isNaN(lastSeenAt)) record.lastSeenAt = lastSeenAt;
    if (meta !== undefined) record.meta = meta;
    return record;
  }

  /** Store a new session (replacing any under that key), set its TTL, index it under its user. */
  async create(key: string, record: SessionRecord, now: number): Promise<void> {
    const sets = pairs(DATA, record.data);
    const flash = pairs(FLASH, record.flash);
    const ttl = ttlText(record.expiresAt, now);
    const args = [
      "c",
      String(now),
      timeText(record.expiresAt),
      ttl,
      timeText(record.createdAt),
      "1",
      String(sets.length / 2),
      "0",
      "0",
      record.userId === undefined ? "n" : "s" + userToken(record.userId),
      record.lastSeenAt === undefined ? "k" : "s" + timeText(record.lastSeenAt),
      record.meta === undefined ? "k" : "s" + record.meta,
      this.#indexArg,
      ...sets,
      ...flash,
    ];
    if (this.#inline) {
      await this.#write([this.redisKey(key)], args);
      return;
    }
    const bound = record.userId === undefined ? undefined : userToken(record.userId);
    await this.#writeElsewhere([key], key, key, bound, ttl, args);
  }

  /**
   * Apply `change` atomically if the session still exists; sets its TTL
   * again. `"moved"`, writing nothing, when the key holds a rotation's marker.
   */
  async update(key: string, change: SessionChange, now: number): Promise<WriteResult> {
    const args = this.#changeArgs("u", change, now);
    if (this.#inline) return await this.#write([this.redisKey(key)], args);
    const bound = typeof change.userId === "string" ? userToken(change.userId) : undefined;
    return await this.#writeElsewhere([key], key, key, bound, args[3], args);
  }

  /**
   * Move the session to `newKey` with `change` applied, only if the one under
   * `oldKey` is alive at `now`, leaving a marker under `oldKey` (for
   * `MOVED_MARKER_MS`, by Redis's TTL too); returns whether it did, or
   * `"moved"` (writing nothing) when `oldKey` holds a marker already. One
   * script over both keys (`RENAME`, the marker, then the change), except on
   * a Redis Cluster whose slots for the two keys differ: there the old
   * session is claimed first (one script: check, remove, leave the marker,
   * return it) and the new one created from it, so an ended session is never
   * brought back, though a failure between the two steps loses the session.
   */
  async rotate(
    oldKey: string,
    newKey: string,
    change: SessionChange,
    now: number,
  ): Promise<WriteResult> {
    if (!this.#cluster || keySlot(this.redisKey(oldKey)) === keySlot(this.redisKey(newKey))) {
      const args = this.#changeArgs("r", change, now);
      const keys = [this.redisKey(oldKey), this.redisKey(newKey)];
      if (this.#inline) return await this.#write(keys, args);
      const bound = typeof change.userId === "string" ? userToken(change.userId) : undefined;
      return await this.#writeElsewhere([oldKey, newKey], oldKey, newKey, bound, args[3], args);
    }
    const claimed = await this.#eval([this.redisKey(oldKey)], ["k", String(now)]);
    const answer = replyInteger(claimed);
    if (answer === 0) return false;
    if (answer === MOVED) return "moved";
    // The script checked the expiry; a hash that is not a session reads as gone.
    const record = this.#decode(claimed, "the session script", -Infinity);
    if (record === null) return false;
    const oldUser = record.userId;
    await this.create(newKey, applyChange(record, change), now);
    if (oldUser !== undefined) await this.#unindex(userToken(oldUser), [oldKey]);
    return true;
  }

  /**
   * Remove the session. On a single node (or a one-slot cluster) one script
   * removes it from its user's set too; elsewhere one `DEL`, and listing the
   * user's sessions prunes the member.
   */
  async delete(key: string): Promise<void> {
    if (this.#inline) {
      await this.#eval([this.redisKey(key)], ["x", "0", this.#indexArg, "*"]);
    } else {
      await this.#call(key, ["DEL", this.redisKey(key)]);
    }
  }

  /**
   * The live sessions of `userId` at `now`. Reads the user's set and each
   * member session, and removes the members that point at no live session of
   * that user (ended, deleted, bound to another user). One script on a single
   * node; on a cluster the set, then each session, then the pruning.
   */
  async listByUser(userId: string, now: number): Promise<UserSession[]> {
    const token = userToken(userId);
    const set = this.#setKey(token);
    const found: UserSession[] = [];
    if (this.#inline) {
      const reply = await this.#eval([set], ["l", String(now), "p" + this.#prefix, token]);
      if (!Array.isArray(reply)) throw this.#unexpected("the session script", reply);
      for (let i = 0; i < reply.length;) {
        const key = replyText(reply[i]);
        const count = replyInteger(reply[i + 1]);
        if (key === undefined || count === undefined || count < 0) {
          throw this.#unexpected("the session script", reply);
        }
        const record = this.#decode(reply.slice(i + 2, i + 2 + count), "the session script", now);
        if (record !== null && record.userId === userId) found.push({ key, record });
        i += 2 + count;
      }
      return found;
    }
    const members = await this.#members(set);
    const stale: string[] = [];
    await Promise.all(members.map(async (key) => {
      const record = this.#decode(
        await this.#call(key, ["HGETALL", this.redisKey(key)]),
        "HGETALL",
        now,
      );
      if (record !== null && record.userId === userId) found.push({ key, record });
      else stale.push(key);
    }));
    if (stale.length > 0) await this.#unindex(token, stale);
    return found;
  }

  /**
   * Remove every session of `userId` but those under `exceptKeys`; returns
   * how many live ones went. On a single node (or a one-slot cluster) one
   * script: the set's members and their sessions go at once. On a cluster,
   * each member session that still belongs to the user is removed (one script
   * per key), then those members from the set, and the set is read again until
   * it holds nothing new (see the module for what holds there).
   */
  async deleteByUser(userId: string, exceptKeys: readonly string[], now: number): Promise<number> {
    const token = userToken(userId);
    const set = this.#setKey(token);
    if (this.#inline) {
      const reply = await this.#eval([set], [
        "d",
        String(now),
        "p" + this.#prefix,
        token,
        ...exceptKeys,
      ]);
      const removed = replyInteger(reply);
      if (removed === undefined) throw this.#unexpected("the session script", reply);
      return removed;
    }
    const except = new Set(exceptKeys);
    let removed = 0;
    for (let pass = 0; pass < MAX_DELETE_PASSES; pass++) {
      const targets = (await this.#members(set)).filter((key) => !except.has(key));
      if (targets.length === 0) return removed;
      const replies = await Promise.all(
        targets.map((key) =>
          this.#eval([this.redisKey(key)], ["x", String(now), this.#indexArg, "u" + token])
        ),
      );
      for (const reply of replies) if (replyInteger(reply) === 1) removed++;
      await this.#unindex(token, targets);
    }
    throw new SessionStoreError(
      `${this.#name}: removing the sessions of a user kept finding new ones ` +
        `(${MAX_DELETE_PASSES} passes over the user's set); try again`,
    );
  }

  /** The script's ARGV for an update (`u`) or rotate (`r`) with `change`. */
  #changeArgs(op: "u" | "r", change: SessionChange, now: number): string[] {
    const sets = pairs(DATA, change.set);
    const deletes = change.delete.map((name) => field(DATA, name));
    const increments: string[] = [];
    for (const name in change.increment) {
      const by = change.increment[name];
      // A non-finite amount can only make a non-finite sum, which is never stored.
      if (Number.isFinite(by)) increments.push(field(DATA, name), String(by));
    }
    const flash = change.flash === null ? [] : pairs(FLASH, change.flash);
    const user = change.userId;
    return [
      op,
      String(now),
      timeText(change.expiresAt),
      ttlText(change.expiresAt, now),
      change.clear ? "1" : "0",
      change.flash === null ? "0" : "1",
      String(sets.length / 2),
      String(deletes.length),
      String(increments.length / 2),
      user === undefined ? "k" : user === null ? "n" : "s" + userToken(user),
      change.lastSeenAt === undefined ? "k" : "s" + timeText(change.lastSeenAt),
      change.meta === undefined ? "k" : "s" + change.meta,
      this.#indexArg,
      ...sets,
      ...deletes,
      ...increments,
      ...flash,
    ];
  }

  /**
   * A write on a cluster where the user sets live in other slots: index the
   * session under the user it is being `bound` to first (so it is never bound
   * and unindexed), run the script, then index it under the user it has now
   * (which pushes that set's TTL, and puts back a member a concurrent listing
   * pruned before the write landed) and remove `oldKey` from the set of the
   * user it had. Resolves with whether the session was alive, or `"moved"`.
   */
  async #writeElsewhere(
    keys: string[],
    oldKey: string,
    newKey: string,
    bound: string | undefined,
    ttl: string,
    args: string[],
  ): Promise<WriteResult> {
    const live = ttl === "inf" || Number(ttl) > 0;
    if (bound !== undefined && live) await this.#index(bound, newKey, ttl);
    const users = await this.#writeUsers(keys.map((k) => this.redisKey(k)), args);
    if (users === null) return false;
    if (users === "moved") return "moved";
    const { before, after } = users;
    const steps: Promise<void>[] = [];
    if (after !== undefined && live) steps.push(this.#index(after, newKey, ttl));
    if (before !== undefined && (before !== after || oldKey !== newKey || !live)) {
      steps.push(this.#unindex(before, [oldKey]));
    }
    await Promise.all(steps);
    return true;
  }

  /** Add `key` to the set of user token `token` and push the set's TTL to `ttl`. */
  async #index(token: string, key: string, ttl: string): Promise<void> {
    await this.#eval([this.#setKey(token)], ["i", key, ttl]);
  }

  /** Remove `keys` from the set of user token `token`. */
  async #unindex(token: string, keys: string[]): Promise<void> {
    await this.#eval([this.#setKey(token)], ["z", ...keys]);
  }

  /** The members of user set `set`. */
  async #members(set: string): Promise<string[]> {
    const reply = await this.#eval([set], ["m"]);
    const members = Array.isArray(reply) ? reply.map(replyText) : null;
    if (members === null || members.some((m) => m === undefined)) {
      throw this.#unexpected("the session script", reply);
    }
    return members as string[];
  }

  /**
   * Run the session script over `redisKeys` (the first routes the call):
   * `EVALSHA`, then `EVAL` when the server lost its script cache.
   */
  async #eval(redisKeys: string[], argv: string[]): Promise<unknown> {
    const pending = writeScriptSha();
    const sha = typeof pending === "string" ? pending : await pending;
    const tail = [String(redisKeys.length), ...redisKeys, ...argv];
    try {
      return await this.#transport.call(redisKeys[0], ["EVALSHA", sha, ...tail]);
    } catch (error) {
      if (!(error instanceof RedisReplyError && /\bNOSCRIPT\b/.test(error.message))) {
        throw this.#storeError(error, SCRIPT_DOES[argv[0]], "EVALSHA");
      }
      try {
        return await this.#transport.call(redisKeys[0], ["EVAL", WRITE_SCRIPT, ...tail]);
      } catch (error) {
        throw this.#storeError(error, SCRIPT_DOES[argv[0]], "EVAL");
      }
    }
  }

  /**
   * Run a create, update or rotate: the script answers 1 (done), 0 (no live
   * session) or 2 (the key holds a rotation's marker: nothing written).
   */
  async #write(redisKeys: string[], argv: string[]): Promise<WriteResult> {
    const reply = await this.#eval(redisKeys, argv);
    const done = replyInteger(reply);
    if (done === 1) return true;
    if (done === 0) return false;
    if (done === MOVED) return "moved";
    throw this.#unexpected("the session script", reply);
  }

  /**
   * Run a write that leaves the user sets to the caller: the user tokens
   * before and after, `null` (no live session) or `"moved"` (a marker).
   */
  async #writeUsers(
    redisKeys: string[],
    argv: string[],
  ): Promise<WriteUsers | null | "moved"> {
    const reply = await this.#eval(redisKeys, argv);
    const answer = replyInteger(reply);
    if (answer === 0) return null;
    if (answer === MOVED) return "moved";
    if (Array.isArray(reply) && reply.length === 3 && replyInteger(reply[0]) === 1) {
      const before = replyText(reply[1]);
      const after = replyText(reply[2]);
      if (before !== undefined && after !== undefined) {
        return { before: before || undefined, after: after || undefined };
      }
    }
    throw this.#unexpected("the session script", reply);
  }

  async #call(key: string, args: string[]): Promise<unknown> {
    try {
      return await this.#transport.call(this.redisKey(key), args);
    } catch (error) {
      throw this.#storeError(
        error,
        args[0] === "DEL" ? "delete a session" : "read a session",
        args[0],
      );
    }
  }

  #unexpected(what: string, reply: unknown): SessionStoreError {
    return new SessionStoreError(
      `${this.#name}: Redis answered ${what} with an unexpected reply (${describe(reply)})`,
    );
  }

  /**
   * The error of a failed `command` while the store tried to `what`: it
   * always says which, and why (the client's message, else its class and
   * code; a timeout; the addresses a connection was refused on), never a
   * command's arguments (session data) nor a password.
   */
  #storeError(error: unknown, what: string | undefined, command: string): SessionStoreError {
    const cannot = `${this.#name}: cannot ${what ?? "reach Redis"}`;
    let reason: string;
    if (error instanceof SessionStoreError) {
      // The transport's own (a timeout, an unreachable Webdis, a bad HTTP answer): it says why.
      const own = error.message.startsWith(this.#name + ": ")
        ? error.message.slice(this.#name.length + 2)
        : error.message;
      reason = own || failureText(error.cause ?? error);
      if (new RegExp(`\\b${command}\\b`).test(reason)) {
        return new SessionStoreError(`${cannot}: ${reason}`, { cause: error });
      }
    } else if (error instanceof RedisReplyError) {
      reason = `Redis answered with an error: ${failureText(error)}`;
    } else {
      reason = failureText(error);
    }
    return new SessionStoreError(`${cannot}: ${command}: ${reason}`, { cause: error });
  }
}

/** What each op of the script does, as `#storeError` says it ("cannot ..."). */
const SCRIPT_DOES: Readonly<Record<string, string>> = {
  c: "create a session",
  u: "update a session",
  r: "rotate a session",
  k: "rotate a session",
  x: "delete a session",
  i: "index a session under its user",
  z: "index a session under its user",
  m: "read a user's sessions",
  l: "list a user's sessions",
  d: "delete a user's sessions",
};

/**
 * What went wrong, in words, from whatever a client or runtime threw: its
 * message, or its class when it has none (a closed socket's error may have
 * an empty one); its code (`ECONNREFUSED`...) when the message does not say
 * it; the errors an `AggregateError` holds (a connection refused on each
 * address of a dual-stack host); and its causes. Errors carry no command
 * arguments, so no session data (nor password) ends up here.
 *
 * ```ts
 * failureText(Object.assign(new AggregateError([], ""), { code: "ECONNREFUSED" }));
 * // "AggregateError with no message (ECONNREFUSED)"
 * ```
 */
export function failureText(error: unknown): string {
  const seen = new Set<unknown>();
  const text = (e: unknown, depth: number): string => {
    if (typeof e !== "object" || e === null) return String(e);
    seen.add(e);
    const { message, code, name, errors, cause } = e as {
      message?: unknown;
      code?: unknown;
      name?: unknown;
      errors?: unknown;
      cause?: unknown;
    };
    const className = (e as { constructor?: { name?: unknown } }).constructor?.name;
    const kind = typeof name === "string" && name !== "Error"
      ? name
      : typeof className === "string" && className !== "Object"
      ? className
      : "Error";
    let out = typeof message === "string" && message.trim() !== ""
      ? message.trim()
      : `${kind} with no message`;
    if ((typeof code === "string" || typeof code === "number") && !out.includes(String(code))) {
      out += ` (${code})`;
    }
    if (depth >= 3) return out;
    if (Array.isArray(errors) && errors.length > 0) {
      const inner = [
        ...new Set(errors.filter((x) => !seen.has(x)).map((x) => text(x, depth + 1))),
      ];
      if (inner.length > 0) out += `: ${inner.join("; ")}`;
    }
    if (cause !== undefined && cause !== null && !seen.has(cause)) {
      const why = text(cause, depth + 1);
      if (!out.includes(why)) out += ` (cause: ${why})`;
    }
    return out;
  };
  return text(error, 0);
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
