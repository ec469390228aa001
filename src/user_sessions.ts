/**
 * Sessions that belong to a user: binding (`setUser`), listing
 * (`listSessions`), logging out everywhere (`revokeSessions`), ending one
 * (`revokeSession`), and a session's own lifetime (`setLifetime`). The
 * stores keep the per-user index; this module checks the input and turns
 * what a store finds into what the app shows.
 *
 * @module
 */
import { SessionConfigError, SessionValueError } from "./errors.ts";
import type { SessionEngine } from "./engine/engine.ts";
import { asStoreError } from "./engine/store_kind.ts";
import type { OakContextLike } from "./oak_context_like.ts";
import { endSession, keysOf, ownRecord, type RequestState } from "./request_state.ts";
import { metaText, parseMeta, type SessionMeta } from "./session_meta.ts";
import { fingerprintOf } from "./session_id.ts";

/** The longest user ID `setUser` takes, in characters. */
export const MAX_USER_ID_LENGTH = 256;

/** One of a user's sessions, as `listSessions` shows it. */
export interface SessionInfo {
  /**
   * Names the session for `revokeSession` (a short hash of its store key, not
   * its ID: showing it gives nobody the session).
   */
  fingerprint: string;
  /** When the session was created (ms since the epoch). */
  createdAt: number;
  /**
   * When a request last wrote the session (ms since the epoch). Reads do not
   * write, so this is as recent as the session's last change or refresh of
   * its expiry (at most `refreshIntervalSeconds` behind).
   */
  lastSeenAt: number;
  /** When the session ends unless it is used again (ms since the epoch). */
  expiresAt: number;
  /** Whether this is the session of the request asking. */
  current: boolean;
  /** Whether its cookie outlives the browser session ("remember me"). */
  persistent: boolean;
  /** The User-Agent it was bound on, when the app records it (`recordDevice`). */
  userAgent?: string;
  /** The IP address it was bound from, when the app records it (`recordDevice`). */
  ip?: string;
}

/** A session's own lifetime (`session.setLifetime`); what is left out is the app's default. */
export interface SessionLifetime {
  /** Idle timeout in seconds, at most the app's `maxIdleSeconds`. */
  idleSeconds?: number;
  /** Absolute lifetime in seconds (from the session's creation), at most `maxAbsoluteSeconds`. */
  absoluteSeconds?: number;
  /**
   * `true`: the cookie outlives the browser ("remember me"); `false`: it is a
   * browser-session cookie (no Max-Age), gone when the browser closes.
   */
  persistent?: boolean;
}

/** `userId`, checked: a non-empty string of at most 256 characters. */
export function checkUserId(userId: unknown, method: string): string {
  if (typeof userId !== "string" || userId === "" || userId.length > MAX_USER_ID_LENGTH) {
    const got = typeof userId === "string"
      ? `a string of ${userId.length} characters`
      : String(userId);
    throw new SessionValueError(
      "userId",
      `${method}: userId must be a non-empty string of at most ${MAX_USER_ID_LENGTH} ` +
        `characters (the user's ID in your app, e.g. String(user.id)), got ${got}`,
    );
  }
  return userId;
}

/** Bind the request's session to `userId` (`setUser`). */
export function bindUser(s: RequestState, userId: string, now: number): void {
  if (s.record.userId === userId) return;
  const record = ownRecord(s);
  record.userId = userId;
  record.boundAt = now;
  s.userChanged = true;
}

function wholeSeconds(
  engine: SessionEngine,
  name: "idleSeconds" | "absoluteSeconds",
  value: unknown,
): number | undefined {
  if (value === undefined) return undefined;
  const maxMs = name === "idleSeconds" ? engine.options.maxIdleMs : engine.options.maxAbsoluteMs;
  const option = name === "idleSeconds" ? "maxIdleSeconds" : "maxAbsoluteSeconds";
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
    throw new SessionConfigError(
      `setLifetime: ${name} must be a positive integer number of seconds, got ${String(value)}`,
    );
  }
  if (value * 1000 > maxMs) {
    throw new SessionConfigError(
      `setLifetime: ${name} is ${value}, above the app's maximum of ${maxMs / 1000} seconds; ` +
        `raise ${option} in the session options to allow it`,
    );
  }
  return value;
}

/** Give the request's session its own lifetime (`setLifetime`). */
export function setLifetime(
  engine: SessionEngine,
  s: RequestState,
  lifetime: SessionLifetime,
): void {
  if (typeof lifetime !== "object" || lifetime === null) {
    throw new SessionConfigError(
      "setLifetime takes an object: { idleSeconds?, absoluteSeconds?, persistent? }",
    );
  }
  for (const name of Object.keys(lifetime)) {
    if (name !== "idleSeconds" && name !== "absoluteSeconds" && name !== "persistent") {
      throw new SessionConfigError(
        `setLifetime: unknown option ${JSON.stringify(name)}; ` +
          "it takes idleSeconds, absoluteSeconds and persistent",
      );
    }
  }
  const idle = wholeSeconds(engine, "idleSeconds", lifetime.idleSeconds);
  const absolute = wholeSeconds(engine, "absoluteSeconds", lifetime.absoluteSeconds);
  const { persistent } = lifetime;
  if (persistent !== undefined && typeof persistent !== "boolean") {
    throw new SessionConfigError(
      `setLifetime: persistent must be true ("remember me") or false (a browser-session ` +
        `cookie), got ${String(persistent)}`,
    );
  }
  const meta: SessionMeta = { ...parseMeta(s.record.meta) };
  delete meta.idleSeconds;
  delete meta.absoluteSeconds;
  delete meta.persistent;
  if (idle !== undefined) meta.idleSeconds = idle;
  if (absolute !== undefined) meta.absoluteSeconds = absolute;
  if (persistent !== undefined) meta.persistent = persistent;
  const text = metaText(meta);
  if (text === (s.record.meta ?? "{}")) return;
  ownRecord(s).meta = text;
  s.metaChanged = true;
}

/** The live sessions of `userId`, newest first; `current` marks the asking request's. */
export async function listSessions(
  engine: SessionEngine,
  userId: unknown,
  current: RequestState | undefined,
): Promise<SessionInfo[]> {
  const user = checkUserId(userId, "listSessions");
  const store = engine.kind.userIndex("listSessions");
  const now = engine.now();
  let found;
  try {
    found = await store.listByUser(user, now);
  } catch (error) {
    throw asStoreError(error, "listing a user's sessions");
  }
  const mine = keysOf(current);
  const list: SessionInfo[] = [];
  for (const { key, record } of found) {
    const lifetime = engine.lifetimeOf(record);
    // The store's expiry, and the session's own lifetime, as the middleware checks them.
    if (record.expiresAt <= now || record.createdAt + lifetime.absoluteMs <= now) continue;
    const meta = parseMeta(record.meta);
    const info: SessionInfo = {
      fingerprint: fingerprintOf(key),
      createdAt: record.createdAt,
      lastSeenAt: record.lastSeenAt ?? record.createdAt,
      expiresAt: record.expiresAt,
      current: mine.includes(key),
      persistent: lifetime.maxAge !== undefined,
    };
    if (meta.userAgent !== undefined) info.userAgent = meta.userAgent;
    if (meta.ip !== undefined) info.ip = meta.ip;
    list.push(info);
  }
  return list.sort((a, b) => b.createdAt - a.createdAt || b.lastSeenAt - a.lastSeenAt);
}

/**
 * End every session of `userId` but `except`'s; returns how many ended. The
 * asking request's own session, when it is the user's and not excepted, ends
 * with them. With the cookie store, `except` is kept only if no revocation
 * recorded since its request loaded it covers it; otherwise it ends too.
 */
export async function revokeSessions(
  engine: SessionEngine,
  userId: unknown,
  except: RequestState | undefined,
  current: RequestState | undefined,
): Promise<number> {
  const user = checkUserId(userId, "revokeSessions");
  const now = engine.now();
  let revoked;
  try {
    revoked = await engine.kind.revokeUser(user, except, now);
  } catch (error) {
    throw asStoreError(error, "revoking a user's sessions");
  }
  if (current !== undefined && current !== revoked.kept && current.record.userId === user) {
    endSession(current, now);
  }
  engine.emit?.({ type: "revoked", count: revoked.removed });
  return revoked.removed;
}

/** End the session of `userId` whose fingerprint is `fingerprint`; whether there was one. */
export async function revokeSession(
  engine: SessionEngine,
  userId: unknown,
  fingerprint: unknown,
  current: RequestState | undefined,
): Promise<boolean> {
  const user = checkUserId(userId, "revokeSession");
  if (typeof fingerprint !== "string" || fingerprint === "") {
    throw new SessionValueError(
      "fingerprint",
      "revokeSession: fingerprint must be a session's fingerprint from listSessions(), got " +
        String(fingerprint),
    );
  }
  const store = engine.kind.userIndex("revokeSession");
  const now = engine.now();
  try {
    for (const { key } of await store.listByUser(user, now)) {
      if (fingerprintOf(key) !== fingerprint) continue;
      await store.delete(key);
      if (current !== undefined && keysOf(current).includes(key)) endSession(current, now);
      engine.emit?.({ type: "revoked", count: 1 });
      return true;
    }
  } catch (error) {
    throw asStoreError(error, "revoking a session");
  }
  return false;
}

/** The request state of `target` (a context behind the middleware, or a request's session). */
export function stateOfTarget(
  engine: SessionEngine,
  target: OakContextLike | object | undefined,
  option: string,
): RequestState | undefined {
  if (target === undefined) return undefined;
  const state = engine.stateOf(target) ??
    engine.stateOf((target as Partial<OakContextLike>).state?.session);
  if (state === undefined) {
    throw new SessionConfigError(
      `${option} must be the Oak context (ctx) of a request behind the session middleware, ` +
        "or its ctx.state.session",
    );
  }
  return state;
}
