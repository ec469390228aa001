/**
 * Types `ctx.session` on Oak's contexts, as the seed's example uses it
 * (`router.get(path, session.initMiddleware(), async (ctx) => ctx.session...)`).
 * `ctx.state.session` needs nothing: Oak's default state takes any key.
 *
 * @module
 */
import type { Session } from "./session.ts";
// Resolves the module the declaration below extends (Oak is a peer dependency).
import type {} from "@oakserver/oak";

declare module "@oakserver/oak" {
  interface Context {
    /** The request's session, set by the oak-sessions middleware (also at `ctx.state.session`). */
    session: Session;
  }
}
