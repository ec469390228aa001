/**
 * Through a real Webdis, values and key names with URL-special characters
 * (`/`, `%2F`, `?`, `#`, `.json`, `+`, `&`), newlines, emoji and a 200 KB
 * string come back exactly as set, and Redis holds exactly their JSON text
 * (nothing double-encoded). Reads go as GET URLs; writes, and reads too
 * long for a URL, in POST bodies (seen by a logging TCP relay). Each
 * transport is tested.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { emptyFields } from "../src/store.ts";
import { encodeWebdisArg, WebdisStore } from "../src/stores/webdis.ts";
import { sessionKey } from "../src/session_id.ts";
import { startSessionApp } from "./helpers/redis_http.ts";
import { startLoggingProxy } from "./helpers/logging_proxy.ts";
import { requireSharedRedis, SHARED_REDIS_URL } from "./kit/redis.ts";
import { type OwnWebdis, startWebdis, WEBDIS_TRANSPORTS } from "./kit/webdis.ts";
import { dropPrefix, uniquePrefix } from "./helpers/redis_targets.ts";

const tricky: Record<string, unknown> = {
  slash: "a/b/c",
  encodedSlash: "a%2Fb",
  percent: "100% %zz %",
  query: "x?y=1&z=2",
  hash: "#fragment",
  newline: "line1\nline2\r\n",
  emoji: "😀 café ✓",
  dotJson: "report.json",
  dots: "../..",
  plus: "a+b c",
  backslash: "C:\\dir\\",
  html: "<b>&amp;</b>",
  nested: { "k/1": ["?#", { "%2F": "\n" }] },
  big: "x/%?#\n😀".repeat(25_000), // 200,000 UTF-16 units, most of them URL-special
  "key/with/slashes": 1,
  "key%2Fencoded": 2,
  "key?query#hash": 3,
  "key.json": 4,
  "key\nnewline": 5,
  "key 😀": 6,
};

for (const transport of WEBDIS_TRANSPORTS) {
  describe(`Webdis (${transport}): every argument survives the URL`, () => {
    let webdis: OwnWebdis;
    const raw = createClient({ url: SHARED_REDIS_URL });
    raw.on("error", () => {});
    const prefixes: string[] = [];
    before(async () => {
      await requireSharedRedis();
      await raw.connect();
      webdis = await startWebdis({ redisPort: 6379 });
    });
    after(async () => {
      for (const p of prefixes) await dropPrefix(raw, p);
      await raw.close();
      await webdis?.dispose();
    });

    it("tricky values and keys round-trip through Oak, WebdisStore and Redis", async () => {
      const prefix = uniquePrefix("wdenc");
      prefixes.push(prefix);
      const app = await startSessionApp(
        new WebdisStore({ url: webdis.url, keyPrefix: prefix, transport }),
      );
      try {
        const client = app.client();
        assert.equal((await client.post("/set", tricky)).status, 200);
        const back = await client.get("/get");
        assert.equal(back.status, 200);
        assert.deepEqual(back.json(), tricky);
        // Redis holds the JSON text itself, under the hash of the ID.
        const key = prefix + await sessionKey(client.cookies.get("session")!);
        for (const [k, v] of Object.entries(tricky)) {
          assert.equal(await raw.hGet(key, "d:" + k), JSON.stringify(v), k);
        }
        // A change made later (an update, not a create) survives the same way.
        assert.equal(
          (await client.post("/set", { slash: "z/y", big: "?".repeat(200_000) })).status,
          200,
        );
        const again = (await client.get("/get")).json();
        assert.equal(again.slash, "z/y");
        assert.equal(again.big, "?".repeat(200_000));
      } finally {
        await app.close();
      }
    });

    it("reads go as GET URLs; writes, and reads too long for a URL, as POST bodies", async () => {
      const proxy = await startLoggingProxy(webdis.port);
      const prefix = uniquePrefix("wdpost");
      const longPrefix = prefix + "x".repeat(2100);
      prefixes.push(prefix);
      const store = new WebdisStore({ url: proxy.url, keyPrefix: prefix, transport });
      const longStore = new WebdisStore({ url: proxy.url, keyPrefix: longPrefix, transport });
      try {
        const now = Date.now();
        const data = emptyFields();
        data.small = '"/?#"';
        await store.create("k", {
          data,
          flash: emptyFields(),
          createdAt: now,
          expiresAt: now + 60_000,
        }, now);
        const set = emptyFields();
        set.big = JSON.stringify("/".repeat(100_000));
        assert.equal(
          await store.update("k", {
            clear: false,
            set,
            delete: [],
            flash: null,
            expiresAt: now + 60_000,
          }, now),
          true,
        );
        const record = await store.get("k", now);
        assert.equal(record?.data.big, set.big);
        assert.equal(record?.data.small, data.small);
        assert.equal(await longStore.get("k", now), null);
      } finally {
        await store.close();
        await longStore.close();
        await proxy.close();
      }
      const [create, update, read, longRead] = proxy.requests;
      assert.equal(proxy.requests.length, 4);
      assert.equal(create.requestLine, "POST / HTTP/1.1", "a small create goes in a body too");
      assert.match(create.body, /^EVALSHA\//);
      assert.equal(update.requestLine, "POST / HTTP/1.1");
      assert.ok(update.body.length > 300_000, "the 100 KB update is in the body, percent-encoded");
      assert.equal(read.requestLine, `GET /HGETALL/${prefix}k HTTP/1.1`);
      assert.equal(longRead.requestLine, "POST / HTTP/1.1", "a read over 2 KB goes in a body");
      assert.equal(longRead.body, `HGETALL/${longPrefix}k`);
    });

    it("encodes every character Webdis treats specially", () => {
      assert.equal(encodeWebdisArg("a/b.json?x#y%z+ \n"), "a%2Fb%2Ejson%3Fx%23y%25z%2B%20%0A");
      assert.equal(encodeWebdisArg("!'()*~"), "%21%27%28%29%2A%7E");
      assert.equal(encodeWebdisArg("😀"), "%F0%9F%98%80");
    });
  });
}
