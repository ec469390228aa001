/**
 * DenoKvStore's per-user index, on a real KV file: each index entry is
 * written, moved and removed in the same atomic operation as its session;
 * listing a user skips and removes entries whose session vanished (or is
 * another user's now); deleteByUser removes more sessions than one atomic
 * operation of Deno KV can hold; and 50 concurrent increments through
 * update() land exactly.
 *
 * The one injected fault: a wrapper around the real KV handle that logs what
 * each atomic operation writes, and can run another real write just before
 * the store's next commit (to put it inside the store's read-to-commit window).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { SessionConfigError } from "../src/errors.ts";
import {
  type JsonFields,
  MOVED_MARKER_MS,
  type SessionChange,
  type SessionRecord,
} from "../src/store.ts";
import {
  type DenoKvAtomicOperation,
  type DenoKvKeyPart,
  type DenoKvLike,
  DenoKvStore,
} from "../src/stores/deno_kv.ts";
import { changeSet } from "./helpers/changes.ts";

const deno = (globalThis as { Deno?: { openKv(path: string): Promise<DenoKvLike> } }).Deno;
const T0 = Date.now();
const HOUR = 3_600_000;

function fields(o: Record<string, unknown>): JsonFields {
  const out: JsonFields = Object.create(null);
  for (const k of Object.keys(o)) out[k] = JSON.stringify(o[k]);
  return out;
}

function values(f: JsonFields | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k in f) out[k] = JSON.parse(f[k]);
  return out;
}

function record(
  data: Record<string, unknown>,
  extra: Partial<SessionRecord> = {},
): SessionRecord {
  return {
    data: fields(data),
    flash: Object.create(null),
    createdAt: T0,
    expiresAt: T0 + HOUR,
    ...extra,
  };
}

const change = (partial: Partial<SessionChange>): SessionChange => changeSet(T0 + HOUR, partial);

/** One mutation of an atomic operation, as the log shows it. */
interface Mutation {
  type: "set" | "delete";
  key: DenoKvKeyPart[];
  expireIn?: number;
}

/**
 * The real handle, logging the mutations of every atomic operation that was
 * committed (whether its checks passed or not), with a hook that runs (once)
 * before the store's next commit.
 */
function logged(kv: DenoKvLike) {
  const commits: Mutation[][] = [];
  let hook: (() => Promise<unknown>) | undefined;
  const wrapped: DenoKvLike = {
    get: (k) => kv.get(k),
    getMany: (ks) => kv.getMany(ks),
    set: (k, v, o) => kv.set(k, v, o),
    delete: (k) => kv.delete(k),
    list: (s, o) => kv.list(s, o),
    close: () => kv.close(),
    atomic() {
      const op = kv.atomic();
      const mutations: Mutation[] = [];
      const logging: DenoKvAtomicOperation = {
        check(...checks) {
          op.check(...checks);
          return logging;
        },
        set(key, value, options) {
          mutations.push({ type: "set", key: [...key], expireIn: options?.expireIn });
          op.set(key, value, options);
          return logging;
        },
        delete(key) {
          mutations.push({ type: "delete", key: [...key] });
          op.delete(key);
          return logging;
        },
        async commit() {
          commits.push(mutations);
          const h = hook;
          hook = undefined;
          if (h) await h();
          return op.commit();
        },
      };
      return logging;
    },
  };
  return {
    kv: wrapped,
    commits,
    beforeNextCommit(h: () => Promise<unknown>) {
      hook = h;
    },
  };
}

if (deno === undefined) {
  describe("DenoKvStore's user index on Node.js", () => {
    it("is not reachable: the store is refused with a SessionConfigError", () => {
      assert.throws(() => new DenoKvStore({} as DenoKvLike), SessionConfigError);
    });
  });
} else {
  describe("DenoKvStore's per-user index on a real KV file", () => {
    let dir = "";
    let raw: DenoKvLike;
    let n = 0;
    const key = () => `k${++n}-${T0}`;
    const prefixOf = () => ["users", T0, ++n];

    /** The session keys the raw KV has index entries for, under `prefix` and `user`. */
    async function indexed(prefix: DenoKvKeyPart[], user: string): Promise<string[]> {
      const keys: string[] = [];
      for await (const e of raw.list({ prefix: [...prefix, "user", user] })) {
        keys.push(e.key[e.key.length - 1] as string);
      }
      return keys.sort();
    }

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), "oak-sessions-kv-users-"));
      raw = await deno.openKv(join(dir, "sessions.db"));
    });
    after(() => {
      raw.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it("keeps userId, lastSeenAt and meta with the record, and applies their changes", async () => {
      const store = new DenoKvStore(raw, { prefix: prefixOf() });
      const k = key();
      const meta = JSON.stringify({ ua: "Firefox", idle: 60 });
      await store.create(
        k,
        record({ a: 1 }, { userId: "ann", lastSeenAt: T0, meta, boundAt: T0 }),
        T0,
      );
      const got = await store.get(k, T0);
      assert.equal(got?.userId, "ann");
      assert.equal(got?.lastSeenAt, T0);
      assert.equal(got?.meta, meta);
      assert.equal(got?.boundAt, undefined, "a server store does not keep boundAt");
      const meta2 = JSON.stringify({ ua: "Chrome" });
      assert.ok(await store.update(k, change({ lastSeenAt: T0 + 5, meta: meta2 }), T0 + 5));
      const changed = await store.get(k, T0 + 5);
      assert.equal(changed?.lastSeenAt, T0 + 5);
      assert.equal(changed?.meta, meta2);
      assert.equal(changed?.userId, "ann", "userId undefined keeps the user");
      assert.ok(await store.update(k, change({}), T0 + 6));
      assert.equal((await store.get(k, T0 + 6))?.lastSeenAt, T0 + 5, "absent lastSeenAt keeps it");
      assert.ok(await store.update(k, change({ userId: null }), T0 + 7));
      assert.equal((await store.get(k, T0 + 7))?.userId, undefined, "null unbinds");
    });

    it("writes, moves and removes the index entry in the session's own atomic operation", async () => {
      const prefix = prefixOf();
      const t = logged(raw);
      const store = new DenoKvStore(t.kv, { prefix });
      const [k, moved] = [key(), key()];
      const session = [...prefix, k];
      const ann = (sk: string) => [...prefix, "user", "ann", sk];
      const bob = (sk: string) => [...prefix, "user", "bob", sk];

      await store.create(k, record({ a: 1 }, { userId: "ann" }), T0);
      assert.deepEqual(t.commits.at(-1), [
        { type: "set", key: session, expireIn: HOUR },
        { type: "set", key: ann(k), expireIn: HOUR },
      ]);
      assert.equal((await raw.get(ann(k))).value, T0 + HOUR, "the entry holds the expiry");

      // A write that keeps the user refreshes the entry's expiry with the session's.
      await store.update(k, change({ expiresAt: T0 + 2 * HOUR }), T0 + 1000);
      assert.deepEqual(t.commits.at(-1), [
        { type: "set", key: session, expireIn: 2 * HOUR - 1000 },
        { type: "set", key: ann(k), expireIn: 2 * HOUR - 1000 },
      ]);
      assert.equal((await raw.get(ann(k))).value, T0 + 2 * HOUR);

      // A change of user moves the entry.
      await store.update(k, change({ userId: "bob" }), T0);
      assert.deepEqual(t.commits.at(-1), [
        { type: "delete", key: ann(k) },
        { type: "set", key: session, expireIn: HOUR },
        { type: "set", key: bob(k), expireIn: HOUR },
      ]);
      assert.deepEqual(await indexed(prefix, "ann"), []);
      assert.deepEqual(await indexed(prefix, "bob"), [k]);

      // A rotation moves the session and its entry together, and leaves the
      // marker (no index entry) under the old key.
      assert.equal(await store.rotate(k, moved, change({}), T0), true);
      assert.deepEqual(t.commits.at(-1), [
        { type: "delete", key: bob(k) },
        { type: "set", key: session, expireIn: MOVED_MARKER_MS },
        { type: "set", key: [...prefix, moved], expireIn: HOUR },
        { type: "set", key: bob(moved), expireIn: HOUR },
      ]);
      assert.deepEqual(await indexed(prefix, "bob"), [moved]);

      // Unbinding removes the entry; a delete removes session and entry at once.
      await store.update(moved, change({ userId: null }), T0);
      assert.deepEqual(await indexed(prefix, "bob"), []);
      await store.update(moved, change({ userId: "ann" }), T0);
      await store.delete(moved);
      assert.deepEqual(t.commits.at(-1), [
        { type: "delete", key: [...prefix, moved] },
        { type: "delete", key: ann(moved) },
      ]);
      assert.deepEqual(await indexed(prefix, "ann"), []);

      // The session's check covers its entry: a binding that loses a race with
      // a delete writes neither.
      const late = key();
      await store.create(late, record({ a: 1 }), T0);
      t.beforeNextCommit(() => new DenoKvStore(raw, { prefix }).delete(late));
      assert.equal(await store.update(late, change({ userId: "carl" }), T0), false);
      assert.deepEqual(await indexed(prefix, "carl"), [], "no entry without its session");
      assert.equal((await raw.get([...prefix, late])).versionstamp, null);
    });

    it("listByUser returns the user's live sessions and removes entries whose session is gone", async () => {
      const prefix = prefixOf();
      const t = logged(raw);
      const store = new DenoKvStore(t.kv, { prefix });
      const [vanished, rebound, expired, alive] = [key(), key(), key(), key()];
      const meta = JSON.stringify({ ua: "Safari" });
      for (const k of [vanished, rebound, alive]) {
        await store.create(k, record({ k }, { userId: "ann", lastSeenAt: T0 + 1, meta }), T0);
      }
      await store.create(expired, record({}, { userId: "ann", expiresAt: T0 + 10 }), T0);
      await store.create(key(), record({}, { userId: "bob" }), T0);
      // KV dropped one session before its entry; another holds carl's session
      // now, its entry for ann left behind (written behind the store's back).
      await raw.delete([...prefix, vanished]);
      const carls = key();
      await store.create(carls, record({ mine: true }, { userId: "carl" }), T0);
      await raw.set([...prefix, rebound], (await raw.get([...prefix, carls])).value);
      assert.deepEqual(await indexed(prefix, "ann"), [alive, expired, rebound, vanished].sort());

      const list = await store.listByUser("ann", T0 + 10);
      assert.deepEqual(list.map((s) => s.key), [alive]);
      assert.deepEqual(values(list[0].record.data), { k: alive });
      assert.equal(list[0].record.userId, "ann");
      assert.equal(list[0].record.lastSeenAt, T0 + 1);
      assert.equal(list[0].record.meta, meta);
      assert.deepEqual(await indexed(prefix, "ann"), [alive], "the three stale entries went");
      assert.deepEqual(
        values((await store.get(rebound, T0))?.data),
        { mine: true },
        "carl's session itself stays",
      );
      assert.deepEqual((await store.listByUser("carl", T0)).map((s) => s.key), [carls]);
      assert.deepEqual(await store.listByUser("nobody", T0), []);

      // A stale entry rewritten between the listing's read and its removal stays.
      const again = key();
      await store.create(again, record({}, { userId: "ann" }), T0);
      await raw.delete([...prefix, again]);
      t.beforeNextCommit(() =>
        new DenoKvStore(raw, { prefix }).create(again, record({ back: 1 }, { userId: "ann" }), T0)
      );
      assert.deepEqual((await store.listByUser("ann", T0)).map((s) => s.key), [alive]);
      assert.deepEqual(
        (await store.listByUser("ann", T0)).map((s) => s.key).sort(),
        [again, alive].sort(),
        "the removal was checked against the entry it read",
      );
    });

    it("deleteByUser removes more sessions than one atomic operation holds, each with its entry", async () => {
      const prefix = prefixOf();
      const t = logged(raw);
      const store = new DenoKvStore(t.kv, { prefix });
      const count = 601; // two mutations each: over KV's 1000 per operation
      const keys = Array.from({ length: count }, key);
      for (let i = 0; i < count; i += 50) {
        await Promise.all(
          keys.slice(i, i + 50).map((k) => store.create(k, record({}, { userId: "ann" }), T0)),
        );
      }
      const dead = key();
      await store.create(dead, record({}, { userId: "ann", expiresAt: T0 + 10 }), T0);
      const bobs = key();
      await store.create(bobs, record({}, { userId: "bob" }), T0);

      // KV itself refuses one operation that large.
      const op = raw.atomic();
      for (const k of keys) op.delete([...prefix, "nothing", k]).delete([...prefix, "nil", k]);
      await assert.rejects(op.commit(), /Too many mutations/);

      const [kept] = keys;
      const first = t.commits.length;
      assert.equal(
        await store.deleteByUser("ann", [kept], T0 + 10),
        count - 1,
        "live ones counted",
      );
      const ops = t.commits.slice(first);
      assert.ok(ops.length >= 2, `in ${ops.length} operations`);
      const deleted = new Map<string, number>();
      ops.forEach((mutations, i) => {
        assert.ok(mutations.length <= 1000);
        for (const m of mutations) {
          assert.equal(m.type, "delete");
          deleted.set(JSON.stringify(m.key), i);
        }
      });
      for (const k of [...keys.slice(1), dead]) {
        const inOp = deleted.get(JSON.stringify([...prefix, k]));
        assert.notEqual(inOp, undefined, k);
        assert.equal(deleted.get(JSON.stringify([...prefix, "user", "ann", k])), inOp, "together");
      }
      assert.deepEqual(await indexed(prefix, "ann"), [kept]);
      assert.deepEqual((await store.listByUser("ann", T0)).map((s) => s.key), [kept]);
      assert.ok(await store.get(bobs, T0), "another user's session stays");
      assert.equal((await raw.get([...prefix, keys[1]])).versionstamp, null);
      assert.equal(await store.deleteByUser("ann", [], T0), 1);
      assert.deepEqual(await indexed(prefix, "ann"), []);
    });

    it("deleteByUser splits by the size of the keys too (a long prefix and user ID)", async () => {
      const prefix = ["p".repeat(1500), ++n];
      const t = logged(raw);
      const store = new DenoKvStore(t.kv, { prefix });
      const user = "u".repeat(256);
      // 520 mutations, but over 800 KiB of keys: more than KV takes in one operation.
      const keys = Array.from({ length: 260 }, key);
      for (let i = 0; i < keys.length; i += 50) {
        await Promise.all(
          keys.slice(i, i + 50).map((k) => store.create(k, record({}, { userId: user }), T0)),
        );
      }
      const op = raw.atomic();
      for (const k of keys) op.delete([...prefix, k]).delete([...prefix, "user", user, k]);
      await assert.rejects(op.commit(), /Total mutation size too large/);
      const first = t.commits.length;
      assert.equal(await store.deleteByUser(user, [], T0), keys.length);
      assert.ok(t.commits.length - first >= 2, "several operations");
      assert.deepEqual(await indexed(prefix, user), []);
      assert.equal((await raw.get([...prefix, keys[0]])).versionstamp, null);
    });

    it("deleteByUser also removes a session rotated to a new key while it ran", async () => {
      const prefix = prefixOf();
      const t = logged(raw);
      const store = new DenoKvStore(t.kv, { prefix });
      const [k, moved] = [key(), key()];
      await store.create(k, record({}, { userId: "ann" }), T0);
      // The rotation lands after deleteByUser read the index, before it deletes.
      t.beforeNextCommit(() => new DenoKvStore(raw, { prefix }).rotate(k, moved, change({}), T0));
      await store.deleteByUser("ann", [], T0);
      assert.equal(await store.get(moved, T0), null, "the moved session went too");
      assert.deepEqual(await indexed(prefix, "ann"), []);
    });

    it("50 concurrent update() increments, through two stores, land exactly", async () => {
      const prefix = prefixOf();
      const t = logged(raw);
      const stores = [new DenoKvStore(t.kv, { prefix }), new DenoKvStore(t.kv, { prefix })];
      const inc = (o: Record<string, number>) => Object.assign(Object.create(null), o);
      const k = key();
      await stores[0].create(k, record({ views: 10, name: "ann" }, { userId: "ann" }), T0);
      const before = t.commits.length;
      const applied = await Promise.all(
        Array.from(
          { length: 50 },
          (_, i) => stores[i % 2].update(k, change({ increment: inc({ views: 1 }) }), T0),
        ),
      );
      assert.deepEqual(applied, Array(50).fill(true));
      const commits = t.commits.length - before;
      assert.ok(commits > 50, `conflicts were retried (${commits} commits for 50 updates)`);
      const got = await stores[1].get(k, T0);
      assert.deepEqual(values(got?.data), { views: 60, name: "ann" });
      assert.equal(got?.data.views, "60", "stored as JSON number text");

      // A missing key counts as 0, a non-number is left alone, and set and
      // delete come before the increment.
      await stores[0].update(
        k,
        change({
          set: fields({ fresh: 5 }),
          delete: ["views"],
          increment: inc({ fresh: 2, views: 1.5, name: 1, missing: -3 }),
        }),
        T0,
      );
      assert.deepEqual(values((await stores[0].get(k, T0))?.data), {
        name: "ann",
        fresh: 7,
        views: 1.5,
        missing: -3,
      });
      assert.deepEqual((await stores[0].listByUser("ann", T0)).map((s) => s.key), [k]);
    });
  });
}
