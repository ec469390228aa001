/**
 * The little the MySqlStore migration test uses of express-mysql-session,
 * which ships no type declarations: a factory taking express-session and
 * returning a store class that takes its options and a mysql2 pool.
 */
declare module "express-mysql-session" {
  /** An express-mysql-session store. */
  type MySQLStoreClass = new (options: Record<string, unknown>, connection?: unknown) => {
    onReady(): Promise<void>;
    set(sid: string, session: unknown, cb: (err?: unknown) => void): void;
    get(sid: string, cb: (err: unknown, session?: unknown) => void): void;
    close(): Promise<void>;
  };
  const expressMySqlSession: (session: unknown) => MySQLStoreClass;
  export default expressMySqlSession;
}
