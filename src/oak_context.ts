/**
 * What types `ctx.session` on Oak's contexts, without naming Oak: Oak is
 * reached under whatever name the application imports it by (npm or JSR, an
 * import map or an inline `npm:` specifier), so the one declaration that
 * merges this into Oak's `Context` is made where that name is known (see
 * {@linkcode SessionContext}).
 *
 * @module
 */
import type { Session } from "./session.ts";

/**
 * The session a context of state `S` holds: what the session middleware put at
 * `state.session` (typed by Oak's router from the middleware), else an untyped
 * `Session`.
 */
export type SessionOfState<S> = S extends { session: infer X }
  // `any` (Oak's default state) says nothing: fall back to the untyped session.
  ? 0 extends 1 & X ? Session : X
  : Session;

/**
 * The property the session middleware adds to Oak's context: `ctx.session`,
 * the same object as `ctx.state.session`. Merge it into Oak's `Context` with
 * one line, naming Oak exactly as your imports do:
 *
 * ```ts
 * import { Application, Router } from "npm:@oakserver/oak@14";
 * import { Session, type SessionContext } from "oak-sessions";
 *
 * declare module "npm:@oakserver/oak@14" { interface Context<S, AS> extends SessionContext<S> {} }
 *
 * const session = new Session<{ count: number }>();
 * const router = new Router();
 * router.get("/", session.initMiddleware(), (ctx) => {
 *   const count = (ctx.session.get("count") ?? 0) + 1; // a number
 *   ctx.session.set("count", count);
 *   ctx.response.body = `visit ${count}`;
 * });
 * ```
 *
 * With `"@oak/oak": "jsr:@oak/oak@^17"` in `deno.json`, the line is
 * `declare module "@oak/oak" { ... }`. The npm package's entry makes this
 * declaration itself for `@oakserver/oak`, so Node users add nothing.
 */
export interface SessionContext<S> {
  /** The request's session, set by the oak-sessions middleware (also at `ctx.state.session`). */
  session: SessionOfState<S>;
}
