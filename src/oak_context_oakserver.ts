/**
 * Merges `ctx.session` into the `Context` of Oak imported as
 * `@oakserver/oak`: the name Node resolves (Oak is a peer dependency), and
 * the name a Deno import map may give it. Part of the npm package's entry
 * (`oakserver.ts`), not of `mod.ts`: where nothing resolves that name, the
 * declaration would be an error (see `SessionContext` for the one line that
 * fits any name).
 *
 * @module
 */
import type { SessionContext } from "./oak_context.ts";
// Resolves the module the declaration below extends.
import type {} from "@oakserver/oak";

declare module "@oakserver/oak" {
  // Type parameters as Oak's own `Context<S, AS>`, so `S` is the state the router inferred.
  interface Context<S, AS> extends SessionContext<S> {}
}
