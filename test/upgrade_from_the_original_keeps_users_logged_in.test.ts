/**
 * Upgrading from the original oak_sessions keeps its users logged in. The
 * stores hold live sessions exactly as the original (v9) wrote them: its
 * SQLite table, its Redis keys, and a user's own store of its interface.
 * Our middleware starts on a real Oak server over each, and a browser that
 * still holds the original's cookie (its nanoid(21) ID) finds its data and
 * its flash value, gets an ID of ours on that first request (the old one then
 * opens nothing), keeps working with it, and can log out. Expired
 * and deleted sessions stay gone; the SQLite backup table exists; a table of
 * an unknown shape still stops the app at start.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Application } from "@oakserver/oak";
import { createClient } from "redis";
import { Session } from "../src/session.ts";
import { SessionConfigError } from "../src/errors.ts";
import type { SessionStore } from "../src/store.ts";
import { RedisStore } from "../src/stores/redis.ts";
import { SqliteStore } from "../src/stores/sqlite.ts";
import { fromV9Store } from "../src/stores/v9_store.ts";
import { CookieClient } from "./kit/http_client.ts";
import { serve } from "./kit/oak_server.ts";
import { requireSharedRedis, SHARED_REDIS_URL } from "./kit/redis.ts";
import {
  createOriginalTable,
  LIVE_SESSIONS,
  ORIGINAL_SESSIONS,
  writeOriginalRedisKeys,
} from "./helpers/original_sessions.ts";
import { dropPrefix, uniquePrefix } from "./helpers/redis_targets.ts";
import { openDb, type RawDb, tempDir } from "./helpers/sqlite_db.ts";
import { V9SqliteStore } from "./helpers/v9_stores.ts";

/** The app of an upgraded user: the original's own API, `Session.initMiddleware(store)`. */
function app(store: SessionStore): Application {
  const a = new Application({ logErrors: false });
  a.use(Session.initMiddleware(store, { expireAfterSeconds: 3600 }));
  a.use(async (ctx) => {
    const session = ctx.state.session;
    switch (ctx.request.url.pathname) {
      case "/me":
        ctx.response.body = {
          userId: await session.get("userId"),
          count: await session.get("count"),
          name: await session.get("name"),
          notice: await session.get("notice") ?? null,
        };
        return;
      case "/visit":
        await session.set("count", ((await session.get("count")) ?? 0) + 1);
        ctx.response.body = { count: await session.get("count") };
        return;
      case "/logout":
        await session.deleteSession();
        ctx.response.body = "bye";
        return;
    }
  });
  return a;
}

/** A browser still holding the original's session cookie. */
function browser(url: string, id: string): CookieClient {
  const c = new CookieClient(url);
  c.cookies.set("session", id);
  return c;
}

/** The users of the original are logged in on `store`, with data and flash. */
async function assertUpgraded(store: SessionStore): Promise<void> {
  const server = await serve(app(store));
  try {
    const [[first, data, flash], [second]] = LIVE_SESSIONS;
    const ann = browser(server.url, first);
    const me = await ann.get("/me");
    assert.equal(me.status, 200);
    assert.deepEqual(me.json(), { userId: data.userId, name: data.name, notice: flash.notice });
    // The carried-over session moves to an ID of ours on that first request,
    // as a rotation: the browser gets the new cookie, the old ID opens nothing.
    const moved = ann.cookies.get("session");
    assert.ok(moved !== undefined && moved !== first && moved.length === 43, String(moved));
    assert.deepEqual((await browser(server.url, first).get("/me")).json(), { notice: null });
    // The flash was consumed by that read; the data stays.
    assert.deepEqual((await ann.get("/me")).json(), {
      userId: data.userId,
      name: data.name,
      notice: null,
    });
    const bob = browser(server.url, second);
    assert.deepEqual((await bob.get("/visit")).json(), { count: 4 }, "count 3 carried over");
    assert.deepEqual((await bob.get("/visit")).json(), { count: 5 });
    // Sessions the original had expired or deleted stay gone.
    for (const [id] of ORIGINAL_SESSIONS.slice(2)) {
      const stranger = browser(server.url, id);
      assert.deepEqual((await stranger.get("/me")).json(), { notice: null }, id);
    }
    // Logging out works on a carried-over session, and the old cookie is dead after it.
    assert.equal((await ann.get("/logout")).text, "bye");
    assert.deepEqual((await browser(server.url, first).get("/me")).json(), { notice: null });
  } finally {
    server.close();
  }
}

describe("upgrading from the original oak_sessions keeps users logged in", () => {
  const dir = tempDir();
  const dbs: RawDb[] = [];
  let redis: ReturnType<typeof createClient>;
  const prefixes: string[] = [];
  before(async () => {
    await requireSharedRedis();
    redis = createClient({ url: SHARED_REDIS_URL });
    redis.on("error", () => {});
    await redis.connect();
  });
  after(async () => {
    for (const db of dbs) db.close();
    dir.remove();
    for (const p of prefixes) await dropPrefix(redis, p);
    await redis.close();
  });

  it("SqliteStore on the original's table: migrated at start, backup kept", async () => {
    const path = dir.file("upgrade.db");
    const before = await openDb(path);
    createOriginalTable(before, "sessions"); // what the original left in the file
    before.close();
    const db = await openDb(path); // the upgraded app opens the same file
    dbs.push(db);
    const lines: string[] = [];
    await assertUpgraded(new SqliteStore(db, "sessions", { log: (l) => lines.push(l) }));
    assert.equal(lines.length, 1);
    const backup = db.prepare('SELECT count(*) AS n FROM "sessions_original_backup"').get() as {
      n: number;
    };
    assert.equal(Number(backup.n), ORIGINAL_SESSIONS.length, "the backup table holds every row");
  });

  it("SqliteStore on a table of an unknown shape still stops the app at start", async () => {
    const db = await openDb(dir.file("unknown.db"));
    dbs.push(db);
    db.exec("CREATE TABLE sessions (sid TEXT PRIMARY KEY, sess TEXT, expire INTEGER)");
    assert.throws(() => new SqliteStore(db, "sessions"), SessionConfigError);
  });

  it("RedisStore with originalKeyPrefix on the original's keys", async () => {
    const original = uniquePrefix("upgrade_v9");
    const ours = uniquePrefix("upgrade_ours");
    prefixes.push(original, ours);
    await writeOriginalRedisKeys((k, v) => redis.set(k, v), original);
    const lines: string[] = [];
    await assertUpgraded(
      new RedisStore(redis, {
        keyPrefix: ours,
        originalKeyPrefix: original,
        log: (l) => lines.push(l),
      }),
    );
    assert.match(lines[0], /converted 2 session\(s\)/);
  });

  it("a user's own store of the original's interface, through fromV9Store and carryOver", async () => {
    const db = await openDb(dir.file("own.db"));
    dbs.push(db);
    createOriginalTable(db, "my_sessions");
    const store = fromV9Store(new V9SqliteStore(db, "my_sessions"));
    // The user lists the IDs from their own backend; the interface cannot.
    const ids = (db.prepare("SELECT id FROM my_sessions").all() as Array<{ id: string }>)
      .map((r) => r.id);
    // The garbage row makes the original's getSessionById throw: counted, left as it was.
    assert.deepEqual(await store.carryOver(ids), { moved: 2, failed: 1 });
    await assertUpgraded(store);
  });
});
