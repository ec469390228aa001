/**
 * `DenoKvStore`: sessions in Deno KV (`Deno.openKv()`), the store that needs
 * no server of its own on Deno Deploy, and a local SQLite-backed file
 * elsewhere on Deno.
 *
 * Layout: one KV entry per session under `[...prefix, key]` (the key is
 * already the SHA-256 of the session ID). Its value is the UTF-8 bytes of
 * `{"v":1,"c":createdAt,"e":expiresAt,"d":{...},"f":{...}}`, the data and
 * flash maps holding each key's JSON text, plus `"u":userId`,
 * `"l":lastSeenAt` and `"m":meta` when the session has them. Bytes, not a
 * structured value, so the store knows a session's exact size before it
 * writes: KV refuses a value over 64 KiB, and this store says so with a
 * `SessionTooLargeError` instead of writing part of a change.
 *
 * A session bound to a user also has an index entry
 * `[...prefix, "user", userId, key]` whose value is the session's
 * `expiresAt` (`null`: never). It is written, moved and removed in the same
 * atomic operation as the session (create, update, rotate, delete, cleanup)
 * and carries the same `expireIn`, so every session of a user has its index
 * entry. The converse can lapse for a moment (KV drops an expired session and
 * its index entry independently; a delete racing a change of the session's
 * user leaves the new user's entry behind): such an entry points at no
 * session, and `listByUser` removes it when it finds it.
 *
 * Every write is one atomic operation checked against the versionstamp it
 * read (retried when another request wrote in between), so a concurrent
 * write of another key is kept and an update or rotation of a session that
 * was deleted meanwhile writes nothing (delete wins). Entries carry KV's own
 * `expireIn`, so KV drops dead sessions by itself; reads still check the
 * expiry, as KV removes expired entries only eventually.
 *
 * A rotation replaces the old entry with its marker (see `movedAt` in the
 * store contract) in that same atomic operation: `{"v":1,"mv":movedAt,"e":expiresAt}`
 * with an `expireIn` of `MOVED_MARKER_MS`, and no index entry. An update or
 * rotation of the old key then finds the marker (a request that read the
 * session before the move fails its versionstamp check and reads again):
 * it writes nothing and answers `"moved"`. The marker has no `c`, `d` or
 * `f`, so an earlier version of this store reads it as no session.
 *
 * Deno only: on Node.js the constructor throws a `SessionConfigError`.
 *
 * @module
 */
import { SessionConfigError, SessionStoreError, SessionTooLargeError } from "../errors.ts";
import { checkOptionKeys, keysOf, renamedOptions } from "../option_keys.ts";
import {
  applyChange,
  movedMarker,
  type ServerStore,
  type SessionChange,
  type SessionRecord,
  type UserSession,
  type WriteResult,
} from "../store.ts";
import { payloadRecord } from "./shared/record_codec.ts";
import { givenName } from "./shared/store_options.ts";

/** Keys of `new DenoKvStore(kv, options)` and `DenoKvStore.open(path, options)` (`prefix`: the old name of `keyPrefix`). */
export const DENO_KV_STORE_OPTION_KEYS: readonly string[] = keysOf<DenoKvStoreOptions>({
  keyPrefix: true,
  prefix: true,
});

/** A part of a Deno KV key, as `Deno.KvKeyPart` allows it. */
export type DenoKvKeyPart = Uint8Array | string | number | bigint | boolean | symbol;

/** An entry as `Deno.Kv.get` returns it (`versionstamp: null`: no entry). */
export interface DenoKvEntry {
  /** The entry's key. */
  key: readonly DenoKvKeyPart[];
  /** The stored value (`null` when there is none). */
  value: unknown;
  /** The version of the entry, `null` when it does not exist. */
  versionstamp: string | null;
}

/** The part of `Deno.AtomicOperation` the store uses. */
export interface DenoKvAtomicOperation {
  /** Fail the commit unless each key still has the given versionstamp (`null`: absent). */
  check(
    ...checks: Array<{ key: readonly DenoKvKeyPart[]; versionstamp: string | null }>
  ): DenoKvAtomicOperation;
  /** Set a key, optionally expiring after `expireIn` milliseconds. */
  set(
    key: readonly DenoKvKeyPart[],
    value: unknown,
    options?: { expireIn?: number },
  ): DenoKvAtomicOperation;
  /** Delete a key. */
  delete(key: readonly DenoKvKeyPart[]): DenoKvAtomicOperation;
  /** Apply everything or nothing; `ok: false` when a check failed. */
  commit(): Promise<{ ok: boolean }>;
}

/**
 * The part of a `Deno.Kv` handle the store uses (typed by shape, so the
 * library type-checks without Deno's own declarations).
 */
export interface DenoKvLike {
  /** Read one entry. */
  get(key: readonly DenoKvKeyPart[]): Promise<DenoKvEntry>;
  /** Read several entries at one consistent version. */
  getMany(keys: ReadonlyArray<readonly DenoKvKeyPart[]>): Promise<DenoKvEntry[]>;
  /** Write one entry. */
  set(
    key: readonly DenoKvKeyPart[],
    value: unknown,
    options?: { expireIn?: number },
  ): Promise<unknown>;
  /** Delete one entry. */
  delete(key: readonly DenoKvKeyPart[]): Promise<void>;
  /** Begin an atomic operation. */
  atomic(): DenoKvAtomicOperation;
  /** The entries under a prefix (`batchSize`: how many one read fetches, at one version). */
  list(
    selector: { prefix: readonly DenoKvKeyPart[] },
    options?: { batchSize?: number },
  ): AsyncIterable<DenoKvEntry>;
  /** Close the database. */
  close(): void;
}

/**
 * Options of {@link DenoKvStore}.
 *
 * ```ts
 * const store = new DenoKvStore(kv, { keyPrefix: ["myapp", "sessions"] });
 * ```
 */
export interface DenoKvStoreOptions {
  /** The key prefix every session entry goes under. Default `["oak_sessions"]`. */
  keyPrefix?: readonly DenoKvKeyPart[];
  /** @deprecated Renamed `keyPrefix` (the name every store uses); the old name still works. */
  prefix?: readonly DenoKvKeyPart[];
}

/** Deno KV's limit on one value, in bytes. */
export const DENO_KV_VALUE_LIMIT = 65_536;
// How often a write is retried when other requests keep writing the same
// session between its read and its commit.
const MAX_ATTEMPTS = 100;
// Deno KV's bounds: keys one getMany reads; entries one list read returns;
// mutations in one atomic operation; and the total size of its keys (KV
// takes 80 KiB of set and checked keys and 800 KiB of mutations: the
// stricter bound is kept for deletions too).
const GET_MANY_KEYS = 10;
const LIST_BATCH = 1000;
const OP_MUTATIONS = 1000;
const OP_KEY_BYTES = 81_920;
// The key part under the prefix that the per-user index lives in.
const USER = "user";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

interface DenoGlobal {
  openKv?: (path?: string) => Promise<DenoKvLike>;
  errors?: { BadResource?: new (...args: never[]) => Error };
}

function denoGlobal(): DenoGlobal | undefined {
  return (globalThis as { Deno?: DenoGlobal }).Deno;
}

/** Why this runtime cannot run the store, or `undefined` when it can. */
function runtimeProblem(): string | undefined {
  const deno = denoGlobal();
  if (deno === undefined) {
    return "DenoKvStore needs Deno (Deno.openKv); this runtime has no Deno KV. On Node.js use " +
      "SqliteStore, RedisStore or another server store";
  }
  if (typeof deno.openKv !== "function") {
    return "DenoKvStore: Deno.openKv is not available; run with --unstable-kv or add " +
      '"unstable": ["kv"] to deno.json (Deno Deploy has it without a flag)';
  }
  return undefined;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return `a ${typeof value}`;
  if (typeof (value as { then?: unknown }).then === "function") return "a Promise";
  return `an object without ${
    ["get", "getMany", "set", "delete", "atomic", "list"].filter((m) =>
      typeof (value as Record<string, unknown>)[m] !== "function"
    ).join("/")
  }`;
}

function checkKv(kv: unknown): DenoKvLike {
  const k = kv as Record<string, unknown> | null;
  const ok = k !== null && typeof k === "object" &&
    ["get", "getMany", "set", "delete", "atomic", "list"].every((m) => typeof k[m] === "function");
  if (ok) return kv as DenoKvLike;
  const hint = typeof (k as { then?: unknown } | null)?.then === "function"
    ? "; await it: new DenoKvStore(await Deno.openKv())"
    : typeof kv === "string"
    ? "; to open a file, use await DenoKvStore.open(path)"
    : "";
  throw new SessionConfigError(
    `DenoKvStore: expected an open Deno.Kv (await Deno.openKv()), got ${describe(kv)}${hint}`,
  );
}

function checkPrefix(prefix: unknown, name: string): readonly DenoKvKeyPart[] {
  const ok = Array.isArray(prefix) &&
    prefix.every((p) =>
      typeof p === "string" || typeof p === "number" || typeof p === "bigint" ||
      typeof p === "boolean" || p instanceof Uint8Array
    );
  if (!ok) {
    throw new SessionConfigError(
      `DenoKvStore: ${name} must be an array of KV key parts (strings, numbers, bigints, ` +
        'booleans, Uint8Arrays), e.g. ["oak_sessions"]',
    );
  }
  return [...prefix];
}

/**
 * The key prefix of `new DenoKvStore(kv, prefixOrOptions)`: a string is one
 * key part; options give `keyPrefix` (or its old name `prefix`).
 */
function prefixOf(where: string, prefixOrOptions: unknown): readonly DenoKvKeyPart[] {
  if (typeof prefixOrOptions === "string") return [prefixOrOptions];
  if (prefixOrOptions === undefined) prefixOrOptions = {};
  if (typeof prefixOrOptions !== "object" || prefixOrOptions === null) {
    throw new SessionConfigError(
      `${where}: the second argument must be a key prefix string or an options object, ` +
        "e.g. { keyPrefix }",
    );
  }
  checkOptionKeys(where, prefixOrOptions, DENO_KV_STORE_OPTION_KEYS);
  const name = givenName(prefixOrOptions, "prefix", "keyPrefix");
  const options = renamedOptions("DenoKvStore", prefixOrOptions as DenoKvStoreOptions, {
    prefix: "keyPrefix",
  });
  return checkPrefix(options.keyPrefix ?? ["oak_sessions"], name);
}

function isBadResource(error: unknown): boolean {
  const BadResource = denoGlobal()?.errors?.BadResource;
  return (BadResource !== undefined && error instanceof BadResource) ||
    (error instanceof Error && error.name === "BadResource");
}

/** The error a failed KV call becomes: a closed handle is the programmer's, the rest the store's. */
function kvError(error: unknown, doing: string): Error {
  if (error instanceof SessionConfigError || error instanceof SessionTooLargeError) return error;
  if (isBadResource(error)) {
    return new SessionConfigError(
      `DenoKvStore: the Deno.Kv handle is closed (while ${doing}); keep it open while the ` +
        "store is in use and close it only after the server stops, or let " +
        "DenoKvStore.open() own one and call store.close()",
    );
  }
  const detail = error instanceof Error ? error.message : String(error);
  return new SessionStoreError(`DenoKvStore: Deno KV failed while ${doing}: ${detail}`, {
    cause: error,
  });
}

/** `expiresAt` as JSON and KV can hold it: `null` for never. */
function expiry(expiresAt: number): number | null {
  return Number.isFinite(expiresAt) ? expiresAt : null;
}

function encode(record: SessionRecord): Uint8Array {
  if (record.movedAt !== undefined) {
    return encoder.encode(JSON.stringify({ v: 1, mv: record.movedAt, e: record.expiresAt }));
  }
  const value: Record<string, unknown> = {
    v: 1,
    c: record.createdAt,
    e: expiry(record.expiresAt),
    d: record.data,
    f: record.flash,
  };
  // boundAt is not kept: a server store revokes by deleting.
  if (record.userId !== undefined) value.u = record.userId;
  if (record.lastSeenAt !== undefined) value.l = record.lastSeenAt;
  if (record.meta !== undefined) value.m = record.meta;
  const text = JSON.stringify(value);
  const bytes = encoder.encode(text);
  if (bytes.length > DENO_KV_VALUE_LIMIT) {
    throw new SessionTooLargeError(
      `DenoKvStore: the session takes ${bytes.length} bytes, over Deno KV's limit of ` +
        `${DENO_KV_VALUE_LIMIT} bytes per value; nothing was written. Keep large data ` +
        "elsewhere (a table keyed by user) and only its ID in the session",
      bytes.length,
      DENO_KV_VALUE_LIMIT,
    );
  }
  return bytes;
}

/** The record in a stored value, or `null` for anything this store did not write. */
function decode(value: unknown): SessionRecord | null {
  if (!(value instanceof Uint8Array)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(value));
  } catch {
    return null;
  }
  if (parsed === null || typeof parsed !== "object") return null;
  const p = parsed as Record<string, unknown>;
  if (p.mv !== undefined) {
    // A rotation's marker: when it moved, and when the marker ends.
    const ok = p.v === 1 && typeof p.mv === "number" && Number.isFinite(p.mv) &&
      typeof p.e === "number";
    return ok ? { ...movedMarker(p.mv as number), expiresAt: p.e as number } : null;
  }
  const record = payloadRecord(p);
  if (record === null) return null;
  return optionals(record, p) ? record : null;
}

/** Copy the optional fields of stored value `p` into `record`; `false` when one is malformed. */
function optionals(record: SessionRecord, p: Record<string, unknown>): boolean {
  if (p.u !== undefined) {
    if (typeof p.u !== "string") return false;
    record.userId = p.u;
  }
  if (p.l !== undefined) {
    if (typeof p.l !== "number") return false;
    record.lastSeenAt = p.l;
  }
  if (p.m !== undefined) {
    if (typeof p.m !== "string") return false;
    record.meta = p.m;
  }
  return true;
}

/** The expiry an index entry holds (`Infinity` for never), or `undefined` for a foreign value. */
function indexExpiry(value: unknown): number | undefined {
  if (value === null) return Infinity;
  return typeof value === "number" ? value : undefined;
}

const sizeEncoder = new TextEncoder();

/** The bytes of one key part in KV's key encoding (a close upper bound for bigints). */
function partSize(part: DenoKvKeyPart): number {
  if (typeof part === "string" || part instanceof Uint8Array) {
    const bytes = typeof part === "string" ? sizeEncoder.encode(part) : part;
    // A type byte, a terminator, and an escape byte after each zero byte.
    return 2 + bytes.length + bytes.filter((b) => b === 0).length;
  }
  if (typeof part === "number") return 9;
  if (typeof part === "bigint") return 3 + Math.ceil(part.toString(16).length / 2);
  if (typeof part === "boolean") return 1;
  return 2048;
}

/** The bytes of `key` in KV's key encoding. */
function keySize(key: readonly DenoKvKeyPart[]): number {
  let size = 0;
  for (const part of key) size += partSize(part);
  return size;
}

/**
 * `groups` (each a set of keys that must go in one operation) split into
 * batches that fit one atomic operation of deletions.
 */
function batches(groups: ReadonlyArray<readonly DenoKvKeyPart[][]>): DenoKvKeyPart[][][] {
  const out: DenoKvKeyPart[][][] = [];
  let batch: DenoKvKeyPart[][] = [];
  let bytes = 0;
  for (const group of groups) {
    const size = group.reduce((n, key) => n + keySize(key), 0);
    if (
      batch.length > 0 &&
      (batch.length + group.length > OP_MUTATIONS || bytes + size > OP_KEY_BYTES)
    ) {
      out.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(...group);
    bytes += size;
  }
  if (batch.length > 0) out.push(batch);
  return out;
}

/** KV's `expireIn` for a record ending at `expiresAt`: `undefined` for never, <= 0 for over. */
function ttl(expiresAt: number, now: number): number | undefined {
  return Number.isFinite(expiresAt) ? Math.ceil(expiresAt - now) : undefined;
}

function live(entry: DenoKvEntry, now: number): SessionRecord | null {
  const record = decode(entry.value);
  return record !== null && record.expiresAt > now ? record : null;
}

/** What an attempt of a checked write returns when its check failed: try again. */
const CONFLICT: unique symbol = Symbol("conflict");

/** A pause that grows with the attempt, with jitter, so contending writers spread out. */
function backoff(attempt: number): Promise<void> {
  return attempt < 3
    ? Promise.resolve()
    : new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(attempt, 20)));
}

/**
 * Sessions in Deno KV. Pass the handle the application opened (the store
 * never closes it), or let {@link DenoKvStore.open} open one the store owns.
 * Changes are atomic operations checked against the versionstamp they read,
 * so concurrent requests that change different keys both land and a logout
 * always wins; KV's `expireIn` drops dead sessions.
 *
 * ```ts
 * import { DenoKvStore, Session } from "oak-sessions";
 *
 * const kv = await Deno.openKv(); // on Deno Deploy: the project's database
 * app.use(Session.initMiddleware(new DenoKvStore(kv), { expireAfterSeconds: 3600 }));
 * ```
 *
 * Locally, KV is a SQLite file: `deno run --unstable-kv --allow-read=./sessions.db
 * --allow-write=./sessions.db` with `Deno.openKv("./sessions.db")` (Deno 2 wants the flag, or
 * `"unstable": ["kv"]` in deno.json). A session larger than 64 KiB throws a
 * `SessionTooLargeError` and nothing is written.
 */
export class DenoKvStore implements ServerStore {
  /** A server-side store (the middleware chooses by this, not by class). */
  readonly kind = "server";
  #kv: DenoKvLike;
  #prefix: readonly DenoKvKeyPart[];
  #owned = false;

  /**
   * Keep sessions in `kv`, an open `Deno.Kv` the application owns, under a
   * key prefix: a string (one key part) or the options. Throws a
   * `SessionConfigError` on a runtime without Deno KV, or for a value that is
   * not an open handle.
   *
   * ```ts
   * new DenoKvStore(kv); // under ["oak_sessions"]
   * new DenoKvStore(kv, "myapp"); // under ["myapp"]
   * new DenoKvStore(kv, { keyPrefix: ["myapp", "sessions"] });
   * ```
   */
  constructor(kv: DenoKvLike, prefixOrOptions?: string | DenoKvStoreOptions) {
    const problem = runtimeProblem();
    if (problem !== undefined) throw new SessionConfigError(problem);
    this.#kv = checkKv(kv);
    this.#prefix = prefixOf("DenoKvStore", prefixOrOptions);
  }

  /**
   * Open a KV database the store owns (`store.close()` closes it): the
   * project's database on Deno Deploy, a file at `path` elsewhere (no path:
   * Deno's default location for this script).
   *
   * ```ts
   * const store = await DenoKvStore.open("./sessions.db");
   * ```
   */
  static async open(
    path?: string,
    prefixOrOptions?: string | DenoKvStoreOptions,
  ): Promise<DenoKvStore> {
    const problem = runtimeProblem();
    if (problem !== undefined) throw new SessionConfigError(problem);
    if (path !== undefined && typeof path !== "string") {
      throw new SessionConfigError("DenoKvStore.open: path must be a string, or omitted");
    }
    // Before the database is opened: a bad or misspelt option costs no open and close.
    prefixOf("DenoKvStore.open", prefixOrOptions);
    const kv = await denoGlobal()!.openKv!(path);
    let store: DenoKvStore;
    try {
      store = new DenoKvStore(kv, prefixOrOptions);
    } catch (error) {
      kv.close();
      throw error;
    }
    store.#owned = true;
    return store;
  }

  #key(key: string): DenoKvKeyPart[] {
    return [...this.#prefix, key];
  }

  /** The index entry of `userId`'s session under `key`. */
  #userKey(userId: string, key: string): DenoKvKeyPart[] {
    return [...this.#prefix, USER, userId, key];
  }

  /** The session key an index entry of this store points at, or `undefined` for another entry. */
  #indexed(entry: DenoKvEntry): string | undefined {
    const n = this.#prefix.length;
    const key = entry.key[n + 2];
    return entry.key.length === n + 3 && entry.key[n] === USER && typeof key === "string"
      ? key
      : undefined;
  }

  /**
   * Add to `op` the writes that leave `record` under `key` and the user index
   * in step with it: `was` is the user of the entry `op` replaces. A record
   * already over at `now` is removed instead, with its index entries.
   */
  #put(
    op: DenoKvAtomicOperation,
    key: string,
    record: SessionRecord,
    was: string | undefined,
    now: number,
  ): void {
    const expireIn = ttl(record.expiresAt, now);
    const over = expireIn !== undefined && expireIn <= 0;
    const bytes = over ? undefined : encode(record);
    const user = record.userId;
    if (was !== undefined && (over || was !== user)) op.delete(this.#userKey(was, key));
    if (bytes === undefined) {
      op.delete(this.#key(key));
      if (user !== undefined && user !== was) op.delete(this.#userKey(user, key));
      return;
    }
    op.set(this.#key(key), bytes, { expireIn });
    if (user !== undefined) {
      op.set(this.#userKey(user, key), expiry(record.expiresAt), { expireIn });
    }
  }

  /**
   * Run `attempt` until it settles (returns anything but `CONFLICT`), backing
   * off between attempts; `what` names the write in the error when it never does.
   */
  async #settle<T>(
    doing: string,
    what: string,
    attempt: () => Promise<T | typeof CONFLICT>,
  ): Promise<T> {
    try {
      for (let i = 0; i < MAX_ATTEMPTS; i++) {
        const result = await attempt();
        if (result !== CONFLICT) return result;
        await backoff(i);
      }
    } catch (error) {
      throw kvError(error, doing);
    }
    throw new SessionStoreError(
      `DenoKvStore: ${what} kept conflicting with concurrent writes ` +
        `(${MAX_ATTEMPTS} attempts); try again`,
    );
  }

  /** The session's record, or `null` when missing, expired or not written by this store. */
  async get(key: string, now: number): Promise<SessionRecord | null> {
    try {
      return live(await this.#kv.get(this.#key(key)), now);
    } catch (error) {
      throw kvError(error, "reading a session");
    }
  }

  /**
   * Store a new session (replacing any under that key) and its index entry in
   * one atomic operation checked against what was there, expiring by KV's
   * `expireIn`.
   */
  create(key: string, record: SessionRecord, now: number): Promise<void> {
    return this.#settle("creating a session", "creating a session", async () => {
      const entry = await this.#kv.get(this.#key(key));
      const op = this.#kv.atomic().check(entry);
      this.#put(op, key, record, decode(entry.value)?.userId, now);
      return (await op.commit()).ok ? undefined : CONFLICT;
    });
  }

  /**
   * Apply a change set (increments included, to the record read) in one
   * atomic operation checked against the versionstamp read, retried when
   * another write came in between; only if the session is still there and
   * live at `now`. A change of user moves the index entry in that operation.
   * `"moved"`, writing nothing, when the key holds a rotation's marker.
   */
  update(key: string, change: SessionChange, now: number): Promise<WriteResult> {
    const k = this.#key(key);
    return this.#settle<WriteResult>("updating a session", "a session update", async () => {
      const entry = await this.#kv.get(k);
      const record = live(entry, now);
      if (record === null) return false;
      if (record.movedAt !== undefined) return "moved";
      const was = record.userId;
      const op = this.#kv.atomic().check(entry);
      this.#put(op, key, applyChange(record, change), was, now);
      return (await op.commit()).ok ? true : CONFLICT;
    });
  }

  /**
   * Move a session to `newKey` in one atomic operation checked against the
   * old entry's versionstamp and the new key's absence: the stored record
   * with `change` applied goes under `newKey`, the marker of the move
   * replaces `oldKey` (its index entry removed), and the index entry moves
   * with the session. Returns `false`, writing nothing, when the old session
   * is gone or expired (or, never in practice, the new key is taken), and
   * `"moved"` when `oldKey` holds a marker (a concurrent rotation won).
   */
  rotate(
    oldKey: string,
    newKey: string,
    change: SessionChange,
    now: number,
  ): Promise<WriteResult> {
    const oldK = this.#key(oldKey);
    const newK = this.#key(newKey);
    return this.#settle<WriteResult>("rotating a session", "a session rotation", async () => {
      const [oldEntry, newEntry] = await this.#kv.getMany([oldK, newK]);
      const record = live(oldEntry, now);
      if (record === null) return false;
      if (record.movedAt !== undefined) return "moved";
      if (newEntry.versionstamp !== null) return false;
      const op = this.#kv.atomic().check(oldEntry).check({ key: newK, versionstamp: null });
      // The marker, with its expireIn of MOVED_MARKER_MS; the old user's index entry goes.
      this.#put(op, oldKey, movedMarker(now), record.userId, now);
      this.#put(op, newKey, applyChange(record, change), undefined, now);
      return (await op.commit()).ok ? true : CONFLICT;
    });
  }

  /**
   * Remove a session and its index entry in one atomic operation; no error
   * when it does not exist. Not checked against a versionstamp (deletion
   * wins): should the session's user change between the read and the
   * deletion, the new user's entry is left pointing at nothing, and
   * `listByUser` removes it.
   */
  async delete(key: string): Promise<void> {
    const k = this.#key(key);
    try {
      const entry = await this.#kv.get(k);
      if (entry.versionstamp === null) return;
      const op = this.#kv.atomic().delete(k);
      const user = decode(entry.value)?.userId;
      if (user !== undefined) op.delete(this.#userKey(user, key));
      await op.commit();
    } catch (error) {
      throw kvError(error, "deleting a session");
    }
  }

  /** The index entries of `userId`: one read (at one version) for up to 1000. */
  async #userEntries(userId: string): Promise<DenoKvEntry[]> {
    const entries: DenoKvEntry[] = [];
    const prefix = [...this.#prefix, USER, userId];
    for await (const entry of this.#kv.list({ prefix }, { batchSize: LIST_BATCH })) {
      if (this.#indexed(entry) !== undefined) entries.push(entry);
    }
    return entries;
  }

  /** The entries under `keys`, read in as many `getMany` calls as KV needs. */
  async #getAll(keys: DenoKvKeyPart[][]): Promise<DenoKvEntry[]> {
    const reads: Promise<DenoKvEntry[]>[] = [];
    for (let i = 0; i < keys.length; i += GET_MANY_KEYS) {
      reads.push(this.#kv.getMany(keys.slice(i, i + GET_MANY_KEYS)));
    }
    return (await Promise.all(reads)).flat();
  }

  /**
   * The live sessions of `userId` at `now`, found through its index entries.
   * An entry whose session is gone, expired or now another user's is removed
   * (checked against the entry's versionstamp, so one rewritten meanwhile stays).
   */
  async listByUser(userId: string, now: number): Promise<UserSession[]> {
    try {
      const index = await this.#userEntries(userId);
      const keys = index.map((entry) => this.#indexed(entry)!);
      const sessions = await this.#getAll(keys.map((key) => this.#key(key)));
      const found: UserSession[] = [];
      const stale: Promise<unknown>[] = [];
      sessions.forEach((entry, i) => {
        const record = decode(entry.value);
        if (record !== null && record.userId === userId && record.expiresAt > now) {
          found.push({ key: keys[i], record });
        } else {
          stale.push(this.#kv.atomic().check(index[i]).delete(index[i].key).commit());
        }
      });
      await Promise.all(stale);
      return found;
    } catch (error) {
      throw kvError(error, "listing a user's sessions");
    }
  }

  /**
   * Remove every session of `userId` but those under `exceptKeys`, each with
   * its index entry in the same atomic operation. Deno KV bounds an operation
   * (1000 mutations, and the size of its keys), so a user with many sessions is removed
   * in several operations: each session goes whole with its entry, but a
   * reader may meanwhile see some of the user's sessions gone and others not
   * yet, and a failure midway leaves the rest for a retry. The deletions are
   * not checked (deletion wins): an update or rotation of a removed session
   * that was in flight fails its own check and writes nothing. The index is
   * read again until a read (one version, for up to 1000 entries) finds none
   * left but the excepted, so a session rotated to a new key meanwhile goes
   * too. Returns how many sessions live at `now` it removed, as their index
   * entries' expiry tells (without reading the sessions themselves).
   */
  async deleteByUser(userId: string, exceptKeys: readonly string[], now: number): Promise<number> {
    const except = new Set(exceptKeys);
    let removed = 0;
    try {
      for (let pass = 0; pass < MAX_ATTEMPTS; pass++) {
        const targets = (await this.#userEntries(userId)).filter((entry) =>
          !except.has(this.#indexed(entry)!)
        );
        if (targets.length === 0) return removed;
        const groups = targets.map((entry) => [this.#key(this.#indexed(entry)!), [...entry.key]]);
        for (const batch of batches(groups)) {
          const op = this.#kv.atomic();
          for (const key of batch) op.delete(key);
          await op.commit();
        }
        for (const entry of targets) if ((indexExpiry(entry.value) ?? now) > now) removed++;
      }
    } catch (error) {
      throw kvError(error, "removing a user's sessions");
    }
    throw new SessionStoreError(
      `DenoKvStore: removing the sessions of a user kept finding new ones (${MAX_ATTEMPTS} ` +
        "passes); try again",
    );
  }

  /**
   * Remove the sessions expired at `now` that KV has not dropped yet (its
   * `expireIn` removes them eventually; this is for a prompt sweep), each with
   * its index entry, and index entries expired with their session. Each
   * removal is checked against the versionstamp read, so a session refreshed
   * meanwhile stays. Returns how many sessions went.
   */
  async cleanup(now: number = Date.now()): Promise<number> {
    let removed = 0;
    try {
      for await (const entry of this.#kv.list({ prefix: this.#prefix })) {
        if (this.#indexed(entry) !== undefined) {
          const expires = indexExpiry(entry.value);
          if (expires !== undefined && expires <= now) {
            await this.#kv.atomic().check(entry).delete(entry.key).commit();
          }
          continue;
        }
        const key = entry.key[this.#prefix.length];
        if (entry.key.length !== this.#prefix.length + 1 || typeof key !== "string") continue;
        const record = decode(entry.value);
        if (record === null || record.expiresAt > now) continue;
        const op = this.#kv.atomic().check(entry).delete(entry.key);
        if (record.userId !== undefined) op.delete(this.#userKey(record.userId, key));
        if ((await op.commit()).ok) removed++;
      }
    } catch (error) {
      throw kvError(error, "removing expired sessions");
    }
    return removed;
  }

  /** Close the KV handle if {@link DenoKvStore.open} opened it; a handle you passed stays open. */
  close(): Promise<void> {
    if (this.#owned) {
      this.#owned = false;
      try {
        this.#kv.close();
      } catch (error) {
        // Closed twice: nothing left to release.
        if (!isBadResource(error)) throw error;
      }
    }
    return Promise.resolve();
  }
}
