/**
 * Turning a session value into JSON text, refusing what JSON would not give
 * back as it was (so `get` always returns what `set` was given).
 *
 * @module
 */
import { SessionValueError } from "./errors.ts";

/**
 * JSON text of `value`, or a `SessionValueError` naming `key` when JSON
 * cannot carry it faithfully.
 */
export function toJson(key: string, value: unknown): string {
  check(key, value, []);
  return JSON.stringify(value);
}

function fail(key: string, path: string[], what: string, hint: string): never {
  const where = path.length ? ` at ${path.map((p) => `[${JSON.stringify(p)}]`).join("")}` : "";
  throw new SessionValueError(
    key,
    `session value for key ${
      JSON.stringify(key)
    }${where} is ${what}, which JSON cannot store; ${hint}`,
  );
}

function check(key: string, value: unknown, path: string[], ancestors: object[] = []): void {
  switch (typeof value) {
    case "string":
    case "boolean":
      return;
    case "number":
      if (!Number.isFinite(value)) {
        fail(key, path, String(value), "store a finite number or null");
      }
      return;
    case "undefined":
      // Only reachable inside arrays: object members that are undefined are
      // skipped by the caller, like JSON.stringify does, and a top-level
      // undefined means "delete" and never gets here.
      return fail(key, path, "undefined inside an array", "use null");
    case "bigint":
      return fail(key, path, "a BigInt", "store it as a string (value.toString())");
    case "function":
      return fail(key, path, "a function", "store plain data only");
    case "symbol":
      return fail(key, path, "a symbol", "store a string instead");
  }
  if (value === null) return;
  const obj = value as object;
  if (ancestors.includes(obj)) {
    fail(key, path, "a circular reference", "store a tree, not a graph");
  }
  if (Array.isArray(obj)) {
    ancestors.push(obj);
    for (let i = 0; i < obj.length; i++) check(key, obj[i], [...path, String(i)], ancestors);
    ancestors.pop();
    return;
  }
  const proto = Object.getPrototypeOf(obj);
  if (proto !== Object.prototype && proto !== null) {
    const name = (obj as { constructor?: { name?: string } }).constructor?.name ?? "object";
    const hint = obj instanceof Date
      ? "store date.toISOString() or date.getTime()"
      : obj instanceof Map || obj instanceof Set
      ? "store [...value] or Object.fromEntries(value)"
      : "store a plain object or array";
    fail(key, path, `an instance of ${name}`, hint);
  }
  ancestors.push(obj);
  for (const k of Object.keys(obj)) {
    const v = (obj as Record<string, unknown>)[k];
    if (v !== undefined) check(key, v, [...path, k], ancestors);
  }
  ancestors.pop();
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
