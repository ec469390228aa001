/**
 * Check 7, leaked ID: a dump of a server-side store holds no usable session.
 * The store's whole content is read from the backend (SQLite: every row, and
 * the database and WAL files byte by byte; Redis: SCAN and HGETALL of every
 * session key; MemoryStore: every record it holds) and searched for every
 * raw session ID the server ever issued. As a control, the dump must hold the
 * SHA-256 keys of IDs still alive, so the search looks where sessions are.
 *
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import type { StoreUnderTest } from "../context.ts";
import { type CheckResult, Figures } from "../result.ts";
import { sessionKey } from "../../src/session_id.ts";

const ID_LENGTH = 43;
const RUN = /[A-Za-z0-9_-]{43,}/g;

/** How many of `ids` occur anywhere in `text` (every 43-character window of every base64url run). */
export function countIdsIn(text: string, ids: Set<string>): number {
  const found = new Set<string>();
  for (const m of text.matchAll(RUN)) {
    const run = m[0];
    for (let i = 0; i + ID_LENGTH <= run.length; i++) {
      const window = run.slice(i, i + ID_LENGTH);
      if (ids.has(window)) found.add(window);
    }
  }
  return found.size;
}

/** Figures of check 7 for one server-side store. */
export async function leakedId(sut: StoreUnderTest): Promise<CheckResult> {
  const started = Date.now();
  const dump = (await sut.client.request("GET", "/__stress/dump")).body;
  const sources = [dump];
  if (sut.sqliteFile) {
    for (const file of [sut.sqliteFile, `${sut.sqliteFile}-wal`]) {
      if (existsSync(file)) sources.push(readFileSync(file).toString("latin1"));
    }
  }
  const keys = new Set<string>();
  for (const id of sut.issuedIds) keys.add(await sessionKey(id));
  let found = 0;
  let bytes = 0;
  let keysPresent = 0;
  for (const text of sources) {
    found += countIdsIn(text, sut.issuedIds);
    bytes += text.length;
  }
  keysPresent = countIdsIn(dump, keys);
  const f = new Figures()
    .set("IDs issued", sut.issuedIds.size)
    .set("bytes searched", bytes)
    .equal("raw IDs found", found, 0)
    .atLeast("hashed keys found (control)", keysPresent, Math.min(1, sut.issuedIds.size))
    .equal("crashed processes", sut.crashes(), 0);
  return f.result(7, "leaked ID", sut.kind, started);
}
