/**
 * SqliteStore against the store contract of src/store.ts, called directly
 * (the HTTP-level conformance suite covers the same ground through Oak).
 * Registered once per driver shape by the test files that import it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SessionStoreError } from "../../src/errors.ts";
import type { SessionChange } from "../../src/store.ts";
import type { SqliteStore } from "../../src/stores/sqlite.ts";
import { type RawDb, record, tempDir, values } from "./sqlite_db.ts";
import { changeSet } from "./changes.ts";

/** What a contract run needs: a store on a fresh file and the raw connection under it. */
export interface SqliteTarget {
  name: string;
  /** The driver name the store must report. */
  driver: string;
  open(path: string): Promise<{ store: SqliteStore; raw: RawDb }>;
}

const T0 = Date.UTC(2030, 0, 1);
const HOUR = 3_600_000;

const change = (partial: Partial<SessionChange>): SessionChange => changeSet(T0 + HOUR, partial);

function fields(o: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const k of Object.keys(o)) out[k] = JSON.stringify(o[k]);
  return out;
}

/** Registers the contract tests for `target`. */
export function sqliteContract(target: SqliteTarget): void {
  describe(`SqliteStore keeps the store contract (${target.name})`, () => {
    const dir = tempDir();
    let store: SqliteStore;
    let raw: RawDb;
    let n = 0;
    const key = () => `key-${++n}`;

    before(async () => {
      ({ store, raw } = await target.open(dir.file("contract.db")));
    });
    after(async () => {
      await store.close();
      raw.close();
      dir.remove();
    });

    it(`recognises the driver as ${target.driver}`, () => {
      assert.equal(store.driver, target.driver);
    });

    it("returns null for a session that was never stored", async () => {
      assert.equal(await store.get(key(), T0), null);
    });

    it("gives back what was created, as null-prototype maps of JSON text", async () => {
      const k = key();
      const rec = record(
        { user: "ana", n: 3, nested: { a: [1, "two", null] }, "__proto__": "x", "ü ✓": true },
        { createdAt: T0, expiresAt: Date.UTC(2100, 0, 1) + 123 },
        { notice: "saved" },
      );
      await store.create(k, rec, T0);
      const got = await store.get(k, T0);
      assert.ok(got);
      assert.equal(Object.getPrototypeOf(got.data), null);
      assert.equal(Object.getPrototypeOf(got.flash), null);
      assert.deepEqual({ ...got.data }, { ...rec.data });
      assert.deepEqual({ ...got.flash }, { ...rec.flash });
      assert.equal(got.createdAt, T0);
      // Millisecond timestamps past 2^32 come back exact.
      assert.equal(got.expiresAt, Date.UTC(2100, 0, 1) + 123);
    });

    it("treats a session as gone from its expiry on (expiresAt <= now)", async () => {
      const k = key();
      await store.create(k, record({ a: 1 }, { createdAt: T0, expiresAt: T0 + 1000 }), T0);
      assert.ok(await store.get(k, T0 + 999));
      assert.equal(await store.get(k, T0 + 1000), null);
    });

    it("create replaces a session stored under the same key", async () => {
      const k = key();
      await store.create(k, record({ a: 1, b: 2 }, { createdAt: T0, expiresAt: T0 + HOUR }), T0);
      await store.create(k, record({ c: 3 }, { createdAt: T0 + 5, expiresAt: T0 + HOUR }), T0);
      const got = await store.get(k, T0);
      assert.deepEqual(values(got!.data), { c: 3 });
      assert.equal(got!.createdAt, T0 + 5);
    });

    it("update applies clear, then set, then delete, then flash and expiry", async () => {
      const k = key();
      await store.create(
        k,
        record({ a: 1, b: 2 }, { createdAt: T0, expiresAt: T0 + HOUR }, { old: 1 }),
        T0,
      );
      assert.equal(
        await store.update(k, change({ set: fields({ c: 3, d: 4 }), delete: ["a"] }), T0),
        true,
      );
      let got = await store.get(k, T0);
      assert.deepEqual(values(got!.data), { b: 2, c: 3, d: 4 });
      assert.deepEqual(values(got!.flash), { old: 1 }, "flash: null keeps the stored flash");

      assert.equal(
        await store.update(
          k,
          change({
            clear: true,
            set: fields({ e: 5, f: 6 }),
            delete: ["f"],
            flash: fields({ notice: "hi" }),
            expiresAt: T0 + 2 * HOUR,
          }),
          T0,
        ),
        true,
      );
      got = await store.get(k, T0);
      assert.deepEqual(values(got!.data), { e: 5 });
      assert.deepEqual(values(got!.flash), { notice: "hi" });
      assert.equal(got!.expiresAt, T0 + 2 * HOUR);
      assert.equal(got!.createdAt, T0, "createdAt never changes");
    });

    it("update of a missing session returns false and creates nothing", async () => {
      const k = key();
      assert.equal(await store.update(k, change({ set: fields({ a: 1 }) }), T0), false);
      assert.equal(await store.get(k, T0), null);
      assert.equal(await store.update(k, change({}), T0), false, "nor does a refresh");
      assert.equal(await store.get(k, T0), null);
    });

    it("update of an expired session returns false and does not revive it", async () => {
      const k = key();
      await store.create(k, record({ a: 1 }, { createdAt: T0, expiresAt: T0 + 10 }), T0);
      const later = T0 + 10;
      assert.equal(
        await store.update(k, change({ set: fields({ b: 2 }), expiresAt: later + HOUR }), later),
        false,
      );
      assert.equal(await store.update(k, change({ expiresAt: later + HOUR }), later), false);
      assert.equal(await store.get(k, later), null);
      const before = await store.get(k, T0);
      assert.deepEqual(values(before!.data), { a: 1 }, "the stored row was left as it was");
    });

    it("a refresh (expiry only) moves the expiry and keeps the data", async () => {
      const k = key();
      await store.create(k, record({ a: 1 }, { createdAt: T0, expiresAt: T0 + 10 }), T0);
      assert.equal(await store.update(k, change({ expiresAt: T0 + HOUR }), T0 + 5), true);
      const got = await store.get(k, T0 + 100);
      assert.deepEqual(values(got!.data), { a: 1 });
      assert.equal(got!.expiresAt, T0 + HOUR);
    });

    it("two concurrent updates of different keys both land", async () => {
      const k = key();
      await store.create(k, record({}, { createdAt: T0, expiresAt: T0 + HOUR }), T0);
      const results = await Promise.all([
        store.update(k, change({ set: fields({ left: 1 }) }), T0),
        store.update(k, change({ set: fields({ right: 2 }) }), T0),
      ]);
      assert.deepEqual(results, [true, true]);
      assert.deepEqual(values((await store.get(k, T0))!.data), { left: 1, right: 2 });
    });

    it("delete removes the session, is idempotent, and an update after it does nothing", async () => {
      const k = key();
      await store.create(k, record({ a: 1 }, { createdAt: T0, expiresAt: T0 + HOUR }), T0);
      await store.delete(k);
      await store.delete(k);
      assert.equal(await store.get(k, T0), null);
      assert.equal(await store.update(k, change({ set: fields({ b: 1 }) }), T0), false);
      assert.equal(await store.get(k, T0), null);
    });

    it("cleanup removes expired sessions, keeps live ones, and returns the count", async () => {
      const live = key();
      const dead = [key(), key(), key()];
      const far = T0 + 100 * HOUR;
      await store.create(live, record({ a: 1 }, { createdAt: T0, expiresAt: far + 1 }), T0);
      for (const k of dead) {
        await store.create(k, record({ a: 1 }, { createdAt: T0, expiresAt: far - 1 }), T0);
      }
      // Earlier tests left sessions expiring before `far`; they count too.
      const expired = (raw.prepare(
        `SELECT count(*) AS n FROM sessions WHERE expires_at <= ?`,
      ).get(far) as { n: number }).n;
      assert.ok(expired >= 3);
      assert.equal(await store.cleanup(far), expired);
      for (const k of dead) assert.equal(await store.get(k, T0), null);
      assert.ok(await store.get(live, far));
      assert.equal(await store.cleanup(far), 0);
    });
  });

  describe(`SqliteStore after close() (${target.name})`, () => {
    const dir = tempDir();
    after(() => dir.remove());

    it("fails its calls with SessionStoreError and leaves the user's connection open", async () => {
      const { store, raw } = await target.open(dir.file("closed.db"));
      await store.create("k", record({ a: 1 }, { createdAt: T0, expiresAt: T0 + HOUR }), T0);
      await store.close();
      await assert.rejects(store.get("k", T0), SessionStoreError);
      await assert.rejects(store.cleanup(T0), SessionStoreError);
      assert.equal(
        (raw.prepare("SELECT count(*) AS n FROM sessions").get() as { n: number }).n,
        1,
      );
      raw.close();
    });
  });
}
