/**
 * Small helpers for a session record's field maps and for bytes, shared by
 * the core and every store (each had its own copy before).
 *
 * @module
 */
import { emptyFields, type JsonFields, type SessionRecord } from "../../store.ts";

/** Whether `fields` has at least one own enumerable key (without building a key list). */
export function hasFields(fields: Record<string, unknown>): boolean {
  for (const _ in fields) return true;
  return false;
}

/** A copy of `fields` as a new null-prototype map (values are strings: a shallow copy is a full one). */
export function copyFields(fields: JsonFields): JsonFields {
  const out = emptyFields();
  for (const k in fields) out[k] = fields[k];
  return out;
}

/**
 * `value` as a field map when it is a plain object whose every value is a
 * string (what a store wrote), or `null` for anything else: a stored value
 * is read from outside and never trusted.
 */
export function fields(value: unknown): JsonFields | null {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return null;
  const out = emptyFields();
  for (const k of Object.keys(value)) {
    const v = (value as Record<string, unknown>)[k];
    if (typeof v !== "string") return null;
    out[k] = v;
  }
  return out;
}

/**
 * The record in a stored payload `{ v: 1, c, e, d, f }` (created at, expires
 * at or `null` for never, data, flash), without the optional fields each
 * store adds; `null` when it is not one.
 */
export function payloadRecord(p: Record<string, unknown>): SessionRecord | null {
  const expiresAt = p.e === null ? Infinity : p.e;
  if (p.v !== 1 || typeof p.c !== "number" || typeof expiresAt !== "number") return null;
  const data = fields(p.d);
  const flash = fields(p.f);
  if (data === null || flash === null) return null;
  return { data, flash, createdAt: p.c, expiresAt };
}

/** `parts` joined into one new array. */
export function concat(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
