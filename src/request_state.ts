/**
 * What one request knows of its session: where it is in its life (a
 * {@link Lifecycle} phase), the record as loaded, and the log of what the
 * request changed, which is all that gets written back. The per-request
 * `Session` reads and writes it; the engine decides from it what to commit.
 * Neither needs the other to build it.
 *
 * @module
 */
import type { CookieJar, Increments, JsonFields, SessionRecord } from "./store.ts";
import { emptyFields } from "./store.ts";
import { copyFields } from "./stores/shared/record_codec.ts";
import { newSessionId } from "./session_id.ts";

/**
 * @internal Where a request's session is in its life. Keys are a server-side
 * store's (the SHA-256 of an ID); with a client-side store they are `undefined`.
 *
 * - `fresh`: nothing stored under the request's ID; its cookie, if any, is left alone.
 * - `dead`: the request's cookie led nowhere (unknown, expired, tampered): it
 *   is cleared at commit unless a session gets stored.
 * - `loaded`: the session is stored under the request's ID (`key`).
 * - `superseded`: the cookie named a session another request moved to a new
 *   ID (a rotation's marker under `key`): the request sees an empty session
 *   and leaves the client's (new) cookie alone. `key` becomes `undefined` once
 *   the request gives itself a new ID (`regenerate()`), which may then store
 *   a session of its own.
 * - `renewed`: the loaded session got a new ID (`regenerate()`, `setUser`):
 *   at commit it moves `from` its old key, only if it still exists then.
 * - `ended`: the request ended a stored session (`destroy()`): `key` is
 *   removed and the cookie cleared at commit.
 */
export type Lifecycle =
  | { phase: "fresh" }
  | { phase: "dead" }
  | { phase: "loaded"; key: string | undefined }
  | { phase: "superseded"; key: string | undefined }
  | { phase: "renewed"; from: string | undefined }
  | { phase: "ended"; key: string | undefined };

/** @internal The state of one request's session. */
export interface RequestState {
  /** The session ID; `undefined` until first needed (most new sessions are never stored). */
  id: string | undefined;
  /** Where the session is in its life; changed only by this module's functions. */
  life: Lifecycle;
  /** The request's cookies as a client-side store reads them (parsed once per request). */
  jar: CookieJar | undefined;
  /** The request carried a session cookie (its response varies with it: `Vary: Cookie`). */
  sawCookie: boolean;
  /**
   * The session as this request sees it. A loaded record may be the store's
   * own object (MemoryStore hands it out uncopied): change it only through
   * {@link ownRecord}.
   */
  record: SessionRecord;
  /** Whether `record` is this request's own copy, free to change. */
  ownsRecord: boolean;
  set: JsonFields;
  deleted: Set<string>;
  cleared: boolean;
  /** Flash values this request set, for the next one. */
  flashOut: JsonFields;
  /** Whether the stored flash values must be replaced at commit. */
  flashChanged: boolean;
  /** Amounts this request added to numeric keys, for the store to add (`increment`). */
  increment: Increments;
  /** Whether `record.userId` (and `boundAt`) changed: written at commit. */
  userChanged: boolean;
  /** Whether `record.meta` changed (`setLifetime`, the device of `setUser`): written at commit. */
  metaChanged: boolean;
  /** `touch()`: push the idle expiry now, even when nothing else changed. */
  touchRequested: boolean;
  /** Whether the handler used the session at all (for `Vary: Cookie`). */
  touched: boolean;
  /** The session holds a CSRF token's secret (`csrfToken()`): it is stored even without data. */
  keepsCsrfSecret: boolean;
  /** The ID the session had when loaded, once it moved to a new one or ended (for events). */
  formerId: string | undefined;
}

/** @internal A fresh, empty, unstored session state (with `id`, or one drawn when first needed). */
export function freshState(now: number, id?: string): RequestState {
  return {
    id,
    life: { phase: "fresh" },
    jar: undefined,
    sawCookie: false,
    record: { data: emptyFields(), flash: emptyFields(), createdAt: now, expiresAt: now },
    ownsRecord: true,
    set: emptyFields(),
    deleted: new Set(),
    cleared: false,
    flashOut: emptyFields(),
    flashChanged: false,
    increment: emptyFields() as unknown as Increments,
    userChanged: false,
    metaChanged: false,
    touchRequested: false,
    touched: false,
    keepsCsrfSecret: false,
    formerId: undefined,
  };
}

/** @internal The state of a session loaded from its store (under `key`, for a server-side store). */
export function loadedState(
  id: string,
  record: SessionRecord,
  key: string | undefined,
): RequestState {
  const state = freshState(record.createdAt, id);
  state.life = { phase: "loaded", key };
  state.record = record;
  state.ownsRecord = false;
  // The flash values the previous request left are shown now and dropped at commit.
  for (const _ in record.flash) {
    state.flashChanged = true;
    break;
  }
  return state;
}

/** @internal The state of a request whose cookie named a session moved away (a marker under `key`). */
export function supersededState(now: number, key: string): RequestState {
  const state = freshState(now);
  state.life = { phase: "superseded", key };
  return state;
}

/** @internal The state of a request whose cookie led nowhere: cleared at commit unless a session is stored. */
export function deadCookieState(now: number): RequestState {
  const state = freshState(now);
  state.life = { phase: "dead" };
  return state;
}

/**
 * @internal The request's record, copied first if it is still the loaded one:
 * a read never copies, the first change does.
 */
export function ownRecord(state: RequestState): SessionRecord {
  if (!state.ownsRecord) {
    const r = state.record;
    state.record = { ...r, data: copyFields(r.data), flash: copyFields(r.flash) };
    state.ownsRecord = true;
  }
  return state.record;
}

/** @internal The session's ID, drawn now if it has none yet. */
export function idOf(state: RequestState): string {
  return state.id ??= newSessionId();
}

/** @internal Whether the session is stored under the request's ID, as loaded. */
export function isStored(state: RequestState): boolean {
  return state.life.phase === "loaded";
}

/** @internal The store keys a request's session is known by (its own, and the one it moves from). */
export function keysOf(state: RequestState | undefined): string[] {
  const keys: string[] = [];
  const life = state?.life;
  if (life?.phase === "loaded" && life.key !== undefined) keys.push(life.key);
  if (life?.phase === "renewed" && life.from !== undefined) keys.push(life.from);
  return keys;
}

/**
 * @internal End the session in place (`destroy()`): its data is gone; a stored
 * session (or the one it was moving from) is removed at commit.
 */
export function endSession(state: RequestState, now: number): void {
  const life = state.life;
  let ended: Lifecycle;
  switch (life.phase) {
    case "fresh":
    case "dead":
      // Nothing stored to end (and a dead cookie is left as it is).
      ended = { phase: "fresh" };
      break;
    case "renewed":
      ended = { phase: "ended", key: life.from };
      break;
    case "loaded":
    case "superseded": // A moved-away ID ends too (its marker goes, its cookie is cleared): a logout wins.
    case "ended":
      ended = { phase: "ended", key: life.key };
      break;
  }
  const { jar, sawCookie } = state;
  const formerId = life.phase === "loaded" ? state.id : state.formerId;
  Object.assign(state, freshState(now));
  state.jar = jar;
  state.sawCookie = sawCookie;
  state.formerId = formerId;
  state.life = ended;
  state.touched = true;
}

/**
 * @internal Give the session a new ID, keeping its data (`regenerate()`). A
 * stored session moves at commit, only if it still exists then.
 */
export function moveSession(state: RequestState): void {
  const life = state.life;
  if (life.phase === "loaded") {
    state.life = { phase: "renewed", from: life.key };
    state.formerId = state.id;
  } else if (life.phase === "superseded") state.life = { phase: "superseded", key: undefined };
  // fresh, dead, renewed, ended: nothing is stored under the current ID to move.
  state.id = newSessionId();
}
