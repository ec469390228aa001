// MemoryStore: expired sessions are swept (no leak), maxSessions bounds it
// (the least recently used go first), and what it hands out never changes.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MemoryStore, SessionConfigError } from "../mod.ts";
import type { SessionRecord } from "../mod.ts";

function record(now: number, ttlMs: number, data: Record<string, string> = {}): SessionRecord {
  return {
    data: Object.assign(Object.create(null), data),
    flash: Object.create(null),
    createdAt: now,
    expiresAt: now + ttlMs,
  };
}

describe("MemoryStore", () => {
  it("drops the oldest sessions beyond maxSessions", async () => {
    const store = new MemoryStore({ maxSessions: 3 });
    const now = 1_000_000;
    for (const key of ["a", "b", "c", "d", "e"]) await store.create(key, record(now, 60_000), now);
    assert.equal(store.size, 3);
    assert.equal(await store.get("a", now), null);
    assert.equal(await store.get("b", now), null);
    for (const key of ["c", "d", "e"]) assert.notEqual(await store.get(key, now), null, key);
  });

  it("sweeps expired sessions during normal calls, at most once per interval", async () => {
    const store = new MemoryStore({ sweepIntervalSeconds: 60 });
    let now = 5_000_000;
    for (let i = 0; i < 100; i++) await store.create(`old${i}`, record(now, 1_000), now);
    await store.create("live", record(now, 3_600_000), now);
    assert.equal(store.size, 101);
    now += 2_000; // all "old" sessions expired, but the sweep interval has not passed
    await store.get("live", now);
    assert.equal(store.size, 101, "no full scan on every call");
    now += 60_000;
    await store.get("live", now);
    assert.equal(store.size, 1, "swept");
    assert.equal(await store.cleanup(now), 0);
  });

  it("cleanup() removes expired sessions and counts them", async () => {
    const store = new MemoryStore();
    const now = 10_000;
    await store.create("x", record(now, 10), now);
    await store.create("y", record(now, 100_000), now);
    assert.equal(await store.cleanup(now + 50), 1);
    assert.equal(store.size, 1);
  });

  it("what get() hands out never changes, and a reader cannot change what is stored", async () => {
    const store = new MemoryStore();
    const now = 1;
    const original = record(now, 60_000, { k: '"v"' });
    await store.create("s", original, now);
    original.data.k = '"changed by the creator"';
    const first = await store.get("s", now);
    assert.ok(first);
    // Handed out uncopied but frozen: a write to it throws (modules are strict).
    assert.throws(() => {
      first.data.k = '"changed by a reader"';
    }, TypeError);
    assert.throws(() => {
      first.flash.f = "1";
    }, TypeError);
    const change = { clear: false, set: { k: '"w"' }, delete: [], flash: null, expiresAt: now + 9 };
    assert.equal(await store.update("s", change, now), true);
    assert.equal(first.data.k, '"v"', "an update puts a new record in place");
    const second = await store.get("s", now);
    assert.equal(second?.data.k, '"w"');
    assert.equal(second?.flash.f, undefined);
    assert.equal(Object.getPrototypeOf(second?.data), null, "null-prototype data");
  });

  it("update() applies only to a live session", async () => {
    const store = new MemoryStore();
    const now = 100;
    const change = {
      clear: false,
      set: { a: "1" },
      delete: [],
      flash: null,
      expiresAt: now + 5000,
    };
    assert.equal(await store.update("missing", change, now), false);
    await store.create("s", record(now, 10), now);
    assert.equal(await store.update("s", change, now + 20), false, "expired");
    assert.equal(await store.get("s", now + 20), null);
  });

  it("rejects a bound that is not a positive integer", () => {
    for (const maxSessions of [0, -1, 1.5, NaN]) {
      assert.throws(() => new MemoryStore({ maxSessions }), SessionConfigError);
    }
    assert.throws(() => new MemoryStore({ sweepIntervalSeconds: -1 }), /sweepIntervalSeconds/);
  });
});
