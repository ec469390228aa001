/**
 * Sessions carried over from the original oak_sessions obey the app's own
 * timeouts, counted from their `_accessed` time, whatever `_expire` the
 * original gave them. Over HTTP, on a real Oak server, for each way a
 * session of the original reaches this library: SqliteStore's migration of
 * the original's table, RedisStore's conversion of the original's keys, and
 * fromV9Store's carryOver over the original's own SqliteStore.
 *
 * Every original session here expires a year from now. Under
 * `expireAfterSeconds: 60`, one last accessed a week ago does not open; one
 * accessed 10 s ago does, with its data. The boundary is `_accessed + 60 s`,
 * not 60 s from the upgrade: real time cannot be fast-forwarded past the
 * limit within a test, so the app runs on a controlled clock (the
 * middleware's `now` option) set 45 s and 55 s past the planting, where one
 * session accessed 10 s before the planting still opens (55 s idle) and
 * another does not (65 s idle). The absolute limit counts from `_accessed`
 * too (the original kept no creation time): under `absoluteTimeoutSeconds:
 * 60` with a long idle limit, a session accessed 10 s before the planting
 * does not open 55 s after it.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Application } from "@oakserver/oak";
import { createClient } from "redis";
import { Session } from "../src/session.ts";
import type { SessionStore } from "../src/store.ts";
import { RedisStore } from "../src/stores/redis.ts";
import { SqliteStore } from "../src/stores/sqlite.ts";
import { fromV9Store } from "../src/stores/v9_store.ts";
import { CookieClient } from "./kit/http_client.ts";
import { serve } from "./kit/oak_server.ts";
import { requireSharedRedis, SHARED_REDIS_URL } from "./kit/redis.ts";
import { dropPrefix, uniquePrefix } from "./helpers/redis_targets.ts";
import { openDb, type RawDb, tempDir } from "./helpers/sqlite_db.ts";
import { V9SqliteStore } from "./helpers/v9_stores.ts";

const SECOND = 1000;
const DAY = 86_400 * SECOND;

/** An ID of the original's nanoid(21) alphabet. */
function originalId(): string {
  return randomBytes(16).toString("base64url").slice(0, 21);
}

/** The original sessions one backend is given (their IDs), all expiring a year after `at`. */
interface Planted {
  /** When they were written. */
  at: number;
  /** Accessed a week before `at`. */
  idleAWeek: string;
  /** Accessed 10 s before `at`. */
  fresh: string;
  /** Accessed 10 s before `at`: for the controlled clock, 45 s and 55 s later. */
  idleIn: string;
  idleOut: string;
  /** Accessed 10 s before `at`: for the absolute limit, 55 s later. */
  absoluteOut: string;
  /** id to document (JSON text). */
  documents: Array<[string, string]>;
}

function plant(): Planted {
  const at = Date.now();
  const p = {
    at,
    idleAWeek: originalId(),
    fresh: originalId(),
    idleIn: originalId(),
    idleOut: originalId(),
    absoluteOut: originalId(),
  };
  const doc = (name: string, accessedAgo: number) =>
    JSON.stringify({
      _flash: {},
      _accessed: new Date(at - accessedAgo).toISOString(),
      _expire: new Date(at + 365 * DAY).toISOString(),
      _delete: false,
      name,
    });
  return {
    ...p,
    documents: [
      [p.idleAWeek, doc("idle a week", 7 * DAY)],
      [p.fresh, doc("fresh", 10 * SECOND)],
      [p.idleIn, doc("idle 55 s", 10 * SECOND)],
      [p.idleOut, doc("idle 65 s", 10 * SECOND)],
      [p.absoluteOut, doc("65 s old", 10 * SECOND)],
    ],
  };
}

/** An app on `store` whose clock reads `clock.now`. */
function app(
  store: SessionStore,
  clock: { now: number },
  limits: { expireAfterSeconds: number; absoluteTimeoutSeconds?: number },
): Application {
  const a = new Application({ logErrors: false });
  a.use(Session.initMiddleware(store, { ...limits, now: () => clock.now }));
  a.use(async (ctx) => {
    ctx.response.body = { name: (await ctx.state.session.get("name")) ?? null };
  });
  return a;
}

/** What `/` shows the browser holding the original's cookie `id`, with the clock at `at`. */
async function nameSeen(url: string, clock: { now: number }, at: number, id: string) {
  clock.now = at;
  const browser = new CookieClient(url);
  browser.cookies.set("session", id);
  const reply = await browser.get("/");
  assert.equal(reply.status, 200);
  return (reply.json() as { name: unknown }).name;
}

/** The app's timeouts hold for the sessions in `planted`, carried over into `store`. */
async function assertTimeoutsHold(store: SessionStore, planted: Planted): Promise<void> {
  const clock = { now: planted.at };
  const idle = await serve(app(store, clock, { expireAfterSeconds: 60 }));
  const absolute = await serve(
    app(store, clock, { expireAfterSeconds: 3600, absoluteTimeoutSeconds: 60 }),
  );
  try {
    const { at } = planted;
    assert.equal(await nameSeen(idle.url, clock, at, planted.idleAWeek), null, "idle a week");
    assert.equal(await nameSeen(idle.url, clock, at, planted.fresh), "fresh");
    assert.equal(await nameSeen(idle.url, clock, at + 45 * SECOND, planted.idleIn), "idle 55 s");
    assert.equal(await nameSeen(idle.url, clock, at + 55 * SECOND, planted.idleOut), null);
    assert.equal(
      await nameSeen(absolute.url, clock, at + 55 * SECOND, planted.absoluteOut),
      null,
      "the absolute limit counts from _accessed",
    );
  } finally {
    idle.close();
    absolute.close();
  }
}

describe("sessions carried over from the original obey the app's timeouts from _accessed", () => {
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

  it("SqliteStore's migration of the original's table", async () => {
    const planted = plant();
    const db = await openDb(dir.file("timeouts.db"));
    dbs.push(db);
    db.exec("CREATE TABLE sessions (id TEXT, data TEXT)");
    const insert = db.prepare("INSERT INTO sessions (id, data) VALUES (?, ?)");
    for (const [id, doc] of planted.documents) insert.run(id, doc);
    await assertTimeoutsHold(new SqliteStore(db, "sessions", { log: () => {} }), planted);
  });

  it("RedisStore's conversion of the original's keys", async () => {
    const planted = plant();
    const original = uniquePrefix("timeouts_v9");
    const ours = uniquePrefix("timeouts_ours");
    prefixes.push(original, ours);
    for (const [id, doc] of planted.documents) await redis.set(original + id, doc);
    const lines: string[] = [];
    const store = new RedisStore(redis, {
      keyPrefix: ours,
      originalKeyPrefix: original,
      log: (l) => lines.push(l),
    });
    await assertTimeoutsHold(store, planted);
    assert.match(lines[0], /converted 5 session\(s\)/);
  });

  it("fromV9Store's carryOver over the original's own store", async () => {
    const planted = plant();
    const db = await openDb(dir.file("timeouts_v9.db"));
    dbs.push(db);
    const v9 = new V9SqliteStore(db, "sessions");
    for (const [id, doc] of planted.documents) v9.createSession(id, JSON.parse(doc));
    const store = fromV9Store(v9);
    const ids = planted.documents.map(([id]) => id);
    assert.deepEqual(await store.carryOver(ids, planted.at), { moved: 5, failed: 0 });
    await assertTimeoutsHold(store, planted);
  });
});
