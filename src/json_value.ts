/**
 * Turning a session value into JSON text, refusing what JSON would not give
 * back as it was (so `get` always returns what `set` was given).
 *
 * @module
 */
import { SessionValueError } from "./errors.ts";

/**
 * How deeply objects and arrays may nest in one session value (`[[1]]` nests
 * 2 deep). `set` and `flash` refuse deeper values with a `SessionValueError`:
 * real session data is never near it, and the check (like `JSON.stringify`
 * and `JSON.parse` after it) recurses once per level, so an unbounded depth
 * would end in a stack overflow instead of a clear error.
 */
export const MAX_VALUE_DEPTH = 1000;

/**
 * JSON text of `value`, or a `SessionValueError` naming `key` when JSON
 * cannot carry it faithfully or it nests deeper than `MAX_VALUE_DEPTH`.
 */
export function toJson(key: string, value: unknown): string {
  checkJsonValue(key, value);
  return JSON.stringify(value);
}

/**
 * Throws the `SessionValueError` `toJson` would throw for `value`, without
 * serialising it.
 */
export function checkJsonValue(key: string, value: unknown): void {
  // Most session values are a string, a boolean or a number: nothing to walk,
  // and no walk state to allocate on every set().
  switch (typeof value) {
    case "string":
    case "boolean":
      return;
    case "number":
      if (Number.isFinite(value)) return;
      break;
    case "object":
      if (value === null) return;
  }
  walk(value, 0, { key, open: [], path: [], forks: [], forkCount: 0, moreForks: undefined });
}

// One walk over the value, linear in its size. `open[d]` is the container
// entered at depth d and `path[d]` the step taken from it: shared stacks,
// overwritten in place and turned into text only when failing.
//
// Circular references: a cycle never ends, so the depth limit always stops
// it; the only cost to bound is a cycle revisiting big siblings on every lap
// before it gets that deep. Only a container with two or more container
// members has such siblings, so only those are remembered, as forks, when
// the walk reaches their second container member: a lap back to one of them
// is caught there, having repeated at most its first sibling once. Other
// containers cost nothing more; the forks on a path are few in real data,
// so the first FORKS_SCANNED are scanned in an array (cheaper than a Set),
// and only further ones go into a Set. This keeps the walk about as fast as
// `JSON.stringify` on deep and on wide values.
interface Walk {
  readonly key: string;
  readonly open: object[];
  readonly path: Array<string | number>;
  /** The first forks of the current path (from its root), at most FORKS_SCANNED. */
  readonly forks: object[];
  /** How many of `forks` are on the current path. */
  forkCount: number;
  /** Forks of the current path beyond the first FORKS_SCANNED (made when first needed). */
  moreForks: Set<object> | undefined;
}

const FORKS_SCANNED = 32;

function walk(value: unknown, depth: number, w: Walk): void {
  switch (typeof value) {
    case "string":
    case "boolean":
      return;
    case "number":
      if (!Number.isFinite(value)) refuse(w, depth, String(value), "store a finite number or null");
      return;
    case "undefined":
      // Only reachable inside arrays: object members that are undefined are
      // skipped, like JSON.stringify does, and a top-level undefined means
      // "delete" and never gets here.
      return refuse(w, depth, "undefined inside an array", "use null");
    case "bigint":
      return refuse(w, depth, "a BigInt", "store it as a string (value.toString())");
    case "function":
      return refuse(w, depth, "a function", "store plain data only");
    case "symbol":
      return refuse(w, depth, "a symbol", "store a string instead");
  }
  if (value === null) return;
  const obj = value as object;
  if (depth >= MAX_VALUE_DEPTH) {
    circular(w, depth, obj);
    fail(
      w,
      depth,
      `nests objects and arrays more than ${MAX_VALUE_DEPTH} deep, the limit of a session value`,
      "store flatter data",
    );
  }
  w.open[depth] = obj;
  let containers = 0;
  if (Array.isArray(obj)) {
    for (let i = 0; i < obj.length; i++) {
      const member: unknown = obj[i];
      if (typeof member === "object" && member !== null && ++containers === 2) {
        branch(w, depth, obj);
      }
      w.path[depth] = i;
      walk(member, depth + 1, w);
    }
  } else {
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      const name = (obj as { constructor?: { name?: string } }).constructor?.name ?? "object";
      const hint = obj instanceof Date
        ? "store date.toISOString() or date.getTime()"
        : obj instanceof Map || obj instanceof Set
        ? "store [...value] or Object.fromEntries(value)"
        : "store a plain object or array";
      refuse(w, depth, `an instance of ${name}`, hint);
    }
    // `for in` with `hasOwn` visits what Object.keys lists (own enumerable
    // string keys, in the same order) without building an array of them.
    const record = obj as Record<string, unknown>;
    for (const k in record) {
      if (!Object.hasOwn(record, k)) continue;
      const member = record[k];
      if (member === undefined) continue;
      if (typeof member === "object" && member !== null && ++containers === 2) {
        branch(w, depth, obj);
      }
      w.path[depth] = k;
      walk(member, depth + 1, w);
    }
  }
  if (containers >= 2) {
    // Forks close in the reverse order they opened: the latest is last.
    if (w.moreForks !== undefined && w.moreForks.size > 0) w.moreForks.delete(obj);
    else w.forkCount--;
  }
}

// `obj`, at `depth`, is about to descend into its second container member.
function branch(w: Walk, depth: number, obj: object): void {
  const forks = w.forks;
  const count = w.forkCount;
  for (let i = 0; i < count; i++) if (forks[i] === obj) circular(w, depth, obj);
  if (count < FORKS_SCANNED) {
    forks[count] = obj;
    w.forkCount = count + 1;
  } else {
    const more = w.moreForks ??= new Set();
    if (more.has(obj)) circular(w, depth, obj);
    more.add(obj);
  }
}

// Fails as circular when a container on the current path is its own
// ancestor, naming the path where the cycle first closes.
function circular(w: Walk, depth: number, obj: object): void {
  const seen = new Set<object>();
  for (let d = 0; d <= depth; d++) {
    const o = d === depth ? obj : w.open[d];
    if (seen.has(o)) {
      fail(w, d, "is a circular reference, which JSON cannot store", "store a tree, not a graph");
    }
    seen.add(o);
  }
}

function refuse(w: Walk, depth: number, what: string, hint: string): never {
  fail(w, depth, `is ${what}, which JSON cannot store`, hint);
}

function fail(w: Walk, depth: number, clause: string, hint: string): never {
  throw new SessionValueError(
    w.key,
    `session value for key ${JSON.stringify(w.key)}${where(w.path, depth)} ${clause}; ${hint}`,
  );
}

// The first `depth` steps of the path as `["items"]["0"]["added"]`; a very
// deep one keeps its first and last steps, so the message stays readable.
function where(path: ReadonlyArray<string | number>, depth: number): string {
  if (depth === 0) return "";
  const step = (d: number) => `[${JSON.stringify(String(path[d]))}]`;
  const steps = (from: number, to: number) => {
    let text = "";
    for (let d = from; d < to; d++) text += step(d);
    return text;
  };
  return depth <= 12
    ? ` at ${steps(0, depth)}`
    : ` at ${steps(0, 6)}…(${depth - 9} more)…${steps(depth - 3, depth)}`;
}

/**
 * The value in `text`, or `undefined` when the text is not JSON (a store row
 * damaged by hand reads as absent, never as an exception).
 */
export function fromJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
