/**
 * Express with express-session: `STORE=memory` (its MemoryStore) or
 * `STORE=redis` (connect-redis on node-redis, `REDIS_URL`). The options are
 * the ones its README recommends (`resave: false`, `saveUninitialized: false`),
 * which match oak-sessions: nothing stored or sent for an untouched session.
 *
 * @module
 */
import type { AddressInfo } from "node:net";
import { RedisStore } from "connect-redis";
import { createClient } from "redis";
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
import {
  express,
  type ExpressHandler,
  expressSession,
  type ExpressSessionStore,
} from "./untyped.ts";

const kind = process.env.STORE ?? "memory";
const ops: CallCounts = {};
const writeOps = ["set", "touch", "destroy"];
let store: ExpressSessionStore;
let closeStore = () => Promise.resolve();
if (kind === "redis") {
  const client = createClient({ url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379" });
  client.on("error", () => {});
  await client.connect();
  store = new RedisStore({ client });
  closeStore = () => Promise.resolve(client.destroy());
} else if (kind === "memory") {
  store = new expressSession.MemoryStore();
} else {
  throw new Error(`STORE must be memory or redis, got ${kind}`);
}
countCalls(store, ["get", ...writeOps], ops);

let counter = 0;
const app = express();
app.disable("x-powered-by");
app.get(PATHS.stats, (_req, res) => res.json({ ops, writeOps } satisfies ServerStats));
app.use(expressSession({ secret: SECRET, store, resave: false, saveUninitialized: false }));
const login: ExpressHandler = (req, res) => {
  req.session.user = USER;
  res.send("ok");
};
app.get(PATHS.login, login);
app.get(PATHS.new, login);
app.get(PATHS.read, (req, res) => res.send(String(req.session.user ?? "none")));
app.get(PATHS.write, (req, res) => {
  req.session.n = ++counter;
  res.send("ok");
});
app.get(PATHS.anonymous, (_req, res) => res.send("hello"));
app.use((_req, res) => res.status(404).send(NOT_FOUND));

const server = app.listen(0, "127.0.0.1", () => {
  announce((server.address() as AddressInfo).port, async () => {
    server.close();
    await closeStore();
  });
});
