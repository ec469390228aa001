/**
 * The Oak middleware: refuse a cross-site forgery, load the session before
 * the handler, commit what the handler changed after it (the work is the
 * engine's, `engine/engine.ts`).
 *
 * @module
 */
import { crossOriginVerdict, type CsrfRefusalReason, requestToken } from "./csrf.ts";
import { csrfSecretOf, tokenMatches } from "./csrf_token.ts";
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
  const csrf = engine.options.csrf;
  return async (ctx: OakContextLike, next: () => Promise<unknown>) => {
    // Step 0: a forgery is refused before anything is loaded.
    let needsToken = false;
    if (csrf !== undefined) {
      const verdict = crossOriginVerdict(ctx, csrf);
      if (verdict === "unmarked") needsToken = csrf.tokens !== undefined;
      else if (verdict !== undefined && verdict !== "same-origin") {
        return refuse(ctx, engine, verdict);
      }
    }
    const state = await engine.load(ctx);
    if (needsToken) {
      // Neither header: the request must prove it comes from the session's own page.
      const token = await requestToken(ctx, csrf!.tokens!);
      if (token === undefined) return refuse(ctx, engine, "missing-token");
      if (!tokenMatches(token, csrfSecretOf(state))) return refuse(ctx, engine, "invalid-token");
    }
    const session = wrap(state);
    ctx.state.session = session;
    (ctx as OakContextLike & { session?: S }).session = session;
    await next();
    const writing = engine.commit(ctx, state);
    if (writing !== undefined) await writing;
  };
}

/** Answer 403 without running the handler; the session is not written. */
function refuse(ctx: OakContextLike, engine: SessionEngine, reason: CsrfRefusalReason): void {
  const response = ctx.response as OakContextLike["response"] & { status?: number; body?: unknown };
  response.status = 403;
  response.headers.set("content-type", "text/plain; charset=utf-8");
  response.body = reason === "missing-token" || reason === "invalid-token"
    ? "Forbidden: this request carries no valid CSRF token for its session\n"
    : "Forbidden: a cross-site request was refused (CSRF protection)\n";
  engine.emit?.({
    type: "csrf-refused",
    reason,
    method: ctx.request.method ?? "",
    path: ctx.request.url?.pathname ?? "",
  });
}
