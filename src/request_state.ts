/**
 * What one request knows of its session: the record as loaded, and the log
 * of what the request changed, which is all that gets written back. The
 * per-request `Session` reads and writes it; the middleware's engine decides
 * from it what to commit. Neither needs the other to build it.
 *
 * @module
 */
import type { CookieJar, Increments, JsonFields, SessionRecord } from "./store.ts";
import { emptyFields } from "./store.ts";
import { newSessionId } from "./session_id.ts";

/** @internal The state of one request's session. */
export interface RequestState {
  /** The session ID; `undefined` until first needed (most new sessions are never stored). */
  id: string | undefined;
  /** Whether the session exists in the store (or the client's cookie) under `id`, as loaded. */
  stored: boolean;
  /** A server-side store's key of the stored session (SHA-256 of its ID), hashed once. */
  key: string | undefined;
  /**
   * The key of the stored session this request moves to a new ID
   * (`regenerate()`): the move is a conditional `rotate` at commit, so a
   * session that ended meanwhile is not brought back.
   */
  movedFrom: string | undefined;
  /**
   * The cookie named a session that another request moved to a new ID (its
   * key holds a rotation's marker): this request sees an empty session and
   * must leave the client's (new) cookie alone. `key` is the marker's key.
   */
  moved: boolean;
  /** This request gave the session a new ID itself (`regenerate()`, `setUser`). */
  renewed: boolean;
  /** The key of a stored session this request ended (`destroy()`): removed at commit. */
  retiredKey: string | undefined;
  /** Whether this request ended a session of the client's cookie store (cleared at commit). */
  retired: boolean;
  /** The request's cookies as a client-side store reads them (parsed once per request). */
  jar: CookieJar | undefined;
  /** The request carried a session cookie (its response varies with it: `Vary: Cookie`). */
  sawCookie: boolean;
  /** The request's session cookie led nowhere (unknown, expired): cleared unless a session is stored. */
  deadCookie: boolean;
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
}

/** @internal A fresh, empty, unstored session state (with `id`, or one drawn when first needed). */
export function freshState(now: number, id?: string): RequestState {
  return {
    id,
    stored: false,
    key: undefined,
    movedFrom: undefined,
    moved: false,
    renewed: false,
    retiredKey: undefined,
    retired: false,
    jar: undefined,
    sawCookie: false,
    deadCookie: false,
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
  };
}

/** @internal The state of a session loaded from its store (under `key`, for a server-side store). */
export function loadedState(
  id: string,
  record: SessionRecord,
  key: string | undefined,
): RequestState {
  const state = freshState(record.createdAt, id);
  state.stored = true;
  state.key = key;
  state.record = record;
  state.ownsRecord = false;
  // The flash values the previous request left are shown now and dropped at commit.
  for (const _ in record.flash) {
    state.flashChanged = true;
    break;
  }
  return state;
}

function copyFields(fields: JsonFields): JsonFields {
  const out = emptyFields();
  for (const k in fields) out[k] = fields[k];
  return out;
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

/**
 * @internal End the session in place (`destroy()`): its data is gone; a stored
 * session (or the one it was moving from) is removed at commit.
 */
export function endSession(state: RequestState, now: number): void {
  // A moved-away ID ends too (its marker goes, its cookie is cleared): a logout wins.
  const ended = state.movedFrom ?? state.retiredKey ??
    (state.stored || state.moved ? state.key : undefined);
  const wasStored = state.stored || state.retired || state.moved || state.movedFrom !== undefined;
  const { jar, sawCookie } = state;
  Object.assign(state, freshState(now));
  state.jar = jar;
  state.sawCookie = sawCookie;
  state.retiredKey = ended;
  state.retired = wasStored;
  state.touched = true;
}

/**
 * @internal Give the session a new ID, keeping its data (`regenerate()`). A
 * stored session moves at commit, only if it still exists then.
 */
export function moveSession(state: RequestState): void {
  if (state.stored) {
    state.movedFrom = state.key;
    state.retired = true;
  }
  state.stored = false;
  state.key = undefined;
  state.id = newSessionId();
  state.renewed = true;
}

/** @internal The state of a request whose cookie named a session moved away (a marker under `key`). */
export function movedState(now: number, key: string): RequestState {
  const state = freshState(now);
  state.moved = true;
  state.key = key;
  return state;
}
