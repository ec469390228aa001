/**
 * MariaDB going away mid-run under MySqlStore (the outage suite of
 * test/kit/sql_outage.ts): 503 while it is away, no crash, no unhandled
 * rejection, no half-written session, recovery of the same pools without a
 * restart, `timeoutMs` bounding a hung database; a Connection that lost its
 * connection says to pass a Pool.
 */
import {
  dropTables,
  mysqlTargets,
  rawPool,
  requireMariaDb,
  startProxy,
  uniqueTable,
} from "./kit/mysql.ts";
import { sqlOutageSuite } from "./kit/sql_outage.ts";

const connection = mysqlTargets.find((t) => t.name === "mysql2/promise Connection")!;

sqlOutageSuite({
  database: "MariaDB",
  table: uniqueTable("outage"),
  async setUp() {
    await requireMariaDb();
    const raw = rawPool();
    return { dropTable: (table) => dropTables(raw, table), end: () => raw.end() };
  },
  startProxy,
  pools: mysqlTargets.filter((t) => t.name.includes("Pool")).map((t) => ({
    name: t.name,
    open: (table, proxy) => t.open(table, { port: proxy.port, timeoutMs: 1500 }),
  })),
  lostConnection: {
    title: "a Connection that lost its connection: a 503 that says to use a Pool, and no crash",
    open: (table, proxy) => connection.open(table, { port: proxy.port, timeoutMs: 1500 }),
    says: /pass a Pool/,
  },
});
