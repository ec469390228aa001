/**
 * Values that are ready now on one runtime and later on another.
 *
 * `node:crypto` answers synchronously and Web Crypto with a promise. Code
 * that runs on both chains through {@linkcode chain}, which calls on at once
 * when the value is ready, so the fast path pays no promise or microtask hop.
 * (Not named `then`: a module exporting `then` is a thenable to `import()`.)
 *
 * @module
 */

/** A value, or a promise of it. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * `next(value)`: at once when `value` is ready, after it settles when it is a
 * promise.
 *
 * ```ts
 * import { chain } from "./maybe_promise.ts";
 * chain(2, (n) => n + 1); // 3, synchronously
 * await chain(Promise.resolve(2), (n) => n + 1); // 3
 * ```
 */
export function chain<T, U>(
  value: MaybePromise<T>,
  next: (value: T) => MaybePromise<U>,
): MaybePromise<U> {
  return value instanceof Promise ? value.then(next) : next(value);
}

/**
 * `values`, ready: an array at once when none is a promise, else a promise of
 * the array.
 *
 * ```ts
 * import { allOf } from "./maybe_promise.ts";
 * allOf([1, 2]); // [1, 2], synchronously
 * await allOf([1, Promise.resolve(2)]); // [1, 2]
 * ```
 */
export function allOf<T>(values: readonly MaybePromise<T>[]): MaybePromise<T[]> {
  return values.some((v) => v instanceof Promise) ? Promise.all(values) : values as T[];
}
