/**
 * oak-sessions: cookie-based web sessions for the Oak web framework, on
 * Node.js and Deno, with memory, encrypted-cookie, SQLite, PostgreSQL, Redis,
 * Webdis and Deno KV stores, and any express-session store through an adapter.
 *
 * ```ts
 * import { Application } from "@oakserver/oak";
 * import { Session } from "oak-sessions";
 *
 * const app = new Application();
 * app.use(Session.initMiddleware());
 * app.use((ctx) => {
 *   const count = (ctx.state.session.get("count") ?? 0) + 1;
 *   ctx.state.session.set("count", count);
 *   ctx.response.body = `visit ${count}`;
 * });
 * ```
 *
 * @module
 */
export { type NumberKeys, Session, type SessionShape } from "./src/session.ts";
export { MAX_USER_ID_LENGTH, type SessionInfo, type SessionLifetime } from "./src/user_sessions.ts";
export type { SessionMiddleware } from "./src/middleware.ts";
export type { HeaderReader, HeaderWriter, OakContextLike } from "./src/oak_context_like.ts";
export type { SessionOptions } from "./src/options.ts";
export type { CsrfOptions, CsrfRefusalReason } from "./src/csrf.ts";
export type { CookieRejection, SessionEvent, SessionEventListener } from "./src/events.ts";
export type { ExpressSessionCookieOptions } from "./src/express_session_cookie.ts";
export type { CookieGetOptions, CookieSetOptions } from "./src/cookie_options.ts";
export {
  SessionConfigError,
  SessionError,
  SessionMovedError,
  SessionStoreError,
  SessionTooLargeError,
  SessionValueError,
} from "./src/errors.ts";
export type {
  ClientStore,
  CookieJar,
  CookieRejected,
  Increments,
  JsonFields,
  SealedSession,
  ServerStore,
  SessionChange,
  SessionRecord,
  SessionStore,
  UserSession,
  WriteResult,
} from "./src/store.ts";
export { MOVED_MARKER_MS, movedMarker } from "./src/store.ts";
export { MAX_VALUE_DEPTH } from "./src/json_value.ts";
export { MemoryStore, type MemoryStoreOptions } from "./src/stores/memory.ts";
export { CookieStore, type CookieStoreOptions } from "./src/stores/cookie.ts";
export type { CookieSecret } from "./src/stores/cookie_seal.ts";
export { SqliteStore, type SqliteStoreOptions } from "./src/stores/sqlite.ts";
export type {
  PreparedStatementDatabase,
  QueryDatabase,
  SqliteDatabase,
  SqlValue,
} from "./src/stores/sqlite_drivers.ts";
export { RedisStore, type RedisStoreOptions } from "./src/stores/redis.ts";
export type { RedisSessionLogic } from "./src/stores/redis_logic.ts";
export {
  WebdisStore,
  type WebdisStoreOptions,
  type WebdisTransportName,
} from "./src/stores/webdis.ts";
export { PostgresStore, type PostgresStoreOptions } from "./src/stores/postgres.ts";
export type { MigratingStoreOptions, SqlStoreOptions } from "./src/stores/shared/store_options.ts";
export type {
  NodePostgresQueryable,
  PostgresDatabase,
  PostgresJsSql,
} from "./src/stores/postgres_drivers.ts";
export { MySqlStore, type MySqlStoreOptions } from "./src/stores/mysql.ts";
export type { MySqlDatabase } from "./src/stores/mysql_drivers.ts";
export {
  DENO_KV_VALUE_LIMIT,
  type DenoKvAtomicOperation,
  type DenoKvEntry,
  type DenoKvKeyPart,
  type DenoKvLike,
  DenoKvStore,
  type DenoKvStoreOptions,
} from "./src/stores/deno_kv.ts";
export {
  DELETION_MARKER_SECONDS,
  type ExpressSessionCallback,
  type ExpressSessionCookie,
  type ExpressSessionData,
  ExpressSessionStore,
  type ExpressSessionStoreLike,
  type ExpressSessionStoreOptions,
} from "./src/stores/express_session.ts";
export {
  fromV9Store,
  type V9Store,
  type V9StoreAdapter,
  type V9StoreOptions,
} from "./src/stores/v9_store.ts";
export type { Store } from "./src/any_store.ts";
export { MongoStore } from "./src/stores/mongo.ts";
export type { OriginalSessionData } from "./src/stores/original_session.ts";
export type {
  OriginalRedisKeysOptions,
  OriginalRedisKeysSettings,
} from "./src/stores/redis_original.ts";
export type { SessionContext, SessionOfState } from "./src/oak_context.ts";
