/**
 * The Webdis configuration the README recommends, tested as written:
 * Webdis's ACL lets the app's basic-auth user send only `HGETALL`,
 * `EVALSHA`, `EVAL` and `DEL`, and the Redis user Webdis connects as may
 * touch only keys under the session prefix, with only the commands the
 * session script runs. With it, the store does everything it needs
 * (create, read, update, rotate, delete, and the EVAL fallback after Redis
 * lost its scripts), while an `EVAL` of the app's user that reaches outside
 * the prefix, or runs any other command, is refused by Redis.
 *
 * Without the Redis ACL, the same `EVAL` can run any command on any key:
 * the last test shows it, which is why the README says so. Each runs
 * against its own redis-server and Webdis.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { SessionStoreError } from "../src/errors.ts";
import { WebdisStore } from "../src/stores/webdis.ts";
import { type OwnRedis, startOwnRedis } from "./kit/redis.ts";
import { type OwnWebdis, startWebdis, WEBDIS_TRANSPORTS } from "./kit/webdis.ts";

const PREFIX = "session_";
const REDIS_PASSWORD = "redis-side-long-random-password";
const APP = "app:webdis-side-long-random-password";
// The commands of the README's Redis ACL line, as it reads there.
const REDIS_ACL = `on >${REDIS_PASSWORD} resetkeys ~${PREFIX}* resetchannels -@all ` +
  "+hgetall +evalsha +eval +del +hget +hset +hdel +hkeys +rename +pexpire +persist +pttl +sadd +srem +smembers";
const WEBDIS_ACL = [
  { disabled: ["*"] },
  { http_basic_auth: APP, enabled: ["HGETALL", "EVALSHA", "EVAL", "DEL"] },
];

/** A raw command through Webdis as the app's user (POST, the way the store sends it). */
async function asApp(url: string, path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url + "/", {
    method: "POST",
    headers: { authorization: "Basic " + btoa(APP) },
    body: path,
  });
  return { status: response.status, body: await response.text() };
}

const enc = encodeURIComponent;

const record = (now: number) => ({
  data: { user: '"ada"' },
  flash: {},
  createdAt: now,
  expiresAt: now + 60_000,
});

describe("Webdis: the README's ACL confines EVAL to the session prefix", () => {
  let redis: OwnRedis;
  let webdis: OwnWebdis;
  let admin: ReturnType<typeof createClient>;
  before(async () => {
    redis = await startOwnRedis();
    admin = createClient({ url: redis.url });
    admin.on("error", () => {});
    await admin.connect();
    await admin.sendCommand(["ACL", "SETUSER", "admin", "on", ">admin-pw", "~*", "&*", "+@all"]);
    await admin.sendCommand(["ACL", "SETUSER", "default", ...REDIS_ACL.split(" ")]);
    await admin.close();
    admin = createClient({ url: `redis://admin:admin-pw@127.0.0.1:${redis.port}` });
    admin.on("error", () => {});
    await admin.connect();
    await admin.set("other_app_key", "theirs");
    webdis = await startWebdis({
      redisPort: redis.port,
      redisAuth: REDIS_PASSWORD,
      acl: WEBDIS_ACL,
    });
  });
  after(async () => {
    await admin?.close();
    await webdis?.dispose();
    await redis?.dispose();
  });

  for (const transport of WEBDIS_TRANSPORTS) {
    it(`${transport}: the store does all it needs under that ACL`, async () => {
      const [username, password] = APP.split(":");
      const store = new WebdisStore({ url: webdis.url, username, password, transport });
      try {
        const now = Date.now();
        await admin.scriptFlush(); // the first write needs the EVAL fallback
        await store.create("a", record(now), now);
        assert.equal((await store.get("a", now))?.data.user, '"ada"');
        assert.equal(
          await store.update("a", {
            clear: false,
            set: { n: "1" },
            delete: ["user"],
            flash: { note: '"hi"' },
            expiresAt: now + 60_000,
          }, now),
          true,
        );
        assert.equal(
          await store.rotate("a", "b", {
            clear: false,
            set: { m: "2" },
            delete: [],
            flash: null,
            expiresAt: now + 60_000,
          }, now),
          true,
        );
        // The old key holds the rotation's marker, written under the same ACL.
        assert.equal((await store.get("a", now))?.movedAt, now);
        assert.deepEqual({ ...(await store.get("b", now))?.data }, { n: "1", m: "2" });
        await store.delete("b");
        assert.equal(await store.get("b", now), null);
        // Sessions bound to a user: the per-user set, increments, listing, revoking.
        await store.create("c", { ...record(now), userId: "ada" }, now);
        await store.create("d", { ...record(now), userId: "ada" }, now);
        assert.equal(
          await store.update("c", {
            clear: false,
            set: {},
            delete: [],
            flash: null,
            expiresAt: now + 60_000,
            increment: { hits: 2 },
            lastSeenAt: now,
          }, now),
          true,
        );
        assert.equal((await store.get("c", now))?.data.hits, "2");
        assert.deepEqual((await store.listByUser("ada", now)).map((x) => x.key).sort(), ["c", "d"]);
        assert.equal(await store.deleteByUser("ada", ["c"], now), 1);
        assert.deepEqual((await store.listByUser("ada", now)).map((x) => x.key), ["c"]);
        await store.delete("c");
        assert.deepEqual(await store.listByUser("ada", now), []);
      } finally {
        await store.close();
      }
    });
  }

  it("the app's user cannot reach outside the prefix, nor run other commands", async () => {
    const attempts = [
      // A script that reads and writes another app's key.
      `EVAL/${enc("return redis.call('GET', KEYS[1])")}/1/other_app_key`,
      `EVAL/${enc("return redis.call('SET', KEYS[1], 'x')")}/1/other_app_key`,
      // Naming a session key but touching another one inside the script.
      `EVAL/${enc("return redis.call('DEL', 'other_app_key')")}/1/${PREFIX}x`,
      // A command the script never needs, on a session key.
      `EVAL/${enc("return redis.call('KEYS', '*')")}/1/${PREFIX}x`,
      `EVAL/${enc("return redis.call('SET', KEYS[1], 'x')")}/1/${PREFIX}x`,
      `EVAL/${enc("return redis.call('FLUSHALL')")}/0`,
    ];
    for (const path of attempts) {
      const { status, body } = await asApp(webdis.url, path);
      assert.equal(status, 200, path);
      assert.match(
        body,
        /^\{"EVAL":\[false,".*(NOPERM|no permissions|can't access|can't run).*"\]\}$/i,
        body,
      );
    }
    // Commands Webdis's ACL does not enable are refused before Redis.
    for (const path of ["SET/other_app_key/x", "GET/other_app_key", "FLUSHALL", "KEYS/*"]) {
      assert.equal((await asApp(webdis.url, path)).status, 403, path);
    }
    assert.equal(await admin.get("other_app_key"), "theirs");
    assert.ok((await admin.dbSize()) >= 1);
  });

  it("a store whose keyPrefix is outside the ACL fails with a clear 503", async () => {
    const [username, password] = APP.split(":");
    const store = new WebdisStore({
      url: webdis.url,
      username,
      password,
      keyPrefix: "elsewhere_",
    });
    try {
      await assert.rejects(() => store.get("k", Date.now()), (error: unknown) => {
        assert.ok(error instanceof SessionStoreError);
        assert.match(error.message, /NOPERM|no permissions|can't access/i);
        return true;
      });
    } finally {
      await store.close();
    }
  });
});

describe("Webdis: without a Redis ACL, EVAL can run anything", () => {
  let redis: OwnRedis;
  let webdis: OwnWebdis;
  before(async () => {
    redis = await startOwnRedis();
    webdis = await startWebdis({ redisPort: redis.port, acl: WEBDIS_ACL });
  });
  after(async () => {
    await webdis?.dispose();
    await redis?.dispose();
  });

  it("the app's user writes and reads a key far outside the prefix", async () => {
    const set = await asApp(
      webdis.url,
      `EVAL/${
        enc("redis.call('SET', 'not_a_session', 'owned') return redis.call('GET', 'not_a_session')")
      }/0`,
    );
    assert.equal(set.body, '{"EVAL":"owned"}');
  });
});
