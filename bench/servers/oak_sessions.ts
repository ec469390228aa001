/**
 * Oak with oak-sessions on the store named by `STORE` (memory, cookie,
 * sqlite, redis, webdis, postgres), opened by `examples/stores.ts` with its usual
 * environment (`SQLITE_FILE`, `REDIS_URL`, `WEBDIS_URL`, `COOKIE_SECRET`).
 * Runs on Node (`node --import tsx`), on Deno (`deno run`) and on Bun
 * (`bun`); on Deno the SQLite store runs on `node:sqlite` and on Bun on
 * `bun:sqlite`, which each has built in (better-sqlite3 is a native addon
 * neither can load).
 *
 * It counts the store's calls and, for SQLite, the statements run (each
 * statement is wrapped when prepared), and answers them at the stats path,
 * which sits before the session middleware.
 *
 * @module
 */
import Database from "better-sqlite3";
import postgres from "postgres";
import mysql from "mysql2/promise";
import { isStoreKind, type OpenStore, openStore } from "../../test/kit/stores.ts";
import { CookieStore, Session, SqliteStore } from "../../mod.ts";
import type { SqliteDatabase } from "../../mod.ts";
import { serve } from "../../test/kit/oak_server.ts";
import {
  announce,
  type CallCounts,
  countCalls,
  NOT_FOUND,
  PATHS,
  type ServerStats,
  USER,
} from "./common.ts";
import { oakApplication, RUNTIME } from "./oak_app.ts";

const kind = process.env.STORE ?? "memory";
if (!isStoreKind(kind)) throw new Error(`STORE must be a store kind, got ${kind}`);

const sql: CallCounts = { SELECT: 0, "INSERT/UPDATE/DELETE": 0, "BEGIN/COMMIT": 0 };
// On Deno and Bun the cookie store's revocations live in the built-in SQLite too
// (examples/stores.ts opens them with better-sqlite3, whose native addon neither loads).
const opened = (kind === "sqlite" || kind === "cookie") && RUNTIME !== "node"
  ? await openBuiltInSqlite(kind, sql)
  : await openCounted(kind, sql);
const ops: CallCounts = {};
const store = opened.store;
const writeOps = store.kind === "client"
  ? ["write", "clear"]
  : ["create", "update", "rotate", "delete"];
countCalls(store, store.kind === "client" ? ["read", ...writeOps] : ["get", ...writeOps], ops);

let counter = 0;
const app = oakApplication();
app.use(async (ctx, next) => {
  if (ctx.request.url.pathname !== PATHS.stats) return await next();
  const stats: ServerStats = { ops, writeOps, ...(kind === "sqlite" ? { sql } : {}) };
  ctx.response.body = stats;
});
app.use(Session.initMiddleware(store));
app.use((ctx) => {
  const session = ctx.state.session as Session;
  switch (ctx.request.url.pathname) {
    case PATHS.login:
    case PATHS.new:
      session.set("user", USER);
      ctx.response.body = "ok";
      return;
    case PATHS.read:
      ctx.response.body = String(session.get("user") ?? "none");
      return;
    case PATHS.write:
      session.set("n", ++counter);
      ctx.response.body = "ok";
      return;
    case PATHS.anonymous:
      ctx.response.body = "hello";
      return;
    default:
      ctx.response.status = 404;
      ctx.response.body = NOT_FOUND;
  }
});

const server = await serve(app);
announce(server.port, async () => {
  server.close();
  await opened.close();
});

/**
 * A store from examples/stores.ts; for SQLite (better-sqlite3), with its
 * statements counted; for PostgreSQL, in a table of this server's own,
 * dropped when it stops.
 */
async function openCounted(kind: Parameters<typeof openStore>[0], counts: CallCounts) {
  if (kind === "sqlite") countStatements(Database.prototype, counts);
  if (kind === "mysql") return openOwnMySql();
  if (kind !== "postgres") return openStore(kind);
  const table = `bench_${process.pid}_${Date.now().toString(36)}`;
  const opened = await openStore(kind, { ...process.env, POSTGRES_TABLE: table });
  return {
    ...opened,
    close: async () => {
      await opened.close();
      const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
      const sql = postgres(url, { max: 1, onnotice: () => {} });
      await sql.unsafe(`DROP TABLE IF EXISTS "${table}"`).catch(() => {});
      await sql.end({ timeout: 1 });
    },
  };
}

/**
 * SqliteStore on the runtime's built-in SQLite, at `SQLITE_FILE`, its
 * statements counted: Deno's `node:sqlite`, Bun's `bun:sqlite` (neither
 * runtime loads better-sqlite3's native addon). For `cookie`, a CookieStore
 * with its revocations in that SqliteStore, as examples/stores.ts opens it.
 */
async function openBuiltInSqlite(
  kind: "sqlite" | "cookie",
  counts: CallCounts,
): Promise<OpenStore> {
  // Specifiers tsc does not resolve: Node 20's types have no node:sqlite, nor bun:sqlite.
  type Db = SqliteDatabase & { close(): void };
  type Driver = { prototype: object; new (path: string): Db };
  const [specifier, name] = RUNTIME === "bun"
    ? ["bun:sqlite", "Database"]
    : ["node:sqlite", "DatabaseSync"];
  const Driver = (await import(specifier) as Record<string, Driver>)[name];
  countStatements(Driver.prototype, counts);
  const file = process.env.SQLITE_FILE ?? "oak-sessions-bench.db";
  const db = new Driver(file);
  const sqlite = new SqliteStore(db);
  const close = async () => {
    await sqlite.close();
    db.close();
  };
  if (kind === "sqlite") {
    return { kind, store: sqlite, description: `SqliteStore (${specifier}, file ${file})`, close };
  }
  const secret = process.env.COOKIE_SECRET ?? "";
  return {
    kind,
    store: new CookieStore(secret, { revocations: sqlite }),
    description: `CookieStore (revocations in ${specifier}, file ${file})`,
    close,
  };
}

/** Wrap every statement `proto.prepare` prepares from now on with a counter of its runs. */
function countStatements(proto: object, counts: CallCounts): void {
  const target = proto as { prepare(sql: string): unknown };
  const prepare = target.prepare;
  target.prepare = function (this: unknown, text: string) {
    const statement = prepare.call(this, text) as Record<string, (...a: unknown[]) => unknown>;
    const head = text.trimStart().slice(0, 8).toUpperCase();
    const what = head.startsWith("SELECT")
      ? "SELECT"
      : /^(BEGIN|COMMIT|ROLLBACK|SAVEPOIN|RELEASE)/.test(head)
      ? "BEGIN/COMMIT"
      : "INSERT/UPDATE/DELETE";
    for (const method of ["run", "get", "all", "iterate", "values"]) {
      const original = statement[method];
      if (typeof original !== "function") continue;
      statement[method] = function (this: unknown, ...args: unknown[]) {
        counts[what]++;
        return original.apply(this, args);
      };
    }
    return statement;
  };
}

/** MySqlStore from examples/stores.ts in a table of this server's own, dropped when it stops. */
async function openOwnMySql(): Promise<OpenStore> {
  const table = `bench_${process.pid}_${Date.now().toString(36)}`;
  const opened = await openStore("mysql", { ...process.env, MYSQL_TABLE: table });
  return {
    ...opened,
    close: async () => {
      await opened.close();
      const pool = mysql.createPool({
        uri: process.env.MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test",
        connectionLimit: 1,
      });
      await pool.query(`DROP TABLE IF EXISTS \`${table}\``).catch(() => {});
      await pool.end();
    },
  };
}
