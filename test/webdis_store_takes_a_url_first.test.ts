/**
 * WebdisStore takes its backend first, as every store does: `new
 * WebdisStore(url)`, `new WebdisStore(url, "prefix_")` and `new
 * WebdisStore(url, { keyPrefix, ... })` reach the same Webdis and write the
 * same keys as `new WebdisStore({ url, ... })`, which still works. The URL
 * given twice, or a second argument after an options object, is a
 * `SessionConfigError` that says what to pass. Through a real Webdis
 * (started here, in front of the shared Redis), on both HTTP clients; the
 * keys are looked up with a plain Redis client.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { SessionConfigError } from "../src/errors.ts";
import { emptyFields, type SessionRecord } from "../src/store.ts";
import { WebdisStore } from "../src/stores/webdis.ts";
import { requireSharedRedis, SHARED_REDIS_URL } from "./kit/redis.ts";
import { type OwnWebdis, startWebdis, WEBDIS_TRANSPORTS } from "./kit/webdis.ts";
import { dropPrefix, uniquePrefix } from "./helpers/redis_targets.ts";

function record(now: number, value: string): SessionRecord {
  return {
    data: Object.assign(emptyFields(), { who: JSON.stringify(value) }),
    flash: emptyFields(),
    createdAt: now,
    expiresAt: now + 60_000,
  };
}

/** A session key of its own (no `:`, as a hashed session ID). */
function freshKey(): string {
  return "urlfirst" + crypto.randomUUID().replaceAll("-", "");
}

describe("WebdisStore takes the Webdis URL first", () => {
  let webdis: OwnWebdis;
  const raw = createClient({ url: SHARED_REDIS_URL });
  raw.on("error", () => {});
  const prefix = uniquePrefix("wdurl");
  const stores: WebdisStore[] = [];
  const open = (store: WebdisStore): WebdisStore => {
    stores.push(store);
    return store;
  };

  before(async () => {
    await requireSharedRedis();
    await raw.connect();
    webdis = await startWebdis({ redisPort: 6379 });
  });
  after(async () => {
    for (const store of stores) await store.close();
    await dropPrefix(raw, prefix);
    await raw.close();
    await webdis?.dispose();
  });

  it("new WebdisStore(url) writes under the default prefix session_", async () => {
    const store = open(new WebdisStore(webdis.url));
    const key = freshKey();
    const now = Date.now();
    try {
      await store.create(key, record(now, "ada"), now);
      assert.equal(await raw.exists(`session_${key}`), 1);
      assert.equal((await store.get(key, now))?.data.who, '"ada"');
    } finally {
      await store.delete(key);
    }
    assert.equal(await raw.exists(`session_${key}`), 0);
  });

  it('new WebdisStore(url, "prefix") writes under that prefix', async () => {
    const store = open(new WebdisStore(webdis.url, prefix));
    const key = freshKey();
    const now = Date.now();
    await store.create(key, record(now, "grace"), now);
    assert.equal(await raw.exists(prefix + key), 1);
    assert.equal(await raw.exists(`session_${key}`), 0);
    assert.equal((await store.get(key, now))?.data.who, '"grace"');
  });

  for (const transport of WEBDIS_TRANSPORTS) {
    it(`(url, options) and ({ url, ...options }) are one store (${transport})`, async () => {
      const urlFirst = open(new WebdisStore(webdis.url, { keyPrefix: prefix, transport }));
      const oneObject = open(new WebdisStore({ url: webdis.url, keyPrefix: prefix, transport }));
      assert.equal(urlFirst.transport, transport);
      assert.equal(oneObject.transport, transport);
      const key = freshKey();
      const now = Date.now();
      await urlFirst.create(key, record(now, "linus"), now);
      assert.equal(await raw.exists(prefix + key), 1);
      assert.equal((await oneObject.get(key, now))?.data.who, '"linus"');
      await oneObject.delete(key);
      assert.equal(await urlFirst.get(key, now), null);
    });
  }

  it("the URL given twice or a second argument after options is a SessionConfigError", () => {
    const url = webdis.url;
    assert.throws(
      () => new WebdisStore(url, { url, keyPrefix: prefix } as never),
      (e: unknown) =>
        e instanceof SessionConfigError && /url/.test(e.message) && /once/.test(e.message),
    );
    assert.throws(
      () => new WebdisStore({ url }, prefix as never),
      (e: unknown) => e instanceof SessionConfigError && /keyPrefix/.test(e.message),
    );
    assert.throws(
      () => new WebdisStore(url, 42 as never),
      (e: unknown) =>
        e instanceof SessionConfigError && /key prefix string or an options object/.test(e.message),
    );
    assert.throws(
      () => new WebdisStore(42 as never),
      (e: unknown) => e instanceof SessionConfigError && /url/.test(e.message),
    );
  });
});
