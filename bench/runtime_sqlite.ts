/**
 * A SQLite connection of the driver this runtime has, for the benchmarks:
 * better-sqlite3 on Node.js, `node:sqlite` on Deno (which cannot load
 * better-sqlite3's native addon), `bun:sqlite` on Bun, as the tests use them
 * (test/helpers/sqlite_db.ts).
 *
 * @module
 */
import type { SqliteDatabase } from "../mod.ts";

/** An open connection, and the driver's name. */
export interface RuntimeSqlite {
  db: SqliteDatabase & { close(): void; exec(sql: string): unknown };
  driver: "better-sqlite3" | "node:sqlite" | "bun:sqlite";
  /** `PRAGMA name` as the connection answers it now (`synchronous` -> `2`). */
  pragma(name: string): unknown;
}

/** Open `file` with this runtime's driver. */
export async function openRuntimeSqlite(file: string): Promise<RuntimeSqlite> {
  type Db = SqliteDatabase & { close(): void; exec(sql: string): unknown };
  type Row = Record<string, unknown> | undefined;
  type Driver = new (path: string) => Db;
  // Specifiers in variables: Node 20 has no node:sqlite, tsc resolves neither built-in.
  const [driver, name] = "Deno" in globalThis
    ? ["node:sqlite", "DatabaseSync"] as const
    : "Bun" in globalThis
    ? ["bun:sqlite", "Database"] as const
    : ["better-sqlite3", "default"] as const;
  const spec: string = driver;
  const Driver = (await import(spec) as Record<string, Driver>)[name];
  const db = new Driver(file);
  return {
    db,
    driver,
    pragma(pragma) {
      const statement = (db as unknown as { prepare(sql: string): { get(): Row } })
        .prepare(`PRAGMA ${pragma}`);
      return Object.values(statement.get() ?? {})[0];
    },
  };
}
