/**
 * A real Oak app of the cookie store with revocations, for the tests of its
 * revocation guarantees: each revocations backend (MemoryStore, a SqliteStore
 * file, RedisStore on 127.0.0.1:6379, PostgresStore on 127.0.0.1:5432), a
 * clock the test moves, gates that hold a request after its session loaded,
 * and a hold on the next revocation write (the real store does the work).
 *
 * @module
 */
import { Application, Router } from "@oakserver/oak";
import { createClient } from "redis";
import { Session } from "../../src/session.ts";
import type { ServerStore, SessionChange, SessionRecord, WriteResult } from "../../src/store.ts";
import { CookieStore } from "../../src/stores/cookie.ts";
import { MemoryStore } from "../../src/stores/memory.ts";
import { RedisStore } from "../../src/stores/redis.ts";
import { SqliteStore } from "../../src/stores/sqlite.ts";
import { CookieClient } from "../kit/http_client.ts";
import { type RunningServer, serve } from "../kit/oak_server.ts";
import { dropTables, postgresTargets, rawPool, uniqueTable } from "../kit/postgres.ts";
import { requireSharedRedis, SHARED_REDIS_URL } from "../kit/redis.ts";
import { dropPrefix, uniquePrefix } from "./redis_targets.ts";
import { openDb, tempDir } from "./sqlite_db.ts";

const SECRET = "cookie revocation tests secret, 32+ characters";

/** A revocations backend: opens a fresh store, and releases it. */
export interface RevocationsBackend {
  name: string;
  open(): Promise<{ store: ServerStore; close(): Promise<void> }>;
}

/** Every backend a cookie store's revocations are tested on. */
export const REVOCATIONS_BACKENDS: RevocationsBackend[] = [
  {
    name: "MemoryStore",
    open: () => Promise.resolve({ store: new MemoryStore(), close: () => Promise.resolve() }),
  },
  {
    name: "SqliteStore (a file)",
    async open() {
      const dir = tempDir();
      const db = await openDb(dir.file("revocations.db"));
      return {
        store: new SqliteStore(db, "revocations"),
        close() {
          db.close();
          dir.remove();
          return Promise.resolve();
        },
      };
    },
  },
  {
    name: "RedisStore (127.0.0.1:6379)",
    async open() {
      await requireSharedRedis();
      const client = createClient({ url: SHARED_REDIS_URL });
      client.on("error", () => {});
      await client.connect();
      const prefix = uniquePrefix("cookie_rev");
      return {
        store: new RedisStore(client, prefix),
        async close() {
          await dropPrefix(client, prefix);
          await client.close();
        },
      };
    },
  },
  {
    name: "PostgresStore (127.0.0.1:5432)",
    async open() {
      const table = uniqueTable("cookie_rev");
      const opened = await postgresTargets[0].open(table);
      await opened.store.initSessionsTable();
      return {
        store: opened.store,
        async close() {
          await opened.store.close();
          await opened.close();
          const raw = rawPool();
          await dropTables(raw, table);
          await raw.end();
        },
      };
    },
  },
];

/** A point a request or a write waits at until the test releases it. */
export interface Gate {
  /** Resolves once the request (or write) arrived at the gate. */
  entered: Promise<void>;
  release(): void;
}

function newGate(): Gate & { arrive(): void; released: Promise<void> } {
  let arrive!: () => void;
  let release!: () => void;
  const entered = new Promise<void>((r) => (arrive = r));
  const released = new Promise<void>((r) => (release = r));
  return { entered, release, arrive, released };
}

/** The revocations store, with a hold the test can put on its next `create`. */
class HeldStore implements ServerStore {
  readonly kind = "server" as const;
  #held: ReturnType<typeof newGate> | undefined;
  constructor(readonly inner: ServerStore) {}
  holdNextCreate(): Gate {
    return this.#held = newGate();
  }
  get(key: string, now: number): Promise<SessionRecord | null> {
    return this.inner.get(key, now);
  }
  async create(key: string, record: SessionRecord, now: number): Promise<void> {
    const held = this.#held;
    this.#held = undefined;
    if (held !== undefined) {
      held.arrive();
      await held.released;
    }
    await this.inner.create(key, record, now);
  }
  update(key: string, change: SessionChange, now: number): Promise<WriteResult> {
    return this.inner.update(key, change, now);
  }
  rotate(oldKey: string, newKey: string, change: SessionChange, now: number) {
    return this.inner.rotate(oldKey, newKey, change, now);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
}

/** A running app of the cookie store with revocations in `backend`. */
export interface RevocationApp {
  /** The app's clock (ms); the test moves it. */
  clock: number;
  /** A browser with no cookies yet. */
  client(): CookieClient;
  /** A gate the request `?gate=<name>` waits at, after its session loaded. */
  gate(name: string): Gate;
  /** Hold the next write of a revocation record until released. */
  holdNextRevocationWrite(): Gate;
  close(): Promise<void>;
}

/**
 * Start the app: idle timeout `idleSeconds`, and `absoluteSeconds` as both
 * the absolute timeout and its maximum (`undefined`: no absolute limit).
 */
export async function startRevocationApp(
  backend: RevocationsBackend,
  idleSeconds: number,
  absoluteSeconds: number | undefined,
): Promise<RevocationApp> {
  const opened = await backend.open();
  const held = new HeldStore(opened.store);
  const gates = new Map<string, ReturnType<typeof newGate>>();
  const app: RevocationApp = {
    clock: Date.now(),
    client: () => new CookieClient(server.url),
    gate(name) {
      const g = newGate();
      gates.set(name, g);
      return g;
    },
    holdNextRevocationWrite: () => held.holdNextCreate(),
    async close() {
      server.close();
      await opened.close();
    },
  };
  const manager = new Session(new CookieStore(SECRET, { revocations: held }), {
    expireAfterSeconds: idleSeconds,
    absoluteTimeoutSeconds: absoluteSeconds,
    now: () => app.clock,
  });
  const mw = manager.initMiddleware();
  const param = (ctx: { request: { url: URL } }, name: string) =>
    ctx.request.url.searchParams.get(name) ?? "";
  const wait = async (ctx: { request: { url: URL } }) => {
    const g = gates.get(param(ctx, "gate"));
    if (g === undefined) throw new Error(`unknown gate ${param(ctx, "gate")}`);
    g.arrive();
    await g.released;
  };
  const router = new Router();
  router
    .post("/login", mw, (ctx) => {
      ctx.state.session.setUser(param(ctx, "user"));
      ctx.response.body = "ok";
    })
    .get("/whoami", mw, (ctx) => {
      ctx.response.body = { user: ctx.state.session.userId ?? null };
    })
    .post("/slow-set", mw, async (ctx) => {
      await wait(ctx);
      ctx.state.session.set("late", "write");
      ctx.response.body = "ok";
    })
    // "Log out everywhere", from a route without the middleware.
    .post("/revoke-all", async (ctx) => {
      ctx.response.body = { ended: await manager.revokeSessions(param(ctx, "user")) };
    })
    // "Log out my other devices", after what the test does while it waits.
    .post("/slow-revoke-others", mw, async (ctx) => {
      if (param(ctx, "gate") !== "") await wait(ctx);
      const ended = await ctx.state.session.revokeSessions(param(ctx, "user"), { except: ctx });
      ctx.response.body = { ended };
    });
  const oak = new Application({ logErrors: false });
  oak.use(router.routes());
  const server: RunningServer = await serve(oak);
  return app;
}

/** The user the app sees for `client`'s cookies (`null`: none). */
export async function whoami(client: CookieClient): Promise<string | null> {
  return (await client.get("/whoami")).json().user;
}

/** Log `client` in as `user` (status checked). */
export async function login(client: CookieClient, user: string): Promise<void> {
  const r = await client.post(`/login?user=${encodeURIComponent(user)}`);
  if (r.status !== 200) throw new Error(`login: ${r.status} ${r.text}`);
}
