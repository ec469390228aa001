/**
 * fromV9Store's rotation marker over stores written for the original
 * oak_sessions' interface: its own SqliteStore (a real SQLite file) and its
 * own RedisStore (real Redis through node-redis). The store contract's marker
 * tests (test/helpers/moved_marker_contract.ts) run on each; then what is
 * particular to the adapter: the marker is one document of the original's
 * shape, written with `persistSessionData` over the old one, marked
 * `_delete: true` (so the original library, and this adapter before markers,
 * read it as a deleted session), and, as the interface has no TTL, it is
 * removed when it is read after it expired.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createClient } from "redis";
import { emptyFields, MOVED_MARKER_MS, type SessionRecord } from "../src/store.ts";
import type { OriginalSessionData } from "../src/stores/original_session.ts";
import { fromV9Store, type V9Store } from "../src/stores/v9_store.ts";
import { movedMarkerContract } from "./helpers/moved_marker_contract.ts";
import { changeSet } from "./helpers/changes.ts";
import { openDb, type RawDb, tempDir } from "./helpers/sqlite_db.ts";
import { requireSharedRedis, SHARED_REDIS_URL } from "./kit/redis.ts";
import { dropPrefix, uniquePrefix } from "./helpers/redis_targets.ts";
import { V9RedisStore, V9SqliteStore } from "./helpers/v9_stores.ts";

{
  const dir = tempDir();
  let db: RawDb | undefined;
  movedMarkerContract({
    name: "fromV9Store (the original's SqliteStore)",
    async makeStore() {
      db = await openDb(dir.file("v9_marker.db"));
      return fromV9Store(new V9SqliteStore(db, "v9_sessions"));
    },
    teardown() {
      db?.close();
      dir.remove();
    },
  });
}

{
  let client: ReturnType<typeof createClient> | undefined;
  let prefix = "";
  movedMarkerContract({
    name: "fromV9Store (the original's RedisStore)",
    async makeStore() {
      await requireSharedRedis();
      client = createClient({ url: SHARED_REDIS_URL });
      client.on("error", () => {});
      await client.connect();
      prefix = uniquePrefix("marker_v9");
      return fromV9Store(new V9RedisStore(client, prefix));
    },
    async teardown() {
      if (!client) return;
      await dropPrefix(client, prefix);
      await client.close();
    },
  });
}

/** The original's SqliteStore, logging each call of the interface. */
class LoggedStore extends V9SqliteStore {
  calls: string[] = [];
  override getSessionById(id: string): OriginalSessionData | null {
    this.calls.push(`getSessionById ${id}`);
    return super.getSessionById(id);
  }
  override createSession(id: string, data: OriginalSessionData): void {
    this.calls.push(`createSession ${id}`);
    super.createSession(id, data);
  }
  override persistSessionData(id: string, data: OriginalSessionData): void {
    this.calls.push(`persistSessionData ${id}`);
    super.persistSessionData(id, data);
  }
  override deleteSession(id: string): void {
    this.calls.push(`deleteSession ${id}`);
    super.deleteSession(id);
  }
}

describe("fromV9Store: the marker in the original's table", () => {
  const dir = tempDir();
  let db: RawDb;
  let v9: LoggedStore;
  before(async () => {
    db = await openDb(dir.file("v9_marker_raw.db"));
    v9 = new LoggedStore(db, "sessions");
  });
  after(() => {
    db.close();
    dir.remove();
  });

  const rows = (id: string) =>
    (db.prepare("SELECT data FROM sessions WHERE id = ?").all(id) as Array<{ data: string }>)
      .map((r) => JSON.parse(r.data) as Record<string, unknown>);

  function record(now: number): SessionRecord {
    const r: SessionRecord = {
      data: emptyFields(),
      flash: emptyFields(),
      createdAt: now,
      expiresAt: now + 3_600_000,
      userId: "ann",
    };
    r.data.cart = "1";
    return r;
  }

  it("replaces the old document in one persistSessionData, as a deleted document of the original's shape", async () => {
    const now = Date.now();
    const store: V9Store = v9;
    const adapter = fromV9Store(store);
    await adapter.create("old1", record(now), now);
    v9.calls.length = 0;
    assert.equal(await adapter.rotate("old1", "new1", changeSet(now + 3_600_000), now), true);
    assert.deepEqual(v9.calls, [
      "getSessionById old1",
      "createSession new1",
      "getSessionById old1",
      "persistSessionData old1",
    ]);
    const [marker, ...more] = rows("old1");
    assert.equal(more.length, 0);
    assert.deepEqual(marker, {
      _flash: {},
      _accessed: new Date(now).toISOString(),
      _expire: new Date(now + MOVED_MARKER_MS).toISOString(),
      _delete: true,
      _created: new Date(now).toISOString(),
      _oak_sessions: { v: 1, mv: now },
    });
    assert.equal((await adapter.get("old1", now))?.movedAt, now);
  });

  it("an expired marker is removed when it is read", async () => {
    const now = Date.now();
    const adapter = fromV9Store(v9);
    await adapter.create("old2", record(now), now);
    assert.equal(await adapter.rotate("old2", "new2", changeSet(now + 3_600_000), now), true);
    assert.equal(rows("old2").length, 1);
    assert.equal(await adapter.get("old2", now + MOVED_MARKER_MS + 1), null);
    assert.equal(rows("old2").length, 0, "the expired marker is gone from the table");
  });
});
