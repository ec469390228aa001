// The original oak_sessions exported `Store` as the type every one of its
// stores fits, and its users wrote code such as
// `async function makeStore(): Promise<Store | CookieStore>` that returns
// whichever store the configuration names. That code checks here unchanged
// (tsc, and deno test's type check, compile this file), and a session made
// from what it returns serves requests. `Store` is a union, so a class
// implements the original's store interface under its own name, `V9Store`.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application, Router } from "@oakserver/oak";
import {
  CookieStore,
  DenoKvStore,
  ExpressSessionStore,
  MemoryStore,
  PostgresStore,
  RedisStore,
  Session,
  SqliteStore,
  type Store,
  type V9Store,
  WebdisStore,
} from "../mod.ts";
import { openDb, tempDir } from "./helpers/sqlite_db.ts";
import { CookieClient } from "./kit/http_client.ts";
import { serve } from "./kit/oak_server.ts";

/** A driver of each store, as the application would hold one. */
interface Drivers {
  sqlite: ConstructorParameters<typeof SqliteStore>[0];
  postgres: ConstructorParameters<typeof PostgresStore>[0];
  redis: ConstructorParameters<typeof RedisStore>[0];
  kv: ConstructorParameters<typeof DenoKvStore>[0];
  express: ConstructorParameters<typeof ExpressSessionStore>[0];
}

const SECRET = "a-secret-of-at-least-32-characters-for-the-cookie-store";

/** The original's pattern, unchanged: the return type names `Store | CookieStore`. */
async function makeStore(kind: string, drivers: Drivers): Promise<Store | CookieStore> {
  switch (kind) {
    case "sqlite":
      return new SqliteStore(drivers.sqlite);
    case "postgres":
      return new PostgresStore(drivers.postgres);
    case "redis":
      return new RedisStore(drivers.redis);
    case "webdis":
      return new WebdisStore({ url: "http://127.0.0.1:7379" });
    case "kv":
      return new DenoKvStore(drivers.kv);
    case "express":
      return new ExpressSessionStore(drivers.express);
    case "cookie":
      return new CookieStore(SECRET);
    default:
      return await Promise.resolve(new MemoryStore());
  }
}

/** Every store in one array typed `Store[]`: each must fit the type on its own. */
function everyStore(drivers: Drivers): Store[] {
  return [
    new MemoryStore(),
    new CookieStore(SECRET),
    new SqliteStore(drivers.sqlite),
    new PostgresStore(drivers.postgres),
    new RedisStore(drivers.redis),
    new WebdisStore({ url: "http://127.0.0.1:7379" }),
    new DenoKvStore(drivers.kv),
    new ExpressSessionStore(drivers.express),
  ];
}

class MapStore implements V9Store {
  readonly docs = new Map<string, unknown>();
  getSessionById(id: string) {
    return (this.docs.get(id) ?? null) as ReturnType<V9Store["getSessionById"]>;
  }
  createSession(id: string, data: unknown): void {
    this.docs.set(id, data);
  }
  persistSessionData(id: string, data: unknown): void {
    this.docs.set(id, data);
  }
  deleteSession(id: string): void {
    this.docs.delete(id);
  }
}

// @ts-expect-error `Store` is a union: a class implements `V9Store` (or `ServerStore`) instead.
class NotImplementable implements Store {}

async function counts(store: Store): Promise<string[]> {
  const session = new Session(store);
  const router = new Router();
  router.get("/", session.initMiddleware(), (ctx) => {
    const count = (Number(ctx.session.get("count")) || 0) + 1;
    ctx.session.set("count", count);
    ctx.response.body = String(count);
  });
  const app = new Application();
  app.use(router.routes());
  const server = await serve(app);
  try {
    const client = new CookieClient(server.url);
    return [(await client.get("/")).text, (await client.get("/")).text];
  } finally {
    server.close();
  }
}

describe("every store is a Store", () => {
  it("types what the original's makeStore returns, and a session serves from it", async () => {
    assert.equal(typeof everyStore, "function");
    assert.equal(typeof NotImplementable, "function");
    const dir = tempDir();
    try {
      const db = await openDb(dir.file("sessions.db"));
      const drivers = { sqlite: db } as unknown as Drivers;
      for (const kind of ["memory", "cookie", "sqlite"]) {
        assert.deepEqual(await counts(await makeStore(kind, drivers)), ["1", "2"], kind);
      }
      assert.deepEqual(await counts(new MapStore()), ["1", "2"], "a V9Store");
      db.close();
    } finally {
      dir.remove();
    }
  });
});
