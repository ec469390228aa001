/**
 * SqliteStore passes the conformance suite on a real database file: with
 * better-sqlite3 on Node, node:sqlite on Deno, and through the x/sqlite shape
 * adapter over the same driver (see helpers/sqlite_db.ts).
 */
import { conformance } from "./conformance.ts";
import { SqliteStore } from "../src/stores/sqlite.ts";
import { nativeDriver, openDb, type RawDb, tempDir, xsqliteShape } from "./helpers/sqlite_db.ts";

for (const shape of ["native", "x/sqlite"] as const) {
  const dir = tempDir();
  let raw: RawDb | undefined;
  let store: SqliteStore | undefined;
  conformance({
    name: shape === "native"
      ? `SqliteStore (${nativeDriver})`
      : `SqliteStore (x/sqlite shape over ${nativeDriver})`,
    async makeStore() {
      raw = await openDb(dir.file("conformance.db"));
      store = new SqliteStore(shape === "native" ? raw : xsqliteShape(raw, 3));
      return store;
    },
    async teardown() {
      await store?.close();
      raw?.close();
      dir.remove();
    },
  });
}
