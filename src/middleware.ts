/**
 * The Oak middleware: load the session before the handler, commit what the
 * handler changed after it (the work is the engine's, `engine/engine.ts`).
 *
 * @module
 */
import type { SessionEngine } from "./engine/engine.ts";
import type { OakContextLike } from "./oak_context_like.ts";
import type { RequestState } from "./request_state.ts";

export type { OakContextLike };

/**
 * An Oak middleware (fits `app.use` and `router.get(path, middleware, handler)`).
 * Its second signature names the session at `state.session`, so Oak's router
 * infers the state of the handlers after it from that one (TypeScript infers
 * from the last signature): `ctx.state.session` is typed `S` there without a
 * cast, whichever Oak (npm or JSR) and import name. The first keeps it
 * usable where that inference cannot apply, such as a `Router<{ user: string }>`
 * whose state type names no session.
 */
export type SessionMiddleware<S = unknown> =
  & ((ctx: OakContextLike, next: () => Promise<unknown>) => Promise<void>)
  & ((
    ctx: OakContextLike & { state: { session: S } },
    next: () => Promise<unknown>,
  ) => Promise<void>);

/**
 * @internal The middleware of `engine`: each request's session is the object
 * `wrap` makes for its state, at `ctx.state.session` and `ctx.session`.
 */
export function sessionMiddleware<S>(
  engine: SessionEngine,
  wrap: (state: RequestState) => S,
): SessionMiddleware<S> {
  return async (ctx: OakContextLike, next: () => Promise<unknown>) => {
    const state = await engine.load(ctx);
    const session = wrap(state);
    ctx.state.session = session;
    (ctx as OakContextLike & { session?: S }).session = session;
    await next();
    const writing = engine.commit(ctx, state);
    if (writing !== undefined) await writing;
  };
}
