/**
 * With `originalKeyPrefix`, RedisStore and WebdisStore read the sessions the
 * original oak_sessions left in Redis (`<prefix><id>` string keys holding the
 * JSON document, no TTL, as its RedisStore and WebdisStore wrote them): a
 * miss converts them to this store's layout under the SHA-256 of their IDs
 * and deletes the old keys, live sessions keep their data and flash, expired
 * and deleted ones are removed, keys of any other kind are left alone, a
 * conversion runs at most once a minute, and never again once none is left.
 * Without the option nothing of the original's is touched. Real Redis and a
 * real Webdis; the clock is the test's.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createClient } from "redis";
import { SessionConfigError } from "../src/errors.ts";
import { sessionKey } from "../src/session_id.ts";
import { RedisStore } from "../src/stores/redis.ts";
import { ORIGINAL_SCAN_INTERVAL_MS } from "../src/stores/redis_original.ts";
import type { RedisSessionLogic } from "../src/stores/redis_logic.ts";
import { WebdisStore } from "../src/stores/webdis.ts";
import { requireSharedRedis, SHARED_REDIS_URL } from "./kit/redis.ts";
import { type OwnWebdis, startWebdis } from "./kit/webdis.ts";
import { dropPrefix, uniquePrefix } from "./helpers/redis_targets.ts";
import { values } from "./helpers/sqlite_db.ts";

const NOW = Date.now();
const iso = (ms: number) => new Date(ms).toISOString();
const LIVE = "V1StGXR8_Z5jdHi6B-myT";
const LIVE_NO_EXPIRY = "Uakgb_J5m9g-0JDMbcJqL";
const EXPIRED = "expired0expired0expir";
const DELETED = "deleted0deleted0delet";

/** The original's documents, as its RedisStore SET them. */
function originalKeys(prefix: string): Array<[string, string]> {
  const doc = (extra: Record<string, unknown>) =>
    JSON.stringify({ _flash: {}, _accessed: iso(NOW), _expire: null, _delete: false, ...extra });
  return [
    [
      prefix + LIVE,
      doc({ _flash: { notice: "Saved!" }, _expire: iso(NOW + 3_600_000), userId: 7 }),
    ],
    [prefix + LIVE_NO_EXPIRY, doc({ count: 3 })],
    [prefix + EXPIRED, doc({ _expire: iso(NOW - 1000), userId: 8 })],
    [prefix + DELETED, doc({ _delete: true })],
  ];
}

describe("RedisStore and WebdisStore convert the original oak_sessions' keys", () => {
  let raw: ReturnType<typeof createClient>;
  let webdis: OwnWebdis;
  const prefixes: string[] = [];
  before(async () => {
    await requireSharedRedis();
    raw = createClient({ url: SHARED_REDIS_URL });
    raw.on("error", () => {});
    await raw.connect();
    webdis = await startWebdis({ redisPort: 6379 });
  });
  after(async () => {
    for (const p of prefixes) await dropPrefix(raw, p);
    await raw.close();
    await webdis.dispose();
  });

  const makers: Array<
    [string, (ours: string, original: string, log: (l: string) => void) => RedisSessionLogic]
  > = [
    [
      "RedisStore (node-redis)",
      (ours, original, log) =>
        new RedisStore(raw, { keyPrefix: ours, originalKeyPrefix: original, log }),
    ],
    [
      "WebdisStore",
      (ours, original, log) =>
        new WebdisStore({ url: webdis.url, keyPrefix: ours, originalKeyPrefix: original, log }),
    ],
  ];

  for (const [name, make] of makers) {
    it(`${name}: a miss converts every original session, once`, async () => {
      const original = uniquePrefix("v9keys");
      const ours = uniquePrefix("ours");
      prefixes.push(original, ours);
      for (const [k, v] of originalKeys(original)) await raw.set(k, v);
      // Under the prefix but not the original's documents: left alone.
      await raw.set(`${original}notAdocument000000000`, "plain text");
      await raw.hSet(`${original}aHashNotAstring000000`, "f", "v");
      const lines: string[] = [];
      const store = make(ours, original, (l) => lines.push(l));

      const live = await store.get(await sessionKey(LIVE), NOW);
      assert.ok(live, "the miss found the converted session");
      assert.deepEqual(values(live.data), { userId: 7 });
      assert.deepEqual(values(live.flash), { notice: "Saved!" });
      assert.equal(live.expiresAt, NOW + 3_600_000);
      const second = await store.get(await sessionKey(LIVE_NO_EXPIRY), NOW);
      assert.deepEqual(values(second!.data), { count: 3 });
      assert.ok(second!.expiresAt >= NOW + 86_400_000 - 1, "a day for one without expiry");
      assert.ok(await raw.pTTL(store.redisKey(await sessionKey(LIVE))) > 0, "our keys have a TTL");

      assert.equal(lines.length, 1, lines.join("\n"));
      assert.match(lines[0], /converted 2 session\(s\)/);
      assert.match(lines[0], /2 expired, deleted or claimed/);
      for (const id of [LIVE, LIVE_NO_EXPIRY, EXPIRED, DELETED]) {
        assert.equal(await raw.exists(original + id), 0, `${id}: the old key is gone`);
        assert.ok(!lines[0].includes(id), "no ID in the line");
      }
      assert.equal(await raw.get(`${original}notAdocument000000000`), "plain text");
      assert.equal(await raw.type(`${original}aHashNotAstring000000`), "hash");
      assert.equal(await store.get(await sessionKey(EXPIRED), NOW), null);

      // Within the interval a miss scans nothing, even if an original key appears.
      await raw.set(original + "late0late0late0late0l", originalKeys(original)[1][1]);
      assert.equal(await store.get(await sessionKey("late0late0late0late0l"), NOW + 1000), null);
      assert.equal(lines.length, 1);
      // After it, the next miss converts it; once a scan finds none, scans stop.
      const later = NOW + ORIGINAL_SCAN_INTERVAL_MS + 1;
      assert.ok(await store.get(await sessionKey("late0late0late0late0l"), later));
      assert.match(lines[1], /converted 1 session\(s\)/);
      assert.equal(await store.get(await sessionKey("unknown0unknown0unkno"), later * 2), null);
      assert.match(lines[2], /no session of the original oak_sessions is left/);
      await raw.set(original + "after0after0after0aft", originalKeys(original)[1][1]);
      assert.equal(await store.get(await sessionKey("after0after0after0aft"), later * 3), null);
      assert.equal(lines.length, 3, "no scan after the clean one");
    });
  }

  it("without the option, nothing of the original's is read or removed", async () => {
    const original = uniquePrefix("v9off");
    prefixes.push(original);
    for (const [k, v] of originalKeys(original)) await raw.set(k, v);
    const store = new RedisStore(raw, { keyPrefix: original });
    assert.equal(await store.get(await sessionKey(LIVE), NOW), null);
    assert.equal(await raw.exists(original + LIVE), 1);
  });

  it("checks the options", () => {
    for (
      const bad of [{ originalKeyPrefix: "a*" }, { originalKeyPrefix: 1 }, { log: 1 }, {
        migratedIdleSeconds: -1,
      }]
    ) {
      // deno-lint-ignore no-explicit-any
      assert.throws(() => new RedisStore(raw, bad as any), SessionConfigError);
    }
  });
});
