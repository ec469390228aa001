/**
 * A table of the original oak_sessions SqliteStore (every version to v9:
 * `CREATE TABLE IF NOT EXISTS <name> (id TEXT, data TEXT)`, one JSON
 * document per session under its plain nanoid(21) ID) found under the
 * store's table name is migrated in one transaction: the old table is kept
 * under a backup name with every row, live sessions are carried over under
 * the SHA-256 of their IDs with data and flash converted, expired, deleted
 * and unreadable ones are not, one line says so. A second start does not
 * migrate again; a table of any other unknown shape is still refused.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { SessionConfigError } from "../src/errors.ts";
import { sessionKey } from "../src/session_id.ts";
import { SqliteStore } from "../src/stores/sqlite.ts";
import { openDb, type RawDb, tempDir, values, xsqliteShape } from "./helpers/sqlite_db.ts";
import { createOriginalTable, NOW, ORIGINAL_SESSIONS } from "./helpers/original_sessions.ts";

describe("SqliteStore migrates the original oak_sessions table", () => {
  const dir = tempDir();
  const open: RawDb[] = [];
  after(() => {
    for (const db of open) db.close();
    dir.remove();
  });
  async function fresh(name: string): Promise<RawDb> {
    const db = await openDb(dir.file(`${name}.db`));
    open.push(db);
    return db;
  }

  it("keeps the old table as a backup, carries live sessions over hashed, says so in one line", async () => {
    const db = await fresh("migrate");
    createOriginalTable(db, "sessions");
    const lines: string[] = [];
    const store = new SqliteStore(db, "sessions", { log: (l) => lines.push(l) });
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(lines[0], /kept as "sessions_original_backup"/);
    assert.match(lines[0], /2 live session\(s\) were carried over/);
    assert.match(lines[0], /4 expired, deleted or unreadable/);
    for (const [id] of ORIGINAL_SESSIONS) assert.ok(!lines[0].includes(id), "no ID in the line");

    const backup = db.prepare('SELECT id, data FROM "sessions_original_backup" ORDER BY rowid')
      .all() as Array<{ id: string; data: string }>;
    assert.deepEqual(backup.map((r) => r.id), ORIGINAL_SESSIONS.map(([id]) => id));
    const keys = (db.prepare('SELECT key FROM "sessions"').all() as Array<{ key: string }>)
      .map((r) => r.key).sort();
    assert.deepEqual(
      keys,
      [await sessionKey("V1StGXR8_Z5jdHi6B-myT"), await sessionKey("Uakgb_J5m9g-0JDMbcJqL")].sort(),
      "only the live sessions, under hashes of their IDs",
    );

    const first = await store.get(await sessionKey("V1StGXR8_Z5jdHi6B-myT"), NOW);
    assert.ok(first);
    assert.deepEqual(values(first.data), { userId: 7, cart: [{ sku: "a", qty: 2 }], name: "Zoë" });
    assert.deepEqual(values(first.flash), { notice: "Saved!" });
    assert.equal(first.expiresAt, NOW + 3_600_000);
    assert.ok(Math.abs(first.createdAt - NOW) < 60_000, "created at the migration");
    const second = await store.get(await sessionKey("Uakgb_J5m9g-0JDMbcJqL"), NOW);
    assert.deepEqual(values(second!.data), { count: 3 });
    assert.ok(second!.expiresAt > NOW + 86_000_000, "a session without expiry gets a day");

    // A normal table from now on; a second start migrates nothing.
    const key = await sessionKey("V1StGXR8_Z5jdHi6B-myT");
    const change = { clear: false, set: { more: "1" }, delete: ["cart"], flash: null };
    assert.ok(await store.update(key, { ...change, expiresAt: NOW + 7_200_000 }, NOW));
    const again = new SqliteStore(db, "sessions", { log: (l) => lines.push(l) });
    assert.equal(lines.length, 1);
    assert.deepEqual(Object.keys((await again.get(key, NOW))!.data), ["userId", "name", "more"]);
    await store.close();
    await again.close();
  });

  it("takes a free backup name when the usual one is taken, and honours migratedIdleSeconds", async () => {
    const db = await fresh("taken");
    db.exec('CREATE TABLE "app_sessions_original_backup" (x)');
    createOriginalTable(db, "app_sessions");
    const lines: string[] = [];
    const store = new SqliteStore(db, "app_sessions", {
      log: (l) => lines.push(l),
      migratedIdleSeconds: 60,
    });
    assert.match(lines[0], /kept as "app_sessions_original_backup_2"/);
    const second = await store.get(await sessionKey("Uakgb_J5m9g-0JDMbcJqL"), NOW);
    assert.ok(second!.expiresAt <= Date.now() + 60_000 && second!.expiresAt > NOW);
    await store.close();
  });

  it("migrates through the x/sqlite DB shape the original was given", async () => {
    const db = await fresh("xsqlite");
    createOriginalTable(db, "sessions");
    const lines: string[] = [];
    const store = new SqliteStore(xsqliteShape(db, 3), "sessions", { log: (l) => lines.push(l) });
    assert.match(lines[0], /2 live session\(s\) were carried over/);
    assert.ok(await store.get(await sessionKey("V1StGXR8_Z5jdHi6B-myT"), NOW));
    await store.close();
  });

  it("leaves the table as it was when the migration fails", async () => {
    const db = await fresh("fails");
    createOriginalTable(db, "sessions");
    // A table named like the new table's index makes creating that index
    // fail after the rename and the new table: the whole migration must undo.
    db.exec('CREATE TABLE "sessions_expires_at" (x)');
    assert.throws(() => new SqliteStore(db, "sessions", { log: () => {} }), (e: unknown) => {
      assert.ok(e instanceof SessionConfigError);
      assert.match(e.message, /cannot migrate table "sessions".*left as it was/);
      for (const [id] of ORIGINAL_SESSIONS) assert.ok(!e.message.includes(id));
      return true;
    });
    const rows = db.prepare("SELECT id FROM sessions").all();
    assert.equal(rows.length, ORIGINAL_SESSIONS.length, "every original row still in place");
    const backup = db.prepare(
      "SELECT name FROM sqlite_master WHERE name LIKE 'sessions_original_backup%'",
    ).all();
    assert.deepEqual(backup, [], "no backup left behind");
  });

  it("still refuses a table of another unknown shape with a SessionConfigError", async () => {
    const db = await fresh("unknown");
    for (
      const shape of ["(id TEXT, data TEXT, extra TEXT)", "(id INTEGER, data TEXT)", "(sid, sess)"]
    ) {
      db.exec("DROP TABLE IF EXISTS sessions");
      db.exec(`CREATE TABLE sessions ${shape}`);
      assert.throws(() => new SqliteStore(db, "sessions", { log: () => {} }), (e: unknown) => {
        assert.ok(e instanceof SessionConfigError, String(e));
        assert.match(e.message, /exists but is not a SqliteStore table/);
        return true;
      }, shape);
      const names = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .all() as Array<
          { name: string }
        >;
      assert.deepEqual(names.map((n) => n.name), ["sessions"], "nothing renamed or created");
    }
  });

  it("checks its options", async () => {
    const db = await fresh("options");
    for (const bad of [{ log: "no" }, { migratedIdleSeconds: 0 }, { migratedIdleSeconds: NaN }]) {
      // deno-lint-ignore no-explicit-any
      assert.throws(() => new SqliteStore(db, "s", bad as any), SessionConfigError);
    }
  });
});
