/**
 * The one place a store's kind matters: a {@link StoreKind} does, for one
 * kind of store (`server_kind.ts`: the cookie holds an ID, the server the
 * session; `client_kind.ts`: the cookie holds the whole session), what a
 * request's life asks of it. The engine picks the kind once, when it is
 * built, and never asks again.
 *
 * @module
 */
import { SessionError, SessionStoreError } from "../errors.ts";
import type { OakContextLike } from "../oak_context_like.ts";
import type { ResolvedOptions } from "../options.ts";
import type { RequestState } from "../request_state.ts";
import type { CookieRejection, Emit } from "../events.ts";
import type { CookieJar, ServerStore, SessionRecord } from "../store.ts";
import type { Lifetime, SessionOutcome } from "./outcome.ts";

/** @internal What a store's kind needs of the engine that holds it. */
export interface KindHost {
  readonly options: ResolvedOptions;
  /** Reports an event to the app's listener; `undefined` when nobody listens. */
  readonly emit: Emit | undefined;
  now(): number;
  /** The idle timeout, absolute lifetime (ms) and cookie Max-Age (s) of `record`. */
  lifetimeOf(record: SessionRecord): Lifetime;
  /** Whether `record` is alive at `now`, as the app's timeouts are now. */
  alive(record: SessionRecord, now: number): boolean;
  /** The cookie's options for a session that ends at `expiresAt` (`undefined`: to clear it). */
  cookieOptions(
    ctx: OakContextLike,
    expiresAt: number | undefined,
    maxAge: number | undefined,
  ): Record<string, unknown>;
}

/**
 * @internal What a request's cookie led to: a live session's state, or
 * `undefined` (none, or a dead one); whether it carried a session cookie.
 */
export interface Loaded {
  state: RequestState | undefined;
  sawCookie: boolean;
  /** The request's cookies as a client-side store reads them. */
  jar?: CookieJar;
  /** Why the cookie opened no session, when it named one (reported to `onEvent`). */
  dropped?: Dropped;
}

/**
 * @internal Why a request's cookie opened no session: its session expired
 * (the record, and its store key, to tell which limit and whose), or the
 * cookie was rejected.
 */
export type Dropped =
  | { reason: "expired"; record: SessionRecord; key: string }
  | { reason: CookieRejection };

/** @internal A server store with its per-user index. */
export type IndexedStore = ServerStore & Required<Pick<ServerStore, "listByUser" | "deleteByUser">>;

/** @internal One kind of store, as the engine and the user-session functions use it. */
export interface StoreKind {
  /** Read the request's cookie and load the session it names. */
  load(ctx: OakContextLike, now: number): Promise<Loaded>;
  /**
   * Carry out `outcome` (store failures are wrapped by the caller): whether it
   * took effect (a session that ended or moved meanwhile is not written).
   */
  write(
    ctx: OakContextLike,
    s: RequestState,
    outcome: SessionOutcome,
    now: number,
  ): Promise<boolean>;
  /**
   * End the session named by `ctx`'s cookie, outside the session middleware;
   * the key it was stored under, if any.
   */
  endByCookie(ctx: OakContextLike): Promise<string | undefined>;
  /** End the session of `id`, where this kind can (the cookie store cannot); its key, if any. */
  endById(id: string): Promise<string | undefined>;
  /** The store's per-user index, or a `SessionConfigError` from `method` saying why there is none. */
  userIndex(method: string): IndexedStore;
  /**
   * End every session of `user` but `except`'s (`revokeSessions`): how many
   * ended, and `except` if it was kept.
   */
  revokeUser(
    user: string,
    except: RequestState | undefined,
    now: number,
  ): Promise<{ removed: number; kept: RequestState | undefined }>;
}

/** @internal `error` as a `SessionStoreError` (ours pass through). */
export function asStoreError(error: unknown, doing: string): unknown {
  if (error instanceof SessionError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new SessionStoreError(`session store failed while ${doing}: ${detail}`, { cause: error });
}
