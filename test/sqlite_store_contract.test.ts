/**
 * SqliteStore keeps the store contract on a real database file, with the
 * driver this runtime has: better-sqlite3 on Node, node:sqlite on Deno.
 */
import { SqliteStore } from "../src/stores/sqlite.ts";
import { sqliteContract } from "./helpers/sqlite_contract.ts";
import { nativeDriver, openDb } from "./helpers/sqlite_db.ts";

sqliteContract({
  name: nativeDriver,
  driver: nativeDriver,
  async open(path) {
    const raw = await openDb(path);
    return { store: new SqliteStore(raw), raw };
  },
});
