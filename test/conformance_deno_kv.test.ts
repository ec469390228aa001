/**
 * DenoKvStore passes the conformance suite on Deno, against a real KV
 * database file in a temp dir (deno.json enables the unstable KV API). On
 * Node.js, which has no Deno KV, it proves the store is refused with a
 * clear SessionConfigError instead: never a silent skip.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { conformance } from "./conformance.ts";
import { SessionConfigError } from "../src/errors.ts";
import { type DenoKvLike, DenoKvStore } from "../src/stores/deno_kv.ts";

const deno = (globalThis as { Deno?: { openKv(path: string): Promise<DenoKvLike> } }).Deno;

if (deno !== undefined) {
  for (const shape of ["a handle the app opened", "DenoKvStore.open(path)"] as const) {
    let dir = "";
    let kv: DenoKvLike | undefined;
    let store: DenoKvStore | undefined;
    conformance({
      name: `DenoKvStore (${shape})`,
      async makeStore() {
        dir = mkdtempSync(join(tmpdir(), "oak-sessions-kv-"));
        const path = join(dir, "sessions.db");
        if (shape === "DenoKvStore.open(path)") {
          store = await DenoKvStore.open(path, { prefix: ["conformance", "owned"] });
        } else {
          kv = await deno.openKv(path);
          store = new DenoKvStore(kv);
        }
        return store;
      },
      async teardown() {
        await store?.close();
        kv?.close();
        rmSync(dir, { recursive: true, force: true });
      },
    });
  }
} else {
  describe("conformance: DenoKvStore on Node.js", () => {
    it("is refused with a SessionConfigError that says to use Deno or another store", async () => {
      const fakeKv = {} as DenoKvLike;
      assert.throws(
        () => new DenoKvStore(fakeKv),
        (e: unknown) =>
          e instanceof SessionConfigError && /needs Deno/.test(e.message) &&
          /SqliteStore, RedisStore/.test(e.message),
      );
      await assert.rejects(
        DenoKvStore.open(join(tmpdir(), "never-created.db")),
        (e: unknown) => e instanceof SessionConfigError && /needs Deno/.test(e.message),
      );
    });
  });
}
