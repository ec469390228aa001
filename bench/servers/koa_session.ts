/**
 * Koa with koa-session in its default mode: the session in a signed cookie
 * (`koa.sess` plus its `.sig`), no server-side store.
 *
 * @module
 */
import type { AddressInfo } from "node:net";
import session from "koa-session";
import { announce, NOT_FOUND, PATHS, SECRET, type ServerStats, USER } from "./common.ts";
import { Koa } from "./untyped.ts";

let counter = 0;
const app = new Koa();
app.keys = [SECRET];
app.use(async (ctx, next) => {
  if (ctx.path !== PATHS.stats) return await next();
  ctx.body = { ops: {}, writeOps: [] } satisfies ServerStats;
});
// Plain HTTP on loopback: the cookie cannot be `secure` here.
app.use(session({ secure: false }, app));
app.use((ctx) => {
  // ctx.session is lazy: /anon never touches it.
  switch (ctx.path) {
    case PATHS.login:
    case PATHS.new:
      ctx.session!.user = USER;
      ctx.body = "ok";
      return;
    case PATHS.read:
      ctx.body = String(ctx.session!.user ?? "none");
      return;
    case PATHS.write:
      ctx.session!.n = ++counter;
      ctx.body = "ok";
      return;
    case PATHS.anonymous:
      ctx.body = "hello";
      return;
    default:
      ctx.status = 404;
      ctx.body = NOT_FOUND;
  }
});

const server = app.listen(0, "127.0.0.1", () => {
  announce((server.address() as AddressInfo).port, () => void server.close());
});
