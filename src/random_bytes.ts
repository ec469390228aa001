/**
 * Random bytes from a pool, for session IDs and AES-GCM IVs.
 *
 * Why a pool: each `crypto.getRandomValues` call asks the operating system
 * for entropy, about 3 to 5 µs however few bytes it returns; one call for
 * 4 KB costs barely more. So the bytes are drawn in 4 KB batches and handed
 * out in order, each byte once (Node's `crypto.randomUUID` caches its entropy
 * the same way). A batch is replaced, never refilled in place, so the bytes
 * already handed out never change.
 *
 * @module
 */

const POOL_BYTES = 4096;
let pool = new Uint8Array(0);
let at = 0;

/**
 * `n` fresh random bytes (a view of the pool; every call gets bytes no other
 * call got). `n` is at most 65,536, the limit of `crypto.getRandomValues`.
 *
 * ```ts
 * import { randomBytes } from "./random_bytes.ts";
 * const iv = randomBytes(12);
 * ```
 */
export function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  if (at + n > pool.length) {
    pool = crypto.getRandomValues(new Uint8Array(Math.max(POOL_BYTES, n)));
    at = 0;
  }
  const out = pool.subarray(at, at + n);
  at += n;
  return out;
}
