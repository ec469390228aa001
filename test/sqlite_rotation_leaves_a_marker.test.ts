/**
 * SqliteStore keeps the rotation marker of the store contract on a real
 * database file, with every driver shape the other SqliteStore tests use:
 * this runtime's own driver (better-sqlite3 on Node, node:sqlite on Deno),
 * node:sqlite on Node where it exists, and the x/sqlite 3 and 2 shapes over
 * a real connection (see helpers/sqlite_db.ts).
 */
import { movedMarkerContract } from "./helpers/moved_marker_contract.ts";
import { SqliteStore } from "../src/stores/sqlite.ts";
import type { ServerStore } from "../src/store.ts";
import {
  isDeno,
  nativeDriver,
  openDb,
  type RawDb,
  tempDir,
  xsqliteShape,
} from "./helpers/sqlite_db.ts";

interface Shape {
  name: string;
  open(path: string): Promise<RawDb>;
  wrap(raw: RawDb): RawDb | ReturnType<typeof xsqliteShape>;
}

const shapes: Shape[] = [
  { name: nativeDriver, open: openDb, wrap: (raw) => raw },
  {
    name: `x/sqlite 3 shape over ${nativeDriver}`,
    open: openDb,
    wrap: (raw) => xsqliteShape(raw, 3),
  },
  {
    name: `x/sqlite 2 shape over ${nativeDriver}`,
    open: openDb,
    wrap: (raw) => xsqliteShape(raw, 2),
  },
];

// node:sqlite on Node too, where this Node has it (22.5 and later); on Deno
// it is the native driver above. A variable spec: Node 20's types lack it.
const nodeSqliteSpec = "node:sqlite";
const nodeSqlite = isDeno ? undefined : await import(nodeSqliteSpec).catch(() => undefined);
if (nodeSqlite !== undefined) {
  shapes.push({
    name: "node:sqlite",
    open: (path) => Promise.resolve(new nodeSqlite.DatabaseSync(path) as RawDb),
    wrap: (raw) => raw,
  });
}

for (const shape of shapes) {
  const dir = tempDir();
  let raw: RawDb | undefined;
  movedMarkerContract({
    name: `SqliteStore (${shape.name})`,
    async makeStore() {
      raw = await shape.open(dir.file("markers.db"));
      return new SqliteStore(shape.wrap(raw), "sessions", { cleanupIntervalSeconds: 0 });
    },
    async teardown(store: ServerStore) {
      await store.close?.();
      raw?.close();
      dir.remove();
    },
  });
}
