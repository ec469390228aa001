/**
 * The session logic shared by `RedisStore` and `WebdisStore`. Both speak to
 * Redis; only the way a command travels differs (a client's socket or
 * Webdis over HTTP), so each gives this module a {@link RedisTransport} and
 * everything else lives once: the layout (`redis_layout.ts`), the script
 * (`redis_script.ts`), reply parsing (`redis_reply.ts`), cluster slots
 * (`redis_cluster.ts`), and here the store operations and their errors.
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
 * The commands the store sends: `HGETALL`, `EVALSHA`, `EVAL` and (on a
 * cluster) `DEL`; those the script runs are listed in `redis_script.ts`.
 *
 * @module
 */
import { SessionConfigError, SessionStoreError } from "../errors.ts";
import {
  applyChange,
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
import { failureText } from "./failure_text.ts";
import { keySlot, prefixPinsSlot } from "./redis_cluster.ts";
import {
  DATA,
  decodeSession,
  field,
  FLASH,
  pairs,
  timeText,
  ttlText,
  UNSAFE_NAME,
  USER_SET,
  userToken,
} from "./redis_layout.ts";
import {
  describeReply,
  hashEntries,
  RedisReplyError,
  replyInteger,
  replyText,
} from "./redis_reply.ts";
import { MOVED, REDIS_WRITE_SCRIPT, SCRIPT_DOES, writeScriptSha } from "./redis_script.ts";

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

/** How often `deleteByUser` on a cluster reads a user's set again while new members turn up. */
const MAX_DELETE_PASSES = 8;

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
    return entries.length === 0 ? null : decodeSession(entries, now);
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
        return await this.#transport.call(redisKeys[0], ["EVAL", REDIS_WRITE_SCRIPT, ...tail]);
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
      `${this.#name}: Redis answered ${what} with an unexpected reply (${describeReply(reply)})`,
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
