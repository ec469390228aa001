/**
 * Separate OS processes sharing one SQLite file through their own
 * SqliteStores: concurrent updates of different keys of one session all
 * land, and a session deleted by a third process stays deleted while the
 * others keep writing to it.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { SqliteStore } from "../src/stores/sqlite.ts";
import {
  killWorkers,
  openDb,
  record,
  startWorker,
  tempDir,
  type Worker,
} from "./helpers/sqlite_db.ts";

const COUNT = 300;

describe("SqliteStore shared by several processes", () => {
  const dir = tempDir();
  const workers: Worker[] = [];
  after(() => {
    killWorkers(workers);
    dir.remove();
  });

  async function seed(path: string, key: string): Promise<void> {
    const raw = await openDb(path);
    const store = new SqliteStore(raw);
    const now = Date.now();
    await store.create(key, record({}, { createdAt: now, expiresAt: now + 3_600_000 }), now);
    await store.close();
    raw.close();
  }

  it(`two processes each setting ${COUNT} keys of one session: every key lands`, async () => {
    const path = dir.file("hammer.db");
    await seed(path, "shared");
    const a = startWorker(["hammer", path, "shared", "a", String(COUNT)]);
    const b = startWorker(["hammer", path, "shared", "b", String(COUNT)]);
    workers.push(a, b);
    await Promise.all([a.waitFor("ready"), b.waitFor("ready")]);
    a.send("go");
    b.send("go");
    const [ra, rb] = await Promise.all([
      a.result<{ applied: number }>(),
      b.result<{ applied: number }>(),
    ]);
    assert.equal(ra.applied, COUNT);
    assert.equal(rb.applied, COUNT);

    const raw = await openDb(path);
    const store = new SqliteStore(raw);
    const got = await store.get("shared", Date.now());
    const keys = Object.keys(got!.data);
    assert.equal(keys.length, 2 * COUNT);
    for (let i = 0; i < COUNT; i++) {
      assert.equal(got!.data[`a${i}`], String(i));
      assert.equal(got!.data[`b${i}`], String(i));
    }
    await store.close();
    raw.close();
  });

  it("a third process deletes the session mid-way: it stays deleted", async () => {
    const path = dir.file("delete.db");
    await seed(path, "doomed");
    const half = String(COUNT / 2);
    const a = startWorker(["until-deleted", path, "doomed", "a", half]);
    const b = startWorker(["until-deleted", path, "doomed", "b", half]);
    const d = startWorker(["delete", path, "doomed"]);
    workers.push(a, b, d);
    // Both writers are half-way and the deleter is up; then all three go at
    // once, so the delete lands among the writers' transactions.
    await Promise.all([a.waitFor("half"), b.waitFor("half"), d.waitFor("ready")]);
    a.send("continue");
    b.send("continue");
    d.send("go");
    type Outcome = {
      firstHalfApplied: number;
      sawDeleted: boolean;
      appliedAfterDelete: number;
    };
    const [ra, rb] = await Promise.all([a.result<Outcome>(), b.result<Outcome>()]);
    await d.result();
    for (const r of [ra, rb]) {
      assert.equal(r.firstHalfApplied, COUNT / 2, "before the delete every update landed");
      assert.equal(r.sawDeleted, true, "each writer saw the session go");
      assert.equal(r.appliedAfterDelete, 0, "no update brought it back");
    }
    const raw = await openDb(path);
    const store = new SqliteStore(raw);
    assert.equal(await store.get("doomed", Date.now()), null);
    const rows = raw.prepare("SELECT count(*) AS n FROM sessions WHERE key = ?").get("doomed");
    assert.equal((rows as { n: number }).n, 0);
    await store.close();
    raw.close();
  });
});
