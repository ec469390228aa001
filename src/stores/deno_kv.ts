/**
 * `DenoKvStore`: sessions in Deno KV (`Deno.openKv()`), the store that needs
 * no server of its own on Deno Deploy, and a local SQLite-backed file
 * elsewhere on Deno.
 *
 * Layout: one KV entry per session under `[...prefix, key]` (the key is
 * already the SHA-256 of the session ID). Its value is the UTF-8 bytes of
 * `{"v":1,"c":createdAt,"e":expiresAt,"d":{...},"f":{...}}`, the data and
 * flash maps holding each key's JSON text. Bytes, not a structured value,
 * so the store knows a session's exact size before it writes: KV refuses a
 * value over 64 KiB, and this store says so with a
 * `SessionTooLargeError` instead of writing part of a change.
 *
 * Every write is one atomic operation checked against the versionstamp it
 * read (retried when another request wrote in between), so a concurrent
 * write of another key is kept and an update or rotation of a session that
 * was deleted meanwhile writes nothing (delete wins). Entries carry KV's own
 * `expireIn`, so KV drops dead sessions by itself; reads still check the
 * expiry, as KV removes expired entries only eventually.
 *
 * Deno only: on Node.js the constructor throws a `SessionConfigError`.
 *
 * @module
 */
import { SessionConfigError, SessionStoreError, SessionTooLargeError } from "../errors.ts";
import {
  applyChange,
  emptyFields,
  type JsonFields,
  type ServerStore,
  type SessionChange,
  type SessionRecord,
} from "../store.ts";

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
  /** The entries under a prefix. */
  list(selector: { prefix: readonly DenoKvKeyPart[] }): AsyncIterable<DenoKvEntry>;
  /** Close the database. */
  close(): void;
}

/**
 * Options of {@link DenoKvStore}.
 *
 * ```ts
 * const store = new DenoKvStore(kv, { prefix: ["myapp", "sessions"] });
 * ```
 */
export interface DenoKvStoreOptions {
  /** The key prefix every session entry goes under. Default `["oak_sessions"]`. */
  prefix?: readonly DenoKvKeyPart[];
}

/** Deno KV's limit on one value, in bytes. */
export const DENO_KV_VALUE_LIMIT = 65_536;
// How often a write is retried when other requests keep writing the same
// session between its read and its commit.
const MAX_ATTEMPTS = 100;

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

function checkPrefix(prefix: unknown): readonly DenoKvKeyPart[] {
  const ok = Array.isArray(prefix) &&
    prefix.every((p) =>
      typeof p === "string" || typeof p === "number" || typeof p === "bigint" ||
      typeof p === "boolean" || p instanceof Uint8Array
    );
  if (!ok) {
    throw new SessionConfigError(
      "DenoKvStore: prefix must be an array of KV key parts (strings, numbers, bigints, " +
        'booleans, Uint8Arrays), e.g. ["oak_sessions"]',
    );
  }
  return [...prefix];
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

function encode(record: SessionRecord): Uint8Array {
  const text = JSON.stringify({
    v: 1,
    c: record.createdAt,
    e: Number.isFinite(record.expiresAt) ? record.expiresAt : null,
    d: record.data,
    f: record.flash,
  });
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

function fields(value: unknown): JsonFields | null {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return null;
  const out = emptyFields();
  for (const k of Object.keys(value)) {
    const v = (value as Record<string, unknown>)[k];
    if (typeof v !== "string") return null;
    out[k] = v;
  }
  return out;
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
  const expiresAt = p.e === null ? Infinity : p.e;
  if (p.v !== 1 || typeof p.c !== "number" || typeof expiresAt !== "number") return null;
  const data = fields(p.d);
  const flash = fields(p.f);
  if (data === null || flash === null) return null;
  return { data, flash, createdAt: p.c, expiresAt };
}

/** KV's `expireIn` for a record ending at `expiresAt`: `undefined` for never, <= 0 for over. */
function ttl(expiresAt: number, now: number): number | undefined {
  return Number.isFinite(expiresAt) ? Math.ceil(expiresAt - now) : undefined;
}

function live(entry: DenoKvEntry, now: number): SessionRecord | null {
  const record = decode(entry.value);
  return record !== null && record.expiresAt > now ? record : null;
}

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
   * Keep sessions in `kv`, an open `Deno.Kv` the application owns. Throws a
   * `SessionConfigError` on a runtime without Deno KV, or for a value that is
   * not an open handle.
   */
  constructor(kv: DenoKvLike, options: DenoKvStoreOptions = {}) {
    const problem = runtimeProblem();
    if (problem !== undefined) throw new SessionConfigError(problem);
    this.#kv = checkKv(kv);
    if (typeof options !== "object" || options === null) {
      throw new SessionConfigError("DenoKvStore: options must be an object, e.g. { prefix }");
    }
    this.#prefix = checkPrefix(options.prefix ?? ["oak_sessions"]);
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
  static async open(path?: string, options: DenoKvStoreOptions = {}): Promise<DenoKvStore> {
    const problem = runtimeProblem();
    if (problem !== undefined) throw new SessionConfigError(problem);
    if (path !== undefined && typeof path !== "string") {
      throw new SessionConfigError("DenoKvStore.open: path must be a string, or omitted");
    }
    const kv = await denoGlobal()!.openKv!(path);
    let store: DenoKvStore;
    try {
      store = new DenoKvStore(kv, options);
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

  /** The session's record, or `null` when missing, expired or not written by this store. */
  async get(key: string, now: number): Promise<SessionRecord | null> {
    try {
      return live(await this.#kv.get(this.#key(key)), now);
    } catch (error) {
      throw kvError(error, "reading a session");
    }
  }

  /** Store a new session (replacing any under that key), expiring by KV's `expireIn`. */
  async create(key: string, record: SessionRecord, now: number): Promise<void> {
    const bytes = encode(record);
    const expireIn = ttl(record.expiresAt, now);
    try {
      if (expireIn !== undefined && expireIn <= 0) await this.#kv.delete(this.#key(key));
      else await this.#kv.set(this.#key(key), bytes, { expireIn });
    } catch (error) {
      throw kvError(error, "creating a session");
    }
  }

  /** Apply a change set atomically, only if the session is still there and live at `now`. */
  async update(key: string, change: SessionChange, now: number): Promise<boolean> {
    const k = this.#key(key);
    try {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const entry = await this.#kv.get(k);
        const record = live(entry, now);
        if (record === null) return false;
        const bytes = encode(applyChange(record, change));
        const expireIn = ttl(record.expiresAt, now);
        const op = this.#kv.atomic().check(entry);
        if (expireIn !== undefined && expireIn <= 0) op.delete(k);
        else op.set(k, bytes, { expireIn });
        if ((await op.commit()).ok) return true;
        await backoff(attempt);
      }
    } catch (error) {
      throw kvError(error, "updating a session");
    }
    throw new SessionStoreError(
      `DenoKvStore: a session update kept conflicting with concurrent writes ` +
        `(${MAX_ATTEMPTS} attempts); try again`,
    );
  }

  /**
   * Move a session to `newKey` in one atomic operation checked against the
   * old entry's versionstamp and the new key's absence: the stored record
   * with `change` applied goes under `newKey` and `oldKey` is deleted. Returns
   * `false`, writing nothing, when the old session is gone or expired (or,
   * never in practice, the new key is taken).
   */
  async rotate(
    oldKey: string,
    newKey: string,
    change: SessionChange,
    now: number,
  ): Promise<boolean> {
    const oldK = this.#key(oldKey);
    const newK = this.#key(newKey);
    try {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const [oldEntry, newEntry] = await this.#kv.getMany([oldK, newK]);
        const record = live(oldEntry, now);
        if (record === null || newEntry.versionstamp !== null) return false;
        const bytes = encode(applyChange(record, change));
        const expireIn = ttl(record.expiresAt, now);
        const op = this.#kv.atomic().check(oldEntry).check({ key: newK, versionstamp: null })
          .delete(oldK);
        if (expireIn === undefined || expireIn > 0) op.set(newK, bytes, { expireIn });
        if ((await op.commit()).ok) return true;
        await backoff(attempt);
      }
    } catch (error) {
      throw kvError(error, "rotating a session");
    }
    throw new SessionStoreError(
      `DenoKvStore: a session rotation kept conflicting with concurrent writes ` +
        `(${MAX_ATTEMPTS} attempts); try again`,
    );
  }

  /** Remove a session; no error when it does not exist. */
  async delete(key: string): Promise<void> {
    try {
      await this.#kv.delete(this.#key(key));
    } catch (error) {
      throw kvError(error, "deleting a session");
    }
  }

  /**
   * Remove the sessions expired at `now` that KV has not dropped yet (its
   * `expireIn` removes them eventually; this is for a prompt sweep). Each
   * removal is checked against the versionstamp read, so a session refreshed
   * meanwhile stays. Returns how many went.
   */
  async cleanup(now: number = Date.now()): Promise<number> {
    let removed = 0;
    try {
      for await (const entry of this.#kv.list({ prefix: this.#prefix })) {
        const record = decode(entry.value);
        if (record === null || record.expiresAt > now) continue;
        if ((await this.#kv.atomic().check(entry).delete(entry.key).commit()).ok) removed++;
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
