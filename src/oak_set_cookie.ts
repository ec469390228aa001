/**
 * Every `Set-Cookie` header of a response reaches the client, on Oak's
 * Node.js adapter too.
 *
 * Oak's Node.js adapter (the `NodeRequest` of npm `@oakserver/oak`, which
 * Deno also uses when Oak is imported from npm) copies the response headers
 * with `setHeader(name, value)` one entry at a time. Each `Set-Cookie` entry
 * replaces the one before, so of several cookies set in one response only the
 * last arrives. A session that spans several cookies (the cookie store's
 * chunks, or a chunk and the deletion of a leftover one) would arrive torn.
 *
 * The fix is narrow: for a request served by that adapter, its `respond` is
 * wrapped so that a response with two or more `Set-Cookie` headers hands them
 * to Node as one array, which Node sends as separate headers. Any other server
 * (Deno's native one, Bun's, or a future Oak that fixes this) is left alone.
 *
 * @module
 */

const FIXED = Symbol.for("oak-sessions.sendEverySetCookie");

/** The part of Oak's `NodeRequest` the fix relies on. */
interface NodeRequestLike {
  respond(response: Response): Promise<void>;
  [FIXED]?: true;
}

/** What `NodeRequest.respond` reads of a response. */
interface ResponseLike {
  status: number;
  statusText: string;
  body: ReadableStream<Uint8Array> | null;
  headers: Iterable<[string, string | string[]]>;
}

function isOakNodeRequest(value: unknown): value is NodeRequestLike {
  return typeof value === "object" && value !== null &&
    value.constructor?.name === "NodeRequest" &&
    typeof (value as { respond?: unknown }).respond === "function";
}

/**
 * Make sure every cookie set in this request's response reaches the client,
 * also behind Oak's Node.js adapter. Call it once per request, before the
 * response is sent (the session middleware does); calling it again does
 * nothing.
 *
 * ```ts
 * import { Application } from "@oakserver/oak";
 * import { sendEverySetCookie } from "./oak_set_cookie.ts";
 * const app = new Application();
 * app.use(async (ctx, next) => {
 *   sendEverySetCookie(ctx);
 *   await next();
 * });
 * ```
 */
export function sendEverySetCookie(ctx: { request: object }): void {
  const server = (ctx.request as { originalRequest?: unknown }).originalRequest;
  if (!isOakNodeRequest(server) || server[FIXED]) return;
  const respond = server.respond;
  server[FIXED] = true;
  server.respond = function (this: NodeRequestLike, response: Response): Promise<void> {
    const cookies = typeof response.headers.getSetCookie === "function"
      ? response.headers.getSetCookie()
      : [];
    if (cookies.length < 2) return respond.call(this, response);
    const headers: [string, string | string[]][] = [];
    for (const [name, value] of response.headers) {
      if (name !== "set-cookie") headers.push([name, value]);
    }
    headers.push(["set-cookie", cookies]);
    const joined: ResponseLike = {
      status: response.status,
      statusText: response.statusText,
      body: response.body,
      headers,
    };
    return respond.call(this, joined as unknown as Response);
  };
}
