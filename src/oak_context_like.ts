/**
 * The part of an Oak context the session middleware reads and writes, typed
 * by the members it calls and nothing more.
 *
 * Every type library describes `Headers` and `URL` in its own way: the DOM
 * lib, each `@types/node` (whose `Headers` iterators gained `map`, `filter`,
 * `take` and `[Symbol.dispose]` in version 24), Deno's. Oak's declaration
 * files name the global `Headers` of whichever the application compiles
 * with. A context type that named `Headers` itself would then demand that
 * one library's iterator of Oak's context, and tsc refuses the context of any
 * other (`The types of 'request.headers[Symbol.iterator]()' are
 * incompatible`). Method shapes every library agrees on fit them all.
 *
 * @module
 */
import type { CookieJar } from "./store.ts";

/** What the middleware calls on the request's headers (`Cookie`, `User-Agent`). */
export interface HeaderReader {
  /** The header's value, or `null` when the request has none. */
  get(name: string): string | null;
}

/** What the middleware calls on the response's headers (`Vary`). */
export interface HeaderWriter extends HeaderReader {
  /** Replace the header's value. */
  set(name: string, value: string): void;
}

/**
 * The part of an Oak context the middleware uses. Typed by shape, so the
 * contexts of Oak 12 to 17 (and routers' contexts) all fit, whichever
 * TypeScript lib, `@types/node` or Deno types the application compiles with.
 */
export interface OakContextLike {
  /** Oak's cookie jar (`ctx.cookies`). */
  cookies: CookieJar;
  /**
   * The request: whether it came over HTTPS, its URL's protocol (HTTPS behind
   * a proxy), its headers, the client's address, and the runtime's own request.
   */
  request: {
    readonly secure: boolean;
    /** The request's method (CSRF protection checks unsafe ones). */
    readonly method?: string;
    /** Its URL as Oak trusts it (behind a proxy with `app.proxy`): protocol, host, path. */
    readonly url?: {
      readonly protocol: string;
      readonly host?: string;
      readonly pathname?: string;
    };
    readonly headers?: HeaderReader;
    readonly ip?: string;
    readonly originalRequest?: unknown;
  };
  /** Oak's application: its `keys` make cookies signed by default. */
  app?: { keys?: unknown };
  /** The response: the middleware adds `Vary: Cookie` and the session cookie. */
  response: { headers: HeaderWriter };
  /** Oak's `ctx.state`: the session is put at `state.session`. */
  // deno-lint-ignore no-explicit-any
  state: Record<string, any>;
}
