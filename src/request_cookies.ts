/**
 * The request's cookies, read once from its `Cookie` header.
 *
 * Oak's cookie jar parses the header again, with a regular expression and a
 * promise, on every `get`; the cookie store asks for up to eleven names per
 * request (its chunks, and the stray ones past them). For cookies that are not
 * signed, this reads the header once into a map and answers from it, exactly
 * as Oak would (the first `name=value` pair of a name wins; only spaces are
 * skipped before a name). Signed cookies, and every write, still go through
 * Oak's jar.
 *
 * @module
 */
import type { CookieJar } from "./store.ts";

/** Where Oak's cookie jar keeps the request's headers (a symbol of its own), once found. */
let jarHeadersKey: symbol | undefined;

interface HeadersLike {
  get(name: string): string | null;
}

function isHeaders(value: unknown): value is HeadersLike {
  return typeof value === "object" && value !== null &&
    typeof (value as { get?: unknown }).get === "function" &&
    typeof (value as { has?: unknown }).has === "function";
}

/**
 * The request's `Cookie` header. Read from the `Headers` that Oak's cookie
 * jar already holds: on Node, every read of `ctx.request.headers` builds a
 * new `Headers` from the raw ones (about 3 µs). The jar keeps them under a
 * symbol of its own (`#requestHeaders`, from Oak 12 to 17); where it is not
 * found, `ctx.request.headers` it is. `undefined` when neither is there.
 */
export function cookieHeaderOf(
  ctx: { cookies: object; request: { headers?: HeadersLike } },
): string | null | undefined {
  const jar = ctx.cookies as Record<symbol, unknown>;
  if (jarHeadersKey === undefined || !isHeaders(jar[jarHeadersKey])) {
    jarHeadersKey = Object.getOwnPropertySymbols(jar).find((key) =>
      key.description === "#requestHeaders" && isHeaders(jar[key])
    );
  }
  const held = jarHeadersKey === undefined ? undefined : jar[jarHeadersKey];
  if (isHeaders(held)) return held.get("cookie");
  return ctx.request.headers?.get("cookie");
}

/** The value of cookie `name` in a `Cookie` header, as Oak's jar reads an unsigned one. */
function parseCookieHeader(header: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const pair of header.split(";")) {
    let start = 0;
    while (pair.charCodeAt(start) === 32) start++;
    const eq = pair.indexOf("=", start);
    if (eq < 0) continue;
    const name = pair.slice(start, eq);
    if (!values.has(name)) values.set(name, pair.slice(eq + 1));
  }
  return values;
}

/**
 * A cookie jar over Oak's that answers unsigned reads from the request's
 * `Cookie` header, parsed once. `signedByDefault` is whether Oak's jar signs
 * cookies when the options do not say (the application has `keys`).
 */
export class RequestCookies implements CookieJar {
  readonly #jar: CookieJar;
  readonly #header: string | null;
  readonly #signedByDefault: boolean;
  #values: Map<string, string> | undefined;

  constructor(jar: CookieJar, header: string | null, signedByDefault: boolean) {
    this.#jar = jar;
    this.#header = header;
    this.#signedByDefault = signedByDefault;
  }

  /** The request's cookie `name`; a signed one is checked by Oak's jar. */
  get(name: string, options?: Record<string, unknown>): Promise<string | undefined> {
    const signed = options?.signed ?? this.#signedByDefault;
    if (signed) return this.#jar.get(name, options);
    return Promise.resolve(this.value(name));
  }

  /**
   * The cookie's value at once when `options` (or the app's default) read it
   * unsigned, as `get` would resolve; `null` when it is signed and only
   * `get` (Oak's jar) can check it.
   */
  unsignedValue(name: string, options?: Record<string, unknown>): string | undefined | null {
    return (options?.signed ?? this.#signedByDefault) ? null : this.value(name);
  }

  /** An unsigned cookie's value, at once. */
  value(name: string): string | undefined {
    if (this.#header === null || this.#header === "") return undefined;
    this.#values ??= parseCookieHeader(this.#header);
    return this.#values.get(name);
  }

  /** Set (or, with `null`, delete) a cookie of the response, through Oak's jar. */
  set(name: string, value: string | null, options?: Record<string, unknown>): Promise<unknown> {
    return this.#jar.set(name, value, options);
  }
}
