/**
 * PostgreSQL going away mid-run (the outage suite of test/kit/sql_outage.ts):
 * 503 while it is away, no crash, no unhandled rejection, no half-written
 * session, recovery without a restart, `timeoutMs` bounding a hung database;
 * a pg Client that lost its connection says to pass a Pool.
 */
import { dropTables, postgresTargets, rawPool, startProxy, uniqueTable } from "./kit/postgres.ts";
import { sqlOutageSuite } from "./kit/sql_outage.ts";

const client = postgresTargets.find((t) => t.name === "pg Client")!;

sqlOutageSuite({
  database: "PostgreSQL",
  table: uniqueTable("outage"),
  setUp() {
    const raw = rawPool();
    return Promise.resolve({ dropTable: (table) => dropTables(raw, table), end: () => raw.end() });
  },
  startProxy,
  pools: postgresTargets.filter((t) => t !== client).map((t) => ({
    name: t.name,
    open: (table, proxy) => t.open(table, { url: proxy.url, timeoutMs: 1500 }),
  })),
  lostConnection: {
    title: "a pg Client that lost its connection: a 503 that says to use a Pool, and no crash",
    open: (table, proxy) => client.open(table, { url: proxy.url, timeoutMs: 1500 }),
    says: /pass a pg Pool/,
  },
});
