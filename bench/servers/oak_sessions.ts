/**
 * Oak with oak-sessions on the store named by `STORE` (memory, cookie,
 * sqlite, redis, webdis, postgres), opened by `examples/stores.ts` with its usual
 * environment (`SQLITE_FILE`, `REDIS_URL`, `WEBDIS_URL`, `COOKIE_SECRET`).
 * Runs on Node (`node --import tsx`) and on Deno (`deno run`); on Deno the
 * SQLite store runs on `node:sqlite`, which Deno has built in
 * (better-sqlite3 is a legacy native addon that Deno cannot load).
 *
 * It counts the store's calls and, for SQLite, the statements run (each
 * statement is wrapped when prepared), and answers them at the stats path,
 * which sits before the session middleware.
 *
 * @module
 */
import Database from "better-sqlite3";
import postgres from "postgres";
import { isStoreKind, type OpenStore, openStore } from "../../examples/stores.ts";
import { Session, SqliteStore } from "../../mod.ts";
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
const opened = kind === "sqlite" && RUNTIME === "deno"
  ? await openNodeSqlite(sql)
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

/** SqliteStore on Deno's built-in `node:sqlite`, at `SQLITE_FILE`, its statements counted. */
async function openNodeSqlite(counts: CallCounts): Promise<OpenStore> {
  // A specifier tsc does not resolve: Node 20's types have no node:sqlite.
  const specifier = "node:sqlite";
  const { DatabaseSync } = await import(specifier) as {
    DatabaseSync: { prototype: object; new (path: string): SqliteDatabase & { close(): void } };
  };
  countStatements(DatabaseSync.prototype, counts);
  const file = process.env.SQLITE_FILE ?? "oak-sessions-bench.db";
  const db = new DatabaseSync(file);
  const store = new SqliteStore(db);
  return {
    kind: "sqlite",
    store,
    description: `SqliteStore (node:sqlite, file ${file})`,
    close: async () => {
      await store.close();
      db.close();
    },
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
    for (const method of ["run", "get", "all", "iterate"]) {
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
