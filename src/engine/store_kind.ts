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
import type { CookieJar, ServerStore, SessionRecord } from "../store.ts";
import type { Lifetime, SessionOutcome } from "./outcome.ts";

/** @internal What a store's kind needs of the engine that holds it. */
export interface KindHost {
  readonly options: ResolvedOptions;
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
}

/** @internal A server store with its per-user index. */
export type IndexedStore = ServerStore & Required<Pick<ServerStore, "listByUser" | "deleteByUser">>;

/** @internal One kind of store, as the engine and the user-session functions use it. */
export interface StoreKind {
  /** Read the request's cookie and load the session it names. */
  load(ctx: OakContextLike, now: number): Promise<Loaded>;
  /** Carry out `outcome` (store failures are wrapped by the caller). */
  write(ctx: OakContextLike, s: RequestState, outcome: SessionOutcome, now: number): Promise<void>;
  /** End the session named by `ctx`'s cookie, outside the session middleware. */
  endByCookie(ctx: OakContextLike): Promise<void>;
  /** End the session of `id`, where this kind can (the cookie store cannot). */
  endById(id: string): Promise<void>;
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
