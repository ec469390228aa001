/**
 * Bare Koa: the same routes and bodies as koa_session.ts, no sessions.
 *
 * @module
 */
import type { AddressInfo } from "node:net";
import { announce, BARE_BODIES, NOT_FOUND } from "./common.ts";
import { Koa } from "./untyped.ts";

const app = new Koa();
app.use((ctx) => {
  const body = BARE_BODIES[ctx.path];
  if (body === undefined) ctx.status = 404;
  ctx.body = body ?? NOT_FOUND;
});

const server = app.listen(0, "127.0.0.1", () => {
  announce((server.address() as AddressInfo).port, () => void server.close());
});
