/**
 * Fastify with @fastify/session (and @fastify/cookie) on its MemoryStore,
 * in its cheapest correct setup: `saveUninitialized: false` (nothing stored
 * or sent for an untouched session) and `rolling: false` (a session cookie
 * without Max-Age has no expiry to roll).
 *
 * @module
 */
import fastifyCookie from "@fastify/cookie";
import fastifySession from "@fastify/session";
import Fastify from "fastify";
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

declare module "fastify" {
  interface Session {
    user?: string;
    n?: number;
  }
}

const ops: CallCounts = {};
const writeOps = ["set", "destroy"];
const store = countCalls(new fastifySession.MemoryStore(), ["get", ...writeOps], ops);

let counter = 0;
const app = Fastify({ logger: false });
app.get(PATHS.stats, (_request, reply) => reply.send({ ops, writeOps } satisfies ServerStats));
await app.register(fastifyCookie);
await app.register(fastifySession, {
  secret: SECRET,
  store,
  saveUninitialized: false,
  rolling: false,
  cookie: { secure: false },
});
const text = "text/plain; charset=utf-8";
for (const path of [PATHS.login, PATHS.new]) {
  app.get(path, (request, reply) => {
    request.session.user = USER;
    return reply.type(text).send("ok");
  });
}
app.get(PATHS.read, (request, reply) => {
  return reply.type(text).send(String(request.session.user ?? "none"));
});
app.get(PATHS.write, (request, reply) => {
  request.session.n = ++counter;
  return reply.type(text).send("ok");
});
app.get(PATHS.anonymous, (_request, reply) => reply.type(text).send("hello"));
app.setNotFoundHandler((_request, reply) => reply.code(404).send(NOT_FOUND));

await app.listen({ port: 0, host: "127.0.0.1" });
const address = app.server.address();
announce(typeof address === "object" && address ? address.port : 0, () => app.close());
