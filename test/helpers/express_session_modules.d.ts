/**
 * The little the ExpressSessionStore tests use of three CommonJS packages
 * that ship no type declarations: express-session (its `Store` base, which
 * the store factories take), connect-pg-simple and session-file-store (each a
 * factory taking express-session and returning a store class).
 */
declare module "express-session" {
  /** express-session's base class of stores. */
  export class Store {}
  const session: { Store: typeof Store };
  export default session;
}

declare module "connect-pg-simple" {
  /** A connect-pg-simple store class. */
  type PGStoreClass = new (options: Record<string, unknown>) => {
    close(): Promise<void>;
  };
  const connectPgSimple: (session: unknown) => PGStoreClass;
  export default connectPgSimple;
}

declare module "session-file-store" {
  /** A session-file-store store class. */
  type FileStoreClass = new (options: Record<string, unknown>) => object;
  const sessionFileStore: (session: unknown) => FileStoreClass;
  export default sessionFileStore;
}
