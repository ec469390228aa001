/**
 * What every benchmark server shares: the routes, the secret, how it tells
 * the runner its port, how it ends, and the store-call counters.
 *
 * Every server, bare or with sessions, answers the same paths with bodies of
 * the same length, so the bare figure is the same app without sessions:
 *
 * - `/login` and `/new`: store one key (`user`), a login;
 * - `/read`: read that key, change nothing;
 * - `/write`: change one key (`n`, a counter);
 * - `/anon`: do not touch the session at all.
 *
 * A server prints `PORT <n>` on its own line once it accepts connections,
 * ends on SIGTERM or SIGINT through `process.exit` (so `node --cpu-prof`
 * writes its profile), and ends when its standard input closes (so no server
 * outlives a runner that died).
 *
 * @module
 */

/** The paths every server answers. */
export const PATHS = {
  login: "/login",
  read: "/read",
  write: "/write",
  new: "/new",
  anonymous: "/anon",
  stats: "/__bench/stats",
} as const;

/** The value `/login` and `/new` store, and `/read` answers with. */
export const USER = "alice";

/** The bodies the bare servers answer with (the same lengths as with sessions). */
export const BARE_BODIES: Record<string, string> = {
  [PATHS.login]: "ok",
  [PATHS.new]: "ok",
  [PATHS.read]: USER,
  [PATHS.write]: "ok",
  [PATHS.anonymous]: "hello",
};

/** The body of an unknown path, on every server. */
export const NOT_FOUND = "not found";

/** The signing or encryption secret of every subject that needs one (at least 32 characters). */
export const SECRET = process.env.COOKIE_SECRET ??
  "benchmark-secret-benchmark-secret-benchmark-secret";

/** Tell the runner where this server listens, and arrange for its end. */
export function announce(port: number, close?: () => void | Promise<void>): void {
  let closing = false;
  const end = async () => {
    if (closing) return;
    closing = true;
    try {
      await close?.();
    } finally {
      process.exit(0);
    }
  };
  process.on("SIGTERM", end);
  process.on("SIGINT", end);
  process.stdin.on("end", end);
  process.stdin.on("error", end);
  process.stdin.resume();
  process.stdout.write(`PORT ${port}\n`);
}

/** Calls counted per method name. */
export type CallCounts = Record<string, number>;

/**
 * Count the calls of `names` on `target`, in place (own properties that
 * forward to the originals). A call costs one increment more, a few
 * nanoseconds against tens of microseconds per request.
 */
export function countCalls<T extends object>(target: T, names: string[], counts: CallCounts): T {
  const methods = target as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of names) {
    const original = methods[name];
    if (typeof original !== "function") continue;
    counts[name] = 0;
    methods[name] = function (this: unknown, ...args: unknown[]) {
      counts[name]++;
      return original.apply(this, args);
    };
  }
  return target;
}

/** The JSON the stats path answers with. */
export interface ServerStats {
  /** Store method calls by name (`get`, `create`, `touch`, ...). */
  ops: CallCounts;
  /** Which of those write (everything else only reads). */
  writeOps: string[];
  /** SQL statements run, by kind (`SELECT`, `INSERT/UPDATE/DELETE`, `BEGIN/COMMIT`); absent without SQL. */
  sql?: CallCounts;
}
