/**
 * The original library's way of choosing a store, as a program: the npm
 * toolchain projects and the Deno projects both type-check it.
 *
 * @module
 */

/** The original library's pattern of choosing a store, with only the import lines changed. */
export const makeStore = `import { Application } from "@oakserver/oak";
import {
  CookieStore,
  MemoryStore,
  MongoStore,
  PostgresStore,
  RedisStore,
  Session,
  SqliteStore,
  type Store,
  type V9Store,
  WebdisStore,
} from "oak-sessions";

// The drivers, as the application holds them.
declare const db: ConstructorParameters<typeof SqliteStore>[0];
declare const sql: ConstructorParameters<typeof PostgresStore>[0];
declare const redis: ConstructorParameters<typeof RedisStore>[0];
declare const own: V9Store;
declare const kind: string;

async function makeStore(): Promise<Store | CookieStore> {
  if (kind === "sqlite") return new SqliteStore(db);
  if (kind === "postgres") return new PostgresStore(sql);
  if (kind === "redis") return new RedisStore(redis);
  if (kind === "webdis") return new WebdisStore({ url: "http://127.0.0.1:7379" });
  if (kind === "cookie") return new CookieStore("a-secret-of-at-least-32-characters!!");
  if (kind === "own") return own;
  // The original's MongoStore still imports; constructing it says what to use instead.
  if (kind === "mongo") new MongoStore(db, "sessions");
  return new MemoryStore();
}

const store: Store | CookieStore = await makeStore();
const session = new Session(store);
const app = new Application();
app.use(session.initMiddleware());
app.use(Session.initMiddleware(store));
app.use((ctx) => {
  ctx.response.body = "ok";
});
await app.listen({ port: 8000 });
`;
