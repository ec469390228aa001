/**
 * The life of a store that talks to a database server: its set-up runs once
 * before the first call (and again after a failure, when the server may be
 * back), every call has a deadline and turns a driver's failure into the
 * store's own error, expired sessions are swept during normal calls at most
 * once per interval, and nothing runs once the store is closed.
 * (MySqlStore uses it; PostgresStore's own copy of this logic predates it.)
 *
 * @module
 */
import { SessionStoreError } from "../../errors.ts";
import type { UserSession } from "../../store.ts";
import { withDeadline } from "./deadline.ts";
import { decodeRow, ROW_COLUMNS } from "../sql_row.ts";

/** What {@link BackendCalls} needs from its store. */
export interface BackendHooks {
  /** The store's name, first in every message ("MySqlStore"). */
  readonly where: string;
  /** The deadline of one call, in milliseconds. */
  readonly timeoutMs: number;
  /** How often the sweep may ride on a call, in milliseconds; 0: never. */
  readonly cleanupIntervalMs: number;
  /** Creates or checks the table. */
  setUp(): Promise<void>;
  /** Deletes what expired by `now`. */
  sweep(now: number): Promise<unknown>;
  /** The store's error for a failure of `what` (already a session error: as it is). */
  failure(what: string, error: unknown): Error;
  /** Whether `error` is worth one more try of the whole call (a deadlock's victim). */
  retryable?(error: unknown): boolean;
}

const TRIES = 5;

/** Runs a store's calls against its server (see the module's description). */
export class BackendCalls {
  readonly #hooks: BackendHooks;
  #ready: Promise<void> | undefined;
  #set = false;
  #sweepDue = -Infinity;
  #closed = false;

  constructor(hooks: BackendHooks) {
    this.#hooks = hooks;
  }

  /** The set-up, run once (again after it failed), within the deadline. */
  setUp(): Promise<void> {
    const h = this.#hooks;
    if (this.#closed) {
      return Promise.reject(new SessionStoreError(`${h.where}: the store was closed`));
    }
    if (this.#ready === undefined) {
      const what = "open the session table";
      this.#ready = this.#deadline(h.setUp(), what).then(() => {
        this.#set = true;
      }, (e) => {
        this.#ready = undefined;
        throw h.failure(what, e);
      });
    }
    return this.#ready;
  }

  /** Sets the table up again on the next call (it was dropped under the store). */
  forgetSetUp(): void {
    this.#set = false;
    this.#ready = undefined;
  }

  /**
   * `fn` after the set-up, within the deadline, tried again while it fails
   * retryably; then, when `now` is given, the sweep if one is due.
   */
  async call<T>(what: string, now: number | undefined, fn: () => Promise<T>): Promise<T> {
    const h = this.#hooks;
    if (this.#closed) {
      throw new SessionStoreError(`${h.where}: cannot ${what}: the store was closed`);
    }
    if (!this.#set) await this.setUp();
    let result: T;
    for (let tries = 1;; tries++) {
      try {
        result = await this.#deadline(fn(), what);
        break;
      } catch (e) {
        if (tries < TRIES && h.retryable?.(e)) continue;
        throw h.failure(what, e);
      }
    }
    if (now !== undefined) this.#sweepIfDue(now);
    return result;
  }

  /** Notes that a sweep ran at `now` (`cleanup()`): the next is due an interval later. */
  swept(now: number): void {
    this.#sweepDue = now + this.#hooks.cleanupIntervalMs;
  }

  /** Stops every later call; `true` the first time. */
  close(): boolean {
    if (this.#closed) return false;
    this.#closed = true;
    return true;
  }

  #deadline<T>(promise: Promise<T>, what: string): Promise<T> {
    const { where, timeoutMs } = this.#hooks;
    return withDeadline(
      promise,
      timeoutMs,
      () =>
        new SessionStoreError(
          `${where}: cannot ${what}: the server did not answer within ${timeoutMs} ms ` +
            "(timeoutMs); is it up and reachable?",
        ),
    );
  }

  // Housekeeping rides on traffic without holding up the request that
  // carried it, and never fails anything: cleanup() reports errors.
  #sweepIfDue(now: number): void {
    const h = this.#hooks;
    if (h.cleanupIntervalMs === 0 || now < this.#sweepDue || this.#closed) return;
    this.swept(now);
    h.sweep(now).catch(() => {});
  }
}

/**
 * The sessions in `rows` (session columns, then the key) that are live at
 * `now` and are no rotation's marker, as `listByUser` returns them.
 */
export function liveUserSessions(rows: unknown[][], now: number): UserSession[] {
  const sessions: UserSession[] = [];
  for (const row of rows) {
    const record = decodeRow(row, now);
    const key = row[ROW_COLUMNS];
    if (record !== null && record.movedAt === undefined && typeof key === "string") {
      sessions.push({ key, record });
    }
  }
  return sessions;
}
