/**
 * Where a request decides what to write: from its state at commit, one
 * {@link SessionOutcome}, the same for every kind of store. The store's kind
 * then carries it out (`server_kind.ts`, `client_kind.ts`).
 *
 * @module
 */
import { SessionMovedError } from "../errors.ts";
import type { RequestState } from "../request_state.ts";
import type { SessionChange, SessionRecord } from "../store.ts";
import { hasFields } from "../stores/shared/record_codec.ts";

/** @internal A session's idle timeout and absolute lifetime (ms), and its cookie's Max-Age (s). */
export interface Lifetime {
  readonly idleMs: number;
  readonly absoluteMs: number;
  /** `undefined`: a browser-session cookie. */
  readonly maxAge?: number;
}

/**
 * @internal What a request did to its session, decided at commit; acted on by
 * a `switch` the compiler checks. Keys are a server-side store's (`undefined`
 * with a client-side one).
 */
export type SessionOutcome =
  /** Nothing to write. */
  | { action: "none" }
  /** A session not yet stored now holds data: store it (then remove the one it `replaces`). */
  | { action: "create"; record: SessionRecord; replaces: string | undefined }
  /**
   * A stored session got a new ID (`regenerate()`): move it, with this
   * request's changes, only if it still exists.
   */
  | { action: "rotate"; fromKey: string; change: SessionChange }
  /** A stored session changed, or its sliding expiry is due. */
  | { action: "update"; key: string | undefined; change: SessionChange; refreshCookie: boolean }
  /** The stored session was destroyed (or rotated while empty): remove `key`, clear the cookie. */
  | { action: "retire"; key: string | undefined }
  /** The request's cookie named no live session and none is stored: clear the cookie. */
  | { action: "forget" };

/**
 * @internal What the request did to its session, at `now`, for a session of
 * `lifetime` whose expiry is refreshed at most every `refreshMs`.
 */
export function decideOutcome(
  s: RequestState,
  now: number,
  lifetime: Lifetime,
  refreshMs: number,
): SessionOutcome {
  const expiresAt = Math.min(now + lifetime.idleMs, s.record.createdAt + lifetime.absoluteMs);
  const life = s.life;
  if (life.phase !== "loaded") {
    // A session bound to a user is stored even with no data: it is a login.
    // So is one that handed out a CSRF token: the token must open it.
    if (
      hasFields(s.record.data) || hasFields(s.flashOut) || s.record.userId !== undefined ||
      s.keepsCsrfSecret
    ) {
      if (life.phase === "renewed" && life.from !== undefined) {
        return { action: "rotate", fromKey: life.from, change: changeOf(s, expiresAt, now) };
      }
      // A new session here would replace the cookie the move handed out:
      // unless the request started one of its own (a login, regenerate()).
      if (life.phase === "superseded" && life.key !== undefined && !s.userChanged) {
        throw movedError("kept");
      }
      return {
        action: "create",
        record: newRecord(s, expiresAt, now),
        // Created first, removed after: a failure in between loses nothing.
        replaces: life.phase === "ended" ? life.key : undefined,
      };
    }
    switch (life.phase) {
      case "renewed":
        return { action: "retire", key: life.from };
      case "ended":
        return { action: "retire", key: life.key };
      case "dead":
        return { action: "forget" };
      case "fresh":
      case "superseded":
        return { action: "none" };
    }
  }
  const dirty = s.cleared || s.flashChanged || hasFields(s.set) || s.deleted.size > 0 ||
    hasFields(s.increment) || s.userChanged || s.metaChanged;
  // A session with an idle timeout of its own is refreshed within a tenth of it.
  // An expiry stored further out than the app allows now (a maximum lowered
  // since) is brought back in.
  const refreshEvery = Math.min(refreshMs, lifetime.idleMs / 10);
  const refreshDue = s.touchRequested || Math.abs(expiresAt - s.record.expiresAt) >= refreshEvery;
  if (!dirty && !refreshDue) return { action: "none" };
  return {
    action: "update",
    key: life.key,
    change: changeOf(s, expiresAt, now),
    // A new lifetime may turn a persistent cookie into a browser-session one.
    refreshCookie: s.metaChanged || (refreshDue && lifetime.maxAge !== undefined),
  };
}

/** @internal Whether the request changed what the session holds (more than its expiry or a flash read). */
export function changesData(s: RequestState): boolean {
  return s.cleared || hasFields(s.set) || s.deleted.size > 0 || hasFields(s.increment) ||
    hasFields(s.flashOut) || s.userChanged || s.metaChanged;
}

/** @internal The error of a request whose session another request moved to a new ID. */
export function movedError(what: "saved" | "moved" | "kept"): SessionMovedError {
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
