/**
 * The engine behind a `Session` manager and its middleware, the same for
 * every store: a request's life is `load` (its cookie and session),
 * `commit` (what it decided, `outcome.ts`, carried out by the store's kind).
 * The store's kind is picked once, here, when the engine is built.
 *
 * @module
 */
import { cookieOptionsFor } from "../cookie_options.ts";
import { SessionConfigError } from "../errors.ts";
import { type Emit, emitterOf, fingerprintOfId, observedStore } from "../events.ts";
import { isIpAddress } from "../ip_address.ts";
import type { HeaderWriter, OakContextLike } from "../oak_context_like.ts";
import { sendEverySetCookie } from "../oak_set_cookie.ts";
import { type ResolvedOptions, resolveOptions, type SessionOptions } from "../options.ts";
import {
  deadCookieState,
  endSession,
  freshState,
  idOf,
  moveSession,
  ownRecord,
  type RequestState,
} from "../request_state.ts";
import { metaText, parseMeta } from "../session_meta.ts";
import { fingerprintOf, isOriginalSessionId } from "../session_id.ts";
import type { SessionRecord, SessionStore } from "../store.ts";
import { ClientKind } from "./client_kind.ts";
import { decideOutcome, type Lifetime, type SessionOutcome } from "./outcome.ts";
import { ServerKind } from "./server_kind.ts";
import { asStoreError, type Dropped, type KindHost, type StoreKind } from "./store_kind.ts";

/** `store`, checked: a store object of either kind, or a `SessionConfigError`. */
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

function varyCookie(headers: HeaderWriter): void {
  const vary = headers.get("vary");
  if (vary === null) headers.set("vary", "Cookie");
  else if (!/(^|,)\s*(cookie|\*)\s*(,|$)/i.test(vary)) headers.set("vary", `${vary}, Cookie`);
}

/**
 * @internal The engine behind a `Session` manager and its middleware: the
 * store's kind, the checked options, and the request's life. `stateOf` finds
 * the request state behind a request's session object (given by whoever
 * makes those objects, so the engine knows nothing of them).
 */
export class SessionEngine implements KindHost {
  readonly kind: StoreKind;
  readonly options: ResolvedOptions;
  /** The request state behind `value`, if it is a request's session of ours. */
  readonly stateOf: (value: unknown) => RequestState | undefined;
  /** Reports an event to the app's `onEvent`; `undefined` when nobody listens. */
  readonly emit: Emit | undefined;
  // The lifetime of a session without one of its own, made once.
  readonly #appLifetime: Lifetime;

  constructor(
    store: SessionStore,
    options: SessionOptions | undefined,
    stateOf: (value: unknown) => RequestState | undefined,
  ) {
    let checked = checkStore(store);
    this.options = resolveOptions(options);
    this.stateOf = stateOf;
    const listener = this.options.onEvent;
    this.emit = listener === undefined ? undefined : emitterOf(listener);
    // Store calls are timed only for a listener: without one, nothing is added.
    if (this.emit !== undefined) {
      checked = observedStore(checked, this.emit, this.options.slowStoreCallMs);
    }
    this.#appLifetime = Object.freeze({
      idleMs: this.options.idleMs,
      absoluteMs: this.options.absoluteMs,
      maxAge: this.options.cookieMaxAge,
    });
    // The one place the store's kind is asked.
    this.kind = checked.kind === "client"
      ? new ClientKind(checked, this)
      : new ServerKind(checked, this);
  }

  now(): number {
    return this.options.now();
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
  alive(record: SessionRecord, now: number): boolean {
    if (record.expiresAt <= now) return false;
    const { idleMs, absoluteMs } = this.lifetimeOf(record);
    return record.createdAt + absoluteMs > now &&
      (record.lastSeenAt === undefined || record.lastSeenAt + idleMs > now);
  }

  /** Step 1 and 2 of a request: read the cookie, load the record, reject what is dead. */
  async load(ctx: OakContextLike): Promise<RequestState> {
    const now = this.now();
    const { state, sawCookie, jar, dropped } = await this.kind.load(ctx, now);
    if (dropped !== undefined && this.emit !== undefined) this.#reportDropped(dropped, now);
    const s = state ?? (sawCookie ? deadCookieState(now) : freshState(now));
    s.sawCookie = sawCookie;
    s.jar = jar;
    return s;
  }

  /** Step 3: what the request did to its session. */
  outcome(s: RequestState, now: number): SessionOutcome {
    return decideOutcome(s, now, this.lifetimeOf(s.record), this.options.refreshMs);
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
      (s.life.phase === "loaded" && s.life.key !== undefined &&
        isOriginalSessionId(s.id as string))
    ) {
      moveSession(s);
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

  async #write(
    ctx: OakContextLike,
    s: RequestState,
    outcome: SessionOutcome,
    now: number,
  ): Promise<void> {
    let done: boolean;
    try {
      done = await this.kind.write(ctx, s, outcome, now);
    } catch (error) {
      throw asStoreError(error, "saving a session");
    }
    if (done && this.emit !== undefined) await this.#reportCommit(this.emit, s, outcome);
  }

  /** What a request's cookie led to when it opened no session: expired, or rejected and why. */
  #reportDropped(dropped: Dropped, now: number): void {
    const emit = this.emit as Emit;
    if (dropped.reason !== "expired") {
      emit({ type: "cookie-rejected", reason: dropped.reason });
      return;
    }
    const record = dropped.record;
    const { absoluteMs } = this.lifetimeOf(record);
    emit({
      type: "expired",
      reason: record.createdAt + absoluteMs <= now ? "absolute" : "idle",
      fingerprint: fingerprintOf(dropped.key),
    });
  }

  /** What a commit did to the session's life: created, rotated, destroyed. */
  async #reportCommit(emit: Emit, s: RequestState, outcome: SessionOutcome): Promise<void> {
    const former = s.formerId;
    switch (outcome.action) {
      case "create":
      case "rotate": {
        const fingerprint = await fingerprintOfId(idOf(s));
        if (s.life.phase === "renewed" && former !== undefined) {
          emit({ type: "rotated", fingerprint, previous: await fingerprintOfId(former) });
          return;
        }
        // The request ended its session, then stored new data: a new session.
        if (former !== undefined) {
          emit({ type: "destroyed", fingerprint: await fingerprintOfId(former) });
        }
        emit({ type: "created", fingerprint });
        return;
      }
      case "retire":
        if (former !== undefined) {
          emit({ type: "destroyed", fingerprint: await fingerprintOfId(former) });
        }
        return;
    }
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
    ownRecord(s).meta = metaText(meta);
    s.metaChanged = true;
  }

  /**
   * The cookie's options for a session that ends at `expiresAt`, with
   * `maxAge` (the session's own or the app's; `undefined`: a browser-session
   * cookie); `expiresAt` undefined: for clearing the cookie.
   */
  cookieOptions(
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

  /** `session.deleteSession(ctx | id)` of the original library: end a session from any route. */
  async deleteSession(
    target: OakContextLike | string | Promise<string | undefined> | undefined,
  ): Promise<void> {
    const resolved = await target;
    if (typeof resolved === "object" && resolved !== null && "cookies" in resolved) {
      const current = this.stateOf(resolved.state?.session);
      // Inside a session middleware: end it at commit, like destroy().
      if (current !== undefined) return endSession(current, this.now());
      const ended = await this.kind.endByCookie(resolved);
      if (ended !== undefined) {
        this.emit?.({ type: "destroyed", fingerprint: fingerprintOf(ended) });
      }
      return;
    }
    if (resolved === undefined) return;
    if (typeof resolved !== "string") {
      throw new SessionConfigError(
        "deleteSession takes an Oak context, a session ID string, or a promise of one",
      );
    }
    const ended = await this.kind.endById(resolved);
    if (ended !== undefined) this.emit?.({ type: "destroyed", fingerprint: fingerprintOf(ended) });
  }
}
