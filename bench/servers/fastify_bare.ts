/**
 * Bare Fastify: the same routes and bodies as fastify_session.ts, no sessions.
 *
 * @module
 */
import Fastify from "fastify";
import { announce, BARE_BODIES, NOT_FOUND } from "./common.ts";

const app = Fastify({ logger: false });
for (const [path, body] of Object.entries(BARE_BODIES)) {
  app.get(path, (_request, reply) => reply.type("text/plain; charset=utf-8").send(body));
}
app.setNotFoundHandler((_request, reply) => reply.code(404).send(NOT_FOUND));

await app.listen({ port: 0, host: "127.0.0.1" });
const address = app.server.address();
announce(typeof address === "object" && address ? address.port : 0, () => app.close());
