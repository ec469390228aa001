/**
 * DenoKvStore on a real KV file: a write that loses a race with another
 * write is retried on top of it (so that write is kept), a write that loses
 * a race with a delete writes nothing (delete wins), a rotation is one
 * checked move, every write carries KV's expireIn, a session over KV's 64 KiB
 * limit is refused before anything is written, entries are keyed by the hash
 * and never by the session ID, and a closed handle, a value of the wrong
 * kind or Node.js are refused with a SessionConfigError that says what to do.
 *
 * The one injected fault: a wrapper around the real KV handle that runs
 * another real write just before the store's next commit, to put that write
 * exactly inside the store's read-to-commit window.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application } from "@oakserver/oak";
import { SessionConfigError, SessionTooLargeError } from "../src/errors.ts";
import { Session } from "../src/session.ts";
import { sessionKey } from "../src/session_id.ts";
import {
  type JsonFields,
  MOVED_MARKER_MS,
  type SessionChange,
  type SessionRecord,
} from "../src/store.ts";
import { DENO_KV_VALUE_LIMIT, type DenoKvLike, DenoKvStore } from "../src/stores/deno_kv.ts";
import { CookieClient } from "./kit/http_client.ts";
import { serve } from "./kit/oak_server.ts";
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

function record(data: Record<string, unknown>, expiresAt = T0 + HOUR): SessionRecord {
  return { data: fields(data), flash: Object.create(null), createdAt: T0, expiresAt };
}

const change = (partial: Partial<SessionChange>): SessionChange => changeSet(T0 + HOUR, partial);

/** The real handle, with a hook that runs (once) before the store's next atomic commit. */
function interleaving(kv: DenoKvLike) {
  let hook: (() => Promise<unknown>) | undefined;
  let commits = 0;
  const wrapped: DenoKvLike = {
    get: (k) => kv.get(k),
    getMany: (ks) => kv.getMany(ks),
    set: (k, v, o) => kv.set(k, v, o),
    delete: (k) => kv.delete(k),
    list: (s) => kv.list(s),
    close: () => kv.close(),
    atomic() {
      const op = kv.atomic();
      const commit = op.commit.bind(op);
      op.commit = async () => {
        commits++;
        const h = hook;
        hook = undefined;
        if (h) await h();
        return commit();
      };
      return op;
    },
  };
  return {
    kv: wrapped,
    beforeNextCommit(h: () => Promise<unknown>) {
      hook = h;
    },
    commits: () => commits,
  };
}

if (deno === undefined) {
  describe("DenoKvStore on Node.js", () => {
    it("is refused at construction with a SessionConfigError naming what to use", () => {
      assert.throws(
        () => new DenoKvStore({} as DenoKvLike),
        (e: unknown) =>
          e instanceof SessionConfigError &&
          e.message.includes("DenoKvStore needs Deno (Deno.openKv)") &&
          e.message.includes("On Node.js use SqliteStore, RedisStore"),
      );
    });
  });
} else {
  describe("DenoKvStore on a real KV file", () => {
    let dir = "";
    let raw: DenoKvLike;
    let n = 0;
    const key = () => `k${++n}-${T0}`;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), "oak-sessions-kv-"));
      raw = await deno.openKv(join(dir, "sessions.db"));
    });
    after(() => {
      raw.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it("an update that loses a race with a write of another key retries and keeps both", async () => {
      const t = interleaving(raw);
      const store = new DenoKvStore(t.kv);
      const other = new DenoKvStore(raw);
      const k = key();
      await store.create(k, record({ base: 0 }), T0);
      t.beforeNextCommit(() => other.update(k, change({ set: fields({ left: 1 }) }), T0));
      const before = t.commits();
      assert.equal(await store.update(k, change({ set: fields({ right: 2 }) }), T0), true);
      assert.equal(t.commits() - before, 2, "the first commit conflicted and was retried");
      assert.deepEqual(values((await store.get(k, T0))?.data), { base: 0, left: 1, right: 2 });
    });

    it("an update that loses a race with a delete writes nothing (delete wins)", async () => {
      const t = interleaving(raw);
      const store = new DenoKvStore(t.kv);
      const k = key();
      await store.create(k, record({ user: "ann" }), T0);
      t.beforeNextCommit(() => new DenoKvStore(raw).delete(k));
      assert.equal(await store.update(k, change({ set: fields({ late: true }) }), T0), false);
      assert.equal(await store.get(k, T0), null);
      assert.equal((await raw.get(["oak_sessions", k])).versionstamp, null, "no entry at all");
    });

    it("rotate moves the stored record with the change applied, in one checked operation", async () => {
      const t = interleaving(raw);
      const store = new DenoKvStore(t.kv);
      const [oldK, newK] = [key(), key()];
      await store.create(oldK, record({ a: 1, b: 2 }), T0);
      // Another request sets `c` between the rotation's read and its commit.
      t.beforeNextCommit(() =>
        new DenoKvStore(raw).update(oldK, change({ set: fields({ c: 3 }) }), T0)
      );
      const moved = await store.rotate(
        oldK,
        newK,
        change({ set: fields({ d: 4 }), delete: ["a"], expiresAt: T0 + 2 * HOUR }),
        T0,
      );
      assert.equal(moved, true);
      assert.equal((await store.get(oldK, T0))?.movedAt, T0, "the old key holds the marker");
      const got = await store.get(newK, T0);
      assert.deepEqual(values(got?.data), { b: 2, c: 3, d: 4 }, "the concurrent write was kept");
      assert.equal(got?.createdAt, T0, "createdAt kept");
      assert.equal(got?.expiresAt, T0 + 2 * HOUR);
    });

    it("rotate of a session deleted (or expired) meanwhile writes nothing and returns false", async () => {
      const t = interleaving(raw);
      const store = new DenoKvStore(t.kv);
      const [oldK, newK] = [key(), key()];
      await store.create(oldK, record({ a: 1 }), T0);
      t.beforeNextCommit(() => new DenoKvStore(raw).delete(oldK));
      assert.equal(await store.rotate(oldK, newK, change({}), T0), false);
      assert.equal(
        (await raw.get(["oak_sessions", newK])).versionstamp,
        null,
        "nothing under newKey",
      );

      const [expiredK, newK2] = [key(), key()];
      await store.create(expiredK, record({ a: 1 }, T0 + 10), T0);
      assert.equal(await store.rotate(expiredK, newK2, change({}), T0 + 10), false);
      assert.equal((await raw.get(["oak_sessions", newK2])).versionstamp, null);
    });

    it("rotate never overwrites a session already under the new key", async () => {
      const store = new DenoKvStore(raw);
      const [oldK, taken] = [key(), key()];
      await store.create(oldK, record({ mine: 1 }), T0);
      await store.create(taken, record({ theirs: 1 }), T0);
      assert.equal(await store.rotate(oldK, taken, change({}), T0), false);
      assert.deepEqual(values((await store.get(taken, T0))?.data), { theirs: 1 });
      assert.deepEqual(values((await store.get(oldK, T0))?.data), { mine: 1 });
    });

    it("a session over 64 KiB is refused before anything is written", async () => {
      const store = new DenoKvStore(raw);
      const k = key();
      await store.create(k, record({ small: 1 }), T0);
      const big = fields({ blob: "x".repeat(DENO_KV_VALUE_LIMIT) });
      await assert.rejects(store.update(k, change({ set: big }), T0), (e: unknown) => {
        assert.ok(e instanceof SessionTooLargeError);
        assert.equal(e.limit, DENO_KV_VALUE_LIMIT);
        assert.ok(e.size > DENO_KV_VALUE_LIMIT);
        assert.match(e.message, /64|65536/);
        assert.match(e.message, /nothing was written/);
        return true;
      });
      assert.deepEqual(
        values((await store.get(k, T0))?.data),
        { small: 1 },
        "the stored session is intact",
      );
      const fresh = key();
      await assert.rejects(
        store.create(fresh, record({ blob: "y".repeat(70_000) }), T0),
        SessionTooLargeError,
      );
      assert.equal((await raw.get(["oak_sessions", fresh])).versionstamp, null);
      // Just under the limit fits: the limit is KV's own, not a guess.
      const fits = key();
      const overhead = JSON.stringify({ v: 1, c: T0, e: T0 + HOUR, d: { b: '""' }, f: {} }).length;
      await store.create(fits, record({ b: "z".repeat(DENO_KV_VALUE_LIMIT - overhead - 8) }), T0);
      assert.ok(await store.get(fits, T0));
    });

    it("every write carries KV's expireIn: the session's remaining life", async () => {
      const expireIns: Array<number | undefined> = [];
      const spy: DenoKvLike = {
        ...interleaving(raw).kv,
        set(k, v, o) {
          expireIns.push(o?.expireIn);
          return raw.set(k, v, o);
        },
        atomic() {
          const op = raw.atomic();
          const set = op.set.bind(op);
          op.set = (k, v, o) => {
            expireIns.push(o?.expireIn);
            return set(k, v, o);
          };
          return op;
        },
      };
      const store = new DenoKvStore(spy);
      const [k, moved] = [key(), key()];
      await store.create(k, record({ a: 1 }, T0 + HOUR), T0);
      await store.update(k, change({ expiresAt: T0 + 2 * HOUR }), T0 + 1000);
      await store.rotate(k, moved, change({ expiresAt: T0 + 3 * HOUR }), T0 + 2000);
      // The rotation's marker under the old key lives MOVED_MARKER_MS.
      assert.deepEqual(expireIns, [HOUR, 2 * HOUR - 1000, MOVED_MARKER_MS, 3 * HOUR - 2000]);
    });

    it("an expired entry is ignored by get and removed by cleanup; a live one stays", async () => {
      const store = new DenoKvStore(raw, { prefix: ["cleanup", T0] });
      const [dead, alive] = [key(), key()];
      await store.create(dead, record({ a: 1 }, T0 + 1000), T0);
      await store.create(alive, record({ a: 2 }, T0 + HOUR), T0);
      assert.equal(await store.get(dead, T0 + 1000), null);
      assert.equal(
        await store.update(dead, change({ expiresAt: T0 + HOUR }), T0 + 1000),
        false,
        "not revived",
      );
      assert.equal(await store.cleanup(T0 + 1000), 1);
      assert.equal((await raw.get(["cleanup", T0, dead])).versionstamp, null);
      assert.ok(await store.get(alive, T0 + 1000));
    });

    it("keys entries by the SHA-256 of the session ID, never by the ID", async () => {
      const prefix = ["hashed", T0];
      const app = new Application();
      app.use(Session.initMiddleware(new DenoKvStore(raw, { prefix })));
      app.use((ctx) => {
        ctx.state.session.set("n", 1);
        ctx.response.body = "ok";
      });
      const server = await serve(app);
      try {
        const c = new CookieClient(server.url);
        await c.get("/");
        const id = c.cookies.get("session") ?? "";
        assert.match(id, /^[A-Za-z0-9_-]{43}$/);
        const keys: unknown[][] = [];
        for await (const e of raw.list({ prefix })) keys.push([...e.key]);
        assert.deepEqual(keys, [[...prefix, await sessionKey(id)]]);
        const dump = JSON.stringify(keys);
        assert.ok(!dump.includes(id), "the ID appears nowhere in the keys");
      } finally {
        server.close();
      }
    });

    it("close() leaves the application's handle open; a store from open() closes its own", async () => {
      const store = new DenoKvStore(raw);
      await store.close();
      await raw.set(["still", "open"], 1);
      const owned = await DenoKvStore.open(join(dir, "owned.db"));
      await owned.create("k", record({ a: 1 }), T0);
      await owned.close();
      await owned.close();
      await assert.rejects(owned.get("k", T0), SessionConfigError);
    });

    it("a closed handle gives a SessionConfigError that says to keep it open", async () => {
      const kv = await deno.openKv(join(dir, "closed.db"));
      const store = new DenoKvStore(kv);
      kv.close();
      for (
        const call of [() => store.get("k", T0), () => store.create("k", record({ a: 1 }), T0)]
      ) {
        await assert.rejects(call(), (e: unknown) => {
          assert.ok(e instanceof SessionConfigError);
          assert.match(e.message, /Deno\.Kv handle is closed/);
          assert.match(e.message, /keep it open/);
          return true;
        });
      }
    });

    it("a value of the wrong kind gives a SessionConfigError that says what to pass", async () => {
      // Settled (and its handle closed) before the test ends.
      const pending = deno.openKv(join(dir, "promise.db"));
      const cases: Array<[unknown, RegExp]> = [
        [pending, /got a Promise; await it/],
        ["./sessions.db", /got a string; to open a file, use await DenoKvStore.open\(path\)/],
        [undefined, /expected an open Deno\.Kv/],
        [{ get() {} }, /without getMany\/set\/delete\/atomic\/list/],
      ];
      for (const [value, message] of cases) {
        assert.throws(
          () => new DenoKvStore(value as DenoKvLike),
          (e: unknown) => e instanceof SessionConfigError && message.test(e.message),
          String(message),
        );
      }
      assert.throws(
        () => new DenoKvStore(raw, { prefix: "sessions" as unknown as string[] }),
        (e: unknown) =>
          e instanceof SessionConfigError && /prefix must be an array/.test(e.message),
      );
      (await pending).close();
    });
  });
}
