/**
 * Oak with oak-sessions on the store named by `STORE` (memory, cookie,
 * sqlite, redis, webdis), opened by `examples/stores.ts` with its usual
 * environment (`SQLITE_FILE`, `REDIS_URL`, `WEBDIS_URL`, `COOKIE_SECRET`).
 *
 * It counts the store's calls and, for SQLite, the statements run (each
 * better-sqlite3 statement is wrapped when prepared), and answers them at
 * the stats path, which sits before the session middleware.
 *
 * @module
 */
import { Application } from "@oakserver/oak";
import Database from "better-sqlite3";
import { isStoreKind, openStore } from "../../examples/stores.ts";
import { Session } from "../../mod.ts";
import { serve } from "../../test/helpers/oak_server.ts";
import {
  announce,
  type CallCounts,
  countCalls,
  NOT_FOUND,
  PATHS,
  type ServerStats,
  USER,
} from "./common.ts";

const kind = process.env.STORE ?? "memory";
if (!isStoreKind(kind)) throw new Error(`STORE must be a store kind, got ${kind}`);

const sql: CallCounts = { SELECT: 0, "INSERT/UPDATE/DELETE": 0, "BEGIN/COMMIT": 0 };
if (kind === "sqlite") countStatements(sql);

const opened = await openStore(kind);
const ops: CallCounts = {};
const store = opened.store;
const writeOps = store.kind === "client" ? ["write", "clear"] : ["create", "update", "delete"];
countCalls(store, store.kind === "client" ? ["read", ...writeOps] : ["get", ...writeOps], ops);

let counter = 0;
const app = new Application({ logErrors: false });
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

/** Wrap every statement better-sqlite3 prepares from now on with a counter of its runs. */
function countStatements(counts: CallCounts): void {
  const proto = Database.prototype as unknown as { prepare(sql: string): unknown };
  const prepare = proto.prepare;
  proto.prepare = function (this: unknown, text: string) {
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
