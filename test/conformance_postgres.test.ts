/**
 * PostgresStore passes the conformance suite on the machine's PostgreSQL
 * (127.0.0.1:5432, database `test`) with each driver: postgres.js, a pg Pool
 * and a pg Client. Each run uses its own table and drops it afterwards.
 */
import { conformance } from "./conformance.ts";
import type { PostgresStore } from "../src/stores/postgres.ts";
import { dropTables, postgresTargets, rawPool, uniqueTable } from "./kit/postgres.ts";

for (const target of postgresTargets) {
  const table = uniqueTable(`conf_${target.name.replace(/\W/g, "")}`);
  let opened: { store: PostgresStore; close: () => Promise<void> } | undefined;
  conformance({
    name: `PostgresStore (${target.name})`,
    async makeStore() {
      opened = await target.open(table);
      await opened.store.initSessionsTable();
      return opened.store;
    },
    async teardown() {
      await opened?.store.close();
      await opened?.close();
      const raw = rawPool();
      await dropTables(raw, table);
      await raw.end();
    },
  });
}
