/**
 * The rotation marker of the store contract (src/store.ts), called directly
 * on a server store: `rotate` leaves a short-lived marker under the old key,
 * which opens nothing, takes no write and joins no user index. Every server
 * store's test file registers it; the HTTP-level conformance suite proves
 * what the middleware makes of it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  MOVED_MARKER_MS,
  type ServerStore,
  type SessionChange,
  type SessionRecord,
} from "../../src/store.ts";
import { changeSet } from "./changes.ts";

/** A server store under test. */
export interface MarkerTarget {
  /** Shown in the test names. */
  name: string;
  /** A fresh store. */
  makeStore(): ServerStore | Promise<ServerStore>;
  /** Release what `makeStore` opened. */
  teardown?(store: ServerStore): void | Promise<void>;
}

const T0 = Date.UTC(2030, 0, 1);
const HOUR = 3_600_000;

function fields(o: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const k of Object.keys(o)) out[k] = JSON.stringify(o[k]);
  return out;
}

function values(f: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(f)) out[k] = JSON.parse(f[k]);
  return out;
}

function stored(data: Record<string, unknown>, userId?: string): SessionRecord {
  const r: SessionRecord = {
    data: fields(data),
    flash: fields({}),
    createdAt: T0,
    expiresAt: T0 + HOUR,
    lastSeenAt: T0,
  };
  if (userId !== undefined) r.userId = userId;
  return r;
}

const change = (partial: Partial<SessionChange> = {}): SessionChange =>
  changeSet(T0 + HOUR, partial);

/** Registers the marker tests for `target`. */
export function movedMarkerContract(target: MarkerTarget): void {
  describe(`${target.name}: rotate leaves a marker under the old key`, () => {
    let store: ServerStore;
    let n = 0;
    // Unique per run, so a shared backend (Redis, PostgreSQL) holds nothing of an earlier run.
    const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    const key = () => `marker-${run}-${++n}`;

    before(async () => {
      store = await target.makeStore();
    });
    after(async () => {
      await target.teardown?.(store);
    });

    async function rotated(userId?: string) {
      const oldKey = key();
      const newKey = key();
      await store.create(oldKey, stored({ cart: 1 }, userId), T0);
      const moved = await store.rotate(oldKey, newKey, change({ set: fields({ a: 1 }) }), T0 + 5);
      assert.equal(moved, true);
      return { oldKey, newKey };
    }

    it("the old key reads as a marker: movedAt set, no data, flash or user", async () => {
      const { oldKey, newKey } = await rotated("ann");
      const marker = await store.get(oldKey, T0 + 10);
      assert.ok(marker, "no marker under the old key");
      assert.equal(marker.movedAt, T0 + 5);
      assert.deepEqual(values(marker.data), {});
      assert.deepEqual(values(marker.flash), {});
      assert.equal(marker.userId, undefined);
      assert.equal(marker.expiresAt, T0 + 5 + MOVED_MARKER_MS);
      const moved = await store.get(newKey, T0 + 10);
      assert.deepEqual(values(moved!.data), { cart: 1, a: 1 });
      assert.equal(moved!.movedAt, undefined);
      assert.equal(moved!.userId, "ann");
    });

    it("an update of the old key writes nothing and answers moved", async () => {
      const { oldKey, newKey } = await rotated();
      const late = change({ set: fields({ late: 1 }), increment: { cart: 5 } });
      assert.equal(await store.update(oldKey, late, T0 + 10), "moved");
      assert.deepEqual(values((await store.get(newKey, T0 + 10))!.data), { cart: 1, a: 1 });
      const marker = await store.get(oldKey, T0 + 10);
      assert.deepEqual(values(marker!.data), {});
      assert.equal(marker!.expiresAt, T0 + 5 + MOVED_MARKER_MS, "the update moved its expiry");
    });

    it("a second rotation of the old key writes nothing and answers moved", async () => {
      const { oldKey, newKey } = await rotated();
      const other = key();
      assert.equal(await store.rotate(oldKey, other, change(), T0 + 10), "moved");
      assert.equal(await store.get(other, T0 + 10), null);
      assert.ok(await store.get(newKey, T0 + 10));
    });

    it("the marker expires MOVED_MARKER_MS after the move", async () => {
      const { oldKey } = await rotated();
      assert.ok(await store.get(oldKey, T0 + 5 + MOVED_MARKER_MS - 1));
      assert.equal(await store.get(oldKey, T0 + 5 + MOVED_MARKER_MS + 1), null);
      // Expired, it is no session either: an update finds nothing.
      assert.equal(await store.update(oldKey, change(), T0 + 5 + MOVED_MARKER_MS + 1), false);
    });

    it("delete removes the marker; create replaces it", async () => {
      const a = await rotated();
      await store.delete(a.oldKey);
      assert.equal(await store.get(a.oldKey, T0 + 10), null);
      const b = await rotated();
      await store.create(b.oldKey, stored({ fresh: true }), T0 + 10);
      const r = await store.get(b.oldKey, T0 + 10);
      assert.equal(r!.movedAt, undefined);
      assert.deepEqual(values(r!.data), { fresh: true });
    });

    it("a marker is in no user index: not listed, not counted by deleteByUser", async (t) => {
      if (!store.listByUser || !store.deleteByUser) {
        return t.diagnostic("no per-user index");
      }
      const user = `u-${run}`;
      const { oldKey, newKey } = await rotated(user);
      const listed = await store.listByUser(user, T0 + 10);
      assert.deepEqual(listed.map((s) => s.key), [newKey]);
      assert.equal(await store.deleteByUser(user, [], T0 + 10), 1);
      assert.equal(await store.get(newKey, T0 + 10), null);
      // The marker is still there (it is not the user's), and still opens nothing.
      assert.equal((await store.get(oldKey, T0 + 10))?.movedAt, T0 + 5);
    });

    it("a rotation of a session that ended leaves no marker", async () => {
      const oldKey = key();
      await store.create(oldKey, stored({ x: 1 }), T0);
      await store.delete(oldKey);
      assert.equal(await store.rotate(oldKey, key(), change(), T0 + 5), false);
      assert.equal(await store.get(oldKey, T0 + 10), null);
    });

    it("cleanup removes expired markers", async (t) => {
      if (!store.cleanup) return t.diagnostic("the backend expires keys itself");
      const { oldKey } = await rotated();
      await store.cleanup(T0 + 5 + MOVED_MARKER_MS + 1);
      // Read at a time the marker would still be alive: cleanup really removed it.
      assert.equal(await store.get(oldKey, T0 + 10), null);
    });
  });
}
