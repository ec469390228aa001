/**
 * PostgresStore passes the conformance suite over Bun's own PostgreSQL
 * client (`new SQL(url)` from "bun"), on the machine's PostgreSQL
 * (127.0.0.1:5432, database `test`), in a table of its own dropped
 * afterwards. The postgres.js and pg runs are test/conformance_postgres.test.ts,
 * which the Bun stage runs too.
 */
import { conformance } from "../conformance.ts";
import { PostgresStore } from "../../src/stores/postgres.ts";
import { dropTables, POSTGRES_URL, rawPool, uniqueTable } from "../kit/postgres.ts";
import { bun, type BunSql } from "./bun_runtime.ts";

const { SQL } = await bun();

const table = uniqueTable("conf_bunsql");
let sql: BunSql | undefined;
let store: PostgresStore | undefined;
conformance({
  name: "PostgresStore (Bun's SQL)",
  async makeStore() {
    sql = new SQL(POSTGRES_URL, { max: 4 });
    store = new PostgresStore(sql, table);
    await store.initSessionsTable();
    return store;
  },
  async teardown() {
    await store?.close();
    await sql?.close({ timeout: 1 });
    const raw = rawPool();
    await dropTables(raw, table);
    await raw.end();
  },
});
