/**
 * `Store`: the type every store fits, as the original oak_sessions' `Store`
 * was the type all its stores fit.
 *
 * @module
 */
import type { SessionStore } from "./store.ts";
import type { V9Store } from "./stores/v9_store.ts";

/**
 * Any store `new Session(store)` and `Session.initMiddleware(store)` take:
 * every built-in store (`MemoryStore`, `CookieStore`, `SqliteStore`,
 * `PostgresStore`, `RedisStore`, `WebdisStore`, `DenoKvStore`,
 * `ExpressSessionStore`), a store of your own (`ServerStore` or
 * `ClientStore`), and a store written for the original's interface
 * (`V9Store`). Code of the original's that names it keeps checking:
 *
 * ```ts
 * import { CookieStore, MemoryStore, Session, SqliteStore, type Store } from "oak-sessions";
 * import Database from "better-sqlite3";
 *
 * async function makeStore(kind: string): Promise<Store | CookieStore> {
 *   if (kind === "sqlite") return new SqliteStore(new Database("sessions.db"));
 *   if (kind === "cookie") return new CookieStore(process.env.COOKIE_SECRET!);
 *   return new MemoryStore();
 * }
 * const session = new Session(await makeStore("sqlite"));
 * ```
 *
 * A union, so a class cannot `implements Store`: a store written for the
 * original implements its interface under its own name, `V9Store`.
 */
export type Store = SessionStore | V9Store;
