/**
 * Over Redis and over Webdis alike: an update of a session that was deleted
 * (a logout that landed while a slow request was in flight) does nothing and
 * reports it, and concurrent updates of different keys of one session all
 * land (each is a small Lua script, not a rewrite of the session).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { emptyFields, type JsonFields, type SessionChange } from "../src/store.ts";
import {
  dropPrefix,
  openRedisTargets,
  type RedisTargets,
  uniquePrefix,
} from "./helpers/redis_targets.ts";

function fields(entries: Record<string, unknown>): JsonFields {
  const out = emptyFields();
  for (const [k, v] of Object.entries(entries)) out[k] = JSON.stringify(v);
  return out;
}

function change(partial: Partial<SessionChange> & { expiresAt: number }): SessionChange {
  return { clear: false, set: emptyFields(), delete: [], flash: null, ...partial };
}

describe("Redis and Webdis: delete wins, concurrent changes all land", () => {
  let t: RedisTargets;
  const prefixes: string[] = [];
  before(async () => {
    t = await openRedisTargets();
  });
  after(async () => {
    for (const p of prefixes) await dropPrefix(t.raw, p);
    await t.close();
  });

  it("an update after delete returns false and writes nothing", async () => {
    for (const target of t.targets) {
      const prefix = uniquePrefix("delwins");
      prefixes.push(prefix);
      const store = target.store(prefix);
      const now = Date.now();
      await store.create("k", {
        data: fields({ user: "ann" }),
        flash: emptyFields(),
        createdAt: now,
        expiresAt: now + 60_000,
      }, now);
      await store.delete("k");
      const applied = await store.update(
        "k",
        change({ set: fields({ cart: [1, 2] }), expiresAt: now + 60_000 }),
        now,
      );
      assert.equal(applied, false, target.name);
      assert.equal(await store.get("k", now), null, target.name);
      assert.equal(await t.raw.exists(prefix + "k"), 0, `${target.name}: key resurrected`);
      await store.delete("k"); // idempotent
    }
  });

  it("an update of an expired session does nothing", async () => {
    for (const target of t.targets) {
      const prefix = uniquePrefix("expupd");
      prefixes.push(prefix);
      const store = target.store(prefix);
      const now = Date.now();
      await store.create("k", {
        data: fields({ a: 1 }),
        flash: emptyFields(),
        createdAt: now,
        expiresAt: now + 1000,
      }, now);
      // The middleware's clock says the session is over; Redis's TTL has not fired yet.
      const later = now + 1000;
      assert.equal(await store.get("k", later), null, target.name);
      const applied = await store.update(
        "k",
        change({ set: fields({ b: 2 }), expiresAt: later + 60_000 }),
        later,
      );
      assert.equal(applied, false, target.name);
      assert.equal(await t.raw.hExists(prefix + "k", "d:b"), 0, target.name);
    }
  });

  it("50 concurrent updates of different keys of one session all land", async () => {
    for (const target of t.targets) {
      const prefix = uniquePrefix("concur");
      prefixes.push(prefix);
      const store = target.store(prefix);
      const now = Date.now();
      await store.create("k", {
        data: fields({ keep: true }),
        flash: emptyFields(),
        createdAt: now,
        expiresAt: now + 60_000,
      }, now);
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          store.update(
            "k",
            change({ set: fields({ [`key${i}`]: i }), expiresAt: now + 60_000 + i }),
            now,
          )),
      );
      assert.deepEqual(results, Array(50).fill(true), target.name);
      const record = await store.get("k", now);
      assert.ok(record, target.name);
      assert.equal(Object.keys(record.data).length, 51, target.name);
      for (let i = 0; i < 50; i++) assert.equal(record.data[`key${i}`], String(i), target.name);
      assert.equal(record.data.keep, "true", target.name);
    }
  });
});
