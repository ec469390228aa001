/**
 * oak-sessions for Oak imported as `@oakserver/oak` (the npm package's entry,
 * and a Deno project's whose import map uses that name): everything
 * {@link ./mod.ts} exports, and `ctx.session` typed on that Oak's contexts
 * with no line of your own.
 *
 * ```ts
 * import { Application, Router } from "@oakserver/oak";
 * import { Session } from "oak-sessions";
 *
 * const session = new Session<{ count: number }>();
 * const router = new Router();
 * router.get("/", session.initMiddleware(), (ctx) => {
 *   const count = (ctx.session.get("count") ?? 0) + 1;
 *   ctx.session.set("count", count);
 *   ctx.response.body = `visit ${count}`;
 * });
 * const app = new Application();
 * app.use(router.routes());
 * ```
 *
 * @module
 */
export * from "./mod.ts";
import "./src/oak_context_oakserver.ts";
