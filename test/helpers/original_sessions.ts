/**
 * Sessions as the original oak_sessions (v9) wrote them, for the upgrade
 * tests: its documents, its SQLite table, its Redis keys.
 *
 * @module
 */
import type { RawDb } from "./sqlite_db.ts";

/** The time the documents are written relative to. */
export const NOW: number = Date.now();
/** ISO 8601, as the original wrote times. */
export const iso = (ms: number) => new Date(ms).toISOString();

/** Sessions as the original wrote them, IDs from its nanoid(21). */
export const ORIGINAL_SESSIONS: Array<[string, unknown]> = [
  ["V1StGXR8_Z5jdHi6B-myT", {
    _flash: { notice: "Saved!" },
    _accessed: iso(NOW - 1000),
    _expire: iso(NOW + 3_600_000),
    _delete: false,
    userId: 7,
    cart: [{ sku: "a", qty: 2 }],
    name: "Zoë",
  }],
  ["Uakgb_J5m9g-0JDMbcJqL", {
    _flash: {},
    _accessed: iso(NOW - 1000),
    _expire: null,
    _delete: false,
    count: 3,
  }],
  ["expired0expired0expir", {
    _flash: {},
    _accessed: iso(NOW - 7_200_000),
    _expire: iso(NOW - 3_600_000),
    _delete: false,
    userId: 8,
  }],
  ["deleted0deleted0delet", { _flash: {}, _accessed: iso(NOW), _expire: null, _delete: true }],
  ["garbage0garbage0garba", "not json {"],
  ["not an id of any shape", { _flash: {}, _accessed: null, _expire: null, _delete: false }],
];

/** The original's constructor and createSession, as it ran them. */
export function createOriginalTable(db: RawDb, table: string): void {
  db.exec(`CREATE TABLE IF NOT EXISTS ${table} (id TEXT, data TEXT)`);
  const insert = db.prepare(`INSERT INTO ${table} (id, data) VALUES (?, ?)`);
  for (const [id, doc] of ORIGINAL_SESSIONS) {
    insert.run(id, typeof doc === "string" ? doc : JSON.stringify(doc));
  }
}

/** The live sessions among them: ID, user data, flash. */
export const LIVE_SESSIONS: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
  ["V1StGXR8_Z5jdHi6B-myT", { userId: 7, cart: [{ sku: "a", qty: 2 }], name: "Zoë" }, {
    notice: "Saved!",
  }],
  ["Uakgb_J5m9g-0JDMbcJqL", { count: 3 }, {}],
];

/** The original's RedisStore createSession: `SET <prefix><id> <json>`, no TTL. */
export async function writeOriginalRedisKeys(
  set: (key: string, value: string) => Promise<unknown>,
  prefix: string,
): Promise<void> {
  for (const [id, doc] of ORIGINAL_SESSIONS) {
    await set(prefix + id, typeof doc === "string" ? doc : JSON.stringify(doc));
  }
}
