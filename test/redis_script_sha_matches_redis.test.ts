/**
 * The SHA-1 the Redis stores send with `EVALSHA` is the one Redis itself
 * gives the script, on both paths: `node:crypto` (synchronous, where the
 * runtime has it) and the Web Crypto fallback.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { REDIS_WRITE_SCRIPT, scriptSha1 } from "../src/stores/redis_script.ts";
import { nodeCrypto } from "../src/node_builtins.ts";
import { requireSharedRedis, SHARED_REDIS_URL } from "./kit/redis.ts";

describe("the session script's SHA-1", () => {
  const client = createClient({ url: SHARED_REDIS_URL });
  client.on("error", () => {});
  before(async () => {
    await requireSharedRedis();
    await client.connect();
  });
  after(() => client.close());

  it("is what SCRIPT LOAD answers, through node:crypto and through Web Crypto", async () => {
    const fromRedis = await client.sendCommand(["SCRIPT", "LOAD", REDIS_WRITE_SCRIPT]);
    assert.ok(nodeCrypto, "this runtime has node:crypto");
    const sync = scriptSha1(REDIS_WRITE_SCRIPT);
    assert.equal(typeof sync, "string", "node:crypto answers synchronously");
    assert.equal(sync, fromRedis);
    const web = scriptSha1(REDIS_WRITE_SCRIPT, null);
    assert.ok(web instanceof Promise, "the fallback is Web Crypto's promise");
    assert.equal(await web, fromRedis);
  });
});
