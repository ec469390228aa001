/**
 * MySqlStore refuses what a programmer got wrong with a `SessionConfigError`
 * that says what to do, before any SQL runs: a table name that is not an
 * identifier (nothing that needs quoting reaches a statement), a bad option,
 * a misspelt option, something that is not a mysql2 Pool or Connection, a
 * promise of one, a connection checked out of a pool, an ended pool. On the
 * machine's MariaDB: a pool with no database selected, and an existing table
 * of another shape (left untouched).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import mysql from "mysql2";
import mysqlPromise from "mysql2/promise";
import { SessionConfigError } from "../src/errors.ts";
import { MySqlStore } from "../src/stores/mysql.ts";
import { dropTables, MYSQL, rawPool, requireMariaDb, uniqueTable } from "./kit/mysql.ts";

function refused(make: () => unknown, message: RegExp): void {
  assert.throws(make, (e: unknown) => {
    assert.ok(e instanceof SessionConfigError, `a SessionConfigError, got ${e}`);
    assert.match((e as Error).message, message);
    return true;
  });
}

describe("MySqlStore: bad input is a clear SessionConfigError", () => {
  let pool: mysqlPromise.Pool;
  before(async () => {
    await requireMariaDb();
    pool = rawPool();
  });
  after(() => pool.end());

  it("refuses table names that are not identifiers, in either argument form", () => {
    for (
      const name of [
        "",
        "a b",
        "1abc",
        "sessions; DROP TABLE x",
        "t`x",
        't"x',
        "séssions",
        "a".repeat(65),
      ]
    ) {
      refused(() => new MySqlStore(pool, name), /is not an identifier; use 1 to 64 letters/);
      refused(() => new MySqlStore(pool, { table: name }), /is not an identifier/);
    }
    refused(() => new MySqlStore(pool, 42 as unknown as string), /must be a string/);
    assert.equal(new MySqlStore(pool, "a".repeat(64)).tableName, "a".repeat(64));
    assert.equal(new MySqlStore(pool).tableName, "sessions");
  });

  it("refuses bad and misspelt options, and a table named twice", () => {
    refused(() => new MySqlStore(pool, { timeoutMs: 0 }), /timeoutMs must be a whole number/);
    refused(
      () => new MySqlStore(pool, "t", { cleanupIntervalSeconds: -1 }),
      /cleanupIntervalSeconds must be a number/,
    );
    refused(
      () => new MySqlStore(pool, { log: "yes" as unknown as () => void }),
      /log must be a function/,
    );
    refused(() => new MySqlStore(pool, { timeoutMS: 5 } as never), /did you mean "timeoutMs"/);
    refused(() => new MySqlStore(pool, "t", { table: "u" }), /given twice/);
    refused(() => new MySqlStore(pool, { table: "t" }, {}), /options given twice/);
  });

  it("refuses what is not a mysql2 Pool or Connection, saying what to pass", async () => {
    refused(() => new MySqlStore(null as never), /no database driver given; pass a mysql2 Pool/);
    refused(() => new MySqlStore({} as never), /an object is not a supported driver/);
    refused(() => new MySqlStore((() => {}) as never), /a function is not a supported driver/);
    const pending = mysqlPromise.createConnection(MYSQL);
    refused(() => new MySqlStore(pending as never), /got a promise, not a driver; await it/);
    await (await pending).end();
    const checkedOut = await pool.getConnection();
    refused(() => new MySqlStore(checkedOut as never), /checked out of a mysql2 Pool/);
    checkedOut.release();
    const ended = mysql.createPool(MYSQL);
    await new Promise((resolve) => ended.end(resolve));
    refused(() => new MySqlStore(ended), /the mysql2 Pool was ended/);
  });

  it("a pool without a database is refused when the table is set up", async () => {
    const { database: _, ...noDatabase } = MYSQL;
    const bare = mysqlPromise.createPool(noDatabase);
    try {
      const store = new MySqlStore(bare, uniqueTable("nodb"));
      await assert.rejects(store.initSessionsTable(), (e: unknown) => {
        assert.ok(e instanceof SessionConfigError);
        assert.match((e as Error).message, /no database selected; give the pool a database/);
        return true;
      });
    } finally {
      await bare.end();
    }
  });

  it("a table of another shape is refused and left as it was", async () => {
    const table = uniqueTable("other");
    await pool.query(`CREATE TABLE \`${table}\` (id INT PRIMARY KEY, body TEXT)`);
    await pool.query(`INSERT INTO \`${table}\` VALUES (1, 'kept')`);
    try {
      const store = new MySqlStore(pool, table);
      await assert.rejects(store.initSessionsTable(), (e: unknown) => {
        assert.ok(e instanceof SessionConfigError);
        assert.match((e as Error).message, /is not a MySqlStore table.*Choose another table name/);
        return true;
      });
      const [rows] = await pool.query(`SELECT body FROM \`${table}\``);
      assert.deepEqual(rows, [{ body: "kept" }]);
    } finally {
      await dropTables(pool, table);
    }
  });
});
