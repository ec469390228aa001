/**
 * How the Redis stores lay a session out in Redis, and read it back.
 *
 * A session is one Redis hash under `keyPrefix + key` (the key is
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
 * @module
 */
import { emptyFields, type JsonFields, type SessionRecord } from "../store.ts";

/** The field kind of the user's keys (`d:<name>`). */
export const DATA = "d";
/** The field kind of flash values (`f:<name>`). */
export const FLASH = "f";
const CREATED = "m:c";
const EXPIRES = "m:e";
const LAST_SEEN = "m:s";
const META = "m:m";
const USER = "m:u";
// The two fields of a rotation's marker (see the module's layout).
const MOVED_AT = "m:mv";
const MOVED_UNTIL = "m:mx";
/** Between the key prefix and a user token: the name of a user's set of sessions. */
export const USER_SET = "user:";
/**
 * A name Redis or Webdis cannot carry as it is: a NUL (Webdis cuts its C
 * strings there) or a lone UTF-16 surrogate (no UTF-8 form).
 */
// deno-lint-ignore no-control-regex -- matching NUL is the point
export const UNSAFE_NAME = /[\u0000\uD800-\uDFFF]/u;

/** A time as the layout writes it: milliseconds since the epoch, or `inf` for never. */
export function timeText(ms: number): string {
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
export function field(kind: string, name: string): string {
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
export function userToken(userId: string): string {
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

/** The field/value pairs of `fields` (user keys of kind `kind`), flat, as the script takes them. */
export function pairs(kind: string, fields: JsonFields): string[] {
  const out: string[] = [];
  for (const name in fields) out.push(field(kind, name), fields[name]);
  return out;
}

// Beyond this (over 30,000 years) a TTL is "never": PEXPIRE would overflow.
const MAX_TTL_MS = 1e15;

/** The Redis TTL of a key that ends at `expiresAt`, in ms from `now` (`inf`: none; <= 0: over). */
export function ttlText(expiresAt: number, now: number): string {
  const ttl = Math.ceil(expiresAt - now);
  if (Number.isNaN(ttl)) return "0";
  return ttl >= MAX_TTL_MS ? "inf" : String(ttl);
}

/**
 * A session hash's fields (not empty) as a session record at `now`: a live
 * session, else a live rotation marker (as the script decides), else `null`
 * (ended, or a hash without our metadata, which is no session we wrote).
 */
export function decodeSession(
  entries: ReadonlyArray<readonly [string, string]>,
  now: number,
): SessionRecord | null {
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
