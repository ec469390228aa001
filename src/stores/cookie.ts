/**
 * The cookie store: the whole session lives in the client's cookies, sealed
 * with AES-256-GCM (see `cookie_seal.ts` for the format), with no backend.
 *
 * @module
 */
import { cryptoBackend } from "../crypto_backend.ts";
import { SessionConfigError, SessionTooLargeError, SessionValueError } from "../errors.ts";
import { checkNearMisses, checkOptionKeys, keysOf } from "../option_keys.ts";
import { COOKIE_GET_OPTION_KEYS, COOKIE_SET_OPTION_KEYS } from "../cookie_options.ts";
import { RequestCookies } from "../request_cookies.ts";
import { isSessionId } from "../session_id.ts";
import { sha256Base64Url } from "../sha256.ts";
import {
  type ClientStore,
  type CookieJar,
  type CookieRejected,
  emptyFields,
  type SealedSession,
  type ServerStore,
} from "../store.ts";
import { type CookieSecret, openSealed, seal, SealKeys } from "./cookie_seal.ts";

/** Keys of `new CookieStore(secret, options)`. */
export const COOKIE_STORE_OPTION_KEYS: readonly string[] = keysOf<CookieStoreOptions>({
  cookieGetOptions: true,
  cookieSetDeleteOptions: true,
  sessionDataCookieName: true,
  maxCookies: true,
  compress: true,
  crypto: true,
  revocations: true,
});

/**
 * Names that edit distance would match to the wrong key: the middleware's
 * `cookieSetOptions` is one edit from the store's `cookieGetOptions`, but
 * the store's option for setting cookies is `cookieSetDeleteOptions`.
 */
export const COOKIE_STORE_MIX_UPS: Readonly<Record<string, string>> = Object.freeze({
  cookieSetOptions: "cookieSetDeleteOptions",
});

/**
 * Characters of sealed value per cookie. Browsers keep at least 4,096 bytes
 * per cookie (name, value and, in some, the attributes); 3,800 leaves room for
 * the name and for `path`, `expires`, `domain`, `samesite`, `secure` and
 * `httponly`.
 */
export const COOKIE_CHUNK_LENGTH = 3800;

/**
 * Default number of cookies a session may span. Three chunks are at most
 * 11,400 characters in the request's `Cookie` header, which leaves about
 * 4.5 KB for every other header under Node's default limit of 16 KB for all
 * request headers together. Above that limit Node answers every request with
 * 431 until the cookies expire, so a larger default would lock users out.
 */
export const DEFAULT_MAX_COOKIES = 3;

/**
 * The most cookies a session may span, whatever the options say. Reads never
 * look further, so no request can make the store gather more than this.
 */
export const MAX_COOKIES_LIMIT = 10;

/** RFC 6265 cookie-name characters (an HTTP token). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Options of {@linkcode CookieStore}. */
export interface CookieStoreOptions {
  /** Options for reading the cookies (Oak's `cookies.get`, e.g. `{ signed: true }`). */
  cookieGetOptions?: Record<string, unknown>;
  /**
   * Options for setting and deleting the cookies (Oak's `cookies.set`). They
   * take precedence over the middleware's cookie options.
   */
  cookieSetDeleteOptions?: Record<string, unknown>;
  /** Name of the cookie (and prefix of its chunks `name.1`, `name.2`...). Default `session_data`. */
  sessionDataCookieName?: string;
  /**
   * How many cookies one session may span, 1 to 10. Default 3 (11,400
   * characters). Raise it only when every server and proxy in front of the
   * app accepts a `Cookie` header that large.
   */
  maxCookies?: number;
  /**
   * Deflate the session before sealing it, when that makes it smaller. Default
   * `false`: compressing before encrypting lets an observer of cookie sizes
   * who can also put chosen text into the session learn other session content
   * (the CRIME class of attacks). Enable it only when no session holds both.
   */
  compress?: boolean;
  /**
   * The crypto that seals and opens: `"node"` (`node:crypto`, synchronous,
   * the default where the runtime has it, as Node, Deno and Bun do) or
   * `"web"` (Web Crypto, the default elsewhere). Both read and write the
   * same cookies. `"node"` where the runtime lacks it throws
   * `SessionConfigError`.
   */
  crypto?: "node" | "web";
  /**
   * A server store for users' not-valid-before records (e.g. a `SqliteStore`,
   * `RedisStore` or `PostgresStore`; a `MemoryStore` only for one process, as
   * it forgets on restart, and only without `maxSessions`: a bounded one is
   * refused, as evicting a record would un-revoke its user). With it,
   * `revokeSessions(userId)` works: it records, under `"revoked:"` and the
   * SHA-256 of the user ID, that the user's sessions bound before now are
   * revoked, and `read` then refuses them. Every read and every write of a
   * session bound to a user looks that record up (one `get`): a request that
   * loaded a session before its user was revoked writes no new cookie for
   * it. Without it, the store has no `revokeUser` and `revokeSessions` is
   * refused with a `SessionConfigError`.
   */
  revocations?: ServerStore;
}

/** The methods every server store has. */
const SERVER_STORE_METHODS = ["get", "create", "update", "rotate", "delete"] as const;

/** `read`'s answer for a sound cookie of a session revoked since it was sealed. */
const REVOKED: { revoked: true } = Object.freeze({ revoked: true as const });

function malformed(rejected: CookieRejected | undefined): null {
  rejected?.("malformed");
  return null;
}

function checkRevocations(store: unknown): ServerStore | undefined {
  if (store === undefined) return undefined;
  const example = "e.g. new CookieStore(secret, { revocations: new SqliteStore(db) })";
  if (typeof store !== "object" || store === null) {
    throw new SessionConfigError(
      `CookieStore: revocations must be a server store (${example}), got ${
        store === null ? "null" : typeof store
      }`,
    );
  }
  if ((store as { kind?: unknown }).kind === "client") {
    throw new SessionConfigError(
      "CookieStore: revocations must be a server store, not a client-side store such as " +
        `another CookieStore (it keeps the records on the server; ${example})`,
    );
  }
  const missing = SERVER_STORE_METHODS.filter((m) =>
    typeof (store as Record<string, unknown>)[m] !== "function"
  );
  if (missing.length > 0) {
    throw new SessionConfigError(
      `CookieStore: revocations has no ${missing.join(", ")}; pass a server store of this ` +
        `library (MemoryStore, SqliteStore, PostgresStore, MySqlStore, RedisStore, ` +
        `WebdisStore, DenoKvStore), ${example}`,
    );
  }
  // A store that evicts at a bound would drop a record that must outlive
  // every cookie it revokes: the user's revoked cookies would open again.
  const bound = (store as { maxSessions?: unknown }).maxSessions;
  if (typeof bound === "number" && bound !== Infinity) {
    throw new SessionConfigError(
      `CookieStore: revocations is bounded by maxSessions (${bound}) and evicts the least ` +
        "recently used records, and an evicted revocation would let the user's revoked " +
        "cookies open again; use new MemoryStore() without maxSessions (one process only), " +
        "or a SqliteStore, RedisStore or PostgresStore",
    );
  }
  return store as ServerStore;
}

/** The key of `userId`'s not-valid-before record in the `revocations` store. */
export function revocationKey(userId: string): string {
  return "revoked:" + sha256Base64Url(userId);
}

/**
 * A store that keeps the whole session in the client's cookies, encrypted and
 * authenticated (AES-256-GCM, keys derived with HKDF-SHA-256). Nothing is kept
 * on the server. A tampered, truncated, expired or foreign cookie yields a fresh
 * session. Pass several secrets, newest first, to rotate keys: cookies sealed
 * with an older secret still open and are re-sealed with the newest one.
 *
 * A cookie cannot be deleted from the server, so a user's sessions are
 * revoked by a "not valid before" time instead, kept in the server store
 * given as `revocations`: a session of that user bound before it no longer
 * opens. Listing a user's sessions is not possible with cookies.
 *
 * ```ts
 * import { Application } from "@oakserver/oak";
 * import { CookieStore, Session } from "oak-sessions";
 *
 * // A secret of at least 32 characters, e.g. from
 * // node -e "console.log(crypto.randomBytes(32).toString('base64url'))"
 * // (Deno: deno eval "console.log(btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32)))))")
 * const store = new CookieStore(process.env.SESSION_SECRET!, { sessionDataCookieName: "app_session" });
 * const app = new Application();
 * app.use(Session.initMiddleware(store));
 * ```
 */
export class CookieStore implements ClientStore {
  /** Tells the middleware this store keeps the session in cookies. */
  readonly kind = "client" as const;
  /** The cookie's name; chunks are `name.1`, `name.2`... */
  readonly cookieName: string;
  /** How many cookies a session may span. */
  readonly maxCookies: number;
  /** The longest sealed value (in characters, all chunks together) the store writes. */
  readonly maxSealedLength: number;
  readonly #keys: SealKeys;
  readonly #compress: boolean;
  readonly #getOptions: Record<string, unknown> | undefined;
  /** Chunk cookie names by index, made once (a request looks up eleven). */
  readonly #chunkNames: string[] = [];
  readonly #setDeleteOptions: Record<string, unknown>;
  readonly #revocations: ServerStore | undefined;
  /** Revocations of one user in flight in this process, by record key, so they run in turn. */
  readonly #revoking = new Map<string, Promise<boolean>>();
  /**
   * Record that every session of `userId` bound before `notBefore` is
   * revoked, until `until` (both on the middleware's clock). A revocation
   * never moves an earlier one's time back: the later `notBefore` (and the
   * later `until`) is kept. With `exceptBoundAt` (when the session to be
   * kept was bound), a recorded revocation that already covers that session
   * wins: nothing is recorded and it resolves `false` (the session was
   * revoked after its request loaded it, and must not be kept); else `true`.
   * Present only with the `revocations` option.
   */
  // Declared, not defined: without `revocations` the instance has no such property at all.
  declare readonly revokeUser?: (
    userId: string,
    notBefore: number,
    until: number,
    exceptBoundAt?: number,
  ) => Promise<boolean>;

  /**
   * `secret` is one secret, or a list newest first (the first seals, all
   * open). Each needs at least 32 characters, or 32 bytes as a `Uint8Array`;
   * a shorter one throws `SessionConfigError`.
   */
  constructor(secret: CookieSecret | readonly CookieSecret[], options: CookieStoreOptions = {}) {
    checkOptionKeys("CookieStore", options, COOKIE_STORE_OPTION_KEYS, COOKIE_STORE_MIX_UPS);
    checkNearMisses(
      "CookieStore: cookieGetOptions",
      options.cookieGetOptions,
      COOKIE_GET_OPTION_KEYS,
    );
    checkNearMisses(
      "CookieStore: cookieSetDeleteOptions",
      options.cookieSetDeleteOptions,
      COOKIE_SET_OPTION_KEYS,
    );
    this.#keys = new SealKeys(
      secret,
      "CookieStore",
      cryptoBackend(options.crypto, "CookieStore"),
    );
    const name = options.sessionDataCookieName ?? "session_data";
    if (typeof name !== "string" || !TOKEN.test(name)) {
      throw new SessionConfigError(
        `CookieStore: sessionDataCookieName ${
          JSON.stringify(name)
        } is not a cookie name; use letters, digits and !#$%&'*+-.^_\`|~`,
      );
    }
    const max = options.maxCookies ?? DEFAULT_MAX_COOKIES;
    if (!Number.isInteger(max) || max < 1 || max > MAX_COOKIES_LIMIT) {
      throw new SessionConfigError(
        `CookieStore: maxCookies must be an integer from 1 to ${MAX_COOKIES_LIMIT}, not ${max}`,
      );
    }
    this.cookieName = name;
    this.maxCookies = max;
    this.maxSealedLength = max * COOKIE_CHUNK_LENGTH;
    this.#compress = options.compress ?? false;
    this.#getOptions = options.cookieGetOptions;
    this.#setDeleteOptions = options.cookieSetDeleteOptions ?? {};
    const revocations = checkRevocations(options.revocations);
    this.#revocations = revocations;
    if (revocations !== undefined) {
      this.revokeUser = (userId, notBefore, until, exceptBoundAt) =>
        this.#revoke(revocations, userId, notBefore, until, exceptBoundAt);
    }
  }

  /**
   * The session in the request's cookies, or `null` when there is none or it
   * does not open: altered, truncated, chunks missing, extra or out of order,
   * another format version, an unknown key, or expired at `now`; and, with
   * `revocations`, when its user was revoked after the session was bound to
   * them. Never throws for a bad cookie (a failing `revocations` store
   * rejects: the cookie is not let through unchecked). `stale` is `true` when
   * an older secret sealed it.
   */
  async read(
    cookies: CookieJar,
    now: number,
    rejected?: CookieRejected,
  ): Promise<{ session: SealedSession; stale: boolean } | { revoked: true } | null> {
    // Looks as far as any store could have written, so a stray chunk past a
    // gap or past maxCookies is seen (and refused) rather than ignored.
    const chunks = await this.#requestChunks(cookies, MAX_COOKIES_LIMIT);
    // Every chunk but the last is exactly full, and the last is not empty: any
    // other shape is not something this store wrote.
    const n = chunks.length;
    if (n === 0) return null;
    if (n > this.maxCookies || chunks.includes(undefined)) return malformed(rejected);
    const parts = chunks as string[];
    for (let i = 0; i < n; i++) {
      const len = parts[i].length;
      if (i < n - 1 ? len !== COOKIE_CHUNK_LENGTH : len < 1 || len > COOKIE_CHUNK_LENGTH) {
        return malformed(rejected);
      }
    }
    // Ready at once with node:crypto: awaited only when it is a promise.
    const pending = openSealed(this.#keys, parts.join(""), this.cookieName, now);
    const outcome = pending instanceof Promise ? await pending : pending;
    // Every failure (malformed, unknown key, tampered, expired) reads as no
    // session; the reason is for reporting, never for the answer.
    if (!outcome.ok) {
      rejected?.(outcome.reason, outcome.expired);
      return null;
    }
    const opened = outcome.unsealed;
    // Only this store seals, so the ID has our shape; checked anyway, as the
    // middleware trusts it as a session ID.
    if (!isSessionId(opened.session.id)) return malformed(rejected);
    // Only a session bound to a user, with revocations kept, costs a lookup.
    if (this.#revocations === undefined || opened.session.userId === undefined) return opened;
    return await this.#revoked(opened.session, now) ? REVOKED : opened;
  }

  /** Whether `session`'s user was revoked after it was bound (a store failure throws). */
  async #revoked(session: SealedSession, now: number): Promise<boolean> {
    const store = this.#revocations;
    if (store === undefined || session.userId === undefined) return false;
    const record = await store.get(revocationKey(session.userId), now);
    return record !== null && (session.boundAt ?? session.createdAt) < record.createdAt;
  }

  /** `revokeUser`: queued behind this process's other revocations of the user. */
  async #revoke(
    store: ServerStore,
    userId: string,
    notBefore: number,
    until: number,
    exceptBoundAt: number | undefined,
  ): Promise<boolean> {
    if (typeof userId !== "string" || userId === "") {
      throw new SessionValueError(
        "userId",
        `CookieStore.revokeUser: userId must be a non-empty string, got ${String(userId)}`,
      );
    }
    if (!Number.isFinite(notBefore) || !Number.isFinite(until) || until <= notBefore) {
      throw new SessionValueError(
        "notBefore",
        "CookieStore.revokeUser: notBefore and until must be times in milliseconds since the " +
          `epoch, until the later one, got ${String(notBefore)} and ${String(until)}`,
      );
    }
    if (exceptBoundAt !== undefined && !Number.isFinite(exceptBoundAt)) {
      throw new SessionValueError(
        "exceptBoundAt",
        "CookieStore.revokeUser: exceptBoundAt must be a time in milliseconds since the epoch, " +
          `got ${String(exceptBoundAt)}`,
      );
    }
    const key = revocationKey(userId);
    const earlier = this.#revoking.get(key);
    // In turn with this process's other revocations of the user, so the
    // except check and the write below see no revocation of this process
    // land between them.
    const mine = (async () => {
      await earlier?.catch(() => {});
      return await writeRevocation(store, key, notBefore, until, exceptBoundAt);
    })();
    this.#revoking.set(key, mine);
    try {
      return await mine;
    } finally {
      if (this.#revoking.get(key) === mine) this.#revoking.delete(key);
    }
  }

  /**
   * Seal `session` into the response's cookies, deleting chunk cookies of the
   * request it no longer needs. Throws `SessionTooLargeError` before setting
   * any cookie when it does not fit in `maxCookies` cookies. With
   * `revocations`, a session whose user was revoked after it was bound (by a
   * revocation that landed while its request ran) is not written: the
   * response sets no cookie, so a request in flight hands out no fresh
   * cookie of a revoked session (a failing `revocations` store rejects).
   */
  async write(
    cookies: CookieJar,
    session: SealedSession,
    cookieOptions: Record<string, unknown>,
  ): Promise<void> {
    // Only a session bound to a user, with revocations kept, costs a lookup.
    // The middleware's clock of this write is the session's lastSeenAt.
    if (
      this.#revocations !== undefined && session.userId !== undefined &&
      await this.#revoked(session, session.lastSeenAt ?? session.createdAt)
    ) {
      return;
    }
    const sealing = seal(this.#keys, session, this.cookieName, { compress: this.#compress });
    const sealed = sealing instanceof Promise ? await sealing : sealing;
    if (sealed.length > this.maxSealedLength) {
      throw new SessionTooLargeError(
        `CookieStore: the session seals to ${sealed.length} bytes, over the limit of ` +
          `${this.maxSealedLength} bytes (maxCookies ${this.maxCookies} x ${COOKIE_CHUNK_LENGTH}); ` +
          `store less in the session${this.#compress ? "" : ", enable compress"}, or use a ` +
          `server-side store`,
        sealed.length,
        this.maxSealedLength,
      );
    }
    const had = await this.#requestChunks(cookies, MAX_COOKIES_LIMIT);
    const options = this.#options(cookieOptions);
    const count = Math.ceil(sealed.length / COOKIE_CHUNK_LENGTH);
    for (let i = 0; i < count; i++) {
      const part = sealed.slice(i * COOKIE_CHUNK_LENGTH, (i + 1) * COOKIE_CHUNK_LENGTH);
      await cookies.set(this.#chunkName(i), part, options);
    }
    for (let i = count; i < had.length; i++) {
      if (had[i] !== undefined) await cookies.set(this.#chunkName(i), null, options);
    }
  }

  /** Delete the session's cookie and every chunk cookie the request carried. */
  async clear(cookies: CookieJar, cookieOptions: Record<string, unknown>): Promise<void> {
    const had = await this.#requestChunks(cookies, MAX_COOKIES_LIMIT);
    const options = this.#options(cookieOptions);
    await cookies.set(this.cookieName, null, options);
    for (let i = 1; i < had.length; i++) {
      if (had[i] !== undefined) await cookies.set(this.#chunkName(i), null, options);
    }
  }

  #chunkName(i: number): string {
    return this.#chunkNames[i] ??= i === 0 ? this.cookieName : `${this.cookieName}.${i}`;
  }

  #options(cookieOptions: Record<string, unknown>): Record<string, unknown> {
    // overwrite: a second write in one request replaces the first Set-Cookie.
    return { ...cookieOptions, ...this.#setDeleteOptions, overwrite: true };
  }

  /**
   * The request's chunk values by index, up to and including index `last`,
   * trimmed after the last present chunk. Missing chunks inside are
   * `undefined`. Bounded, so no request makes the store gather more.
   */
  async #requestChunks(cookies: CookieJar, last: number): Promise<(string | undefined)[]> {
    const out: (string | undefined)[] = [];
    // The request's cookies parsed once by the middleware answer unsigned
    // reads at once: eleven lookups without eleven promise hops.
    const parsed = cookies instanceof RequestCookies ? cookies : undefined;
    let end = 0;
    for (let i = 0; i <= last; i++) {
      const name = this.#chunkName(i);
      let v = parsed === undefined ? null : parsed.unsignedValue(name, this.#getOptions);
      if (v === null) v = await cookies.get(name, this.#getOptions);
      const present = typeof v === "string" && v.length > 0;
      out.push(present ? v : undefined);
      if (present) end = i + 1;
    }
    out.length = end;
    return out;
  }
}

/**
 * Store the not-valid-before record under `key`: `createdAt` is the later of
 * `notBefore` and any stored one, `expiresAt` the later of the two `until`s.
 * `notBefore` stands for the middleware's "now" when reading the stored one.
 * With `exceptBoundAt`, a stored record later than it means the session to
 * be kept was itself revoked: nothing is written, and the answer is `false`.
 *
 * Between processes it is a read then a write, not one step: two revocations
 * of one user at the same moment in two processes can keep the earlier of
 * the two times (they differ by the time between them), and a session that
 * asks to be kept can be kept by a revocation of another process that lands
 * between this read and this write.
 */
async function writeRevocation(
  store: ServerStore,
  key: string,
  notBefore: number,
  until: number,
  exceptBoundAt: number | undefined,
): Promise<boolean> {
  const stored = await store.get(key, notBefore);
  let createdAt = notBefore;
  let expiresAt = until;
  if (stored !== null) {
    if (exceptBoundAt !== undefined && exceptBoundAt < stored.createdAt) return false;
    if (stored.createdAt >= createdAt && stored.expiresAt >= expiresAt) return true;
    createdAt = Math.max(createdAt, stored.createdAt);
    expiresAt = Math.max(expiresAt, stored.expiresAt);
  }
  await store.create(
    key,
    { data: emptyFields(), flash: emptyFields(), createdAt, expiresAt },
    notBefore,
  );
  return true;
}
