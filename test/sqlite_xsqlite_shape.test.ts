/**
 * The x/sqlite `DB` shape (`query(sql, params)` answering rows as arrays,
 * `execute(sql)`, and in x/sqlite 3 `prepareQuery(sql)`) is driven by a small
 * adapter object over a real SQLite connection (see `xsqliteShape` in
 * helpers/sqlite_db.ts). That shape is the whole contract SqliteStore relies
 * on for x/sqlite, so the store's contract must hold through it.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { SqliteStore } from "../src/stores/sqlite.ts";
import { sqliteContract } from "./helpers/sqlite_contract.ts";
import { nativeDriver, openDb, tempDir, xsqliteShape } from "./helpers/sqlite_db.ts";

for (const version of [3, 2] as const) {
  sqliteContract({
    name: `x/sqlite ${version} shape over ${nativeDriver}`,
    driver: "x/sqlite",
    async open(path) {
      const raw = await openDb(path);
      return { store: new SqliteStore(xsqliteShape(raw, version)), raw };
    },
  });
}

describe("SqliteStore with the x/sqlite shape", () => {
  const dir = tempDir();
  after(() => dir.remove());

  it("finalizes its prepared queries on close, so the user can close the DB", async () => {
    const raw = await openDb(dir.file("finalize.db"));
    const db = xsqliteShape(raw, 3);
    const store = new SqliteStore(db);
    await store.close();
    assert.ok(
      db.prepared >= 9,
      "get, create, touch, write, delete, sweep, begin, commit, rollback",
    );
    assert.equal(db.finalized, db.prepared);
    raw.close();
  });
});
