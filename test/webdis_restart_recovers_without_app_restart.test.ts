/**
 * When Webdis goes away, WebdisStore fails each request with a
 * `SessionStoreError` (503); when it comes back, the same store works again
 * at once, with no restart of the app, even though its kept-alive
 * connections died with the old Webdis process. A real Webdis is killed
 * (SIGKILL) and started again on the same port. Each transport is tested.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { SessionStoreError } from "../src/errors.ts";
import { WebdisStore } from "../src/stores/webdis.ts";
import { requireSharedRedis, SHARED_REDIS_URL } from "./kit/redis.ts";
import { type OwnWebdis, startWebdis, WEBDIS_TRANSPORTS } from "./kit/webdis.ts";
import { dropPrefix, uniquePrefix } from "./helpers/redis_targets.ts";

const record = (now: number) => {
  return { data: { a: '"1"' }, flash: {}, createdAt: now, expiresAt: now + 60_000 };
};

for (const transport of WEBDIS_TRANSPORTS) {
  describe(`Webdis (${transport}): a Webdis restart needs no app restart`, () => {
    let webdis: OwnWebdis;
    const raw = createClient({ url: SHARED_REDIS_URL });
    raw.on("error", () => {});
    const prefix = uniquePrefix("wdrestart");
    before(async () => {
      await requireSharedRedis();
      await raw.connect();
      webdis = await startWebdis({ redisPort: 6379 });
    });
    after(async () => {
      await dropPrefix(raw, prefix);
      await raw.close();
      await webdis?.dispose();
    });

    it("down: every call is a 503; back: the first call works", async () => {
      const store = new WebdisStore({ url: webdis.url, keyPrefix: prefix, transport });
      try {
        const now = Date.now();
        await store.create("s", record(now), now);
        assert.equal((await store.get("s", now))?.data.a, '"1"');
        await webdis.stop();
        for (const call of [() => store.get("s", now), () => store.create("t", record(now), now)]) {
          await assert.rejects(call, (error: unknown) => {
            assert.ok(error instanceof SessionStoreError, String(error));
            assert.equal(error.status, 503);
            assert.match(error.message, /could not reach Webdis at http:\/\/127\.0\.0\.1:\d+ \(/);
            return true;
          });
        }
        await webdis.start();
        assert.equal((await store.get("s", now))?.data.a, '"1"', "the stored session survived");
        await store.create("t", record(now), now);
        assert.notEqual(await store.get("t", now), null);
      } finally {
        await store.close();
      }
    });

    it("restarted while the store was idle: the first call after it works", async () => {
      const store = new WebdisStore({ url: webdis.url, keyPrefix: prefix, transport });
      try {
        const now = Date.now();
        // Several kept-alive connections, all of which the restart kills.
        await Promise.all([1, 2, 3, 4].map((i) => store.create(`idle${i}`, record(now), now)));
        for (let round = 0; round < 3; round++) {
          await webdis.stop();
          await webdis.start();
          const back = await Promise.all([1, 2, 3, 4].map((i) => store.get(`idle${i}`, now)));
          assert.ok(back.every((r) => r?.data.a === '"1"'), `round ${round}: every read worked`);
        }
      } finally {
        await store.close();
      }
    });
  });
}
