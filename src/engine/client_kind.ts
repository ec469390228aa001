/**
 * A client-side store's part of a request (the cookie store): the cookie
 * holds the whole session, sealed, so every write re-seals it whole and the
 * server can end a session only by revoking its user's cookies.
 *
 * @module
 */
import { SessionConfigError } from "../errors.ts";
import type { OakContextLike } from "../oak_context_like.ts";
import { cookieHeaderOf, RequestCookies } from "../request_cookies.ts";
import {
  endSession,
  freshState,
  idOf,
  loadedState,
  ownRecord,
  type RequestState,
} from "../request_state.ts";
import { sessionKey } from "../session_id.ts";
import type { ClientStore, CookieJar, CookieRejected, SealedSession } from "../store.ts";
import type { SessionOutcome } from "./outcome.ts";
import {
  asStoreError,
  type Dropped,
  type IndexedStore,
  type KindHost,
  type Loaded,
  type StoreKind,
} from "./store_kind.ts";

/**
 * How long (ms) clocks of the processes sharing a cookie store's revocations
 * may disagree, and how long a revocation's write may take before it is
 * written again with a later end: see {@link revocationUntil}.
 */
export const REVOCATION_MARGIN_MS = 60_000;

type CookieRejectedReason = Parameters<CookieRejected>[0];

const REVOKED: Dropped = Object.freeze({ reason: "revoked" });

/**
 * Why a cookie opened no session: the session it held expired (found by the
 * store's own expiry, or by the app's timeouts as they are now), or the store's
 * reason; a store that gives none is taken as having found it malformed.
 */
async function droppedOf(
  expired: SealedSession | undefined,
  reason: CookieRejectedReason | undefined,
): Promise<Dropped> {
  if (expired !== undefined) {
    const { id, ...record } = expired;
    return { reason: "expired", record, key: await sessionKey(id) };
  }
  return { reason: reason === undefined || reason === "expired" ? "malformed" : reason };
}

/** @internal A client-side store's kind. */
export class ClientKind implements StoreKind {
  readonly #store: ClientStore;
  readonly #host: KindHost;

  constructor(store: ClientStore, host: KindHost) {
    this.#store = store;
    this.#host = host;
  }

  async load(ctx: OakContextLike, now: number): Promise<Loaded> {
    const store = this.#store;
    const jar = this.#requestCookies(ctx);
    // Why a cookie opened nothing is asked only for a listener of events.
    let rejected: { reason: CookieRejectedReason; expired?: SealedSession } | undefined;
    const told = this.#host.emit === undefined
      ? undefined
      : (reason: CookieRejectedReason, expired?: SealedSession) => {
        rejected = { reason, expired };
      };
    let found;
    try {
      found = await store.read(jar, now, told);
    } catch (error) {
      throw asStoreError(error, "reading the session cookie");
    }
    let state: RequestState | undefined;
    let dropped: Dropped | undefined;
    if (found !== null && "revoked" in found) {
      // Revoked since it was sealed: start empty, and leave the browser's
      // cookie alone (it may hold a newer one by now, which a late clear
      // would log out).
      state = freshState(now);
      dropped = REVOKED;
    } else if (found && this.#host.alive(found.session, now)) {
      const { id, ...record } = found.session;
      state = loadedState(id, record, undefined);
      // Sealed with an older key: re-seal with the newest on this request.
      if (found.stale) state.flashChanged = true;
    } else if (told !== undefined) {
      dropped = await droppedOf(found?.session ?? rejected?.expired, rejected?.reason);
    }
    // A cookie that did not open (tampered, expired, an old key) is cleared.
    const sawCookie = found !== null ||
      await jar.get(store.cookieName, { signed: false }) !== undefined;
    return { state, sawCookie, jar, dropped: sawCookie ? dropped : undefined };
  }

  /**
   * The request's cookies: unsigned ones read from the Cookie header once,
   * signed ones (the app has `keys`) through Oak's jar.
   */
  #requestCookies(ctx: OakContextLike): CookieJar {
    const header = cookieHeaderOf(ctx);
    if (header === undefined) return ctx.cookies;
    return new RequestCookies(ctx.cookies, header, ctx.app?.keys !== undefined);
  }

  async write(ctx: OakContextLike, s: RequestState, outcome: SessionOutcome): Promise<boolean> {
    await this.#write(ctx, s, outcome);
    return outcome.action !== "none";
  }

  async #write(ctx: OakContextLike, s: RequestState, outcome: SessionOutcome): Promise<void> {
    const store = this.#store;
    const host = this.#host;
    const jar = s.jar ?? ctx.cookies;
    switch (outcome.action) {
      case "none":
        return;
      case "create":
        return await store.write(
          jar,
          { id: idOf(s), ...outcome.record },
          host.cookieOptions(ctx, outcome.record.expiresAt, host.lifetimeOf(s.record).maxAge),
        );
      case "rotate":
      case "update": {
        // The cookie keeps the whole session: write it whole.
        const change = outcome.change;
        const record = {
          ...s.record,
          id: idOf(s),
          flash: change.flash ?? s.record.flash,
          expiresAt: change.expiresAt,
          lastSeenAt: change.lastSeenAt,
        };
        const maxAge = host.lifetimeOf(s.record).maxAge;
        return await store.write(jar, record, host.cookieOptions(ctx, change.expiresAt, maxAge));
      }
      case "retire":
      case "forget":
        return await store.clear(jar, host.cookieOptions(ctx, undefined, undefined));
    }
  }

  async endByCookie(ctx: OakContextLike): Promise<undefined> {
    try {
      await this.#store.clear(ctx.cookies, this.#host.cookieOptions(ctx, undefined, undefined));
    } catch (error) {
      throw asStoreError(error, "deleting a session");
    }
    return undefined;
  }

  /** The cookie store cannot end a session by its ID: it is in a browser's cookie. */
  endById(): Promise<undefined> {
    return Promise.resolve(undefined);
  }

  userIndex(method: string): IndexedStore {
    throw new SessionConfigError(
      `${method}: the cookie store keeps each session in its browser's cookie, so the server ` +
        "cannot list or end one session; revokeSessions() ends them all when the CookieStore " +
        "has a server store for revocations (new CookieStore(secret, { revocations }))",
    );
  }

  /**
   * Every session bound before a moment is revoked (a user's "not valid
   * before"); `except`, when it is the user's, is bound again after it,
   * unless a revocation recorded since its request loaded it covers it.
   */
  async revokeUser(
    user: string,
    except: RequestState | undefined,
    now: number,
  ): Promise<{ removed: number; kept: RequestState | undefined }> {
    const store = this.#store;
    if (typeof store.revokeUser !== "function") {
      throw new SessionConfigError(
        "revokeSessions: the cookie store keeps sessions in the browsers' cookies and " +
          "cannot delete them; give it a server store that records each user's " +
          "revocation time: new CookieStore(secret, { revocations: new SqliteStore(db) })",
      );
    }
    const notBefore = now + 1;
    const keep = except !== undefined && except.record.userId === user ? except : undefined;
    const until = this.#revocationUntil(notBefore, now);
    const kept = await store.revokeUser(
      user,
      notBefore,
      until,
      keep === undefined ? undefined : keep.record.boundAt ?? keep.record.createdAt,
    );
    if (keep !== undefined && kept === false) {
      // Revoked after its request loaded it: it cannot except itself.
      endSession(keep, now);
      return { removed: 0, kept: undefined };
    }
    if (keep !== undefined) {
      ownRecord(keep).boundAt = notBefore;
      keep.userChanged = true;
    }
    // A write slow to land (beyond half the margin) is written again to last longer.
    const later = this.#revocationUntil(notBefore, this.#host.now());
    if (later - until > REVOCATION_MARGIN_MS / 2) {
      await store.revokeUser(user, notBefore, later);
    }
    return { removed: 0, kept: except };
  }

  /**
   * Until when a record revoking the sessions bound before `notBefore` must
   * stay: as long as any cookie it revokes could still open.
   *
   * Such a cookie was bound, and so created, before `notBefore`. A request
   * that loaded it before the revocation may still seal it again afterwards
   * with a later idle expiry, but no seal reaches past the session's absolute
   * end: its creation plus its absolute lifetime, at most the app's
   * `maxAbsoluteSeconds`. So with an absolute limit, `notBefore +
   * maxAbsoluteMs` outlives every cookie it revokes, re-sealed or not.
   *
   * Without one, re-seals could push a cookie's expiry on for ever; the bound
   * then rests on the cookie store's write check: once the record is in the
   * store, no write seals a session it revokes. A write that checked before
   * the record landed sealed an expiry of at most `maxIdleMs` past its own
   * clock, which was before `landed` (when the revoking request saw its write
   * done). The margin covers clocks that disagree by up to it.
   */
  #revocationUntil(notBefore: number, landed: number): number {
    const { maxAbsoluteMs, maxIdleMs } = this.#host.options;
    if (Number.isFinite(maxAbsoluteMs)) return notBefore + maxAbsoluteMs;
    return Math.max(notBefore, landed) + maxIdleMs + REVOCATION_MARGIN_MS;
  }
}
