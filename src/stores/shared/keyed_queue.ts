/**
 * Per-key queues for the adapters that write whole sessions through
 * another store's interface (`ExpressSessionStore`, `fromV9Store`): their
 * read-modify-write of one key must not interleave with another of the same
 * key in this process.
 *
 * @module
 */

/** Operations on the same keys run one after the other, in the order they were asked for. */
export class KeyedQueue {
  #tails = new Map<string, Promise<void>>();

  /** Run `fn` after every earlier operation on any of `keys` ended. */
  async run<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T> {
    const tails = this.#tails;
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    // Registered on every key at once, synchronously: waits only point at
    // earlier operations, so two multi-key operations never wait on each other.
    const earlier = keys.map((k) => tails.get(k));
    for (const k of keys) tails.set(k, mine);
    try {
      await Promise.all(earlier);
      return await fn();
    } finally {
      release();
      for (const k of keys) if (tails.get(k) === mine) tails.delete(k);
    }
  }
}

const queues = new WeakMap<object, KeyedQueue>();

/**
 * The one queue of the wrapped store object `backend`, shared by every
 * adapter over it, so two adapters around one store in one process still
 * queue behind each other.
 */
export function queueOf(backend: object): KeyedQueue {
  let queue = queues.get(backend);
  if (queue === undefined) queues.set(backend, queue = new KeyedQueue());
  return queue;
}
