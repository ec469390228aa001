/**
 * Redis never sees a session ID: the key is the prefix plus the SHA-256 of
 * the ID (base64url), and neither keys, fields nor values hold the ID the
 * browser carries. Checked by SCANning the prefix after real requests,
 * through every client and through Webdis.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { sessionKey } from "../src/session_id.ts";
import { startSessionApp } from "./helpers/redis_http.ts";
import {
  dropPrefix,
  openRedisTargets,
  type RedisTargets,
  scanPrefix,
  uniquePrefix,
} from "./helpers/redis_targets.ts";

describe("Redis keys hide the session ID", () => {
  let t: RedisTargets;
  const prefixes: string[] = [];
  before(async () => {
    t = await openRedisTargets();
  });
  after(async () => {
    for (const p of prefixes) await dropPrefix(t.raw, p);
    await t.close();
  });

  it("SCAN of the prefix finds only SHA-256 keys; the raw ID appears nowhere", async () => {
    for (const target of t.targets) {
      const prefix = uniquePrefix("hideid");
      prefixes.push(prefix);
      const app = await startSessionApp(target.store(prefix));
      try {
        const ids: string[] = [];
        for (let i = 0; i < 3; i++) {
          const client = app.client();
          assert.equal((await client.post("/set", { user: `u${i}`, note: "hello" })).status, 200);
          const id = client.cookies.get("session");
          assert.ok(id, `${target.name}: no session cookie`);
          ids.push(id);
        }
        const keys = (await scanPrefix(t.raw, prefix)).sort();
        const expected = (await Promise.all(ids.map((id) => sessionKey(id)))).map((k) =>
          prefix + k
        );
        assert.deepEqual(keys, expected.sort(), target.name);
        for (const key of keys) {
          const dump = JSON.stringify(await t.raw.hGetAll(key));
          for (const id of ids) {
            assert.ok(!key.includes(id), `${target.name}: ID in key`);
            assert.ok(!dump.includes(id), `${target.name}: ID in the stored hash`);
          }
        }
      } finally {
        await app.close();
      }
    }
  });
});
