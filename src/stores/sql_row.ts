/**
 * A session row of the SQL stores (SqliteStore, PostgresStore) as a record:
 * both keep `data` and `flash` as JSON objects of key -> JSON text, and the
 * two times in milliseconds.
 *
 * @module
 */
import { emptyFields, type JsonFields, type SessionRecord } from "../store.ts";

/**
 * A row `[data, flash, createdAt, expiresAt]` as the session it holds, or
 * `null` when any part of it is unreadable (a row edited by hand reads as no
 * session). The expiry is checked here too: a non-numeric `expires_at`
 * written by hand can pass SQL's `expires_at > ?`.
 */
export function decodeRow(row: unknown[], now: number): SessionRecord | null {
  const data = decodeFields(row[0]);
  const flash = decodeFields(row[1]);
  const createdAt = row[2];
  const expiresAt = row[3];
  if (!data || !flash || !isTime(createdAt) || !isTime(expiresAt) || expiresAt <= now) {
    return null;
  }
  return { data, flash, createdAt, expiresAt };
}

function isTime(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

function decodeFields(text: unknown): JsonFields | null {
  if (typeof text !== "string") return null;
  const fields = emptyFields();
  if (text === "{}") return fields;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return null;
  for (const k of Object.keys(parsed)) {
    const v = (parsed as Record<string, unknown>)[k];
    if (typeof v !== "string") return null;
    fields[k] = v;
  }
  return fields;
}
