/**
 * `rotate(oldKey, newKey, change, now)` on every real server store: it moves a
 * live session (the change applied, createdAt kept, the old key gone), and
 * writes nothing for a session that was deleted or has expired, so a rotating
 * request never brings an ended session back. A write of another key that
 * landed first is kept. Under concurrency with a delete or an update, the
 * outcome is always one of the orders the contract allows.
 *
 * Stores: MemoryStore; SqliteStore (this runtime's driver, a real file);
 * RedisStore over node-redis (RESP3, RESP2) and ioredis, and WebdisStore, on
 * the shared Redis; RedisStore over the cluster clients of node-redis and
 * ioredis on a 3-master Redis Cluster this file starts, with session keys in
 * different slots (the claim-then-create path) and with a `{hash tag}`
 * prefix (one script over both keys).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createCluster } from "redis";
import { Cluster } from "ioredis";
import { MemoryStore } from "../src/stores/memory.ts";
import { SqliteStore } from "../src/stores/sqlite.ts";
import { RedisStore } from "../src/stores/redis.ts";
import { keySlot } from "../src/stores/redis_cluster.ts";
import { RedisSessionLogic } from "../src/stores/redis_logic.ts";
import { RedisReplyError } from "../src/stores/redis_reply.ts";
import {
  emptyFields,
  type JsonFields,
  type ServerStore,
  type SessionChange,
  type SessionRecord,
} from "../src/store.ts";
import { openDb, type RawDb, tempDir } from "./helpers/sqlite_db.ts";
import { dropTables, postgresTargets, rawPool, uniqueTable } from "./kit/postgres.ts";
import { type OwnCluster, startOwnCluster } from "./kit/redis.ts";
import {
  dropPrefix,
  openRedisTargets,
  type RedisTargets,
  uniquePrefix,
} from "./helpers/redis_targets.ts";

function fields(entries: Record<string, unknown>): JsonFields {
  const out = emptyFields();
  for (const [k, v] of Object.entries(entries)) out[k] = JSON.stringify(v);
  return out;
}

function change(partial: Partial<SessionChange> & { expiresAt: number }): SessionChange {
  return { clear: false, set: emptyFields(), delete: [], flash: null, ...partial };
}

function record(data: Record<string, unknown>, createdAt: number, expiresAt: number) {
  return { data: fields(data), flash: emptyFields(), createdAt, expiresAt } as SessionRecord;
}

/** Keys that no other test (or earlier round) uses. */
function freshKey(label: string): string {
  return `${label}-${crypto.randomUUID()}`;
}

/** Plain values of a field map, for deepEqual. */
function plain(f: JsonFields | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k in f) out[k] = JSON.parse(f[k]);
  return out;
}

interface Opened {
  store: ServerStore;
  close(): Promise<void>;
}

/** The properties, for one store. `open` runs in `before()`. */
function rotationProperties(name: string, open: () => Promise<Opened>): void {
  describe(`rotate never resurrects: ${name}`, () => {
    let opened: Opened | undefined;
    let store: ServerStore;
    before(async () => {
      opened = await open();
      store = opened.store;
    });
    after(async () => {
      await opened?.close();
    });

    it("moves a live session: the change applied, createdAt kept, the old key gone", async () => {
      const now = Date.now();
      const oldKey = freshKey("old");
      const newKey = freshKey("new");
      await store.create(oldKey, {
        data: fields({ user: "ann", cart: [1], gone: true }),
        flash: fields({ stale: "flash" }),
        createdAt: now - 5000,
        expiresAt: now + 60_000,
      }, now);
      const moved = await store.rotate(
        oldKey,
        newKey,
        change({
          set: fields({ cart: [1, 2], role: "admin" }),
          delete: ["gone"],
          flash: fields({ notice: "signed in" }),
          expiresAt: now + 120_000,
        }),
        now,
      );
      assert.equal(moved, true);
      assert.equal((await store.get(oldKey, now))?.movedAt, now, "old key holds only a marker");
      const got = await store.get(newKey, now);
      assert.ok(got, "new key holds the session");
      assert.deepEqual(plain(got.data), { user: "ann", cart: [1, 2], role: "admin" });
      assert.deepEqual(plain(got.flash), { notice: "signed in" });
      assert.equal(got.createdAt, now - 5000);
      assert.equal(got.expiresAt, now + 120_000);
      // The new expiry is the one that counts.
      assert.equal(await store.get(newKey, now + 90_000) !== null, true);
      assert.equal(await store.get(newKey, now + 120_000), null);
    });

    it("keeps the stored flash when the change leaves it alone, and clear() empties data first", async () => {
      const now = Date.now();
      const oldKey = freshKey("old");
      const newKey = freshKey("new");
      await store.create(oldKey, {
        data: fields({ a: 1, b: 2 }),
        flash: fields({ keep: "me" }),
        createdAt: now,
        expiresAt: now + 60_000,
      }, now);
      const moved = await store.rotate(
        oldKey,
        newKey,
        change({ clear: true, set: fields({ c: 3 }), expiresAt: now + 60_000 }),
        now,
      );
      assert.equal(moved, true);
      const got = await store.get(newKey, now);
      assert.deepEqual(plain(got?.data), { c: 3 });
      assert.deepEqual(plain(got?.flash), { keep: "me" });
    });

    it("a deleted session (logout, deleteSession(id)) is not moved: false, nothing written", async () => {
      const now = Date.now();
      const oldKey = freshKey("old");
      const newKey = freshKey("new");
      await store.create(oldKey, record({ user: "bob" }, now, now + 60_000), now);
      await store.delete(oldKey);
      const moved = await store.rotate(
        oldKey,
        newKey,
        change({ set: fields({ late: "write" }), expiresAt: now + 60_000 }),
        now,
      );
      assert.equal(moved, false);
      assert.equal(await store.get(newKey, now), null, "new key absent");
      assert.equal(await store.get(oldKey, now), null, "old key still absent");
    });

    it("an expired session is not moved: false, nothing written", async () => {
      const now = Date.now();
      const oldKey = freshKey("old");
      const newKey = freshKey("new");
      await store.create(oldKey, record({ user: "cy" }, now, now + 60_000), now);
      // At the instant of expiry and after it.
      for (const at of [now + 60_000, now + 61_000]) {
        const moved = await store.rotate(
          oldKey,
          newKey,
          change({ expiresAt: at + 60_000 }),
          at,
        );
        assert.equal(moved, false, `at +${at - now} ms`);
        assert.equal(await store.get(newKey, at), null, "new key absent");
      }
      assert.equal(await store.get(newKey, now), null, "not even readable in the past");
    });

    it("a session that never existed is not moved", async () => {
      const now = Date.now();
      const newKey = freshKey("new");
      assert.equal(
        await store.rotate(freshKey("none"), newKey, change({ expiresAt: now + 1000 }), now),
        false,
      );
      assert.equal(await store.get(newKey, now), null);
    });

    it("a write of another key that landed before the rotation is kept", async () => {
      const now = Date.now();
      const oldKey = freshKey("old");
      const newKey = freshKey("new");
      await store.create(oldKey, record({ user: "dee" }, now, now + 60_000), now);
      // Another tab of the same session, after the rotating request loaded it.
      assert.equal(
        await store.update(
          oldKey,
          change({ set: fields({ cart: ["book"] }), expiresAt: now + 60_000 }),
          now,
        ),
        true,
      );
      assert.equal(
        await store.rotate(
          oldKey,
          newKey,
          change({ set: fields({ role: "user" }), expiresAt: now + 60_000 }),
          now,
        ),
        true,
      );
      assert.deepEqual(plain((await store.get(newKey, now))?.data), {
        user: "dee",
        cart: ["book"],
        role: "user",
      });
    });

    it("raced with a delete or a write of another key, every outcome is one the contract allows", async (t) => {
      const rounds = 60;
      let movedCount = 0;
      let keptWrites = 0;
      for (let i = 0; i < rounds; i++) {
        const now = Date.now();
        const oldKey = freshKey(`race${i}`);
        const newKey = freshKey(`race${i}new`);
        await store.create(oldKey, record({ user: "eve" }, now, now + 60_000), now);
        const rotate = () =>
          store.rotate(
            oldKey,
            newKey,
            change({ set: fields({ rotated: true }), expiresAt: now + 60_000 }),
            now,
          );
        const other = () =>
          i % 2 === 0 ? store.delete(oldKey).then(() => "deleted" as const) : store.update(
            oldKey,
            change({ set: fields({ tab: i }), expiresAt: now + 60_000 }),
            now,
          ).then((applied) => (applied === true ? "written" as const : "missed" as const));
        // Either call may be sent first.
        const [moved, what] = i % 4 < 2
          ? await Promise.all([rotate(), other()])
          : await Promise.all([other(), rotate()]).then(([w, m]) => [m, w] as const);
        const after = await store.get(newKey, now);
        // Gone, or (moved, and not deleted after) a marker that opens nothing.
        const old = await store.get(oldKey, now);
        assert.ok(old === null || old.movedAt === now, `round ${i}: the old key holds a session`);
        assert.ok(old === null || Object.keys(old.data).length === 0, `round ${i}: marker data`);
        if (!moved) {
          assert.equal(after, null, `round ${i}: not moved, yet the new key exists`);
          assert.equal(what, "deleted", `round ${i}: only a delete may stop a rotation`);
          continue;
        }
        movedCount++;
        assert.ok(after, `round ${i}: moved, yet the new key is absent`);
        assert.equal(plain(after.data).rotated, true);
        if (what === "written") {
          keptWrites++;
          assert.equal(plain(after.data).tab, i, `round ${i}: an applied write was lost`);
        }
      }
      // Every update round moves (nothing deletes), so at least half the rounds do.
      assert.ok(movedCount >= rounds / 2, `moved ${movedCount} of ${rounds}`);
      t.diagnostic(`moved ${movedCount}, writes applied first and kept ${keptWrites}`);
    });
  });
}

// ---- MemoryStore

rotationProperties(
  "MemoryStore",
  () => Promise.resolve({ store: new MemoryStore(), close: () => Promise.resolve() }),
);
rotationProperties(
  "MemoryStore (maxSessions 5)",
  () =>
    Promise.resolve({ store: new MemoryStore({ maxSessions: 5 }), close: () => Promise.resolve() }),
);

// ---- SqliteStore: a real file, this runtime's driver.

rotationProperties("SqliteStore", async () => {
  const dir = tempDir();
  const db: RawDb = await openDb(dir.file("rotate.db"));
  const store = new SqliteStore(db, `rotate_${crypto.randomUUID().slice(0, 8)}`);
  return {
    store,
    close: async () => {
      await store.close();
      db.close();
      dir.remove();
    },
  };
});

// ---- PostgresStore on the machine's PostgreSQL, with each driver: a table
// of its own, dropped at the end.

for (const target of postgresTargets) {
  rotationProperties(`PostgresStore (${target.name})`, async () => {
    const table = uniqueTable("rotate");
    const { store, close } = await target.open(table);
    await store.initSessionsTable();
    return {
      store,
      close: async () => {
        await store.close();
        await close();
        const raw = rawPool();
        await dropTables(raw, table);
        await raw.end();
      },
    };
  });
}

// ---- The shared Redis (node-redis RESP3 and RESP2, ioredis, Webdis) and a
// 3-master Redis Cluster: each opened once, on first use, closed at the end.

let shared: Promise<RedisTargets> | undefined;
let clusterP: Promise<OwnCluster> | undefined;
const useCluster = () => (clusterP ??= startOwnCluster());
after(async () => {
  await (await shared?.catch(() => undefined))?.close();
  await (await clusterP?.catch(() => undefined))?.dispose();
});

const sharedNames = [
  "RedisStore (node-redis, RESP3)",
  "RedisStore (node-redis, RESP2)",
  "RedisStore (ioredis)",
  "WebdisStore",
];
sharedNames.forEach((name, index) => {
  rotationProperties(name, async () => {
    const t = await (shared ??= openRedisTargets());
    const prefix = uniquePrefix(`rotate${index}`);
    return { store: t.targets[index].store(prefix), close: () => dropPrefix(t.raw, prefix) };
  });
});

for (const prefix of ["session_", "{sessions}_"]) {
  rotationProperties(`RedisStore (node-redis cluster, prefix ${prefix})`, async () => {
    const cluster = await useCluster();
    const client = createCluster({ rootNodes: cluster.urls.map((url) => ({ url })) });
    client.on("error", () => {});
    await client.connect();
    return {
      store: new RedisStore(client, prefix),
      close: () => client.close().catch(() => {}),
    };
  });
  rotationProperties(`RedisStore (ioredis Cluster, prefix ${prefix})`, async () => {
    const cluster = await useCluster();
    const client = new Cluster(cluster.ports.map((port) => ({ host: "127.0.0.1", port })));
    client.on("error", () => {});
    return {
      store: new RedisStore(client, prefix),
      close: () => Promise.resolve(client.disconnect()),
    };
  });
}

describe("rotate on a Redis Cluster, keys in different slots", () => {
  let cluster: OwnCluster;
  let client: Cluster;
  before(async () => {
    cluster = await useCluster();
    client = new Cluster(cluster.ports.map((port) => ({ host: "127.0.0.1", port })));
    client.on("error", () => {});
  });
  after(() => client?.disconnect());

  it("keySlot() agrees with CLUSTER KEYSLOT, hash tags and UTF-8 included", async () => {
    const keys = [
      "",
      "a",
      "session_" + "x".repeat(43),
      "{user1000}.following",
      "{}.empty-tag",
      "a{b}c{d}",
      "{a{b}}",
      "ключ-🔑",
      "{ключ}suffix",
      "}{",
    ];
    for (let i = 0; i < 40; i++) keys.push(`session_${crypto.randomUUID()}`);
    for (const key of keys) {
      const slot = Number(await client.call("CLUSTER", "KEYSLOT", key));
      assert.equal(keySlot(key), slot, JSON.stringify(key));
    }
  });

  it("a failure between claiming the old key and creating the new one loses the session; it never brings it back", async () => {
    const prefix = uniquePrefix("claimfault");
    let failCreate = true;
    // The real cluster client, with an injected fault: the second script call
    // of a rotation (creating the new key) fails as a dropped connection would.
    const logic = new RedisSessionLogic({
      cluster: true,
      async call(_key, args) {
        const script = args[0] === "EVALSHA" || args[0] === "EVAL";
        if (script && failCreate && args.includes("c")) {
          throw new Error("connection lost (injected)");
        }
        try {
          return await client.call(args[0], ...args.slice(1));
        } catch (error) {
          const message = (error as Error).message;
          if (/NOSCRIPT/.test(message)) throw new RedisReplyError(message);
          throw error;
        }
      },
    }, { keyPrefix: prefix, storeName: "RedisStore" });
    const now = Date.now();
    // Keys whose Redis keys are in different slots, so the two-step path runs.
    let oldKey = freshKey("old");
    let newKey = freshKey("new");
    while (keySlot(prefix + oldKey) === keySlot(prefix + newKey)) newKey = freshKey("new");
    failCreate = false;
    await logic.create(oldKey, record({ user: "fay" }, now, now + 60_000), now);
    failCreate = true;
    await assert.rejects(
      logic.rotate(oldKey, newKey, change({ expiresAt: now + 60_000 }), now),
      /connection lost/,
    );
    // Claimed: only the marker of the move is left, which opens nothing.
    const claimed = await logic.get(oldKey, now);
    assert.equal(claimed?.movedAt, now, "the old session was claimed");
    assert.deepEqual(plain(claimed.data), {});
    assert.equal(await logic.get(newKey, now), null, "the new one was never written");
    // Without the fault, the same path moves a session.
    failCreate = false;
    oldKey = freshKey("old2");
    newKey = freshKey("new2");
    while (keySlot(prefix + oldKey) === keySlot(prefix + newKey)) newKey = freshKey("new2");
    await logic.create(oldKey, record({ user: "gus" }, now, now + 60_000), now);
    assert.equal(
      await logic.rotate(
        oldKey,
        newKey,
        change({ set: fields({ r: 1 }), expiresAt: now + 60_000 }),
        now,
      ),
      true,
    );
    assert.deepEqual(plain((await logic.get(newKey, now))?.data), { user: "gus", r: 1 });
    assert.equal((await logic.get(oldKey, now))?.movedAt, now);
    for (const key of [oldKey, newKey]) await client.del(prefix + key);
  });
});
