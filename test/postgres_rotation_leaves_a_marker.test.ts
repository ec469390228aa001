/**
 * PostgresStore keeps the rotation marker of the store contract on the
 * machine's PostgreSQL (127.0.0.1:5432, database `test`), with each driver:
 * postgres.js, a pg Pool and a pg Client. Each run uses its own table and
 * drops it afterwards.
 */
import { movedMarkerContract } from "./helpers/moved_marker_contract.ts";
import type { ServerStore } from "../src/store.ts";
import type { PostgresStore } from "../src/stores/postgres.ts";
import { dropTables, postgresTargets, rawPool, uniqueTable } from "./helpers/postgres_db.ts";

for (const target of postgresTargets) {
  const table = uniqueTable(`marker_${target.name.replace(/\W/g, "")}`);
  let opened: { store: PostgresStore; close: () => Promise<void> } | undefined;
  movedMarkerContract({
    name: `PostgresStore (${target.name})`,
    async makeStore() {
      opened = await target.open(table, { cleanupIntervalSeconds: 0 });
      await opened.store.initSessionsTable();
      return opened.store;
    },
    async teardown(store: ServerStore) {
      await store.close?.();
      await opened?.close();
      const raw = rawPool();
      await dropTables(raw, table);
      await raw.end();
    },
  });
}
