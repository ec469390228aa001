/**
 * A session is one Redis hash, one field per user key: reading it is one
 * HGETALL, a change set is one script that touches only the changed fields
 * (a field another request wrote meanwhile survives), and every write sets
 * the key's TTL. Checked through every client and through Webdis, by
 * looking at what lands in the real Redis.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { emptyFields, type JsonFields, type SessionChange } from "../src/store.ts";
import { RedisStore } from "../src/stores/redis.ts";
import { SHARED_REDIS_URL } from "./kit/redis.ts";
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

describe("Redis layout: one hash, changes touch only their fields", () => {
  let t: RedisTargets;
  const prefixes: string[] = [];
  const prefix = (label: string) => {
    const p = uniquePrefix(label);
    prefixes.push(p);
    return p;
  };
  before(async () => {
    t = await openRedisTargets();
  });
  after(async () => {
    for (const p of prefixes) await dropPrefix(t.raw, p);
    await t.close();
  });

  it("stores d:/f: fields with JSON text and m:c/m:e metadata, with a TTL", async () => {
    for (const target of t.targets) {
      const p = prefix("layout");
      const store = target.store(p);
      const now = Date.now();
      await store.create("k", {
        data: fields({ user: "ann", n: 1 }),
        flash: fields({ notice: "saved" }),
        createdAt: now - 5000,
        expiresAt: now + 60_000,
      }, now);
      const hash = await t.raw.hGetAll(p + "k");
      assert.deepEqual({ ...hash }, {
        "d:user": '"ann"',
        "d:n": "1",
        "f:notice": '"saved"',
        "m:c": String(now - 5000),
        "m:e": String(now + 60_000),
      }, target.name);
      const ttl = await t.raw.pTTL(p + "k");
      assert.ok(ttl > 0 && ttl <= 60_000, `${target.name}: PTTL ${ttl}`);
    }
  });

  it("an update keeps fields it did not change, even ones written after the read", async () => {
    for (const target of t.targets) {
      const p = prefix("partial");
      const store = target.store(p);
      const now = Date.now();
      await store.create("k", {
        data: fields({ a: 1, b: 2 }),
        flash: emptyFields(),
        createdAt: now,
        expiresAt: now + 10_000,
      }, now);
      // Another request's change lands between this request's read and its commit.
      await t.raw.hSet(p + "k", "d:other", '"theirs"');
      assert.equal(
        await store.update(
          "k",
          change({ set: fields({ a: 10 }), delete: ["b"], expiresAt: now + 90_000 }),
          now,
        ),
        true,
      );
      const record = await store.get("k", now);
      assert.deepEqual({ ...record?.data }, { a: "10", other: '"theirs"' }, target.name);
      assert.equal(record?.expiresAt, now + 90_000, target.name);
      const ttl = await t.raw.pTTL(p + "k");
      assert.ok(ttl > 10_000 && ttl <= 90_000, `${target.name}: PTTL ${ttl} not refreshed`);
    }
  });

  it("clear drops every data key, flash replaces the flash set, both in one atomic change", async () => {
    for (const target of t.targets) {
      const p = prefix("clear");
      const store = target.store(p);
      const now = Date.now();
      await store.create("k", {
        data: fields({ a: 1, b: 2, "x\u0000y": 3 }),
        flash: fields({ old: 1 }),
        createdAt: now,
        expiresAt: now + 60_000,
      }, now);
      assert.equal(
        await store.update(
          "k",
          change({
            clear: true,
            set: fields({ c: 3 }),
            flash: fields({ fresh: 2 }),
            expiresAt: now + 60_000,
          }),
          now,
        ),
        true,
      );
      let record = await store.get("k", now);
      assert.deepEqual({ ...record?.data }, { c: "3" }, target.name);
      assert.deepEqual({ ...record?.flash }, { fresh: "2" }, target.name);
      assert.equal(record?.createdAt, now, target.name);
      // flash: null keeps the stored flash values; an empty map drops them.
      await store.update("k", change({ expiresAt: now + 60_000 }), now);
      record = await store.get("k", now);
      assert.deepEqual({ ...record?.flash }, { fresh: "2" }, target.name);
      await store.update("k", change({ flash: emptyFields(), expiresAt: now + 60_000 }), now);
      record = await store.get("k", now);
      assert.deepEqual({ ...record?.flash }, {}, target.name);
    }
  });

  it("create replaces whatever was under the key", async () => {
    for (const target of t.targets) {
      const p = prefix("replace");
      const store = target.store(p);
      const now = Date.now();
      await store.create("k", {
        data: fields({ a: 1 }),
        flash: fields({ f: 1 }),
        createdAt: now,
        expiresAt: now + 60_000,
      }, now);
      await store.create("k", {
        data: fields({ b: 2 }),
        flash: emptyFields(),
        createdAt: now + 1,
        expiresAt: now + 60_000,
      }, now);
      const record = await store.get("k", now);
      assert.deepEqual({ ...record?.data }, { b: "2" }, target.name);
      assert.deepEqual({ ...record?.flash }, {}, target.name);
      assert.equal(record?.createdAt, now + 1, target.name);
    }
  });

  it("key names Redis or Webdis cannot carry raw (NUL, lone surrogates) still round-trip", async () => {
    const names = [
      "",
      "\u0000",
      "a\u0000b",
      "\uD800",
      "x\uDFFFy",
      "😀",
      "d:x",
      "m:e",
      "__proto__",
      ".json",
    ];
    for (const target of t.targets) {
      const p = prefix("names");
      const store = target.store(p);
      const now = Date.now();
      const data = emptyFields();
      names.forEach((n, i) => (data[n] = String(i)));
      await store.create("k", {
        data,
        flash: emptyFields(),
        createdAt: now,
        expiresAt: now + 60_000,
      }, now);
      let record = await store.get("k", now);
      assert.deepEqual(
        names.map((n) => record?.data[n]),
        names.map((_, i) => String(i)),
        target.name,
      );
      assert.equal(Object.keys(record?.data ?? {}).length, names.length, target.name);
      await store.update("k", change({ delete: names.slice(0, 5), expiresAt: now + 60_000 }), now);
      record = await store.get("k", now);
      assert.deepEqual(Object.keys(record?.data ?? {}).sort(), names.slice(5).sort(), target.name);
    }
  });

  it("a hash that lacks the metadata is not a session", async () => {
    for (const target of t.targets) {
      const p = prefix("foreign");
      await t.raw.hSet(p + "k", "d:a", "1");
      assert.equal(await target.store(p).get("k", Date.now()), null, target.name);
      assert.equal(
        await target.store(p).update("k", change({ expiresAt: Date.now() + 1000 }), Date.now()),
        false,
        target.name,
      );
    }
  });

  it("a read is one HGETALL; a create or an update is one EVALSHA", async () => {
    // A real node-redis client, with its commands recorded on the way through.
    const client = createClient({ url: SHARED_REDIS_URL });
    client.on("error", () => {});
    await client.connect();
    const sent: string[][] = [];
    const recording = {
      get isOpen() {
        return client.isOpen;
      },
      sendCommand(args: string[]) {
        sent.push(args);
        return client.sendCommand(args);
      },
    };
    try {
      const p = prefix("trips");
      const store = new RedisStore(recording, p);
      const now = Date.now();
      await store.create("k", {
        data: fields({ a: 1 }),
        flash: emptyFields(),
        createdAt: now,
        expiresAt: now + 60_000,
      }, now);
      await store.get("k", now);
      await store.update("k", change({ set: fields({ b: 2 }), expiresAt: now + 60_000 }), now);
      await store.delete("k");
      // The script may be missing from the cache at first: then EVAL follows the EVALSHA.
      const names = sent.map((a) => a[0]).filter((c, i, all) =>
        !(c === "EVAL" && all[i - 1] === "EVALSHA")
      );
      assert.deepEqual(names, ["EVALSHA", "HGETALL", "EVALSHA", "EVALSHA"]);
      assert.deepEqual(sent.find((a) => a[0] === "HGETALL"), ["HGETALL", p + "k"]);
    } finally {
      await client.close();
    }
  });
});
