/**
 * A session's life, observable: the events the middleware reports to the
 * app's `onEvent` listener. An event never carries a session's ID or data;
 * a session is named by its fingerprint, the one `listSessions` shows.
 *
 * Why one typed option rather than `node:diagnostics_channel`: a listener
 * belongs to the middleware it was given to (two apps in one process keep
 * their events apart), TypeScript checks it against the union below, it
 * works where no `node:` module exists, and with no listener the request
 * path pays one `undefined` check: no store call is timed, no fingerprint
 * hashed.
 *
 * @module
 */
import type { CsrfRefusalReason } from "./csrf.ts";
import { SessionError, SessionStoreError } from "./errors.ts";
import { fingerprintOf, sessionKey } from "./session_id.ts";

/** Why a request's session cookie opened no session. */
export type CookieRejection =
  /** Not a value this library issues (cut, altered in its shape, or foreign). */
  | "malformed"
  /** Well-formed, but no session is stored under it (never was, or removed). */
  | "unknown"
  /** The cookie store's seal did not authenticate: altered, or sealed for another cookie name. */
  | "tampered"
  /** The cookie store: sealed with a secret no longer configured. */
  | "unknown-key"
  /** The cookie store: a session of a user whose sessions were revoked since. */
  | "revoked"
  /** The session moved to a new ID (a login, `regenerate()`): this is the old one. */
  | "moved";

/**
 * What happened to a session, or to a request, as the middleware reports it
 * to `onEvent`. `fingerprint` names a session without revealing its ID.
 */
export type SessionEvent =
  /** A new session was stored (and its cookie set). */
  | { type: "created"; fingerprint: string }
  /** A session moved to a new ID (`regenerate()`, `setUser`), keeping its data. */
  | { type: "rotated"; fingerprint: string; previous: string }
  /** A session was ended (`destroy()`, `deleteSession`). */
  | { type: "destroyed"; fingerprint: string }
  /** `revokeSessions`/`revokeSession` ended `count` sessions (the cookie store: 0, see its docs). */
  | { type: "revoked"; count: number }
  /** A request's session had expired: its idle timeout or its absolute lifetime had passed. */
  | { type: "expired"; reason: "idle" | "absolute"; fingerprint: string }
  /** A request's session cookie opened nothing, and why. */
  | { type: "cookie-rejected"; reason: CookieRejection }
  /** An unsafe request was refused as a cross-site request forgery (status 403). */
  | { type: "csrf-refused"; reason: CsrfRefusalReason; method: string; path: string }
  /** A store call failed: which, after how long, and its error's name and message. */
  | { type: "store-error"; operation: string; durationMs: number; error: string }
  /** A store call took `slowStoreCallMs` or longer (it succeeded). */
  | { type: "slow-store-call"; operation: string; durationMs: number };

/** The `onEvent` option: called once per event, synchronously; what it throws is logged. */
export type SessionEventListener = (event: SessionEvent) => void;

/** @internal Report `event`; a listener that throws never fails the request. */
export type Emit = (event: SessionEvent) => void;

/** @internal The emitter of `listener`, which never throws. */
export function emitterOf(listener: SessionEventListener): Emit {
  return (event) => {
    try {
      const result = listener(event) as unknown;
      if (result instanceof Promise) result.catch((error) => listenerFailed(event, error));
    } catch (error) {
      listenerFailed(event, error);
    }
  };
}

function listenerFailed(event: SessionEvent, error: unknown): void {
  console.error(`oak-sessions: the onEvent listener threw on a "${event.type}" event:`, error);
}

/** @internal The fingerprint of session `id` (as `listSessions` shows it). */
export async function fingerprintOfId(id: string): Promise<string> {
  return fingerprintOf(await sessionKey(id));
}

// The calls of either kind of store that are timed.
const TIMED = new Set([
  "get",
  "create",
  "update",
  "rotate",
  "delete",
  "listByUser",
  "deleteByUser",
  "read",
  "write",
  "clear",
  "revokeUser",
]);

/** Whether `error`, thrown by a store call, is the store failing (not a value refused). */
function isStoreFailure(error: unknown): boolean {
  return !(error instanceof SessionError) || error instanceof SessionStoreError;
}

function errorText(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * @internal `store`, with each call timed: one that fails is reported as a
 * `store-error`, one that takes `slowMs` or longer as a `slow-store-call`.
 * Used only when the app listens, so a request without a listener times
 * nothing. A store call that answers at once (no promise) stays so.
 */
export function observedStore<S extends object>(store: S, emit: Emit, slowMs: number): S {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, name) {
      const value = Reflect.get(target, name, target);
      if (typeof value !== "function") return value;
      let call = wrapped.get(name);
      if (call === undefined) {
        // Called on the store itself (never on this proxy): its private fields stay its own.
        call = TIMED.has(name as string)
          ? timedCall(target, value as (...args: unknown[]) => unknown, String(name), emit, slowMs)
          : value.bind(target);
        wrapped.set(name, call);
      }
      return call;
    },
  });
}

function timedCall(
  target: object,
  method: (...args: unknown[]) => unknown,
  operation: string,
  emit: Emit,
  slowMs: number,
): (...args: unknown[]) => unknown {
  const done = (start: number) => {
    const durationMs = performance.now() - start;
    if (durationMs >= slowMs) emit({ type: "slow-store-call", operation, durationMs });
  };
  const failed = (start: number, error: unknown) => {
    if (!isStoreFailure(error)) return;
    emit({
      type: "store-error",
      operation,
      durationMs: performance.now() - start,
      error: errorText(error),
    });
  };
  return (...args: unknown[]) => {
    const start = performance.now();
    let result: unknown;
    try {
      result = method.apply(target, args);
    } catch (error) {
      failed(start, error);
      throw error;
    }
    if (!(result instanceof Promise)) {
      done(start);
      return result;
    }
    return result.then(
      (value) => {
        done(start);
        return value;
      },
      (error) => {
        failed(start, error);
        throw error;
      },
    );
  };
}
