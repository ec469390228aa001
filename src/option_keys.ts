/**
 * The check that refuses an option name this library does not know (a
 * misspelt option would otherwise be ignored without a word), and the
 * helpers each options list is built with: a list lives beside its options
 * type (`SESSION_OPTION_KEYS` in `options.ts`, a store's in its module) and
 * is built by `keysOf` from that type, so the type checker refuses a list
 * that misses or invents a key. Checked once, at construction: never on a
 * request.
 *
 * @module
 */
import { SessionConfigError } from "./errors.ts";

/** The declared keys of `T`, without an index signature's `string`. */
type DeclaredKeys<T> = keyof {
  [K in keyof T as string extends K ? never : number extends K ? never : K]: T[K];
};

/** The keys of `T`, from an object that must name each of them and nothing else. */
export function keysOf<T>(keys: Record<DeclaredKeys<T>, true>): readonly string[] {
  return Object.freeze(Object.keys(keys));
}

/**
 * Edit distance between `a` and `b`, ignoring case: insertions, deletions,
 * substitutions and swaps of two neighbours each count one.
 */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  // Three rows of the optimal-string-alignment table: two back, one back, this one.
  let older: number[] = [];
  let prev = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const row = [i];
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let d = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) {
        d = Math.min(d, older[j - 2] + 1);
      }
      row.push(d);
    }
    older = prev;
    prev = row;
  }
  return prev[t.length];
}

/**
 * The valid key nearest to `key`, or `undefined` when none is near: within
 * two edits, or a third of the longer name's length for long names
 * (`expireAfterSecs` is three edits from `expireAfterSeconds`).
 */
export function nearestKey(key: string, validKeys: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const valid of validKeys) {
    const d = editDistance(key, valid);
    const near = Math.max(2, Math.floor(Math.max(key.length, valid.length) / 3));
    if (d <= near && d < bestDistance) {
      best = valid;
      bestDistance = d;
    }
  }
  return best;
}

function unknownKey(where: string, key: string, hint: string): SessionConfigError {
  return new SessionConfigError(`${where}: unknown option ${JSON.stringify(key)}; ${hint}`);
}

/**
 * Throws a `SessionConfigError` for the first own key of `options` that is
 * not in `validKeys`, naming the nearest valid key (or the one `mixUps`
 * gives for it), or listing them all when none is near:
 * `MemoryStore: unknown option "maxSession"; did you mean "maxSessions"?`.
 * `options` that is not an object is left to the caller's own check.
 *
 * ```ts
 * checkOptionKeys("MemoryStore", { maxSession: 5 }, MEMORY_STORE_OPTION_KEYS); // throws
 * ```
 */
export function checkOptionKeys(
  where: string,
  options: unknown,
  validKeys: readonly string[],
  mixUps: Readonly<Record<string, string>> = {},
): void {
  if (typeof options !== "object" || options === null) return;
  for (const key of Object.keys(options)) {
    if (validKeys.includes(key)) continue;
    const nearest = Object.hasOwn(mixUps, key) ? mixUps[key] : nearestKey(key, validKeys);
    throw unknownKey(
      where,
      key,
      nearest === undefined
        ? `the options are ${validKeys.join(", ")}`
        : `did you mean ${JSON.stringify(nearest)}?`,
    );
  }
}

/**
 * For options passed through to Oak's cookie jar, which may take options
 * this library does not know: refuses only a key that is not a known one
 * but is near one (`httponly`, `sameSit`, `maxage`), so an option a later
 * Oak adds still passes through.
 *
 * ```ts
 * checkNearMisses("cookieSetOptions", { sameSit: "strict" }, COOKIE_SET_OPTION_KEYS); // throws
 * ```
 */
export function checkNearMisses(
  where: string,
  options: unknown,
  knownKeys: readonly string[],
): void {
  if (typeof options !== "object" || options === null) return;
  for (const key of Object.keys(options)) {
    if (knownKeys.includes(key)) continue;
    const nearest = nearestKey(key, knownKeys);
    if (nearest !== undefined) {
      throw unknownKey(
        where,
        key,
        `did you mean ${JSON.stringify(nearest)}? (an option of Oak's cookie jar)`,
      );
    }
  }
}

const warnedRenames = new Set<string>();

/**
 * Options renamed to the one naming scheme all stores share
 * (`keyPrefix`, `timeoutMs`, `cleanupIntervalSeconds`) keep working under
 * their old names: returns `options` with each old key in `renames`
 * (old name -> new name) moved to its new name, and says so once per
 * process and name with `console.warn`. Both names at once is a
 * `SessionConfigError`: which one was meant is not ours to guess.
 *
 * ```ts
 * renamedOptions("MemoryStore", { sweepIntervalSeconds: 60 }, { sweepIntervalSeconds: "cleanupIntervalSeconds" });
 * // -> { cleanupIntervalSeconds: 60 }, after one warning
 * ```
 */
export function renamedOptions<T extends object>(
  where: string,
  options: T,
  renames: Readonly<Record<string, string>>,
): T {
  if (typeof options !== "object" || options === null) return options;
  let renamed: Record<string, unknown> | undefined;
  for (const [oldName, newName] of Object.entries(renames)) {
    if (!Object.hasOwn(options, oldName)) continue;
    if (Object.hasOwn(options, newName)) {
      throw new SessionConfigError(
        `${where}: options ${JSON.stringify(oldName)} and ${
          JSON.stringify(newName)
        } are the same ` +
          `option under its old and new name; pass only ${JSON.stringify(newName)}`,
      );
    }
    const copy: Record<string, unknown> = renamed ?? { ...(options as Record<string, unknown>) };
    copy[newName] = copy[oldName];
    delete copy[oldName];
    renamed = copy;
    const once = `${where}.${oldName}`;
    if (!warnedRenames.has(once)) {
      warnedRenames.add(once);
      console.warn(
        `oak-sessions: ${where} option ${JSON.stringify(oldName)} is now ${
          JSON.stringify(newName)
        }; ` +
          `the old name still works but will be removed in the next major version`,
      );
    }
  }
  return (renamed ?? options) as T;
}
