/**
 * Sessions outlive the process that wrote them: one process writes sessions
 * and closes the database, a new process opens the same file and reads them
 * back, and so does a store opened later on the existing table.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { SessionRecord } from "../src/store.ts";
import { SqliteStore } from "../src/stores/sqlite.ts";
import {
  killWorkers,
  openDb,
  record,
  startWorker,
  tempDir,
  type Worker,
} from "./helpers/sqlite_db.ts";

describe("SqliteStore across a restart", () => {
  const dir = tempDir();
  const workers: Worker[] = [];
  after(() => {
    killWorkers(workers);
    dir.remove();
  });

  it("a new process reads the sessions an earlier one wrote", async () => {
    const path = dir.file("restart.db");
    const now = Date.now();
    const sessions: Record<string, SessionRecord> = {
      one: record({ user: "ana", cart: [1, 2, 3] }, { createdAt: now, expiresAt: now + 60_000 }),
      two: record({ n: 2 }, { createdAt: now - 5, expiresAt: now + 120_000 }, { notice: "hi" }),
    };
    const writer = startWorker(["write", path, JSON.stringify(sessions)]);
    workers.push(writer);
    assert.deepEqual(await writer.result(), { written: 2 });

    const reader = startWorker(["read", path, String(now), "one", "two", "absent"]);
    workers.push(reader);
    const read = await reader.result<Record<string, SessionRecord | null>>();
    assert.deepEqual(read, { ...JSON.parse(JSON.stringify(sessions)), absent: null });

    // And a store opened here, on the table the workers created.
    const raw = await openDb(path);
    const store = new SqliteStore(raw);
    const one = await store.get("one", now);
    assert.deepEqual({ ...one!.data }, { ...sessions.one.data });
    await store.close();
    raw.close();
  });
});
