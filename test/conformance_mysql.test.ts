/**
 * MySqlStore passes the conformance suite on the machine's MariaDB
 * (127.0.0.1:3306, database `test`) with each mysql2 shape: a Pool and a
 * Connection, callback and promise API. Each run uses its own table and
 * drops it afterwards. MariaDB down fails the suite (it never skips).
 */
import { conformance } from "./conformance.ts";
import {
  dropTables,
  mysqlTargets,
  type OpenedMySql,
  rawPool,
  requireMariaDb,
  uniqueTable,
} from "./kit/mysql.ts";

for (const target of mysqlTargets) {
  const table = uniqueTable(`conf_${target.name.replace(/\W/g, "")}`);
  let opened: OpenedMySql | undefined;
  conformance({
    name: `MySqlStore (${target.name})`,
    async makeStore() {
      await requireMariaDb();
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
