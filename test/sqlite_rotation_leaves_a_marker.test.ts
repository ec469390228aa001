/**
 * SqliteStore keeps the rotation marker of the store contract on a real
 * database file, with every driver shape the other SqliteStore tests use:
 * this runtime's own driver (better-sqlite3 on Node, node:sqlite on Deno),
 * node:sqlite on Node where it exists, and the x/sqlite 3 and 2 shapes over
 * a real connection (see helpers/sqlite_db.ts). Then what is particular to
 * SQLite: a refresh answers "moved" too, and a marker left through one
 * connection holds for another connection to the same file.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { movedMarkerContract } from "./helpers/moved_marker_contract.ts";
import { SqliteStore } from "../src/stores/sqlite.ts";
import { MOVED_MARKER_MS, type ServerStore, type SessionChange } from "../src/store.ts";
import {
  isDeno,
  nativeDriver,
  openDb,
  type RawDb,
  record,
  tempDir,
  values,
  xsqliteShape,
} from "./helpers/sqlite_db.ts";
import { changeSet } from "./helpers/changes.ts";

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

const T0 = Date.UTC(2030, 0, 1);
const HOUR = 3_600_000;

const change = (partial: Partial<SessionChange> = {}): SessionChange =>
  changeSet(T0 + HOUR, partial);

// What is particular to SQLite: a refresh (one UPDATE, no transaction) tells
// a marker from a missing session too, and a marker left through one
// connection holds for another connection to the same file (another
// process's store, as far as SQLite can tell).
for (const shape of shapes) {
  describe(`SqliteStore: markers across connections to one file (${shape.name})`, () => {
    const dir = tempDir();
    const raws: RawDb[] = [];
    const stores: SqliteStore[] = [];
    let n = 0;
    const key = () => `k-${++n}`;
    after(async () => {
      for (const s of stores) await s.close();
      for (const r of raws) r.close();
      dir.remove();
    });
    async function open(): Promise<SqliteStore> {
      const raw = await shape.open(dir.file("shared.db"));
      raws.push(raw);
      const store = new SqliteStore(shape.wrap(raw), "sessions", { cleanupIntervalSeconds: 0 });
      stores.push(store);
      return store;
    }

    it("a rotation through one connection: the other's refresh, update and rotation answer moved", async () => {
      const [a, b] = [await open(), await open()];
      const [k, moved] = [key(), key()];
      await a.create(k, record({ cart: 1 }, { createdAt: T0, expiresAt: T0 + HOUR }), T0);
      assert.equal(await a.rotate(k, moved, change(), T0 + 5), true);
      assert.equal(await b.update(k, change({ lastSeenAt: T0 + 6 }), T0 + 6), "moved");
      assert.equal(await b.update(k, change({ set: { x: "1" } }), T0 + 6), "moved");
      assert.equal(await b.rotate(k, key(), change(), T0 + 6), "moved");
      const marker = await b.get(k, T0 + 6);
      assert.equal(marker!.movedAt, T0 + 5);
      assert.equal(marker!.expiresAt, T0 + 5 + MOVED_MARKER_MS, "nothing moved its expiry");
      assert.equal(marker!.lastSeenAt, undefined);
      assert.deepEqual(values((await b.get(moved, T0 + 6))!.data), { cart: 1 });
      // A refresh of a session that is gone is still false, not moved.
      assert.equal(await b.update(key(), change(), T0 + 6), false);
      // Expired, the marker is nothing: a refresh finds no session.
      assert.equal(await b.update(k, change(), T0 + 5 + MOVED_MARKER_MS), false);
    });

    it("a rotation to the same key is an update: it leaves no marker in place of the session", async () => {
      const store = await open();
      const k = key();
      await store.create(k, record({ a: 1 }, { createdAt: T0, expiresAt: T0 + HOUR }), T0);
      assert.equal(await store.rotate(k, k, change({ set: { b: "2" } }), T0), true);
      const got = await store.get(k, T0);
      assert.equal(got!.movedAt, undefined);
      assert.deepEqual(values(got!.data), { a: 1, b: 2 });
    });
  });
}
