/**
 * A server-side store's part of a request: the cookie holds only the session
 * ID; the store holds the session under the ID's hash (its key), and every
 * write is conditional on what the store holds then.
 *
 * @module
 */
import { SessionConfigError } from "../errors.ts";
import type { OakContextLike } from "../oak_context_like.ts";
import { cookieHeaderOf } from "../request_cookies.ts";
import { idOf, keysOf, loadedState, type RequestState, supersededState } from "../request_state.ts";
import { type ExpressSessionCookie, expressSessionId } from "../express_session_cookie.ts";
import { isOriginalSessionId, isSessionId, sessionKey } from "../session_id.ts";
import type { ServerStore } from "../store.ts";
import { changesData, movedError, type SessionOutcome } from "./outcome.ts";
import {
  asStoreError,
  type Dropped,
  type IndexedStore,
  type KindHost,
  type Loaded,
  type StoreKind,
} from "./store_kind.ts";

/** The key of session `id`, without a promise hop where the hash is synchronous. */
function keyOf(id: string): string | Promise<string> {
  return sessionKey(id);
}

const MALFORMED: Dropped = Object.freeze({ reason: "malformed" });
const UNKNOWN: Dropped = Object.freeze({ reason: "unknown" });
const MOVED: Dropped = Object.freeze({ reason: "moved" });

/** @internal A server-side store's kind. */
export class ServerKind implements StoreKind {
  readonly #store: ServerStore;
  readonly #host: KindHost;
  // Oak's own pattern for a cookie's value in a Cookie header.
  readonly #idPattern: RegExp;

  constructor(store: ServerStore, host: KindHost) {
    this.#store = store;
    this.#host = host;
    this.#idPattern = new RegExp(
      `(?:^|;) *${host.options.cookieName.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}=([^;]*)`,
    );
  }

  async load(ctx: OakContextLike, now: number): Promise<Loaded> {
    const options = this.#host.options;
    let id = this.#readIdCookie(ctx);
    if (id === null) id = await ctx.cookies.get(options.cookieName, options.cookieGetOptions);
    if (id === undefined && options.expressCookie !== undefined) {
      return this.#loadExpressSession(ctx, options.expressCookie, now);
    }
    const sawCookie = id !== undefined;
    if (!isSessionId(id)) {
      return { state: undefined, sawCookie, dropped: sawCookie ? MALFORMED : undefined };
    }
    let key = keyOf(id);
    if (typeof key !== "string") key = await key;
    let record;
    try {
      record = await this.#store.get(key, now);
    } catch (error) {
      throw asStoreError(error, "reading a session");
    }
    if (record !== null && record.movedAt !== undefined) {
      // Moved to a new ID by another request: open nothing, leave the new cookie alone.
      return { state: supersededState(now, key), sawCookie, dropped: MOVED };
    }
    if (record === null) {
      return {
        state: undefined,
        sawCookie,
        dropped: this.#host.emit === undefined ? UNKNOWN : await this.#whyMissing(key),
      };
    }
    if (!this.#host.alive(record, now)) {
      return { state: undefined, sawCookie, dropped: { reason: "expired", record, key } };
    }
    return { state: loadedState(id, record, key), sawCookie };
  }

  /**
   * A request without our cookie, from a browser that may still hold
   * express-session's: a session carried over from it opens (and moves to an
   * ID of ours at commit: its ID is not of our length); anything else is a
   * fresh session, and express-session's cookie is left alone.
   */
  async #loadExpressSession(
    ctx: OakContextLike,
    cookie: ExpressSessionCookie,
    now: number,
  ): Promise<Loaded> {
    const value = await ctx.cookies.get(cookie.name, { signed: false });
    const id = await expressSessionId(value, cookie.secrets);
    // An ID of our length would not move at commit: express-session never issues one.
    if (id === undefined || !isOriginalSessionId(id)) return { state: undefined, sawCookie: false };
    const key = await keyOf(id);
    let record;
    try {
      record = await this.#store.get(key, now);
    } catch (error) {
      throw asStoreError(error, "reading a session");
    }
    if (record !== null && record.movedAt !== undefined) {
      // Moved to an ID of ours by a request before this one: as for our own cookie.
      return { state: supersededState(now, key), sawCookie: true };
    }
    if (record === null || !this.#host.alive(record, now)) {
      return { state: undefined, sawCookie: false };
    }
    return { state: loadedState(id, record, key), sawCookie: true };
  }

  /**
   * For a listener of events only: whether a session the store did not give
   * out at `now` had expired (it is still there as of time 0: a store's `get`
   * leaves out only what expired before the time it is given), or is unknown.
   * A store that drops what expired by itself (Redis, Deno KV) has it only
   * until then. A failure here fails nothing: the session is reported unknown.
   */
  async #whyMissing(key: string): Promise<Dropped> {
    try {
      const record = await this.#store.get(key, 0);
      if (record !== null && record.movedAt === undefined) {
        return { reason: "expired", record, key };
      }
    } catch {
      // Reported as unknown.
    }
    return UNKNOWN;
  }

  /**
   * The ID cookie's value read straight from the request's `Cookie` header,
   * as Oak's cookie jar reads an unsigned cookie (the first match), without
   * its promise. `null` when the jar must do it: a signed cookie (the app has
   * `keys`, or `cookieGetOptions.signed`) or a context of another shape.
   */
  #readIdCookie(ctx: OakContextLike): string | undefined | null {
    const signed = this.#host.options.cookieGetOptions.signed ?? ctx.app?.keys !== undefined;
    if (signed) return null;
    const header = cookieHeaderOf(ctx);
    if (header === undefined) return null;
    if (header === null) return undefined;
    return this.#idPattern.exec(header)?.[1];
  }

  async write(
    ctx: OakContextLike,
    s: RequestState,
    outcome: SessionOutcome,
    now: number,
  ): Promise<boolean> {
    const store = this.#store;
    switch (outcome.action) {
      case "none":
        return false;
      case "create": {
        const id = idOf(s);
        await store.create(await keyOf(id), outcome.record, now);
        // Created first, retired after: a failure in between loses nothing.
        if (outcome.replaces !== undefined) await store.delete(outcome.replaces);
        await this.#setCookie(ctx, s, id, outcome.record.expiresAt);
        return true;
      }
      case "rotate": {
        const id = idOf(s);
        const moved = await store.rotate(outcome.fromKey, await keyOf(id), outcome.change, now);
        if (moved === true) await this.#setCookie(ctx, s, id, outcome.change.expiresAt);
        // Another request moved it first: the client holds that one's cookie.
        else if (moved === "moved") throw movedError("moved");
        // Otherwise the session ended meanwhile (a logout, an expiry wins): write
        // nothing, and leave the cookie to the response that ended it.
        return moved === true;
      }
      case "update": {
        const key = outcome.key ?? await keyOf(idOf(s));
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
        return applied === true;
      }
      case "retire":
        if (outcome.key !== undefined) await store.delete(outcome.key);
        await this.#clearCookie(ctx);
        return true;
      case "forget":
        await this.#clearCookie(ctx);
        return true;
    }
  }

  async #setCookie(
    ctx: OakContextLike,
    s: RequestState,
    id: string,
    expiresAt: number,
  ): Promise<void> {
    const host = this.#host;
    const options = host.cookieOptions(ctx, expiresAt, host.lifetimeOf(s.record).maxAge);
    await ctx.cookies.set(host.options.cookieName, id, options);
  }

  async #clearCookie(ctx: OakContextLike): Promise<void> {
    const host = this.#host;
    await ctx.cookies.set(
      host.options.cookieName,
      null,
      host.cookieOptions(ctx, undefined, undefined),
    );
  }

  async endByCookie(ctx: OakContextLike): Promise<string | undefined> {
    const { cookieName, cookieGetOptions } = this.#host.options;
    let key: string | undefined;
    try {
      const old = await ctx.cookies.get(cookieName, cookieGetOptions);
      if (isSessionId(old)) await this.#store.delete(key = await keyOf(old));
    } catch (error) {
      throw asStoreError(error, "deleting a session");
    }
    await this.#clearCookie(ctx);
    return key;
  }

  async endById(id: string): Promise<string | undefined> {
    if (!isSessionId(id)) return undefined;
    const key = await keyOf(id);
    try {
      await this.#store.delete(key);
    } catch (error) {
      throw asStoreError(error, "deleting a session");
    }
    return key;
  }

  userIndex(method: string): IndexedStore {
    const store = this.#store;
    if (typeof store.listByUser !== "function" || typeof store.deleteByUser !== "function") {
      throw new SessionConfigError(
        `${method}: this session store keeps no per-user index (listByUser/deleteByUser); ` +
          "use MemoryStore, SqliteStore, PostgresStore, MySqlStore, RedisStore, WebdisStore or " +
          "DenoKvStore",
      );
    }
    return store as IndexedStore;
  }

  async revokeUser(
    user: string,
    except: RequestState | undefined,
    now: number,
  ): Promise<{ removed: number; kept: RequestState | undefined }> {
    const removed = await this.userIndex("revokeSessions").deleteByUser(user, keysOf(except), now);
    return { removed, kept: except };
  }
}
