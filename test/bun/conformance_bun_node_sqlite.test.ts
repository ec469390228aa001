/**
 * SqliteStore passes the conformance suite on Bun over `node:sqlite`'s
 * `DatabaseSync`, which Bun provides as well as its own `bun:sqlite` (the
 * driver test/conformance_sqlite.test.ts uses on Bun), on a real file.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { conformance } from "../conformance.ts";
import { SqliteStore } from "../../src/stores/sqlite.ts";
import type { SqliteDatabase } from "../../src/stores/sqlite_drivers.ts";
import { bun } from "./bun_runtime.ts";

await bun();
// A specifier tsc does not resolve: Node 20's types have no node:sqlite.
const specifier = "node:sqlite";
const { DatabaseSync } = await import(specifier) as {
  DatabaseSync: new (path: string) => SqliteDatabase & { close(): void };
};

const dir = mkdtempSync(join(tmpdir(), "oak-sessions-bun-node-sqlite-"));
let db: (SqliteDatabase & { close(): void }) | undefined;
let store: SqliteStore | undefined;
conformance({
  name: "SqliteStore (node:sqlite on Bun)",
  makeStore() {
    db = new DatabaseSync(join(dir, "conformance.db"));
    store = new SqliteStore(db);
    if (store.driver !== "node:sqlite") throw new Error(`driver ${store.driver}, not node:sqlite`);
    return store;
  },
  async teardown() {
    await store?.close();
    db?.close();
    rmSync(dir, { recursive: true, force: true });
  },
});
