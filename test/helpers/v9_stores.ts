/**
 * Stores written for the original oak_sessions' `Store` interface, as its
 * users wrote theirs: the original's own SqliteStore and RedisStore (v9),
 * line for line, over this runtime's real SQLite driver and over node-redis
 * (the original used deno.land/x/sqlite and deno.land/x/redis; the SQL and
 * the Redis commands are the same).
 *
 * @module
 */
import type { OriginalSessionData } from "../../src/stores/original_session.ts";
import type { V9Store } from "../../src/stores/v9_store.ts";
import type { RawDb } from "./sqlite_db.ts";

/** The original's SqliteStore (v9), on a RawDb. */
export class V9SqliteStore implements V9Store {
  constructor(readonly db: RawDb, readonly tableName = "sessions") {
    this.db.exec(`CREATE TABLE IF NOT EXISTS ${this.tableName} (id TEXT, data TEXT)`);
  }

  getSessionById(sessionId: string): OriginalSessionData | null {
    let session = "";
    const rows = this.db.prepare(`SELECT data FROM ${this.tableName} WHERE id = ?`)
      .all(sessionId) as Array<{ data: string }>;
    for (const { data } of rows) session = data;
    return session ? JSON.parse(session) as OriginalSessionData : null;
  }

  createSession(sessionId: string, initialData: OriginalSessionData): void {
    this.db.prepare(`INSERT INTO ${this.tableName} (id, data) VALUES (?, ?)`)
      .run(sessionId, JSON.stringify(initialData));
  }

  deleteSession(sessionId: string): void {
    this.db.prepare(`DELETE FROM ${this.tableName} WHERE id = ?`).run(sessionId);
  }

  persistSessionData(sessionId: string, sessionData: OriginalSessionData): void {
    this.db.prepare(`UPDATE ${this.tableName} SET data = ? WHERE id = ?`)
      .run(JSON.stringify(sessionData), sessionId);
  }
}

/** The part of a Redis client the original's RedisStore used. */
export interface V9RedisClient {
  get(key: string): Promise<string | null | unknown>;
  set(key: string, value: string): Promise<unknown>;
  del(key: string): Promise<unknown>;
}

/** The original's RedisStore (v9): `session_<id>` keys holding the JSON document, no TTL. */
export class V9RedisStore implements V9Store {
  constructor(readonly db: V9RedisClient, readonly keyPrefix = "session_") {}

  async getSessionById(sessionId: string): Promise<OriginalSessionData | null> {
    const session = await this.db.get(this.keyPrefix + sessionId);
    if (session) {
      const sessionString = String(await this.db.get(this.keyPrefix + sessionId));
      return JSON.parse(sessionString) as OriginalSessionData;
    }
    return null;
  }

  async createSession(sessionId: string, initialData: OriginalSessionData): Promise<void> {
    await this.db.set(this.keyPrefix + sessionId, JSON.stringify(initialData));
  }

  async deleteSession(sessionId: string): Promise<void> {
    await this.db.del(this.keyPrefix + sessionId);
  }

  async persistSessionData(sessionId: string, sessionData: OriginalSessionData): Promise<void> {
    await this.db.set(this.keyPrefix + sessionId, JSON.stringify(sessionData));
  }
}
