/**
 * MemoryStore: sessions in this process's memory. For development, tests and
 * single-process apps that accept losing sessions on restart.
 *
 * @module
 */
import { SessionConfigError } from "../errors.ts";
import { checkOptionKeys, keysOf, renamedOptions } from "../option_keys.ts";
import {
  applyChange,
  emptyFields,
  type JsonFields,
  movedMarker,
  type ServerStore,
  type SessionChange,
  type SessionRecord,
  type UserSession,
  type WriteResult,
} from "../store.ts";
import { copyFields, hasFields } from "./shared/record_codec.ts";
import { givenName } from "./shared/store_options.ts";

/** Keys of `new MemoryStore(options)` (`sweepIntervalSeconds`: the old name of `cleanupIntervalSeconds`). */
export const MEMORY_STORE_OPTION_KEYS: readonly string[] = keysOf<MemoryStoreOptions>({
  maxSessions: true,
  cleanupIntervalSeconds: true,
  sweepIntervalSeconds: true,
});

/** Options of `new MemoryStore(options)`. */
export interface MemoryStoreOptions {
  /**
   * Keep at most this many sessions; the least recently used go first (a
   * burst of new sessions evicts idle ones, not a user who is active).
   * Default: no bound.
   */
  maxSessions?: number;
  /** Expired sessions are swept at most once per this many seconds, during normal calls. Default 60. */
  cleanupIntervalSeconds?: number;
  /** @deprecated Renamed `cleanupIntervalSeconds` (the name every store uses); the old name still works. */
  sweepIntervalSeconds?: number;
}

/**
 * The flash map of every stored record without flash values (most of them),
 * shared: stored maps are frozen and never changed, and freezing a new
 * null-prototype map costs about half a microsecond.
 */
const NO_FLASH: JsonFields = Object.freeze(emptyFields());

/** A stored copy of a flash map. */
function storedFlash(flash: JsonFields): JsonFields {
  return hasFields(flash) ? copyFields(flash) : NO_FLASH;
}

function copyRecord(r: SessionRecord): SessionRecord {
  return { ...r, data: copyFields(r.data), flash: storedFlash(r.flash) };
}

/**
 * `record` with `change` applied, as a new record: records handed out by
 * `get` are never changed after the fact. Maps nobody changed are shared
 * (values are immutable strings).
 */
function changed(record: SessionRecord, change: SessionChange): SessionRecord {
  const touchesData = change.clear || change.delete.length > 0 || hasFields(change.set) ||
    (change.increment !== undefined && hasFields(change.increment));
  const next: SessionRecord = {
    ...record,
    data: touchesData ? copyFields(record.data) : record.data,
    flash: change.flash === null ? record.flash : storedFlash(change.flash),
  };
  return applyChange(next, { ...change, flash: null });
}

/** `record`, frozen with its maps: what `get` hands out cannot be changed by a reader. */
function frozen(record: SessionRecord): SessionRecord {
  Object.freeze(record.data);
  Object.freeze(record.flash);
  return Object.freeze(record);
}

/**
 * Sessions in memory. A stored record is never changed (a write puts a new
 * one in its place), so a read hands it out without a copy and no request
 * sees another's writes mid-way. The store sweeps expired sessions as it
 * goes, and with `maxSessions` holds a bounded number (the least recently
 * used are dropped first).
 *
 * ```ts
 * import { MemoryStore, Session } from "oak-sessions";
 * const session = new Session(new MemoryStore({ maxSessions: 10_000 }));
 * ```
 */
export class MemoryStore implements ServerStore {
  /** A server store: the cookie carries only the session ID. */
  readonly kind = "server";
  // A Map keeps insertion order; every read or write re-inserts its session,
  // so the first entry is always the least recently used one.
  #sessions = new Map<string, SessionRecord>();
  // The keys of each user's sessions: kept in step with #sessions by #put and #drop.
  #users = new Map<string, Set<string>>();
  #maxSessions: number;
  #sweepMs: number;
  #lastSweep = 0;

  /** A store in this process's memory, bounded by `maxSessions` (least recently used go first). */
  constructor(options: MemoryStoreOptions = {}) {
    checkOptionKeys("MemoryStore", options, MEMORY_STORE_OPTION_KEYS);
    const intervalName = givenName(options, "sweepIntervalSeconds", "cleanupIntervalSeconds");
    const { maxSessions = Infinity, cleanupIntervalSeconds = 60 } = renamedOptions(
      "MemoryStore",
      options,
      { sweepIntervalSeconds: "cleanupIntervalSeconds" },
    );
    if (maxSessions !== Infinity && (!Number.isInteger(maxSessions) || maxSessions < 1)) {
      throw new SessionConfigError(
        `MemoryStore: maxSessions must be a positive integer, got ${String(maxSessions)}`,
      );
    }
    if (!Number.isInteger(cleanupIntervalSeconds) || cleanupIntervalSeconds < 0) {
      throw new SessionConfigError(
        `MemoryStore: ${intervalName} must be a non-negative integer, got ${
          String(cleanupIntervalSeconds)
        }`,
      );
    }
    this.#maxSessions = maxSessions;
    this.#sweepMs = cleanupIntervalSeconds * 1000;
  }

  /**
   * The most sessions the store keeps (`maxSessions`; `Infinity`: no bound).
   * A bounded store evicts, so it cannot keep records that must not be lost,
   * such as a `CookieStore`'s revocations.
   */
  get maxSessions(): number {
    return this.#maxSessions;
  }

  /** How many sessions the store holds (expired ones not yet swept included). */
  get size(): number {
    return this.#sessions.size;
  }

  #live(key: string, now: number): SessionRecord | undefined {
    if (now - this.#lastSweep >= this.#sweepMs) this.cleanup(now);
    const record = this.#sessions.get(key);
    if (record === undefined) return undefined;
    // Expired: left to the sweep, so the middleware can still tell an expired
    // session from an unknown one (get(key, 0)) for its events.
    if (record.expiresAt <= now) return undefined;
    if (this.#maxSessions !== Infinity) {
      // Re-inserted: now the most recently used (only a bounded store evicts).
      this.#sessions.delete(key);
      this.#sessions.set(key, record);
    }
    return record;
  }

  /** Put `record` under `key` (where it is in the use order is the caller's concern), indexed. */
  #put(key: string, record: SessionRecord): void {
    const old = this.#sessions.get(key)?.userId;
    this.#sessions.set(key, frozen(record));
    if (old === record.userId) return;
    if (old !== undefined) this.#unindex(old, key);
    if (record.userId !== undefined) {
      let keys = this.#users.get(record.userId);
      if (keys === undefined) this.#users.set(record.userId, keys = new Set());
      keys.add(key);
    }
  }

  /** Remove the session under `key` and its index entry. */
  #drop(key: string): void {
    const userId = this.#sessions.get(key)?.userId;
    this.#sessions.delete(key);
    if (userId !== undefined) this.#unindex(userId, key);
  }

  #unindex(userId: string, key: string): void {
    const keys = this.#users.get(userId);
    if (keys === undefined) return;
    keys.delete(key);
    if (keys.size === 0) this.#users.delete(userId);
  }

  /** Insert `record` under `key`, dropping the least recently used at the bound. */
  #insert(key: string, record: SessionRecord): void {
    this.#drop(key);
    while (this.#sessions.size >= this.#maxSessions) {
      this.#drop(this.#sessions.keys().next().value as string);
    }
    this.#put(key, record);
  }

  /**
   * The session's record, or `null`. The record is the store's own, handed
   * out uncopied: the middleware never changes it, and every write of the
   * store puts a new record in its place instead of changing this one.
   */
  get(key: string, now: number): Promise<SessionRecord | null> {
    return Promise.resolve(this.#live(key, now) ?? null);
  }

  /** Store a new session, dropping the least recently used when the bound is reached. */
  create(key: string, record: SessionRecord, now: number): Promise<void> {
    if (now - this.#lastSweep >= this.#sweepMs) this.cleanup(now);
    this.#insert(key, copyRecord(record));
    return Promise.resolve();
  }

  /** Apply a change set, if the session is still there. */
  update(key: string, change: SessionChange, now: number): Promise<WriteResult> {
    const record = this.#live(key, now);
    if (record === undefined) return Promise.resolve(false);
    if (record.movedAt !== undefined) return Promise.resolve("moved");
    this.#put(key, changed(record, change));
    return Promise.resolve(true);
  }

  /**
   * Move a live session to `newKey` with `change` applied, in one synchronous
   * step (no other call can run between the check and the move), leaving a
   * marker under `oldKey`. Returns `false`, writing nothing, when the session
   * under `oldKey` is gone, and `"moved"` when it holds a marker.
   */
  rotate(oldKey: string, newKey: string, change: SessionChange, now: number): Promise<WriteResult> {
    const record = this.#live(oldKey, now);
    if (record === undefined) return Promise.resolve(false);
    if (record.movedAt !== undefined) return Promise.resolve("moved");
    this.#drop(oldKey);
    this.#insert(newKey, changed(record, change));
    // A marker never evicts a session: at the bound, the old ID is simply unknown.
    if (this.#sessions.size < this.#maxSessions) this.#put(oldKey, movedMarker(now));
    return Promise.resolve(true);
  }

  /** Remove a session. */
  delete(key: string): Promise<void> {
    this.#drop(key);
    return Promise.resolve();
  }

  /** The live sessions of `userId`, from the store's per-user index. */
  listByUser(userId: string, now: number): Promise<UserSession[]> {
    const found: UserSession[] = [];
    for (const key of [...(this.#users.get(userId) ?? [])]) {
      const record = this.#sessions.get(key);
      if (record === undefined) continue;
      if (record.expiresAt <= now) this.#drop(key);
      else found.push({ key, record });
    }
    return Promise.resolve(found);
  }

  /** Remove every session of `userId` but those under `exceptKeys`, in one synchronous step. */
  deleteByUser(userId: string, exceptKeys: readonly string[], _now: number): Promise<number> {
    let removed = 0;
    for (const key of [...(this.#users.get(userId) ?? [])]) {
      if (exceptKeys.includes(key)) continue;
      this.#drop(key);
      removed++;
    }
    return Promise.resolve(removed);
  }

  /** Remove expired sessions now; returns how many went. */
  cleanup(now: number = Date.now()): Promise<number> {
    this.#lastSweep = now;
    let removed = 0;
    for (const [key, record] of this.#sessions) {
      if (record.expiresAt <= now) {
        this.#drop(key);
        removed++;
      }
    }
    return Promise.resolve(removed);
  }

  /** Drop every session. */
  close(): Promise<void> {
    this.#sessions.clear();
    this.#users.clear();
    return Promise.resolve();
  }
}
