/**
 * The Oak server under stress: oak-sessions with one store (opened by
 * `examples/stores.ts`), in its own process so a crash shows as an exit. The
 * harness (`stress/harness.ts`) starts it with `STRESS_CONFIG` (JSON, see
 * `ServerConfig`) and reads `READY <port>` from its stdout. Node only (the
 * SQLite store uses better-sqlite3).
 *
 * Application routes (behind the session middleware):
 * - `GET /anon`: answers without touching the session (the anonymous flood);
 * - `GET /all`: the session's data as JSON (what a hostile cookie could see);
 * - `POST /login?canary=C&pad=N`: a real session holding a canary value (and
 *   N characters of padding, to make the cookie store use chunk cookies);
 * - `POST /tab?k=K&v=V`: a tab's write; answers with the value K held before;
 * - `POST /set?k=K&v=V`, `POST /bump`: writes (outage load);
 * - `POST /incr?k=K&by=N`: `session.increment(K, N)` (N defaults to 1);
 *   answers with the value it returned, as a number;
 * - `POST /slow?k=K&token=T` and `POST /logout?token=T`: a slow write and a
 *   logout of one session, ordered by the server: the slow request loads the
 *   session, the logout then commits, and only then does the slow request
 *   write (the interleaving of rack-session CVE-2025-46336, every round).
 *   With `&rotate=regenerate` (or `&rotate=flag`, `ctx.state.rotate_session_key`)
 *   the slow request also moves the session to a new ID. Its other
 *   counterparts, ordered the same way: `POST /revoke?token=T&id=ID` (an admin's
 *   `deleteSession(id)`, outside the middleware) and `POST /write?k=K&v=V&token=T`
 *   (another tab's write of another key). With `&expire=1` and no counterpart,
 *   the slow request itself moves the clock past the idle expiry after loading
 *   (one round at a time: the clock is the server's).
 * - `POST /user/login?user=U&browser=B&mode=regenerate|setuser`: a login,
 *   `regenerate()` then `setUser(U)`, or `setUser(U)` alone (which gives the
 *   session a new ID by itself); the session also keeps `browser` = B;
 * - `GET /user/whoami`: `{ userId, browser, hits, keys }` of the session, a read;
 * - `POST /user/rotate`: `regenerate()` alone; `POST /user/logout`: `destroy()`;
 * - `POST /user/revoke-all?user=U`: the manager's `revokeSessions(U)` ("log out
 *   everywhere", from a client without a session of U);
 *   `POST /user/revoke-others?user=U`: `revokeSessions(U, { except: ctx })`
 *   from a session of U (that session is kept).
 * With the cookie store, every route is also served under `/plain/` by a
 * second manager whose CookieStore keeps no revocations (cookie
 * `plain_data`), so a check can run on both.
 *
 * Harness routes (`/__stress/...`, before the session middleware; loopback
 * only, this is a test server): counters and RSS, the backend's session count
 * and dump, whether a session's key exists in the backend, and the clock
 * offset. The clock is the only fake: `now()` is `Date.now() + offset`, so a
 * session can be created "two hours ago" and its real cookie replayed expired.
 *
 * @module
 */
import { Application, type Context } from "@oakserver/oak";
import Database from "better-sqlite3";
import { createClient } from "redis";
import postgres from "postgres";
import mysql from "mysql2/promise";
import { openStore } from "../test/kit/stores.ts";
import { CookieStore, MemoryStore, Session } from "../mod.ts";
import type { ServerStore, SessionChange, SessionRecord, SessionStore } from "../mod.ts";
import { sessionKey } from "../src/session_id.ts";
import { serve } from "../test/kit/oak_server.ts";
import type { ServerConfig } from "./services.ts";

const config = JSON.parse(process.env.STRESS_CONFIG ?? "{}") as ServerConfig;
let clockOffset = 0;
const now = () => Date.now() + clockOffset;

const stats = {
  requests: 0,
  status5xx: 0,
  setCookieResponses: 0,
  errors: {} as Record<string, number>,
  lastError: "",
  unhandledRejections: 0,
};
// Counted, not fatal: the harness reports them (a crash would hide the figure).
process.on("unhandledRejection", (reason) => {
  stats.unhandledRejections++;
  console.error("unhandled rejection:", reason);
});

const opened = await openStore(config.kind, config.env);
let store: SessionStore = opened.store;

// MemoryStore has no way to list its sessions: record every key the middleware
// creates, so the dump can read back each one the store still holds.
const createdKeys = new Set<string>();
if (opened.store instanceof MemoryStore) {
  const inner: ServerStore = opened.store;
  store = {
    kind: "server",
    get: (key: string, n: number) => inner.get(key, n),
    create: (key: string, record: SessionRecord, n: number) => {
      createdKeys.add(key);
      return inner.create(key, record, n);
    },
    update: (key: string, change: SessionChange, n: number) => inner.update(key, change, n),
    rotate: (oldKey: string, newKey: string, change: SessionChange, n: number) => {
      createdKeys.add(newKey);
      return inner.rotate(oldKey, newKey, change, n);
    },
    delete: (key: string) => inner.delete(key),
    listByUser: (userId: string, n: number) => inner.listByUser!(userId, n),
    deleteByUser: (userId: string, exceptKeys: readonly string[], n: number) =>
      inner.deleteByUser!(userId, exceptKeys, n),
  };
}

/** The backend, read directly (not through the store under test). */
interface Backend {
  count(): Promise<number>;
  dump(): Promise<string>;
  /** Whether a session (not a rotation's marker) is stored under `key`. */
  exists(key: string): Promise<boolean>;
}

async function openBackend(): Promise<Backend> {
  switch (config.kind) {
    case "memory": {
      const memory = opened.store as MemoryStore;
      return {
        count: () => Promise.resolve(memory.size),
        dump: async () => {
          const out: Record<string, unknown> = {};
          for (const key of createdKeys) {
            const record = await memory.get(key, -Infinity);
            if (record) out[key] = record;
          }
          return JSON.stringify(out);
        },
        exists: async (key) => {
          const record = await memory.get(key, -Infinity);
          return record !== null && record.movedAt === undefined;
        },
      };
    }
    case "sqlite": {
      const db = new Database(config.env.SQLITE_FILE, { readonly: true });
      return {
        count: () => {
          const row = db.prepare("SELECT count(*) AS n FROM sessions").get() as { n: number };
          return Promise.resolve(row.n);
        },
        dump: () => Promise.resolve(JSON.stringify(db.prepare("SELECT * FROM sessions").all())),
        exists: (key) =>
          Promise.resolve(
            db.prepare("SELECT 1 FROM sessions WHERE key = ? AND moved_at IS NULL").get(key) !==
              undefined,
          ),
      };
    }
    case "redis":
    case "webdis": {
      const client = createClient({ url: config.inspectRedisUrl });
      client.on("error", () => {});
      await client.connect();
      const keys = async () => {
        const found: string[] = [];
        for await (const batch of client.scanIterator({ MATCH: "session_*", COUNT: 1000 })) {
          found.push(...batch);
        }
        return found;
      };
      return {
        count: async () => (await keys()).length,
        dump: async () => {
          const lines: string[] = [];
          for (const key of await keys()) {
            lines.push(key, JSON.stringify(await client.hGetAll(key)));
          }
          return lines.join("\n");
        },
        exists: async (key) =>
          (await client.exists(`session_${key}`)) === 1 &&
          !(await client.hExists(`session_${key}`, "m:mv")),
      };
    }
    case "postgres": {
      const sql = postgres(config.env.DATABASE_URL, { max: 1, onnotice: () => {} });
      const table = `"${config.env.POSTGRES_TABLE}"`;
      return {
        count: async () => (await sql.unsafe(`SELECT count(*)::int AS n FROM ${table}`))[0].n,
        dump: async () =>
          JSON.stringify(
            await sql.unsafe(
              `SELECT key, data::text, flash::text, created_at::text, expires_at::text FROM ${table}`,
            ),
          ),
        exists: async (key) =>
          (await sql.unsafe(`SELECT 1 FROM ${table} WHERE key = $1 AND moved_at IS NULL`, [key]))
            .length > 0,
      };
    }
    case "mysql": {
      const pool = mysql.createPool({ uri: config.env.MYSQL_URL, connectionLimit: 1 });
      const table = `\`${config.env.MYSQL_TABLE}\``;
      return {
        count: async () => {
          const [rows] = await pool.query(`SELECT COUNT(*) AS n FROM ${table}`);
          return Number((rows as Array<{ n: number }>)[0].n);
        },
        dump: async () => {
          const [rows] = await pool.query(
            `SELECT session_key, data, flash, created_at, expires_at FROM ${table}`,
          );
          return JSON.stringify(rows);
        },
        exists: async (key) => {
          const [rows] = await pool.query(
            `SELECT 1 FROM ${table} WHERE session_key = ? AND moved_at IS NULL`,
            [key],
          );
          return (rows as unknown[]).length > 0;
        },
      };
    }
    case "cookie":
      return {
        count: () => Promise.resolve(0),
        dump: () => Promise.resolve(""),
        exists: () => Promise.resolve(false),
      };
  }
}

const backend = await openBackend();

// The slow request and the logout of one round meet here (bounded waits).
interface Round {
  loaded: Promise<void>;
  markLoaded: () => void;
  committed: Promise<void>;
  markCommitted: () => void;
}
const rounds = new Map<string, Round>();
function round(token: string): Round {
  let r = rounds.get(token);
  if (!r) {
    let markLoaded!: () => void;
    let markCommitted!: () => void;
    const loaded = new Promise<void>((res) => (markLoaded = res));
    const committed = new Promise<void>((res) => (markCommitted = res));
    r = { loaded, markLoaded, committed, markCommitted };
    rounds.set(token, r);
  }
  return r;
}
/** Whether `p` settled within `ms`. */
function within(p: Promise<void>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    p.then(() => true),
    new Promise<boolean>((res) => (timer = setTimeout(() => res(false), ms))),
  ]).finally(() => clearTimeout(timer));
}

async function control(ctx: Context, path: string): Promise<void> {
  const q = ctx.request.url.searchParams;
  switch (path) {
    case "/__stress/stats": {
      const m = process.memoryUsage();
      ctx.response.body = { ...stats, rss: m.rss, heapUsed: m.heapUsed };
      return;
    }
    case "/__stress/gc":
      (globalThis as { gc?: () => void }).gc?.();
      ctx.response.body = { rss: process.memoryUsage().rss };
      return;
    case "/__stress/reset":
      stats.requests = stats.status5xx = stats.setCookieResponses = 0;
      stats.errors = {};
      ctx.response.body = { ok: true };
      return;
    case "/__stress/count":
      ctx.response.body = { stored: await backend.count() };
      return;
    case "/__stress/dump":
      ctx.response.body = await backend.dump();
      return;
    case "/__stress/exists":
      ctx.response.body = { exists: await backend.exists(await sessionKey(q.get("id") ?? "")) };
      return;
    case "/__stress/clock":
      clockOffset = Number(q.get("offset") ?? 0);
      ctx.response.body = { offset: clockOffset };
      return;
    default:
      ctx.response.status = 404;
  }
}

const manager = new Session(store, { expireAfterSeconds: config.expireAfterSeconds, now });
// The cookie store without revocations, beside the one with them (routes under /plain/).
const plainManager = config.kind === "cookie"
  ? new Session(
    new CookieStore(config.env.COOKIE_SECRET, { sessionDataCookieName: "plain_data" }),
    { expireAfterSeconds: config.expireAfterSeconds, now },
  )
  : undefined;

const app = new Application({ logErrors: false });
app.use(async (ctx, next) => {
  const path = ctx.request.url.pathname;
  if (path.startsWith("/__stress/")) return await control(ctx, path);
  if (path === "/revoke") {
    // An admin ending a session by its ID, after the slow request loaded it.
    const q = ctx.request.url.searchParams;
    const r = round(q.get("token") ?? "");
    await within(r.loaded, 30_000);
    await manager.deleteSession(q.get("id") ?? "");
    r.markCommitted();
    ctx.response.body = "ok";
    return;
  }
  stats.requests++;
  try {
    await next();
  } catch (error) {
    const name = error instanceof Error ? error.name : typeof error;
    stats.errors[name] = (stats.errors[name] ?? 0) + 1;
    stats.lastError = error instanceof Error ? error.message : String(error);
    throw error;
  } finally {
    if (ctx.response.headers.has("set-cookie")) stats.setCookieResponses++;
    // The logout's session commit is done once the inner middleware returned.
    const token = ctx.request.url.searchParams.get("token");
    if ((path === "/logout" || path === "/write") && token) round(token).markCommitted();
  }
});
app.addEventListener("error", (event) => {
  // A SessionMovedError answers 409: not a server error.
  const status = (event.error as { status?: unknown } | undefined)?.status;
  if (!(typeof status === "number" && status < 500)) stats.status5xx++;
});
const mainMiddleware = manager.initMiddleware();
const plainMiddleware = plainManager?.initMiddleware();
app.use((ctx, next) =>
  plainMiddleware && ctx.request.url.pathname.startsWith("/plain/")
    ? plainMiddleware(ctx, next)
    : mainMiddleware(ctx, next)
);
app.use(async (ctx) => {
  const q = ctx.request.url.searchParams;
  const session = ctx.state.session as Session;
  const plain = plainManager !== undefined && ctx.request.url.pathname.startsWith("/plain/");
  const path = plain ? ctx.request.url.pathname.slice("/plain".length) : ctx.request.url.pathname;
  switch (path) {
    case "/anon":
      ctx.response.body = "ok";
      return;
    case "/all":
      ctx.response.body = JSON.stringify(session.all());
      return;
    case "/login":
      session.set("canary", q.get("canary") ?? "none");
      session.set("user", "stress");
      if (q.has("pad")) session.set("pad", "p".repeat(Number(q.get("pad"))));
      ctx.response.body = "ok";
      return;
    case "/set":
      session.set(q.get("k") ?? "k", q.get("v") ?? "");
      ctx.response.body = "ok";
      return;
    case "/tab": {
      // A tab's write, answering with what the key held before it (its previous write).
      const key = q.get("k") ?? "k";
      const before = session.get(key) ?? null;
      session.set(key, q.get("v") ?? "");
      ctx.response.body = JSON.stringify({ before });
      return;
    }
    case "/incr": {
      const by = q.has("by") ? Number(q.get("by")) : 1;
      ctx.response.body = String(session.increment(q.get("k") ?? "n", by));
      return;
    }
    case "/bump": {
      const n = ((session.get("n") as number | undefined) ?? 0) + 1;
      session.set("n", n);
      ctx.response.body = String(n);
      return;
    }
    case "/slow": {
      const r = round(q.get("token") ?? "");
      session.get("canary");
      r.markLoaded();
      let ordered: boolean;
      if (q.get("expire") === "1") {
        // The session idles past its expiry while this request is in flight.
        clockOffset = (config.expireAfterSeconds + 60) * 1000;
        ordered = true;
      } else {
        ordered = await within(r.committed, 30_000);
      }
      const rotate = q.get("rotate");
      if (rotate === "regenerate") await session.regenerate();
      if (rotate === "flag") ctx.state.rotate_session_key = true;
      session.set(q.get("k") ?? "late", "written by the slow request");
      rounds.delete(q.get("token") ?? "");
      ctx.response.body = JSON.stringify({ ordered });
      return;
    }
    case "/write": {
      await within(round(q.get("token") ?? "").loaded, 30_000);
      session.set(q.get("k") ?? "tab", q.get("v") ?? "");
      ctx.response.body = "ok";
      return;
    }
    case "/logout": {
      await within(round(q.get("token") ?? "").loaded, 30_000);
      await session.destroy();
      ctx.response.body = "ok";
      return;
    }
    case "/user/login": {
      if (q.get("mode") === "regenerate") await session.regenerate();
      session.set("browser", q.get("browser") ?? "");
      session.setUser(q.get("user") ?? "nobody");
      ctx.response.body = "ok";
      return;
    }
    case "/user/whoami": {
      const all = session.all();
      ctx.response.body = JSON.stringify({
        userId: session.userId ?? null,
        browser: all.browser ?? null,
        hits: all.hits ?? null,
        keys: Object.keys(all),
      });
      return;
    }
    case "/user/rotate":
      await session.regenerate();
      ctx.response.body = "ok";
      return;
    case "/user/logout":
      await session.destroy();
      ctx.response.body = "ok";
      return;
    case "/user/revoke-all":
      // From a client holding no session of the user: the manager's call.
      ctx.response.body = String(
        await (plain ? plainManager! : manager).revokeSessions(q.get("user") ?? "nobody"),
      );
      return;
    case "/user/revoke-others":
      ctx.response.body = String(
        await session.revokeSessions(q.get("user") ?? "nobody", { except: ctx }),
      );
      return;
    default:
      ctx.response.status = 404;
  }
});

const server = await serve(app);
process.stdout.write(`READY ${server.port}\n`);
async function shutdown(): Promise<void> {
  server.close();
  await opened.close().catch(() => {});
  process.exit(0);
}
process.on("SIGTERM", shutdown);
// The harness holds our stdin: when it is gone, so are we.
process.stdin.on("end", shutdown);
process.stdin.resume();
