/**
 * Real express-session stores on real backends, for the ExpressSessionStore
 * tests: connect-redis on the shared Redis (a unique key prefix),
 * connect-pg-simple on the shared PostgreSQL (a table this helper creates and
 * drops), session-file-store in a temp dir. Each backend can hand out
 * several store objects over the same data, standing in for several app
 * processes (each has its own adapter queue).
 *
 * @module
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import session from "express-session";
import { RedisStore as ConnectRedisStore } from "connect-redis";
import connectPgSimple from "connect-pg-simple";
import sessionFileStore from "session-file-store";
import pg from "pg";
import { createClient } from "redis";
import type { ExpressSessionStoreLike } from "../../src/stores/express_session.ts";
import { requireSharedRedis, SHARED_REDIS_URL } from "../kit/redis.ts";

/** What the backend itself says about one stored entry. */
export interface BackendEntry {
  /** The session object as stored (parsed). */
  session: Record<string, unknown>;
  /** Milliseconds until the backend drops it by itself. */
  ttlMs: number;
}

/** One real backend. */
export interface ExpressBackend {
  readonly name: string;
  /** A new store object over the same data (a second one stands for another process). */
  store(): ExpressSessionStoreLike;
  /** Every key the backend holds for this test run (what `set` was called with). */
  keys(): Promise<string[]>;
  /** The stored entry under `key`, read around the store, or `null`. */
  entry(key: string): Promise<BackendEntry | null>;
  dispose(): Promise<void>;
}

/** The names, in the order `openBackend` knows them. */
export const BACKENDS = ["connect-redis", "connect-pg-simple", "session-file-store"] as const;

/** The PostgreSQL the tests use (trust auth). */
export const PG_URL = "postgres://postgres@127.0.0.1:5432/test";

/** Open backend `name`, fresh and empty. */
export async function openBackend(name: (typeof BACKENDS)[number]): Promise<ExpressBackend> {
  switch (name) {
    case "connect-redis":
      return await redisBackend();
    case "connect-pg-simple":
      return await pgBackend();
    case "session-file-store":
      return fileBackend();
  }
}

async function redisBackend(): Promise<ExpressBackend> {
  await requireSharedRedis();
  const client = createClient({ url: SHARED_REDIS_URL });
  client.on("error", () => {});
  await client.connect();
  const prefix = `oaktest_express_${crypto.randomUUID().slice(0, 8)}_`;
  const keys = async () => {
    const found: string[] = [];
    for await (const batch of client.scanIterator({ MATCH: prefix + "*", COUNT: 500 })) {
      for (const k of batch) found.push(k.slice(prefix.length));
    }
    return found;
  };
  return {
    name: "connect-redis",
    store: () => new ConnectRedisStore({ client, prefix }) as unknown as ExpressSessionStoreLike,
    keys,
    async entry(key) {
      const text = await client.get(prefix + key);
      if (text === null) return null;
      return { session: JSON.parse(text), ttlMs: await client.pTTL(prefix + key) };
    },
    async dispose() {
      const found = await keys();
      if (found.length) await client.del(found.map((k) => prefix + k));
      await client.close();
    },
  };
}

async function pgBackend(): Promise<ExpressBackend> {
  // UTC, so the `expire` column (a timestamp without time zone) reads back as it was meant.
  const pool = new pg.Pool({ connectionString: PG_URL, max: 4, options: "-c TimeZone=UTC" });
  const table = `oak_express_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  await pool.query(
    `CREATE TABLE "${table}" (sid varchar NOT NULL PRIMARY KEY, sess json NOT NULL, ` +
      `expire timestamp(6) NOT NULL)`,
  );
  const PGStore = connectPgSimple(session);
  const stores: Array<{ close(): Promise<void> }> = [];
  return {
    name: "connect-pg-simple",
    store() {
      const s = new PGStore({ pool, tableName: table, pruneSessionInterval: false });
      stores.push(s);
      return s as unknown as ExpressSessionStoreLike;
    },
    async keys() {
      return (await pool.query(`SELECT sid FROM "${table}"`)).rows.map((r) => r.sid as string);
    },
    async entry(key) {
      const { rows } = await pool.query(
        `SELECT sess, EXTRACT(EPOCH FROM expire) * 1000 AS expire FROM "${table}" WHERE sid = $1`,
        [key],
      );
      if (rows.length === 0) return null;
      return { session: rows[0].sess, ttlMs: Number(rows[0].expire) - Date.now() };
    },
    async dispose() {
      for (const s of stores) await s.close();
      await pool.query(`DROP TABLE IF EXISTS "${table}"`);
      await pool.end();
    },
  };
}

function fileBackend(): ExpressBackend {
  const dir = mkdtempSync(join(tmpdir(), "oak-sessions-files-"));
  const FileStore = sessionFileStore(session);
  return {
    name: "session-file-store",
    store() {
      // No retries: a missing file is a missing session, not a disk hiccup to wait out.
      const s = new FileStore({ path: dir, retries: 0, reapInterval: -1, logFn: () => {} });
      return s as unknown as ExpressSessionStoreLike;
    },
    keys() {
      return Promise.resolve(
        readdirSync(dir).filter((f) => f.endsWith(".json")).map((f) => f.slice(0, -5)),
      );
    },
    entry(key) {
      let text: string;
      try {
        text = readFileSync(join(dir, key + ".json"), "utf8");
      } catch {
        return Promise.resolve(null);
      }
      const s = JSON.parse(text);
      const ttl = (s.cookie?.originalMaxAge ?? 3600_000) + s.__lastAccess - Date.now();
      return Promise.resolve({ session: s, ttlMs: ttl });
    },
    dispose() {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    },
  };
}
