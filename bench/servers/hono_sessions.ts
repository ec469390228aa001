/**
 * Hono with hono-sessions: `STORE=memory` (its MemoryStore, the session ID
 * in the cookie as it is: no `encryptionKey`, its cheapest setup) or
 * `STORE=cookie` (its CookieStore, which requires `encryptionKey` and seals
 * the session into the cookie with iron-webcrypto).
 *
 * @module
 */
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { CookieStore, MemoryStore, type Session, sessionMiddleware } from "hono-sessions";
import {
  announce,
  type CallCounts,
  countCalls,
  NOT_FOUND,
  PATHS,
  SECRET,
  type ServerStats,
  USER,
} from "./common.ts";

type Data = { user: string; n: number };

const kind = process.env.STORE ?? "memory";
const ops: CallCounts = {};
const writeOps = ["createSession", "persistSessionData", "deleteSession"];
let store: MemoryStore | CookieStore;
if (kind === "memory") {
  store = countCalls(new MemoryStore(), ["getSessionById", ...writeOps], ops);
} else if (kind === "cookie") {
  store = new CookieStore();
} else {
  throw new Error(`STORE must be memory or cookie, got ${kind}`);
}

let counter = 0;
const app = new Hono<{ Variables: { session: Session<Data> } }>();
app.get(PATHS.stats, (c) => c.json({ ops, writeOps } satisfies ServerStats));
app.use(
  "*",
  sessionMiddleware({
    store,
    ...(kind === "cookie" ? { encryptionKey: SECRET } : {}),
    cookieOptions: { sameSite: "Lax", path: "/", httpOnly: true },
  }),
);
for (const path of [PATHS.login, PATHS.new]) {
  app.get(path, (c) => {
    c.get("session").set("user", USER);
    return c.text("ok");
  });
}
app.get(PATHS.read, (c) => c.text(String(c.get("session").get("user") ?? "none")));
app.get(PATHS.write, (c) => {
  c.get("session").set("n", ++counter);
  return c.text("ok");
});
app.get(PATHS.anonymous, (c) => c.text("hello"));
app.notFound((c) => c.text(NOT_FOUND, 404));

const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => {
  announce(info.port, () => void server.close());
});
