/**
 * The Oak middleware: load the session before the handler, commit what the
 * handler changed after it.
 *
 * @module
 */
import { cookieOptionsFor } from "./cookie_options.ts";
import { sendEverySetCookie } from "./oak_set_cookie.ts";
import { SessionConfigError, SessionError, SessionStoreError } from "./errors.ts";
import { type ResolvedOptions, resolveOptions, type SessionOptions } from "./options.ts";
import {
  freshState,
  loadedState,
  type RequestState,
  type Session,
  sessionFor,
  stateOf,
} from "./session.ts";
import { isSessionId, sessionKey } from "./session_id.ts";
import type {
  ClientStore,
  CookieJar,
  ServerStore,
  SessionChange,
  SessionRecord,
  SessionStore,
} from "./store.ts";
import { MemoryStore } from "./stores/memory.ts";

/**
 * The part of an Oak context the middleware uses. Typed by shape, so the
 * contexts of Oak 12 to 17 (and routers' contexts) all fit.
 */
export interface OakContextLike {
  cookies: CookieJar;
  request: { secure: boolean; url?: URL; originalRequest?: unknown };
  response: { headers: Headers };
  // deno-lint-ignore no-explicit-any
  state: Record<string, any>;
}

/** An Oak middleware (fits `app.use` and `router.get(path, middleware, handler)`). */
export type SessionMiddleware = (
  ctx: OakContextLike,
  next: () => Promise<unknown>,
) => Promise<void>;

/**
 * What a request did to its session, decided at commit; acted on by a
 * `switch` the compiler checks.
 */
export type SessionOutcome =
  /** Nothing to write. */
  | { action: "none" }
  /** A session not yet stored now holds data: store it (then retire the one it replaced). */
  | { action: "create"; record: SessionRecord }
  /** A stored session changed, or its sliding expiry is due. */
  | { action: "update"; change: SessionChange; refreshCookie: boolean }
  /** The stored session was destroyed (or rotated while empty): remove it. */
  | { action: "retire" }
  /** The request's cookie named no live session and none is stored: clear the cookie. */
  | { action: "forget" };

function isClientStore(store: SessionStore): store is ClientStore {
  return store.kind === "client";
}

function checkStore(store: unknown): SessionStore {
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
        "RedisStore, WebdisStore, or one implementing get/create/update/delete)",
    );
  }
  return store as SessionStore;
}

function asStoreError(error: unknown, doing: string): unknown {
  if (error instanceof SessionError || error instanceof SessionConfigError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new SessionStoreError(`session store failed while ${doing}: ${detail}`, { cause: error });
}

function hasFields(fields: Record<string, string>): boolean {
  for (const _ in fields) return true;
  return false;
}

function varyCookie(headers: Headers): void {
  const vary = headers.get("vary");
  if (vary === null) headers.set("vary", "Cookie");
  else if (!/(^|,)\s*(cookie|\*)\s*(,|$)/i.test(vary)) headers.set("vary", `${vary}, Cookie`);
}

/**
 * @internal The engine behind a `Session` manager and its middleware: the
 * store, the checked options, and the request's life.
 */
export class SessionEngine {
  readonly store: SessionStore;
  readonly options: ResolvedOptions;
  readonly middleware: SessionMiddleware;

  constructor(store: SessionStore | undefined, options: SessionOptions | undefined) {
    this.store = store === undefined ? new MemoryStore() : checkStore(store);
    this.options = resolveOptions(options);
    this.middleware = async (ctx, next) => {
      const session = await this.load(ctx);
      ctx.state.session = session;
      (ctx as OakContextLike & { session?: Session }).session = session;
      await next();
      await this.commit(ctx, session);
    };
  }

  now(): number {
    return this.options.now();
  }

  /** The expiry of a session created at `createdAt`, used at `now`. */
  expiresAt(createdAt: number, now: number): number {
    return Math.min(now + this.options.idleMs, createdAt + this.options.absoluteMs);
  }

  #alive(record: SessionRecord, now: number): boolean {
    return record.expiresAt > now && record.createdAt + this.options.absoluteMs > now;
  }

  /** Step 1 and 2 of a request: read the cookie, load the record, reject what is dead. */
  async load(ctx: OakContextLike): Promise<Session> {
    const now = this.now();
    const store = this.store;
    let state: RequestState | undefined;
    let sawCookie = false;
    if (isClientStore(store)) {
      let found;
      try {
        found = await store.read(ctx.cookies, now);
      } catch (error) {
        throw asStoreError(error, "reading the session cookie");
      }
      if (found && this.#alive(found.session, now)) {
        const { id, ...record } = found.session;
        state = loadedState(id, record, undefined);
        // Sealed with an older key: re-seal with the newest on this request.
        if (found.stale) state.flashChanged = true;
      }
      // A cookie that did not open (tampered, expired, an old key) is cleared.
      sawCookie = found !== null ||
        await ctx.cookies.get(store.cookieName, { signed: false }) !== undefined;
    } else {
      const id = await ctx.cookies.get(this.options.cookieName, this.options.cookieGetOptions);
      sawCookie = id !== undefined;
      if (isSessionId(id)) {
        const key = await sessionKey(id);
        let record;
        try {
          record = await store.get(key, now);
        } catch (error) {
          throw asStoreError(error, "reading a session");
        }
        if (record && this.#alive(record, now)) state = loadedState(id, record, key);
      }
    }
    if (state === undefined) {
      state = freshState(now);
      state.deadCookie = sawCookie;
    }
    if (sawCookie) varyCookie(ctx.response.headers);
    return sessionFor(this, state);
  }

  /** What the request did to its session. */
  outcome(s: RequestState, now: number): SessionOutcome {
    const expiresAt = this.expiresAt(s.record.createdAt, now);
    if (!s.stored) {
      if (hasFields(s.record.data) || hasFields(s.flashOut)) {
        return {
          action: "create",
          record: {
            data: s.record.data,
            flash: s.flashOut,
            createdAt: s.record.createdAt,
            expiresAt,
          },
        };
      }
      if (s.retired) return { action: "retire" };
      return s.deadCookie ? { action: "forget" } : { action: "none" };
    }
    const dirty = s.cleared || s.flashChanged || hasFields(s.set) || s.deleted.size > 0;
    const refreshDue = expiresAt - s.record.expiresAt >= this.options.refreshMs;
    if (!dirty && !refreshDue) return { action: "none" };
    return {
      action: "update",
      change: {
        clear: s.cleared,
        set: s.set,
        delete: [...s.deleted],
        flash: s.flashChanged ? s.flashOut : null,
        expiresAt,
      },
      refreshCookie: refreshDue && this.options.cookieMaxAge !== undefined,
    };
  }

  /** Steps 4 and 5: write what changed, rotate and delete, set the cookie if its value or expiry changed. */
  async commit(ctx: OakContextLike, session: Session): Promise<void> {
    if (ctx.state.rotate_session_key === true) {
      await session.regenerate();
    }
    const s = stateOf(session);
    if (s === undefined) return;
    const now = this.now();
    const outcome = this.outcome(s, now);
    if (s.touched || outcome.action !== "none") varyCookie(ctx.response.headers);
    const store = this.store;
    // This response may carry several cookies (ours, chunks, the app's own).
    if (outcome.action !== "none") sendEverySetCookie(ctx);
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
      case "create":
        await store.create(await sessionKey(s.id), outcome.record, now);
        // Created first, retired after: a failure in between loses nothing.
        if (s.retiredKey !== undefined) await store.delete(s.retiredKey);
        await this.#setCookie(ctx, s.id, outcome.record);
        return;
      case "update": {
        const applied = await store.update(s.key ?? await sessionKey(s.id), outcome.change, now);
        // Not applied: the session ended meanwhile (a logout wins); forget it.
        if (!applied) await this.#clearCookie(ctx);
        else if (outcome.refreshCookie) {
          await this.#setCookie(ctx, s.id, { ...s.record, expiresAt: outcome.change.expiresAt });
        }
        return;
      }
      case "retire":
        if (s.retiredKey !== undefined) await store.delete(s.retiredKey);
        await this.#clearCookie(ctx);
        return;
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
    switch (outcome.action) {
      case "none":
        return;
      case "create":
        return await store.write(
          ctx.cookies,
          { id: s.id, ...outcome.record },
          this.#cookieOptions(ctx, outcome.record),
        );
      case "update": {
        const record = {
          id: s.id,
          data: s.record.data,
          flash: outcome.change.flash ?? s.record.flash,
          createdAt: s.record.createdAt,
          expiresAt: outcome.change.expiresAt,
        };
        return await store.write(ctx.cookies, record, this.#cookieOptions(ctx, record));
      }
      case "retire":
      case "forget":
        return await store.clear(ctx.cookies, this.#cookieOptions(ctx, undefined));
    }
  }

  /** Delete the session named by the request's cookie. */
  async #deleteByCookie(store: ServerStore, ctx: OakContextLike): Promise<void> {
    const old = await ctx.cookies.get(this.options.cookieName, this.options.cookieGetOptions);
    if (isSessionId(old)) await store.delete(await sessionKey(old));
  }

  #cookieOptions(ctx: OakContextLike, record: SessionRecord | undefined): Record<string, unknown> {
    let maxAge = this.options.cookieMaxAge;
    if (maxAge !== undefined && record !== undefined) {
      // Never outlive the session's absolute end.
      maxAge = Math.max(0, Math.min(maxAge, Math.floor((record.expiresAt - this.now()) / 1000)));
    }
    return cookieOptionsFor(this.options.cookieSetOptions, ctx.request, maxAge);
  }

  async #setCookie(ctx: OakContextLike, id: string, record: SessionRecord): Promise<void> {
    await ctx.cookies.set(this.options.cookieName, id, this.#cookieOptions(ctx, record));
  }

  async #clearCookie(ctx: OakContextLike): Promise<void> {
    await ctx.cookies.set(this.options.cookieName, null, this.#cookieOptions(ctx, undefined));
  }

  /** `session.deleteSession(ctx | id)` of the seed: end a session from any route. */
  async deleteSession(
    target: OakContextLike | string | Promise<string | undefined> | undefined,
  ): Promise<void> {
    const resolved = await target;
    if (typeof resolved === "object" && resolved !== null && "cookies" in resolved) {
      const ctx = resolved;
      const current = ctx.state?.session;
      if (typeof current === "object" && current !== null && stateOf(current) !== undefined) {
        // Inside this manager's middleware: end it at commit, like destroy().
        return await (current as Session).destroy();
      }
      try {
        if (isClientStore(this.store)) {
          return await this.store.clear(ctx.cookies, this.#cookieOptions(ctx, undefined));
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
      await this.store.delete(await sessionKey(resolved));
    } catch (error) {
      throw asStoreError(error, "deleting a session");
    }
  }
}
