/**
 * The store contract (`ServerStore`) as checks that call a store directly,
 * for authors of a store: run every check against your store in the test
 * framework you use. Each check throws a `StoreContractError` saying what
 * differed; none needs a test framework, a clock or a network of its own.
 *
 * @module
 */
import { SessionError } from "../errors.ts";
import {
  MOVED_MARKER_MS,
  type ServerStore,
  type SessionChange,
  type SessionRecord,
} from "../store.ts";

/** One check of the store contract. */
export interface StoreCheck {
  /** What the check proves, as a sentence (a test's name). */
  readonly name: string;
  /**
   * Runs the check on a store from `open`. Rejects with a
   * `StoreContractError` when the store breaks the contract; resolves to a
   * sentence saying why the check does not apply to this store (it has no
   * `listByUser`, say), or to `undefined` when it passed.
   */
  run(): Promise<string | undefined>;
}

/** Options of {@link storeContract}. */
export interface StoreContractOptions {
  /**
   * Called after each check with the store `open` gave it (whether the
   * check passed or not): close it, drop its table. Absent: nothing is
   * released, for a store that `open` shares between checks.
   */
  release?(store: ServerStore): void | Promise<void>;
}

/** A check of the store contract found the store breaking it. */
export class StoreContractError extends SessionError {
  /** The name of the check that failed. */
  readonly check: string;
  /** An error of check `check` whose message says what differed. */
  constructor(check: string, message: string) {
    super(`${check}: ${message}`);
    this.check = check;
  }
}

const T0 = Date.UTC(2030, 0, 1);
const MINUTE = 60_000;
const HOUR = 3_600_000;

/** A key to its JSON text, as a null-prototype map. */
function fields(o: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const k of Object.keys(o)) out[k] = JSON.stringify(o[k]);
  return out;
}

/** The values of a map of JSON text. */
function values(f: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(f)) out[k] = JSON.parse(f[k]);
  return out;
}

function record(
  data: Record<string, unknown>,
  times: { createdAt?: number; expiresAt?: number } = {},
  flash: Record<string, unknown> = {},
): SessionRecord {
  return {
    data: fields(data),
    flash: fields(flash),
    createdAt: times.createdAt ?? T0,
    expiresAt: times.expiresAt ?? T0 + HOUR,
  };
}

/** A change that moves the expiry to `expiresAt` (default: an hour on), with `partial` over it. */
function change(partial: Partial<SessionChange> = {}, expiresAt = T0 + HOUR): SessionChange {
  return { clear: false, set: Object.create(null), delete: [], flash: null, expiresAt, ...partial };
}

/** `value` as text that is the same for equal values whatever their keys' order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  }) ?? "undefined";
}

/** The assertions of one check, each failing with a `StoreContractError` named for it. */
class Expect {
  constructor(readonly check: string) {}

  fail(message: string): never {
    throw new StoreContractError(this.check, message);
  }

  /** `value`, which must be there (not `null`, `undefined` or `false`). */
  ok<T>(value: T | null | undefined | false, what: string): T {
    if (value === null || value === undefined || value === false) {
      this.fail(`${what}: got ${String(value)}`);
    }
    return value;
  }

  equal(actual: unknown, expected: unknown, what: string): void {
    if (!Object.is(actual, expected)) {
      this.fail(`${what}: expected ${canonical(expected)}, got ${canonical(actual)}`);
    }
  }

  same(actual: unknown, expected: unknown, what: string): void {
    const a = canonical(actual);
    const e = canonical(expected);
    if (a !== e) this.fail(`${what}: expected ${e}, got ${a}`);
  }
}

/** What a check does, given its store, a maker of keys of its own, and its assertions. */
type CheckBody = (
  store: ServerStore,
  key: () => string,
  expect: Expect,
) => Promise<string | undefined | void>;

/**
 * The checks of the store contract of `ServerStore` (see `ServerStore` and
 * `SessionRecord`): records come back as stored, `update` applies a change
 * atomically and only to a live session, `rotate` moves a session and
 * leaves a marker under the old key, the per-user index and `cleanup` (for
 * a store that has them). `open` is called once per check; it may return
 * the same store every time, since every check uses keys of its own (run
 * the checks one after another: `cleanup` removes what is expired). The
 * checks pass `now` explicitly, from a fixed time in the future, and need
 * no clock; a store that expires keys by itself must count from that `now`.
 *
 * ```ts
 * import { describe, it } from "node:test";
 * import { MemoryStore } from "oak-sessions";
 * import { storeContract } from "oak-sessions/testing";
 *
 * describe("MemoryStore keeps the store contract", () => {
 *   for (const check of storeContract(() => Promise.resolve(new MemoryStore()))) {
 *     it(check.name, async (t) => {
 *       const skipped = await check.run();
 *       if (skipped) t.skip(skipped);
 *     });
 *   }
 * });
 * ```
 */
export function storeContract(
  open: () => Promise<ServerStore>,
  options: StoreContractOptions = {},
): StoreCheck[] {
  // Unique per call, so a shared backend (Redis, PostgreSQL) holds nothing of an earlier run.
  const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  let n = 0;
  const key = () => `contract-${run}-${++n}`;
  return CHECKS.map(([name, body]) => ({
    name,
    async run() {
      const store = await open();
      try {
        return (await body(store, key, new Expect(name))) ?? undefined;
      } finally {
        await options.release?.(store);
      }
    },
  }));
}

/** A session under a new key, rotated to another at `T0 + 5`. */
async function rotated(
  store: ServerStore,
  key: () => string,
  expect: Expect,
  userId?: string,
): Promise<{ oldKey: string; newKey: string }> {
  const oldKey = key();
  const newKey = key();
  const r = record({ cart: 1 });
  r.lastSeenAt = T0;
  if (userId !== undefined) r.userId = userId;
  await store.create(oldKey, r, T0);
  const moved = await store.rotate(oldKey, newKey, change({ set: fields({ a: 1 }) }), T0 + 5);
  expect.equal(moved, true, "rotate of a live session");
  return { oldKey, newKey };
}

const CHECKS: ReadonlyArray<readonly [string, CheckBody]> = [
  ["get of a key never stored is null", async (store, key, expect) => {
    expect.equal(await store.get(key(), T0), null, "get");
  }],

  [
    "create then get gives the record back: data and flash as null-prototype maps of JSON text, exact times, user, lastSeenAt and meta",
    async (store, key, expect) => {
      const k = key();
      const rec = record(
        { user: "ana", n: 3, nested: { a: [1, "two", null] }, "ü ✓": true },
        { createdAt: T0, expiresAt: Date.UTC(2100, 0, 1) + 123 },
        { notice: "saved" },
      );
      rec.userId = `ana-${k}`;
      rec.lastSeenAt = T0 + 7;
      rec.meta = '{"i":600}';
      await store.create(k, rec, T0);
      const got = expect.ok(await store.get(k, T0), "get after create");
      expect.equal(Object.getPrototypeOf(got.data), null, "the prototype of data");
      expect.equal(Object.getPrototypeOf(got.flash), null, "the prototype of flash");
      expect.same(values(got.data), values(rec.data), "data");
      expect.same(values(got.flash), values(rec.flash), "flash");
      expect.equal(got.createdAt, T0, "createdAt");
      // Millisecond timestamps past 2^32 come back exact.
      expect.equal(got.expiresAt, Date.UTC(2100, 0, 1) + 123, "expiresAt");
      expect.equal(got.userId, rec.userId, "userId");
      expect.equal(got.lastSeenAt, T0 + 7, "lastSeenAt");
      expect.equal(got.meta, '{"i":600}', "meta");
      expect.equal(got.movedAt, undefined, "movedAt of a session that never moved");
    },
  ],

  ["a session is gone from its expiry on (expiresAt <= now)", async (store, key, expect) => {
    const k = key();
    await store.create(k, record({ a: 1 }, { expiresAt: T0 + MINUTE }), T0);
    expect.ok(await store.get(k, T0 + MINUTE - 1), "get a millisecond before the expiry");
    expect.equal(await store.get(k, T0 + MINUTE), null, "get at the expiry");
  }],

  ["create replaces a session stored under the same key", async (store, key, expect) => {
    const k = key();
    await store.create(k, record({ a: 1, b: 2 }), T0);
    await store.create(k, record({ c: 3 }, { createdAt: T0 + 5 }), T0 + 5);
    const got = expect.ok(await store.get(k, T0 + 10), "get after the second create");
    expect.same(values(got.data), { c: 3 }, "data");
    expect.equal(got.createdAt, T0 + 5, "createdAt");
  }],

  [
    "update applies clear, then set, then delete, then flash and expiry",
    async (store, key, expect) => {
      const k = key();
      await store.create(k, record({ a: 1, b: 2 }, {}, { old: 1 }), T0);
      expect.equal(
        await store.update(k, change({ set: fields({ c: 3, d: 4 }), delete: ["a"] }), T0),
        true,
        "update of a live session",
      );
      let got = expect.ok(await store.get(k, T0), "get after the update");
      expect.same(values(got.data), { b: 2, c: 3, d: 4 }, "data");
      expect.same(values(got.flash), { old: 1 }, "flash after flash: null (keep the stored flash)");
      expect.equal(
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
        "second update",
      );
      got = expect.ok(await store.get(k, T0), "get after the second update");
      expect.same(values(got.data), { e: 5 }, "data");
      expect.same(values(got.flash), { notice: "hi" }, "flash");
      expect.equal(got.expiresAt, T0 + 2 * HOUR, "expiresAt");
      expect.equal(got.createdAt, T0, "createdAt never changes");
    },
  ],

  [
    "update adds increments in the store, after set and delete: a missing key counts as 0, a non-number is left alone",
    async (store, key, expect) => {
      const k = key();
      await store.create(k, record({ n: 1, s: "x", gone: 5 }), T0);
      const increment: Record<string, number> = Object.create(null);
      Object.assign(increment, { n: 2, m: 3, s: 1, gone: 4, fresh: 1 });
      const applied = await store.update(
        k,
        change({ set: fields({ fresh: 10 }), delete: ["gone"], increment }),
        T0,
      );
      expect.equal(applied, true, "update with increments");
      const got = expect.ok(await store.get(k, T0), "get after the update");
      expect.same(values(got.data), { n: 3, s: "x", m: 3, gone: 4, fresh: 11 }, "data");
      expect.equal(got.data.n, "3", "a sum is stored as JSON number text");
    },
  ],

  [
    "update binds, keeps and unbinds the user, and replaces meta and lastSeenAt",
    async (store, key, expect) => {
      const k = key();
      await store.create(k, record({ a: 1 }), T0);
      const user = `u-${k}`;
      expect.equal(
        await store.update(k, change({ userId: user, meta: '{"p":true}', lastSeenAt: T0 + 9 }), T0),
        true,
        "update binding the user",
      );
      let got = await store.get(k, T0);
      expect.equal(got?.userId, user, "userId after binding");
      expect.equal(got?.meta, '{"p":true}', "meta");
      expect.equal(got?.lastSeenAt, T0 + 9, "lastSeenAt");
      expect.equal(await store.update(k, change({ set: fields({ b: 2 }) }), T0), true, "update");
      got = await store.get(k, T0);
      expect.equal(got?.userId, user, "userId after an update that does not name it");
      expect.equal(got?.meta, '{"p":true}', "meta after an update that does not name it");
      expect.equal(await store.update(k, change({ userId: null }), T0), true, "update unbinding");
      got = expect.ok(await store.get(k, T0), "get after unbinding");
      expect.equal(got.userId, undefined, "userId after unbinding");
      expect.same(values(got.data), { a: 1, b: 2 }, "data");
    },
  ],

  ["update of a missing session returns false and creates nothing", async (store, key, expect) => {
    const k = key();
    expect.equal(await store.update(k, change({ set: fields({ a: 1 }) }), T0), false, "update");
    expect.equal(await store.get(k, T0), null, "get after the update");
    expect.equal(await store.update(k, change({}), T0), false, "a refresh");
    expect.equal(await store.get(k, T0), null, "get after the refresh");
  }],

  [
    "update of an expired session returns false and does not revive it",
    async (store, key, expect) => {
      const k = key();
      await store.create(k, record({ a: 1 }, { expiresAt: T0 + MINUTE }), T0);
      const later = T0 + MINUTE;
      expect.equal(
        await store.update(k, change({ set: fields({ b: 2 }) }, later + HOUR), later),
        false,
        "update at the expiry",
      );
      expect.equal(await store.update(k, change({}, later + HOUR), later), false, "a refresh");
      expect.equal(await store.get(k, later), null, "get at the expiry");
    },
  ],

  ["a refresh (expiry only) moves the expiry and keeps the data", async (store, key, expect) => {
    const k = key();
    await store.create(k, record({ a: 1 }, { expiresAt: T0 + MINUTE }), T0);
    expect.equal(await store.update(k, change({}, T0 + HOUR), T0 + 5), true, "refresh");
    const got = expect.ok(await store.get(k, T0 + 2 * MINUTE), "get after the old expiry");
    expect.same(values(got.data), { a: 1 }, "data");
    expect.equal(got.expiresAt, T0 + HOUR, "expiresAt");
  }],

  ["two concurrent updates of different keys both land", async (store, key, expect) => {
    const k = key();
    await store.create(k, record({}), T0);
    const results = await Promise.all([
      store.update(k, change({ set: fields({ left: 1 }) }), T0),
      store.update(k, change({ set: fields({ right: 2 }) }), T0),
    ]);
    expect.same(results, [true, true], "the updates");
    const got = expect.ok(await store.get(k, T0), "get after the updates");
    expect.same(values(got.data), { left: 1, right: 2 }, "data");
  }],

  [
    "delete removes the session, is idempotent, and an update after it does nothing",
    async (store, key, expect) => {
      const k = key();
      await store.create(k, record({ a: 1 }), T0);
      await store.delete(k);
      await store.delete(k);
      expect.equal(await store.get(k, T0), null, "get after delete");
      expect.equal(await store.update(k, change({ set: fields({ b: 1 }) }), T0), false, "update");
      expect.equal(await store.get(k, T0), null, "get after the update");
    },
  ],

  [
    "rotate moves the stored session, with the change applied, to the new key",
    async (store, key, expect) => {
      const oldKey = key();
      const newKey = key();
      const user = `u-${oldKey}`;
      const r = record({ cart: 1, gone: 2 }, {}, { notice: "x" });
      r.userId = user;
      r.meta = '{"i":60}';
      await store.create(oldKey, r, T0);
      // Another request's write after this one read the session: rotate keeps it.
      await store.update(oldKey, change({ set: fields({ other: 3 }) }), T0 + 1);
      const moved = await store.rotate(
        oldKey,
        newKey,
        change({ set: fields({ a: 1 }), delete: ["gone"], lastSeenAt: T0 + 5 }, T0 + 2 * HOUR),
        T0 + 5,
      );
      expect.equal(moved, true, "rotate of a live session");
      const got = expect.ok(await store.get(newKey, T0 + 10), "get of the new key");
      expect.same(values(got.data), { cart: 1, other: 3, a: 1 }, "data under the new key");
      expect.same(values(got.flash), { notice: "x" }, "flash under the new key");
      expect.equal(got.userId, user, "userId under the new key");
      expect.equal(got.meta, '{"i":60}', "meta under the new key");
      expect.equal(got.createdAt, T0, "createdAt under the new key");
      expect.equal(got.expiresAt, T0 + 2 * HOUR, "expiresAt under the new key");
      expect.equal(got.lastSeenAt, T0 + 5, "lastSeenAt under the new key");
      expect.equal(got.movedAt, undefined, "movedAt under the new key");
    },
  ],

  [
    "rotate of a missing or expired session writes nothing and answers false",
    async (store, key, expect) => {
      const missing = key();
      const target = key();
      expect.equal(
        await store.rotate(missing, target, change(), T0),
        false,
        "rotate of a missing key",
      );
      expect.equal(await store.get(target, T0), null, "the new key after it");
      expect.equal(await store.get(missing, T0), null, "the old key after it (no marker)");
      const expired = key();
      await store.create(expired, record({ a: 1 }, { expiresAt: T0 + MINUTE }), T0);
      const at = T0 + MINUTE;
      expect.equal(await store.rotate(expired, target, change(), at), false, "rotate when expired");
      expect.equal(await store.get(target, at), null, "the new key after it");
    },
  ],

  // The per-user index.

  [
    "listByUser lists a user's live sessions; deleteByUser removes all but the kept ones and counts them",
    async (store, key, expect) => {
      if (!store.listByUser || !store.deleteByUser) return "the store keeps no per-user index";
      const user = `u-${key()}`;
      const [a, b, c, other] = [key(), key(), key(), key()];
      for (const k of [a, b]) await store.create(k, { ...record({ k }), userId: user }, T0);
      const short = { ...record({ k: c }, { expiresAt: T0 + MINUTE }), userId: user };
      await store.create(c, short, T0);
      await store.create(other, { ...record({}), userId: `${user}-other` }, T0);
      const at = T0 + 2 * MINUTE;
      const listed = await store.listByUser(user, at);
      expect.same(listed.map((s) => s.key).sort(), [a, b].sort(), "keys listed (c expired)");
      for (const s of listed) {
        expect.same(values(s.record.data), { k: s.key }, `data of the listed ${s.key}`);
        expect.equal(s.record.userId, user, `userId of the listed ${s.key}`);
      }
      expect.same(await store.listByUser(`${user}-nobody`, at), [], "a user with no session");
      await store.delete(c);
      expect.equal(await store.deleteByUser(user, [a], at), 1, "deleteByUser's count");
      expect.equal(await store.get(b, at), null, "the removed session");
      expect.ok(await store.get(a, at), "the kept session");
      expect.ok(await store.get(other, at), "another user's session");
      expect.same((await store.listByUser(user, at)).map((s) => s.key), [a], "keys listed after");
      expect.equal(await store.deleteByUser(user, [], at), 1, "deleteByUser of the rest");
      expect.same(await store.listByUser(user, at), [], "listed after removing them all");
    },
  ],

  [
    "a session unbound or deleted leaves its user's list",
    async (store, key, expect) => {
      if (!store.listByUser) return "the store keeps no per-user index";
      const user = `u-${key()}`;
      const [a, b, c] = [key(), key(), key()];
      for (const k of [a, b, c]) await store.create(k, { ...record({}), userId: user }, T0);
      expect.equal(await store.update(a, change({ userId: null }), T0), true, "unbinding a");
      expect.equal(await store.update(b, change({ userId: `${user}-2` }), T0), true, "binding b");
      await store.delete(c);
      expect.same(await store.listByUser(user, T0), [], "the user's sessions");
      const moved = await store.listByUser(`${user}-2`, T0);
      expect.same(moved.map((s) => s.key), [b], "the other user's sessions");
    },
  ],

  // cleanup, for a store that has it.

  [
    "cleanup removes expired sessions, keeps live ones, and counts what it removed",
    async (store, key, expect) => {
      if (!store.cleanup) return "the store has no cleanup (its backend expires keys itself)";
      const live = key();
      const dead = [key(), key(), key()];
      const at = T0 + 10 * MINUTE;
      await store.create(live, record({ a: 1 }, { expiresAt: at + 1 }), T0);
      for (const k of dead) await store.create(k, record({ a: 1 }, { expiresAt: at - 1 }), T0);
      // Sessions of other checks may expire by then too: they count as well.
      const removed = await store.cleanup(at);
      expect.ok(removed >= dead.length, `cleanup's count (${removed}) covers the 3 expired`);
      for (const k of dead) expect.equal(await store.get(k, T0), null, "an expired session");
      expect.ok(await store.get(live, at), "the live session");
      expect.equal(await store.cleanup(at), 0, "a second cleanup's count");
    },
  ],

  // The marker a rotation leaves under the old key (`movedMarker`).

  [
    "after rotate, the old key reads as a marker: movedAt set, no data, flash or user",
    async (store, key, expect) => {
      const user = `ann-${key()}`;
      const { oldKey, newKey } = await rotated(store, key, expect, user);
      const marker = expect.ok(await store.get(oldKey, T0 + 10), "the marker under the old key");
      expect.equal(marker.movedAt, T0 + 5, "the marker's movedAt");
      expect.same(values(marker.data), {}, "the marker's data");
      expect.same(values(marker.flash), {}, "the marker's flash");
      expect.equal(marker.userId, undefined, "the marker's userId");
      expect.equal(marker.expiresAt, T0 + 5 + MOVED_MARKER_MS, "the marker's expiresAt");
      const moved = expect.ok(await store.get(newKey, T0 + 10), "the session under the new key");
      expect.same(values(moved.data), { cart: 1, a: 1 }, "data under the new key");
      expect.equal(moved.movedAt, undefined, "movedAt under the new key");
      expect.equal(moved.userId, user, "userId under the new key");
    },
  ],

  ["an update of a marker's key writes nothing and answers moved", async (store, key, expect) => {
    const { oldKey, newKey } = await rotated(store, key, expect);
    const increment: Record<string, number> = Object.create(null);
    increment.cart = 5;
    const late = change({ set: fields({ late: 1 }), increment });
    expect.equal(await store.update(oldKey, late, T0 + 10), "moved", "update of the old key");
    const moved = await store.get(newKey, T0 + 10);
    expect.same(values(moved?.data ?? {}), { cart: 1, a: 1 }, "data under the new key");
    const marker = expect.ok(await store.get(oldKey, T0 + 10), "the marker");
    expect.same(values(marker.data), {}, "the marker's data");
    expect.equal(marker.expiresAt, T0 + 5 + MOVED_MARKER_MS, "the marker's expiresAt");
  }],

  [
    "a second rotation of a marker's key writes nothing and answers moved",
    async (store, key, expect) => {
      const { oldKey, newKey } = await rotated(store, key, expect);
      const other = key();
      expect.equal(await store.rotate(oldKey, other, change(), T0 + 10), "moved", "rotate");
      expect.equal(await store.get(other, T0 + 10), null, "the second rotation's new key");
      expect.ok(await store.get(newKey, T0 + 10), "the first rotation's new key");
    },
  ],

  ["a marker expires MOVED_MARKER_MS after the move", async (store, key, expect) => {
    const { oldKey } = await rotated(store, key, expect);
    const end = T0 + 5 + MOVED_MARKER_MS;
    expect.ok(await store.get(oldKey, end - 1), "the marker a millisecond before it expires");
    expect.equal(await store.get(oldKey, end + 1), null, "the marker after it expired");
    // Expired, it is no session either: an update finds nothing.
    expect.equal(await store.update(oldKey, change(), end + 1), false, "update of it, expired");
  }],

  ["delete removes a marker; create replaces it", async (store, key, expect) => {
    const a = await rotated(store, key, expect);
    await store.delete(a.oldKey);
    expect.equal(await store.get(a.oldKey, T0 + 10), null, "the marker after delete");
    const b = await rotated(store, key, expect);
    const fresh = record({ fresh: true });
    fresh.lastSeenAt = T0;
    await store.create(b.oldKey, fresh, T0 + 10);
    const r = expect.ok(await store.get(b.oldKey, T0 + 10), "the session created over the marker");
    expect.equal(r.movedAt, undefined, "its movedAt");
    expect.same(values(r.data), { fresh: true }, "its data");
  }],

  [
    "a marker is in no user index: not listed, not counted by deleteByUser",
    async (store, key, expect) => {
      if (!store.listByUser || !store.deleteByUser) return "the store keeps no per-user index";
      const user = `u-${key()}`;
      const { oldKey, newKey } = await rotated(store, key, expect, user);
      const listed = await store.listByUser(user, T0 + 10);
      expect.same(listed.map((s) => s.key), [newKey], "the user's sessions");
      expect.equal(await store.deleteByUser(user, [], T0 + 10), 1, "deleteByUser's count");
      expect.equal(await store.get(newKey, T0 + 10), null, "the user's session after it");
      // The marker is still there (it is not the user's), and still opens nothing.
      expect.equal((await store.get(oldKey, T0 + 10))?.movedAt, T0 + 5, "the marker's movedAt");
    },
  ],

  ["a rotation of a session that ended leaves no marker", async (store, key, expect) => {
    const oldKey = key();
    const r = record({ x: 1 });
    r.lastSeenAt = T0;
    await store.create(oldKey, r, T0);
    await store.delete(oldKey);
    expect.equal(await store.rotate(oldKey, key(), change(), T0 + 5), false, "rotate");
    expect.equal(await store.get(oldKey, T0 + 10), null, "the old key");
  }],

  ["cleanup removes expired markers", async (store, key, expect) => {
    if (!store.cleanup) return "the store has no cleanup (its backend expires keys itself)";
    const { oldKey } = await rotated(store, key, expect);
    await store.cleanup(T0 + 5 + MOVED_MARKER_MS + 1);
    // Read at a time the marker would still be alive: cleanup really removed it.
    expect.equal(await store.get(oldKey, T0 + 10), null, "the marker after cleanup");
  }],
];
