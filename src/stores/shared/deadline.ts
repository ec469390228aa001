/**
 * A backend call with a deadline: the stores that talk to a server over the
 * network (PostgreSQL, Redis, Webdis) fail a call that outlives its
 * `timeoutMs` instead of holding the request.
 *
 * @module
 */

/**
 * `promise`, or the error `onTimeout()` makes once `ms` have passed. The
 * timer is cleared as soon as either settles, so it never keeps a process
 * alive, and a late rejection of `promise` is never unhandled (the race
 * subscribes to it).
 *
 * ```ts
 * await withDeadline(conn.query(sql), 5_000, () => new SessionStoreError("no answer within 5000 ms"));
 * ```
 */
export function withDeadline<T>(
  promise: Promise<T>,
  ms: number,
  onTimeout: () => Error,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
