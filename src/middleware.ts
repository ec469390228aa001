/**
 * The Oak middleware: load the session before the handler, commit what the
 * handler changed after it.
 *
 * @module
 */
import { cookieOptionsFor } from "./cookie_options.ts";
import { sendEverySetCookie } from "./oak_set_cookie.ts";
import {
  SessionConfigError,
  SessionError,
  SessionMovedError,
  SessionStoreError,
} from "./errors.ts";
import { type ResolvedOptions, resolveOptions, type SessionOptions } from "./options.ts";
import {
  endSession,
  freshState,
  idOf,
  loadedState,
  movedState,
  moveSession as moveSessionOf,
  ownRecord as ownRecordOf,
  type RequestState,
} from "./request_state.ts";
import { isIpAddress } from "./ip_address.ts";
import { cookieHeaderOf, RequestCookies } from "./request_cookies.ts";
import { metaText, parseMeta } from "./session_meta.ts";
import { isOriginalSessionId, isSessionId, sessionKey } from "./session_id.ts";
import type {
  ClientStore,
  CookieJar,
  ServerStore,
  SessionChange,
  SessionRecord,
  SessionStore,
} from "./store.ts";
import { MemoryStore } from "./stores/memory.ts";
import { fromV9Store, type V9Store } from "./stores/v9_store.ts";
import type { HeaderWriter, OakContextLike } from "./oak_context_like.ts";

export type { OakContextLike };

/**
 * An Oak middleware (fits `app.use` and `router.get(path, middleware, handler)`).
 * Its second signature names the session at `state.session`, so Oak's router
 * infers the state of the handlers after it from that one (TypeScript infers
 * from the last signature): `ctx.state.session` is typed `S` there without a
 * cast, whichever Oak (npm or JSR) and import name. The first keeps it
 * usable where that inference cannot apply, such as a `Router<{ user: string }>`
 * whose state type names no session.
 */
export type SessionMiddleware<S = unknown> =
  & ((ctx: OakContextLike, next: () => Promise<unknown>) => Promise<void>)
  & ((
    ctx: OakContextLike & { state: { session: S } },
    next: () => Promise<unknown>,
  ) => Promise<void>);

/**
 * What a request did to its session, decided at commit; acted on by a
 * `switch` the compiler checks.
 */
export type SessionOutcome =
  /** Nothing to write. */
  | { action: "none" }
  /** A session not yet stored now holds data: store it (then retire the one it replaced). */
  | { action: "create"; record: SessionRecord }
  /**
   * A stored session got a new ID (`regenerate()`): move it, with this
   * request's changes, only if it still exists.
   */
  | { action: "rotate"; fromKey: string; change: SessionChange }
  /** A stored session changed, or its sliding expiry is due. */
  | { action: "update"; change: SessionChange; refreshCookie: boolean }
  /** The stored session was destroyed (or rotated while empty): remove it. */
  | { action: "retire" }
  /** The request's cookie named no live session and none is stored: clear the cookie. */
  | { action: "forget" };

function isClientStore(store: SessionStore): store is ClientStore {
  return store.kind === "client";
}

/** Whether `store` is written for the original oak_sessions' store interface (and only that). */
function isV9Store(store: unknown): store is V9Store {
  const s = store as Record<string, unknown> | null;
  return s !== null && typeof s === "object" && typeof s.get !== "function" &&
    typeof s.getSessionById === "function" && typeof s.createSession === "function" &&
    typeof s.persistSessionData === "function" && typeof s.deleteSession === "function";
}

function checkStore(store: unknown): SessionStore {
  // A store of the original's interface keeps working as it was passed
  // (`new Session(myV9Store)`), through its adapter.
  if (isV9Store(store)) return fromV9Store(store);
  const s = store as Record<string, unknown> | null;
  const ok = s !== null && typeof s === "object" && (
    s.kind === "client"
      ? typeof s.read === "function" && typeof s.write === "function" &&
        typeof s.clear === "function"
      : typeof s.get === "function" && typeof s.create === "function" &&
        typeof s.update === "function" && typeof s.delete === "function"
  );
  if (!ok) {
    throw new SessionConfigError(
      "the session store must be a store object (MemoryStore, CookieStore, SqliteStore, " +
        "RedisStore, WebdisStore, or one implementing get/create/update/rotate/delete)",
    );
  }
  // Without an atomic, conditional move, no order of the other calls keeps a
  // session that was logged out during a rotating request from coming back.
  if (s.kind !== "client" && typeof s.rotate !== "function") {
    throw new SessionConfigError(
      "the session store has no rotate(oldKey, newKey, change, now) method: a store must move a " +
        "session to a new ID atomically and only while the old one still exists (see the store " +
        "contract in the README), or a logout during a regenerate() could be undone",
    );
  }
  return store as SessionStore;
}

/** @internal `error` as a `SessionStoreError` (ours pass through). */
export function asStoreError(error: unknown, doing: string): unknown {
  if (error instanceof SessionError || error instanceof SessionConfigError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new SessionStoreError(`session store failed while ${doing}: ${detail}`, { cause: error });
}

function hasFields(fields: Record<string, unknown>): boolean {
  for (const _ in fields) return true;
  return false;
}

function varyCookie(headers: HeaderWriter): void {
  const vary = headers.get("vary");
  if (vary === null) headers.set("vary", "Cookie");
  else if (!/(^|,)\s*(cookie|\*)\s*(,|$)/i.test(vary)) headers.set("vary", `${vary}, Cookie`);
}

/**
 * @internal How an engine makes a request's session object and finds the
 * state behind one. Given by `Session`, so this module needs nothing of it.
 */
export interface SessionHooks<S> {
  /** The session object a handler sees for `state`. */
  wrap(engine: SessionEngine<S>, state: RequestState): S;
  /** The request state behind `value`, if it is a request's session of ours. */
  stateOf(value: unknown): RequestState | undefined;
}

/** @internal A session's idle timeout and absolute lifetime (ms), and its cookie's Max-Age (s). */
export interface Lifetime {
  readonly idleMs: number;
  readonly absoluteMs: number;
  /** `undefined`: a browser-session cookie. */
  readonly maxAge?: number;
}

/** The key of session `id`, without a promise hop where the hash is synchronous. */
function keyOf(id: string): string | Promise<string> {
  return sessionKey(id);
}

/**
 * @internal The engine behind a `Session` manager and its middleware: the
 * store, the checked options, and the request's life.
 */
export class SessionEngine<S> {
  readonly store: SessionStore;
  readonly options: ResolvedOptions;
  readonly middleware: SessionMiddleware<S>;
  readonly #hooks: SessionHooks<S>;
  // The lifetime of a session without one of its own, made once.
  readonly #appLifetime: Lifetime;
  // Oak's own pattern for a cookie's value in a Cookie header.
  readonly #idPattern: RegExp;

  constructor(
    store: SessionStore | V9Store | undefined,
    options: SessionOptions | undefined,
    hooks: SessionHooks<S>,
  ) {
    this.store = store === undefined ? new MemoryStore() : checkStore(store);
    this.options = resolveOptions(options);
    this.#hooks = hooks;
    this.#appLifetime = Object.freeze({
      idleMs: this.options.idleMs,
      absoluteMs: this.options.absoluteMs,
      maxAge: this.options.cookieMaxAge,
    });
    this.#idPattern = new RegExp(
      `(?:^|;) *${this.options.cookieName.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}=([^;]*)`,
    );
    this.middleware = async (ctx: OakContextLike, next: () => Promise<unknown>) => {
      const state = await this.load(ctx);
      const session = hooks.wrap(this, state);
      ctx.state.session = session;
      (ctx as OakContextLike & { session?: S }).session = session;
      await next();
      const writing = this.commit(ctx, state);
      if (writing !== undefined) await writing;
    };
  }

  now(): number {
    return this.options.now();
  }

  /** The request state behind `value`, if it is a request's session of this engine's kind. */
  stateOf(value: unknown): RequestState | undefined {
    return this.#hooks.stateOf(value);
  }

  /** The idle timeout, absolute lifetime (ms) and cookie Max-Age (s) of `record`: its own or the app's. */
  lifetimeOf(record: SessionRecord): Lifetime {
    const o = this.options;
    if (record.meta === undefined) return this.#appLifetime;
    const meta = parseMeta(record.meta);
    // Bounded by the app's maximums as they are now, even if they were lowered since.
    const idleMs = meta.idleSeconds === undefined
      ? o.idleMs
      : Math.min(meta.idleSeconds * 1000, o.maxIdleMs);
    const absoluteMs = meta.absoluteSeconds === undefined
      ? o.absoluteMs
      : Math.min(meta.absoluteSeconds * 1000, o.maxAbsoluteMs);
    const persistent = meta.persistent ?? o.cookieMaxAge !== undefined;
    return { idleMs, absoluteMs, maxAge: persistent ? Math.floor(idleMs / 1000) : undefined };
  }

  /**
   * Whether `record` is alive at `now`: its stored expiry, and its lifetime as
   * the app allows it now (a timeout lowered since it was stored applies).
   */
  #alive(record: SessionRecord, now: number): boolean {
    if (record.expiresAt <= now) return false;
    const { idleMs, absoluteMs } = this.lifetimeOf(record);
    return record.createdAt + absoluteMs > now &&
      (record.lastSeenAt === undefined || record.lastSeenAt + idleMs > now);
  }

  /** Step 1 and 2 of a request: read the cookie, load the record, reject what is dead. */
  async load(ctx: OakContextLike): Promise<RequestState> {
    const now = this.now();
    const store = this.store;
    let state: RequestState | undefined;
    let sawCookie = false;
    let jar: CookieJar | undefined;
    if (isClientStore(store)) {
      jar = this.#requestCookies(ctx);
      let found;
      try {
        found = await store.read(jar, now);
      } catch (error) {
        throw asStoreError(error, "reading the session cookie");
      }
      if (found !== null && "revoked" in found) {
        // Revoked since it was sealed: start empty, and leave the browser's
        // cookie alone (it may hold a newer one by now, which a late clear
        // would log out).
        state = freshState(now);
      } else if (found && this.#alive(found.session, now)) {
        const { id, ...record } = found.session;
        state = loadedState(id, record, undefined);
        // Sealed with an older key: re-seal with the newest on this request.
        if (found.stale) state.flashChanged = true;
      }
      // A cookie that did not open (tampered, expired, an old key) is cleared.
      sawCookie = found !== null ||
        await jar.get(store.cookieName, { signed: false }) !== undefined;
    } else {
      let id = this.#readIdCookie(ctx);
      if (id === null) {
        id = await ctx.cookies.get(this.options.cookieName, this.options.cookieGetOptions);
      }
      sawCookie = id !== undefined;
      if (isSessionId(id)) {
        let key = keyOf(id);
        if (typeof key !== "string") key = await key;
        let record;
        try {
          record = await store.get(key, now);
        } catch (error) {
          throw asStoreError(error, "reading a session");
        }
        if (record !== null && record.movedAt !== undefined) {
          // Moved to a new ID by another request: open nothing, leave the new cookie alone.
          state = movedState(now, key);
        } else if (record && this.#alive(record, now)) state = loadedState(id, record, key);
      }
    }
    if (state === undefined) {
      state = freshState(now);
      state.deadCookie = sawCookie;
    }
    state.sawCookie = sawCookie;
    state.jar = jar;
    return state;
  }

  /**
   * The ID cookie's value read straight from the request's `Cookie` header,
   * as Oak's cookie jar reads an unsigned cookie (the first match), without
   * its promise. `null` when the jar must do it: a signed cookie (the app has
   * `keys`, or `cookieGetOptions.signed`) or a context of another shape.
   */
  #readIdCookie(ctx: OakContextLike): string | undefined | null {
    const signed = this.options.cookieGetOptions.signed ?? ctx.app?.keys !== undefined;
    if (signed) return null;
    const header = cookieHeaderOf(ctx);
    if (header === undefined) return null;
    if (header === null) return undefined;
    return this.#idPattern.exec(header)?.[1];
  }

  /**
   * The request's cookies for a client-side store: unsigned ones read from
   * the Cookie header once, signed ones (the app has `keys`) through Oak's jar.
   */
  #requestCookies(ctx: OakContextLike): CookieJar {
    const header = cookieHeaderOf(ctx);
    if (header === undefined) return ctx.cookies;
    return new RequestCookies(ctx.cookies, header, ctx.app?.keys !== undefined);
  }

  /** What the request did to its session. */
  outcome(s: RequestState, now: number): SessionOutcome {
    const lifetime = this.lifetimeOf(s.record);
    const expiresAt = Math.min(now + lifetime.idleMs, s.record.createdAt + lifetime.absoluteMs);
    if (!s.stored) {
      // A session bound to a user is stored even with no data: it is a login.
      if (hasFields(s.record.data) || hasFields(s.flashOut) || s.record.userId !== undefined) {
        if (s.movedFrom !== undefined) {
          return { action: "rotate", fromKey: s.movedFrom, change: changeOf(s, expiresAt, now) };
        }
        // A new session here would replace the cookie the move handed out:
        // unless the request started one of its own (a login, regenerate()).
        if (s.moved && !s.renewed && !s.userChanged) throw movedError("kept");
        return {
          action: "create",
          record: newRecord(s, expiresAt, now),
        };
      }
      if (s.retired) return { action: "retire" };
      return s.deadCookie ? { action: "forget" } : { action: "none" };
    }
    const dirty = s.cleared || s.flashChanged || hasFields(s.set) || s.deleted.size > 0 ||
      hasFields(s.increment) || s.userChanged || s.metaChanged;
    // A session with an idle timeout of its own is refreshed within a tenth of it.
    // An expiry stored further out than the app allows now (a maximum lowered
    // since) is brought back in.
    const refreshMs = Math.min(this.options.refreshMs, lifetime.idleMs / 10);
    const refreshDue = s.touchRequested || Math.abs(expiresAt - s.record.expiresAt) >= refreshMs;
    if (!dirty && !refreshDue) return { action: "none" };
    return {
      action: "update",
      change: changeOf(s, expiresAt, now),
      // A new lifetime may turn a persistent cookie into a browser-session one.
      refreshCookie: s.metaChanged || (refreshDue && lifetime.maxAge !== undefined),
    };
  }

  /**
   * Steps 4 and 5: write what changed, rotate and delete, set the cookie if
   * its value or expiry changed. `undefined` when there is nothing to write
   * (a read): the request then pays no promise for its commit.
   */
  commit(ctx: OakContextLike, s: RequestState): Promise<void> | undefined {
    // A session carried over from the original library still has its shorter
    // ID: it moves to one of ours now, as a rotation (only if it still exists).
    if (
      ctx.state.rotate_session_key === true ||
      (s.stored && s.key !== undefined && isOriginalSessionId(s.id as string))
    ) {
      moveSessionOf(s);
    }
    if (s.userChanged && s.record.userId !== undefined) this.#noteDevice(ctx, s);
    const now = this.now();
    const outcome = this.outcome(s, now);
    // Once per response, here: Headers are slow to read and write.
    if (s.sawCookie || s.touched || outcome.action !== "none") varyCookie(ctx.response.headers);
    if (outcome.action === "none") return undefined;
    // Before anything is written: a cookie Oak would refuse is a setup mistake.
    this.#checkCookieCanBeSent(ctx);
    // This response may carry several cookies (ours, chunks, the app's own).
    sendEverySetCookie(ctx);
    return this.#write(ctx, s, outcome, now);
  }

  /** Keep the device a session was bound on, as far as the app asked (`recordDevice`). */
  #noteDevice(ctx: OakContextLike, s: RequestState): void {
    const { recordUserAgent, recordIp } = this.options;
    if (!recordUserAgent && !recordIp) return;
    const meta = { ...parseMeta(s.record.meta) };
    delete meta.userAgent;
    delete meta.ip;
    if (recordUserAgent) {
      const ua = ctx.request.headers?.get("user-agent");
      if (ua) meta.userAgent = ua.slice(0, 512);
    }
    const ip = (ctx.request as { ip?: unknown }).ip;
    // Behind a proxy the address comes from X-Forwarded-For: keep only an address.
    if (recordIp && typeof ip === "string" && isIpAddress(ip)) meta.ip = ip;
    ownRecordOf(s).meta = metaText(meta);
    s.metaChanged = true;
  }

  async #write(
    ctx: OakContextLike,
    s: RequestState,
    outcome: SessionOutcome,
    now: number,
  ): Promise<void> {
    const store = this.store;
    try {
      if (isClientStore(store)) await this.#commitClient(ctx, store, s, outcome);
      else await this.#commitServer(ctx, store, s, outcome, now);
    } catch (error) {
      throw asStoreError(error, "saving a session");
    }
  }

  async #commitServer(
    ctx: OakContextLike,
    store: ServerStore,
    s: RequestState,
    outcome: SessionOutcome,
    now: number,
  ): Promise<void> {
    switch (outcome.action) {
      case "none":
        return;
      case "create": {
        const id = idOf(s);
        await store.create(await keyOf(id), outcome.record, now);
        // Created first, retired after: a failure in between loses nothing.
        if (s.retiredKey !== undefined) await store.delete(s.retiredKey);
        await this.#setCookie(ctx, s, id, outcome.record.expiresAt);
        return;
      }
      case "rotate": {
        const id = idOf(s);
        const moved = await store.rotate(outcome.fromKey, await keyOf(id), outcome.change, now);
        if (moved === true) await this.#setCookie(ctx, s, id, outcome.change.expiresAt);
        // Another request moved it first: the client holds that one's cookie.
        else if (moved === "moved") throw movedError("moved");
        // Otherwise the session ended meanwhile (a logout, an expiry wins): write
        // nothing, and leave the cookie to the response that ended it.
        return;
      }
      case "update": {
        const key = s.key ?? await keyOf(idOf(s));
        const applied = await store.update(key, outcome.change, now);
        if (applied === true) {
          if (outcome.refreshCookie) {
            await this.#setCookie(ctx, s, idOf(s), outcome.change.expiresAt);
          }
        } else if (applied === "moved" && changesData(s)) {
          // Moved to a new ID meanwhile: the client holds the new cookie, and
          // this request's changes did not land there. Say so.
          throw movedError("saved");
        }
        // Not applied and nothing to tell: the session ended (a logout wins) or
        // moved while this request only refreshed it. Write nothing, and leave
        // the cookie to the response that ended or moved it.
        return;
      }
      case "retire": {
        const key = s.retiredKey ?? s.movedFrom;
        if (key !== undefined) await store.delete(key);
        await this.#clearCookie(ctx);
        return;
      }
      case "forget":
        await this.#clearCookie(ctx);
        return;
    }
  }

  async #commitClient(
    ctx: OakContextLike,
    store: ClientStore,
    s: RequestState,
    outcome: SessionOutcome,
  ): Promise<void> {
    const jar = s.jar ?? ctx.cookies;
    switch (outcome.action) {
      case "none":
        return;
      case "create":
        return await store.write(
          jar,
          { id: idOf(s), ...outcome.record },
          this.#cookieOptions(ctx, outcome.record.expiresAt, this.lifetimeOf(s.record).maxAge),
        );
      case "rotate":
      case "update": {
        // A client-side store keeps the whole session in the cookie: write it whole.
        const change = outcome.change;
        const record = {
          ...s.record,
          id: idOf(s),
          flash: change.flash ?? s.record.flash,
          expiresAt: change.expiresAt,
          lastSeenAt: change.lastSeenAt,
        };
        const maxAge = this.lifetimeOf(s.record).maxAge;
        return await store.write(jar, record, this.#cookieOptions(ctx, change.expiresAt, maxAge));
      }
      case "retire":
      case "forget":
        return await store.clear(jar, this.#cookieOptions(ctx, undefined, undefined));
    }
  }

  /** Delete the session named by the request's cookie. */
  async #deleteByCookie(store: ServerStore, ctx: OakContextLike): Promise<void> {
    const old = await ctx.cookies.get(this.options.cookieName, this.options.cookieGetOptions);
    if (isSessionId(old)) await store.delete(await keyOf(old));
  }

  /**
   * The cookie's options for a session that ends at `expiresAt`, with
   * `maxAge` (the session's own or the app's; `undefined`: a browser-session
   * cookie); `expiresAt` undefined: for clearing the cookie.
   */
  #cookieOptions(
    ctx: OakContextLike,
    expiresAt: number | undefined,
    maxAge: number | undefined,
  ): Record<string, unknown> {
    if (maxAge !== undefined && expiresAt !== undefined) {
      // Never outlive the session's absolute end.
      maxAge = Math.max(0, Math.min(maxAge, Math.floor((expiresAt - this.now()) / 1000)));
    }
    return cookieOptionsFor(this.options.cookieSetOptions, ctx.request, maxAge);
  }

  /**
   * Oak refuses to set a `secure` cookie on a plain-HTTP request (it throws a
   * TypeError, which would read as a failed store). Say what to change instead.
   */
  #checkCookieCanBeSent(ctx: OakContextLike): void {
    const options = cookieOptionsFor(this.options.cookieSetOptions, ctx.request, undefined);
    if (options.secure === true && !ctx.request.secure && options.ignoreInsecure !== true) {
      throw new SessionConfigError(
        "cookieSetOptions has secure: true but this request came over plain HTTP, where Oak " +
          "refuses to send a secure cookie. Behind a TLS-terminating proxy, create the app with " +
          "new Application({ proxy: true }) so Oak trusts X-Forwarded-Proto; in development " +
          "over http://, leave secure unset (it follows the request) or set it to false",
      );
    }
  }

  async #setCookie(
    ctx: OakContextLike,
    s: RequestState,
    id: string,
    expiresAt: number,
  ): Promise<void> {
    const options = this.#cookieOptions(ctx, expiresAt, this.lifetimeOf(s.record).maxAge);
    await ctx.cookies.set(this.options.cookieName, id, options);
  }

  async #clearCookie(ctx: OakContextLike): Promise<void> {
    await ctx.cookies.set(
      this.options.cookieName,
      null,
      this.#cookieOptions(ctx, undefined, undefined),
    );
  }

  /** `session.deleteSession(ctx | id)` of the original library: end a session from any route. */
  async deleteSession(
    target: OakContextLike | string | Promise<string | undefined> | undefined,
  ): Promise<void> {
    const resolved = await target;
    if (typeof resolved === "object" && resolved !== null && "cookies" in resolved) {
      const ctx = resolved;
      const current = this.#hooks.stateOf(ctx.state?.session);
      if (current !== undefined) {
        // Inside a session middleware: end it at commit, like destroy().
        endSession(current, this.now());
        return;
      }
      try {
        if (isClientStore(this.store)) {
          return await this.store.clear(
            ctx.cookies,
            this.#cookieOptions(ctx, undefined, undefined),
          );
        }
        await this.#deleteByCookie(this.store, ctx);
      } catch (error) {
        throw asStoreError(error, "deleting a session");
      }
      await this.#clearCookie(ctx);
      return;
    }
    if (resolved === undefined) return;
    if (typeof resolved !== "string") {
      throw new SessionConfigError(
        "deleteSession takes an Oak context, a session ID string, or a promise of one",
      );
    }
    if (isClientStore(this.store) || !isSessionId(resolved)) return;
    try {
      await this.store.delete(await keyOf(resolved));
    } catch (error) {
      throw asStoreError(error, "deleting a session");
    }
  }
}

/** Whether the request changed what the session holds (more than its expiry or a flash read). */
function changesData(s: RequestState): boolean {
  return s.cleared || hasFields(s.set) || s.deleted.size > 0 || hasFields(s.increment) ||
    hasFields(s.flashOut) || s.userChanged || s.metaChanged;
}

function movedError(what: "saved" | "moved" | "kept"): SessionMovedError {
  const did = what === "moved"
    ? "so this request's regenerate() and changes were not saved"
    : what === "kept"
    ? "before this request arrived with the old ID, so its changes were not saved"
    : "while this request ran, so its changes were not saved";
  return new SessionMovedError(
    `the session moved to a new ID in another request (a login or regenerate()) ${did}; ` +
      "the client already holds the new session cookie: retry the request",
  );
}

/** This request's change set, relative to the record it loaded. */
function changeOf(s: RequestState, expiresAt: number, now: number): SessionChange {
  const change: SessionChange = {
    clear: s.cleared,
    set: s.set,
    delete: [...s.deleted],
    flash: s.flashChanged ? s.flashOut : null,
    expiresAt,
    increment: s.increment,
    lastSeenAt: now,
  };
  if (s.userChanged) {
    change.userId = s.record.userId ?? null;
    if (s.record.boundAt !== undefined) change.boundAt = s.record.boundAt;
  }
  if (s.metaChanged) change.meta = s.record.meta;
  return change;
}

/** The record a new session is stored with. */
function newRecord(s: RequestState, expiresAt: number, now: number): SessionRecord {
  const record: SessionRecord = {
    data: s.record.data,
    flash: s.flashOut,
    createdAt: s.record.createdAt,
    expiresAt,
    lastSeenAt: now,
  };
  const { userId, meta, boundAt } = s.record;
  if (userId !== undefined) record.userId = userId;
  if (meta !== undefined) record.meta = meta;
  if (boundAt !== undefined) record.boundAt = boundAt;
  return record;
}
