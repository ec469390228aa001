/**
 * DenoKvStore's rotation marker on a real KV file: the store contract's
 * marker tests (test/helpers/moved_marker_contract.ts), then what is
 * particular to Deno KV: the marker is written in the rotation's own atomic
 * operation (one commit, with KV's `expireIn` of `MOVED_MARKER_MS` and no
 * index entry, holding no `c`, `d` or `f`), and an update that read the
 * session before the move fails its versionstamp check, reads the marker and
 * writes nothing. On Node.js, which has no Deno KV, the store is refused
 * instead.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { SessionConfigError } from "../src/errors.ts";
import { emptyFields, MOVED_MARKER_MS, type SessionRecord } from "../src/store.ts";
import {
  type DenoKvAtomicOperation,
  type DenoKvKeyPart,
  type DenoKvLike,
  DenoKvStore,
} from "../src/stores/deno_kv.ts";
import { movedMarkerContract } from "./helpers/moved_marker_contract.ts";
import { changeSet } from "./helpers/changes.ts";

const deno = (globalThis as { Deno?: { openKv(path: string): Promise<DenoKvLike> } }).Deno;

/** One mutation of an atomic operation, as the wrapper logs it. */
interface Mutation {
  type: "set" | "delete";
  key: readonly DenoKvKeyPart[];
  value?: unknown;
  expireIn?: number;
}

/** `kv`, logging the mutations of each committed atomic operation. */
function logged(kv: DenoKvLike): { kv: DenoKvLike; commits: Mutation[][] } {
  const commits: Mutation[][] = [];
  const wrapped = Object.create(kv) as DenoKvLike;
  wrapped.atomic = () => {
    const op = kv.atomic();
    const mutations: Mutation[] = [];
    const logging: DenoKvAtomicOperation = {
      check(...checks) {
        op.check(...checks);
        return logging;
      },
      set(key, value, options) {
        mutations.push({ type: "set", key, value, expireIn: options?.expireIn });
        op.set(key, value, options);
        return logging;
      },
      delete(key) {
        mutations.push({ type: "delete", key });
        op.delete(key);
        return logging;
      },
      async commit() {
        const result = await op.commit();
        if (result.ok) commits.push(mutations);
        return result;
      },
    };
    return logging;
  };
  for (const m of ["get", "getMany", "set", "delete", "list", "close"] as const) {
    // deno-lint-ignore no-explicit-any
    (wrapped as any)[m] = (kv[m] as (...a: unknown[]) => unknown).bind(kv);
  }
  return { kv: wrapped, commits };
}

if (deno === undefined) {
  describe("DenoKvStore's rotation marker on Node.js", () => {
    it("is not reachable: the store is refused with a SessionConfigError", () => {
      assert.throws(() => new DenoKvStore({} as DenoKvLike), SessionConfigError);
    });
  });
} else {
  for (const shape of ["a handle the app opened", "DenoKvStore.open(path)"] as const) {
    let dir = "";
    let kv: DenoKvLike | undefined;
    movedMarkerContract({
      name: `DenoKvStore (${shape})`,
      async makeStore() {
        dir = mkdtempSync(join(tmpdir(), "oak-sessions-kv-marker-"));
        const path = join(dir, "sessions.db");
        if (shape === "DenoKvStore.open(path)") {
          return await DenoKvStore.open(path, { prefix: ["marker", "owned"] });
        }
        kv = await deno.openKv(path);
        return new DenoKvStore(kv);
      },
      async teardown(store) {
        await store.close?.();
        kv?.close();
        rmSync(dir, { recursive: true, force: true });
      },
    });
  }

  describe("DenoKvStore: the marker in KV", () => {
    let dir = "";
    let raw: DenoKvLike;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), "oak-sessions-kv-marker-raw-"));
      raw = await deno.openKv(join(dir, "sessions.db"));
    });
    after(() => {
      raw.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it("is written in the rotation's one atomic operation, with expireIn and no index entry", async () => {
      const now = Date.now();
      const prefix = ["atomic", now];
      const { kv, commits } = logged(raw);
      const store = new DenoKvStore(kv, { prefix });
      const record: SessionRecord = {
        data: emptyFields(),
        flash: emptyFields(),
        createdAt: now,
        expiresAt: now + 3_600_000,
        userId: "ann",
      };
      record.data.cart = "1";
      await store.create("old", record, now);
      commits.length = 0;
      assert.equal(await store.rotate("old", "new", changeSet(now + 3_600_000), now), true);

      assert.equal(commits.length, 1, "one atomic operation");
      const writes = commits[0].map((m) => ({
        type: m.type,
        key: m.key.slice(prefix.length).join("/"),
        expireIn: m.expireIn,
      }));
      assert.deepEqual(
        writes.filter((w) => w.key === "old" || w.key === "user/ann/old"),
        [
          { type: "delete", key: "user/ann/old", expireIn: undefined },
          { type: "set", key: "old", expireIn: MOVED_MARKER_MS },
        ],
      );
      assert.ok(writes.some((w) => w.type === "set" && w.key === "new"));
      assert.ok(writes.some((w) => w.type === "set" && w.key === "user/ann/new"));

      // In KV: the marker's own value, and the user's index holds the new key only.
      const entry = await raw.get([...prefix, "old"]);
      const value = JSON.parse(new TextDecoder().decode(entry.value as Uint8Array));
      assert.deepEqual(value, { v: 1, mv: now, e: now + MOVED_MARKER_MS });
      const indexed: string[] = [];
      for await (const e of raw.list({ prefix: [...prefix, "user", "ann"] })) {
        indexed.push(String(e.key[e.key.length - 1]));
      }
      assert.deepEqual(indexed, ["new"]);
      assert.equal((await store.get("old", now))?.movedAt, now);
    });

    it("an update that read the session before the move fails its check, reads the marker, answers moved", async () => {
      const now = Date.now();
      const prefix = ["race", now];
      const store = new DenoKvStore(raw, { prefix });
      const record: SessionRecord = {
        data: emptyFields(),
        flash: emptyFields(),
        createdAt: now,
        expiresAt: now + 3_600_000,
      };
      await store.create("old", record, now);
      // The update's first read sees the session; the rotation commits before the update does.
      let rotated: Promise<unknown> | undefined;
      const racing = Object.create(raw) as DenoKvLike;
      racing.get = async (key) => {
        const entry = await raw.get(key);
        if (rotated === undefined) {
          rotated = new DenoKvStore(raw, { prefix }).rotate(
            "old",
            "new",
            changeSet(now + 3_600_000),
            now,
          );
          await rotated;
        }
        return entry;
      };
      for (const m of ["getMany", "set", "delete", "list", "atomic", "close"] as const) {
        // deno-lint-ignore no-explicit-any
        (racing as any)[m] = (raw[m] as (...a: unknown[]) => unknown).bind(raw);
      }
      const late = new DenoKvStore(racing, { prefix });
      const change = changeSet(now + 3_600_000, { set: { late: "1" } });
      assert.equal(await late.update("old", change, now), "moved");
      assert.equal(await rotated, true);
      const moved = await store.get("new", now);
      assert.equal(moved?.data.late, undefined, "the late change did not land on the new key");
      assert.equal((await store.get("old", now))?.movedAt, now);
    });
  });
}
