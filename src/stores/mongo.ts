/**
 * `MongoStore`: the original oak_sessions' MongoDB store (v9) is not part of
 * oak-sessions, as no MongoDB server could be tested with it. The name is
 * still exported, so that a program importing it loads (an import of a name a
 * module lacks fails the whole module at load, before any line runs), and
 * constructing one says what to use instead: connect-mongo, through
 * `ExpressSessionStore`.
 *
 * @module
 */
import { SessionConfigError } from "../errors.ts";

/** What to use instead of the original's `MongoStore`, as its constructor's error says it. */
export const MONGO_STORE_REPLACEMENT =
  "MongoStore is not part of oak-sessions (no MongoDB server could be tested with it). " +
  'Use connect-mongo through ExpressSessionStore: import ConnectMongo from "connect-mongo"; ' +
  "new ExpressSessionStore(ConnectMongo.create({ mongoUrl })) (npm install connect-mongo). " +
  "Sessions in the original MongoStore's collection do not carry over";

/**
 * The original's `MongoStore`, kept as a name only: constructing it throws a
 * {@link SessionConfigError} that says to use connect-mongo through
 * `ExpressSessionStore` instead.
 *
 * ```ts
 * import { MongoStore } from "oak-sessions";
 * try {
 *   new MongoStore(undefined, "sessions");
 * } catch (e) {
 *   // SessionConfigError: MongoStore is not part of oak-sessions ... Use connect-mongo ...
 * }
 * ```
 *
 * @deprecated Not a store: use `new ExpressSessionStore(ConnectMongo.create({ mongoUrl }))`
 * (the npm package connect-mongo).
 */
export class MongoStore {
  /**
   * Throws a {@link SessionConfigError}: there is no MongoDB store here. The
   * parameters are the original's (a MongoDB `Database` and a collection name).
   */
  constructor(_db?: unknown, _collectionName?: string) {
    throw new SessionConfigError(MONGO_STORE_REPLACEMENT);
  }
}
