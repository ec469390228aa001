/**
 * Waiting for something to happen, without guessing how long it takes.
 *
 * - `waitFor(check)`: ask again until `check` answers (a value other than
 *   `undefined`/`false`), with a short growing pause between asks, and fail
 *   naming what never happened. For a state that gives no event to await: a
 *   port that starts listening, a server that answers PING, a lock that shows
 *   in `pg_stat_activity`.
 * - `waitForPort(port)`: a `waitFor` for a TCP listener on 127.0.0.1.
 * - `waitForExit(child)`: the child's own `exit` event (SIGKILL after a while).
 * - `letTimePass(ms)`: the one plain sleep, for a test whose subject IS wall
 *   time (a TTL that must run out, a clock a store reads). Never use it to
 *   wait for a server or a request: await that instead.
 *
 * Runs on Node, Deno and Bun.
 *
 * @module
 */
import type { ChildProcess } from "node:child_process";
import { connect } from "node:net";

/** Resolves after `ms` milliseconds of wall time; only where the test needs time to pass. */
export function letTimePass(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** How long {@link waitFor} keeps asking, and what it says when it gives up. */
export interface WaitOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** The first pause between asks (default 10 ms); it doubles up to `maxIntervalMs`. */
  intervalMs?: number;
  /** The longest pause between asks (default 200 ms). */
  maxIntervalMs?: number;
  /** What was awaited, for the error: "redis-server on port 20123 to answer PING". */
  what?: string;
}

/**
 * Call `check` until it gives a value other than `undefined` or `false`, and
 * resolve to that value; a throw from `check` counts as "not yet". Rejects
 * after `timeoutMs` naming `what` (and the last error `check` threw).
 */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  options: WaitOptions = {},
): Promise<T> {
  const { timeoutMs = 10_000, maxIntervalMs = 200, what = "the condition" } = options;
  let interval = options.intervalMs ?? 10;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(interval, deadline - Date.now())));
    interval = Math.min(interval * 2, maxIntervalMs);
  }
}

/** Whether something accepts a TCP connection on 127.0.0.1:`port` now. */
export function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Resolves once something accepts TCP connections on 127.0.0.1:`port` (up to `timeoutMs`). */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  await waitFor(() => portAccepts(port), {
    timeoutMs,
    maxIntervalMs: 50,
    what: `something to listen on 127.0.0.1:${port}`,
  }).catch(() => {
    throw new Error(`nothing listens on 127.0.0.1:${port}`);
  });
}

/** Whether `child` has exited (by itself or by a signal). */
export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves once `child` exits; SIGKILLs it after `timeoutMs` if it has not. */
export function waitForExit(child: ChildProcess, timeoutMs = 5000): Promise<void> {
  if (hasExited(child)) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Send `signal` to `child` (if it still runs) and resolve once it exited (SIGKILL after `timeoutMs`). */
export async function stopChild(
  child: ChildProcess,
  signal: NodeJS.Signals = "SIGKILL",
  timeoutMs = 5000,
): Promise<void> {
  if (hasExited(child)) return;
  const exited = waitForExit(child, timeoutMs);
  child.kill(signal);
  await exited;
}
