/**
 * Reading the sessions the original oak_sessions wrote to Redis (its
 * RedisStore and WebdisStore: a string key `<prefix><id>`, default prefix
 * `session_`, holding the session's JSON document, without a TTL) and
 * converting them to this library's layout, for `RedisStore` and
 * `WebdisStore` with the `originalKeyPrefix` option.
 *
 * A store only ever sees the SHA-256 of an ID, never the ID, so it cannot
 * look up the one original key a request's cookie names. Instead, a miss
 * (a cookie naming no session of ours) converts every original key: one
 * `SCAN` over `<prefix>*` (run in a script, whose flat reply Webdis passes), and for each key holding an original document,
 * `GETDEL` (so of several processes converting at once, exactly one gets
 * each session), then our `create` under the SHA-256 of its ID. Expired and
 * deleted documents are removed; keys that hold anything else are left
 * alone. The miss then reads again, so the user whose cookie caused it stays
 * logged in. A conversion runs at most once per `ORIGINAL_SCAN_INTERVAL_MS`
 * per store (misses meanwhile wait for the running one or read as misses),
 * and never again once a scan found no original key.
 *
 * @module
 */
import { SessionConfigError, SessionStoreError } from "../errors.ts";
import { sessionKey } from "../session_id.ts";
import type { SessionRecord } from "../store.ts";
import { fromOriginalSession } from "./original_session.ts";

/** The options of `RedisStore` and `WebdisStore` for the original's keys. */
export interface OriginalRedisKeysOptions {
  /**
   * Convert the sessions the original oak_sessions left in Redis under this
   * key prefix (its default was `"session_"`) when a request misses. Off by
   * default. Turn it on for the upgrade, once no process of the original
   * library writes any more, and off again once the store has logged that no
   * original key is left: until then, each process scans the keyspace on a
   * miss at most once a minute.
   */
  originalKeyPrefix?: string;
  /** Where the store reports conversions (one line each). Default `console.warn`. */
  log?: (line: string) => void;
  /**
   * The idle lifetime, in seconds, of converted sessions that had no expiry
   * (the original's default). Default `86400`.
   */
  migratedIdleSeconds?: number;
}

/** The checked form of {@link OriginalRedisKeysOptions}; `null` when off. */
export interface OriginalRedisKeysSettings {
  /** The original's key prefix. */
  prefix: string;
  /** Where conversions are reported. */
  log: (line: string) => void;
  /** The idle lifetime, in milliseconds, of converted sessions without expiry. */
  idleMs: number;
}

/** The least time between two conversions of one store. */
export const ORIGINAL_SCAN_INTERVAL_MS = 60_000;

// One SCAN step answered as one flat array, cursor first: Webdis renders
// SCAN's own nested reply as `["0", null]`.
const SCAN_SCRIPT = "local r = redis.call('SCAN', ARGV[1], 'MATCH', ARGV[2], 'COUNT', ARGV[3]) " +
  "local out = { r[1] } for _, k in ipairs(r[2]) do out[#out + 1] = k end return out";

/** The original's IDs: nanoid(21). Our own keys (43 characters) never match. */
const ORIGINAL_ID = /^[A-Za-z0-9_-]{21}$/;

/** Checks the options; `null` when `originalKeyPrefix` is not set. */
export function checkOriginalKeysOptions(
  storeName: string,
  options: { originalKeyPrefix?: unknown; log?: unknown; migratedIdleSeconds?: unknown },
): OriginalRedisKeysSettings | null {
  const { originalKeyPrefix: prefix, log, migratedIdleSeconds: idle = 86_400 } = options;
  if (log !== undefined && typeof log !== "function") {
    throw new SessionConfigError(`${storeName}: log must be a function taking one line of text`);
  }
  if (typeof idle !== "number" || !Number.isFinite(idle) || idle <= 0) {
    throw new SessionConfigError(
      `${storeName}: migratedIdleSeconds must be a number of seconds, more than 0`,
    );
  }
  if (prefix === undefined) return null;
  if (typeof prefix !== "string" || /[*?[\]\\]/.test(prefix)) {
    throw new SessionConfigError(
      `${storeName}: originalKeyPrefix must be the key prefix the original oak_sessions used ` +
        '(its default "session_"), without the pattern characters * ? [ ] \\',
    );
  }
  return {
    prefix,
    log: (log as ((line: string) => void) | undefined) ?? ((line) => console.warn(line)),
    idleMs: idle * 1000,
  };
}

/** What the conversion needs of the store. */
export interface OriginalRedisKeysHost {
  /** Name for messages, e.g. `RedisStore`. */
  readonly storeName: string;
  /** `true` on a Redis Cluster, where one SCAN does not see every node. */
  readonly cluster: boolean;
  /** Sends a command touching `redisKey` (a full Redis key). */
  command(redisKey: string, args: string[]): Promise<unknown>;
  /** The store's own create, under session key `key`. */
  create(key: string, record: SessionRecord, now: number): Promise<void>;
}

/** The conversion state of one store (see the module). */
export class OriginalRedisKeys {
  readonly #host: OriginalRedisKeysHost;
  readonly #settings: OriginalRedisKeysSettings;
  #running: Promise<number> | null = null;
  #lastRunAt = -Infinity;
  #finished = false;

  /** Conversion for `host` with `settings`; refused on a Redis Cluster. */
  constructor(host: OriginalRedisKeysHost, settings: OriginalRedisKeysSettings) {
    if (host.cluster) {
      throw new SessionConfigError(
        `${host.storeName}: originalKeyPrefix needs a single Redis node (the original ` +
          "oak_sessions ran on one); convert from a client of that node, then drop the option",
      );
    }
    this.#host = host;
    this.#settings = settings;
  }

  /**
   * After a miss at `now`: runs a conversion when one is due, or waits for
   * the running one. Resolves with whether a conversion carried any session
   * over (then the miss is worth reading again).
   */
  async afterMiss(now: number): Promise<boolean> {
    if (this.#finished) return false;
    if (this.#running === null) {
      if (now - this.#lastRunAt < ORIGINAL_SCAN_INTERVAL_MS) return false;
      this.#lastRunAt = now;
      // A failed conversion fails no request: the miss stays a miss, and a
      // miss after the interval tries again.
      this.#running = this.#convert(now).catch((error) => {
        this.#settings.log(
          `${this.#host.storeName}: converting the original oak_sessions' keys failed (${
            error instanceof Error ? error.message : String(error)
          }); a miss tries again after ${ORIGINAL_SCAN_INTERVAL_MS / 1000} s`,
        );
        return 0;
      }).finally(() => (this.#running = null));
    }
    return await this.#running > 0;
  }

  async #convert(now: number): Promise<number> {
    const { prefix, idleMs, log } = this.#settings;
    const name = this.#host.storeName;
    let found = 0;
    let carried = 0;
    let cursor = "0";
    do {
      const reply = await this.#host.command(prefix, [
        "EVAL",
        SCAN_SCRIPT,
        "0",
        cursor,
        `${prefix}*`,
        "1000",
      ]);
      if (!Array.isArray(reply) || reply.length === 0) {
        throw new SessionStoreError(
          `${name}: Redis answered the SCAN script with an unexpected reply`,
        );
      }
      cursor = String(reply[0]);
      for (const redisKey of reply.slice(1) as unknown[]) {
        if (typeof redisKey !== "string") continue;
        const id = redisKey.slice(prefix.length);
        if (!ORIGINAL_ID.test(id)) continue;
        // Read first, claim only what is the original's document: a key of
        // another kind under the prefix is not ours to remove.
        let text: unknown;
        try {
          text = await this.#host.command(redisKey, ["GET", redisKey]);
        } catch {
          continue; // not a string key (WRONGTYPE): not the original's
        }
        if (!isOriginalDocument(text)) continue;
        found++;
        const claimed = await this.#host.command(redisKey, ["GETDEL", redisKey]);
        if (typeof claimed !== "string") continue; // another process claimed it
        const record = fromOriginalSession(claimed, now, idleMs);
        if (record === null) continue; // expired or deleted: removed
        await this.#host.create(await sessionKey(id), record, now);
        carried++;
      }
    } while (cursor !== "0");
    if (found === 0) {
      this.#finished = true;
      log(
        `${name}: no session of the original oak_sessions is left under "${prefix}"; ` +
          "the originalKeyPrefix option can be removed",
      );
    } else {
      log(
        `${name}: converted ${carried} session(s) of the original oak_sessions (keys ` +
          `"${prefix}<id>") to this store's layout; ${found - carried} expired, deleted or ` +
          "claimed by another process were removed",
      );
    }
    return carried;
  }
}

function isOriginalDocument(text: unknown): boolean {
  if (typeof text !== "string" || !text.startsWith("{")) return false;
  try {
    const doc = JSON.parse(text);
    return typeof doc === "object" && doc !== null && !Array.isArray(doc) &&
      "_flash" in doc && "_expire" in doc;
  } catch {
    return false;
  }
}
