/**
 * The Lua script of the Redis stores: one script for all `RedisStore` and
 * `WebdisStore` do but a read (sent by `EVALSHA`, falling back to `EVAL`
 * when the server does not have it cached), its SHA-1, and what each of its
 * ops does, in words, for error messages. The layout it writes is described
 * in `redis_layout.ts`, and when it keeps the user index in `redis_logic.ts`.
 *
 * The commands the script runs (for a Redis ACL): `HGET`, `HGETALL`, `HSET`,
 * `HDEL`, `HKEYS`, `DEL`, `RENAME`, `PEXPIRE`, `PERSIST`, `PTTL`, `SADD`,
 * `SREM`, `SMEMBERS`.
 *
 * @module
 */
import { MOVED_MARKER_MS } from "../store.ts";
import { type NodeCrypto, nodeCrypto } from "../node_builtins.ts";

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
export function writeScriptSha(): string | Promise<string> {
  scriptSha ??= scriptSha1(WRITE_SCRIPT);
  return scriptSha;
}

/**
 * The script's source, for tests and for operators who preload it (`SCRIPT
 * LOAD`). It is the store's only script: every write, listing and deletion
 * by user runs it, so one `EVALSHA` SHA covers them all.
 */
export const REDIS_WRITE_SCRIPT: string = WRITE_SCRIPT;

/** What the script answers for a write to a key that holds a live rotation marker. */
export const MOVED = 2;

/** What each op of the script does, as a store's error says it ("cannot ..."). */
export const SCRIPT_DOES: Readonly<Record<string, string>> = {
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
