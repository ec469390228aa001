/**
 * On Bun, the stores recognise Bun's own drivers by their shape and name
 * them in what they report: bun:sqlite's `Database` (SqliteStore), Bun's
 * `SQL` (PostgresStore) and Bun's `RedisClient` (RedisStore). The full
 * contract over each is the conformance runs beside this file.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "../../src/stores/sqlite.ts";
import { PostgresStore } from "../../src/stores/postgres.ts";
import { RedisStore } from "../../src/stores/redis.ts";
import { SessionStoreError } from "../../src/errors.ts";
import { openDb } from "../helpers/sqlite_db.ts";
import { POSTGRES_URL } from "../kit/postgres.ts";
import { requireSharedRedis, SHARED_REDIS_URL } from "../kit/redis.ts";
import { uniquePrefix } from "../helpers/redis_targets.ts";
import { bun } from "./bun_runtime.ts";

const { RedisClient, SQL } = await bun();
const T0 = Date.UTC(2026, 0, 1);

describe("Bun's drivers", () => {
  it("SqliteStore over bun:sqlite says bun:sqlite, and stores on the file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "oak-sessions-bun-"));
    try {
      const db = await openDb(join(dir, "s.db"));
      const store = new SqliteStore(db);
      assert.equal(store.driver, "bun:sqlite");
      const record = { data: { n: "1" }, flash: {}, createdAt: T0, expiresAt: T0 + 60_000 };
      await store.create("k", record, T0);
      assert.deepEqual({ ...(await store.get("k", T0))?.data }, { n: "1" });
      await store.close();
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("PostgresStore over Bun's SQL says Bun SQL", async () => {
    const sql = new SQL(POSTGRES_URL, { max: 1 });
    try {
      assert.equal(new PostgresStore(sql, "bun_driver_name").driver, "Bun SQL");
    } finally {
      await sql.close({ timeout: 1 });
    }
  });

  it("RedisStore over Bun's RedisClient: a WRONGTYPE reply fails as a SessionStoreError naming it", async () => {
    await requireSharedRedis();
    const client = new RedisClient(SHARED_REDIS_URL);
    const prefix = uniquePrefix("bun_wrongtype");
    try {
      // A key of the wrong type where the session's hash belongs: Redis
      // answers WRONGTYPE, which must come out as the store's own error.
      await client.send("SET", [`${prefix}s1`, "not a hash"]);
      const store = new RedisStore(client, prefix);
      await assert.rejects(
        store.get("s1", T0),
        (e: unknown) => e instanceof SessionStoreError && /WRONGTYPE/.test(e.message),
      );
    } finally {
      await client.send("DEL", [`${prefix}s1`]);
      client.close();
    }
  });
});
